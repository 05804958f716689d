//! lossc-kernel's integration tests: one module per file, all linked into this one
//! test binary (a binary per file would link the whole dependency graph once
//! per file). One file's tests:
//! `cargo test -p lossc-kernel --test it oracle::`.

mod oracle;
mod run_into;
mod ulp;

/// The one-argument elementwise built-ins and their sample intervals, from
/// the built-in table (shared with the workspace tests).
#[path = "../../../../tests/support/unary.rs"]
mod unary;

/// Every example `.loss` file, sorted by name, with its text.
pub fn examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "loss"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// An input's shape for test data: N = `n`, C = 5, other named dimensions 3.
pub fn shape(ir: &lossc::ir::Program, input: &lossc::ir::Input, n: usize) -> Vec<usize> {
    input
        .shape
        .iter()
        .map(|d| match d {
            lossc::ir::Dim::Fixed(k) => *k as usize,
            lossc::ir::Dim::Named(id) => match ir.dims[id.0 as usize].as_str() {
                "N" => n,
                "C" => 5,
                _ => 3,
            },
        })
        .collect()
}
