//! The typed IR of lossc, and the table of built-ins every stage reads.
//!
//! **In:** an [`lossc_syntax::ast::Program`] and its source text.
//! **Out:** a [`Program`]: names resolved, `def`s expanded at their call sites,
//! every node typed (number or boolean) and shaped (symbolic and fixed
//! dimensions, NumPy broadcasting), spans kept so later stages can point at the
//! source; or every front-end error found, as [`Diagnostic`]s.
//! **Never:** simplifies, differentiates, evaluates or prints. It does no IO.
//!
//! [`builtins`] is the one place where a built-in function is defined.
//!
//! Tests: unit tests beside the code; the front-end error catalogue in the
//! workspace's `tests/frontend.rs`.

pub mod builtins;
mod domain;
mod lower;
mod number;
mod program;
pub mod rng;
pub mod types;

pub use builtins::{Along, Builtin, BuiltinSpec, Reduction, Signature};
pub use domain::{ROW_SUM_TOLERANCE, Rounding};
pub use lossc_diagnostics::{Code, Diagnostic, Span};
pub use lower::{Lowering, closest};
pub use number::{format_approx, format_number, loss_number};
pub use program::*;
pub use types::{Dim, DimId, Dtype, Kind, Shape, Type, broadcast};

/// Checks a parsed program and builds its IR, returned with the front end's
/// warnings; or every diagnostic, if any is an error.
pub fn lower(ast: &lossc_syntax::ast::Program, source: &str) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    lower::lower(ast, source)
}
