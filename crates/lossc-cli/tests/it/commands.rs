//! `grad`, `simplify` and `eval` as a user meets them: the programs they
//! print parse back, `grad`'s program evaluates to the same numbers as
//! `eval --grad` (the round trip), hand-computed values, the JSON contract of
//! docs/cli.md (non-finite numbers as strings), `.npy` and `.csv` inputs,
//! `--grad-out`, and one-line errors with exit status 2.

use std::path::Path;
use std::process::Output;

use super::{example, lossc, stderr_of, stdout_of};
use ndarray::{ArrayD, arr1, arr2};
use ndarray_npy::{read_npy, write_npy};
use serde_json::Value;
use tempfile::TempDir;

/// Runs `lossc ARGS`, expects exit status 0, and parses stdout as JSON.
#[track_caller]
fn json(args: &[&str]) -> Value {
    let output = lossc().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "lossc {args:?} failed: {}{}",
        stdout_of(&output),
        stderr_of(&output)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON value")
}

/// Exactly `error: MESSAGE` and a newline on stderr, nothing on stdout, exit 2;
/// the message contains each of `expected`.
#[track_caller]
fn assert_usage_error(args: &[&str], expected: &[&str]) {
    let output = lossc().args(args).output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "lossc {args:?}: {stderr}");
    assert_eq!(stdout_of(&output), "", "lossc {args:?}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    for part in expected {
        assert!(stderr.contains(part), "expected {part:?} in stderr: {stderr}");
    }
}

/// The numbers of a JSON number or (nested) list, with `"NaN"`, `"inf"` and
/// `"-inf"` read back as numbers.
fn numbers(value: &Value) -> Vec<f64> {
    match value {
        Value::Number(number) => vec![number.as_f64().unwrap()],
        Value::String(text) => vec![match text.as_str() {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other:?}"),
        }],
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => panic!("not a number or a list: {other}"),
    }
}

/// Each pair equal to `relative` (exactly equal when one is zero or not finite).
#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], relative: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (index, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let close = if a.is_finite() && e.is_finite() {
            (a - e).abs() <= relative * a.abs().max(e.abs())
        } else {
            a == e || (a.is_nan() && e.is_nan())
        };
        assert!(close, "item {index}: {a} vs {e} (in {actual:?} vs {expected:?})");
    }
}

const MSE_INPUTS: [&str; 4] = ["--input", "y_true=[1, 0, 1]", "--input", "y_pred=[0.9, 0.2, 0.8]"];

// ---- grad ----

