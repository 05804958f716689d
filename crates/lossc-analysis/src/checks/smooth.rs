//! Points where the loss is not differentiable (`abs`, `relu`, ties of
//! `maximum`/`minimum` and of `max`/`min` reductions, `clip` bounds, and where a step such as `sign` or
//! `float(x < t)` steps) on the variable's path, and the note on a `clip`
//! whose saturated side is reachable.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::builtins::{Kinks, eval_scalar};
use lossc_ir::{Builtin, NodeId, Op, Program, Var, format_number};

use super::{Subject, analysis};
use crate::interval::{Iv, apply};

/// Kinks: `abs`, `relu`, ties of `maximum`/`minimum`, `clip` bounds and
/// steps, where the variable's path passes and the intervals say the kink is
/// reachable.
pub(super) fn non_smooth(subject: &Subject<'_>, out: &mut Vec<Diagnostic>) {
    let program = &subject.program;
    let active: Vec<bool> = {
        let mut active = vec![false; subject.first_gradient];
        for (i, node) in program.nodes[..subject.first_gradient].iter().enumerate() {
            active[i] = match node.op {
                Op::Input(k) => subject.gradients.iter().any(|(v, _, _)| *v == Var::Input(k)),
                Op::Param(k) => subject.gradients.iter().any(|(v, _, _)| *v == Var::Param(k)),
                _ => node.args.iter().any(|a| active[a.index()]),
            };
        }
        active
    };
    let used = carries_gradient(program, subject.root);
    let mut kinks: HashSet<String> = HashSet::new();
    let mut a = analysis(subject, &vec![None; program.inputs.len()], f64::INFINITY);
    a.value(subject.root);
    let value_of = |n: NodeId| {
        a.visits
            .get(&n)
            .map(|envs| envs.iter().filter_map(|e| a.get(n, *e)).fold(Iv::EMPTY, Iv::hull))
            .unwrap_or(Iv::ALL)
    };
    for (i, node) in program.nodes[..subject.first_gradient].iter().enumerate() {
        if !active[i] || !used[i] {
            continue;
        }
        let Op::Call(builtin, _) = node.op else { continue };
        let id = NodeId(i as u32);
        let iv = |k: usize| value_of(node.args[k]);
        if smoothed(program, &used, id, builtin, &value_of) {
            continue;
        }
        let table_kinks = builtin.spec().values.facts().map_or(Kinks::None, |f| f.kinks);
        let where_text = match (builtin, table_kinks) {
            // A function of the table at its kink, where its own value there
            // is reachable too (abs in a branch that only runs for
            // |e| > delta, as in Huber, never gets there). A step on the
            // variable's path (`sign`) has derivative 0, but what it
            // multiplies or adds bends or jumps where it steps (the pinball
            // loss `(q - float(err < 0)) * err`, `sign(e) * e`).
            (_, Kinks::At(c)) if iv(0).contains(c) && value_of(id).contains(apply(subject.dtype, builtin, &[c])) => {
                format!("`{} = {}`", subject.operand(id, 0), format_number(c, subject.dtype))
            }
            (_, Kinks::EveryInteger { offset }) if steps_within(iv(0), offset) => {
                let integer = if offset == 0.0 {
                    "an integer".to_string()
                } else if offset == 0.5 {
                    "an integer and a half".to_string()
                } else {
                    format!("an integer plus {}", format_number(offset, subject.dtype))
                };
                format!("`{}` is {integer}", subject.operand(id, 0))
            }
            (Builtin::Maximum | Builtin::Minimum, _) if iv(0).lo <= iv(1).hi && iv(1).lo <= iv(0).hi => {
                format!("`{} = {}`", subject.operand(id, 0), subject.operand(id, 1))
            }
            // A tie of a `max` or `min` reduction, where it bends the loss.
            (Builtin::Max | Builtin::Min, _) if crate::sampling::ties_bend(&super::subject_view(subject), id) => {
                format!(
                    "two entries of `{}` tie for the {}",
                    subject.operand(id, 0),
                    if builtin == Builtin::Max { "largest" } else { "smallest" }
                )
            }
            (Builtin::Clip, _) if iv(0).contains(iv(1).lo) || iv(0).contains(iv(2).hi) => format!(
                "`{}` = `{}` or `{}`",
                subject.operand(id, 0),
                subject.operand(id, 1),
                subject.operand(id, 2)
            ),
            (Builtin::Float, _) => match step_condition(subject, node.args[0], &value_of) {
                Some(text) => text,
                None => continue,
            },
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
            ) => continue,
        };
        if builtin == Builtin::Clip {
            clip_saturation_note(subject, id, iv(0), iv(1), iv(2), out);
        }
        let name = builtin.name();
        if !kinks.insert(where_text.clone()) {
            continue;
        }
        let step = !builtin.has_derivative();
        out.push(
            Diagnostic::note(
                Code::NonSmooth,
                format!("the loss is not differentiable where {where_text}"),
                node.span,
            )
            .with_label(if step {
                format!("`{name}` steps there")
            } else {
                format!("`{name}` has a kink there")
            })
            .with_note(if step {
                format!(
                    "`{name}` has derivative 0, so the gradient does not see the step: it differentiates each side as if the step were constant, while the loss bends or jumps there"
                )
            } else {
                format!("lossc's gradient there follows the fixed convention for `{name}` (docs/symbolic.md)")
            }),
        );
    }
}

