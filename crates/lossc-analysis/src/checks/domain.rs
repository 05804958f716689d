//! Value hazards: an operand outside its function's domain (`log`, a
//! division, `sqrt`, `asin`, `pow`) or past the point where `exp` overflows, with a
//! witness that shows it, an error when the loss itself is then not finite.

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::builtins::{Defined, End, Values};
use lossc_ir::{Builtin, NodeId, Op, Program};

use super::{Case, Subject, per_sample_root, when_clause, with_case, witness_of};
use crate::absint::{Event, Hazard};
use crate::witness::Search;
use lossc_ir::format_number;

/// A value hazard: its code, which operand, the condition a witness of it
/// meets, how to say that condition, and the help line.
type HazardShape = (Code, usize, Box<dyn Fn(f64) -> bool>, String, String);

pub(super) fn forward_hazard(
    subject: &Subject<'_>,
    search: &Search<'_>,
    event: &Event,
    loss_non_finite: bool,
    when_case: &Case,
) -> Diagnostic {
    let program = &subject.program;
    let node = program.node(event.node);
    let Op::Call(builtin, _) = node.op else {
        unreachable!("events are at calls")
    };
    let span = node.span;
    let (code, operand, holds, what, help): HazardShape = match event.hazard {
        Hazard::Domain(code) => {
            // Where the function is defined, from the built-in table
            // (`xlogy`'s second argument is a logarithm's).
            let (k, source) = if builtin == Builtin::Xlogy { (1, Builtin::Log) } else { (0, builtin) };
            let d = source.spec().values.defined().expect("a domain hazard is at a function the table bounds");
            (
                code,
                k,
                Box::new(move |v: f64| !d.value_finite_at(v)),
                outside_text(&d),
                domain_help(code, builtin, &d),
            )
        }
        Hazard::DivByZero => (
            Code::DivByZero,
            1,
            Box::new(|v| v == 0.0),
            "0".into(),
            "add a small constant to the denominator (e.g. `+ 1e-7`, or a smoothing term as in dice), or clip it away from 0".into(),
        ),
        Hazard::PowDomain => (
            Code::PowDomain,
            0,
            {
                // 0 is out of the domain only for a negative exponent.
                let exponent = constant_value(&subject.program, node.args[1]);
                if exponent.is_some_and(|c| c < 0.0) {
                    Box::new(|v: f64| v <= 0.0)
                } else {
                    Box::new(|v: f64| v < 0.0)
                }
            },
            "out of its domain (negative, with a fractional exponent; or 0, with a negative one)".into(),
            "a negative base needs an integer exponent and 0 needs a positive one: clip the base, e.g. `maximum(x, 1e-7) ^ p`".into(),
        ),
        Hazard::ExpOverflow | Hazard::Overflow | Hazard::Indeterminate => (
            Code::ExpOverflow,
            0,
            Box::new(|v| v > 0.0),
            "a value where it overflows".into(),
            "use a form that cannot overflow: `softplus(x)` for `log(1 + exp(x))`, `logsumexp`, `log_sigmoid`, or `abs(x) + softplus(-2 * abs(x)) - log(2)` for `log(cosh(x))`".into(),
        ),
    };
    let operand_text = subject.operand(event.node, operand);
    let operand_node = node.args[operand];
    let mut shown = true;
    let mut reaches_loss = true;
    let mut point_values = Vec::new();
    let (message, label) = if code == Code::ExpOverflow {
        // What overflows, and past which value: a function of the table
        // where its scalar definition does (of `|x|` for an even one:
        // `cosh`), b^y past ln(max) / ln(b).
        let (what, limit) = match (builtin, builtin.spec().values) {
            (Builtin::Pow, _) => {
                let ln_max = subject.dtype.max_finite().ln();
                let base = constant_value(&subject.program, node.args[0]).filter(|b| *b > 1.0);
                let exponent = crate::operand_text(&subject.program, subject.source, event.node, 1);
                match base {
                    Some(b) => (exponent, ln_max / b.ln()),
                    None => (exponent, f64::NAN),
                }
            }
            (
                Builtin::Neg
                | Builtin::Add
                | Builtin::Sub
                | Builtin::Mul
                | Builtin::Div
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
                values,
            ) => {
                let limit = crate::interval::overflow_threshold(subject.dtype, builtin).unwrap_or(f64::NAN);
                match values {
                    Values::Even(_) => (format!("|{operand_text}|"), limit),
                    _ => (operand_text.clone(), limit),
                }
            }
        };
        let found = search.find(&[event.node], |v| v[0].iter().any(|x| x.is_infinite()));
        shown = found.is_some();
        let sample = per_sample_root(subject);
        let at = found
            .map(|(p, _)| when_clause(search, &p, &[event.node, sample]))
            .unwrap_or_default();
        let witness = &at.text;
        point_values = at.values.clone();
        let name = builtin.spec().symbol.unwrap_or(builtin.name());
        let past = if limit.is_nan() {
            "grows large".to_string()
        } else {
            format!("exceeds {}", lossc_ir::format_approx(limit))
        };
        (
            format!(
                "`{}` overflows {} once `{what}` {past}{witness}",
                subject.text(span),
                subject.dtype
            ),
            format!("`{name}` overflows to inf"),
        )
    } else {
        // Best: a point where the hazard makes the loss itself non-finite.
        let sample = per_sample_root(subject);
        let reaching = search.find(&[operand_node, sample], |v| {
            v[0].iter().any(|x| holds(*x)) && v[1].iter().any(|x| !x.is_finite())
        });
        reaches_loss = reaching.is_some();
        let found = reaching.or_else(|| search.find(&[operand_node], |v| v[0].iter().any(|x| holds(*x))));
        match found {
            Some((point, values)) => {
                let v = values[0].iter().copied().find(|x| holds(*x)).unwrap_or(0.0);
                let at = when_clause(search, &point, &[operand_node, sample]);
                point_values = at.values;
                (
                    format!(
                        "`{operand_text}` reaches {}{}",
                        format_number(v, subject.dtype),
                        at.text
                    ),
                    label_for(code, v),
                )
            }
            None => {
                shown = false;
                (
                    format!("`{operand_text}` can be {what} over the declared domains"),
                    label_for(code, if event.operand.lo < 0.0 { -1.0 } else { 0.0 }),
                )
            }
        }
    };
    let message = with_case(message, when_case);
    let witness_values = if shown {
        witness_of(program, point_values, when_case)
    } else {
        Vec::new()
    };
    let mut d = if loss_non_finite && shown && reaches_loss {
        Diagnostic::error(code, message, span)
    } else if !shown {
        Diagnostic::warning(code, message, span)
            .with_note("the interval analysis cannot rule this out, but no concrete input that shows it was found")
    } else {
        Diagnostic::warning(code, message, span).with_note(
            "the non-finite value does not reach the loss here (it is absorbed downstream), but its gradient may not be",
        )
    };
    d = d.with_label(label).with_help(help).with_witness(witness_values);
    if let Some(guard) = vanished_guard(subject, operand_node) {
        d = d.with_note(guard);
    }
    d
}