#[test]
fn grad_prints_a_program_that_check_accepts() {
    let output = lossc()
        .args(["grad", "-e", "mean(square(y_true - y_pred))"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(stderr_of(&output), "");
    let program = stdout_of(&output);
    let output_line = program
        .lines()
        .find(|line| line.starts_with("output "))
        .unwrap_or_else(|| panic!("no output line in:\n{program}"));
    assert!(output_line.contains("d_loss_d_y_pred"), "{program}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grad.loss"), &program).unwrap();
    lossc()
        .current_dir(dir.path())
        .args(["check", "grad.loss"])
        .assert()
        .success();
}

#[test]
fn grad_json_has_the_expressions_the_program_and_the_report() {
    let json = json(&["grad", example("mse").to_str().unwrap(), "--format", "json"]);
    assert_eq!(json["loss"], "mse");
    assert_eq!(json["wrt"], serde_json::json!(["y_pred"]));
    let expression = json["gradients"]["y_pred"].as_str().unwrap();
    assert!(expression.contains("y_pred"), "{expression}");
    let program = json["program"].as_str().unwrap();
    assert!(
        program.contains(&format!("output d_mse_d_y_pred = {expression}")),
        "{program}"
    );
    let simplification = &json["simplification"];
    assert!(simplification["stopped"].is_string());
    assert!(simplification["iterations"].is_u64());
    assert!(simplification["nodes"].is_u64());
}

#[test]
fn grad_takes_several_wrt_and_params() {
    let file = example("weighted_bce");
    let json = json(&[
        "grad",
        file.to_str().unwrap(),
        "--wrt",
        "y_pred",
        "--wrt",
        "w_pos",
        "--param",
        "w_pos=3",
        "--format",
        "json",
    ]);
    assert_eq!(json["wrt"], serde_json::json!(["y_pred", "w_pos"]));
    let program = json["program"].as_str().unwrap();
    assert!(program.contains("param w_pos = 3"), "{program}");
    assert!(program.contains("output d_weighted_bce_d_y_pred ="), "{program}");
    assert!(program.contains("output d_weighted_bce_d_w_pos ="), "{program}");
}

#[test]
fn grad_of_a_program_with_errors_shows_them_and_exits_1() {
    let output = lossc()
        .args(["grad", "-e", "mean(squre(y_true - y_pred))"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = stdout_of(&output);
    assert!(
        stdout.starts_with("error[unknown-name]: cannot find function `squre`"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("error: could not compile `<formula>`: 1 error\n"),
        "{stdout}"
    );

    let output = lossc()
        .args(["grad", "-e", "mean(squre(y_pred))", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["diagnostics"][0]["code"], "unknown-name");
}

#[test]
fn grad_usage_errors_exit_2() {
    let mse = example("mse");
    let mse = mse.to_str().unwrap();
    assert_usage_error(&["grad", mse, "--wrt", "logits"], &["`--wrt logits`", "`y_pred`"]);
    assert_usage_error(&["grad", mse, "--loss", "focal"], &["no loss named `focal`"]);
    assert_usage_error(&["grad", mse, "--param", "gamma=2"], &["no param named `gamma`"]);
}

// ---- simplify ----

#[test]
fn simplify_output_parses_back_for_every_example() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "loss") {
            continue;
        }
        let output = lossc().arg("simplify").arg(&path).output().unwrap();
        assert!(
            output.status.success(),
            "simplify {}: {}",
            path.display(),
            stderr_of(&output)
        );
        let simplified = dir.path().join("simplified.loss");
        std::fs::write(&simplified, &output.stdout).unwrap();
        // The simplified program must pass the front end; the analyzer may
        // still (rightly) report the hazards of a faulty example.
        let check = lossc()
            .args(["check", "--format", "json"])
            .arg(&simplified)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&check.stdout).expect("check prints JSON");
        let front_end = [
            "syntax",
            "unknown-name",
            "arity",
            "type-mismatch",
            "shape-mismatch",
            "bad-axis",
            "recursive-def",
            "loss-shape",
            "duplicate-name",
            "bad-domain",
        ];
        let rejected: Vec<&serde_json::Value> = json["diagnostics"]
            .as_array()
            .expect("a list")
            .iter()
            .filter(|d| front_end.contains(&d["code"].as_str().unwrap_or("")))
            .collect();
        assert!(
            rejected.is_empty() && check.status.code() != Some(2),
            "simplify {} gave a program the front end rejects:\n{}\n{rejected:#?}",
            path.display(),
            stdout_of(&output),
        );
        count += 1;
    }
    assert!(count >= 20, "only {count} examples found in {}", examples.display());
}

#[test]
fn simplify_json_has_the_program_and_the_report() {
    let json = json(&["simplify", "-e", "mean(log(exp(y_pred)))", "--format", "json"]);
    let program = json["program"].as_str().unwrap();
    // A nameless loss prints nameless (`loss` is a reserved word) and compiles.
    assert!(program.contains("\nloss = mean(y_pred)"), "{program}");
    assert!(lossc::compile(program).is_ok(), "{program}");
    assert!(json["simplification"]["stopped"].is_string());
}

// ---- The round trip: `grad`'s program evaluates to `eval --grad`'s numbers ----

/// `eval FILE --grad` and `eval <grad FILE> --output d_<loss>_d_y_pred` agree
/// to 1e-12, in f64.
#[track_caller]
fn assert_round_trip(name: &str, loss: &str, y_true: &str, y_pred: &str) {
    let file = example(name);
    let file = file.to_str().unwrap();
    let y_true = format!("y_true={y_true}");
    let y_pred = format!("y_pred={y_pred}");
    let inputs = [
        "--input", &y_true, "--input", &y_pred, "--dtype", "f64", "--format", "json",
    ];

    let direct = json(&[&["eval", file, "--grad"], &inputs[..]].concat());
    assert_eq!(direct["name"], loss);
    let gradient = &direct["gradient"];
    assert_eq!(gradient["wrt"], "y_pred");
    let expected = numbers(&gradient["data"]);
    assert!(expected.iter().all(|value| value.is_finite()), "{name}: {expected:?}");
    assert!(expected.iter().any(|&value| value != 0.0), "{name}: {expected:?}");

    let output = lossc().args(["grad", file]).output().unwrap();
    assert!(output.status.success(), "grad {name}: {}", stderr_of(&output));
    let dir = tempfile::tempdir().unwrap();
    let grad_file = dir.path().join(format!("{name}_grad.loss"));
    std::fs::write(&grad_file, &output.stdout).unwrap();
    let output_name = format!("d_{loss}_d_y_pred");
    let via_program = json(
        &[
            &["eval", grad_file.to_str().unwrap(), "--output", &output_name],
            &inputs[..],
        ]
        .concat(),
    );
    assert_eq!(via_program["name"], output_name.as_str());
    assert_eq!(via_program["dims"], direct["dims"]);
    assert_eq!(
        via_program["value"].as_array().map(Vec::len),
        gradient["data"].as_array().map(Vec::len),
        "{name}: the output has the gradient's shape"
    );
    assert_close(&numbers(&via_program["value"]), &expected, 1e-12);
}

#[test]
fn round_trip_mse() {
    assert_round_trip("mse", "mse", "[1, 0, 1, -2.5]", "[0.9, 0.2, 0.8, 1.5]");
}

#[test]
fn round_trip_bce() {
    // y_pred at both ends of [0, 1] exercises the clip.
    assert_round_trip("bce", "bce", "[1, 0, 1, 0, 1]", "[0.9, 0.2, 0.3, 0, 1]");
}

#[test]
fn round_trip_cce_logits() {
    assert_round_trip(
        "cce_logits",
        "cce",
        "[[0, 1, 0], [1, 0, 0], [0.2, 0.3, 0.5]]",
        "[[1.5, -0.5, 2], [0, 3, -1], [10, -10, 0.25]]",
    );
}

#[test]
fn round_trip_huber() {
    // Errors on both sides of delta = 1.
    assert_round_trip("huber", "huber", "[0, 1, 2, -3]", "[0.5, -1, 2.25, 1]");
}

#[test]
fn round_trip_focal() {
    assert_round_trip("focal", "focal", "[1, 0, 1, 0]", "[0.9, 0.2, 0.35, 0.7]");
}

#[test]
fn round_trip_weighted_bce() {
    assert_round_trip("weighted_bce", "weighted_bce", "[1, 0, 1, 0]", "[0.9, 0.2, 0.35, 1]");
}

// ---- eval: values ----

#[test]
fn eval_mse_by_hand() {
    let mse = example("mse");
    let args = [
        &[
            "eval",
            mse.to_str().unwrap(),
            "--grad",
            "--dtype",
            "f64",
            "--format",
            "json",
        ],
        &MSE_INPUTS[..],
    ]
    .concat();
    let json = json(&args);
    assert_eq!(json["name"], "mse");
    assert_eq!(json["kind"], "loss");
    assert_eq!(json["dtype"], "f64");
    assert_eq!(json["dims"], serde_json::json!({"N": 3}));
    // (0.1^2 + 0.2^2 + 0.2^2) / 3 = (0.01 + 0.04 + 0.04) / 3.
    assert_close(&numbers(&json["value"]), &[0.03], 1e-12);
    assert!(json["value"].is_number());
    assert!(json["per_sample"].is_null());
    // 2 * (y_pred - y_true) / 3.
    let gradient = &json["gradient"];
    assert_eq!(gradient["wrt"], "y_pred");
    assert_eq!(gradient["shape"], serde_json::json!([3]));
    assert_close(&numbers(&gradient["data"]), &[-0.2 / 3.0, 0.4 / 3.0, -0.4 / 3.0], 1e-12);
    assert_eq!(json["gradients"].as_array().unwrap().len(), 1);
    assert_eq!(json["gradients"][0], json["gradient"]);
}

#[test]
fn eval_in_f32_by_default() {
    let mse = example("mse");
    let args = [&["eval", mse.to_str().unwrap(), "--format", "json"], &MSE_INPUTS[..]].concat();
    let json = json(&args);
    assert_eq!(json["dtype"], "f32");
    assert_close(&numbers(&json["value"]), &[0.03], 1e-6);
    assert!(json["gradient"].is_null());
    assert_eq!(json["gradients"], serde_json::json!([]));
}

#[test]
fn eval_text_is_a_short_summary() {
    let mse = example("mse");
    let assert = lossc()
        .args(["eval", mse.to_str().unwrap(), "--grad"])
        .args(MSE_INPUTS)
        .assert()
        .success()
        .stderr("");
    let text = stdout_of(assert.get_output());
    assert_eq!(
        text,
        "loss mse = 0.03 (f32, N = 3)\ngradient wrt y_pred, shape [3]:\n  [-0.0666667, 0.133333, -0.133333]\n"
    );
}

#[test]
fn eval_reports_per_sample_values_of_a_per_sample_loss() {
    let args = [
        &[
            "eval",
            "-e",
            "square(y_true - y_pred)",
            "--dtype",
            "f64",
            "--format",
            "json",
            "--grad",
        ],
        &MSE_INPUTS[..],
    ]
    .concat();
    let json = json(&args);
    assert_close(&numbers(&json["per_sample"]), &[0.01, 0.04, 0.04], 1e-12);
    // The value and gradient are those of the mean.
    assert_close(&numbers(&json["value"]), &[0.03], 1e-12);
    assert_close(
        &numbers(&json["gradient"]["data"]),
        &[-0.2 / 3.0, 0.4 / 3.0, -0.4 / 3.0],
        1e-12,
    );

    let text = lossc()
        .args(["eval", "-e", "square(y_true - y_pred)"])
        .args(MSE_INPUTS)
        .output()
        .unwrap();
    let text = stdout_of(&text);
    assert!(
        text.contains("per sample, shape [3] (the loss is their mean):\n  [0.01, 0.04, 0.04]\n"),
        "{text}"
    );
}

#[test]
fn eval_writes_non_finite_numbers_as_strings() {
    let log = json(&[
        "eval",
        "-e",
        "mean(log(y_pred))",
        "--input",
        "y_pred=[0, 1]",
        "--grad",
        "--format",
        "json",
    ]);
    assert_eq!(log["value"], "-inf");
    // d/dy mean(log y) = 1 / (2 y).
    assert_eq!(log["gradient"]["data"], serde_json::json!(["inf", 0.5]));

    let sqrt = json(&[
        "eval",
        "-e",
        "sqrt(y_pred)",
        "--input",
        "y_pred=[-1, 4]",
        "--format",
        "json",
    ]);
    assert_eq!(sqrt["per_sample"], serde_json::json!(["NaN", 2.0]));
    assert_eq!(sqrt["value"], "NaN");
}

#[test]
fn eval_of_an_output_gives_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.loss");
    std::fs::write(
        &file,
        "input x: real [N, C]\nloss l = mean(x)\noutput doubled = 2 * x\n",
    )
    .unwrap();
    let json = json(&[
        "eval",
        file.to_str().unwrap(),
        "--input",
        "x=[[1, 2, 3], [4, 5, 6]]",
        "--output",
        "doubled",
        "--format",
        "json",
    ]);
    assert_eq!(json["kind"], "output");
    assert_eq!(json["dims"], serde_json::json!({"N": 2, "C": 3}));
    assert_eq!(json["value"], serde_json::json!([[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]));
    assert!(json["per_sample"].is_null());
    assert!(json["gradient"].is_null());
    // Dimensions keep their declaration order (`N` before `C`).
    let text = stdout_of(
        &lossc()
            .args([
                "eval",
                file.to_str().unwrap(),
                "--input",
                "x=[[1, 2, 3], [4, 5, 6]]",
                "--output",
                "doubled",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(
        text,
        "output doubled, shape [2, 3] (f32, N = 2, C = 3):\n  [[2, 4, 6],\n   [8, 10, 12]]\n"
    );
}

#[test]
fn eval_takes_params_and_several_wrt() {
    let file = example("weighted_bce");
    let json = json(&[
        "eval",
        file.to_str().unwrap(),
        "--input",
        "y_true=[1, 0]",
        "--input",
        "y_pred=[0.5, 0.5]",
        "--param",
        "w_pos=3",
        "--wrt",
        "y_pred",
        "--wrt",
        "w_pos",
        "--dtype",
        "f64",
        "--format",
        "json",
    ]);
    // mean(3 * ln 2, ln 2) = 2 ln 2.
    assert_close(&numbers(&json["value"]), &[2.0 * std::f64::consts::LN_2], 1e-12);
    let gradients = json["gradients"].as_array().unwrap();
    assert_eq!(gradients.len(), 2);
    assert_eq!(gradients[0], json["gradient"]);
    assert_eq!(gradients[1]["wrt"], "w_pos");
    assert_eq!(gradients[1]["shape"], serde_json::json!([]));
    // d/dw_pos = mean(y_true * bce) = ln 2 / 2.
    assert_close(&numbers(&gradients[1]["data"]), &[std::f64::consts::LN_2 / 2.0], 1e-12);
}

// ---- eval: .npy and .csv inputs ----

#[test]
fn eval_reads_npy_files_of_any_number_type() {
    let dir = tempfile::tempdir().unwrap();
    write_npy(dir.path().join("y_true.npy"), &arr1(&[true, false, true])).unwrap();
    write_npy(dir.path().join("y_pred.npy"), &arr1(&[0.9_f32, 0.2, 0.8])).unwrap();
    write_npy(dir.path().join("y_true_int.npy"), &arr1(&[1_i64, 0, 1])).unwrap();
    write_npy(dir.path().join("y_pred_f64.npy"), &arr1(&[0.9_f64, 0.2, 0.8])).unwrap();
    let mse = example("mse");
    for (y_true, y_pred) in [("y_true.npy", "y_pred.npy"), ("y_true_int.npy", "y_pred_f64.npy")] {
        let json = lossc()
            .current_dir(dir.path())
            .args([
                "eval",
                mse.to_str().unwrap(),
                "--grad",
                "--dtype",
                "f64",
                "--format",
                "json",
            ])
            .args([
                "--input",
                &format!("y_true={y_true}"),
                "--input",
                &format!("y_pred={y_pred}"),
            ])
            .output()
            .unwrap();
        assert!(json.status.success(), "{}", stderr_of(&json));
        let json: Value = serde_json::from_slice(&json.stdout).unwrap();
        // f32 0.9 is not f64 0.9: compare loosely.
        assert_close(&numbers(&json["value"]), &[0.03], 1e-6);
        assert_close(
            &numbers(&json["gradient"]["data"]),
            &[-0.2 / 3.0, 0.4 / 3.0, -0.4 / 3.0],
            1e-6,
        );
    }
}

#[test]
fn eval_reads_matrices_from_npy_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    write_npy(dir.path().join("y_true.npy"), &arr2(&[[0.0_f64, 1.0], [1.0, 0.0]])).unwrap();
    std::fs::write(dir.path().join("logits.csv"), "1, 2\n3,4\n").unwrap();
    let cce = example("cce_logits");
    let output = lossc()
        .current_dir(dir.path())
        .args([
            "eval",
            cce.to_str().unwrap(),
            "--grad",
            "--dtype",
            "f64",
            "--format",
            "json",
        ])
        .args(["--input", "y_true=y_true.npy", "--input", "y_pred=logits.csv"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["dims"], serde_json::json!({"N": 2, "C": 2}));
    // Each sample's loss is log(1 + e^-1) and log(1 + e^1).
    let expected = ((1.0 + (-1.0_f64).exp()).ln() + (1.0 + 1.0_f64.exp()).ln()) / 2.0;
    assert_close(&numbers(&json["value"]), &[expected], 1e-12);
    assert_eq!(json["gradient"]["shape"], serde_json::json!([2, 2]));
    // (softmax - y_true) / N.
    let s = 1.0 / (1.0 + (-1.0_f64).exp());
    assert_close(
        &numbers(&json["gradient"]["data"]),
        &[(1.0 - s) / 2.0, (s - 1.0) / 2.0, (1.0 - s - 1.0) / 2.0, s / 2.0],
        1e-12,
    );
}

#[test]
fn a_one_column_csv_is_a_vector() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("y_pred.csv"), "0.9\n0.2\n0.8\n").unwrap();
    let mse = example("mse");
    let output = lossc()
        .current_dir(dir.path())
        .args(["eval", mse.to_str().unwrap(), "--dtype", "f64", "--format", "json"])
        .args(["--input", "y_true=[1, 0, 1]", "--input", "y_pred=y_pred.csv"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_close(&numbers(&json["value"]), &[0.03], 1e-12);
}

// ---- eval: --grad-out ----

/// A scratch directory, and `eval mse --grad-out TARGET` run inside it.
fn eval_grad_out(dir: &TempDir, target: &str, inputs: &[&str]) -> Output {
    let mse = example("mse");
    lossc()
        .current_dir(dir.path())
        .args([
            "eval",
            mse.to_str().unwrap(),
            "--dtype",
            "f64",
            "--format",
            "json",
            "--grad-out",
            target,
        ])
        .args(inputs)
        .output()
        .unwrap()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn grad_out_writes_the_gradient_as_npy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grad.npy"), b"an older file").unwrap();
    let output = eval_grad_out(&dir, "grad.npy", &MSE_INPUTS);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["grad_out"], "grad.npy");
    let written: ArrayD<f64> = read_npy(dir.path().join("grad.npy")).unwrap();
    assert_eq!(written.shape(), &[3]);
    let expected = [-0.2 / 3.0, 0.4 / 3.0, -0.4 / 3.0];
    assert_close(written.as_slice().unwrap(), &expected, 1e-12);
    assert_close(written.as_slice().unwrap(), &numbers(&json["gradient"]["data"]), 0.0);
    assert_eq!(file_names(dir.path()), ["grad.npy"], "no temporary file is left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("grad.npy"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "an ordinary file, not the temporary's 0600");
    }
}

#[test]
fn grad_out_is_in_the_evaluation_dtype_and_jit_changes_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let mse = example("mse");
    let mut printed = Vec::new();
    for jit in ["off", "auto"] {
        let output = lossc()
            .current_dir(dir.path())
            .args(["eval", mse.to_str().unwrap(), "--grad-out", "grad32.npy", "--jit", jit])
            .args(MSE_INPUTS)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        let written: ArrayD<f32> = read_npy(dir.path().join("grad32.npy")).unwrap();
        // Hand-derived: 2 (y_pred - y_true) / N in f32.
        let expected = [-0.2f32 / 3.0, 0.4 / 3.0, -0.4 / 3.0];
        for (w, e) in written.iter().zip(expected) {
            assert!((w - e).abs() <= 1e-7, "{w} vs {e}");
        }
        printed.push((String::from_utf8(output.stdout).unwrap(), written));
    }
    assert_eq!(printed[0], printed[1], "--jit auto printed or wrote other numbers");
}

#[test]
fn grad_out_writes_nothing_when_evaluation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let output = eval_grad_out(
        &dir,
        "grad.npy",
        &["--input", "y_true=[1, 0]", "--input", "y_pred=[0.5]"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(file_names(dir.path()), Vec::<String>::new());
}

#[test]
fn grad_out_leaves_no_temporary_file_when_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("grads")).unwrap();
    let output = eval_grad_out(&dir, "grads", &MSE_INPUTS);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("`grads`"), "{}", stderr_of(&output));
    assert_eq!(stdout_of(&output), "");
    assert_eq!(file_names(dir.path()), ["grads"]);
    assert_eq!(file_names(&dir.path().join("grads")), Vec::<String>::new());

    let output = eval_grad_out(&dir, "missing/grad.npy", &MSE_INPUTS);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("`missing/grad.npy`"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(file_names(dir.path()), ["grads"]);
}

// ---- eval: errors ----

fn mse_path() -> String {
    example("mse").to_str().unwrap().to_string()
}

#[test]
fn an_unknown_input_exits_2_naming_it() {
    let mse = mse_path();
    assert_usage_error(
        &["eval", &mse, "--input", "y_true=[1, 0]", "--input", "y_prd=[0.5, 0.5]"],
        &["`y_prd`", "`y_pred`"],
    );
}

#[test]
fn a_missing_input_exits_2_naming_it() {
    let mse = mse_path();
    assert_usage_error(
        &["eval", &mse, "--input", "y_true=[1, 0]"],
        &["`y_pred`", "--input y_pred="],
    );
}

#[test]
fn a_dimension_mismatch_exits_2_naming_both_inputs() {
    let mse = mse_path();
    assert_usage_error(
        &[
            "eval",
            &mse,
            "--input",
            "y_true=[1, 0, 1]",
            "--input",
            "y_pred=[0.5, 0.5]",
        ],
        &["`y_true`", "`y_pred`", "N = 3", "N = 2"],
    );
}

#[test]
fn a_ragged_array_exits_2_naming_the_input() {
    let mse = mse_path();
    assert_usage_error(
        &[
            "eval",
            &mse,
            "--input",
            "y_true=[[1, 0], [1]]",
            "--input",
            "y_pred=[0.5, 0.5]",
        ],
        &["input `y_true`", "ragged"],
    );
    assert_usage_error(
        &["eval", &mse, "--input", "y_true=[1, 0", "--input", "y_pred=[0.5, 0.5]"],
        &["input `y_true`", "not a JSON array"],
    );
}

#[test]
fn unreadable_files_exit_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.npy"), b"not an npy file").unwrap();
    std::fs::write(dir.path().join("bad.csv"), "1, 2\n3\n").unwrap();
    std::fs::write(dir.path().join("word.csv"), "1\nabc\n").unwrap();
    let mse = mse_path();
    let run = |source: &str| {
        let output = lossc()
            .current_dir(dir.path())
            .args(["eval", &mse, "--input", "y_true=[1, 0]", "--input", source])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(stdout_of(&output), "");
        let stderr = stderr_of(&output);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    let stderr = run("y_pred=missing.npy");
    assert!(stderr.contains("input `y_pred`: cannot read `missing.npy`"), "{stderr}");
    let stderr = run("y_pred=bad.npy");
    assert!(stderr.contains("`bad.npy` is not a readable .npy file"), "{stderr}");
    let stderr = run("y_pred=bad.csv");
    assert!(
        stderr.contains("`bad.csv` line 2 has 1 column but the first row has 2"),
        "{stderr}"
    );
    let stderr = run("y_pred=word.csv");
    assert!(
        stderr.contains("`word.csv` line 2, column 1: `abc` is not a number"),
        "{stderr}"
    );
}

#[test]
fn grad_of_an_output_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.loss");
    std::fs::write(&file, "loss l = mean(y_pred)\noutput o = 2 * y_pred\n").unwrap();
    let file = file.to_str().unwrap();
    assert_usage_error(
        &["eval", file, "--input", "y_pred=[1]", "--output", "o", "--grad"],
        &["`--grad`", "`o` is an `output`", "never differentiated"],
    );
    assert_usage_error(
        &["eval", file, "--input", "y_pred=[1]", "--output", "nope"],
        &["no loss or output named `nope`", "`l`, `o`"],
    );
}

