//! The verdict on a run, with reasons linked to the static diagnostics:
//! `learning`, `stalled`, `diverging` or `diverged`.
//!
//! The rules, in order (the loss and accuracy are those of the whole data
//! set before and after training):
//! 1. **diverged** when the loss, a sample's gradient or the weights turned
//!    NaN or infinite (training stops there);
//! 2. **diverging** when the loss fell below 0 and keeps falling: under the
//!    weights [`FURTHER`] times as far from the initial ones along the way
//!    training moved them ([`Run::further`]) it has fallen by at least
//!    [`FURTHER_FALL`] times what training made it fall, so it is not
//!    levelling off at a bound (a loss that rewards pushing the prediction
//!    to an extreme: a cross-entropy without its minus sign, `-y_true *
//!    y_pred`; a cosine similarity, bounded by -1, is not diverging);
//! 3. **stalled** when a class the loss does not correct covers at least
//!    [`STALLED_DEAD_MISFIT`] of the samples and none of its samples got a
//!    gradient in any step: given a wrong prediction (80% of the way to
//!    another label) its samples still get a zero gradient, so the model is
//!    never taught that class (`-log(y_pred + eps) * y_true` and `y_true = 0`);
//! 4. **stalled** when, at the end, at least [`STALLED_DEAD_MISFIT`] of the
//!    samples are wrong (see [`Snapshot::misfit`]) *and* get a zero gradient:
//!    nothing in training will correct them, whatever the loss curve shows
//!    (a loss that is 0 where its gradient is dead looks perfect);
//! 5. **stalled** when the loss rose or stayed where it was (as printed);
//! 6. **stalled** when the loss fell by less than [`MIN_PROGRESS`] of its
//!    initial value and, for a classification, accuracy did not rise by more
//!    than [`MAX_ACCURACY_DROP`];
//! 7. **stalled** when the loss fell but accuracy fell by more than
//!    [`MAX_ACCURACY_DROP`]: the loss rewards the wrong thing;
//! 8. **learning** otherwise (the loss fell), with caveats: samples with a
//!    zero gradient (fit already), a class the loss would not correct if the
//!    model got it wrong, exploding gradients.
//!
//! A zero gradient on samples the model already gets right (a hinge loss
//! beyond its margin) is not a stall. The words of a summary follow its
//! numbers: a loss is said to have fallen only when the later number is the
//! smaller as printed ([`change`]).

use lossc::ir::format_approx;
use lossc::{Code, Diagnostic, Dtype, LineIndex, Severity};

use crate::task::{ModelKind, Task};
use crate::train::{FURTHER, NonFinite, Run, Snapshot, Untaught};

/// The fraction of samples wrong with a zero gradient from which a run is
/// stalled.
pub const STALLED_DEAD_MISFIT: f64 = 0.1;

/// The relative fall of the loss below which a run is stalled.
pub const MIN_PROGRESS: f64 = 0.01;

/// How much a classification's accuracy may fall (as a fraction) while the
/// loss falls before the run counts as stalled: more than noise.
pub const MAX_ACCURACY_DROP: f64 = 0.02;

/// How many times what training made a negative loss fall it must fall
/// further, [`FURTHER`] times as far out, to be diverging.
pub const FURTHER_FALL: f64 = 10.0;

/// A static diagnostic, located: what a verdict's reasons point to.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl Finding {
    /// The findings of `diagnostics`, located in `source` (the text they were
    /// found in), in the same order.
    pub fn locate(diagnostics: &[Diagnostic], source: &str) -> Vec<Finding> {
        let index = LineIndex::new(source);
        diagnostics
            .iter()
            .map(|diagnostic| {
                let (line, column) = index.line_col(source, diagnostic.span.start);
                Finding {
                    code: diagnostic.code,
                    severity: diagnostic.severity,
                    line,
                    column,
                    message: diagnostic.message.clone(),
                }
            })
            .collect()
    }

    /// `dead-gradient at line 3`.
    pub fn reference(&self) -> String {
        format!("{} at line {}", self.code, self.line)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Learning,
    Stalled,
    /// The loss fell below 0 and keeps falling: unbounded below.
    Diverging,
    /// NaN or infinite.
    Diverged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Learning => "learning",
            Status::Stalled => "stalled",
            Status::Diverging => "diverging",
            Status::Diverged => "diverged",
        }
    }
}

/// One reason for a verdict, and the diagnostic that predicted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub text: String,
    pub see: Option<Finding>,
}

