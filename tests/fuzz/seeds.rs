//! Valid inputs to mutate: the repository's example programs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.loss` files of a directory of the repository, sorted.
fn loss_files(dir: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|error| panic!("cannot read {dir}: {error}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "loss"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())))
        .collect()
}

/// The example programs, the passing fixtures and the corpus of real losses.
pub fn programs() -> Vec<String> {
    static PROGRAMS: OnceLock<Vec<String>> = OnceLock::new();
    PROGRAMS
        .get_or_init(|| {
            let mut all = loss_files("examples");
            all.extend(loss_files("tests/data/ok"));
            all.extend(loss_files("tests/corpus"));
            all
        })
        .clone()
}
