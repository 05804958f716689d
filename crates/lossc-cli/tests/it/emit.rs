//! `lossc emit`: the module on stdout for each target, the options, and the
//! exit statuses; with `LOSSC_PYTHON` set, modules are byte-compiled by
//! Python (the frameworks run the modules of every example in
//! `crates/lossc-emit/tests/it/frameworks.rs`).

// A test that skips says so.
#![allow(clippy::print_stdout)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    command
}

fn emit(args: &[&str]) -> String {
    let output = lossc().arg("emit").args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_target_defines_the_loss_with_inputs_then_params_as_keywords() {
    for (target, import) in [
        ("jax", "import jax.numpy as jnp"),
        ("torch", "import torch"),
        ("keras", "from keras import ops"),
        ("tf", "import tensorflow as tf"),
        ("numpy", "import numpy as np"),
    ] {
        let module = emit(&["examples/focal.loss", "--target", target]);
        assert!(module.starts_with("\"\"\"focal: "), "{target}:\n{module}");
        assert!(module.contains(import), "{target}:\n{module}");
        assert!(
            module.contains("def focal(y_true, y_pred, *, gamma=2.0, alpha=0.25):"),
            "{target}:\n{module}"
        );
        assert!(module.contains("from examples/focal.loss"), "{target}:\n{module}");
        assert!(
            module.contains("y_pred  [0, 1], shape [N]"),
            "{target}: the domains are documented"
        );
    }
    let numpy = emit(&["examples/focal.loss", "--target", "numpy"]);
    assert!(numpy.contains("def focal_grad(y_true, y_pred, *, gamma=2.0, alpha=0.25):"));
}

#[test]
fn the_double_where_and_the_fixed_diagnostic_are_in_the_module() {
    let module = emit(&["examples/faulty_where_sqrt.loss", "--target", "torch"]);
    assert!(module.contains("torch.sqrt(torch.where(s > 0.0, s, 1.0))"), "{module}");
    assert!(
        module.contains("fixed in this code:\n    where-nan-gradient (warning, line 26)"),
        "{module}"
    );
    // The stable form the analyzer proves equal is applied.
    let module = emit(&["examples/faulty_log_cosh.loss", "--target", "jax"]);
    assert!(module.contains("jax.nn.softplus"), "{module}");
    assert!(!module.contains("jnp.cosh"), "{module}");
    assert!(module.contains("exp-overflow (error, line 25)"), "{module}");
}

#[test]
fn options_choose_the_loss_the_params_and_the_formula() {
    let module = emit(&[
        "examples/bce_logits.loss",
        "--target",
        "jax",
        "--loss",
        "bce_logits_softplus",
    ]);
    assert!(module.contains("def bce_logits_softplus(y_true, y_pred):"), "{module}");
    assert!(module.contains("jax.nn.softplus(y_pred)"), "{module}");
    let module = emit(&["examples/focal.loss", "--target", "keras", "--param", "gamma=3"]);
    assert!(module.contains("gamma=3.0"), "{module}");
    let module = emit(&["-e", "mean(square(y_true - y_pred))", "--target", "numpy"]);
    assert!(module.contains("def loss(y_true, y_pred):"), "{module}");
    assert!(module.contains("def loss_grad(y_true, y_pred):"), "{module}");
    let module = emit(&[
        "examples/huber.loss",
        "--target",
        "numpy",
        "--wrt",
        "y_pred",
        "--wrt",
        "delta",
    ]);
    assert!(module.contains("a tuple, in that order"), "{module}");
}

#[test]
fn bad_usage_exits_2_and_a_broken_program_exits_1() {
    lossc()
        .args(["emit", "examples/bce.loss"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--target"));
    lossc()
        .args(["emit", "examples/bce.loss", "--target", "mxnet"])
        .assert()
        .code(2);
    lossc()
        .args(["emit", "examples/bce.loss", "--target", "jax", "--loss", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no loss named `nope`"));
    lossc()
        .args(["emit", "-e", "mean(squre(y_pred))", "--target", "jax"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[unknown-name]"));
}

#[test]
fn the_modules_are_valid_python() {
    let Some(python) = std::env::var_os("LOSSC_PYTHON") else {
        println!("skipped: LOSSC_PYTHON is not set (.ci/run sets it: see python/venv.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for example in ["bce", "faulty_where_sqrt", "sparse_cce", "cosine_similarity"] {
        let path = Path::new("examples").join(format!("{example}.loss"));
        for target in ["jax", "torch", "keras", "tf", "numpy"] {
            let module = emit(&[path.to_str().unwrap(), "--target", target]);
            let stem = path.file_stem().unwrap().to_string_lossy();
            let file = dir.path().join(format!("{stem}_{target}.py"));
            std::fs::write(&file, module).unwrap();
            files.push(file);
        }
    }
    let output = std::process::Command::new(python)
        .args(["-m", "py_compile"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "py_compile: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