#[test]
fn eval_of_a_program_with_errors_exits_1() {
    lossc()
        .args(["eval", "-e", "mean(squre(y_pred))", "--input", "y_pred=[1]"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("error[unknown-name]"));
}

// ---- Help ----

#[test]
fn every_command_has_help_with_examples() {
    for command in ["grad", "simplify", "eval"] {
        let output = lossc().args([command, "--help"]).output().unwrap();
        assert!(output.status.success());
        let help = stdout_of(&output);
        assert!(help.contains("Examples:"), "{command} --help:\n{help}");
        assert!(help.contains("Exit status"), "{command} --help:\n{help}");
    }
    let help = stdout_of(&lossc().args(["eval", "--help"]).output().unwrap());
    assert!(
        help.contains(
            "lossc eval examples/mse.loss --input y_true='[1, 0, 1]' --input y_pred='[0.9, 0.2, 0.8]' --grad"
        )
    );
    for option in [
        "--input",
        "--grad",
        "--wrt",
        "--output",
        "--loss",
        "--dtype",
        "--param",
        "--grad-out",
        "--format",
    ] {
        assert!(help.contains(option), "{option} missing from eval --help");
    }
}

#[test]
fn the_help_example_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    lossc()
        .current_dir(dir)
        .args([
            "eval",
            "examples/mse.loss",
            "--input",
            "y_true=[1, 0, 1]",
            "--input",
            "y_pred=[0.9, 0.2, 0.8]",
            "--grad",
        ])
        .assert()
        .success();
}

