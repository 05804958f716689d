//! pest pairs to AST, one statement at a time, with pest's errors turned into
//! lossc diagnostics (a code, a byte span, words a user understands).

use std::sync::LazyLock;

use lossc_diagnostics::{Code, Diagnostic, Span};
use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest_derive::Parser;

use crate::ast::*;

#[derive(Parser)]
#[grammar = "../../grammar/lossc.pest"]
struct Grammar;

/// Operator precedence, lowest first (docs/language.md). pest's Pratt parser binds
/// later entries tighter, so prefix `-` sits below `^`: `-x^2` is `-(x^2)`.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::kw_or, Assoc::Left))
        .op(Op::infix(Rule::kw_and, Assoc::Left))
        .op(Op::prefix(Rule::kw_not))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::infix(Rule::pow, Assoc::Right))
});

/// How deeply brackets, calls, prefix operators (`-`, `not`) and `^` may
/// nest. This parser recurses once per level (pest's Pratt parser once per
/// prefix operator and per right-associative `^`), and a debug build spends
/// several kilobytes of stack per bracket, so the bound keeps a parse within
/// a fraction of a 2 MiB thread stack. Deeper input is a `syntax` error.
pub(crate) const MAX_NESTING: usize = 128;

/// How tall the syntax tree of one expression may be: every operator, bracket
/// and call is a level, so a chain `1 + 1 + ... + 1` of 300 terms is 300
/// levels. Later stages walk the tree recursively; the bound keeps them (and
/// dropping the tree) off the end of the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// Why a statement failed to parse; `lib.rs` uses it to skip follow-up errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The statement ends with an operator, so the next line was probably
    /// meant to continue it.
    DanglingOperator,
    /// The text does not start with a statement keyword at all.
    NotAStatement,
    /// A reserved word where a name belongs; the span is the word.
    ReservedWord,
    Other,
}

#[derive(Debug)]
pub(crate) struct Failure {
    pub diagnostic: Box<Diagnostic>,
    pub kind: FailureKind,
}

impl Failure {
    fn other(diagnostic: Box<Diagnostic>) -> Self {
        Failure {
            diagnostic,
            kind: FailureKind::Other,
        }
    }
}

/// Parses one statement whose text starts at byte `offset` of the file.
pub(crate) fn parse_statement(text: &str, offset: usize) -> Result<Statement, Failure> {
    if let Some(at) = too_deep(text) {
        let at = offset + at;
        return Err(Failure::other(too_nested_error(Span::new(at, at + 1))));
    }
    let mut pairs = Grammar::parse(Rule::statement, text).map_err(|err| syntax_error(err, text, offset))?;
    let pair = pairs.next().expect("the statement rule yields one statement");
    let cx = Cx { offset, text };
    // pest's span of a rule that ends in an optional part takes in the
    // blanks after it (and so a trailing comment, blanked by the layout).
    let span = cx.span(&pair);
    let span = Span::new(
        span.start,
        span.start + cx.source(span).trim_end_matches(is_blank).len(),
    );
    let kind = cx.statement(pair).map_err(Failure::other)?;
    Ok(Statement { kind, span })
}

/// The error for brackets and operators nested deeper than [`MAX_NESTING`].
fn too_nested_error(at: Span) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            Code::Syntax,
            format!("expression nested more than {MAX_NESTING} levels deep"),
            at,
        )
        .with_label("too deeply nested")
        .with_note("brackets, calls, a prefix `-` or `not`, and `^` each nest one level")
        .with_help("bind inner parts of the expression to names with `let` and use the names"),
    )
}

/// The error for an expression tree taller than [`MAX_DEPTH`].
fn too_deep_error(at: Span) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            Code::Syntax,
            format!("expression more than {MAX_DEPTH} operations deep"),
            at,
        )
        .with_label("too deep")
        .with_note("each operator applies to the result of the one before: `a + b + c + ...` is one level per `+`")
        .with_help("bind parts of the expression to names with `let` and combine the names"),
    )
}

/// The offset of the first bracket nested more than [`MAX_NESTING`] deep,
/// so that pest is never asked to recurse that far.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

struct Cx<'t> {
    offset: usize,
    text: &'t str,
}

/// Errors are boxed: a `Diagnostic` is large, and every level of a nested
/// expression holds a few results on the stack.
type PResult<T> = Result<T, Box<Diagnostic>>;

