//! Value hazards: an operand outside its function's domain (`log`, a
//! division, `sqrt`, `asin`, `pow`) or past the point where `exp` overflows, with a
//! witness that shows it, an error when the loss itself is then not finite.

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::{Builtin, NodeId, Op, Program};

use super::{Case, Subject, per_sample_root, when_clause, with_case, witness_of};
use crate::absint::{Event, Hazard};
use crate::witness::Search;
use lossc_ir::format_number;

/// A value hazard: its code, which operand, the condition a witness of it
/// meets, how to say that condition, and the help line.
type HazardShape = (Code, usize, Box<dyn Fn(f64) -> bool>, &'static str, String);

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
        Hazard::LogDomain => {
            let k = if builtin == Builtin::Xlogy { 1 } else { 0 };
            let limit = if builtin == Builtin::Log1p { -1.0 } else { 0.0 };
            (
                Code::LogDomain,
                k,
                Box::new(move |v| v <= limit),
                if builtin == Builtin::Log1p { "-1 or less" } else { "0 or less" },
                format!(
                    "keep the argument away from {}: clip it (Keras clips probabilities to [1e-7, 1 - 1e-7]), or use a stable form (`log_sigmoid`, `log_softmax`, `softplus`, `xlogy`)",
                    if builtin == Builtin::Log1p { "-1" } else { "0" }
                ),
            )
        }
        Hazard::DivByZero => (
            Code::DivByZero,
            1,
            Box::new(|v| v == 0.0),
            "0",
            "add a small constant to the denominator (e.g. `+ 1e-7`, or a smoothing term as in dice), or clip it away from 0".into(),
        ),
        Hazard::SqrtDomain => (
            Code::SqrtDomain,
            0,
            Box::new(|v| v < 0.0),
            "a negative value",
            "take `sqrt(maximum(x, 0))`, or fix the expression so it cannot go negative".into(),
        ),
        Hazard::AsinDomain => (
            Code::AsinDomain,
            0,
            Box::new(|v: f64| v.abs() > 1.0),
            "outside [-1, 1]",
            format!(
                "keep the argument inside [-1, 1]: `{}(clip(x, -1 + 1e-7, 1 - 1e-7))` (strictly inside, its slope stays finite too)",
                builtin.name()
            ),
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
            "out of its domain (negative, with a fractional exponent; or 0, with a negative one)",
            "a negative base needs an integer exponent and 0 needs a positive one: clip the base, e.g. `maximum(x, 1e-7) ^ p`".into(),
        ),
        Hazard::ExpOverflow | Hazard::Overflow | Hazard::Indeterminate => (
            Code::ExpOverflow,
            0,
            Box::new(|v| v > 0.0),
            "a value where it overflows",
            "use a form that cannot overflow: `softplus(x)` for `log(1 + exp(x))`, `logsumexp`, `log_sigmoid`, or `abs(x) + softplus(-2 * abs(x)) - log(2)` for `log(cosh(x))`".into(),
        ),
    };
    let operand_text = subject.operand(event.node, operand);
    let operand_node = node.args[operand];
    let mut shown = true;
    let mut reaches_loss = true;
    let mut point_values = Vec::new();
    let (message, label) = if code == Code::ExpOverflow {
        let ln_max = subject.dtype.max_finite().ln();
        // What overflows, and past which value: exp(x) past ln(max), cosh
        // past ln(2 max) in magnitude, b^y past ln(max) / ln(b).
        let (what, limit) = match builtin {
            Builtin::Cosh => (format!("|{operand_text}|"), (2.0f64).ln() + ln_max),
            Builtin::Pow => {
                let base = constant_value(&subject.program, node.args[0]).filter(|b| *b > 1.0);
                let exponent = crate::operand_text(&subject.program, subject.source, event.node, 1);
                match base {
                    Some(b) => (exponent, ln_max / b.ln()),
                    None => (exponent, f64::NAN),
                }
            }
            _ => (operand_text.clone(), ln_max),
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
