//! `eval` on the fast evaluator as a user meets it: `.npy` inputs of every
//! element type, C and Fortran order, memory-mapped; clear errors for an
//! unsupported dtype, a truncated file and disagreeing shapes; NaN and
//! infinity in inputs noted, or refused with `--deny-nonfinite-input`; and
//! `lossc bench`'s JSON; `--jit` with and without a compiler.
#![allow(clippy::print_stderr)] // A skipped check says why.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use ndarray::{Array2, ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::write_npy;
use serde_json::Value;

fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.env_remove("NO_COLOR").env_remove("TERM");
    command
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

fn run(args: &[&str]) -> Output {
    lossc().args(args).output().unwrap()
}

#[track_caller]
fn json(args: &[&str]) -> Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "lossc {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[track_caller]
fn usage_error(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "lossc {args:?}: {stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// Writes a `.npy` file by hand: `descr`, `fortran`, `shape` and raw `data`.
fn raw_npy(path: &Path, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) {
    let shape_text = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_text}, }}",
        if fortran { "True" } else { "False" }
    );
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_inputs_of_every_type_and_order_give_the_json_inputs_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let cce = example("cce_logits");
    let truth: [[f64; 3]; 2] = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]];
    let logits: [[f64; 3]; 2] = [[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]];
    let expected = json(&[
        "eval",
        cce.to_str().unwrap(),
        "--input",
        "y_true=[[0, 1, 0], [1, 0, 0]]",
        "--input",
        "y_pred=[[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]]",
        "--grad",
        "--format",
        "json",
    ]);
    let truth_f64 = Array2::from_shape_fn((2, 3), |(i, j)| truth[i][j]);
    let logits_f64 = Array2::from_shape_fn((2, 3), |(i, j)| logits[i][j]);
    // Fortran order: the same logical array, columns first in memory.
    let logits_fortran = Array2::from_shape_vec((2, 3).f(), logits_f64.t().iter().copied().collect()).unwrap();
    assert_eq!(logits_fortran, logits_f64);
    let files: Vec<(&str, PathBuf)> = vec![
        ("truth_i64.npy", {
            let p = dir.path().join("truth_i64.npy");
            write_npy(&p, &truth_f64.mapv(|v| v as i64)).unwrap();
            p
        }),
        ("truth_bool.npy", {
            let p = dir.path().join("truth_bool.npy");
            write_npy(&p, &truth_f64.mapv(|v| v == 1.0)).unwrap();
            p
        }),
        ("truth_u8.npy", {
            let p = dir.path().join("truth_u8.npy");
            write_npy(&p, &truth_f64.mapv(|v| v as u8)).unwrap();
            p
        }),
    ];
    let pred_files: Vec<PathBuf> = {
        let f32_path = dir.path().join("pred_f32.npy");
        write_npy(&f32_path, &logits_f64.mapv(|v| v as f32)).unwrap();
        let fortran_path = dir.path().join("pred_fortran.npy");
        let bytes: Vec<u8> = logits_f64.t().iter().flat_map(|v| v.to_le_bytes()).collect();
        raw_npy(&fortran_path, "<f8", true, &[2, 3], &bytes);
        let big_path = dir.path().join("pred_big.npy");
        let bytes: Vec<u8> = logits_f64.iter().flat_map(|v| (*v as f32).to_be_bytes()).collect();
        raw_npy(&big_path, ">f4", false, &[2, 3], &bytes);
        vec![f32_path, fortran_path, big_path]
    };
    for (_, truth_path) in &files {
        for pred_path in &pred_files {
            let got = json(&[
                "eval",
                cce.to_str().unwrap(),
                "--input",
                &format!("y_true={}", truth_path.display()),
                "--input",
                &format!("y_pred={}", pred_path.display()),
                "--grad",
                "--format",
                "json",
            ]);
            assert_eq!(got["value"], expected["value"], "{truth_path:?} {pred_path:?}");
            assert_eq!(got["gradient"], expected["gradient"], "{truth_path:?} {pred_path:?}");
        }
    }
}

