//! The training loop: mini-batches, the loss's gradient chained through the
//! activation and the layer, the optimizer's step, and the health of every
//! sample's gradient, epoch by epoch.

use lossc::Dtype;
use ndarray::{ArrayD, Axis, IxDyn};
use num_traits::Float;

use crate::FitError;
use crate::data::{Dataset, argmax};
use crate::model::{Dense, activate, backward, cast};
use crate::objective::Objective;
use crate::optim::{Optimizer, State};
use crate::rng::Stream;
use crate::task::{Layout, ModelKind, Task};

/// A sample's gradient explodes beyond this magnitude (as `check`'s
/// `exploding-gradient` judges it).
pub const EXPLODING: f64 = 1e6;

/// How many times as far from the initial weights as training moved them
/// [`Run::further`] evaluates the loss.
pub const FURTHER: f64 = 100.0;

/// How training runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: Optimizer,
    /// Seeds the initial weights, the batch order and synthetic data.
    pub seed: u64,
    /// The float type of the model, the optimizer and the loss.
    pub dtype: Dtype,
    /// Shuffle the samples before each epoch, as Keras's `fit` does.
    pub shuffle: bool,
    /// Start from these weights instead of Glorot-uniform ones from the seed.
    pub initial_weights: Option<Dense<f64>>,
}

impl Default for FitOptions {
    /// The setup of the common Keras question: Adam with Keras's defaults,
    /// 100 epochs, batches of 32 (Keras's default), float32.
    fn default() -> Self {
        FitOptions {
            epochs: 100,
            batch_size: 32,
            optimizer: Optimizer::KERAS_ADAM,
            seed: 0,
            dtype: Dtype::F32,
            shuffle: true,
            initial_weights: None,
        }
    }
}

/// The health of the samples' gradients: fractions of the samples (0 to 1).
///
/// A sample's gradient is the gradient of the loss with respect to its
/// logits (the model's output before the activation), the part of `dL/dW`
/// it contributes, scaled as if it were the whole batch (times the batch
/// size, undoing the mean's `1/B`): what `check` calls the gradient "per
/// sample".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Health {
    /// Exactly zero: the sample teaches the model nothing.
    pub zero: f64,
    /// Exactly zero because the loss passes no gradient to the prediction
    /// (`dL/dy_pred = 0`), rather than because the activation saturated.
    pub zero_in_loss: f64,
    /// NaN or infinite.
    pub non_finite: f64,
    /// Finite but larger than [`EXPLODING`] in magnitude.
    pub exploding: f64,
}

/// One epoch, as Keras would report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// The mean of the batches' losses weighted by their sizes (Keras's
    /// running loss), with the weights of the moment each batch was seen.
    pub loss: f64,
    /// Over the samples of the epoch, each judged when its batch was seen.
    pub health: Health,
    /// The L2 norm of the weights (kernel and bias) at the end of the epoch.
    pub weight_norm: f64,
}

/// The whole data set under one set of weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub loss: f64,
    pub health: Health,
    /// The fraction of samples the model gets wrong: the wrong class (or
    /// label) for a classification, an error above a tenth of the targets'
    /// standard deviation for a regression.
    pub misfit: f64,
    /// The fraction of samples that are misfit *and* get a zero gradient:
    /// nothing in training will correct them.
    pub dead_misfit: f64,
    /// The fraction classified correctly, for a classification.
    pub accuracy: Option<f64>,
}

/// What turned non-finite first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NonFinite {
    /// The loss's value (NaN or ±inf) on a batch.
    Loss(f64),
    /// A sample's gradient, while the loss was finite (one of its entries).
    Gradient(f64),
    /// The weights, after a step with finite gradients (e.g. exploding ones).
    Weights(f64),
}

impl NonFinite {
    /// `NaN`, `inf` or `-inf`.
    pub fn value(self) -> f64 {
        match self {
            NonFinite::Loss(v) | NonFinite::Gradient(v) | NonFinite::Weights(v) => v,
        }
    }
}

