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

// Helpers shared by the modules that run the binary as a user does.
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The `lossc` binary, run with a clean colour environment.
pub fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.env_remove("NO_COLOR").env_remove("TERM");
    command
}

/// The workspace's `examples/` directory.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}