/// The verdict: a status, a one-line summary such as `stalled: gradient zero
/// on 51% of samples, see dead-gradient at line 3`, and the reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub summary: String,
    /// The epoch the run diverged at.
    pub epoch: Option<usize>,
    pub reasons: Vec<Reason>,
}

/// Diagnostics that predict a NaN or infinite loss value.
const VALUE_HAZARDS: &[Code] = &[
    Code::LogDomain,
    Code::DivByZero,
    Code::SqrtDomain,
    Code::AsinDomain,
    Code::PowDomain,
    Code::ExpOverflow,
    Code::Overflow,
    Code::NanGradient,
    Code::ExplodingGradient,
];

/// Diagnostics that predict a NaN or infinite gradient under a finite loss.
const GRADIENT_HAZARDS: &[Code] = &[
    Code::NanGradient,
    Code::ExplodingGradient,
    Code::DivByZero,
    Code::LogDomain,
    Code::SqrtDomain,
    Code::AsinDomain,
    Code::PowDomain,
    Code::ExpOverflow,
    Code::Overflow,
];

/// Diagnostics that predict weights growing without bound.
const STEP_HAZARDS: &[Code] = &[Code::ExplodingGradient, Code::Overflow, Code::ExpOverflow];

/// Diagnostics that predict a zero gradient.
const DEAD_HAZARDS: &[Code] = &[
    Code::DeadGradient,
    Code::ZeroGradient,
    Code::ClipSaturation,
    Code::NoGradientPath,
];