/// Where training turned non-finite; it stops there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Divergence {
    /// 1-based.
    pub epoch: usize,
    /// The step within the whole run, 1-based.
    pub step: usize,
    pub what: NonFinite,
    /// A prediction of that batch outside the prediction's declared domain
    /// (where `check` does not look), if there was one.
    pub outside_domain: Option<f64>,
}

/// Everything a run measured, before it is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub initial_weights: Dense<f64>,
    pub weights: Dense<f64>,
    /// The data under the initial weights.
    pub before: Snapshot,
    pub history: Vec<Epoch>,
    /// The data under the final weights.
    pub after: Snapshot,
    pub divergence: Option<Divergence>,
    pub steps: usize,
    /// For a classification: the classes whose samples get no gradient when
    /// the model is wrong about them (a wrong prediction is never corrected).
    pub blind: Vec<Untaught>,
    /// For a run that ended with a loss below 0 (and finite weights): the
    /// loss of all the data under the weights [`FURTHER`] times as far from
    /// the initial ones along the way training moved them, `initial +
    /// FURTHER (final - initial)`: a loss that keeps falling there is
    /// unbounded below (or bounded only at an extreme of the prediction).
    pub further: Option<f64>,
}

/// A class the loss does not correct when the model gets it wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Untaught {
    /// The label: a value of the target's set, or a class index (the
    /// position of the largest entry of a `[N, C]` target row).
    pub label: f64,
    /// The fraction of the samples in that class.
    pub fraction: f64,
    /// Whether any of its samples got a gradient in some training step
    /// (while the model was right about it, for example); if none did, the
    /// model was never taught the class at all.
    pub taught: bool,
}

/// Trains `task`'s model on `data` with `objective`.
pub fn run(objective: &mut dyn Objective, task: &Task, data: &Dataset, options: &FitOptions) -> Result<Run, FitError> {
    if options.batch_size == 0 {
        return Err(FitError::Options("the batch size must be at least 1".into()));
    }
    let rate = options.optimizer.learning_rate();
    if !(rate.is_finite() && rate > 0.0) {
        return Err(FitError::Options(format!(
            "the learning rate must be a positive number, not {rate}"
        )));
    }
    match options.dtype {
        Dtype::F32 => Trainer::<f32>::new(objective, task, data, options)?.run(),
        Dtype::F64 => Trainer::<f64>::new(objective, task, data, options)?.run(),
    }
}

/// The loss on all of `data` under `weights`, and its gradient with respect
/// to the kernel and the bias (in a [`Dense`] of the same shape), in f64:
/// the chain each training step uses (`dL/dy_pred` from `objective`, the
/// activation's vector-Jacobian product, then `x^T dL/dz`).
pub fn gradient(
    objective: &mut dyn Objective,
    task: &Task,
    data: &Dataset,
    weights: &Dense<f64>,
) -> Result<(f64, Dense<f64>), FitError> {
    let options = FitOptions {
        dtype: Dtype::F64,
        initial_weights: Some(weights.clone()),
        ..FitOptions::default()
    };
    let mut trainer = Trainer::<f64>::new(objective, task, data, &options)?;
    let everything: Vec<usize> = (0..trainer.samples).collect();
    let pass = trainer.pass(&everything)?;
    let (kernel, bias) = trainer.layer.gradient(&pass.x, &pass.dz);
    Ok((
        pass.loss,
        Dense {
            features: weights.features,
            outputs: weights.outputs,
            kernel,
            bias,
        },
    ))
}

struct Trainer<'a, T> {
    objective: &'a mut dyn Objective,
    task: &'a Task,
    options: &'a FitOptions,
    /// `[N, D]`, row-major, in `T`.
    x: Vec<T>,
    /// The targets, their values rounded to `T`.
    targets: ArrayD<f64>,
    layer: Dense<T>,
    samples: usize,
    outputs: usize,
    /// A regression's tolerance: a tenth of the targets' standard deviation.
    tolerance: f64,
}