/// An expression with its height: the number of tree levels from it down to
/// its deepest leaf (a name or a number has height 1).
struct Node {
    expr: Expr,
    height: usize,
}

impl Cx<'_> {
    fn source(&self, span: Span) -> &str {
        &self.text[span.start - self.offset..span.end - self.offset]
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        debug_assert_eq!(pair.as_rule(), Rule::ident);
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn statement(&self, pair: Pair<'_, Rule>) -> PResult<StatementKind> {
        let rule = pair.as_rule();
        let mut inner = children(pair);
        let _keyword = inner.next();
        Ok(match rule {
            Rule::input_stmt => {
                let name = self.ident(inner.next().expect("input name"));
                let unstated = Domain {
                    kind: DomainKind::Unstated,
                    span: Span::new(name.span.end, name.span.end),
                };
                let (domain, shape) = match inner.next() {
                    None => (unstated, None),
                    Some(shape) if shape.as_rule() == Rule::shape => {
                        let text = shape.as_str().to_string();
                        let shape = self.shape(shape).map_err(|mut error| {
                            // `input p [0, 1]`: a domain without its colon.
                            error.notes.push(format!(
                                "without a `:` the brackets are a shape; for the domain {text}, write `input {}: {text}`",
                                name.name
                            ));
                            error
                        })?;
                        (unstated, Some(shape))
                    }
                    Some(domain) => (self.domain(domain)?, inner.next().map(|p| self.shape(p)).transpose()?),
                };
                StatementKind::Input { name, domain, shape }
            }
            Rule::param_stmt | Rule::const_stmt => {
                let name = self.ident(inner.next().expect("name"));
                let value = self.literal(inner.next().expect("value"))?;
                if rule == Rule::param_stmt {
                    StatementKind::Param { name, value }
                } else {
                    StatementKind::Const { name, value }
                }
            }
            Rule::let_stmt => {
                let name = self.ident(inner.next().expect("let name"));
                let value = self.top_expr(inner.next().expect("let value"))?;
                StatementKind::Let { name, value }
            }
            Rule::def_stmt => {
                let name = self.ident(inner.next().expect("def name"));
                let params = children(inner.next().expect("def params"))
                    .map(|p| self.ident(p))
                    .collect();
                let body = self.top_expr(inner.next().expect("def body"))?;
                StatementKind::Def { name, params, body }
            }
            Rule::loss_stmt => {
                let first = inner.next().expect("loss name or value");
                if first.as_rule() == Rule::ident {
                    let name = Some(self.ident(first));
                    let value = self.top_expr(inner.next().expect("loss value"))?;
                    StatementKind::Loss { name, value }
                } else {
                    StatementKind::Loss {
                        name: None,
                        value: self.top_expr(first)?,
                    }
                }
            }
            Rule::output_stmt => {
                let name = self.ident(inner.next().expect("output name"));
                let value = self.top_expr(inner.next().expect("output value"))?;
                StatementKind::Output { name, value }
            }
            Rule::wrt_stmt => StatementKind::Wrt {
                names: inner.map(|p| self.ident(p)).collect(),
            },
            other => unreachable!("not a statement rule: {other:?}"),
        })
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> PResult<f64> {
        let text: String = pair.as_str().chars().filter(|c| !c.is_whitespace()).collect();
        text.parse::<f64>().map_err(|_| {
            Box::new(Diagnostic::error(
                Code::Syntax,
                format!("`{text}` is not a number"),
                self.span(pair),
            ))
        })
    }

    fn domain(&self, pair: Pair<'_, Rule>) -> PResult<Domain> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::kw_real => DomainKind::Real,
            Rule::kw_simplex => DomainKind::Simplex,
            Rule::kw_onehot => DomainKind::OneHot,
            Rule::interval => {
                let mut inner = children(pair);
                let lo_closed = inner.next().expect("lo bracket").as_rule() == Rule::closed_lo;
                let lo = self.bound(inner.next().expect("lo"), lo_closed)?;
                let hi_pair = inner.next().expect("hi");
                let hi_closed = inner.next().expect("hi bracket").as_rule() == Rule::closed_hi;
                let hi = self.bound(hi_pair, hi_closed)?;
                DomainKind::Interval { lo, hi }
            }
            Rule::set => {
                let body = children(pair).next().expect("set body");
                let mut values = match body.as_rule() {
                    Rule::set_range => {
                        let mut ends = children(body.clone());
                        let lo_pair = ends.next().expect("range start");
                        let hi_pair = ends.next().expect("range end");
                        let (lo, hi) = (self.number(&lo_pair)?, self.number(&hi_pair)?);
                        if lo.fract() != 0.0 || hi.fract() != 0.0 {
                            return Err(Box::new(
                                Diagnostic::error(
                                    Code::Syntax,
                                    "the ends of a range set `{a..b}` must be integers",
                                    self.span(&body),
                                )
                                .with_help("write the values out, e.g. `{0, 0.5, 1}`"),
                            ));
                        }
                        if hi < lo || hi - lo > 65_535.0 {
                            return Err(Box::new(
                                Diagnostic::error(
                                    Code::Syntax,
                                    format!("the range `{{{lo}..{hi}}}` is empty or has more than 65536 values"),
                                    self.span(&body),
                                )
                                .with_help("for a wide range of values declare an interval such as `[0, 1000]`"),
                            ));
                        }
                        (0..=(hi - lo) as i64).map(|k| lo + k as f64).collect::<Vec<_>>()
                    }
                    _ => children(body).map(|p| self.number(&p)).collect::<PResult<Vec<_>>>()?,
                };
                values.sort_by(f64::total_cmp);
                values.dedup();
                DomainKind::Set(values)
            }
            other => unreachable!("not a domain rule: {other:?}"),
        };
        Ok(Domain { kind, span })
    }

    /// An interval end. Infinite ends are always open (docs/language.md).
    fn bound(&self, pair: Pair<'_, Rule>, closed: bool) -> PResult<Bound> {
        let mut negative = false;
        let mut value = 0.0;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::neg => negative = true,
                Rule::kw_inf => value = f64::INFINITY,
                Rule::number => value = self.number(&part)?,
                other => unreachable!("not part of a bound: {other:?}"),
            }
        }
        let value = if negative { -value } else { value };
        Ok(Bound {
            value,
            closed: closed && value.is_finite(),
        })
    }

    fn shape(&self, pair: Pair<'_, Rule>) -> PResult<ShapeSpec> {
        let span = self.span(&pair);
        let dims = pair
            .into_inner()
            .filter(is_content)
            .map(|p| match p.as_rule() {
                Rule::ident => Ok(DimSpec::Named(self.ident(p))),
                _ => {
                    let span = self.span(&p);
                    p.as_str()
                        .parse::<u64>()
                        .ok()
                        .filter(|&size| size >= 1)
                        .map(|size| DimSpec::Fixed { size, span })
                        .ok_or_else(|| {
                            Box::new(
                                Diagnostic::error(
                                    Code::Syntax,
                                    format!("`{}` is not a valid dimension size", p.as_str()),
                                    span,
                                )
                                .with_help("a dimension is a name such as `N` or an integer of at least 1"),
                            )
                        })
                }
            })
            .collect::<PResult<Vec<_>>>()?;
        Ok(ShapeSpec { dims, span })
    }

    fn literal(&self, pair: Pair<'_, Rule>) -> PResult<Literal> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::signed_number => LiteralKind::Scalar(self.number(&pair)?),
            Rule::vector => LiteralKind::Vector(children(pair).map(|p| self.number(&p)).collect::<PResult<Vec<_>>>()?),
            other => unreachable!("not a literal rule: {other:?}"),
        };
        if let LiteralKind::Vector(values) = &kind
            && values.is_empty()
        {
            return Err(Box::new(Diagnostic::error(
                Code::Syntax,
                "a vector literal needs at least one value",
                span,
            )));
        }
        Ok(Literal { kind, span })
    }

    /// The expression of a statement: the root of a tree.
    fn top_expr(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        Ok(self.expr(pair, 0)?.expr)
    }

    /// An `expr` pair at nesting level `depth`: the number of enclosing
    /// brackets plus the prefix operators and `^`s of the enclosing
    /// expressions. It bounds how deep the parser has recursed.
    fn expr(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<Node> {
        debug_assert_eq!(pair.as_rule(), Rule::expr);
        let pairs = pair.into_inner();
        // The Pratt parser recurses once per prefix operator and per
        // (right-associative) `^` before any node is built, so bound those first.
        let mut nested = depth;
        for op in pairs.clone() {
            if matches!(op.as_rule(), Rule::neg | Rule::kw_not | Rule::pow) {
                nested += 1;
                if nested > MAX_NESTING {
                    return Err(too_nested_error(self.span(&op)));
                }
            }
        }
        self.pratt(pairs, depth, nested)
    }

    /// Checks a new node of the given height at nesting level `depth`. The
    /// statement's root is at level 0, so its whole tree stays within
    /// [`MAX_DEPTH`] levels.
    fn node(&self, expr: Expr, height: usize, depth: usize, at: Span) -> PResult<Node> {
        if depth + height > MAX_DEPTH {
            return Err(too_deep_error(at));
        }
        Ok(Node { expr, height })
    }

    /// Builds the tree of one flat `expr` at nesting level `depth`. Its
    /// primaries are at level `nested`: below every prefix operator and `^`
    /// the Pratt parser may still have open when it reaches one.
    fn pratt(&self, pairs: Pairs<'_, Rule>, depth: usize, nested: usize) -> PResult<Node> {
        PRATT
            .map_primary(|p| self.primary(p, nested))
            .map_prefix(|op, operand| {
                let operand = operand?;
                let op_span = self.span(&op);
                let op = if op.as_rule() == Rule::neg {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                let expr = Expr {
                    span: op_span.to(operand.expr.span),
                    kind: ExprKind::Unary {
                        op,
                        op_span,
                        operand: Box::new(operand.expr),
                    },
                };
                self.node(expr, operand.height + 1, depth, op_span)
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let op_span = self.span(&op);
                let op = match op.as_rule() {
                    Rule::kw_or => BinaryOp::Or,
                    Rule::kw_and => BinaryOp::And,
                    Rule::eq => BinaryOp::Eq,
                    Rule::ne => BinaryOp::Ne,
                    Rule::lt => BinaryOp::Lt,
                    Rule::le => BinaryOp::Le,
                    Rule::gt => BinaryOp::Gt,
                    Rule::ge => BinaryOp::Ge,
                    Rule::add => BinaryOp::Add,
                    Rule::sub => BinaryOp::Sub,
                    Rule::mul => BinaryOp::Mul,
                    Rule::div => BinaryOp::Div,
                    Rule::pow => BinaryOp::Pow,
                    other => unreachable!("not an infix operator: {other:?}"),
                };
                if op.is_comparison()
                    && let ExprKind::Binary {
                        op: first,
                        op_span: first_span,
                        lhs: a,
                        rhs: b,
                    } = &lhs.expr.kind
                    && first.is_comparison()
                {
                    return Err(Box::new(
                        Diagnostic::error(
                            Code::Syntax,
                            "comparison operators cannot be chained",
                            first_span.to(op_span),
                        )
                        .with_label("a chained comparison")
                        .with_help(format!(
                            "split the chain with `and`: `{a} {first} {b} and {b} {second} {c}`",
                            a = self.source(a.span),
                            first = first.symbol(),
                            b = self.source(b.span),
                            second = op.symbol(),
                            c = self.source(rhs.expr.span),
                        )),
                    ));
                }
                let height = lhs.height.max(rhs.height) + 1;
                let expr = Expr {
                    span: lhs.expr.span.to(rhs.expr.span),
                    kind: ExprKind::Binary {
                        op,
                        op_span,
                        lhs: Box::new(lhs.expr),
                        rhs: Box::new(rhs.expr),
                    },
                };
                self.node(expr, height, depth, op_span)
            })
            .parse(pairs)
    }

    /// A primary at nesting level `depth`. Brackets recurse: the recursive path
    /// (`paren`, `call`, `arg`) is split into small functions because every
    /// level of nesting holds one frame of each, and debug builds give each
    /// local its own stack slot.
    fn primary(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<Node> {
        let kind = match pair.as_rule() {
            Rule::paren => return self.paren(pair, depth),
            Rule::call => return self.call(pair, depth),
            Rule::number => ExprKind::Number(self.number(&pair)?),
            Rule::kw_inf => ExprKind::Number(f64::INFINITY),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            other => unreachable!("not a primary: {other:?}"),
        };
        let span = self.span(&pair);
        Ok(Node {
            expr: Expr { kind, span },
            height: 1,
        })
    }

    /// `( EXPR )` at nesting level `depth`.
    fn paren(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<Node> {
        let span = self.span(&pair);
        if is_tuple(&pair) {
            return Err(tuple_error(span));
        }
        let inner = self.expr(children(pair).next().expect("inner"), depth + 1)?;
        let height = inner.height + 1;
        let expr = Expr {
            kind: ExprKind::Paren(Box::new(inner.expr)),
            span,
        };
        self.node(expr, height, depth, Span::new(span.start, span.start + 1))
    }

    /// `f(a, b, axis=-1)` at nesting level `depth`.
    fn call(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<Node> {
        let span = self.span(&pair);
        let mut inner = children(pair);
        let callee = self.ident(inner.next().expect("callee"));
        let mut args: Vec<Arg> = Vec::new();
        let mut first_keyword = None;
        let mut height = 0;
        for arg_pair in inner {
            let (arg, arg_height) = if arg_pair.as_rule() == Rule::kwarg {
                first_keyword = first_keyword.or(Some(args.len()));
                self.kwarg(arg_pair, depth + 1)?
            } else {
                let value = self.expr(arg_pair, depth + 1)?;
                (
                    Arg {
                        name: None,
                        value: value.expr,
                    },
                    value.height,
                )
            };
            if let Some(keyword) = first_keyword
                && arg.name.is_none()
            {
                return Err(self.positional_after_keyword(&args[keyword], &arg));
            }
            height = height.max(arg_height);
            args.push(arg);
        }
        let at = callee.span;
        let expr = Expr {
            kind: ExprKind::Call { callee, args },
            span,
        };
        self.node(expr, height + 1, depth, at)
    }

    /// A keyword argument whose value is at nesting level `depth`, and its height.
    fn kwarg(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<(Arg, usize)> {
        let mut inner = children(pair);
        let name = self.ident(inner.next().expect("keyword"));
        let value_pair = inner.next().expect("keyword value");
        let value = match sole_tuple(&value_pair) {
            Some(tuple) => self.tuple(tuple, depth)?,
            None => self.expr(value_pair, depth)?,
        };
        Ok((
            Arg {
                name: Some(name),
                value: value.expr,
            },
            value.height,
        ))
    }

    /// The tuple `(a, b)` of a keyword argument, at nesting level `depth`.
    fn tuple(&self, pair: Pair<'_, Rule>, depth: usize) -> PResult<Node> {
        let span = self.span(&pair);
        let mut items = Vec::new();
        let mut height = 0;
        for item_pair in children(pair) {
            let item = self.expr(item_pair, depth + 1)?;
            height = height.max(item.height);
            items.push(item.expr);
        }
        let expr = Expr {
            kind: ExprKind::Tuple(items),
            span,
        };
        self.node(expr, height + 1, depth, Span::new(span.start, span.start + 1))
    }

    /// A positional argument may not follow a keyword argument. The usual
    /// cause is `where(y_true = 1, a, b)`, where `==` was meant.
    fn positional_after_keyword(&self, keyword: &Arg, positional: &Arg) -> Box<Diagnostic> {
        let name = keyword.name.as_ref().expect("a keyword argument has a name");
        let between = Span::new(name.span.end, keyword.value.span.start);
        let eq_at = between.start + self.source(between).find('=').unwrap_or(0);
        Box::new(
            Diagnostic::error(
                Code::Syntax,
                format!("a positional argument follows the keyword argument `{}=`", name.name),
                Span::new(eq_at, eq_at + 1),
            )
            .with_label(format!("this `=` makes `{}` a keyword argument", name.name))
            .with_secondary(positional.value.span, "positional argument")
            .with_help(format!(
                "to compare values write `==`: `{} == {}`; keyword arguments such as `axis=-1` come last",
                name.name,
                self.source(keyword.value.span)
            )),
        )
    }
}

// ------------------------------------------------------------------ errors

fn tuple_error(span: Span) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            Code::Syntax,
            "a tuple `(a, b)` is only allowed as the value of a keyword argument",
            span,
        )
        .with_label("tuple")
        .with_help("a tuple lists axes, as in `sum(x, axis=(0, 1))`; remove the comma otherwise"),
    )
}

/// Whitespace to the grammar, which also skips a byte-order mark.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

/// Whether a pair carries content: not punctuation (see the grammar).
fn is_content(pair: &Pair<'_, Rule>) -> bool {
    !matches!(
        pair.as_rule(),
        Rule::colon | Rule::assign | Rule::comma | Rule::dots | Rule::rparen | Rule::rbracket | Rule::rbrace
    )
}

/// The children of a pair, without punctuation.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(is_content)
}

/// The tuple that is the whole of an `expr` pair, as in `axis=(0, 1)`.
fn sole_tuple<'i>(expr: &Pair<'i, Rule>) -> Option<Pair<'i, Rule>> {
    let mut flat = expr.clone().into_inner();
    match (flat.next(), flat.next()) {
        (Some(only), None) if only.as_rule() == Rule::paren && is_tuple(&only) => Some(only),
        _ => None,
    }
}

