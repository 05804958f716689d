//! `lossc emit`: a loss as a readable, NaN-safe Python module for JAX,
//! PyTorch, Keras 3, TensorFlow or NumPy (docs/cli.md).

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::WriteColor;

use crate::cli::{DtypeArg, Format, ParamArgs, TargetArgs, library_error};
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Print a loss as a Python module for JAX, PyTorch, Keras 3, TensorFlow or NumPy.

The module defines `def NAME(INPUTS..., *, PARAMS=DEFAULTS)`: the inputs in
the order the file declares them, then its params as keyword arguments with
the file's values (or --param's) as defaults. It returns the loss as the
framework's tensor: the scalar, or for a per-sample loss the mean (Keras and
tf return the per-sample values and let the loss reduction take the mean;
JAX, PyTorch and NumPy also define NAME_per_sample). The numpy target also
defines NAME_grad, lossc's exact gradient for each --wrt variable.

The code is the checked, simplified loss, with the analyzer's proven-equal
stable forms applied and each stable built-in written as the framework's own
primitive (log_softmax, softplus, log1p, xlogy, logsumexp, ...). For the
frameworks with autodiff, every selection (where, maximum, minimum, clip,
relu, abs, max, min) whose branch holds an operation that can be non-finite
gets the \"double where\": that operation sees a safe operand where its branch
is not selected, so the framework's gradient has no NaN where lossc's is
finite. The docstring names the source, the declared domains, and which
diagnostics of `lossc check` (in --dtype) the code fixes and which remain.

keras uses only `keras.ops` (any backend); tf uses TensorFlow 2 ops, for
tf.keras and tf.GradientTape. See docs/emit.md for using each in training.

Exit status: 0 success, 1 the program has errors (shown as `check` shows
them), 2 bad usage or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc emit examples/bce.loss --target jax
  lossc emit examples/focal.loss --target torch --param gamma=3 > focal_loss.py
  lossc emit examples/weighted_bce.loss --target keras
  lossc emit examples/faulty_where_sqrt.loss --target tf
  lossc emit examples/huber.loss --target numpy --wrt y_pred --wrt delta
  lossc emit -e 'mean(softplus(y_pred) - y_true * y_pred)' --target jax";

/// `--target`: the framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// `jax.numpy`, for `jax.grad`.
    Jax,
    /// PyTorch.
    Torch,
    /// Keras 3 `keras.ops`, backend-agnostic.
    Keras,
    /// TensorFlow 2 ops, for tf.keras.
    Tf,
    /// NumPy, with lossc's gradient as NAME_grad.
    Numpy,
}

impl TargetArg {
    pub fn target(self) -> lossc::EmitTarget {
        match self {
            TargetArg::Jax => lossc::EmitTarget::Jax,
            TargetArg::Torch => lossc::EmitTarget::Torch,
            TargetArg::Keras => lossc::EmitTarget::Keras,
            TargetArg::Tf => lossc::EmitTarget::Tf,
            TargetArg::Numpy => lossc::EmitTarget::Numpy,
        }
    }
}

/// Options of `lossc emit`.
#[derive(Debug, Clone, Args)]
pub struct EmitArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The framework to write for, e.g. `--target torch`.
    #[arg(long, value_enum, value_name = "TARGET")]
    pub target: TargetArg,

    #[command(flatten)]
    pub params: ParamArgs,

    #[command(flatten)]
    pub loss: TargetArgs,

    /// The float type of the analysis the docstring reports, e.g. `--dtype
    /// f64` (the code itself computes in the dtype of its arguments).
    #[arg(long, value_enum, value_name = "DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
}

/// Runs `emit`: the module on `out`; a program with errors is answered as
/// `check` answers it.
pub fn run(args: &EmitArgs, out: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let program = match program::compile(&source, &args.params, Format::Text, args.dtype.dtype(), out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    args.loss.validate(&program, &source.name)?;
    let options = lossc::EmitOptions {
        loss: args.loss.loss.clone(),
        wrt: args.loss.wrt.clone(),
        dtype: args.dtype.dtype(),
        file: Some(source.name.clone()),
        unguarded: false,
        no_check: false,
    };
    let emission = program
        .emit(&options)
        .map_err(|error| library_error(&error, &source.name))?;
    let written = out.write_all(emission.module(args.target.target()).as_bytes());
    finish_output(Status::Success, written)
}