impl<'a, T: Float> Trainer<'a, T> {
    fn new(
        objective: &'a mut dyn Objective,
        task: &'a Task,
        data: &'a Dataset,
        options: &'a FitOptions,
    ) -> Result<Self, FitError> {
        let round = |v: f64| cast::<T>(v).to_f64().unwrap_or(f64::NAN);
        let layer = match &options.initial_weights {
            Some(weights) => {
                if (weights.features, weights.outputs) != (data.features(), data.outputs)
                    || weights.kernel.len() != weights.features * weights.outputs
                    || weights.bias.len() != weights.outputs
                {
                    return Err(FitError::Options(format!(
                        "the initial weights are for {} features and {} outputs; the data has {} and {}",
                        weights.features,
                        weights.outputs,
                        data.features(),
                        data.outputs
                    )));
                }
                Dense::from_f64(weights)
            }
            None => Dense::glorot(data.features(), data.outputs, &mut Stream::Weights.rng(options.seed)),
        };
        let count = data.targets.len().max(1) as f64;
        let mean = data.targets.iter().sum::<f64>() / count;
        let spread = (data.targets.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
        Ok(Trainer {
            objective,
            task,
            options,
            x: data.features.iter().map(|&v| cast(v)).collect(),
            targets: data.targets.mapv(round),
            layer,
            samples: data.samples(),
            outputs: data.outputs,
            tolerance: 0.1 * spread.max(1e-6),
        })
    }

    fn run(mut self) -> Result<Run, FitError> {
        let initial_weights = self.layer.to_f64();
        let everything: Vec<usize> = (0..self.samples).collect();
        let before = self.snapshot(&everything)?;
        let mut taught = vec![false; self.samples];
        let mut optimizer = State::<T>::new(self.options.optimizer, &[self.layer.kernel.len(), self.outputs]);
        let mut shuffler = Stream::Shuffle.rng(self.options.seed);
        let mut order = everything.clone();
        let mut history = Vec::with_capacity(self.options.epochs);
        let mut divergence = None;
        let mut steps = 0;
        'epochs: for epoch in 1..=self.options.epochs {
            if self.options.shuffle {
                shuffler.shuffle(&mut order);
            }
            let mut tally = Tally::default();
            let mut loss_sum = 0.0;
            for batch in order.chunks(self.options.batch_size) {
                steps += 1;
                let pass = self.pass(batch)?;
                for (&sample, silent) in batch.iter().zip(&pass.silent) {
                    taught[sample] |= !silent;
                }
                loss_sum += pass.loss * batch.len() as f64;
                tally.merge(&pass.tally);
                let what = if !pass.loss.is_finite() {
                    Some(NonFinite::Loss(pass.loss))
                } else {
                    pass.dz
                        .iter()
                        .find(|d| !d.is_finite())
                        .map(|d| NonFinite::Gradient(to_f64(*d)))
                };
                if what.is_none() {
                    let (kernel_grad, bias_grad) = self.layer.gradient(&pass.x, &pass.dz);
                    optimizer.step(
                        &mut [&mut self.layer.kernel, &mut self.layer.bias],
                        &[&kernel_grad, &bias_grad],
                    );
                }
                let what = what.or_else(|| {
                    let weights = self.layer.kernel.iter().chain(&self.layer.bias);
                    weights
                        .copied()
                        .find(|w| !w.is_finite())
                        .map(|w| NonFinite::Weights(to_f64(w)))
                });
                if let Some(what) = what {
                    divergence = Some(Divergence {
                        epoch,
                        step: steps,
                        what,
                        outside_domain: pass.outside_domain,
                    });
                    history.push(Epoch {
                        epoch,
                        loss: if pass.loss.is_finite() {
                            loss_sum / tally.samples as f64
                        } else {
                            pass.loss
                        },
                        health: tally.health(),
                        weight_norm: self.layer.norm(),
                    });
                    break 'epochs;
                }
            }
            history.push(Epoch {
                epoch,
                loss: loss_sum / self.samples as f64,
                health: tally.health(),
                weight_norm: self.layer.norm(),
            });
        }
        let after = self.snapshot(&everything)?;
        let blind = self.blind(&taught)?;
        let further = if divergence.is_none() && after.loss < 0.0 {
            Some(self.further(&initial_weights, &everything)?)
        } else {
            None
        };
        Ok(Run {
            blind,
            further,
            initial_weights,
            weights: self.layer.to_f64(),
            before,
            history,
            after,
            divergence,
            steps,
        })
    }