/// Whether a `paren` pair is a tuple: several items, or one and a trailing comma.
fn is_tuple(pair: &Pair<'_, Rule>) -> bool {
    children(pair.clone()).nth(1).is_some() || pair.as_str()[..pair.as_str().len() - 1].trim_end().ends_with(',')
}

/// What a rule is called in an error message.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr | Rule::paren | Rule::call | Rule::number | Rule::kw_true | Rule::kw_false | Rule::kw_inf => {
            "an expression"
        }
        Rule::ident => "a name",
        Rule::input_stmt
        | Rule::param_stmt
        | Rule::const_stmt
        | Rule::let_stmt
        | Rule::def_stmt
        | Rule::loss_stmt
        | Rule::output_stmt
        | Rule::wrt_stmt
        | Rule::kw_input
        | Rule::kw_param
        | Rule::kw_const
        | Rule::kw_let
        | Rule::kw_def
        | Rule::kw_loss
        | Rule::kw_output
        | Rule::kw_wrt => "a statement (`input`, `param`, `const`, `let`, `def`, `loss`, `output` or `wrt`)",
        Rule::kw_real
        | Rule::kw_simplex
        | Rule::kw_onehot
        | Rule::interval
        | Rule::set
        | Rule::open_lo
        | Rule::closed_lo => {
            "a domain (`real`, an interval such as `[0, 1]`, a set such as `{0, 1}`, `simplex` or `onehot`)"
        }
        Rule::bound => "an interval end (a number, `-inf` or `inf`)",
        Rule::open_hi | Rule::closed_hi => "`)` or `]` to close the interval",
        Rule::signed_number => "a number",
        Rule::vector => "a vector literal such as `[1.0, 2.0]`",
        Rule::set_range | Rule::set_items => "set values",
        Rule::shape => "a shape such as `[N]`",
        Rule::integer => "a dimension",
        Rule::def_params => "the parameter list `(a, b)`",
        Rule::kwarg => "an argument",
        Rule::kw_or
        | Rule::kw_and
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::add
        | Rule::sub
        | Rule::pow
        | Rule::mul
        | Rule::div => "an operator",
        Rule::neg | Rule::kw_not => "an expression",
        Rule::EOI => "the end of the statement",
        Rule::colon => "`:`",
        Rule::assign => "`=`",
        Rule::comma => "`,`",
        Rule::dots => "`..`",
        Rule::rparen => "`)`",
        Rule::rbracket => "`]`",
        Rule::rbrace => "`}`",
        _ => return None,
    })
}

