//! The training data: features `[N, D]` and targets shaped as the loss's
//! target input, either given (and checked against the task) or generated
//! to match the declared domains from a known linear rule that the initial
//! model of the same seed knows nothing about: the rule's directions are
//! orthogonal to the initial weights, so training starts at chance.

use lossc::ir::Domain;
use ndarray::{Array2, ArrayD, IxDyn};

use crate::FitError;
use crate::model::Dense;
use crate::rng::Stream;
use crate::task::{Layout, Task};

/// Features and targets, in f64 (the trainer rounds them to its dtype).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[N, D]`.
    pub features: Array2<f64>,
    /// `[N]` or `[N, C]`, as the task's target input.
    pub targets: ArrayD<f64>,
    /// The number of model outputs per sample (1 for `[N]` predictions).
    pub outputs: usize,
    /// How the data came about, for reports: `synthetic` or the file names.
    pub origin: String,
}

/// Classes of a synthetic task whose class count no declaration fixes.
pub const DEFAULT_CLASSES: usize = 3;

/// The noise added to synthetic regression targets (their rule's output has
/// a standard deviation of about 1).
const NOISE: f64 = 0.1;

impl Dataset {
    /// Checks `features` (`[N, D]`, or `[N]` for one feature) and `targets`
    /// against `task`: equal sample counts, the target's shape, and values in
    /// the target's declared domain. `origin` names the data in messages.
    pub fn new(task: &Task, features: ArrayD<f64>, targets: ArrayD<f64>, origin: &str) -> Result<Dataset, FitError> {
        let bad = |message: String| Err(FitError::Data(message));
        let features = match features.ndim() {
            1 => {
                let n = features.len();
                features
                    .into_shape_with_order(IxDyn(&[n, 1]))
                    .expect("a vector is a column")
            }
            2 => features,
            rank => {
                return bad(format!(
                    "the features must be [N, D] (or [N] for one feature); they have rank {rank}"
                ));
            }
        };
        let features = features.into_dimensionality::<ndarray::Ix2>().expect("rank 2");
        let n = features.nrows();
        if n == 0 || features.ncols() == 0 {
            return bad(format!("the features are empty (shape [{n}, {}])", features.ncols()));
        }
        if targets.ndim() == 0 || targets.shape()[0] != n {
            return bad(format!(
                "the features hold {n} samples but the labels {}: both need one row per sample",
                targets
                    .shape()
                    .first()
                    .map_or("none (a scalar)".to_string(), |rows| rows.to_string())
            ));
        }
        // `[N, 1]` labels for a `[N]` target, as Keras users often have them.
        let targets = match (task.layout, targets.shape()) {
            (Layout::Vector | Layout::Labels, [_, 1]) => targets.into_shape_with_order(IxDyn(&[n])).expect("a column"),
            _ => targets,
        };
        let wanted_rank = match task.layout {
            Layout::Vector | Layout::Labels => 1,
            Layout::Matrix => 2,
        };
        if targets.ndim() != wanted_rank {
            let declared = if wanted_rank == 1 { "[N]" } else { "[N, C]" };
            return bad(format!(
                "`{}` is declared {declared} but the labels have shape {:?}",
                task.target,
                targets.shape()
            ));
        }
        if let Some(bad_value) = targets.iter().position(|v| !task.target_domain.contains(*v)) {
            let value = targets.iter().nth(bad_value).copied().unwrap_or(f64::NAN);
            let row = bad_value / targets.shape().get(1).copied().unwrap_or(1).max(1);
            return bad(format!(
                "label {value} (row {row}) is outside `{}`'s declared domain {}",
                task.target, task.target_domain
            ));
        }
        if task.target_domain.is_row()
            && let Some(width) = targets.shape().last().copied()
            && let Some(row) = targets.as_slice().and_then(|values| {
                values
                    .chunks(width.max(1))
                    .position(|row| !task.target_domain.contains_row(row))
            })
        {
            let what = match task.target_domain {
                Domain::OneHot => "does not hold exactly one 1",
                _ => "does not sum to 1",
            };
            return bad(format!(
                "row {row} of `{}` {what}, as its declared domain {} requires",
                task.target, task.target_domain
            ));
        }
        let outputs = match task.layout {
            Layout::Vector => 1,
            Layout::Matrix => targets.shape()[1],
            Layout::Labels => {
                let largest = targets.iter().fold(0.0_f64, |a, &b| a.max(b));
                if targets.iter().any(|v| v.fract() != 0.0 || *v < 0.0) {
                    return bad(format!(
                        "`{}` holds class indices for a [N, C] prediction: the labels must be integers 0, 1, ...",
                        task.target
                    ));
                }
                task.outputs.unwrap_or(largest as usize + 1)
            }
        };
        match task.outputs {
            Some(declared) if declared != outputs => {
                return bad(format!(
                    "`{}` has {declared} outputs per sample but the labels have {outputs}",
                    task.prediction
                ));
            }
            _ => {}
        }
        if task.layout == Layout::Labels && targets.iter().any(|v| *v as usize >= outputs) {
            return bad(format!("a label is not below the number of classes, {outputs}"));
        }
        Ok(Dataset {
            features,
            targets,
            outputs,
            origin: origin.to_string(),
        })
    }

