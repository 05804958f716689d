//! Emitted modules kept for review in `tests/out/<target>/<file>.py`: each
//! test emits the file again and compares. After an intended change, run
//! `LOSSC_BLESS=1 cargo test -p lossc-emit --test it goldens::` and review the diff.

use lossc::{EmitOptions, EmitTarget};

use crate::common;

/// The files whose modules are kept: plain, per-sample, multi-class, a
/// guarded `where`, a guarded `maximum`, params, a stable-form fix.
const FILES: &[&str] = &[
    "examples/bce.loss",
    "examples/focal.loss",
    "examples/sparse_cce.loss",
    "examples/faulty_where_sqrt.loss",
    "examples/faulty_log_cosh.loss",
    "tests/corpus/bce_clamp_log_minus_100.loss",
    "inline/per_sample_cce.loss",
];

#[test]
fn emitted_modules_match_the_goldens() {
    let bless = std::env::var_os("LOSSC_BLESS").is_some();
    let mut stale = Vec::new();
    for file in FILES {
        let source = match common::EXTRA.iter().find(|(name, _)| name == file) {
            Some((_, source)) => source.to_string(),
            None => std::fs::read_to_string(common::workspace().join(file)).expect("the file exists"),
        };
        let program = lossc::compile(&source).expect("it compiles");
        let options = EmitOptions {
            file: Some(file.to_string()),
            ..EmitOptions::default()
        };
        let emission = program.emit(&options).expect("it emits");
        for &target in EmitTarget::ALL {
            let stem = std::path::Path::new(file)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/out")
                .join(target.as_str())
                .join(format!("{stem}.py"));
            let module = emission.module(target);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &module).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(module.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "emitted modules differ from the goldens (LOSSC_BLESS=1 rewrites them; review the diff):\n{}",
        stale.join("\n")
    );
}