/// Whether an interval holds a point `k + offset` for an integer `k`: where
/// `floor` and `ceil` step (offset 0) and `round` steps (offset 1/2).
fn steps_within(iv: Iv, offset: f64) -> bool {
    let (lo, hi) = (iv.lo - offset, iv.hi - offset);
    !iv.is_empty() && (hi - lo >= 1.0 || lo.ceil() <= hi)
}

/// Where the comparison `float` reads changes, if the two sides can meet:
/// "`err = 0`" for `float(err < 0)`.
fn step_condition(subject: &Subject<'_>, cond: NodeId, value_of: &dyn Fn(NodeId) -> Iv) -> Option<String> {
    let node = subject.program.node(cond);
    let Op::Call(Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge, _) = node.op else {
        return None;
    };
    let (a, b) = (value_of(node.args[0]), value_of(node.args[1]));
    (!a.is_empty() && !b.is_empty() && a.lo <= b.hi && b.lo <= a.hi)
        .then(|| format!("`{} = {}`", subject.operand(cond, 0), subject.operand(cond, 1)))
}

/// Whether a kink is smoothed away by what reads it: a kink whose value
/// there is 0 (`abs(x)`, `relu(x)`, `maximum(x, 0)`, `minimum(x, 0)`),
/// read only by `square` or a constant power above 1, is differentiable
/// (squared hinge: both one-sided slopes are 0).
fn smoothed(program: &Program, used: &[bool], kink: NodeId, builtin: Builtin, value_of: &dyn Fn(NodeId) -> Iv) -> bool {
    let node = program.node(kink);
    let zero = |n: NodeId| value_of(n).is_point() == Some(0.0);
    let kinks = builtin.spec().values.facts().map(|f| f.kinks);
    let zero_at_kink = match (builtin, kinks) {
        // A kink of the table (not a step) where the function is 0.
        (_, Some(Kinks::At(c))) => builtin.has_derivative() && eval_scalar(builtin, &[c]) == Some(0.0),
        (Builtin::Maximum | Builtin::Minimum, _) => zero(node.args[0]) || zero(node.args[1]),
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
        ) => false,
    };
    if !zero_at_kink {
        return false;
    }
    let mut readers = program
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| used.get(*i).copied().unwrap_or(false) && n.args.contains(&kink))
        .peekable();
    readers.peek().is_some()
        && readers.all(|(_, n)| match n.op {
            Op::Call(Builtin::Square, _) => true,
            Op::Call(Builtin::Pow, _) => {
                n.args[0] == kink && n.args[1] != kink && value_of(n.args[1]).is_point().is_some_and(|p| p > 1.0)
            }
            _ => false,
        })
}

/// A clip whose saturated side the value can reach kills the gradient of
/// confidently wrong predictions there: a note (the sampled check upgrades a
/// wide saturated region to a warning).
fn clip_saturation_note(subject: &Subject<'_>, clip: NodeId, x: Iv, lo: Iv, hi: Iv, out: &mut Vec<Diagnostic>) {
    if !(x.lo < lo.lo || x.hi > hi.hi) {
        return;
    }
    let node = subject.program.node(clip);
    out.push(
        Diagnostic::note(
            Code::ClipSaturation,
            format!(
                "`clip` passes no gradient where `{}` is outside [`{}`, `{}`]",
                subject.operand(clip, 0),
                subject.operand(clip, 1),
                subject.operand(clip, 2)
            ),
            node.span,
        )
        .with_label("saturated: zero gradient there")
        .with_note("a prediction beyond the clip is confidently wrong and gets no gradient; frameworks' own clipped cross-entropies share this")
        .with_help("computing the loss from logits (`log_sigmoid`, `softplus`, `log_softmax`) avoids it"),
    );
}

/// The nodes whose derivative reaches `root`: not through a comparison,
/// a step (`round`, `floor`, `sign`, `float`) or the condition of a `where`.
fn carries_gradient(program: &Program, root: NodeId) -> Vec<bool> {
    let mut carries = vec![false; program.nodes.len()];
    carries[root.index()] = true;
    for i in (0..=root.index()).rev() {
        if !carries[i] {
            continue;
        }
        let node = program.node(NodeId(i as u32));
        let Op::Call(builtin, _) = node.op else { continue };
        let args: &[NodeId] = match builtin {
            Builtin::Where => &node.args[1..],
            Builtin::BroadcastLike => &node.args[..1],
            _ if !builtin.has_derivative() => &[],
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
            | Builtin::ExpandDims => &node.args,
        };
        for a in args {
            carries[a.index()] = true;
        }
    }
    carries
}
