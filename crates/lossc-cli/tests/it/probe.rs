//! `lossc probe` as a user meets it: what the sampler reaches (closed ends,
//! open ends excluded, f32 versus f64 rounding), the fractions and witnesses
//! of each failure class, the JSON report, determinism under `--seed`, and
//! usage errors with exit status 2.
//!
//! Most tests assert sampling facts, which do not depend on the analyzer; the
//! verdict of the cross-check (exit status 0 or 1) does, and the tests of it
//! that need the analyzer to report a particular code run against the real analyzer.

use std::path::{Path, PathBuf};

use super::{example, lossc, stderr_of, stdout_of};
use serde_json::Value;

/// Runs `lossc probe ARGS --format json`; the exit status is 0 or 1 (whatever
/// the cross-check says), nothing goes to stderr, and stdout is one JSON
/// object whose `predicted` agrees with the status.
#[track_caller]
fn probe_json(args: &[&str]) -> Value {
    let output = lossc()
        .arg("probe")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "lossc probe {args:?}: exit {code:?}: {}{}",
        stdout_of(&output),
        stderr_of(&output)
    );
    assert_eq!(stderr_of(&output), "", "lossc probe {args:?}");
    let json: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON value");
    assert_eq!(json["predicted"], Value::Bool(code == Some(0)), "{json}");
    json
}

/// Writes `source` to a scratch `.loss` file and probes it.
#[track_caller]
fn probe_source(source: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.loss");
    std::fs::write(&path, source).unwrap();
    let mut all = vec![path.to_str().unwrap()];
    all.extend_from_slice(args);
    probe_json(&all)
}

/// The report of one class.
#[track_caller]
fn class<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == name)
        .unwrap_or_else(|| panic!("no class {name} in {json}"))
}

fn count(json: &Value, name: &str) -> u64 {
    class(json, name)["count"].as_u64().unwrap()
}

/// A witness's value of `input` (a number).
#[track_caller]
fn witness(json: &Value, name: &str, input: &str) -> f64 {
    let value = &class(json, name)["witness"][input];
    value
        .as_f64()
        .unwrap_or_else(|| panic!("no number for `{input}` in the {name} witness: {json}"))
}

#[test]
fn log_of_a_closed_zero_end_is_infinite_at_exactly_zero() {
    let json = probe_source(
        "input y_pred: [0, 1]\nloss = mean(-log(y_pred))",
        &["--samples", "300", "--dtype", "f64"],
    );
    assert_eq!(json["samples"], 300);
    assert_eq!(json["dtype"], "f64");
    assert_eq!(json["dims"]["N"], 1);
    assert_eq!(json["wrt"], serde_json::json!(["y_pred"]));
    assert!(count(&json, "inf-value") > 0);
    assert_eq!(witness(&json, "inf-value", "y_pred"), 0.0);
    assert_eq!(class(&json, "inf-value")["value"], "inf");
    // Nothing in [0, 1] makes it NaN.
    assert_eq!(count(&json, "nan-value"), 0);
}

#[test]
fn an_open_zero_end_is_never_sampled_and_the_value_stays_finite() {
    for dtype in ["f32", "f64"] {
        let json = probe_source(
            "input y_pred: (0, 1]\nloss = mean(-log(y_pred))",
            &["--samples", "300", "--dtype", dtype],
        );
        assert_eq!(count(&json, "inf-value"), 0, "{dtype}: {json}");
        assert_eq!(count(&json, "nan-value"), 0, "{dtype}: {json}");
        // Finite but large: -log of the smallest denormal is 103 (f32) or 744 (f64),
        // and the gradient -1/y_pred overflows to -inf there.
        let nonfinite = witness(&json, "nonfinite-gradient", "y_pred");
        assert!(nonfinite > 0.0 && nonfinite < 1e-37, "{dtype}: a denormal: {nonfinite}");
        assert!(class(&json, "nonfinite-gradient")["value"].as_f64().unwrap() > 80.0);
        let exploding = witness(&json, "exploding-gradient", "y_pred");
        assert!(exploding > 0.0 && exploding < 1e-6, "{dtype}: {exploding}");
    }
}

#[test]
fn a_dead_branch_has_a_zero_gradient_on_half_of_the_domain() {
    let json = probe_source(
        "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0.5, square(y_pred), 0))",
        &["--samples", "1000"],
    );
    let zero = class(&json, "zero-gradient");
    let fraction = zero["uniform_fraction"].as_f64().unwrap();
    assert!((fraction - 0.5).abs() < 0.08, "uniform fraction {fraction}");
    let y = zero["witness"]["y_pred"].as_f64().unwrap();
    assert!((0.0..=0.5).contains(&y), "the witness is in the dead region: {y}");
    assert_eq!(zero["gradient"]["y_pred"].as_f64(), Some(0.0));
    // Nothing else goes wrong.
    for name in ["nan-value", "inf-value", "nonfinite-gradient", "exploding-gradient"] {
        assert_eq!(count(&json, name), 0, "{name}");
    }
}

