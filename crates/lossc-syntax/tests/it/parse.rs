//! The parser through its public entry point, `lossc_syntax::parse`.
//!
//! Expressions are checked by rendering them fully parenthesised
//! (`check_expr("-x^2", "(-(x ^ 2.0))")`); statements by comparing whole
//! trees, spans included; errors as snapshots of the diagnostics rendered
//! as `lossc check` prints them (`tests/it/snapshots/`, reviewed by hand:
//! CONTRIBUTING.md says how).
//!
//! The renderer: numbers print with `{:?}` (`2.0`, `1e-7`, `inf`); every
//! unary and binary operation gets one pair of parentheses; a parenthesis
//! written in the source adds its own pair, so `(a + b)` renders `((a + b))`;
//! a tuple renders `(a, b)` or `(a,)`; a keyword argument `axis=(-1.0)`.

use codespan_reporting::term::termcolor::NoColor;
use lossc_cli::render::write_diagnostics;
use lossc_cli::source::Source;
use lossc_syntax::ast::*;
use lossc_syntax::{Code, Diagnostic, Span, parse};

// ------------------------------------------------------------------ helpers

#[track_caller]
fn parse_ok(src: &str) -> Program {
    match parse(src) {
        Ok(program) => program,
        Err(errors) => panic!("`{src}` should parse, got {errors:#?}"),
    }
}

/// The only statement of `src`.
#[track_caller]
fn single(src: &str) -> Statement {
    let mut program = parse_ok(src);
    assert_eq!(
        program.statements.len(),
        1,
        "`{src}` should hold one statement: {program:#?}"
    );
    program.statements.remove(0)
}

/// The span of the first occurrence of `needle` in `src`.
#[track_caller]
fn span_of(src: &str, needle: &str) -> Span {
    let start = src
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is not in `{src}`"));
    Span::new(start, start + needle.len())
}

/// The identifier `name` at its first occurrence in `src`.
#[track_caller]
fn ident(src: &str, name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: span_of(src, name),
    }
}

/// Every diagnostic for a source that must fail, after checking what all
/// syntax errors share: the code, a span on char boundaries inside the
/// input, and words for users rather than pest's internals.
#[track_caller]
fn all_errors(src: &str) -> Vec<Diagnostic> {
    let errors = match parse(src) {
        Ok(program) => panic!("`{src}` should fail to parse, got {program:#?}"),
        Err(errors) => errors,
    };
    assert!(!errors.is_empty());
    for error in &errors {
        assert_eq!(error.code, Code::Syntax, "{error:#?}");
        assert!(error.is_error(), "{error:#?}");
        assert!(
            error.span.start <= error.span.end && error.span.end <= src.len(),
            "{error:#?}"
        );
        assert!(
            src.is_char_boundary(error.span.start) && src.is_char_boundary(error.span.end),
            "{error:#?}"
        );
        assert!(!error.message.is_empty());
        let texts = [&error.message, &error.label]
            .into_iter()
            .chain(&error.help)
            .chain(&error.notes);
        for text in texts {
            for raw in [
                "Rule::",
                "-->",
                "EOI",
                "WHITESPACE",
                "positives",
                "_stmt",
                "kw_",
                "expected expr",
                "SOI",
            ] {
                assert!(!text.contains(raw), "pest's text `{raw}` leaked into `{text}`");
            }
        }
    }
    let mut sorted = errors.clone();
    sorted.sort_by_key(|error| (error.span.start, error.span.end));
    assert_eq!(sorted, errors, "errors are sorted by position");
    errors
}

/// The one diagnostic for `src`.
#[track_caller]
fn only_error(src: &str) -> Diagnostic {
    let mut errors = all_errors(src);
    assert_eq!(errors.len(), 1, "`{src}` should give one error: {errors:#?}");
    errors.remove(0)
}

/// Every diagnostic of each source (which must fail, see [`all_errors`]),
/// rendered as `lossc check` prints it: what a snapshot holds, and what a
/// reviewer reads (message, span drawn under the source, labels, help).
#[track_caller]
fn rendered(sources: &[&str]) -> String {
    let mut out = String::new();
    for src in sources {
        let errors = all_errors(src);
        let mut buffer = NoColor::new(Vec::new());
        let source = Source::new("test.loss", *src);
        write_diagnostics(&mut buffer, &source, &errors).expect("writes to memory");
        let text = String::from_utf8(buffer.into_inner()).expect("the renderer writes UTF-8");
        out.push_str(&format!("===== {src:?}\n{text}"));
    }
    out
}

