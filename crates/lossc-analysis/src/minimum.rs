//! `wrong-minimum`: a loss that minimisation drives away from the right
//! prediction. Two shapes, both measured on the per-sample loss (batch of
//! one) at points whose rows hold one value each, so the witness is a
//! point a user can type:
//!
//! - **no minimum**: along a ray of `y_pred` inside its domain, the loss
//!   falls at every step (1, 100, 1e4, 1e6 away) and does not level off
//!   (the last fall is at least half the one before: linear or logarithmic
//!   descent, not `exp(-x)` approaching its floor), so minimising it sends
//!   the prediction to infinity (`mean(-y_true * y_pred)`);
//! - **a minimum away from the label**: for a probability `y_pred` in
//!   `[0, 1]` against a label in `[0, 1]`, some prediction at least 3/4 of the
//!   domain's width away from the label scores lower than every prediction
//!   within a fifth of it (a cross-entropy with its sign dropped). Comparing
//!   with the best *near* prediction, not the label itself, leaves alone a
//!   loss whose optimum is merely shifted (label smoothing).

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::{Domain, Dtype, Program, Var, format_number};

use crate::sampling::{Sample, View, losses_at, row_len};

/// Label values tried per input with an interval domain, and contexts.
const GRID: &[f64] = &[0.0, 0.25, 0.5, 0.75, 1.0];
/// Steps along a ray from the label.
const RAY: &[f64] = &[1.0, 1e2, 1e4, 1e6];
const NEAR: &[f64] = &[0.0, 0.05, -0.05, 0.1, -0.1, 0.2, -0.2];
const FAR: &[f64] = &[0.75, -0.75, 0.875, -0.875, 1.0, -1.0];

/// The sampled range of a domain: its bounds in the dtype, cut to the box.
fn range(domain: &Domain, dtype: Dtype) -> (f64, f64) {
    let (lo, hi) = domain.bounds(dtype);
    crate::sampling::sampled_range(lo, hi)
}

/// The values an input takes at the points tried: a finite set's members,
/// or a grid over its sampled range.
fn values(domain: &Domain, dtype: Dtype) -> Vec<f64> {
    match domain {
        Domain::Set(members) => members.clone(),
        _ => {
            let (lo, hi) = range(domain, dtype);
            let mut out: Vec<f64> = GRID
                .iter()
                .map(|g| crate::absint::nearest(dtype, lo + g * (hi - lo)))
                .collect();
            out.retain(|v| domain.contains(*v));
            out.dedup();
            out
        }
    }
}

/// What was found at one point: the label, and the two predictions with
/// their losses (the one that should score better first).
struct Found {
    context: Sample,
    right: (f64, f64),
    wrong: (f64, f64),
    unbounded: bool,
}

pub fn check(view: &View<'_>, out: &mut Vec<Diagnostic>) {
    let program = view.program;
    let index_of = |name: &str| program.inputs.iter().position(|i| i.name == name);
    let Some(pred) = index_of("y_pred") else { return };
    if !view.gradients.iter().any(|(v, _)| *v == Var::Input(pred)) {
        return;
    }
    // One prediction per sample: moving every element of a row together
    // says nothing of a loss over distributions (a cross-entropy over
    // classes), and rows of one value each are the witnesses a user types.
    // (An input too large to sample has no elements here: nothing is judged.)
    if row_len(program, &program.inputs[pred]) != 1
        || program
            .inputs
            .iter()
            .any(|i| i.domain.is_row() || row_len(program, i) == 0)
    {
        return;
    }
    let label = index_of("y_true");
    let domain = &program.inputs[pred].domain;
    let (lo, hi) = range(domain, view.dtype);
    let width = hi - lo;
    // The label is a target the prediction should equal: a probability
    // against a label in [0, 1]. On an unbounded prediction the label may
    // be a class (against a logit or a score) or live behind a link (`exp`
    // of a log-rate): where its minimum lies is not judged there.
    let target = label.filter(|&l| {
        let (llo, lhi) = program.inputs[l].domain.bounds(view.dtype);
        (lo, hi) == (0.0, 1.0) && domain.contains(llo) && domain.contains(lhi)
    });
    // Class values against an unbounded score: a critic (Wasserstein's
    // `mean(y_true * y_pred)`) has no minimum by design and relies on a
    // constrained model; the finding is a note there.
    let score = label.is_some_and(|l| matches!(program.inputs[l].domain, Domain::Set(_)));
    let contexts = contexts(program, view.dtype, pred, label);
    let mut found: Vec<Found> = Vec::new();
    let mut tried = 0usize;
    for context in &contexts {
        tried += 1;
        let t = label.map(|l| context[l][0]);
        let at = |p: f64| -> Sample {
            let mut m = context.clone();
            m[pred] = vec![p; m[pred].len()];
            m
        };
        let base = t
            .filter(|t| domain.contains(*t))
            .unwrap_or_else(|| crate::sampling::nearest_zero(domain, view.dtype));
        // No minimum: a ray on which the loss keeps falling.
        for sign in [1.0, -1.0] {
            let ray: Vec<f64> = std::iter::once(base)
                .chain(RAY.iter().map(|k| base + sign * k))
                .filter(|p| domain.contains(*p))
                .collect();
            if ray.len() < RAY.len() + 1 {
                continue;
            }
            let Some(losses) = losses_at(view, &ray.iter().map(|p| at(*p)).collect::<Vec<_>>()) else {
                continue;
            };
            let falls: Vec<f64> = losses.windows(2).map(|w| w[0] - w[1]).collect();
            let keeps_falling = losses.iter().all(|l| l.is_finite())
                && falls.iter().all(|f| *f > 1e-6 * (1.0 + losses[0].abs()))
                && falls[falls.len() - 1] >= 0.5 * falls[falls.len() - 2];
            if keeps_falling {
                let last = ray.len() - 1;
                found.push(Found {
                    context: context.clone(),
                    right: (ray[0], losses[0]),
                    wrong: (ray[last], losses[last]),
                    unbounded: true,
                });
                break;
            }
        }
        // A minimum far from the label.
        let Some(t) = t.filter(|_| target.is_some()) else {
            continue;
        };
        let near: Vec<f64> = NEAR
            .iter()
            .map(|d| t + d * width)
            .filter(|p| domain.contains(*p))
            .collect();
        let far: Vec<f64> = FAR
            .iter()
            .map(|d| t + d * width)
            .filter(|p| domain.contains(*p))
            .collect();
        if near.is_empty() || far.is_empty() {
            continue;
        }
        let probes: Vec<Sample> = near.iter().chain(&far).map(|p| at(*p)).collect();
        let Some(losses) = losses_at(view, &probes) else {
            continue;
        };
        let best = |from: usize, to: usize| {
            (from..to)
                .filter(|&k| losses[k].is_finite())
                .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
        };
        let (Some(n), Some(f)) = (best(0, near.len()), best(near.len(), losses.len())) else {
            continue;
        };
        let tolerance = 1e-3 * (1.0 + losses[n].abs());
        if losses[f] < losses[n] - tolerance {
            found.push(Found {
                context: context.clone(),
                right: (near[n], losses[n]),
                wrong: (far[f - near.len()], losses[f]),
                unbounded: false,
            });
        }
    }
    // A shape of the loss, not a corner of it: at a tenth of the points.
    if found.len() * 10 < tried || found.is_empty() {
        return;
    }
    let first = found.iter().find(|f| f.unbounded).unwrap_or(&found[0]);
    out.push(report(view, pred, label, first, first.unbounded && score));
}