#[test]
fn an_epsilon_that_vanishes_in_f32_is_an_infinity_there_and_an_explosion_in_f64() {
    // In f32, 1 + 1e-8 == 1: at y_pred = 1 the log's argument is exactly 0.
    // In f64 it is 1e-8: the loss is 18.4 and the gradient 1e8.
    let source = "input y_pred: [0, 1]\nloss = mean(-log(1 + 1e-8 - y_pred))";
    let f32_json = probe_source(source, &["--samples", "300", "--dtype", "f32"]);
    assert!(count(&f32_json, "inf-value") > 0);
    assert_eq!(witness(&f32_json, "inf-value", "y_pred"), 1.0);

    let f64_json = probe_source(source, &["--samples", "300", "--dtype", "f64"]);
    assert_eq!(count(&f64_json, "inf-value"), 0, "{f64_json}");
    assert_eq!(count(&f64_json, "nan-value"), 0, "{f64_json}");
    assert!(witness(&f64_json, "exploding-gradient", "y_pred") > 0.99);
}

#[test]
fn set_members_are_all_sampled_with_the_edges_of_the_other_inputs() {
    // The additive epsilon: the explosion needs y_true = 1 and y_pred = 0
    // together; the dead gradient is every y_pred where y_true = 0.
    let json = probe_json(&[example("faulty_log_eps").to_str().unwrap(), "--samples", "500"]);
    assert_eq!(json["loss"], "faulty_ce");
    assert_eq!(witness(&json, "exploding-gradient", "y_true"), 1.0);
    assert!(witness(&json, "exploding-gradient", "y_pred") < 1e-7);
    assert_eq!(witness(&json, "zero-gradient", "y_true"), 0.0);
    let zero = class(&json, "zero-gradient")["uniform_fraction"].as_f64().unwrap();
    assert!((zero - 0.5).abs() < 0.1, "{zero}");
    assert_eq!(count(&json, "nan-value") + count(&json, "inf-value"), 0);
}

#[test]
fn matrices_are_sampled_with_a_batch_of_one() {
    let json = probe_json(&[example("faulty_sqrt_distance").to_str().unwrap(), "--samples", "300"]);
    assert_eq!(json["dims"]["N"], 1);
    assert_eq!(json["dims"]["D"], 3);
    // sqrt at 0: identical vectors give a NaN gradient with a finite value.
    let nonfinite = class(&json, "nonfinite-gradient");
    let y_true = nonfinite["witness"]["y_true"].as_array().unwrap();
    let y_pred = nonfinite["witness"]["y_pred"].as_array().unwrap();
    assert_eq!(
        y_true.len(),
        3,
        "a witness row has the shape of one sample: {nonfinite}"
    );
    assert_eq!(
        y_true.iter().map(|v| v.as_f64()).collect::<Vec<_>>(),
        y_pred.iter().map(|v| v.as_f64()).collect::<Vec<_>>()
    );
}

#[test]
fn the_same_seed_draws_the_same_samples() {
    let file = example("focal");
    let args = [file.to_str().unwrap(), "--samples", "300", "--seed", "7"];
    assert_eq!(probe_json(&args), probe_json(&args));
    let other = probe_json(&[file.to_str().unwrap(), "--samples", "300", "--seed", "8"]);
    assert_eq!(other["seed"], 8);
}

#[test]
fn text_is_a_table_with_a_verdict() {
    let output = lossc()
        .args(["probe", "-e", "mean(square(y_true - y_pred))", "--samples", "200"])
        .output()
        .unwrap();
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 1)), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(
        text.starts_with("probe of loss `loss` in `<formula>`: 200 samples in f32 (seed 0, N = 1), gradient with respect to `y_pred`\n"),
        "{text}"
    );
    assert!(
        text.contains("\nclass                 samples   uniform  witness\n"),
        "{text}"
    );
    for name in [
        "nan-value",
        "inf-value",
        "nonfinite-gradient",
        "exploding-gradient",
        "zero-gradient",
    ] {
        assert!(text.lines().any(|line| line.starts_with(name)), "{name}: {text}");
    }
    assert!(text.contains("\ncheck reported: "), "{text}");
    let verdict_ok = text.ends_with("cross-check: every failure was predicted by check\n");
    assert_eq!(verdict_ok, code == Some(0), "{text}");
    if code == Some(1) {
        assert!(text.contains("\nerror: analyzer bug: "), "{text}");
    }
}