/// Judges `run` of `task`, linking to `findings` (the static diagnostics of
/// the loss in the same dtype).
pub fn judge(run: &Run, task: &Task, findings: &[Finding], dtype: Dtype) -> Verdict {
    if let Some(divergence) = run.divergence {
        return diverged(task, findings, dtype, divergence);
    }
    if let Some(verdict) = diverging(run, findings) {
        return verdict;
    }
    let (before, after) = (&run.before, &run.after);
    let mut reasons = Vec::new();
    let dead_reason = dead_reason(after, task, findings, dtype);
    let see_dead = first(findings, DEAD_HAZARDS);
    let see_text = |see: &Option<Finding>| {
        see.as_ref()
            .map_or(String::new(), |f| format!(", see {}", f.reference()))
    };
    let never_taught: Vec<&Untaught> = run.blind.iter().filter(|class| !class.taught).collect();
    let untaught: f64 = never_taught.iter().map(|class| class.fraction).sum();
    let dead_misfit = after.dead_misfit >= STALLED_DEAD_MISFIT;
    if untaught >= STALLED_DEAD_MISFIT || dead_misfit {
        let summary = if untaught >= STALLED_DEAD_MISFIT {
            let labels: Vec<String> = never_taught.iter().map(|class| class_text(task, class.label)).collect();
            format!(
                "stalled: gradient zero on every sample with {} ({} of samples){}",
                labels.join(" or "),
                percent(untaught),
                see_text(&see_dead)
            )
        } else {
            format!(
                "stalled: gradient zero on {} of samples{}",
                percent(after.health.zero),
                see_text(&see_dead)
            )
        };
        for class in &never_taught {
            reasons.push(Reason {
                text: format!(
                    "the loss passed no gradient to any sample with {} ({} of samples) in any step: the model is never taught that class",
                    class_text(task, class.label),
                    percent(class.fraction)
                ),
                see: see_dead.clone(),
            });
        }
        if after.dead_misfit > 0.0 {
            reasons.push(Reason {
                text: format!(
                    "{} of the samples are {} and get no gradient: nothing in training corrects them{}",
                    percent(after.dead_misfit),
                    if task.is_classification() {
                        "misclassified"
                    } else {
                        "off target"
                    },
                    if fell(before.loss, after.loss) {
                        format!(" (even though the loss {})", change(before.loss, after.loss))
                    } else {
                        String::new()
                    }
                ),
                see: None,
            });
        }
        reasons.extend(dead_reason);
        reasons.extend(accuracy_reason(before, after));
        return Verdict {
            status: Status::Stalled,
            summary,
            epoch: None,
            reasons,
        };
    }
    let progress = (before.loss - after.loss) / before.loss.abs().max(f64::MIN_POSITIVE);
    // A classifier whose accuracy rose has learned even if its loss fell by
    // little (a step loss falls slowly as samples leave its flat side); a
    // loss that rose or stayed has not, whatever the accuracy did.
    let accuracy_rose = matches!((before.accuracy, after.accuracy), (Some(a), Some(b)) if b > a + MAX_ACCURACY_DROP);
    let learned = fell(before.loss, after.loss) && (progress >= MIN_PROGRESS || accuracy_rose);
    if !learned {
        let see = dead_reason.as_ref().and_then(|reason| reason.see.clone());
        let what = if fell(before.loss, after.loss) {
            format!(
                "the loss fell by less than {} ({})",
                percent(MIN_PROGRESS),
                change(before.loss, after.loss)
            )
        } else {
            format!("the loss {}", change(before.loss, after.loss))
        };
        let summary = format!(
            "stalled: {what} in {} epochs{}",
            run.history.len(),
            see.as_ref()
                .map_or(String::new(), |f| format!(", see {}", f.reference()))
        );
        reasons.extend(dead_reason);
        reasons.extend(accuracy_reason(before, after));
        return Verdict {
            status: Status::Stalled,
            summary,
            epoch: None,
            reasons,
        };
    }
    if let (Some(start), Some(end)) = (before.accuracy, after.accuracy)
        && end < start - MAX_ACCURACY_DROP
    {
        let see = dead_reason.as_ref().and_then(|reason| reason.see.clone());
        reasons.push(Reason {
            text: format!(
                "the loss {} while accuracy fell from {} to {}: a lower loss is not a better model",
                change(before.loss, after.loss),
                percent(start),
                percent(end)
            ),
            see: None,
        });
        reasons.extend(dead_reason);
        return Verdict {
            status: Status::Stalled,
            summary: format!(
                "stalled: accuracy fell from {} to {} as the loss fell{}",
                percent(start),
                percent(end),
                see_text(&see)
            ),
            epoch: None,
            reasons,
        };
    }
    let summary = format!(
        "learning: the loss {}{}",
        change(before.loss, after.loss),
        match (before.accuracy, after.accuracy) {
            (Some(a), Some(b)) => format!(", accuracy {} to {}", percent(a), percent(b)),
            _ => String::new(),
        }
    );
    if after.health.zero > 0.0 {
        let mut reason = dead_reason.unwrap_or(Reason {
            text: String::new(),
            see: None,
        });
        let text = if reason.text.is_empty() {
            format!("gradient zero on {} of samples", percent(after.health.zero))
        } else {
            reason.text
        };
        reason.text = if after.dead_misfit == 0.0 {
            format!("{text}; the model gets all of them right already")
        } else {
            format!(
                "{text}; {} of the samples are wrong among them",
                percent(after.dead_misfit)
            )
        };
        reasons.push(reason);
    }
    for class in &run.blind {
        reasons.push(Reason {
            text: format!(
                "but a sample with {} that the model gets wrong gets no gradient: it is never corrected; \
                 this run learned because few were wrong (other initial weights may stall)",
                class_text(task, class.label)
            ),
            see: first(findings, DEAD_HAZARDS),
        });
    }
    let exploding = run.history.iter().map(|e| e.health.exploding).fold(0.0, f64::max);
    if exploding > 0.0 {
        reasons.push(Reason {
            text: format!(
                "the gradient exploded (> 1e6) on up to {} of samples in an epoch",
                percent(exploding)
            ),
            see: first(findings, &[Code::ExplodingGradient]),
        });
    }
    Verdict {
        status: Status::Learning,
        summary,
        epoch: None,
        reasons,
    }
}

/// `fell from A to B`, `rose from A to B` or `stayed at A`, as the numbers
/// read once printed: two values that print alike stayed.
pub fn change(before: f64, after: f64) -> String {
    let (from, to) = (format_approx(before), format_approx(after));
    if from == to {
        format!("stayed at {from}")
    } else if after < before {
        format!("fell from {from} to {to}")
    } else {
        format!("rose from {from} to {to}")
    }
}

/// Whether the loss fell from `before` to `after` as [`change`] says it.
fn fell(before: f64, after: f64) -> bool {
    after < before && format_approx(before) != format_approx(after)
}