    /// The loss of the samples `everything` under the weights [`FURTHER`]
    /// times as far from `initial` as the current ones (see [`Run::further`]);
    /// the current weights are kept.
    fn further(&mut self, initial: &Dense<f64>, everything: &[usize]) -> Result<f64, FitError> {
        let last = self.layer.to_f64();
        let out = |from: &[f64], to: &[f64]| -> Vec<f64> {
            from.iter().zip(to).map(|(a, b)| a + FURTHER * (b - a)).collect()
        };
        self.layer = Dense::from_f64(&Dense {
            kernel: out(&initial.kernel, &last.kernel),
            bias: out(&initial.bias, &last.bias),
            ..last.clone()
        });
        let loss = self.pass(everything).map(|pass| pass.loss);
        self.layer = Dense::from_f64(&last);
        loss
    }

    /// The forward and backward pass over the samples `batch`, without a step.
    fn pass(&mut self, batch: &[usize]) -> Result<Pass<T>, FitError> {
        let rows = batch.len();
        let x = gather(&self.x, batch, self.layer.features);
        let z = self.layer.logits(&x, rows);
        let y = activate(self.task.model, &z, self.outputs);
        let predictions = self.prediction_array(&y, rows);
        let targets = self.targets.select(Axis(0), batch);
        let evaluated = self.objective.evaluate(&targets, &predictions)?;
        let dy: Vec<T> = evaluated.gradient.iter().map(|&v| cast(v)).collect();
        if dy.len() != y.len() {
            return Err(FitError::Task(format!(
                "the gradient has {} entries for {} predictions",
                dy.len(),
                y.len()
            )));
        }
        let dz = backward(self.task.model, &y, &dy, self.outputs);
        let mut tally = Tally::default();
        let scale = rows as f64;
        for (dy_row, dz_row) in dy.chunks_exact(self.outputs).zip(dz.chunks_exact(self.outputs)) {
            tally.add(dy_row, dz_row, scale);
        }
        let all_zero = |values: &[T]| -> Vec<bool> {
            values
                .chunks_exact(self.outputs)
                .map(|row| row.iter().all(|d| d.is_zero()))
                .collect()
        };
        let (dead, silent) = (all_zero(&dz), all_zero(&dy));
        let outside_domain = y
            .iter()
            .map(|v| to_f64(*v))
            .find(|v| !self.task.prediction_domain.contains(*v));
        Ok(Pass {
            loss: evaluated.loss,
            x,
            outside_domain,
            y,
            dz,
            dead,
            silent,
            tally,
        })
    }

    /// The whole data set under the current weights.
    fn snapshot(&mut self, everything: &[usize]) -> Result<Snapshot, FitError> {
        let pass = self.pass(everything)?;
        let outputs = self.outputs;
        let mut misfit = 0usize;
        let mut dead_misfit = 0usize;
        for (i, y_row) in pass.y.chunks_exact(outputs).enumerate() {
            let y_row: Vec<f64> = y_row.iter().map(|v| to_f64(*v)).collect();
            let wrong = self.misfits(i, &y_row);
            misfit += usize::from(wrong);
            dead_misfit += usize::from(wrong && pass.dead[i]);
        }
        let n = self.samples as f64;
        Ok(Snapshot {
            loss: pass.loss,
            health: pass.tally.health(),
            misfit: misfit as f64 / n,
            dead_misfit: dead_misfit as f64 / n,
            accuracy: self.task.is_classification().then(|| 1.0 - misfit as f64 / n),
        })
    }