// ---- names ----

/// Statement words are names everywhere but at the start of a statement: a
/// program whose input is `output` and whose binding is `loss` checks and
/// evaluates like any other.
#[test]
fn statement_words_as_names_check_and_evaluate() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("names.loss");
    std::fs::write(
        &file,
        "input output: [0, 1] [N]\ninput y_true: {0, 1} [N]\nlet loss = square(y_true - output)\n\
         loss = mean(loss)\noutput output = loss\nwrt output\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let check = lossc().args(["check", file]).output().unwrap();
    assert!(check.status.success(), "{}{}", stdout_of(&check), stderr_of(&check));
    assert!(stdout_of(&check).starts_with("ok: "), "{}", stdout_of(&check));
    let json = json(&[
        "eval",
        file,
        "--grad",
        "--format",
        "json",
        "--dtype",
        "f64",
        "--input",
        "output=[0.5, 1]",
        "--input",
        "y_true=[1, 0]",
    ]);
    // mean([0.25, 1]) and its gradient 2 * (output - y_true) / 2.
    assert_close(&numbers(&json["value"]), &[0.625], 1e-12);
    assert_eq!(json["gradient"]["wrt"], "output");
    assert_close(&numbers(&json["gradient"]["data"]), &[-0.5, 1.0], 1e-12);
}