/// Renders `expr` fully parenthesised, checking on the way that every span
/// covers exactly the text of its node.
fn render(expr: &Expr, src: &str) -> String {
    let text = &src[expr.span.start..expr.span.end];
    let inside = |child: &Expr| {
        assert!(
            expr.span.start <= child.span.start && child.span.end <= expr.span.end,
            "the span of `{}` is not inside the span of `{text}`",
            &src[child.span.start..child.span.end],
        );
        render(child, src)
    };
    match &expr.kind {
        ExprKind::Number(value) => {
            let written = if text == "inf" {
                f64::INFINITY
            } else {
                text.parse::<f64>().expect("a number's span")
            };
            assert_eq!(written, *value, "number span `{text}`");
            format!("{value:?}")
        }
        ExprKind::Bool(value) => {
            assert_eq!(text, value.to_string());
            value.to_string()
        }
        ExprKind::Name(name) => {
            assert_eq!(text, name);
            name.clone()
        }
        ExprKind::Unary { op, op_span, operand } => {
            assert_eq!(&src[op_span.start..op_span.end], op.symbol());
            assert_eq!(expr.span, op_span.to(operand.span));
            let space = if *op == UnaryOp::Not { " " } else { "" };
            format!("({}{space}{})", op.symbol(), inside(operand))
        }
        ExprKind::Binary { op, op_span, lhs, rhs } => {
            let written = &src[op_span.start..op_span.end];
            assert!(
                written == op.symbol() || (*op == BinaryOp::Pow && written == "**"),
                "operator span `{written}`"
            );
            assert_eq!(expr.span, lhs.span.to(rhs.span));
            assert!(lhs.span.end <= op_span.start && op_span.end <= rhs.span.start);
            format!("({} {} {})", inside(lhs), op.symbol(), inside(rhs))
        }
        ExprKind::Call { callee, args } => {
            assert_eq!(&src[callee.span.start..callee.span.end], callee.name);
            assert_eq!(expr.span.start, callee.span.start);
            assert!(text.ends_with(')'));
            let args: Vec<String> = args
                .iter()
                .map(|arg| match &arg.name {
                    None => inside(&arg.value),
                    Some(name) => {
                        assert_eq!(&src[name.span.start..name.span.end], name.name);
                        format!("{}={}", name.name, inside(&arg.value))
                    }
                })
                .collect();
            format!("{}({})", callee.name, args.join(", "))
        }
        ExprKind::Paren(inner) => {
            assert!(text.starts_with('(') && text.ends_with(')'));
            format!("({})", inside(inner))
        }
        ExprKind::Tuple(items) => {
            assert!(text.starts_with('(') && text.ends_with(')'));
            let items: Vec<String> = items.iter().map(inside).collect();
            match items.as_slice() {
                [one] => format!("({one},)"),
                _ => format!("({})", items.join(", ")),
            }
        }
    }
}

/// Parses `loss = EXPR` and compares the rendered tree of `EXPR`.
#[track_caller]
fn check_expr(expr: &str, expected: &str) {
    let src = format!("loss = {expr}");
    let statement = single(&src);
    assert_eq!(statement.span, Span::new(0, src.trim_end().len()));
    let StatementKind::Loss { name: None, value } = &statement.kind else {
        panic!("`{src}` is not a nameless loss: {statement:#?}");
    };
    assert_eq!(
        &src[value.span.start..value.span.end],
        expr.trim(),
        "the span of the whole expression"
    );
    assert_eq!(render(value, &src), expected, "parsing `{expr}`");
}

/// The value of the only statement, `loss = ...`, of `src`.
#[track_caller]
fn loss_value(src: &str) -> Expr {
    match single(src).kind {
        StatementKind::Loss { value, .. } => value,
        other => panic!("not a loss: {other:#?}"),
    }
}

// ------------------------------------------------------------- statements