#[test]
fn a_program_with_errors_is_answered_as_check_answers_it() {
    let output = lossc().args(["probe", "-e", "mean(squre(y_pred))"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout_of(&output).starts_with("error[unknown-name]"),
        "{}",
        stdout_of(&output)
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let file = example("bce");
    let file = file.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--samples", "0"], "--samples"),
        (&["--samples", "many"], "--samples"),
        (&["--loss", "nope"], "no loss named `nope`"),
        (&["--wrt", "nope"], "no input or param named `nope`"),
        (&["--param", "nope=1"], "no param named `nope`"),
        (&["--dtype", "f16"], "--dtype"),
    ];
    for (args, expected) in cases {
        let output = lossc().args(["probe", file]).args(*args).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stdout_of(&output), "", "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let output = lossc().args(["probe", "missing.loss"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).starts_with("error: cannot read `missing.loss`"));

    // A domain with no f32 in it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.loss");
    std::fs::write(&path, "input y_pred: (0, 1e-46)\nloss = mean(y_pred)").unwrap();
    let output = lossc().args(["probe", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("holds no finite f32 value"),
        "{}",
        stderr_of(&output)
    );
    // A program without a loss.
    std::fs::write(&path, "output o = y_pred").unwrap();
    let output = lossc().args(["probe", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("defines no `loss`"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn help_shows_examples() {
    let output = lossc().args(["probe", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = stdout_of(&output);
    assert!(
        help.contains("Examples:\n  lossc probe examples/faulty_log_eps.loss"),
        "{help}"
    );
    for option in [
        "--samples",
        "--seed",
        "--dtype",
        "--loss",
        "--wrt",
        "--param",
        "--format",
    ] {
        assert!(help.contains(option), "{option}: {help}");
    }
}

// ------------------------------------------- the verdict: needs the analyzer

/// Exit status 0, and `predicted`.
#[track_caller]
fn assert_predicted(args: &[&str]) {
    let json = probe_json(args);
    assert_eq!(
        json["predicted"], true,
        "lossc probe {args:?}: {:#}",
        json["unpredicted"]
    );
}

#[test]
fn the_additive_epsilon_is_predicted_by_check() {
    // check reports exploding-gradient and dead-gradient.
    let file = example("faulty_log_eps");
    assert_predicted(&[file.to_str().unwrap()]);
    let json = probe_json(&[file.to_str().unwrap()]);
    let codes = json["diagnostics"].as_array().unwrap();
    assert!(codes.contains(&Value::from("exploding-gradient")), "{codes:?}");
    assert!(codes.contains(&Value::from("dead-gradient")), "{codes:?}");
}

#[test]
fn every_example_is_predicted_by_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "loss"))
        .collect();
    files.sort();
    let mut bugs = Vec::new();
    for file in &files {
        let program = std::fs::read_to_string(file).unwrap();
        let losses: Vec<&str> = program
            .lines()
            .filter_map(|line| line.strip_prefix("loss "))
            .filter_map(|rest| rest.split('=').next())
            .map(str::trim)
            .collect();
        for dtype in ["f32", "f64"] {
            for loss in &losses {
                let json = probe_json(&[
                    file.to_str().unwrap(),
                    "--samples",
                    "2000",
                    "--dtype",
                    dtype,
                    "--loss",
                    loss,
                ]);
                for miss in json["unpredicted"].as_array().unwrap() {
                    bugs.push(format!("{} {loss} ({dtype}): {miss}", file.display()));
                }
            }
        }
    }
    assert!(bugs.is_empty(), "unpredicted failures:\n{}", bugs.join("\n"));
}

#[test]
fn failures_at_large_magnitudes_are_predicted_by_overflow() {
    // MSE of inputs near 3.4e38 overflows in f32: that is `overflow`'s job.
    let json = probe_json(&[example("mse").to_str().unwrap(), "--samples", "1000"]);
    assert!(count(&json, "inf-value") > 0);
    let codes = json["diagnostics"].as_array().unwrap();
    assert!(codes.contains(&Value::from("overflow")), "{codes:?}");
    assert_eq!(json["predicted"], true, "{:#}", json["unpredicted"]);
}

#[test]
fn an_unguarded_log_is_predicted_in_both_dtypes() {
    for dtype in ["f32", "f64"] {
        assert_predicted(&["-e", "mean(-(y_true * log(y_pred)))", "--dtype", dtype]);
        assert_predicted(&[example("readme_bce").to_str().unwrap(), "--dtype", dtype]);
        assert_predicted(&[example("faulty_focal_noclip").to_str().unwrap(), "--dtype", dtype]);
    }
}