/// The diverging verdict, when the loss went below 0 and keeps falling
/// [`FURTHER`] times as far out (see [`FURTHER_FALL`]), linked to the
/// `wrong-minimum` finding that predicts it, if `check` made one.
fn diverging(run: &Run, findings: &[Finding]) -> Option<Verdict> {
    let (start, last) = (run.before.loss, run.after.loss);
    let further = run.further?;
    let fall = start - last;
    // NaN (a loss undefined that far out) is no evidence either way.
    if !(last < 0.0 && fall > 0.0 && further <= last - FURTHER_FALL * fall) {
        return None;
    }
    let below = if start > 0.0 {
        format!("fell below 0 to {}", format_approx(last))
    } else {
        format!("fell from {} to {}", format_approx(start), format_approx(last))
    };
    let see = first(findings, &[Code::WrongMinimum]);
    let see_text = see
        .as_ref()
        .map_or(String::new(), |f| format!(", see {}", f.reference()));
    Some(Verdict {
        status: Status::Diverging,
        summary: format!(
            "diverging: the loss {below} and keeps falling, as if unbounded below in the prediction{see_text}"
        ),
        epoch: None,
        reasons: vec![
            Reason {
                text: format!(
                    "with the weights {} times as far along the way training moved them, the loss is {}: \
                     it keeps falling rather than levelling off at a bound",
                    FURTHER,
                    format_approx(further)
                ),
                see: None,
            },
            Reason {
                text: "a loss that falls without bound rewards pushing the prediction to an extreme rather than \
                       towards the target (a dropped minus sign?)"
                    .to_string(),
                see,
            },
        ],
    })
}

/// The verdict over several seeds: the status every seed must reach for
/// the whole to count (learning only if every seed learned; otherwise the
/// most common failure, diverged before diverging before stalled on a tie),
/// and a line that begins with it, such as `stalled on 5 of 5 seeds` or
/// `stalled on 2 of 5 seeds; learning on 3 (seeds 0, 2, 3)`.
pub fn overall(statuses: &[(u64, Status)]) -> (Status, String) {
    let order = [Status::Learning, Status::Stalled, Status::Diverging, Status::Diverged];
    let count = |status: Status| statuses.iter().filter(|(_, s)| *s == status).count();
    let total = statuses.len();
    let seeds = |n: usize| if n == 1 { "seed" } else { "seeds" };
    let status = if count(Status::Learning) == total {
        Status::Learning
    } else {
        order[1..]
            .iter()
            .copied()
            .max_by_key(|s| count(*s))
            .unwrap_or(Status::Stalled)
    };
    let mut parts = Vec::new();
    let others = order.iter().copied().filter(|s| *s != status && count(*s) > 0);
    for s in std::iter::once(status).chain(others) {
        let which: Vec<String> = statuses
            .iter()
            .filter(|(_, t)| *t == s)
            .map(|(seed, _)| seed.to_string())
            .collect();
        parts.push(if parts.is_empty() {
            format!("{} on {} of {total} {}", s.as_str(), which.len(), seeds(total))
        } else {
            format!(
                "{} on {} ({} {})",
                s.as_str(),
                which.len(),
                seeds(which.len()),
                which.join(", ")
            )
        });
    }
    (status, parts.join("; "))
}

/// Why samples get a zero gradient: the loss passes none (linked to the
/// diagnostic that predicts it), or the activation saturated.
fn dead_reason(after: &Snapshot, task: &Task, findings: &[Finding], dtype: Dtype) -> Option<Reason> {
    let health = &after.health;
    if health.zero == 0.0 {
        return None;
    }
    let saturated = health.zero - health.zero_in_loss;
    let activation = task.model.activation();
    let cause = match (health.zero_in_loss > 0.0, saturated > 0.0) {
        (true, false) => format!("the loss passes none to `{}` there", task.prediction),
        (false, _) => format!("the {activation} saturated there (its derivative is 0 in {dtype})"),
        (true, true) => format!(
            "the loss passes none to `{}` on {}, the {activation} saturated on {} (its derivative is 0 in {dtype})",
            task.prediction,
            percent(health.zero_in_loss),
            percent(saturated)
        ),
    };
    let see = if health.zero_in_loss > 0.0 {
        first(findings, DEAD_HAZARDS)
    } else {
        None
    };
    let mut text = format!("gradient zero on {} of samples: {cause}", percent(health.zero));
    if health.zero_in_loss > 0.0 && see.is_none() {
        text.push_str(" (check predicted no dead gradient: a bug worth reporting)");
    }
    Some(Reason { text, see })
}

/// `` `y_true` = 0 `` or `class 2 of `y_true``.
fn class_text(task: &Task, label: f64) -> String {
    match task.layout {
        crate::task::Layout::Matrix => format!("class {label} of `{}`", task.target),
        crate::task::Layout::Vector | crate::task::Layout::Labels => format!("`{}` = {label}", task.target),
    }
}