#[test]
fn unusable_npy_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mse = example("mse");
    let mse = mse.to_str().unwrap();
    let complex = dir.path().join("complex.npy");
    raw_npy(&complex, "<c8", false, &[2], &[0u8; 16]);
    let stderr = usage_error(&[
        "eval",
        mse,
        "--input",
        "y_true=[1, 0]",
        "--input",
        &format!("y_pred={}", complex.display()),
    ]);
    assert!(stderr.contains("has dtype complex64 (`<c8`)"), "{stderr}");
    assert!(stderr.contains("input `y_pred`"), "{stderr}");

    let strings = dir.path().join("strings.npy");
    raw_npy(&strings, "<U3", false, &[2], &[0u8; 24]);
    let stderr = usage_error(&[
        "eval",
        mse,
        "--input",
        "y_true=[1, 0]",
        "--input",
        &format!("y_pred={}", strings.display()),
    ]);
    assert!(stderr.contains("has dtype unicode string"), "{stderr}");

    let truncated = dir.path().join("truncated.npy");
    raw_npy(&truncated, "<f4", false, &[4], &[0u8; 10]);
    let stderr = usage_error(&[
        "eval",
        mse,
        "--input",
        "y_true=[1, 0, 1, 0]",
        "--input",
        &format!("y_pred={}", truncated.display()),
    ]);
    assert!(
        stderr.contains(
            "is truncated: its header promises shape (4) of float32, 16 bytes of data, but the file holds 10"
        ),
        "{stderr}"
    );

    let header_cut = dir.path().join("cut.npy");
    let mut bytes = std::fs::read(&truncated).unwrap();
    bytes.truncate(30);
    std::fs::write(&header_cut, bytes).unwrap();
    let stderr = usage_error(&[
        "eval",
        mse,
        "--input",
        "y_true=[1]",
        "--input",
        &format!("y_pred={}", header_cut.display()),
    ]);
    assert!(
        stderr.contains("is not a readable .npy file: it is truncated in its header"),
        "{stderr}"
    );
}

#[test]
fn disagreeing_shapes_name_both_inputs_and_the_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.npy");
    write_npy(&pred, &ArrayD::from_shape_vec(IxDyn(&[4]), vec![0.5f32; 4]).unwrap()).unwrap();
    let stderr = usage_error(&[
        "eval",
        example("mse").to_str().unwrap(),
        "--input",
        "y_true=[1, 0, 1]",
        "--input",
        &format!("y_pred={}", pred.display()),
    ]);
    assert_eq!(stderr, "error: `y_true` has N = 3 but `y_pred` has N = 4\n");
}

#[test]
fn nonfinite_inputs_are_noted_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pred = dir.path().join("pred.npy");
    let data = vec![0.5f32, f32::NAN, 0.25, f32::INFINITY, f32::NAN];
    write_npy(&pred, &ArrayD::from_shape_vec(IxDyn(&[5]), data).unwrap()).unwrap();
    let mse = example("mse");
    let args = [
        "eval",
        mse.to_str().unwrap(),
        "--input",
        "y_true=[1, 0, 1, 0, 1]",
        "--input",
        &format!("y_pred={}", pred.display()),
    ];
    let output = run(&args);
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("note: input `y_pred` holds 2 NaN (the first at [1]) and 1 infinite (the first at [3])"),
        "{stderr}"
    );
    let mut denied = args.to_vec();
    denied.push("--deny-nonfinite-input");
    let stderr = usage_error(&denied);
    assert!(stderr.contains("input `y_pred` holds 2 NaN"), "{stderr}");
    assert!(stderr.contains("--deny-nonfinite-input"), "{stderr}");
}

