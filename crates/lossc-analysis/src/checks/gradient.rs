//! Gradient hazards: a gradient that is infinite or NaN where the value is
//! finite, and one that is finite but explodes with inputs of ordinary
//! magnitude.

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::builtins::Defined;
use lossc_ir::{Builtin, NodeId, Op, Var};

use super::{At, Case, Subject, per_sample_root, when_clause, with_case, witness_of};
use crate::EXPLODING;
use crate::absint::Event;
use crate::witness::{Point, Search};

/// The forward built-in whose derivative `node` computes (same span).
fn source_builtin(subject: &Subject<'_>, node: NodeId) -> Option<Builtin> {
    let span = subject.program.node(node).span;
    subject.program.nodes[..subject.first_gradient]
        .iter()
        .find_map(|n| match n.op {
            Op::Call(b, _) if n.span == span => Some(b),
            _ => None,
        })
}

pub(super) fn gradient_hazard(
    subject: &Subject<'_>,
    search: &Search<'_>,
    event: &Event,
    when_case: &Case,
) -> Option<Diagnostic> {
    let program = &subject.program;
    let span = program.node(event.node).span;
    let source = source_builtin(subject, event.node)?;
    let text = subject.text(span);
    // A witness is a point where the whole gradient is not finite (a guarded
    // term's own value does not count where its guard is false).
    let mut roots: Vec<NodeId> = subject.gradients.iter().map(|(_, g, _)| *g).collect();
    roots.push(per_sample_root(subject));
    let gradients = roots.len() - 1;
    let found = search.find(&roots, |v| {
        v[..gradients].iter().any(|g| g.iter().any(|x| !x.is_finite())) && v[gradients].iter().all(|x| x.is_finite())
    });
    if found.is_none()
        && search
            .find(&roots, |v| {
                v[..gradients].iter().any(|g| g.iter().any(|x| !x.is_finite()))
            })
            .is_some()
    {
        // Non-finite only where the value is too: the value's finding covers it.
        return None;
    }
    let shown = found.is_some();
    // The inputs the derivative reads (none for `log(0)` of a constant base),
    // else those of the gradients and the loss at that point.
    let mut described = vec![event.node];
    described.extend(&roots);
    let at = found
        .map(|(p, _)| when_clause(search, &p, &described))
        .unwrap_or_default();
    let witness = &at.text;
    let help = match (source, source.spec().values.defined()) {
        // A function the table bounds: its slope is infinite at the ends.
        (_, Some(d)) => slope_help(source, &d),
        (Builtin::Norm, _) => {
            "`norm` of a zero vector has an undefined gradient: use `sqrt(sum(square(x), axis=...) + 1e-12)`".into()
        }
        (Builtin::Pow, _) => "a fractional power has an infinite slope at 0: add a small constant to the base".into(),
        (Builtin::Div, _) => "keep the argument away from 0 (clip it, or add a small constant)".into(),
        (
            Builtin::Neg
            | Builtin::Add
            | Builtin::Sub
            | Builtin::Mul
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
            | Builtin::Softmax
            | Builtin::LogSoftmax
            | Builtin::Take
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims,
            _,
        ) => "guard the argument away from the point where the derivative is not finite".into(),
    };
    let message = with_case(
        format!("the gradient of `{text}` can be infinite or NaN{witness}, although its value is finite"),
        when_case,
    );
    let d = if shown {
        Diagnostic::error(Code::NanGradient, message, span)
    } else {
        Diagnostic::warning(Code::NanGradient, message, span)
            .with_note("the interval analysis cannot rule this out, but no concrete input that shows it was found")
    };
    let witness_values = if shown {
        witness_of(program, at.values, when_case)
    } else {
        Vec::new()
    };
    Some(
        d.with_label("the derivative is not finite here")
            .with_help(help)
            .with_witness(witness_values),
    )
}

pub(super) fn exploding(subject: &Subject<'_>, search: &Search<'_>, var: Var, when_case: &Case) -> Option<Diagnostic> {
    let program = &subject.program;
    // Intervals over-approximate; a warning needs a point that shows it.
    let grad_root = subject.gradients.iter().find(|(v, _, _)| *v == var)?.1;
    let (point, magnitude) = search.max_per_sample(grad_root)?;
    if magnitude <= EXPLODING {
        return None;
    }
    // The gradient node that amplifies at that point: large, from operands
    // that are not (the slope of `log(p)` as p nears 0, say).
    let magnitude_of = |v: &Vec<f64>| v.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs()));
    let all: Vec<NodeId> = (0..=grad_root.index()).map(|i| NodeId(i as u32)).collect();
    let mut best: Option<(NodeId, f64)> = None;
    let mut first_large: Option<(NodeId, f64)> = None;
    let values = search.values_at(&point, &all);
    if let Some(values) = &values {
        for (index, node) in program
            .nodes
            .iter()
            .enumerate()
            .take(grad_root.index() + 1)
            .skip(subject.first_gradient)
        {
            let m = magnitude_of(&values[index]);
            if m <= EXPLODING {
                continue;
            }
            first_large.get_or_insert((NodeId(index as u32), m));
            let small_args = node
                .args
                .iter()
                .all(|arg| magnitude_of(&values[arg.index()]) <= EXPLODING);
            if small_args && best.is_none_or(|(_, b)| m > b) {
                best = Some((NodeId(index as u32), m));
            }
        }
    }
    // Else the first gradient node that is large (its operand is a large value).
    let amplifier = best;
    let best = best.or(first_large);
    let (node, _) = best.unwrap_or((subject.root, magnitude));
    let help = exploding_help(subject, var, amplifier.zip(values.as_ref()), magnitude);
    let span = program.node(node).span;
    let text = subject.text(span);
    let at = describe_or_default(search, &point, grad_root);
    let witness = format!(" (at {})", at.text);
    let witness_values = witness_of(program, at.values, when_case);
    let name = program.var_name(var);
    Some(
        Diagnostic::warning(
            Code::ExplodingGradient,
            with_case(
                format!(
                    "the gradient with respect to `{name}` can reach {} in magnitude through `{text}`{witness}",
                    lossc_ir::format_approx(magnitude)
                ),
                when_case,
            ),
            span,
        )
        .with_label(format!(
            "slope up to {} for one sample",
            lossc_ir::format_approx(magnitude)
        ))
        .with_note("judged per sample (batch size 1); a gradient this large makes optimisers take huge steps")
        .with_help(help)
        .with_witness(witness_values),
    )
}

