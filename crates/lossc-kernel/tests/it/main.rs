//! lossc-kernel's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). One file's tests:
//! `cargo test -p lossc-kernel --test it oracle::`.

mod oracle;
mod run_into;
mod ulp;