#[test]
fn input_real_with_shapes() {
    let src = "input x: real [N, C]";
    assert_eq!(
        single(src),
        Statement {
            kind: StatementKind::Input {
                name: ident(src, "x"),
                domain: Domain {
                    kind: DomainKind::Real,
                    span: span_of(src, "real"),
                },
                shape: Some(ShapeSpec {
                    dims: vec![DimSpec::Named(ident(src, "N")), DimSpec::Named(ident(src, "C"))],
                    span: span_of(src, "[N, C]"),
                }),
            },
            span: Span::new(0, src.len()),
        }
    );

    let src = "input y_true: real [N]";
    let StatementKind::Input { shape, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(
        shape,
        Some(ShapeSpec {
            dims: vec![DimSpec::Named(ident(src, "N"))],
            span: span_of(src, "[N]"),
        })
    );

    let src = "input logits: real [N, 3]";
    let StatementKind::Input { shape, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(
        shape,
        Some(ShapeSpec {
            dims: vec![
                DimSpec::Named(ident(src, "N")),
                DimSpec::Fixed {
                    size: 3,
                    span: span_of(src, "3"),
                },
            ],
            span: span_of(src, "[N, 3]"),
        })
    );

    // No shape written: the default ([N]) is the IR's business.
    let src = "input y_pred: real";
    let StatementKind::Input { shape, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(shape, None);
}

/// The domain of `input x: DOMAIN`, and its span's text.
#[track_caller]
fn domain(domain_src: &str) -> DomainKind {
    let src = format!("input x: {domain_src}");
    let StatementKind::Input {
        domain, shape: None, ..
    } = single(&src).kind
    else {
        panic!("`{src}` should be an input without a shape");
    };
    assert_eq!(&src[domain.span.start..domain.span.end], domain_src.trim());
    domain.kind
}

fn interval(lo: f64, lo_closed: bool, hi: f64, hi_closed: bool) -> DomainKind {
    DomainKind::Interval {
        lo: Bound {
            value: lo,
            closed: lo_closed,
        },
        hi: Bound {
            value: hi,
            closed: hi_closed,
        },
    }
}

#[test]
fn input_intervals_of_every_bracket_kind() {
    assert_eq!(domain("(0, 1)"), interval(0.0, false, 1.0, false));
    assert_eq!(domain("[0, 1]"), interval(0.0, true, 1.0, true));
    assert_eq!(domain("[0, 1)"), interval(0.0, true, 1.0, false));
    assert_eq!(domain("(0, 1]"), interval(0.0, false, 1.0, true));
    assert_eq!(domain("[-1e-7, 2.5]"), interval(-1e-7, true, 2.5, true));
    assert_eq!(domain("( - 3 , .5 ]"), interval(-3.0, false, 0.5, true));
}

#[test]
fn infinite_interval_ends_are_always_open() {
    assert_eq!(
        domain("(-inf, inf)"),
        interval(f64::NEG_INFINITY, false, f64::INFINITY, false)
    );
    assert_eq!(domain("[-inf, 0]"), interval(f64::NEG_INFINITY, false, 0.0, true));
    assert_eq!(domain("[0, inf]"), interval(0.0, true, f64::INFINITY, false));
    assert_eq!(
        domain("[-inf, inf]"),
        interval(f64::NEG_INFINITY, false, f64::INFINITY, false)
    );
}

#[test]
fn input_finite_sets_and_ranges() {
    assert_eq!(domain("{0, 1}"), DomainKind::Set(vec![0.0, 1.0]));
    // Sorted, without repeats.
    assert_eq!(domain("{1, 0, 1, -0.5,}"), DomainKind::Set(vec![-0.5, 0.0, 1.0]));
    assert_eq!(domain("{0..9}"), DomainKind::Set((0..=9).map(f64::from).collect()));
    assert_eq!(domain("{-2..2}"), DomainKind::Set(vec![-2.0, -1.0, 0.0, 1.0, 2.0]));
    assert_eq!(domain("{3..3}"), DomainKind::Set(vec![3.0]));

    let src = "input labels: {0..9} [N]";
    let StatementKind::Input { domain, shape, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(domain.span, span_of(src, "{0..9}"));
    assert_eq!(shape.map(|shape| shape.span), Some(span_of(src, "[N]")));
}

#[test]
fn bad_sets_and_shapes() {
    let src = "input x: {0..0.5}";
    let error = only_error(src);
    assert_eq!(error.message, "the ends of a range set `{a..b}` must be integers");
    assert_eq!(error.span, span_of(src, "0..0.5"));

    let src = "input x: {5..1}";
    let error = only_error(src);
    assert_eq!(
        error.message,
        "the range `{5..1}` is empty or has more than 65536 values"
    );
    assert_eq!(error.span, span_of(src, "5..1"));

    let src = "input x: real [N, 0]";
    let error = only_error(src);
    assert_eq!(error.message, "`0` is not a valid dimension size");
    assert_eq!(error.span, span_of(src, "0"));
    assert_eq!(
        error.help.as_deref(),
        Some("a dimension is a name such as `N` or an integer of at least 1")
    );

    // `(0, 1]` is fine in an input, but the brackets must still pair up as an interval.
    let src = "input x: (0, 1}";
    let error = only_error(src);
    assert_eq!(error.message, "mismatched closing delimiter `}`");
    assert_eq!(error.span, span_of(src, "}"));
}

#[test]
fn param_and_const_values() {
    let src = "param gamma = 2";
    assert_eq!(
        single(src),
        Statement {
            kind: StatementKind::Param {
                name: ident(src, "gamma"),
                value: Literal {
                    kind: LiteralKind::Scalar(2.0),
                    span: span_of(src, "2"),
                },
            },
            span: Span::new(0, src.len()),
        }
    );

    let src = "const weights = [1.0, 2.0, 5.0]";
    assert_eq!(
        single(src),
        Statement {
            kind: StatementKind::Const {
                name: ident(src, "weights"),
                value: Literal {
                    kind: LiteralKind::Vector(vec![1.0, 2.0, 5.0]),
                    span: span_of(src, "[1.0, 2.0, 5.0]"),
                },
            },
            span: Span::new(0, src.len()),
        }
    );

    let literal = |src: &str| match single(src).kind {
        StatementKind::Param { value, .. } | StatementKind::Const { value, .. } => {
            assert_eq!(&src[value.span.start..value.span.end], src.split_once("= ").unwrap().1);
            value.kind
        }
        other => panic!("{other:#?}"),
    };
    assert_eq!(literal("param eps = 1e-7"), LiteralKind::Scalar(1e-7));
    assert_eq!(literal("param shift = -0.5"), LiteralKind::Scalar(-0.5));
    assert_eq!(literal("const big = 1E+3"), LiteralKind::Scalar(1000.0));
    assert_eq!(literal("const half = .5"), LiteralKind::Scalar(0.5));
    assert_eq!(
        literal("const v = [-1, 2, -3e2,]"),
        LiteralKind::Vector(vec![-1.0, 2.0, -300.0])
    );

    let src = "const v = []";
    let error = only_error(src);
    assert_eq!(error.message, "a vector literal needs at least one value");
    assert_eq!(error.span, span_of(src, "[]"));

    // A param is a literal, not an expression.
    let src = "param gamma = 1 + 1";
    let error = only_error(src);
    assert_eq!(error.message, "expected the end of the statement, found `+`");
    assert_eq!(error.span, span_of(src, "+"));
}

#[test]
fn let_def_loss_output_wrt() {
    let src = "let p = y_pred";
    assert_eq!(
        single(src),
        Statement {
            kind: StatementKind::Let {
                name: ident(src, "p"),
                value: Expr {
                    kind: ExprKind::Name("y_pred".to_string()),
                    span: span_of(src, "y_pred"),
                },
            },
            span: Span::new(0, src.len()),
        }
    );

    let src = "def huber(r, delta) = where(abs(r) <= delta, 0.5 * r^2, delta * (abs(r) - 0.5 * delta))";
    let StatementKind::Def { name, params, body } = single(src).kind else {
        panic!()
    };
    assert_eq!(name, ident(src, "huber"));
    let param = |name: &str, start: usize| Ident {
        name: name.to_string(),
        span: Span::new(start, start + name.len()),
    };
    assert_eq!(params, vec![param("r", 10), param("delta", 13)]);
    assert_eq!(
        render(&body, src),
        "where((abs(r) <= delta), (0.5 * (r ^ 2.0)), (delta * ((abs(r) - (0.5 * delta)))))"
    );
    let src = "def one() = 1";
    let StatementKind::Def { params, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(params, vec![]);

    let src = "loss mse = mean(square(y_true - y_pred))";
    let statement = single(src);
    assert_eq!(statement.span, Span::new(0, src.len()));
    let StatementKind::Loss { name, value } = statement.kind else {
        panic!()
    };
    assert_eq!(name, Some(ident(src, "mse")));
    assert_eq!(value.span, span_of(src, "mean(square(y_true - y_pred))"));
    assert_eq!(render(&value, src), "mean(square((y_true - y_pred)))");

    let src = "loss = y_pred";
    let StatementKind::Loss { name, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(name, None);

    let src = "output per_sample = square(y_true - y_pred)";
    let StatementKind::Output { name, value } = single(src).kind else {
        panic!()
    };
    assert_eq!(name, ident(src, "per_sample"));
    assert_eq!(render(&value, src), "square((y_true - y_pred))");

    let src = "wrt y_pred";
    assert_eq!(
        single(src),
        Statement {
            kind: StatementKind::Wrt {
                names: vec![ident(src, "y_pred")]
            },
            span: Span::new(0, src.len()),
        }
    );
    let src = "wrt y_pred, w , b";
    let StatementKind::Wrt { names } = single(src).kind else {
        panic!()
    };
    let name = |name: &str, start: usize| Ident {
        name: name.to_string(),
        span: Span::new(start, start + name.len()),
    };
    assert_eq!(names, vec![name("y_pred", 4), name("w", 12), name("b", 16)]);
}

#[test]
fn names_may_start_with_a_keyword() {
    check_expr(
        "inference + lossy + not_ + and_or + real_part",
        "((((inference + lossy) + not_) + and_or) + real_part)",
    );
    check_expr("_x1 * X_2", "(_x1 * X_2)");
}

#[test]
fn numbers() {
    check_expr("1", "1.0");
    check_expr("0.5", "0.5");
    check_expr("1e-7", "1e-7");
    check_expr(".5", "0.5");
    check_expr("1E+3", "1000.0");
    check_expr("2.5e3", "2500.0");
    check_expr("1.", "1.0");
    check_expr("007", "7.0");
    check_expr("inf", "inf");
    check_expr("-inf", "(-inf)");
    check_expr("true", "true");
    check_expr("false", "false");
}

// ----------------------------------------------------------------- layout

#[test]
fn comments_semicolons_and_blank_lines() {
    let src = "# a header comment\n\nlet a = 1 # trailing\n\n   \nlet b = 2; loss = a + b  ;\n;;\n# the end";
    let program = parse_ok(src);
    let spans: Vec<&str> = program
        .statements
        .iter()
        .map(|s| &src[s.span.start..s.span.end])
        .collect();
    assert_eq!(spans, ["let a = 1", "let b = 2", "loss = a + b"]);
}

#[test]
fn a_statement_continues_while_a_bracket_is_open() {
    let src = "loss = mean(  # an open bracket (with a comment\n    square(y_true\n\n    # a comment line\n    - y_pred))\nwrt y_pred";
    let program = parse_ok(src);
    assert_eq!(program.statements.len(), 2);
    let StatementKind::Loss { value, .. } = &program.statements[0].kind else {
        panic!()
    };
    assert_eq!(render(value, src), "mean(square((y_true - y_pred)))");
    assert_eq!(value.span, Span::new(7, src.find("\nwrt").unwrap()));
    assert_eq!(program.statements[1].span, span_of(src, "wrt y_pred"));

    let src = "const w = [1.0,\n  2.0,\n  5.0]\ninput x: [0,\n 1] [N,\n C]";
    let program = parse_ok(src);
    assert_eq!(program.statements.len(), 2);
}

#[test]
fn crlf_line_endings() {
    let src = "let a = 1\r\nloss = f(a,\r\n  2)\r\n\r\nwrt y_pred\r\n";
    let program = parse_ok(src);
    let spans: Vec<&str> = program
        .statements
        .iter()
        .map(|s| &src[s.span.start..s.span.end])
        .collect();
    assert_eq!(spans, ["let a = 1", "loss = f(a,\r\n  2)", "wrt y_pred"]);
    let StatementKind::Loss { value, .. } = &program.statements[1].kind else {
        panic!()
    };
    assert_eq!(render(value, src), "f(a, 2.0)");

    let src = "loss = a +\r\nb\r\n";
    let error = only_error(src);
    assert_eq!(error.message, "the statement ends with a dangling operator `+`");
    assert_eq!(error.span, span_of(src, "+"));
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let src = "\u{FEFF}loss = y_pred";
    assert_eq!(single(src).span, Span::new(3, src.len()));

    let src = "\u{FEFF}\nloss = y_pred";
    assert_eq!(single(src).span, span_of(src, "loss = y_pred"));

    let src = "\u{FEFF}";
    assert_eq!(parse_ok(src).statements, vec![]);

    let src = "\u{FEFF}x = 1";
    let error = only_error(src);
    assert_eq!(error.span, Span::new(3, 4));
    assert_eq!(error.help.as_deref(), Some("to bind a name write `let x = ...`"));
}

#[test]
fn an_empty_file_has_no_statements() {
    assert_eq!(parse_ok(""), Program { statements: vec![] });
    assert_eq!(
        parse_ok("\n\n  # only comments\n;;\n \t\r\n"),
        Program { statements: vec![] }
    );
}

// ------------------------------------------------------------- precedence

#[test]
fn precedence_or_and_not() {
    check_expr("a or b and c", "(a or (b and c))");
    check_expr("a and b or c", "((a and b) or c)");
    check_expr("a or b or c", "((a or b) or c)");
    check_expr("a and b and c", "((a and b) and c)");
    check_expr("not a and b", "((not a) and b)");
    check_expr("a and not b", "(a and (not b))");
    check_expr("not a or not b", "((not a) or (not b))");
    check_expr("not not a", "(not (not a))");
}

#[test]
fn precedence_not_is_below_comparisons() {
    check_expr("not a == b", "(not (a == b))");
    check_expr("not a < b + c", "(not (a < (b + c)))");
    check_expr("a < b and c >= d", "((a < b) and (c >= d))");
    check_expr("a == b or not c != d", "((a == b) or (not (c != d)))");
}

#[test]
fn precedence_comparisons_are_below_arithmetic() {
    for op in ["==", "!=", "<", "<=", ">", ">="] {
        check_expr(&format!("a + b {op} c * d"), &format!("((a + b) {op} (c * d))"));
        check_expr(&format!("-a {op} b ^ c"), &format!("((-a) {op} (b ^ c))"));
    }
    check_expr("a<=b", "(a <= b)");
    check_expr("a>=-b", "(a >= (-b))");
}

#[test]
fn precedence_sums_products_and_left_associativity() {
    check_expr("a + b * c", "(a + (b * c))");
    check_expr("a * b + c", "((a * b) + c)");
    check_expr("a - b / c", "(a - (b / c))");
    check_expr("a - b - c", "((a - b) - c)");
    check_expr("a - b + c", "((a - b) + c)");
    check_expr("a / b / c", "((a / b) / c)");
    check_expr("a / b * c", "((a / b) * c)");
    check_expr("a*b-c/d+e", "(((a * b) - (c / d)) + e)");
}

#[test]
fn precedence_unary_minus() {
    check_expr("-a * b", "((-a) * b)");
    check_expr("a * -b", "(a * (-b))");
    check_expr("-a + b", "((-a) + b)");
    check_expr("a - -b", "(a - (-b))");
    check_expr("a--b", "(a - (-b))");
    check_expr("--a", "(-(-a))");
    check_expr("- - a", "(-(-a))");
    check_expr("-a / -b", "((-a) / (-b))");
}

#[test]
fn precedence_power() {
    check_expr("-x^2", "(-(x ^ 2.0))");
    check_expr("-x**2", "(-(x ^ 2.0))");
    check_expr("-2^2", "(-(2.0 ^ 2.0))");
    check_expr("2^3^2", "(2.0 ^ (3.0 ^ 2.0))");
    check_expr("a ** b ** c", "(a ^ (b ^ c))");
    check_expr("a ^ b ** c ^ d", "(a ^ (b ^ (c ^ d)))");
    check_expr("2^-1", "(2.0 ^ (-1.0))");
    check_expr("2 ^ -y ^ 2", "(2.0 ^ (-(y ^ 2.0)))");
    check_expr("a * b ^ c", "(a * (b ^ c))");
    check_expr("a ^ b * c", "((a ^ b) * c)");
    check_expr("(-x)^2", "(((-x)) ^ 2.0)");
    check_expr("-f(x)^2", "(-(f(x) ^ 2.0))");
    check_expr("x^not b", "(x ^ (not b))");
}

#[test]
fn precedence_whole_ladder() {
    check_expr(
        "a or not b == c + d * -e ^ f and g",
        "(a or ((not (b == (c + (d * (-(e ^ f)))))) and g))",
    );
    check_expr(
        "a ^ b * c + d < e and f or g",
        "((((((a ^ b) * c) + d) < e) and f) or g)",
    );
}

#[test]
fn parentheses_calls_and_arguments() {
    check_expr("(a + b) * c", "(((a + b)) * c)");
    check_expr("((a))", "((a))");
    check_expr("f()", "f()");
    check_expr("f(a, b,)", "f(a, b)");
    check_expr("clip(y_pred, 1e-7, 1 - 1e-7)", "clip(y_pred, 1e-7, (1.0 - 1e-7))");
    check_expr(
        "where(y_true == 1, -log(p), 0)",
        "where((y_true == 1.0), (-log(p)), 0.0)",
    );
    check_expr("f(g(h(x)))", "f(g(h(x)))");
    check_expr("f(\n  a,\n  b\n)", "f(a, b)");
}

#[test]
fn keyword_arguments() {
    check_expr("sum(x, axis=-1)", "sum(x, axis=(-1.0))");
    check_expr("sum(x, axis=(1, 2))", "sum(x, axis=(1.0, 2.0))");
    check_expr("sum(x, axis = ( 1 , 2 , ))", "sum(x, axis=(1.0, 2.0))");
    check_expr("sum(x, axis=(0,))", "sum(x, axis=(0.0,))");
    check_expr("sum(x, axis=(1))", "sum(x, axis=(1.0))");
    check_expr("mean(x, axis=0, keepdims=true)", "mean(x, axis=0.0, keepdims=true)");
    check_expr("sum(x, axis=(-1, -2))", "sum(x, axis=((-1.0), (-2.0)))");
    // `==` is a comparison, so these are positional arguments.
    check_expr("f(a == b)", "f((a == b))");
    check_expr("f(a==b)", "f((a == b))");
    check_expr("float(y_pred >= 0.5)", "float((y_pred >= 0.5))");

    let src = "loss = sum(x, axis=(1, 2))";
    let ExprKind::Call { args, .. } = loss_value(src).kind else {
        panic!()
    };
    assert_eq!(args[0].name, None);
    assert_eq!(args[1].name, Some(ident(src, "axis")));
    assert_eq!(args[1].value.span, span_of(src, "(1, 2)"));
    assert!(matches!(&args[1].value.kind, ExprKind::Tuple(items) if items.len() == 2));
}

#[test]
fn operator_spans() {
    let src = "loss = a ** -b";
    let ExprKind::Binary { op, op_span, rhs, .. } = loss_value(src).kind else {
        panic!()
    };
    assert_eq!(op, BinaryOp::Pow);
    assert_eq!(op_span, span_of(src, "**"));
    let ExprKind::Unary { op, op_span, .. } = rhs.kind else {
        panic!()
    };
    assert_eq!(op, UnaryOp::Neg);
    assert_eq!(op_span, span_of(src, "-"));
    assert_eq!(rhs.span, span_of(src, "-b"));

    let src = "loss = not x";
    let value = loss_value(src);
    let ExprKind::Unary {
        op: UnaryOp::Not,
        op_span,
        ..
    } = value.kind
    else {
        panic!()
    };
    assert_eq!(op_span, span_of(src, "not"));
    assert_eq!(value.span, span_of(src, "not x"));
}

// ----------------------------------------------------------------- errors

#[test]
fn chained_comparison() {
    insta::assert_snapshot!(rendered(&["loss = a < b < c", "loss = 0 <= y_pred == 1"]));
    // Brackets make the grouping explicit, and that is not a syntax error.
    check_expr("(a < b) == c", "(((a < b)) == c)");
}

#[test]
fn doubled_operator() {
    insta::assert_snapshot!(rendered(&["loss = y_pred ^^ 2", "loss = a + * b", "loss = f(a, , b)"]));
}

#[test]
fn a_line_ending_with_an_operator_is_an_error() {
    // docs/language.md: only an open bracket continues a statement. The next
    // line is not reported again: it was meant as the continuation. A
    // statement on the next line is parsed as usual, and after `;` the next
    // statement is not a continuation.
    insta::assert_snapshot!(rendered(&[
        "loss = a +\n  b",
        "loss = a and # more below\nb",
        "loss = a **\nb",
        "loss = a -\nlet b = c +",
        "loss = a +; b",
    ]));
}

#[test]
fn brackets() {
    // One bracket error per statement: whether `}` was a typo for `)` or one
    // closer too many, the closers after it would only repeat the news.
    insta::assert_snapshot!(rendered(&[
        "loss = mean(square(y_pred)\n",
        "loss = mean(y_pred]",
        "loss = (a + b]",
        "loss = mean(square(y_true - y_pred}))\nlet b = (1))",
        "loss = y_pred)",
    ]));
    // An interval in an input is half-open with either bracket.
    assert_eq!(domain("(0,\n 1]"), interval(0.0, false, 1.0, true));
}

#[test]
fn an_unclosed_bracket_does_not_hide_later_errors() {
    // The statement keyword on the next line ends the unclosed statement.
    // Without a keyword, the bracket swallows the file; the lines after it
    // are laid out again, and each error is reported once.
    insta::assert_snapshot!(rendered(&[
        "loss = mean(y_pred\nlet = 1\nwrt y_pred",
        "loss = f( {\n ]\n("
    ]));
}

#[test]
fn statement_and_domain_words_are_names_elsewhere() {
    // Each statement word is one only as the first word of a statement, and
    // `real` only as a domain: anywhere else they are ordinary names.
    let src = "input output: real";
    let StatementKind::Input { name, domain, shape } = single(src).kind else {
        panic!()
    };
    assert_eq!(name, ident(src, "output"));
    assert_eq!(domain.kind, DomainKind::Real);
    assert_eq!(shape, None);

    let src = "input real: real";
    let StatementKind::Input { name, domain, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(
        name,
        Ident {
            name: "real".to_string(),
            span: Span::new(6, 10)
        }
    );
    assert_eq!(domain.kind, DomainKind::Real);
    assert_eq!(domain.span, Span::new(12, 16));

    // With no domain, the word after the name is not read as one.
    let src = "input x";
    let StatementKind::Input { name, domain, .. } = single(src).kind else {
        panic!()
    };
    assert_eq!(name, ident(src, "x"));
    assert_eq!(domain.kind, DomainKind::Unstated);

    // A binding named `loss`, then an unnamed loss that uses it.
    let src = "let loss = y_pred * 2\nloss = mean(loss)";
    let program = parse_ok(src);
    let [first, second] = &program.statements[..] else {
        panic!("two statements: {program:#?}")
    };
    let StatementKind::Let { name, value } = &first.kind else {
        panic!()
    };
    assert_eq!(
        *name,
        Ident {
            name: "loss".to_string(),
            span: Span::new(4, 8)
        }
    );
    assert_eq!(render(value, src), "(y_pred * 2.0)");
    let StatementKind::Loss { name, value } = &second.kind else {
        panic!()
    };
    assert_eq!(*name, None);
    assert_eq!(render(value, src), "mean(loss)");
    assert_eq!(value.span, span_of(src, "mean(loss)"));

    // `loss loss = ...` and `output output = ...` name their results.
    for (src, word) in [
        ("loss loss = mean(loss)", "loss"),
        ("output output = output * 2", "output"),
    ] {
        let statement = single(src);
        let (name, value) = match statement.kind {
            StatementKind::Loss {
                name: Some(name),
                value,
            } => (name, value),
            StatementKind::Output { name, value } => (name, value),
            other => panic!("`{src}`: {other:#?}"),
        };
        assert_eq!(
            name,
            Ident {
                name: word.to_string(),
                span: Span::new(word.len() + 1, 2 * word.len() + 1)
            }
        );
        let rendered = render(&value, src);
        assert!(rendered.contains(word), "`{src}` renders `{rendered}`");
    }
    assert!(matches!(single("output output = 1").kind, StatementKind::Output { .. }));
    assert!(matches!(
        single("loss loss = 1").kind,
        StatementKind::Loss { name: Some(_), .. }
    ));

    let src = "def f(input) = input * 2";
    let StatementKind::Def { name, params, body } = single(src).kind else {
        panic!()
    };
    assert_eq!(
        name,
        Ident {
            name: "f".to_string(),
            span: Span::new(4, 5)
        }
    );
    assert_eq!(
        params,
        vec![Ident {
            name: "input".to_string(),
            span: Span::new(6, 11)
        }]
    );
    assert_eq!(render(&body, src), "(input * 2.0)");

    let src = "wrt output, param, real";
    let StatementKind::Wrt { names } = single(src).kind else {
        panic!()
    };
    let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["output", "param", "real"]);

    // Every statement word and `real` as a name inside an expression.
    check_expr(
        "input + param + const + let + def + loss + output + wrt + real",
        "((((((((input + param) + const) + let) + def) + loss) + output) + wrt) + real)",
    );
    check_expr("let(output, axis=-1)", "let(output, axis=(-1.0))");
}

#[test]
fn a_statement_word_used_as_a_name_continues_a_bracket() {
    // Inside brackets, a line that starts with a statement word is still the
    // statement unless it reads as a statement (the word then a name or `=`).
    let src = "loss l = mean(\n    output\n    * loss)\nloss = 1";
    let program = parse_ok(src);
    assert_eq!(program.statements.len(), 2);
    let StatementKind::Loss { value, .. } = &program.statements[0].kind else {
        panic!()
    };
    assert_eq!(render(value, src), "mean((output * loss))");
}

#[test]
fn reserved_words_are_not_names() {
    insta::assert_snapshot!(rendered(&[
        "let inf = 1",
        "input true: real",
        "def f(and) = 1",
        "wrt y_pred, not",
        "loss false = 1",
        "output or = 1",
        "param inf = 1",
        "let x = 1 + true_ + or",
    ]));
}

#[test]
fn a_reserved_word_error_points_at_the_word() {
    for (src, word) in [
        ("let inf = 1", "inf"),
        ("let and = 2", "and"),
        ("def f(x, not) = x", "not"),
    ] {
        let error = only_error(src);
        assert_eq!(
            error.message,
            format!("`{word}` is a reserved word and cannot be a name")
        );
        assert_eq!(error.span, span_of(src, word), "`{src}`");
        assert_eq!(
            error.help.as_deref(),
            Some(format!("choose another name, e.g. `{word}_`").as_str())
        );
    }
}

#[test]
fn a_reserved_word_is_reported_once() {
    // Naming something `inf` is one mistake, however often it is used.
    insta::assert_snapshot!(rendered(&[
        "let inf = y_pred * 2\nloss = mean(inf_) + inf\nlet x = and"
    ]));
}

#[test]
fn a_binding_without_let() {
    // The last is not a binding: no `let` help.
    insta::assert_snapshot!(rendered(&[
        "x = 1",
        "  smooth_l1 = abs(y_true - y_pred)",
        "mean(y_pred)"
    ]));
}

#[test]
fn python_indexing() {
    insta::assert_snapshot!(rendered(&["loss = mean(y_true[:, 0])", "loss = f(x)[0]"]));
}

#[test]
fn assignment_where_a_comparison_was_meant() {
    insta::assert_snapshot!(rendered(&[
        "loss = where(y_true = 1, -log(y_pred), 0)",
        "loss = where((y_true = 1), y_pred, 0)",
        "loss = y_true = 1",
    ]));
}

#[test]
fn tuples_only_as_keyword_values() {
    insta::assert_snapshot!(rendered(&[
        "loss = (a, b)",
        "loss = sum(x, (0, 1))",
        "loss = sum(x, axis=(0, 1) + 1)",
    ]));
}

#[test]
fn other_errors_name_what_was_expected() {
    // Missing punctuation is reported where it is missing, by name.
    insta::assert_snapshot!(rendered(&[
        "loss =",
        "let x 1",
        "param gamma 2",
        "loss mse mean(y_pred)",
        "def f(a b) = a",
        "input x: (0 1)",
        "input x: {0..1 2}",
        "const v = [1 2]",
        "loss = f(a b)",
        "wrt a b",
        "input x: {}",
        "param x = y",
        "def f = 1",
        "input x: real N",
        "input x: [N]",
        "loss = 2x",
        "loss = é",
    ]));
}

#[test]
fn several_broken_statements_are_reported_in_one_run() {
    insta::assert_snapshot!(rendered(&["\
let = 1
loss = a +
let ok = 1
x = 2
loss = (y_pred]
loss = a < b < c
loss fine = y_pred
"]));
}

#[test]
fn nesting_limits() {
    // 128 levels of brackets parse; 129 are refused at the 129th bracket.
    let ok = format!("loss = {}y{}", "(".repeat(128), ")".repeat(128));
    parse_ok(&ok);
    let src = format!("loss = {}y{}", "(".repeat(129), ")".repeat(129));
    let error = only_error(&src);
    assert_eq!(error.message, "expression nested more than 128 levels deep");
    assert_eq!(error.span, Span::new(7 + 128, 7 + 129));
    assert_eq!(
        error.help.as_deref(),
        Some("bind inner parts of the expression to names with `let` and use the names")
    );

    // Prefix operators and `^` count as nesting too.
    let src = format!("loss = {}y", "- ".repeat(129));
    let error = only_error(&src);
    assert_eq!(error.message, "expression nested more than 128 levels deep");
    assert_eq!(error.span, Span::new(7 + 2 * 128, 7 + 2 * 128 + 1));
    let src = format!("loss = {}(y{})", "not ".repeat(100), "^y".repeat(29));
    assert_eq!(only_error(&src).message, "expression nested more than 128 levels deep");

    // A tree of 256 levels is fine; one more is refused at the operator that
    // makes it too tall.
    let ok = format!("loss = y{}", " + y".repeat(255));
    parse_ok(&ok);
    let src = format!("loss = y{}", " + y".repeat(256));
    let error = only_error(&src);
    assert_eq!(error.message, "expression more than 256 operations deep");
    let at = 7 + 1 + 4 * 255 + 1;
    assert_eq!(error.span, Span::new(at, at + 1));
    assert_eq!(&src[at..=at], "+");
    assert_eq!(
        error.help.as_deref(),
        Some("bind parts of the expression to names with `let` and combine the names")
    );
}
