//! lossc-emit's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). `common` holds what they share. One file's tests:
//! `cargo test -p lossc-emit --test it frameworks::`.

mod common;
mod frameworks;
mod goldens;
mod guards;

/// The one-argument elementwise built-ins and their sample intervals, from
/// the built-in table (shared with the workspace tests).
#[path = "../../../../tests/support/unary.rs"]
mod unary;
