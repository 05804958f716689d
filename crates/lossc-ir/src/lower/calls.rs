//! Calls of built-ins: positional and keyword arguments checked against the
//! built-in's row of the table (arity errors with their fixes), each
//! signature's typing, and the static arguments (`axis=`, `keepdims=`,
//! `take`'s index, `one_hot`'s class count) that become the node's
//! attributes.

use std::collections::HashMap;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, Expr, ExprKind, UnaryOp};

use crate::builtins::{Builtin, Signature};
use crate::program::{Attrs, Op};
use crate::types::{Dim, Kind, Shape, Type};

use super::resolve::closest;
use super::{Global, Lowered, Lowerer, Poisoned, Scope};

impl Lowerer<'_> {
    pub(super) fn call(&mut self, expr: &Expr, callee: &ast::Ident, args: &[ast::Arg], scope: Scope<'_>) -> Lowered {
        if self.defs.contains_key(&callee.name) {
            return self.call_def(expr, callee, args, scope);
        }
        let Some(builtin) = Builtin::by_name(&callee.name) else {
            let diagnostic = self.unknown_function(callee);
            // Still check the arguments for their own errors.
            for arg in args {
                if arg.name.is_none() {
                    let _ = self.expr(&arg.value, scope);
                }
            }
            return Err(self.error(diagnostic));
        };
        let spec = builtin.spec();
        // Keyword arguments: known, once each.
        let mut keywords: HashMap<&str, &Expr> = HashMap::new();
        let mut positional = Vec::new();
        for arg in args {
            match &arg.name {
                None => {
                    if !keywords.is_empty() {
                        return Err(self.error(
                            Diagnostic::error(
                                Code::Syntax,
                                "a positional argument cannot follow a keyword argument",
                                arg.value.span,
                            )
                            .with_help("put positional arguments first"),
                        ));
                    }
                    positional.push(&arg.value);
                }
                Some(keyword) => {
                    if !spec.keywords.contains(&keyword.name.as_str()) {
                        let mut diagnostic = Diagnostic::error(
                            Code::Arity,
                            format!("`{}` has no keyword argument `{}`", spec.name, keyword.name),
                            keyword.span,
                        )
                        .with_label("unknown keyword");
                        diagnostic = if spec.keywords.is_empty() {
                            diagnostic.with_help(format!("`{}` takes no keyword arguments", spec.name))
                        } else if let Some(best) = closest(&keyword.name, spec.keywords.iter().copied()) {
                            diagnostic
                                .with_help(format!("did you mean `{best}`?"))
                                .with_fix(keyword.span, best)
                        } else {
                            diagnostic.with_help(format!(
                                "`{}` takes {}",
                                spec.name,
                                spec.keywords
                                    .iter()
                                    .map(|k| format!("`{k}=`"))
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ))
                        };
                        return Err(self.error(diagnostic));
                    }
                    if keywords.insert(keyword.name.as_str(), &arg.value).is_some() {
                        return Err(self.error(Diagnostic::error(
                            Code::Arity,
                            format!("keyword argument `{}` given twice", keyword.name),
                            keyword.span,
                        )));
                    }
                }
            }
        }
        if positional.len() != spec.params.len() {
            return Err(self.arity_error(expr, spec.name, spec.params, &positional, builtin));
        }
        match spec.signature {
            Signature::Take => return self.take(expr, &positional, &keywords, scope),
            Signature::OneHot => return self.one_hot(expr, &positional, scope),
            _ => {}
        }
        let mut lowered = Vec::with_capacity(positional.len());
        let mut failed = false;
        for arg in &positional {
            match self.expr(arg, scope) {
                Ok(id) => lowered.push((id, arg.span)),
                Err(_) => failed = true,
            }
        }
        if failed {
            return Err(Poisoned);
        }
        let name = spec.name;
        let what = format!("`{name}`");
        let (ty, attrs) = match spec.signature {
            Signature::Elementwise | Signature::Compare => {
                let mut ok = true;
                for (i, &(id, span)) in lowered.iter().enumerate() {
                    ok &= self
                        .expect_kind(
                            id,
                            Kind::Num,
                            span,
                            &format!("argument `{}` of `{name}`", spec.params[i]),
                        )
                        .is_ok();
                }
                if !ok {
                    return Err(Poisoned);
                }
                let shape = self.broadcast(&lowered, callee.span, &what)?;
                let kind = if spec.signature == Signature::Compare {
                    Kind::Bool
                } else {
                    Kind::Num
                };
                (Type { kind, shape }, Attrs::default())
            }
            Signature::Logic => {
                for &(id, span) in &lowered {
                    self.expect_kind(id, Kind::Bool, span, &what)?;
                }
                (
                    Type::boolean(self.broadcast(&lowered, callee.span, &what)?),
                    Attrs::default(),
                )
            }
            Signature::Where => {
                let c = self.expect_kind(lowered[0].0, Kind::Bool, lowered[0].1, "the condition of `where`");
                let a = self.expect_kind(lowered[1].0, Kind::Num, lowered[1].1, "a branch of `where`");
                let b = self.expect_kind(lowered[2].0, Kind::Num, lowered[2].1, "a branch of `where`");
                c?;
                a?;
                b?;
                (
                    Type::num(self.broadcast(&lowered, callee.span, &what)?),
                    Attrs::default(),
                )
            }
            Signature::Float => {
                let (id, span) = lowered[0];
                if self.ty(id).kind == Kind::Num {
                    let text = self.text(span);
                    return Err(self.error(
                        Diagnostic::error(Code::TypeMismatch, "`float` takes a boolean, found a number", span)
                            .with_label("already a number")
                            .with_help(format!(
                                "`{text}` is already a number; to get 0/1 from it, compare it, e.g. `float({text} > 0)`"
                            )),
                    ));
                }
                (Type::num(self.ty(id).shape.clone()), Attrs::default())
            }
            Signature::Reduce(_) => {
                let (id, span) = lowered[0];
                self.expect_kind(id, Kind::Num, span, &what)?;
                let shape = self.ty(id).shape.clone();
                let axes = match keywords.get("axis") {
                    Some(axis) => Some(self.axes(axis, &shape, span, name)?),
                    None => None,
                };
                let keepdims = match keywords.get("keepdims") {
                    Some(flag) => self.flag(flag)?,
                    None => false,
                };
                let reduced: Vec<usize> = axes.clone().unwrap_or_else(|| (0..shape.len()).collect());
                let out: Shape = shape
                    .iter()
                    .enumerate()
                    .filter_map(|(k, d)| {
                        if reduced.contains(&k) {
                            keepdims.then_some(Dim::Fixed(1))
                        } else {
                            Some(*d)
                        }
                    })
                    .collect();
                (
                    Type::num(out),
                    Attrs {
                        axes,
                        keepdims,
                        ..Attrs::default()
                    },
                )
            }
            Signature::AlongAxis(_) => {
                let (id, span) = lowered[0];
                self.expect_kind(id, Kind::Num, span, &what)?;
                let shape = self.ty(id).shape.clone();
                let axes = match keywords.get("axis") {
                    Some(axis) => self.axes(axis, &shape, span, name)?,
                    None => self.default_axis(&shape, span, name)?,
                };
                if axes.len() != 1 {
                    let at = keywords.get("axis").map_or(expr.span, |a| a.span);
                    return Err(self.error(
                        Diagnostic::error(Code::BadAxis, format!("`{name}` works along one axis"), at)
                            .with_help("give a single axis, e.g. `axis=-1`"),
                    ));
                }
                (
                    Type::num(shape),
                    Attrs {
                        axes: Some(axes),
                        ..Attrs::default()
                    },
                )
            }
            Signature::ExpandDims => {
                // Numbers or booleans: the kind is kept.
                let (id, span) = lowered[0];
                let kind = self.ty(id).kind;
                let shape = self.ty(id).shape.clone();
                let Some(axis) = keywords.get("axis") else {
                    return Err(self.error(
                        Diagnostic::error(Code::Arity, "`expand_dims` needs `axis=`", expr.span)
                            .with_help("name where the new axis goes in the result, e.g. `expand_dims(x, axis=-1)`"),
                    ));
                };
                let count = match &axis.kind {
                    ExprKind::Tuple(items) => items.len(),
                    _ => 1,
                };
                let out_rank: Shape = vec![Dim::Fixed(1); shape.len() + count];
                let axes = self.axes(axis, &out_rank, span, name)?;
                let mut inner = shape.into_iter();
                let out: Shape = (0..out_rank.len())
                    .map(|k| {
                        if axes.contains(&k) {
                            Dim::Fixed(1)
                        } else {
                            inner.next().expect("rank adds up")
                        }
                    })
                    .collect();
                (
                    Type { kind, shape: out },
                    Attrs {
                        axes: Some(axes),
                        ..Attrs::default()
                    },
                )
            }
            Signature::Take | Signature::OneHot => unreachable!("handled above"),
        };
        self.check_size(&ty, expr.span)?;
        let args = lowered.into_iter().map(|(id, _)| id).collect();
        self.push(Op::Call(builtin, attrs), args, ty, expr.span)
    }

    fn arity_error(
        &mut self,
        expr: &Expr,
        name: &str,
        params: &[&str],
        positional: &[&Expr],
        builtin: Builtin,
    ) -> Poisoned {
        let expected = params.len();
        let plural = if expected == 1 { "" } else { "s" };
        let found = positional.len();
        let extra = found.saturating_sub(expected);
        let label = match extra {
            0 => format!("expected {expected} argument{plural}, found {found}"),
            1 => "unexpected argument".to_string(),
            _ => format!("{extra} unexpected arguments"),
        };
        let mut diagnostic = Diagnostic::error(
            Code::Arity,
            format!(
                "`{name}` takes {expected} argument{plural} but {found} {} given",
                if found == 1 { "was" } else { "were" }
            ),
            if extra > 0 {
                positional[expected].span.to(positional[found - 1].span)
            } else {
                expr.span
            },
        )
        .with_label(label)
        .with_note(format!("the signature is `{name}({})`", params.join(", ")));
        if extra > 0 {
            // Remove the extra arguments, from the end of the last expected one.
            let last = positional[found - 1].span;
            let fix_span = match expected {
                0 => positional[0].span.to(last),
                _ => Span::new(positional[expected - 1].span.end, last.end),
            };
            diagnostic = diagnostic.with_fix(fix_span, "");
        }
        let spec = builtin.spec();
        let help = match (builtin, found) {
            (Builtin::Max, 2) => {
                Some("`max` reduces one tensor; the elementwise larger of two is `maximum(a, b)`".to_string())
            }
            (Builtin::Min, 2) => {
                Some("`min` reduces one tensor; the elementwise smaller of two is `minimum(a, b)`".to_string())
            }
            _ if matches!(spec.signature, Signature::Reduce(_)) && found == 2 => Some(format!(
                "pass the axis by keyword: `{name}({}, axis={})`",
                self.text(positional[0].span),
                self.text(positional[1].span)
            )),
            _ if matches!(spec.signature, Signature::AlongAxis(_)) && found == 2 => Some(format!(
                "pass the axis by keyword: `{name}({}, axis={})`",
                self.text(positional[0].span),
                self.text(positional[1].span)
            )),
            (
                Builtin::Neg
                | Builtin::Add
                | Builtin::Sub
                | Builtin::Mul
                | Builtin::Div
                | Builtin::Pow
                | Builtin::Eq
                | Builtin::Ne
                | Builtin::Lt
                | Builtin::Le
                | Builtin::Gt
                | Builtin::Ge
                | Builtin::And
                | Builtin::Or
                | Builtin::Not
                | Builtin::Abs
                | Builtin::Sign
                | Builtin::Exp
                | Builtin::Expm1
                | Builtin::Log
                | Builtin::Log1p
                | Builtin::Log2
                | Builtin::Log10
                | Builtin::Sqrt
                | Builtin::Square
                | Builtin::Sin
                | Builtin::Cos
                | Builtin::Tan
                | Builtin::Atan
                | Builtin::Asin
                | Builtin::Acos
                | Builtin::Tanh
                | Builtin::Cosh
                | Builtin::Erf
                | Builtin::Erfc
                | Builtin::Sigmoid
                | Builtin::LogSigmoid
                | Builtin::Softplus
                | Builtin::Relu
                | Builtin::Floor
                | Builtin::Ceil
                | Builtin::Round
                | Builtin::StopGradient
                | Builtin::Float
                | Builtin::Maximum
                | Builtin::Minimum
                | Builtin::Xlogy
                | Builtin::Clip
                | Builtin::Where
                | Builtin::Sum
                | Builtin::Mean
                | Builtin::Max
                | Builtin::Min
                | Builtin::Logsumexp
                | Builtin::Norm
                | Builtin::Softmax
                | Builtin::LogSoftmax
                | Builtin::Take
                | Builtin::OneHot
                | Builtin::BroadcastLike
                | Builtin::ExpandDims,
                _,
            ) => None,
        };
        if let Some(help) = help {
            diagnostic = diagnostic.with_help(help);
        }
        self.error(diagnostic)
    }

    // ------------------------------------------------------- static arguments

    /// An integer written in the source, possibly negative.
    fn integer(&self, expr: &Expr) -> Option<i64> {
        match &expr.kind {
            ExprKind::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some(*v as i64),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
                ..
            } => self.integer(operand).map(|v| -v),
            ExprKind::Paren(inner) => self.integer(inner),
            _ => None,
        }
    }

    fn axes(&mut self, axis: &Expr, shape: &Shape, operand: Span, name: &str) -> Result<Vec<usize>, Poisoned> {
        let items: Vec<&Expr> = match &axis.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![axis],
        };
        let rank = shape.len() as i64;
        let mut axes = Vec::new();
        for item in items {
            let Some(value) = self.integer(item) else {
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("`axis` of `{name}` must be an integer or a tuple of integers"),
                        item.span,
                    )
                    .with_label("not an integer literal")
                    .with_help("write the axis as a number, e.g. `axis=-1` or `axis=(0, 1)`"),
                ));
            };
            if value < -rank || value >= rank {
                let shape_text = self.program.shape_string(shape);
                let valid = if rank == 0 {
                    "a scalar has no axes to reduce; drop `axis=`".to_string()
                } else {
                    if rank == 1 {
                        "the only axis of a rank-1 operand is 0 (or -1)".to_string()
                    } else {
                        format!("valid axes for rank {rank} are 0 to {} (or {} to -1)", rank - 1, -rank)
                    }
                };
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("axis {value} is out of range for an operand of shape {shape_text}"),
                        item.span,
                    )
                    .with_label(format!("out of range for rank {rank}"))
                    .with_secondary(operand, format!("this has shape {shape_text}"))
                    .with_help(valid),
                ));
            }
            let normalised = if value < 0 { value + rank } else { value } as usize;
            if axes.contains(&normalised) {
                return Err(self.error(
                    Diagnostic::error(Code::BadAxis, format!("axis {value} is repeated"), item.span)
                        .with_help("name each axis once"),
                ));
            }
            axes.push(normalised);
        }
        axes.sort_unstable();
        Ok(axes)
    }

    fn default_axis(&mut self, shape: &Shape, operand: Span, name: &str) -> Result<Vec<usize>, Poisoned> {
        if shape.is_empty() {
            return Err(self.error(
                Diagnostic::error(
                    Code::BadAxis,
                    format!("`{name}` needs an operand with at least one axis"),
                    operand,
                )
                .with_label("this is a scalar"),
            ));
        }
        Ok(vec![shape.len() - 1])
    }

    fn flag(&mut self, expr: &Expr) -> Result<bool, Poisoned> {
        match &expr.kind {
            ExprKind::Bool(value) => Ok(*value),
            _ => Err(self.error(
                Diagnostic::error(Code::TypeMismatch, "`keepdims` must be `true` or `false`", expr.span)
                    .with_label("not a boolean literal"),
            )),
        }
    }

    fn take(
        &mut self,
        expr: &Expr,
        positional: &[&Expr],
        keywords: &HashMap<&str, &Expr>,
        scope: Scope<'_>,
    ) -> Lowered {
        let x = self.expr(positional[0], scope)?;
        self.expect_kind(x, Kind::Num, positional[0].span, "argument `x` of `take`")?;
        let shape = self.ty(x).shape.clone();
        let Some(index) = self.integer(positional[1]) else {
            return Err(self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "the index of `take` must be an integer literal",
                    positional[1].span,
                )
                .with_label("not an integer literal")
                .with_help("write the index as a number, e.g. `take(y_true, 0)`"),
            ));
        };
        let axes = match keywords.get("axis") {
            Some(axis) => self.axes(axis, &shape, positional[0].span, "take")?,
            None => self.default_axis(&shape, positional[0].span, "take")?,
        };
        if axes.len() != 1 {
            return Err(self.error(Diagnostic::error(
                Code::BadAxis,
                "`take` works along one axis",
                expr.span,
            )));
        }
        let axis = axes[0];
        if let Dim::Fixed(size) = shape[axis] {
            let size = size as i64;
            if index < -size || index >= size {
                let text = self.program.shape_string(&shape);
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("index {index} is out of range for axis {axis} of size {size}"),
                        positional[1].span,
                    )
                    .with_label("out of range")
                    .with_secondary(positional[0].span, format!("this has shape {text}")),
                ));
            }
        }
        let mut out = shape;
        out.remove(axis);
        self.push(
            Op::Call(
                Builtin::Take,
                Attrs {
                    axes: Some(vec![axis]),
                    index: Some(index),
                    ..Attrs::default()
                },
            ),
            vec![x],
            Type::num(out),
            expr.span,
        )
    }

    fn one_hot(&mut self, expr: &Expr, positional: &[&Expr], scope: Scope<'_>) -> Lowered {
        let labels = self.expr(positional[0], scope)?;
        self.expect_kind(labels, Kind::Num, positional[0].span, "the labels of `one_hot`")?;
        let shape = self.ty(labels).shape.clone();
        if let Op::Input(i) = self.program.node(labels).op {
            let input = &self.program.inputs[i];
            if !input.domain.is_integer_set() {
                let name = input.name.clone();
                return Err(self.error(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!(
                            "`one_hot` takes integer class labels, but `{name}` is not declared as a set of integers"
                        ),
                        positional[0].span,
                    )
                    .with_label("not integer labels")
                    .with_help(format!("declare the labels as classes, e.g. `input {name}: {{0..9}}`")),
                ));
            }
        }
        if shape.len() > 1 {
            let text = self.program.shape_string(&shape);
            return Err(self.error(
                Diagnostic::error(
                    Code::ShapeMismatch,
                    format!("`one_hot` takes labels of shape [N] (or a scalar), found {text}"),
                    positional[0].span,
                )
                .with_label(format!("this has shape {text}")),
            ));
        }
        let classes_expr = positional[1];
        let classes = if let Some(n) = self.integer(classes_expr) {
            if n < 1 {
                return Err(self.error(Diagnostic::error(
                    Code::TypeMismatch,
                    "the class count of `one_hot` must be at least 1",
                    classes_expr.span,
                )));
            }
            Dim::Fixed(n as u64)
        } else if let ExprKind::Name(name) = &classes_expr.kind
            && let Some(Global::Dim(id)) = self.globals.get(name)
        {
            Dim::Named(*id)
        } else {
            return Err(self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "the class count of `one_hot` must be a dimension name or an integer",
                    classes_expr.span,
                )
                .with_help("e.g. `one_hot(y_true, C)` where `C` is a dimension of `y_pred`, or `one_hot(y_true, 10)`"),
            ));
        };
        let ty = Type::num(shape.into_iter().chain([classes]).collect());
        self.check_size(&ty, expr.span)?;
        self.push(
            Op::Call(
                Builtin::OneHot,
                Attrs {
                    classes: Some(classes),
                    ..Attrs::default()
                },
            ),
            vec![labels],
            ty,
            expr.span,
        )
    }
}