    /// The number of synthetic features when none is asked for: twice the
    /// model's outputs (2 for a `[N]` prediction), the fewest that leave room
    /// for a rule orthogonal to every column of the initial kernel with as
    /// many independent directions as outputs.
    pub fn default_features(task: &Task) -> usize {
        2 * synthetic_outputs(task)
    }

    /// `samples` samples of `features` standard-normal features, with targets
    /// in the target's declared domain from a linear rule drawn from `seed`:
    /// binary labels on either side of a hyperplane for a two-value set, the
    /// class of the largest score for class labels, the rule plus a little
    /// noise mapped into the domain for a real or interval target.
    ///
    /// The rule's directions are orthogonal to the columns of the initial
    /// kernel of the same seed (the Glorot-uniform weights the trainer draws
    /// when [`crate::FitOptions::initial_weights`] is `None`): for
    /// standard-normal features the initial model's logits are then
    /// independent of the targets, and a classifier starts at chance. That
    /// needs more features than outputs; with fewer (one feature, one
    /// output) the rule is a random direction, which the initial weights fit
    /// or get wrong by luck.
    pub fn synthetic(task: &Task, samples: usize, features: usize, seed: u64) -> Result<Dataset, FitError> {
        if samples == 0 || features == 0 {
            return Err(FitError::Data(
                "synthetic data needs at least one sample and one feature".into(),
            ));
        }
        let mut rng = Stream::Data.rng(seed);
        let outputs = synthetic_outputs(task);
        // The rule first, so that it does not depend on the number of
        // samples: per output, a random unit direction `u` orthogonal to the
        // initial kernel and an offset `t` of about 0.25, and the score
        // `2 (u.x - t)`. Its sign splits the samples into two classes of
        // about half each.
        let initial = Dense::<f64>::glorot(features, outputs, &mut Stream::Weights.rng(seed));
        let kernel = Array2::from_shape_vec((features, outputs), initial.kernel).expect("[features, outputs]");
        let basis = orthonormal_columns(&kernel);
        let mut directions = Array2::from_shape_simple_fn((features, outputs), || rng.normal());
        for mut column in directions.columns_mut() {
            let mut orthogonal = column.to_owned();
            for b in &basis {
                let along: f64 = orthogonal.iter().zip(b).map(|(v, w)| v * w).sum();
                orthogonal.iter_mut().zip(b).for_each(|(v, w)| *v -= along * w);
            }
            // Nothing is left when the kernel spans every feature.
            let norm = orthogonal.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 1e-9 {
                column.assign(&orthogonal);
            }
            let norm = column.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
            column.mapv_inplace(|v| v / norm);
        }
        let offsets: Vec<f64> = (0..outputs).map(|_| 0.25 * rng.normal()).collect();
        let x = Array2::from_shape_simple_fn((samples, features), || rng.normal());
        let score = |i: usize, k: usize| -> f64 {
            let row = x.row(i);
            2.0 * (row.iter().zip(directions.column(k)).map(|(a, b)| a * b).sum::<f64>() - offsets[k])
        };
        let domain = &task.target_domain;
        let targets = match task.layout {
            Layout::Vector => {
                let values: Vec<f64> = (0..samples)
                    .map(|i| match domain {
                        Domain::Set(values) => pick(values, score(i, 0)),
                        _ => into_domain(0.5 * score(i, 0) + NOISE * rng.normal(), domain),
                    })
                    .collect();
                ArrayD::from_shape_vec(IxDyn(&[samples]), values)
            }
            Layout::Labels => {
                let labels: Vec<f64> = (0..samples)
                    .map(|i| argmax((0..outputs).map(|k| score(i, k))) as f64)
                    .collect();
                ArrayD::from_shape_vec(IxDyn(&[samples]), labels)
            }
            Layout::Matrix if *domain == Domain::Simplex => {
                // Soft labels: the softmax of the scores.
                let mut values = Vec::with_capacity(samples * outputs);
                for i in 0..samples {
                    let scores: Vec<f64> = (0..outputs).map(|k| score(i, k)).collect();
                    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = scores.iter().map(|s| (s - top).exp()).sum();
                    values.extend(scores.iter().map(|s| (s - top).exp() / total));
                }
                ArrayD::from_shape_vec(IxDyn(&[samples, outputs]), values)
            }
            Layout::Matrix if matches!(domain, Domain::Set(_) | Domain::OneHot) || crate::task::within_unit(domain) => {
                // One-hot rows of the class with the largest score (in the
                // domain's own two values for a set such as {-1, 1}).
                let (off, on) = match domain {
                    Domain::Set(values) => (values[0], values[values.len() - 1]),
                    _ => (0.0, 1.0),
                };
                let mut values = Vec::with_capacity(samples * outputs);
                for i in 0..samples {
                    let class = argmax((0..outputs).map(|k| score(i, k)));
                    values.extend((0..outputs).map(|k| if k == class { on } else { off }));
                }
                ArrayD::from_shape_vec(IxDyn(&[samples, outputs]), values)
            }
            Layout::Matrix => {
                let mut values = Vec::with_capacity(samples * outputs);
                for i in 0..samples {
                    for k in 0..outputs {
                        values.push(into_domain(0.5 * score(i, k) + NOISE * rng.normal(), domain));
                    }
                }
                ArrayD::from_shape_vec(IxDyn(&[samples, outputs]), values)
            }
        }
        .expect("the values fill the shape");
        Ok(Dataset {
            features: x,
            targets,
            outputs,
            origin: "synthetic".to_string(),
        })
    }