    /// The classes the loss does not correct: given a wrong prediction (80%
    /// of the way to another label), their gradient is exactly zero; each
    /// says whether any of its samples was `taught` in training. (A class
    /// silent only because the model gets it right, as beyond a hinge's
    /// margin, is not among them.)
    fn blind(&mut self, taught: &[bool]) -> Result<Vec<Untaught>, FitError> {
        if !self.task.is_classification() {
            return Ok(Vec::new());
        }
        // (label, its samples), in label order.
        let mut classes: Vec<(f64, Vec<usize>)> = Vec::new();
        for i in 0..self.samples {
            let label = self.label(i);
            match classes.iter().position(|c| c.0 >= label) {
                Some(at) if classes[at].0 == label => classes[at].1.push(i),
                Some(at) => classes.insert(at, (label, vec![i])),
                None => classes.push((label, vec![i])),
            }
        }
        let mut blind = Vec::new();
        for (label, members) in classes {
            let targets = self.targets.select(Axis(0), &members);
            let wrong = self.wrong_predictions(&members);
            let evaluated = self.objective.evaluate(&targets, &wrong)?;
            if evaluated.gradient.iter().all(|g| *g == 0.0) {
                blind.push(Untaught {
                    label,
                    fraction: members.len() as f64 / self.samples as f64,
                    taught: members.iter().any(|&i| taught[i]),
                });
            }
        }
        Ok(blind)
    }

    /// Sample `i`'s class: its label, or the position of its target row's
    /// largest entry.
    fn label(&self, i: usize) -> f64 {
        let target = self.targets.index_axis(Axis(0), i);
        match self.task.layout {
            Layout::Matrix => argmax(target.iter().copied()) as f64,
            Layout::Vector | Layout::Labels => target[[]],
        }
    }

    /// Predictions that are wrong for the samples `members`: 80% of the way
    /// to the farthest label, or a row that favours the next class (as
    /// probabilities, or as logits for a linear model).
    fn wrong_predictions(&self, members: &[usize]) -> ArrayD<f64> {
        let round = |v: f64| to_f64(cast::<T>(v));
        let rows = members.len();
        let mut values = Vec::with_capacity(rows * self.outputs);
        for &i in members {
            let label = self.label(i);
            match self.task.layout {
                Layout::Vector => {
                    let lossc::ir::Domain::Set(labels) = &self.task.target_domain else {
                        unreachable!("a vector classification has a set of labels")
                    };
                    let farthest = labels
                        .iter()
                        .copied()
                        .max_by(|a, b| (a - label).abs().total_cmp(&(b - label).abs()))
                        .unwrap_or(label);
                    values.push(round(label + 0.8 * (farthest - label)));
                }
                Layout::Labels | Layout::Matrix => {
                    let wrong = (label as usize + 1) % self.outputs;
                    let probabilities = self.task.model != ModelKind::Linear;
                    let rest = if self.outputs > 1 {
                        0.2 / (self.outputs - 1) as f64
                    } else {
                        0.0
                    };
                    values.extend((0..self.outputs).map(|k| match (k == wrong, probabilities) {
                        (true, true) => round(0.8),
                        (false, true) => round(rest),
                        (true, false) => 2.0,
                        (false, false) => 0.0,
                    }));
                }
            }
        }
        let shape = match self.task.layout {
            Layout::Vector => vec![rows],
            Layout::Matrix | Layout::Labels => vec![rows, self.outputs],
        };
        ArrayD::from_shape_vec(IxDyn(&shape), values).expect("rows of outputs")
    }