/// The points tried: every combination of the label's values with the
/// other inputs at the middle of their ranges (a set's members in turn).
fn contexts(program: &Program, dtype: Dtype, pred: usize, label: Option<usize>) -> Vec<Sample> {
    let labels = label.map_or(vec![f64::NAN], |l| values(&program.inputs[l].domain, dtype));
    let mut out = Vec::new();
    for (k, &t) in labels.iter().enumerate() {
        let sample: Sample = program
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let v = if Some(i) == label {
                    t
                } else if i == pred {
                    0.0
                } else {
                    let vs = values(&input.domain, dtype);
                    let middle = vs.len() / 2 + k;
                    vs.get(middle % vs.len().max(1))
                        .copied()
                        .unwrap_or_else(|| crate::sampling::nearest_zero(&input.domain, dtype))
                };
                vec![v; row_len(program, input)]
            })
            .collect();
        out.push(sample);
    }
    out
}

fn report(view: &View<'_>, pred: usize, label: Option<usize>, f: &Found, critic: bool) -> Diagnostic {
    let program = view.program;
    let number = |v: f64| format_number(v, view.dtype);
    let name = &program.inputs[pred].name;
    let others: Vec<String> = program
        .inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != pred)
        .map(|(i, input)| format!("`{}` = {}", input.name, number(f.context[i][0])))
        .collect();
    let with = if others.is_empty() {
        String::new()
    } else {
        format!("with {}, ", others.join(" and "))
    };
    let (message, label_text, help) = if f.unbounded {
        (
            format!(
                "the loss has no minimum in `{name}`: {with}it falls from {} at `{name}` = {} to {} at `{name}` = {} and keeps falling",
                number(f.right.1),
                number(f.right.0),
                number(f.wrong.1),
                number(f.wrong.0)
            ),
            "minimising this sends the prediction to infinity",
            "a loss must be bounded below in the prediction: check the sign of each term, and that the prediction is compared with the label (a product `y_true * y_pred` alone only rewards growing the prediction)",
        )
    } else {
        let label_name = label.map_or("the label", |l| program.inputs[l].name.as_str());
        (
            format!(
                "the loss is lowest away from the label: {with}`{name}` = {} scores {}, lower than any prediction near `{label_name}` (best: {} at `{name}` = {})",
                number(f.wrong.0),
                number(f.wrong.1),
                number(f.right.1),
                number(f.right.0)
            ),
            "minimising this moves the prediction away from the label",
            "check the sign of the loss (a cross-entropy is `-(y * log(p) + (1 - y) * log(1 - p))`), and which argument is the label",
        )
    };
    let d = if critic {
        Diagnostic::note(Code::WrongMinimum, message, program.node(view.root).span).with_note(
            "with class labels against an unbounded score this is a critic's loss (Wasserstein): it needs a constrained model (weight clipping, a gradient penalty), or the scores grow without bound",
        )
    } else {
        Diagnostic::warning(Code::WrongMinimum, message, program.node(view.root).span)
            .with_note("measured on one sample: the prediction that should score better scores worse")
            .with_help(help)
    };
    d.with_label(label_text)
}