    pub fn samples(&self) -> usize {
        self.features.nrows()
    }

    pub fn features(&self) -> usize {
        self.features.ncols()
    }
}

/// The number of model outputs of synthetic data for `task`.
fn synthetic_outputs(task: &Task) -> usize {
    match task.layout {
        Layout::Vector => 1,
        Layout::Matrix | Layout::Labels => task.outputs.unwrap_or(DEFAULT_CLASSES),
    }
}

/// An orthonormal basis of the span of `matrix`'s columns (Gram-Schmidt,
/// dropping columns that add no direction).
fn orthonormal_columns(matrix: &Array2<f64>) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for column in matrix.columns() {
        let mut v = column.to_vec();
        for b in &basis {
            let along: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= along * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-9 {
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    basis
}

/// The index of the largest value (the first on a tie).
pub(crate) fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (index, value) in values.enumerate() {
        if value > best.1 {
            best = (index, value);
        }
    }
    best.0
}

/// A value of the set `values` (sorted): for two values, the upper one where
/// `score > 0`; for more, the one whose share of (0, 1) holds sigmoid(score).
fn pick(values: &[f64], score: f64) -> f64 {
    let quantile = 1.0 / (1.0 + (-score).exp());
    let index = ((quantile * values.len() as f64) as usize).min(values.len() - 1);
    values[index]
}

/// `value` (about standard normal) mapped into `domain`: as is for `real`,
/// through a sigmoid into a bounded interval, through a softplus into a
/// half-bounded one; kept off an open end.
fn into_domain(value: f64, domain: &Domain) -> f64 {
    let softplus = |v: f64| if v > 30.0 { v } else { v.exp().ln_1p() };
    match domain {
        Domain::Real => value,
        Domain::Set(values) => pick(values, value),
        // Rows are made whole where they are drawn; one element alone is in [0, 1] or {0, 1}.
        Domain::Simplex | Domain::OneHot => into_domain(value, &domain.element()),
        Domain::Interval {
            lo,
            lo_closed,
            hi,
            hi_closed,
        } => {
            let mapped = match (lo.is_finite(), hi.is_finite()) {
                (true, true) => lo + (hi - lo) / (1.0 + (-value).exp()),
                (true, false) => lo + softplus(value),
                (false, true) => hi - softplus(-value),
                (false, false) => value,
            };
            // A value on an open end (a sigmoid rounding to 1) moves inside.
            let inside_lo = if *lo_closed { mapped >= *lo } else { mapped > *lo };
            let inside_hi = if *hi_closed { mapped <= *hi } else { mapped < *hi };
            match (inside_lo, inside_hi) {
                (true, true) => mapped,
                (false, _) => lo + (hi - lo).min(1.0) * 1e-6,
                (_, false) => hi - (hi - lo).min(1.0) * 1e-6,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(source: &str) -> Task {
        Task::new(&lossc::compile(source).unwrap(), None, None, None).unwrap()
    }

    #[test]
    fn synthetic_targets_lie_in_the_declared_domain() {
        let cases = [
            "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))",
            "input y_true: {-1, 1}\ninput y_pred: real\nloss = mean(relu(1 - y_true * y_pred))",
            "input y_true: (0, inf)\ninput y_pred: real\nloss = mean(square(y_true - y_pred))",
            "input y_true: [0, 1]\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))",
            "input y_true: {0..4}\ninput y_pred: real [N, 5]\nloss = mean(-sum(one_hot(y_true, 5) * log_softmax(y_pred), axis=-1))",
            "input y_true: [0, 1] [N, C]\ninput y_pred: [0, 1] [N, C]\nloss = mean(-sum(y_true * log(y_pred), axis=-1))",
            "input y_true: simplex [N, C]\ninput y_pred: simplex [N, C]\nloss = mean(-sum(y_true * log(y_pred), axis=-1))",
            "input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\nloss = mean(-sum(y_true * log(y_pred), axis=-1))",
        ];
        for source in cases {
            let task = task(source);
            let data = Dataset::synthetic(&task, 200, 2, 0).unwrap();
            assert!(data.targets.iter().all(|v| task.target_domain.contains(*v)), "{source}");
            if data.targets.ndim() == 2 && task.target_domain.is_row() {
                for row in data.targets.rows() {
                    let sum: f64 = row.iter().sum();
                    assert!((sum - 1.0).abs() < 1e-9, "{source}: a row sums to {sum}");
                }
            }
            // Checking the generated data as given data accepts it.
            let again = Dataset::new(&task, data.features.clone().into_dyn(), data.targets.clone(), "again").unwrap();
            assert_eq!(again.outputs, data.outputs, "{source}");
        }
    }

    #[test]
    fn given_rows_off_the_simplex_are_refused_with_their_row() {
        let simplex = task(
            "input y_true: simplex [N, 3]\ninput y_pred: simplex [N, 3]\nloss = mean(-sum(y_true * log(y_pred), axis=-1))",
        );
        let features = ArrayD::zeros(IxDyn(&[2, 1]));
        let good = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.2, 0.3, 0.5, 1.0, 0.0, 0.0]).unwrap();
        assert!(Dataset::new(&simplex, features.clone(), good, "good").is_ok());
        let bad = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.2, 0.3, 0.5, 0.5, 0.0, 0.0]).unwrap();
        let error = Dataset::new(&simplex, features.clone(), bad, "bad")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("row 1") && error.contains("does not sum to 1"),
            "{error}"
        );
        let onehot = task(
            "input y_true: onehot [N, 3]\ninput y_pred: simplex [N, 3]\nloss = mean(-sum(y_true * log(y_pred), axis=-1))",
        );
        let bad = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]).unwrap();
        let error = Dataset::new(&onehot, features, bad, "bad").unwrap_err().to_string();
        assert!(error.contains("row 1") && error.contains("exactly one 1"), "{error}");
    }

    #[test]
    fn the_rule_is_orthogonal_to_the_initial_weights() {
        for source in [
            "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))",
            "input y_true: {0..2}\ninput y_pred: [0, 1] [N, 3]\nloss = mean(-sum(one_hot(y_true, 3) * log(y_pred), axis=-1))",
        ] {
            let task = task(source);
            let features = Dataset::default_features(&task);
            for seed in 0..10 {
                let data = Dataset::synthetic(&task, 2000, features, seed).unwrap();
                let initial = Dense::<f64>::glorot(features, data.outputs, &mut Stream::Weights.rng(seed));
                // The initial model's largest logit names the label no more
                // often than chance.
                let x = &data.features;
                let right = (0..data.samples())
                    .filter(|&i| {
                        let logits = (0..data.outputs).map(|k| {
                            (0..features)
                                .map(|j| x[[i, j]] * initial.kernel[j * data.outputs + k])
                                .sum::<f64>()
                        });
                        let predicted = if data.outputs == 1 {
                            f64::from(u8::from(logits.sum::<f64>() > 0.0))
                        } else {
                            argmax(logits) as f64
                        };
                        predicted == data.targets[[i]]
                    })
                    .count() as f64
                    / data.samples() as f64;
                let chance = 1.0 / data.outputs.max(2) as f64;
                assert!((right - chance).abs() < 0.06, "{source}, seed {seed}: {right}");
            }
        }
    }

    #[test]
    fn binary_labels_are_not_all_one_class() {
        let task = task("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))");
        let data = Dataset::synthetic(&task, 100, 1, 0).unwrap();
        let positives = data.targets.iter().filter(|v| **v == 1.0).count();
        assert!((20..=80).contains(&positives), "{positives}");
    }

    #[test]
    fn given_data_is_checked() {
        let task = task("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))");
        let x = ArrayD::zeros(IxDyn(&[4, 2]));
        let short = ArrayD::zeros(IxDyn(&[3]));
        assert!(
            Dataset::new(&task, x.clone(), short, "t")
                .unwrap_err()
                .to_string()
                .contains("4 samples")
        );
        let soft = ArrayD::from_elem(IxDyn(&[4]), 0.5);
        assert!(
            Dataset::new(&task, x.clone(), soft, "t")
                .unwrap_err()
                .to_string()
                .contains("{0, 1}")
        );
        let column = ArrayD::zeros(IxDyn(&[4, 1]));
        assert_eq!(Dataset::new(&task, x, column, "t").unwrap().targets.shape(), [4]);
    }
}