fn accuracy_reason(before: &Snapshot, after: &Snapshot) -> Option<Reason> {
    match (before.accuracy, after.accuracy) {
        (Some(a), Some(b)) => Some(Reason {
            text: format!("accuracy {} before training, {} after", percent(a), percent(b)),
            see: None,
        }),
        _ => None,
    }
}

fn diverged(task: &Task, findings: &[Finding], dtype: Dtype, divergence: crate::train::Divergence) -> Verdict {
    let value = format_approx(divergence.what.value());
    let (what, hazards) = match divergence.what {
        NonFinite::Loss(_) => (format!("the loss became {value}"), VALUE_HAZARDS),
        NonFinite::Gradient(_) => (
            format!("a sample's gradient became {value} while the loss was finite"),
            GRADIENT_HAZARDS,
        ),
        NonFinite::Weights(_) => (
            format!("the weights became {value}: the optimizer's steps overflowed {dtype}"),
            STEP_HAZARDS,
        ),
    };
    let mut reasons = vec![Reason {
        text: format!(
            "{what} at epoch {} (step {}); training stopped there",
            divergence.epoch, divergence.step
        ),
        see: None,
    }];
    let outside = divergence.outside_domain.map(|prediction| Reason {
        text: format!(
            "the model predicted {} for `{}`, outside its declared domain {}, where check does not look{}",
            format_approx(prediction),
            task.prediction,
            task.prediction_domain,
            match task.model {
                ModelKind::Linear => ": a linear layer's outputs are unbounded; declare `real` (and check again) or use --model logistic",
                ModelKind::Logistic | ModelKind::Softmax => {
                    ": in floats a sigmoid or softmax reaches 0 and 1 exactly; declare [0, 1] and check again"
                }
            }
        ),
        see: None,
    });
    // check reasons within the declared domains: outside them its findings
    // explain nothing.
    let see = if outside.is_some() {
        None
    } else {
        first(findings, hazards)
    };
    let summary = match (&see, &outside) {
        (Some(finding), _) => format!(
            "diverged: {value} at epoch {}, from {}",
            divergence.epoch,
            finding.reference()
        ),
        (None, Some(_)) => format!(
            "diverged: {value} at epoch {}, from a prediction outside `{}`'s declared domain",
            divergence.epoch, task.prediction
        ),
        (None, None) => format!(
            "diverged: {value} at epoch {}, which check did not predict",
            divergence.epoch
        ),
    };
    if let Some(finding) = &see {
        reasons.push(Reason {
            text: finding.message.clone(),
            see: Some(finding.clone()),
        });
    }
    reasons.extend(outside);
    if matches!(divergence.what, NonFinite::Weights(_)) {
        reasons.push(Reason {
            text: "a smaller learning rate (--lr) takes smaller steps".to_string(),
            see: None,
        });
    }
    Verdict {
        status: Status::Diverged,
        summary,
        epoch: Some(divergence.epoch),
        reasons,
    }
}

/// The first finding (in source order) with the first code of `codes` that
/// any warning or error has; notes only if no warning or error matches.
fn first(findings: &[Finding], codes: &[Code]) -> Option<Finding> {
    let pick = |serious: bool| {
        codes.iter().find_map(|code| {
            findings
                .iter()
                .find(|f| f.code == *code && (f.severity >= Severity::Warning) == serious)
                .cloned()
        })
    };
    pick(true).or_else(|| pick(false))
}

