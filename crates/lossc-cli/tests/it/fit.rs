//! `lossc fit` as a user meets it: the text report (table, sparkline,
//! verdict; one line per seed and the count over seeds), the JSON shape, the
//! exit statuses of the three experiments of the common Keras question and
//! of losses unbounded below over ten seeds, every verdict's words held to
//! its numbers, `.npy` data, `--plot`, one run per seed, bad
//! inputs (exit status 2), and the same training in Keras 3 with the loss
//! `lossc emit --target keras` writes (when `LOSSC_PYTHON` has Keras and JAX;
//! `tests/it/fit_keras.py`).

// The Keras comparison says what it ran, or why it skipped, on stdout.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Output;

use super::lossc;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use ndarray_npy::write_npy;
use serde_json::{Value, json};
use tempfile::TempDir;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Runs `lossc fit ARGS`, expects exit status `status`, returns the output.
#[track_caller]
fn fit(args: &[&str], status: i32) -> Output {
    let output = lossc().arg("fit").args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(status),
        "lossc fit {args:?}:\n{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// Runs `lossc fit ARGS --format json`, expects `status`, parses stdout.
#[track_caller]
fn fit_json(args: &[&str], status: i32) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let output = fit(&args, status);
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON value")
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}

#[test]
fn the_text_report_has_a_table_a_sparkline_and_the_verdict() {
    let output = fit(&[path(&example("faulty_log_eps")), "--seed", "0"], 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("fit ")
            && stdout.contains("loss `faulty_ce`, logistic model (sigmoid: `y_pred` is declared [0, 1])"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "100 synthetic samples, 2 features -> 1 output; adam (lr 0.001), 100 epochs of batches of 32, seed 0, f32"
    ));
    assert!(
        stdout.contains(" epoch         loss    zero     NaN  exploding        |W|"),
        "{stdout}"
    );
    let sparkline = stdout
        .lines()
        .find(|line| line.starts_with("loss "))
        .expect("a sparkline");
    assert!(
        sparkline.chars().filter(|c| ('▁'..='█').contains(c)).count() >= 40,
        "{sparkline}"
    );
    assert!(
        stdout.contains("\nstalled: gradient zero on every sample with `y_true` = 0 (54% of samples), see dead-gradient at line 31\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  - the loss passed no gradient to any sample with `y_true` = 0"));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn several_seeds_give_a_line_each_and_the_count() {
    let output = fit(&[path(&example("faulty_step_where"))], 1);
    let stdout = text(&output.stdout);
    assert!(stdout.contains(", seeds 0 to 4, f32\n"), "{stdout}");
    let seeds: Vec<&str> = stdout.lines().filter(|line| line.starts_with("seed ")).collect();
    assert_eq!(seeds.len(), 5 + 1, "five runs and the reasons of one: {stdout}");
    assert!(seeds[..5].iter().all(|line| line.contains("  stalled: ")), "{stdout}");
    assert!(stdout.contains("\nstalled on 5 of 5 seeds\nseed 0:\n  - "), "{stdout}");
    assert!(
        stdout.ends_with("(`--seed 0` shows that run epoch by epoch)\n"),
        "{stdout}"
    );
    // --seeds counts from --seed.
    let report = fit_json(
        &[path(&example("mse")), "--seed", "3", "--seeds", "2", "--epochs", "20"],
        0,
    );
    let seeds: Vec<u64> = report["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [3, 4]);
    assert_eq!(report["training"]["seed"], 3);
    assert_eq!(
        report["overall"],
        json!({"status": "learning", "summary": "learning on 2 of 2 seeds", "learning": 2, "runs": 2})
    );
}

/// Runs `lossc fit FILE --seeds 10 --format json` and checks, for every
/// seed, that the verdict's words agree with its numbers: `learning` only
/// for a loss that fell, no `fell` for a rise, no `did not fall`. Returns
/// the statuses of the seeds.
#[track_caller]
fn ten_seeds(file: &Path, status: i32) -> Vec<String> {
    let report = fit_json(&[path(file), "--seeds", "10"], status);
    let seeds = report["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 10);
    seeds
        .iter()
        .map(|run| {
            let (before, after) = (
                run["before"]["loss"].as_f64().unwrap(),
                run["after"]["loss"].as_f64().unwrap(),
            );
            let verdict = &run["verdict"];
            let summary = verdict["summary"].as_str().unwrap();
            if verdict["status"] == "learning" {
                assert!(after < before, "seed {}: {summary} ({before} to {after})", run["seed"]);
            }
            let texts = std::iter::once(summary).chain(
                verdict["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|reason| reason["text"].as_str().unwrap()),
            );
            for text in texts {
                assert!(!text.contains("did not fall"), "{text}");
                assert!(
                    !(after > before && text.contains("fell")),
                    "seed {}: {text}",
                    run["seed"]
                );
            }
            verdict["status"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn verdicts_over_ten_seeds_agree_with_their_numbers() {
    // The step through `where`: samples the model gets wrong get no
    // gradient; from a start at chance it never learns.
    let step = ten_seeds(&example("faulty_step_where"), 1);
    assert!(step.iter().all(|status| status != "learning"), "{step:?}");
    for name in ["mse", "bce"] {
        assert!(
            ten_seeds(&example(name), 0).iter().all(|status| status == "learning"),
            "{name}"
        );
    }
    // Unbounded below: cross-entropy without its minus sign, and a score
    // that rewards large predictions.
    let dir = TempDir::new().unwrap();
    let flipped = dir.path().join("flipped_bce.loss");
    std::fs::write(
        &flipped,
        "input y_true: {0, 1}\ninput y_pred: [0, 1]\nconst eps = 1e-7\nlet p = clip(y_pred, eps, 1 - eps)\nloss bce = mean(y_true * log(p) + (1 - y_true) * log(1 - p))\n",
    )
    .unwrap();
    let score = dir.path().join("score.loss");
    std::fs::write(
        &score,
        "input y_true: {0, 1}\ninput y_pred: real\nloss score = mean(-y_true * y_pred)\n",
    )
    .unwrap();
    for file in [&flipped, &score] {
        let statuses = ten_seeds(file, 1);
        assert!(statuses.iter().all(|status| status == "diverging"), "{statuses:?}");
    }
    let output = fit(&[path(&score), "--seed", "0"], 1);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("\ndiverging: the loss fell below 0 to -"), "{stdout}");
    // Linked to the finding that predicts it.
    assert!(
        stdout.contains("and keeps falling, as if unbounded below in the prediction, see wrong-minimum at line 3\n"),
        "{stdout}"
    );
}

#[test]
fn the_three_experiments_of_the_keras_question() {
    // The step through `where` stalls when the initial weights get the
    // positives wrong (seed 4): they sit where the gradient is zero.
    let step = fit_json(&[path(&example("faulty_step_where")), "--seed", "4"], 1);
    assert_eq!(step["verdict"]["status"], "stalled");
    assert!(
        step["verdict"]["summary"]
            .as_str()
            .unwrap()
            .ends_with("see dead-gradient at line 24")
    );
    // `-log(y_pred + 1e-8) * y_true` never teaches y_true = 0.
    let log_eps = fit_json(&[path(&example("faulty_log_eps"))], 1);
    assert_eq!(log_eps["verdict"]["status"], "stalled");
    let loss = |report: &Value, key: &str| report[key]["loss"].as_f64().unwrap();
    assert!(
        loss(&log_eps, "after") < loss(&log_eps, "before"),
        "the loss falls all the same"
    );
    // MSE learns.
    let mse = fit_json(&[path(&example("mse_sigmoid"))], 0);
    assert_eq!(mse["verdict"]["status"], "learning");
    assert_eq!(mse["after"]["zero"], 0.0);
    // All three saw the same data and started from the same weights.
    assert_eq!(log_eps["weights"]["initial"], mse["weights"]["initial"]);
}

#[test]
fn the_json_report_has_every_number() {
    let report = fit_json(&[path(&example("mse_sigmoid")), "--epochs", "5", "--seed", "3"], 0);
    for key in [
        "file",
        "loss",
        "dtype",
        "model",
        "data",
        "training",
        "history",
        "before",
        "after",
        "weights",
        "verdict",
        "diagnostics",
        "plot",
    ] {
        assert!(report.get(key).is_some(), "no `{key}` in {report:#}");
    }
    assert_eq!(report["loss"], "mse");
    assert_eq!(report["dtype"], "f32");
    assert_eq!(
        report["model"],
        json!({"kind": "logistic", "activation": "sigmoid", "reason": "`y_pred` is declared [0, 1]",
               "features": 2, "outputs": 1, "prediction": "y_pred", "target": "y_true", "notes": []})
    );
    assert_eq!(
        report["data"],
        json!({"origin": "synthetic", "samples": 100, "features": 2})
    );
    assert_eq!(
        report["training"],
        json!({"optimizer": "adam", "lr": 0.001, "epochs": 5, "batch_size": 32, "seed": 3, "shuffle": true, "steps": 20})
    );
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    for (index, epoch) in history.iter().enumerate() {
        assert_eq!(epoch["epoch"], index + 1);
        for key in ["loss", "zero", "zero_in_loss", "nan", "exploding", "weight_norm"] {
            assert!(epoch[key].is_number(), "epoch {index}: `{key}` in {epoch}");
        }
    }
    for key in ["loss", "zero", "nan", "exploding", "misfit", "dead_misfit", "accuracy"] {
        assert!(report["after"][key].is_number(), "after.{key}");
    }
    assert_eq!(report["weights"]["initial"]["kernel"].as_array().unwrap().len(), 2);
    assert_eq!(report["weights"]["final"]["bias"].as_array().unwrap().len(), 1);
    let verdict = &report["verdict"];
    assert_eq!(verdict["status"], "learning");
    assert!(
        verdict["summary"]
            .as_str()
            .unwrap()
            .starts_with("learning: the loss fell from ")
    );
    assert_eq!(verdict["epoch"], Value::Null);
    assert!(verdict["reasons"].is_array());
    assert_eq!(report["diagnostics"], json!([]));
    assert_eq!(report["plot"], Value::Null);
    // --seed alone: one run, its verdict repeated under `seeds`.
    let seeds = report["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 1);
    assert_eq!(seeds[0]["seed"], 3);
    assert_eq!(seeds[0]["verdict"], report["verdict"]);
    assert_eq!(seeds[0]["after"], report["after"]);
    assert_eq!(report["overall"]["summary"], "learning on 1 of 1 seed");

    // A link to a diagnostic carries its code and line.
    let stalled = fit_json(&[path(&example("faulty_log_eps")), "--epochs", "3"], 1);
    let see = &stalled["verdict"]["reasons"][0]["see"];
    assert_eq!(see["code"], "dead-gradient");
    assert_eq!(see["line"], 31);
    assert_eq!(stalled["diagnostics"].as_array().unwrap().len(), 2);
}

#[test]
fn a_diverged_run_names_its_epoch_and_writes_nan_as_a_string() {
    let dir = TempDir::new().unwrap();
    let raw = dir.path().join("raw_bce.loss");
    let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\n\nloss bce = mean(-(y_true * log(y_pred) + (1 - y_true) * log(1 - y_pred)))\n";
    std::fs::write(&raw, source).unwrap();
    let report = fit_json(&[path(&raw), "--lr", "1"], 1);
    let verdict = &report["verdict"];
    assert_eq!(verdict["status"], "diverged");
    let epoch = verdict["epoch"].as_u64().unwrap();
    assert_eq!(
        verdict["summary"],
        format!("diverged: NaN at epoch {epoch}, from log-domain at line 4")
    );
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len() as u64, epoch);
    assert_eq!(history.last().unwrap()["loss"], "NaN");
}

#[test]
fn one_seed_gives_one_run_and_seeds_differ() {
    let file = example("mse_sigmoid");
    let args = [path(&file), "--epochs", "8", "--seed", "5"];
    let first = fit(&args, 0).stdout;
    assert_eq!(first, fit(&args, 0).stdout);
    let other = fit(&[path(&example("mse_sigmoid")), "--epochs", "8", "--seed", "6"], 0).stdout;
    assert_ne!(first, other);
}

#[test]
fn data_comes_from_npy_files() {
    let dir = TempDir::new().unwrap();
    let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let y = Array1::from_shape_fn(40, |i| {
        if x[[i, 0]] + 0.5 * x[[i, 1]] > 0.0 {
            1.0_f32
        } else {
            0.0
        }
    });
    let (x_file, y_file) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&x_file, &x).unwrap();
    write_npy(&y_file, &y).unwrap();
    let report = fit_json(
        &[
            path(&example("bce")),
            "--data",
            path(&x_file),
            "--labels",
            path(&y_file),
            "--batch-size",
            "8",
            "--lr",
            "0.05",
        ],
        0,
    );
    assert_eq!(report["data"]["samples"], 40);
    assert_eq!(report["data"]["features"], 2);
    assert!(report["data"]["origin"].as_str().unwrap().ends_with("y.npy"));
    assert_eq!(report["training"]["steps"], 500);
    assert_eq!(report["verdict"]["status"], "learning");
    assert!(report["after"]["accuracy"].as_f64().unwrap() > 0.9);
}

#[test]
fn plot_writes_the_curves_as_svg() {
    let dir = TempDir::new().unwrap();
    let svg = dir.path().join("curve.svg");
    let output = fit(
        &[path(&example("faulty_log_eps")), "--epochs", "20", "--plot", path(&svg)],
        1,
    );
    assert!(text(&output.stdout).contains(&format!("plot written to {}", svg.display())));
    let picture = std::fs::read_to_string(&svg).unwrap();
    let document = roxmltree::Document::parse(&picture).expect("the SVG is XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = document.descendants().filter_map(|node| node.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("loss `faulty_ce` per epoch")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("stalled")), "{texts:?}");
    assert!(document.descendants().any(|node| node.tag_name().name() == "polyline"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&svg).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "an ordinary file, not the temporary's 0600");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["curve.svg"], "no temporary file is left");
}

/// `error: MESSAGE` on stderr, nothing on stdout, exit status 2.
#[track_caller]
fn assert_bad_input(args: &[&str], expected: &str) {
    let output = lossc().arg("fit").args(args).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "lossc fit {args:?}: {stderr}");
    assert_eq!(text(&output.stdout), "", "lossc fit {args:?}");
    assert!(stderr.contains(expected), "lossc fit {args:?}: {stderr}");
}

#[test]
fn bad_inputs_exit_with_status_2() {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, array: ArrayD<f64>| {
        let file = dir.path().join(name);
        write_npy(&file, &array).unwrap();
        file.to_str().unwrap().to_string()
    };
    let x = write("x.npy", ArrayD::zeros(IxDyn(&[10, 1])));
    let y8 = write("y8.npy", ArrayD::zeros(IxDyn(&[8])));
    let soft = write("soft.npy", ArrayD::from_elem(IxDyn(&[10]), 0.5));
    let cube = write("cube.npy", ArrayD::zeros(IxDyn(&[10, 1, 1])));
    let y10 = write("y10.npy", ArrayD::zeros(IxDyn(&[10])));
    let missing = dir.path().join("missing.npy");
    let step = example("faulty_step_where");
    let step = path(&step);

    assert_bad_input(&[step, "--data", path(&missing), "--labels", &y10], "cannot read");
    assert_bad_input(
        &[step, "--data", &x, "--labels", &y8],
        "the features hold 10 samples but the labels 8",
    );
    assert_bad_input(
        &[step, "--data", &x, "--labels", &soft],
        "outside `y_true`'s declared domain {0, 1}",
    );
    assert_bad_input(
        &[step, "--data", &cube, "--labels", &y10],
        "the features must be [N, D]",
    );
    assert_bad_input(
        &[step, "--data", &x, "--labels", &y10, "--features", "3"],
        "has 1 features",
    );
    assert_bad_input(&[step, "--data", &x], "--labels");
    assert_bad_input(&[step, "--batch-size", "0"], "the batch size must be at least 1");
    assert_bad_input(&[step, "--seeds", "0"], "runs at least one seed");
    assert_bad_input(&[step, "--seeds", "101"], "allows at most 100");
    assert_bad_input(&[step, "--lr=-1"], "the learning rate must be a positive number");
    assert_bad_input(
        &[step, "--model", "softmax"],
        "a softmax model needs `y_pred` with a class axis",
    );
    assert_bad_input(&[step, "--loss", "nope"], "no loss named `nope`");
    assert_bad_input(&[path(&dir.path().join("nope.loss"))], "cannot read");
    let weighted = dir.path().join("weighted.loss");
    std::fs::write(&weighted, "input w: real\nloss = mean(w * square(y_true - y_pred))\n").unwrap();
    assert_bad_input(&[path(&weighted)], "fit trains on one target input besides `y_pred`");
}

#[test]
fn the_help_explains_every_option_and_its_examples_name_real_files() {
    let output = lossc().args(["fit", "--help"]).output().unwrap();
    let help = text(&output.stdout);
    for option in [
        "--model",
        "--data",
        "--labels",
        "--synthetic",
        "--features",
        "--epochs",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--seed",
        "--seeds",
        "--no-shuffle",
        "--plot",
        "--format",
        "--dtype",
        "--loss",
        "--wrt",
        "--param",
    ] {
        assert!(help.contains(option), "{option} missing from fit --help");
    }
    assert!(help.contains("Exit status: 0 the model learns (on every seed), 1 it stalls or diverges"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for word in help.split_whitespace().filter(|word| word.starts_with("examples/")) {
        assert!(
            root.join(word).is_file(),
            "fit --help names {word}, which does not exist"
        );
    }
}

#[test]
fn a_program_with_errors_is_reported_as_check_reports_it() {
    let output = lossc().args(["fit", "-e", "mean(squre(y_pred))"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).starts_with("error[unknown-name]"));
}

/// The body of the fenced block of `docs/fit.md` whose info string is
/// `console NAME`.
fn docs_block(name: &str) -> String {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fit.md")).unwrap();
    let start = page
        .find(&format!("```console {name}\n"))
        .unwrap_or_else(|| panic!("docs/fit.md has no `console {name}` block"));
    let body = &page[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// Runs a `$ lossc fit ...` line of the docs from the workspace root.
fn run_docs_command(line: &str) -> String {
    let args = line.strip_prefix("$ lossc ").expect("a `$ lossc` command");
    let output = lossc()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(args.split_whitespace())
        .args(["--color", "never"])
        .output()
        .unwrap();
    text(&output.stdout)
}

#[test]
fn the_docs_show_what_fit_prints() {
    let verdicts = docs_block("fit-verdicts");
    let lines: Vec<&str> = verdicts.lines().collect();
    assert_eq!(lines.len(), 10, "{verdicts}");
    for pair in lines.chunks(2) {
        let stdout = run_docs_command(pair[0]);
        assert!(
            stdout.lines().any(|line| line == pair[1]),
            "docs/fit.md: `{}` prints\n{stdout}\nnot `{}`",
            pair[0],
            pair[1]
        );
    }
    let transcript = docs_block("fit-transcript");
    let (command, expected) = transcript.split_once('\n').unwrap();
    assert_eq!(
        run_docs_command(command),
        expected,
        "docs/fit.md's transcript of `{command}`"
    );
}

// ---- The same training in Keras 3 -------------------------------------------

/// One experiment: a loss file, a seed, and lossc's JSON report of the run.
struct Experiment {
    name: String,
    file: PathBuf,
    report: Value,
    x: Array2<f64>,
    y: ArrayD<f64>,
}

#[test]
fn keras_learns_or_stalls_as_lossc_fit_says() {
    let Some(python) = std::env::var_os("LOSSC_PYTHON") else {
        println!("skipped: LOSSC_PYTHON is not set (.ci/run sets it, see python/venv.sh); Keras was not run");
        return;
    };
    let dir = TempDir::new().unwrap();
    let mut experiments = Vec::new();
    for (file, seed) in [
        ("faulty_step_where", 0),
        ("faulty_step_where", 4),
        ("faulty_log_eps", 0),
        ("mse_sigmoid", 0),
        // The linear activation: a regression.
        ("mse", 0),
    ] {
        let program = lossc::compile(&std::fs::read_to_string(example(file)).unwrap()).unwrap();
        let task = lossc_fit::Task::new(&program, None, None, None).unwrap();
        let features = lossc_fit::Dataset::default_features(&task);
        let data = lossc_fit::Dataset::synthetic(&task, 100, features, seed).unwrap();
        let name = format!("{file}-seed{seed}");
        let (x_file, y_file) = (
            dir.path().join(format!("{name}-x.npy")),
            dir.path().join(format!("{name}-y.npy")),
        );
        write_npy(&x_file, &data.features).unwrap();
        write_npy(&y_file, &data.targets).unwrap();
        let seed = seed.to_string();
        let loss_file = example(file);
        let args = [
            path(&loss_file),
            "--data",
            path(&x_file),
            "--labels",
            path(&y_file),
            "--seed",
            &seed,
            "--no-shuffle",
        ];
        let status = lossc().arg("fit").args(args).output().unwrap().status.code();
        let report = fit_json(&args, status.unwrap());
        experiments.push(Experiment {
            name,
            file: example(file),
            report,
            x: data.features,
            y: data.targets,
        });
    }

    let cases: Vec<Value> = experiments
        .iter()
        .map(|e| {
            let emitted = lossc()
                .args(["emit", path(&e.file), "--target", "keras"])
                .output()
                .unwrap();
            assert!(emitted.status.success(), "lossc emit: {}", text(&emitted.stderr));
            let training = &e.report["training"];
            json!({
                "name": e.name,
                "module": text(&emitted.stdout),
                "loss": e.report["loss"],
                "activation": e.report["model"]["activation"],
                "x": e.x.outer_iter().map(|row| row.to_vec()).collect::<Vec<_>>(),
                "y": e.y.iter().copied().collect::<Vec<f64>>(),
                "kernel": e.report["weights"]["initial"]["kernel"],
                "bias": e.report["weights"]["initial"]["bias"],
                "epochs": training["epochs"],
                "batch_size": training["batch_size"],
                "lr": training["lr"],
                "labels": if e.report["model"]["kind"] == "linear" { Value::Null } else { json!([0.0, 1.0]) },
            })
        })
        .collect();
    let spec = dir.path().join("cases.json");
    std::fs::write(&spec, json!({ "cases": cases }).to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fit_keras.py");
    let started = std::time::Instant::now();
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(&spec)
        .output()
        .unwrap();
    if output.status.code() == Some(77) {
        println!(
            "skipped: LOSSC_PYTHON cannot run Keras 3 with JAX: {}",
            text(&output.stderr).trim()
        );
        return;
    }
    assert!(
        output.status.success(),
        "fit_keras.py failed:\n{}",
        text(&output.stderr)
    );
    let keras: Value = serde_json::from_slice(&output.stdout).expect("fit_keras.py prints JSON");
    println!(
        "Keras {} trained {} models in {:.1?}",
        keras["versions"]["keras"],
        experiments.len(),
        started.elapsed()
    );

    let mut failures = Vec::new();
    for e in &experiments {
        let theirs = &keras["results"][&e.name];
        let ours = &e.report;
        println!(
            "{}: lossc {} ({}); Keras {} ({}); final loss {} vs {}",
            e.name,
            ours["verdict"]["status"],
            ours["verdict"]["summary"],
            theirs["status"],
            theirs["summary"],
            ours["after"]["loss"],
            theirs["after"]
        );
        if theirs["status"] != ours["verdict"]["status"] {
            failures.push(format!(
                "{}: lossc {} but Keras {}",
                e.name, ours["verdict"]["status"], theirs["status"]
            ));
        }
        // The same batches from the same weights in float32: the curves agree.
        let (a, b) = (ours["after"]["loss"].as_f64(), theirs["after"].as_f64());
        if let (Some(a), Some(b)) = (a, b)
            && (a - b).abs() > 1e-3 + 1e-2 * a.abs()
        {
            failures.push(format!("{}: final loss {a} in lossc, {b} in Keras", e.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