/// The token at `at` in `text`, as shown in "found ..." messages.
fn found(text: &str, at: usize) -> (String, usize) {
    let rest = &text[at..];
    let Some(c) = rest.chars().next() else {
        return ("the end of the statement".to_string(), 0);
    };
    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
        let len = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
            .unwrap_or(rest.len());
        return (format!("`{}`", &rest[..len]), len);
    }
    let two = rest.get(..2).unwrap_or("");
    if ["**", "==", "!=", "<=", ">=", "^^"].contains(&two) {
        return (format!("`{two}`"), 2);
    }
    (format!("`{c}`"), c.len_utf8())
}

fn syntax_error(err: pest::error::Error<Rule>, text: &str, offset: usize) -> Failure {
    use pest::error::{ErrorVariant, InputLocation};
    let at = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let fail = |kind, diagnostic: Diagnostic| Failure {
        diagnostic: Box::new(diagnostic),
        kind,
    };
    let (found_text, found_len) = found(text, at);
    let span = Span::new(offset + at, offset + at + found_len.max(usize::from(at < text.len())));
    let mut expected: Vec<&'static str> = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.iter().filter_map(|r| describe(*r)).collect(),
        // pest's own resource guards ("call limit reached", "stack limit
        // reached") are its only custom errors.
        ErrorVariant::CustomError { .. } => return fail(FailureKind::Other, *too_nested_error(span)),
    };
    // Words first, then punctuation: "expected an operator, `,` or `)`".
    expected.sort_unstable_by_key(|e| (e.starts_with('`'), *e));
    expected.dedup();
    // A name is an expression: say "an expression" once. After an operand,
    // `=` could start a keyword argument, but suggesting it only confuses.
    if expected.contains(&"an expression") {
        expected.retain(|e| *e != "a name");
    }
    if expected.contains(&"an operator") {
        expected.retain(|e| *e != "`=`");
    }
    let before = text[..at].trim_end();
    let previous_operator = [
        "**", "^", "*", "/", "+", "-", "==", "!=", "<=", ">=", "<", ">", "and", "or", "not",
    ]
    .into_iter()
    .find(|op| {
        before.ends_with(op)
            && (!op.chars().all(|c| c.is_ascii_alphabetic())
                || !before[..before.len() - op.len()].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    });
    let at_end = text[at..].trim().is_empty();

    // A line that ends with an operator: docs/language.md makes this an error.
    if at_end && let Some(op) = previous_operator {
        let op_at = offset + before.len() - op.len();
        return fail(
            FailureKind::DanglingOperator,
            Diagnostic::error(
                Code::Syntax,
                format!("the statement ends with a dangling operator `{op}`"),
                Span::new(op_at, op_at + op.len()),
            )
            .with_label("expected an expression after this")
            .with_help(
                "a statement continues on the next line only inside brackets: wrap the expression in `( ... )`, \
                 or remove the operator",
            ),
        );
    }
    // A reserved word where a name was expected.
    let word: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if (expected.contains(&"a name") || expected.contains(&"an expression")) && RESERVED.contains(&word.as_str()) {
        return fail(
            FailureKind::ReservedWord,
            Diagnostic::error(
                Code::Syntax,
                format!("`{word}` is a reserved word and cannot be a name"),
                span,
            )
            .with_label("reserved word")
            .with_help(format!("choose another name, e.g. `{word}_`")),
        );
    }
    // Two operators in a row, e.g. `y_pred ^^ 2`.
    if expected.contains(&"an expression")
        && let Some(op) = previous_operator
    {
        let help = if op == "^" && found_text == "`^`" {
            "`^` is the power operator and stands alone: write `x ^ 2` (or `x ** 2`)".to_string()
        } else {
            format!("put an operand between `{op}` and {found_text}")
        };
        return fail(
            FailureKind::Other,
            Diagnostic::error(
                Code::Syntax,
                format!("expected an expression after `{op}`, found {found_text}"),
                span,
            )
            .with_label("expected an expression here")
            .with_help(help),
        );
    }
    // Python-style indexing.
    if text[at..].starts_with('[')
        && expected.contains(&"an operator")
        && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ')')
    {
        return fail(
            FailureKind::Other,
            Diagnostic::error(Code::Syntax, "indexing with `[...]` is not part of the language", span)
                .with_label("indexing is not supported")
                .with_help("take a slice with `take(x, i, axis=-1)`: `y_true[..., 0]` is `take(y_true, 0)`"),
        );
    }
    // `=` where `==` was meant.
    if text[at..].starts_with('=') && !text[at..].starts_with("==") && expected.contains(&"an operator") {
        return fail(
            FailureKind::Other,
            Diagnostic::error(Code::Syntax, "expected an operator, found `=`", span)
                .with_label("`=` only appears in a statement or a keyword argument")
                .with_help("to compare values write `==`"),
        );
    }
    // Not a statement at all, e.g. `x = 1` without `let`.
    let leading_blank = text.len() - text.trim_start_matches(is_blank).len();
    if at == leading_blank && expected.iter().any(|e| e.starts_with("a statement")) {
        let mut diagnostic = Diagnostic::error(Code::Syntax, format!("expected a statement, found {found_text}"), span)
            .with_label("not a statement")
            .with_note("a statement starts with `input`, `param`, `const`, `let`, `def`, `loss`, `output` or `wrt`");
        if !word.is_empty() && text[at + word.len()..].trim_start().starts_with('=') {
            diagnostic = diagnostic.with_help(format!("to bind a name write `let {word} = ...`"));
        }
        return fail(FailureKind::NotAStatement, diagnostic);
    }
    let message = match expected.as_slice() {
        [] => format!("unexpected {found_text}"),
        [one] => format!("expected {one}, found {found_text}"),
        many => {
            let (last, rest) = many.split_last().expect("non-empty");
            format!("expected {} or {last}, found {found_text}", rest.join(", "))
        }
    };
    fail(
        FailureKind::Other,
        Diagnostic::error(Code::Syntax, message, span).with_label("unexpected here"),
    )
}
