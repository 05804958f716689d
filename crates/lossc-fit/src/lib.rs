//! `lossc fit` as a library: trains the smallest model a loss is meant for
//! with the loss's exact gradient, and says whether it learns.
//!
//! **In:** a compiled [`lossc::Program`] and the loss to train ([`Task`]
//! reads the prediction and target inputs and picks the model from the
//! prediction's declared domain: a sigmoid for `[0, 1]`, a softmax for
//! `[0, 1] [N, C]`, none for `real`), the data ([`Dataset`], given or
//! generated to match the declared domains), [`FitOptions`] (epochs, batch
//! size, optimizer, seed, dtype) and the static diagnostics of the loss
//! ([`Finding`]s) for the verdict to link to.
//! **Out:** a [`Fit`]: the loss, the health of the samples' gradients (zero,
//! NaN, exploding) and the weight norm per epoch, and a [`Verdict`]
//! (`learning`, `stalled`, `diverging` or `diverged`) whose reasons name the diagnostics
//! that predicted the failure.
//! **Never:** does IO, prints, or draws: rendering (text, sparkline, JSON,
//! SVG) is the CLI's. Nothing is random beyond the seed: one seed, one run,
//! on every platform.
//!
//! The model is one dense layer, `y_pred = activation(x W + b)`, initialised
//! as Keras initialises `Dense` (Glorot-uniform kernel, zero bias) and
//! trained in mini-batches with Keras's Adam (or SGD). The loss's gradient
//! with respect to `y_pred` is derived symbolically once and evaluated per
//! batch through [`Objective`] (the one seam to the evaluator), then chained
//! through the activation (`dL/dz = dL/dy_pred * activation'`, a full
//! Jacobian-vector product for softmax) and the layer (`dL/dW = X^T dL/dz`,
//! `dL/db = sum of dL/dz`).
//!
//! ```
//! use lossc_fit::{Dataset, FitOptions, Status, Task};
//!
//! let source = "input y_true: real\ninput y_pred: real\nloss mse = mean(square(y_true - y_pred))";
//! let program = lossc::compile(source).unwrap();
//! let task = Task::new(&program, None, None, None)?;
//! let data = Dataset::synthetic(&task, 100, Dataset::default_features(&task), 0)?;
//! let options = FitOptions { epochs: 20, ..FitOptions::default() };
//! let fit = lossc_fit::fit(&program, &task, &data, &options, &[])?;
//! assert_eq!(fit.verdict.status, Status::Learning);
//! assert!(fit.run.after.loss < fit.run.before.loss);
//! # Ok::<(), lossc_fit::FitError>(())
//! ```
//!
//! Tests: unit tests beside the code; `tests/fit.rs` checks the chained
//! gradient against finite differences, determinism, and the verdicts of the
//! three experiments in `examples/` (also run through the CLI in
//! `crates/lossc-cli/tests/it/fit.rs`).

mod data;
mod model;
mod objective;
mod optim;
mod rng;
mod task;
mod train;
mod verdict;

pub use data::{DEFAULT_CLASSES, Dataset};
pub use model::{Dense, activate, backward};
pub use objective::{Evaluated, Objective, Reference};
pub use optim::Optimizer;
pub use rng::{Rng, Stream};
pub use task::{Layout, ModelKind, Task};
pub use train::{
    Divergence, EXPLODING, Epoch, FURTHER, FitOptions, Health, NonFinite, Run, Snapshot, Untaught, gradient,
};
pub use verdict::{
    FURTHER_FALL, Finding, MAX_ACCURACY_DROP, MIN_PROGRESS, Reason, STALLED_DEAD_MISFIT, Status, Verdict, change,
    judge, overall, percent,
};

/// Why a fit could not run.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The program does not define a trainable task (no target input, an
    /// unsupported shape, a model that cannot produce the prediction's shape).
    #[error("{0}")]
    Task(String),
    /// The data does not fit the task (sample counts, shapes, domains).
    #[error("{0}")]
    Data(String),
    /// A bad option (a zero batch size, a learning rate that is not positive).
    #[error("{0}")]
    Options(String),
    /// The library refused (e.g. the loss is unknown).
    #[error(transparent)]
    Library(#[from] lossc::Error),
}

impl From<lossc::EvalError> for FitError {
    fn from(error: lossc::EvalError) -> Self {
        FitError::Library(lossc::Error::Eval(error))
    }
}

/// A finished run and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub task: Task,
    pub options: FitOptions,
    pub samples: usize,
    pub features: usize,
    pub outputs: usize,
    pub run: Run,
    pub verdict: Verdict,
}

/// Trains `task`'s model on `data` with the reference evaluator and judges
/// the run against `findings`.
pub fn fit(
    program: &lossc::Program,
    task: &Task,
    data: &Dataset,
    options: &FitOptions,
    findings: &[Finding],
) -> Result<Fit, FitError> {
    let mut objective = Reference::new(program, task, options.dtype)?;
    fit_with(&mut objective, task, data, options, findings)
}

/// [`fit`] with any evaluator of the loss and its gradient.
pub fn fit_with(
    objective: &mut dyn Objective,
    task: &Task,
    data: &Dataset,
    options: &FitOptions,
    findings: &[Finding],
) -> Result<Fit, FitError> {
    let run = train::run(objective, task, data, options)?;
    let verdict = judge(&run, task, findings, options.dtype);
    Ok(Fit {
        task: task.clone(),
        options: options.clone(),
        samples: data.samples(),
        features: data.features(),
        outputs: data.outputs,
        run,
        verdict,
    })
}
