//! The one seam between training and evaluation: the loss and its gradient
//! with respect to the model's output, on one batch. The trainer calls
//! nothing else, so a faster evaluator (the fused kernels) is one more
//! implementation of [`Objective`].

use lossc::{Dtype, Gradient, Program};
use ndarray::ArrayD;

use crate::FitError;
use crate::task::Task;

/// The loss's value and its gradient with respect to the prediction, on one
/// batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The loss (a per-sample loss is reduced by its mean), computed in the
    /// dtype.
    pub loss: f64,
    /// `dL/d prediction`, of the prediction's shape (`[B]` or `[B, C]`):
    /// the gradient of the batch's loss, so each entry carries the `1/B` of
    /// the mean.
    pub gradient: ArrayD<f64>,
}

/// A loss and its gradient with respect to the prediction.
pub trait Objective {
    /// Evaluates both on a batch: `targets` shaped as the target input,
    /// `predictions` as the prediction input, with the values of the dtype.
    fn evaluate(&mut self, targets: &ArrayD<f64>, predictions: &ArrayD<f64>) -> Result<Evaluated, FitError>;
}

/// The reference interpreter behind the library facade: the gradient is
/// derived and simplified once, then evaluated on each batch.
#[derive(Debug)]
pub struct Reference<'a> {
    program: &'a Program,
    gradient: Gradient,
    target: String,
    prediction: String,
    dtype: Dtype,
}

impl<'a> Reference<'a> {
    pub fn new(program: &'a Program, task: &Task, dtype: Dtype) -> Result<Self, FitError> {
        let gradient = program.gradient(Some(&task.loss), &[&task.prediction])?;
        Ok(Reference {
            program,
            gradient,
            target: task.target.clone(),
            prediction: task.prediction.clone(),
            dtype,
        })
    }
}

impl Objective for Reference<'_> {
    fn evaluate(&mut self, targets: &ArrayD<f64>, predictions: &ArrayD<f64>) -> Result<Evaluated, FitError> {
        let inputs = [
            (self.target.clone(), targets.clone()),
            (self.prediction.clone(), predictions.clone()),
        ];
        let evaluation = self.program.eval_gradient(&self.gradient, &inputs, self.dtype)?;
        let loss = evaluation.value.iter().next().copied().unwrap_or(f64::NAN);
        let gradient = evaluation
            .gradient
            .into_iter()
            .next()
            .map(|(_, gradient)| gradient)
            .ok_or_else(|| FitError::Task("the loss has no gradient with respect to the prediction".into()))?;
        Ok(Evaluated { loss, gradient })
    }
}