/// The gradient node whose result is large while its operands are not, its
/// magnitude, and the values of every node at the point.
type Amplifier<'v> = ((NodeId, f64), &'v Vec<Vec<f64>>);

/// The help of an `exploding-gradient` finding. Where the amplifying
/// gradient operation divides by a small value of the loss (the slope of
/// `log(x)` is `G / x`; of `a / x`, `-G a / x^2`), it names that value, how
/// small it gets, and how far from 0 it must stay for the slope to stay
/// under the threshold (the slope scales as its reciprocal), rather than
/// suggesting an epsilon the loss may already have. Computing from logits is
/// suggested only for a probability (an input in `[0, 1]`).
fn exploding_help(subject: &Subject<'_>, var: Var, amplifier: Option<Amplifier<'_>>, magnitude: f64) -> String {
    let program = &subject.program;
    let probability = match var {
        Var::Input(i) => {
            let domain = &program.inputs[i].domain;
            domain.is_row() || domain.bounds(lossc_ir::Dtype::F64) == (0.0, 1.0)
        }
        Var::Param(_) => false,
    };
    let logits = if probability {
        ", or compute the loss from logits (`log_sigmoid`, `softplus`, `log_softmax`)"
    } else {
        ""
    };
    // The smallest value of the loss (not of its gradient) that the
    // amplifying operation reads.
    let small = amplifier.and_then(|((node, _), values)| {
        program
            .node(node)
            .args
            .iter()
            .filter(|a| a.index() < subject.first_gradient)
            .filter_map(|a| {
                let v = values[a.index()].iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
                (v > 0.0 && v.is_finite()).then_some((*a, v))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
    });
    let Some((arg, v)) = small else {
        return format!("keep the denominator or log argument further from 0{logits}");
    };
    // A leaf (an input, a const) by its name, not its declaration.
    let text =
        crate::sampling::leaf_text(program, arg).unwrap_or_else(|| subject.text(program.node(arg).span).to_string());
    let small_text = lossc_ir::format_approx(v);
    // `G / x` (the slope of `log(x)`, of `a / x` in `a`): the slope is the
    // reciprocal of `x` times a factor of ordinary size (at most 1000, as a
    // label of magnitude 100 times a constant is), so the `x` that keeps it
    // under the threshold follows. Other shapes (`a / x^2`, a factor that
    // itself grows as `x` shrinks) get no number.
    const ORDINARY: f64 = 1e3;
    let reciprocal = amplifier.is_some_and(|((node, m), values)| {
        let n = program.node(node);
        matches!(n.op, lossc_ir::Op::Call(lossc_ir::Builtin::Div, _))
            && n.args.get(1) == Some(&arg)
            && values[n.args[0].index()]
                .iter()
                .any(|g| g.abs() <= ORDINARY && (0.5 * m..=2.0 * m).contains(&(g.abs() / v)))
    });
    if reciprocal {
        format!(
            "here `{text}` is as small as {small_text}, and the slope grows as its reciprocal: keeping it at {} or more (e.g. a larger epsilon) keeps the slope under {}{logits}",
            lossc_ir::format_approx(v * magnitude / EXPLODING),
            lossc_ir::format_approx(EXPLODING),
        )
    } else {
        format!(
            "here `{text}` is as small as {small_text}, and the slope grows as it shrinks: keep it further from 0 (e.g. a larger epsilon){logits}"
        )
    }
}

fn describe_or_default(search: &Search<'_>, point: &Point, node: NodeId) -> At {
    let text = search.describe(point, node);
    At {
        text: if text.is_empty() { "any point".into() } else { text },
        values: search.witness(point, node),
    }
}

/// The help of a `nan-gradient` finding at a function the table bounds: one
/// text per domain finding, for any function that shares it.
fn slope_help(builtin: Builtin, d: &Defined) -> String {
    let name = builtin.name();
    let lo = lossc_ir::format_number(d.lo, lossc_ir::Dtype::F64);
    let hi = lossc_ir::format_number(d.hi, lossc_ir::Dtype::F64);
    match (d.code, d.hi.is_finite()) {
        (Code::SqrtDomain, false) => {
            format!("guard the argument so the slope stays finite: `{name}(x + 1e-12)` or `{name}(maximum(x, 1e-12))`")
        }
        (Code::LogDomain, false) => format!("keep the argument away from {lo} (clip it, or add a small constant)"),
        (_, true) => format!(
            "the slope is infinite at {lo} and {hi}: keep the argument strictly inside, e.g. `clip(x, {lo} + 1e-7, {hi} - 1e-7)`"
        ),
        (_, false) => format!("the slope is infinite at {lo}: keep the argument strictly above it"),
    }
}