/// How to say that an argument leaves where a function is defined: "0 or
/// less" (a pole at 0), "a negative value", "outside [-1, 1]".
fn outside_text(d: &Defined) -> String {
    let lo = format_number(d.lo, lossc_ir::Dtype::F64);
    match (d.at_lo, d.hi.is_finite()) {
        (End::Pole, false) => format!("{lo} or less"),
        (End::Finite, false) if d.lo == 0.0 => "a negative value".into(),
        (End::Finite, false) => format!("less than {lo}"),
        (_, true) => format!("outside [{lo}, {}]", format_number(d.hi, lossc_ir::Dtype::F64)),
    }
}

/// The help of a domain finding: one text per finding (the codes the
/// table's `values` column names), for any function that shares it.
fn domain_help(code: Code, builtin: Builtin, d: &Defined) -> String {
    let name = builtin.name();
    let lo = format_number(d.lo, lossc_ir::Dtype::F64);
    let hi = format_number(d.hi, lossc_ir::Dtype::F64);
    match code {
        Code::LogDomain => format!(
            "keep the argument away from {lo}: clip it (Keras clips probabilities to [1e-7, 1 - 1e-7]), or use a stable form (`log_sigmoid`, `log_softmax`, `softplus`, `xlogy`)"
        ),
        Code::SqrtDomain => {
            let below = if d.lo == 0.0 {
                "negative".to_string()
            } else {
                format!("below {lo}")
            };
            format!("take `{name}(maximum(x, {lo}))`, or fix the expression so it cannot go {below}")
        }
        Code::AsinDomain => format!(
            "keep the argument inside [{lo}, {hi}]: `{name}(clip(x, {lo} + 1e-7, {hi} - 1e-7))` (strictly inside, its slope stays finite too)"
        ),
        _ => format!("keep the argument where `{name}` is defined: clip it, or fix the expression"),
    }
}

/// Why a guard added to the operand did not keep it from the hazard: the
/// operand is `x + c` (or `x - c`) with a constant `c` that is not 0 but
/// rounds to 0 in the dtype (`1e-50` in f32), so the sum is `x` itself.
fn vanished_guard(subject: &Subject<'_>, operand: NodeId) -> Option<String> {
    let program = &subject.program;
    let node = program.node(operand);
    let Op::Call(Builtin::Add | Builtin::Sub, _) = node.op else {
        return None;
    };
    node.args.iter().find_map(|&arg| {
        let c = constant_value(program, arg)?;
        (c != 0.0 && subject.dtype.round(c) == 0.0).then(|| {
            format!(
                "the guard `{}` is 0 in {}, so it adds nothing: the smallest positive {} is {}",
                subject.text(program.node(arg).span),
                subject.dtype,
                subject.dtype,
                format_number(subject.dtype.min_positive_subnormal(), subject.dtype)
            )
        })
    })
}

/// The value of a literal, scalar param or const.
pub(super) fn constant_value(program: &Program, node: NodeId) -> Option<f64> {
    let scalar = |v: &lossc_ir::Value| match v {
        lossc_ir::Value::Scalar(x) => Some(*x),
        lossc_ir::Value::Vector(_) => None,
    };
    match program.node(node).op {
        Op::Literal(v) => Some(v),
        Op::Param(i) => scalar(&program.params[i].value),
        Op::Const(i) => scalar(&program.consts[i].value),
        _ => None,
    }
}

fn label_for(code: Code, v: f64) -> String {
    match code {
        Code::LogDomain if v < 0.0 => "log of a negative number is NaN".into(),
        Code::LogDomain => "log(0) = -inf".into(),
        Code::DivByZero => "division by zero gives inf or NaN".into(),
        Code::SqrtDomain => "sqrt of a negative number is NaN".into(),
        Code::AsinDomain => "asin or acos outside [-1, 1] is NaN".into(),
        Code::PowDomain => "NaN or inf here".into(),
        _ => "non-finite here".into(),
    }
}
