//! The fuzz suite: a target per entry point of lossc, on stable Rust, run by
//! `cargo test` in a bounded time (about 7 minutes on two shared cores in a
//! debug build, most of it the corpus replay), and the corpus of every input that once failed, replayed on every
//! run. CONTRIBUTING.md says how to run a long campaign.
//!
//! - [`source`]: `.loss` text through the `lossc` facade (compile, check,
//!   gradient, simplify, emit for every target, probe, eval);
//! - [`data`]: `.npy`, `.csv` and inline JSON through `lossc_cli::data` and
//!   `lossc eval`;
//! - [`repl`]: sessions through `lossc_cli::repl`;
//! - [`args`]: command lines through clap and `lossc_cli::execute`;
//! - [`bombs`]: resource bombs at generated sizes, in a child process;
//! - [`corpus`]: `tests/fuzz/corpus/`, replayed through the binary.
//!
//! Every case runs under a watchdog (10 s of CPU time in a release build, 30 s
//! in a debug build: [`harness::CPU_LIMIT`]) and a memory limit (1 GiB of
//! resident memory: [`harness::MEMORY_LIMIT`]); a failure names its input,
//! shrunk to a minimal one.

// The suite reports its progress and a memory bomb's inputs on stderr, and
// ends the process when memory runs over the limit.
#![allow(clippy::print_stderr, clippy::exit)]

mod args;
mod bombs;
mod corpus;
mod data;
mod harness;
mod mutate;
mod repl;
mod run;
mod seeds;
mod source;

#[path = "../support/programs.rs"]
mod programs;
#[path = "../support/tokens.rs"]
mod tokens;
#[path = "../support/unary.rs"]
mod unary;
