//! lossc-analysis's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). One file's tests:
//! `cargo test -p lossc-analysis --test it large_rows::`.

mod large_rows;
mod nested_selections;
