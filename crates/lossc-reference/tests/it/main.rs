//! lossc-reference's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). One file's tests:
//! `cargo test -p lossc-reference --test it examples::`.

mod examples;
mod semantics;
