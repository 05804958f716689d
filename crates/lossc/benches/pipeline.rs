//! The compile-time pipeline on every example, timed with divan: compiling,
//! differentiating and simplifying (`lossc grad`, `lossc simplify`), and the
//! whole `lossc check` with the static analysis.
//!
//! Run: `cargo bench -p lossc --bench pipeline`. Targets: a median under
//! 20 ms for grad + simplify and under 50 ms for the analysis, per example;
//! the figures are in docs/compile-speed.md.

use std::path::PathBuf;

fn main() {
    divan::main();
}

fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "loss"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().expect("a name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect()
}

const NAMES: &[&str] = &[
    "bce",
    "bce_logits",
    "cce_logits",
    "cosine_similarity",
    "dice",
    "focal",
    "gaussian_nll",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mae",
    "mse",
    "msle",
    "poisson",
    "quantile",
    "sparse_cce",
    "squared_hinge",
    "weighted_bce",
];

fn source(name: &str) -> String {
    examples()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("examples/{name}.loss"))
}

/// What `lossc grad` and `lossc simplify` do for one file: compile, take the
/// exact gradient, simplify both.
#[divan::bench(args = NAMES)]
fn grad_simplify(bencher: divan::Bencher, name: &str) {
    let source = source(name);
    bencher.bench(|| {
        let program = lossc::compile(&source).expect("a valid example");
        let gradient = program.gradient(None, &[]).expect("a loss");
        let simplified = program.simplify();
        divan::black_box((gradient.to_source(), simplified.source))
    });
}

/// What `lossc check` does for one file: the front end and the analysis.
#[divan::bench(args = NAMES)]
fn check(bencher: divan::Bencher, name: &str) {
    let source = source(name);
    bencher.bench(|| {
        let diagnostics = lossc::check(&source, &lossc::CheckOptions::default()).expect("no bad option");
        divan::black_box(diagnostics)
    });
}
