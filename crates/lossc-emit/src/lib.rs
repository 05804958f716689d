//! lossc's code generator: one loss of a checked program as a readable,
//! NaN-safe Python module for JAX, PyTorch, Keras 3 (`keras.ops`),
//! TensorFlow 2 or NumPy (docs/cli.md, `emit`).
//!
//! **In:** a checked [`lossc_ir::Program`], its source text, the loss and
//! `wrt` variables, and the diagnostics `check` gives for it ([`Options`]).
//! **Out:** an [`Emission`]: the prepared loss, from which
//! [`Emission::module`] writes the module for any [`Target`]. The module
//! defines `def NAME(inputs..., *, params=defaults)`; a docstring says where
//! it came from, the declared domains, and which diagnostics the emitted code
//! fixes and which it keeps.
//! **Never:** does IO, or changes what the loss computes: every rewrite it
//! makes is equal to the original for every input (the analyzer's
//! proven-equal fixes, the e-graph's simplification, and the guards).
//!
//! How ([`prepare`]): the analyzer's stable-form fixes (`log(cosh(x))` to
//! `abs(x) + softplus(-2 * abs(x)) - log(2)`, ...) are applied to the source
//! when evaluation confirms them; the loss is simplified by the e-graph (which
//! prefers the stable primitives), keeping the source's `let` names; for the
//! frameworks with autodiff, [`guard`] adds the "double where" to every
//! selection whose branch contains an operation that can be non-finite. Each
//! built-in is written through its spelling in the built-in table
//! (`lossc_ir::builtins`, the `emit` column; [`template`] documents the
//! language); [`python`] prints Python with Python's precedence.
//!
//! ```
//! let source = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0, -log(y_pred), 0))";
//! let ast = lossc_syntax::parse(source).unwrap();
//! let (program, _) = lossc_ir::lower(&ast, source).unwrap();
//! let options = lossc_emit::Options::new("loss", program.wrt.clone());
//! let emission = lossc_emit::prepare(&program, source, &options).unwrap();
//! let module = emission.module(lossc_emit::Target::Jax);
//! assert!(module.contains("def loss(y_pred):"));
//! assert!(module.contains("jnp.log(jnp.where(y_pred > 0.0, y_pred, 1.0))"));
//! ```
//!
//! Tests: unit tests beside the code; `tests/it/guards.rs` checks, with the
//! reference interpreter, that the guarded program equals the original and
//! that its framework-style gradient is finite wherever lossc's is, for every
//! example and corpus file; `tests/it/goldens.rs` compares modules with
//! `tests/out/<target>/`; `tests/it/frameworks.rs` runs the modules in the real
//! frameworks (when `LOSSC_PYTHON` has them).

pub mod guard;
mod module;
mod prepare;
pub mod python;
pub mod target;
pub mod template;

use lossc_diagnostics::Diagnostic;
use lossc_ir::{Dtype, Var};

pub use module::{Finding, Status};
pub use prepare::{Emission, prepare};
pub use target::Target;

/// What to emit.
#[derive(Debug, Clone)]
pub struct Options {
    /// The loss, by name.
    pub loss: String,
    /// The variables the loss is differentiated with respect to (the
    /// reference for the dtype, the guards, and the NumPy gradient).
    pub wrt: Vec<Var>,
    /// The float type of the analysis quoted in the docstring.
    pub dtype: Dtype,
    /// The findings of `lossc check` for this loss, as the docstring reports
    /// them; their stable-form fixes are applied.
    pub diagnostics: Vec<Diagnostic>,
    /// The file name the docstring names.
    pub file: Option<String>,
    /// Add the "double where" guards (the default). Off, the module is the
    /// plain transcription whose framework gradient can be NaN.
    pub guards: bool,
    /// Whether `diagnostics` are the result of `lossc check` (the default);
    /// if not, the docstring says the loss was not checked.
    pub checked: bool,
}

impl Options {
    pub fn new(loss: &str, wrt: Vec<Var>) -> Options {
        Options {
            loss: loss.to_string(),
            wrt,
            dtype: Dtype::F32,
            diagnostics: Vec::new(),
            file: None,
            guards: true,
            checked: true,
        }
    }
}

/// Why a loss cannot be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("no loss named `{0}`")]
    UnknownLoss(String),
    /// A dimension used as a number is not the size of any input's axis.
    #[error("the dimension `{0}` is not the size of any input's axis, so the emitted code cannot read it")]
    UnboundDim(String),
    #[error("the loss reads no input: emitted code takes its dtype from an input")]
    NoInput,
}