/// `51%`, `0.5%`, `100%`.
pub fn percent(fraction: f64) -> String {
    let value = fraction * 100.0;
    if value == 0.0 || value >= 10.0 || (value - value.round()).abs() < 0.05 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_well() {
        assert_eq!(percent(0.51), "51%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn changes_say_what_the_numbers_say() {
        assert_eq!(change(0.1487, 0.1727), "rose from 0.1487 to 0.1727");
        assert_eq!(change(0.5, 0.25), "fell from 0.5 to 0.25");
        assert_eq!(change(0.0, 0.0), "stayed at 0");
        assert!(!fell(0.0, -0.0));
    }

    /// A run of `task` whose whole-data loss went from `before` to `after`
    /// and accuracy from `accuracy.0` to `accuracy.1`, `dead_misfit` of the
    /// samples wrong with a zero gradient at the end.
    fn run(before: f64, after: f64, accuracy: (f64, f64), dead_misfit: f64) -> Run {
        let snapshot = |loss: f64, accuracy: f64, dead: f64| Snapshot {
            loss,
            health: crate::Health {
                zero: dead,
                zero_in_loss: dead,
                ..crate::Health::default()
            },
            misfit: 1.0 - accuracy,
            dead_misfit: dead,
            accuracy: Some(accuracy),
        };
        let weights = crate::Dense {
            features: 1,
            outputs: 1,
            kernel: vec![0.5],
            bias: vec![0.0],
        };
        let epoch = |epoch| crate::Epoch {
            epoch,
            loss: after,
            health: crate::Health::default(),
            weight_norm: 0.5,
        };
        Run {
            initial_weights: weights.clone(),
            weights,
            before: snapshot(before, accuracy.0, 0.0),
            history: (1..=100).map(epoch).collect(),
            after: snapshot(after, accuracy.1, dead_misfit),
            divergence: None,
            steps: 400,
            blind: Vec::new(),
            further: None,
        }
    }

    #[test]
    fn a_loss_that_rose_or_stayed_is_never_learning_nor_said_to_fall() {
        let program =
            lossc::compile("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))").unwrap();
        let task = Task::new(&program, None, None, None).unwrap();
        // A rise with accuracy up: once "learning: the loss went from".
        let rose = judge(&run(0.1608, 0.1805, (0.5, 0.6), 0.0), &task, &[], Dtype::F32);
        assert_eq!(rose.status, Status::Stalled);
        assert_eq!(
            rose.summary,
            "stalled: the loss rose from 0.1608 to 0.1805 in 100 epochs"
        );
        // A rise with accuracy flat: once "the loss did not fall".
        let flat = judge(&run(0.1487, 0.1727, (0.5, 0.5), 0.0), &task, &[], Dtype::F32);
        assert_eq!(
            flat.summary,
            "stalled: the loss rose from 0.1487 to 0.1727 in 100 epochs"
        );
        // Zero to zero, wrong samples dead: once "the loss fell from 0 to 0".
        let zero = judge(&run(0.0, 0.0, (0.5, 0.5), 0.5), &task, &[], Dtype::F32);
        assert_eq!(zero.status, Status::Stalled);
        for text in std::iter::once(&zero.summary).chain(zero.reasons.iter().map(|r| &r.text)) {
            assert!(!text.contains("fell"), "{text}");
        }
        // A fall under 1% is not learning, and says so.
        let little = judge(&run(0.5, 0.499, (0.5, 0.5), 0.0), &task, &[], Dtype::F32);
        assert_eq!(
            little.summary,
            "stalled: the loss fell by less than 1% (fell from 0.5 to 0.499) in 100 epochs"
        );
        let learned = judge(&run(0.5, 0.4, (0.5, 0.7), 0.0), &task, &[], Dtype::F32);
        assert_eq!(
            learned.summary,
            "learning: the loss fell from 0.5 to 0.4, accuracy 50% to 70%"
        );
    }

    #[test]
    fn a_negative_loss_that_keeps_falling_far_out_is_diverging() {
        let program =
            lossc::compile("input y_true: {0, 1}\ninput y_pred: real\nloss = mean(-y_true * y_pred)").unwrap();
        let task = Task::new(&program, None, None, None).unwrap();
        let unbounded = Run {
            further: Some(-23.0),
            ..run(0.01, -0.23, (0.5, 0.5), 0.0)
        };
        let verdict = judge(&unbounded, &task, &[], Dtype::F32);
        assert_eq!(verdict.status, Status::Diverging);
        assert_eq!(
            verdict.summary,
            "diverging: the loss fell below 0 to -0.23 and keeps falling, as if unbounded below in the prediction"
        );
        // Bounded: 100 times as far out it has fallen by less than 10 times
        // as much as in training.
        let bounded = Run {
            further: Some(-0.9),
            ..run(-0.04, -0.56, (0.5, 0.5), 0.0)
        };
        assert_ne!(judge(&bounded, &task, &[], Dtype::F32).status, Status::Diverging);
    }

    #[test]
    fn several_seeds_are_counted() {
        use Status::*;
        assert_eq!(
            overall(&[(0, Learning), (1, Learning)]),
            (Learning, "learning on 2 of 2 seeds".to_string())
        );
        assert_eq!(
            overall(&[(0, Stalled), (1, Learning), (2, Stalled)]),
            (Stalled, "stalled on 2 of 3 seeds; learning on 1 (seed 1)".to_string())
        );
        assert_eq!(
            overall(&[(0, Diverging), (1, Stalled)]).0,
            Diverging,
            "a tie goes to the worse failure"
        );
    }
}
