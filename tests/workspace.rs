//! The workspace-level tests, run as tests of `crates/lossc`: one module per
//! file, all linked into this one test binary (a binary per file would link
//! the whole dependency graph once per file). One file's tests:
//! `cargo test -p lossc --test workspace docs::`.
//!
//! `readme.rs` and `fuzz/` beside them are tests of `lossc-cli`, which run its
//! binary (`crates/lossc-cli/tests/it/main.rs` and `--test fuzz`).

mod analysis;
mod corpus;
mod docs;
mod frontend;
mod gradients;
mod jax_reference;
mod properties;
mod row_domains;
mod unselected;

/// What the tests share with the fuzz suite.
mod support {
    pub mod programs;
    pub mod unary;
}
