//! Check + gradient + simplification of every example, timed with divan.
//!
//! Run: `cargo bench -p lossc --bench pipeline`. The target (issue 3) is a
//! median under 20 ms per example; the figures are in docs/performance.md.

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

/// Everything `lossc check`, `lossc grad` and `lossc simplify` do for one file.
#[divan::bench(args = NAMES)]
fn check_grad_simplify(bencher: divan::Bencher, name: &str) {
    let source = examples()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("examples/{name}.loss"));
    bencher.bench(|| {
        let diagnostics = lossc::check(&source, &lossc::CheckOptions::default()).expect("no bad option");
        let program = lossc::compile(&source).expect("a valid example");
        let gradient = program.gradient(None, &[]).expect("a loss");
        let simplified = program.simplify();
        divan::black_box((diagnostics, gradient.to_source(), simplified.source))
    });
}