    /// Whether sample `i`'s prediction `y_row` is wrong (see [`Snapshot::misfit`]).
    fn misfits(&self, i: usize, y_row: &[f64]) -> bool {
        let target = self.targets.index_axis(Axis(0), i);
        let classification = self.task.is_classification();
        match self.task.layout {
            Layout::Labels => argmax(y_row.iter().copied()) as f64 != target[[]],
            Layout::Matrix if classification => argmax(y_row.iter().copied()) != argmax(target.iter().copied()),
            Layout::Vector if classification => {
                let lossc::ir::Domain::Set(labels) = &self.task.target_domain else {
                    unreachable!("a vector classification has a set of labels")
                };
                // The label nearest to the prediction, none on a tie.
                let distance = |label: &f64| (label - y_row[0]).abs();
                let nearest = labels
                    .iter()
                    .copied()
                    .min_by(|a, b| distance(a).total_cmp(&distance(b)));
                let tie = labels
                    .iter()
                    .filter(|l| Some(distance(l)) == nearest.map(|n| distance(&n)))
                    .count()
                    > 1;
                tie || nearest != Some(target[[]])
            }
            Layout::Vector | Layout::Matrix => target.iter().zip(y_row).any(|(t, y)| {
                let error = (t - y).abs();
                error.is_nan() || error > self.tolerance
            }),
        }
    }

    /// The activations as the prediction input's array: `[B]` or `[B, C]`.
    fn prediction_array(&self, y: &[T], rows: usize) -> ArrayD<f64> {
        let shape = match self.task.layout {
            Layout::Vector => vec![rows],
            Layout::Matrix | Layout::Labels => vec![rows, self.outputs],
        };
        ArrayD::from_shape_vec(IxDyn(&shape), y.iter().map(|v| to_f64(*v)).collect()).expect("rows of outputs")
    }
}

/// One forward and backward pass.
struct Pass<T> {
    loss: f64,
    /// The batch's features, `[B, D]`.
    x: Vec<T>,
    /// A prediction outside the prediction's declared domain, if any.
    outside_domain: Option<f64>,
    /// The activations, `[B, C]`.
    y: Vec<T>,
    /// The gradient with respect to the logits, `[B, C]`.
    dz: Vec<T>,
    /// Per sample: whether its gradient is exactly zero.
    dead: Vec<bool>,
    /// Per sample: whether the loss passes it no gradient (`dL/dy_pred = 0`).
    silent: Vec<bool>,
    tally: Tally,
}

/// Counts behind a [`Health`].
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    samples: usize,
    zero: usize,
    zero_in_loss: usize,
    non_finite: usize,
    exploding: usize,
}

impl Tally {
    /// Counts one sample from its gradients with respect to the prediction
    /// (`dy`) and the logits (`dz`); `scale` undoes the batch mean.
    fn add<T: Float>(&mut self, dy: &[T], dz: &[T], scale: f64) {
        self.samples += 1;
        if dz.iter().any(|d| !d.is_finite()) {
            self.non_finite += 1;
        } else if dz.iter().all(|d| d.is_zero()) {
            self.zero += 1;
            self.zero_in_loss += usize::from(dy.iter().all(|d| d.is_zero()));
        } else if dz.iter().any(|d| to_f64(*d).abs() * scale > EXPLODING) {
            self.exploding += 1;
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.samples += other.samples;
        self.zero += other.zero;
        self.zero_in_loss += other.zero_in_loss;
        self.non_finite += other.non_finite;
        self.exploding += other.exploding;
    }

    fn health(&self) -> Health {
        let n = self.samples.max(1) as f64;
        Health {
            zero: self.zero as f64 / n,
            zero_in_loss: self.zero_in_loss as f64 / n,
            non_finite: self.non_finite as f64 / n,
            exploding: self.exploding as f64 / n,
        }
    }
}

/// The rows `indices` of the row-major matrix `x` with `columns` columns.
fn gather<T: Copy>(x: &[T], indices: &[usize], columns: usize) -> Vec<T> {
    let mut rows = Vec::with_capacity(indices.len() * columns);
    for &i in indices {
        rows.extend_from_slice(&x[i * columns..(i + 1) * columns]);
    }
    rows
}

fn to_f64<T: Float>(value: T) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}
