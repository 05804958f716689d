//! The symbolic core of lossc: exact gradients over the IR, and printing IR
//! back to `.loss` text.
//!
//! **In:** a checked [`lossc_ir::Program`].
//! **Out:** gradient expressions as new nodes of the same program
//! ([`gradient`]), and valid `.loss` source for any program or expression
//! ([`print`]).
//! **Never:** evaluates numbers (that is `lossc-reference`), reports diagnostics, or
//! does IO.
//!
//! Tests: `tests/gradients.rs` checks every built-in's derivative against
//! central finite differences evaluated by the reference interpreter.

pub mod grad;
pub mod print;
pub mod simplify;

pub use grad::{GradError, gradient, loss_gradient};
