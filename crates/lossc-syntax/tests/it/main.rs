//! lossc-syntax's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). One file's tests:
//! `cargo test -p lossc-syntax --test it no_panic::`.

mod no_panic;
mod parse;

/// The language's tokens, shared with the fuzz suite.
#[path = "../../../../tests/support/tokens.rs"]
mod tokens;