/// Data outside the declared domains is evaluated, with a warning naming the
/// input, the count and the first; inside them nothing is said.
#[test]
fn data_outside_the_declared_domains_is_evaluated_with_a_warning() {
    let bce = example("bce");
    let run_with = |t: &str, p: &str| {
        let output = run(&[
            "eval",
            bce.to_str().unwrap(),
            "--input",
            &format!("y_true={t}"),
            "--input",
            &format!("y_pred={p}"),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    assert_eq!(run_with("[1, 0, 1]", "[0.9, 0.2, 0.5]"), "");
    let stderr = run_with("[1, 0.5, 1]", "[0.9, 0.2, 1.5]");
    assert!(
        stderr.contains(
            "warning: input `y_true` holds 1 value outside its declared domain {0, 1} (the first, 0.5, at [1])"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("input `y_pred` holds 1 value outside"), "{stderr}");
    assert!(stderr.contains("the first, 1.5, at [2]"), "{stderr}");
    let strict = usage_error(&[
        "eval",
        bce.to_str().unwrap(),
        "--input",
        "y_true=[1, 0.5, 1]",
        "--input",
        "y_pred=[0.9, 0.2, 0.5]",
        "--strict-domains",
    ]);
    assert!(
        strict.contains("input `y_true` holds 1 value outside") && strict.contains("--strict-domains"),
        "{strict}"
    );

    // Rows: each element in [0, 1], but the second row does not sum to 1.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("cce.loss");
    std::fs::write(
        &source,
        "input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\n\
         loss = mean(-sum(y_true * log(clip(y_pred, 1e-7, 1)), axis=-1))\n",
    )
    .unwrap();
    let output = run(&[
        "eval",
        source.to_str().unwrap(),
        "--input",
        "y_true=[[1, 0], [1, 1], [0, 1]]",
        "--input",
        "y_pred=[[0.5, 0.5], [0.5, 0.2], [0.2, 0.8]]",
    ]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "input `y_true` holds 1 row that does not hold exactly one 1, as `onehot` rows must (the first at [1])"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("input `y_pred` holds 1 row that does not sum to 1, as `simplex` rows must (the first at [1])"),
        "{stderr}"
    );
}

/// An `(N, 1)` column for an `[N]` input is refused with the way out.
#[test]
fn a_column_for_a_vector_input_says_to_drop_its_axis() {
    let stderr = usage_error(&[
        "eval",
        example("mse").to_str().unwrap(),
        "--input",
        "y_true=[[1], [0]]",
        "--input",
        "y_pred=[0.5, 0.2]",
    ]);
    assert!(stderr.contains("its last axis has size 1: drop it"), "{stderr}");
    assert!(stderr.contains("y.squeeze(-1)"), "{stderr}");
}

#[test]
fn bench_reports_the_contract_keys() {
    let report = json(&[
        "bench",
        example("bce").to_str().unwrap(),
        "--n",
        "1000",
        "--threads",
        "2",
        "--runs",
        "3",
        "--triad",
        "--format",
        "json",
    ]);
    for key in [
        "loss",
        "dtype",
        "n",
        "threads",
        "median_ms_value",
        "median_ms_value_and_grad",
    ] {
        assert!(report.get(key).is_some(), "{key} missing from {report}");
    }
    assert_eq!(report["loss"], "bce");
    assert_eq!(report["dtype"], "f32");
    assert_eq!(report["n"], 1000);
    assert_eq!(report["threads"], 2);
    assert!(report["median_ms_value_and_grad"].as_f64().unwrap() > 0.0);
    assert!(report["triad_gb_per_s"].as_f64().unwrap() > 0.0);

    let output = run(&[
        "bench",
        example("cce_logits").to_str().unwrap(),
        "--n",
        "500",
        "--dim",
        "C=4",
        "--dtype",
        "f64",
        "--runs",
        "2",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("cce (f64, N = 500, 2000 elements"), "{text}");
    assert!(text.contains("loss + gradient"), "{text}");
    assert!(text.contains("GB/s"), "{text}");
}

/// `--jit`: generated code when a compiler runs, the interpreter with a note
/// (`auto`) or an error (`on`) when none does, and the same numbers.
#[test]
fn bench_and_eval_fall_back_without_a_compiler() {
    let cache = tempfile::tempdir().unwrap();
    let bench = |jit: &str, rustc: &str| {
        lossc()
            .env("LOSSC_RUSTC", rustc)
            .env("LOSSC_JIT_CACHE", cache.path())
            .args(["bench", example("mse").to_str().unwrap(), "--n", "2000", "--runs", "2"])
            .args(["--format", "json", "--jit", jit])
            .output()
            .unwrap()
    };
    let missing = "/nonexistent/rustc";
    let output = bench("auto", missing);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("running interpreted (--jit auto)"), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["compiled_passes"], 0);

    let output = bench("on", missing);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--jit on") && stderr.contains("/nonexistent/rustc"),
        "{stderr}"
    );

    // With the compiler `cargo` itself uses (when there is one).
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = bench("auto", &rustc);
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    if report["compiled_passes"] == 0 {
        eprintln!("no Rust compiler: generated code not exercised");
        return;
    }
    assert_eq!(report["compiled_passes"], 1, "MSE's one pass");
    let eval = |jit: &str| {
        lossc()
            .env("LOSSC_RUSTC", &rustc)
            .env("LOSSC_JIT_CACHE", cache.path())
            .args([
                "eval",
                example("bce").to_str().unwrap(),
                "--grad",
                "--format",
                "json",
                "--jit",
                jit,
            ])
            .args([
                "--input",
                "y_true=[1, 0, 1, 0, 1]",
                "--input",
                "y_pred=[0.9, 0.2, 0, 1, 0.5]",
            ])
            .output()
            .unwrap()
    };
    let (off, on) = (eval("off"), eval("on"));
    assert!(on.status.success(), "{}", String::from_utf8_lossy(&on.stderr));
    assert_eq!(off.stdout, on.stdout, "generated code changed a number");
}
