//! lossc-cli's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). Most run the built `lossc` binary. One file's tests:
//! `cargo test -p lossc-cli --test it probe::`.
//!
//! The fuzz suite (`tests/fuzz/`, `--test fuzz`) stays a binary of its own: its
//! memory monitor ends the process when the process's resident memory passes
//! its limit, and its watchdog counts a case as blocked when the process's CPU
//! time stands still, so other tests in its process would set off the one and
//! hide what the other looks for.

mod cache;
mod cli;
mod commands;
mod emit;
mod fast_eval;
mod fit;
mod inputs;
mod output;
mod plot;
mod probe;
/// README's tour, kept beside the workspace-level tests.
#[path = "../../../../tests/readme.rs"]
mod readme;
mod repl;
