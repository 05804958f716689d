//! The emitted modules, run in the real frameworks: for every example and
//! corpus file, and a program per one-argument built-in (made from the
//! built-in table, see `common::unary_programs`), for each target (JAX,
//! PyTorch, Keras 3 on the JAX backend, TensorFlow, NumPy), in float64 and
//! float32,
//! - the emitted loss equals `lossc eval` (relative 1e-6 in f64, 1e-5 in
//!   f32; Keras 1e-5 in both),
//! - the framework's autodiff gradient equals `lossc eval --grad` (NumPy:
//!   the emitted `NAME_grad`, lossc's gradient as NumPy code),
//! - and is never NaN or infinite where lossc's gradient is finite,
//!
//! at deterministic data inside the declared domains (away from kinks) and,
//! for the NaN check, at the domains' edges where the guards matter (an
//! input at its end, at 0, inputs equal). The plain transcription
//! (`EmitOptions::unguarded`) is shown to give NaN in JAX where the emitted
//! code does not, and a small Keras 3 model trains with an emitted loss.
//!
//! All of it goes to one Python process (`python/emit_check.py`: importing
//! the frameworks takes seconds): the test writes the modules and data to one
//! JSON file, runs `$LOSSC_PYTHON python/emit_check.py FILE`, and compares
//! what comes back. Without `LOSSC_PYTHON` (`.ci/run` sets it, see
//! `python/venv.sh`), or for a framework that does not import, the
//! comparison says so on stdout and passes; the lossc half (every program
//! emits for every target) runs regardless.

// A test that skips says so on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use lossc::{Dtype, EmitOptions, EmitTarget, EvalOptions};
use ndarray::ArrayD;
use serde_json::{Value, json};

use crate::common::{close, edge_point, programs, random_point, workspace};

/// Comparisons known to fail, with the reason: (case, target, why). They are
/// reported but do not fail the test; one that passes again fails it.
const KNOWN: &[(&str, &str, &str)] = &[];

/// The file trained with in Keras, and the where-trap files the plain
/// transcription must fail on in JAX.
const TRAINING: &str = "examples/bce.loss";
const TRAPS: &[&str] = &[
    "examples/faulty_where_sqrt.loss",
    "tests/corpus/bce_clamp_log_minus_100.loss",
    "tests/corpus/where_entropy.loss",
    "tests/corpus/where_cosine.loss",
];
/// Files with a power below 1 of `abs` (infinite slope at its kink): the
/// plain transcription gives NaN in PyTorch there, the emitted code 0.
const KINKS: &[&str] = &["tests/corpus/fractional_lp.loss", "tests/corpus/sqrt_abs_error.loss"];

/// lossc's numbers at one point: the loss's value and gradient.
#[derive(Debug, Clone)]
struct Expected {
    value: f64,
    gradient: Vec<(String, ArrayD<f64>)>,
}

#[derive(Debug)]
struct Point {
    /// `random` (inside the domains) or `edges`.
    label: &'static str,
    inputs: Vec<(String, ArrayD<f64>)>,
    /// In f64 and f32; `None` if lossc could not evaluate.
    lossc: [Option<Expected>; 2],
}

#[derive(Debug)]
struct Case {
    name: String,
    loss: String,
    wrt: Vec<String>,
    params: Vec<(String, Value)>,
    modules: BTreeMap<String, String>,
    points: Vec<Point>,
}

struct Run {
    cases: Vec<Case>,
    /// Python's answer, or why there is none.
    output: Result<Value, String>,
}

const DTYPES: [(&str, Dtype); 2] = [("float64", Dtype::F64), ("float32", Dtype::F32)];

fn nested(a: &ArrayD<f64>) -> Value {
    fn go(view: ndarray::ArrayViewD<'_, f64>) -> Value {
        if view.ndim() == 0 {
            return json!(view.iter().next().copied().unwrap_or(0.0));
        }
        Value::Array(view.outer_iter().map(go).collect())
    }
    go(a.view())
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}

fn flatten(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(number(other)),
    }
}

/// The programs run: every example and inline or one-argument built-in
/// program, and every fourth corpus file (sorted)
/// plus the where-trap and kink files (the whole corpus takes minutes in Python);
/// `LOSSC_EMIT_ONLY=text` runs every file whose name contains `text` instead.
fn selected() -> Vec<(String, String)> {
    let only = std::env::var("LOSSC_EMIT_ONLY").ok();
    let mut corpus_index = 0;
    programs()
        .into_iter()
        .filter(|(name, _)| match &only {
            Some(text) => name.contains(text.as_str()),
            None if name.starts_with("tests/corpus/") => {
                corpus_index += 1;
                (corpus_index - 1) % 4 == 0 || TRAPS.contains(&name.as_str()) || KINKS.contains(&name.as_str())
            }
            None => true,
        })
        .collect()
}

/// Emits and evaluates every selected program, on two threads.
fn cases() -> Vec<Case> {
    let programs = selected();
    let half = programs.len().div_ceil(2);
    let (first, second) = programs.split_at(half);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| second.iter().map(|(n, s)| case(n, s)).collect::<Vec<_>>());
        let mut cases: Vec<Case> = first.iter().map(|(n, s)| case(n, s)).collect();
        cases.extend(other.join().expect("the other thread"));
        cases
    })
}

fn case(name: &str, source: &str) -> Case {
    let name = name.to_string();
    let program = lossc::compile(source).unwrap_or_else(|e| panic!("{name}: {e}"));
    let options = EmitOptions {
        file: Some(name.clone()),
        ..EmitOptions::default()
    };
    let emission = program.emit(&options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut modules = BTreeMap::new();
    for &target in EmitTarget::ALL {
        modules.insert(target.as_str().to_string(), emission.module(target));
    }
    if TRAPS.contains(&name.as_str()) {
        let naive = program
            .emit(&EmitOptions {
                unguarded: true,
                ..options.clone()
            })
            .expect("the plain transcription emits too");
        modules.insert("jax_naive".into(), naive.module(EmitTarget::Jax));
    }
    if KINKS.contains(&name.as_str()) {
        let naive = program
            .emit(&EmitOptions {
                unguarded: true,
                ..options.clone()
            })
            .expect("the plain transcription emits too");
        modules.insert("torch_naive".into(), naive.module(EmitTarget::Torch));
    }
    let ir = program.ir();
    let wrt: Vec<String> = ir.wrt.iter().map(|v| ir.var_name(*v).to_string()).collect();
    let params = ir
        .params
        .iter()
        .map(|p| {
            let value = match &p.value {
                lossc::ir::Value::Scalar(v) => json!(v),
                lossc::ir::Value::Vector(vs) => json!(vs),
            };
            (p.name.clone(), value)
        })
        .collect();
    let mut points = Vec::new();
    for (label, inputs) in [("random", random_point(ir, &name, 6)), ("edges", edge_point(ir, &name))] {
        let lossc = DTYPES.map(|(_, dtype)| {
            let options = EvalOptions {
                dtype,
                result: Some(emission.loss().to_string()),
                grad: true,
                wrt: Vec::new(),
            };
            program.eval(&inputs, &options).ok().map(|e| Expected {
                value: e.value.iter().next().copied().unwrap_or(f64::NAN),
                gradient: e.gradient,
            })
        });
        points.push(Point { label, inputs, lossc });
    }
    Case {
        name,
        loss: emission.loss().to_string(),
        wrt,
        params,
        modules,
        points,
    }
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let started = Instant::now();
        let cases = cases();
        println!(
            "emitted and evaluated {} programs in {:.1?}",
            cases.len(),
            started.elapsed()
        );
        let output = python(&cases);
        Run { cases, output }
    })
}

fn python(cases: &[Case]) -> Result<Value, String> {
    let Some(python) = std::env::var_os("LOSSC_PYTHON") else {
        return Err("LOSSC_PYTHON is not set (.ci/run sets it: see python/venv.sh)".into());
    };
    let spec = json!({
        "cases": cases.iter().map(|c| json!({
            "name": c.name,
            "loss": c.loss,
            "modules": c.modules,
            "params": c.params.iter().cloned().collect::<serde_json::Map<String, Value>>(),
            "wrt": c.wrt,
            "points": c.points.iter().map(|p| {
                p.inputs.iter().map(|(n, a)| (n.clone(), nested(a))).collect::<serde_json::Map<String, Value>>()
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "training": cases.iter().find(|c| c.name == TRAINING).map(|c| json!({
            "module": c.modules["keras"],
            "loss": c.loss,
        })),
    });
    let dir = std::env::temp_dir().join(format!("lossc-emit-frameworks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("cases.json");
    std::fs::write(&file, spec.to_string()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let output = Command::new(python)
        .arg(workspace().join("python/emit_check.py"))
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run LOSSC_PYTHON: {e}"))?;
    // LOSSC_EMIT_KEEP=FILE keeps the cases, to rerun `emit_check.py FILE` by hand.
    if let Some(keep) = std::env::var_os("LOSSC_EMIT_KEEP") {
        let _ = std::fs::copy(&file, keep);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("python/emit_check.py ran in {:.1?}", started.elapsed());
    if output.status.code() == Some(77) {
        return Err(format!(
            "LOSSC_PYTHON has no numpy: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if !output.status.success() {
        panic!(
            "python/emit_check.py failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("emit_check.py's output is not JSON: {e}"))
}

/// Compares one target's results with lossc's; returns the failures.
fn compare(run: &Run, output: &Value, target: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let (mut values, mut gradients) = (0usize, 0usize);
    for case in &run.cases {
        if let Some(error) = output["errors"][&case.name][target].as_str() {
            failures.push(format!("{} ({target}): the module does not load:\n{error}", case.name));
            continue;
        }
        let results = &output["results"][&case.name][target];
        for (d, (dtype, _)) in DTYPES.iter().enumerate() {
            let relative = match (target, d) {
                ("keras", _) | (_, 1) => 1e-5,
                _ => 1e-6,
            };
            for (k, point) in case.points.iter().enumerate() {
                let Some(expected) = &point.lossc[d] else { continue };
                if !expected.value.is_finite() {
                    continue;
                }
                let got = &results[dtype][k];
                let at = format!("{} ({target}, {dtype}, {} point)", case.name, point.label);
                if let Some(error) = got["error"].as_str() {
                    failures.push(format!("{at}: raised\n{error}"));
                    continue;
                }
                let value = number(&got["value"]);
                values += 1;
                if !close(value, expected.value, relative, relative * 1e-3) {
                    failures.push(format!("{at}: the loss is {value}, lossc's {}", expected.value));
                }
                // In f32 an element is compared where f32 and f64 agree (not
                // at a kink that rounding moves).
                let reference = point.lossc[0].as_ref();
                for (var, g) in &expected.gradient {
                    let mut framework = Vec::new();
                    flatten(&got["gradient"][var], &mut framework);
                    let lossc: Vec<f64> = g.iter().copied().collect();
                    if framework.len() != lossc.len() {
                        failures.push(format!(
                            "{at}: the gradient for `{var}` has {} elements, lossc's {}",
                            framework.len(),
                            lossc.len()
                        ));
                        continue;
                    }
                    let scale = lossc
                        .iter()
                        .filter(|v| v.is_finite())
                        .fold(0.0f64, |m, v| m.max(v.abs()));
                    let exact: Vec<f64> = reference
                        .and_then(|r| r.gradient.iter().find(|(n, _)| n == var))
                        .map(|(_, a)| a.iter().copied().collect())
                        .unwrap_or_else(|| lossc.clone());
                    for (i, (&f, &l)) in framework.iter().zip(&lossc).enumerate() {
                        if !l.is_finite() {
                            continue;
                        }
                        gradients += 1;
                        if !f.is_finite() {
                            failures.push(format!(
                                "{at}: the gradient for `{var}` is {f} at element {i}, where lossc's is {l}"
                            ));
                            continue;
                        }
                        let stable = d == 0 || close(l, exact[i], 1e-3, 1e-3 * scale);
                        if point.label == "random" && stable && !close(f, l, relative, relative * scale) {
                            failures.push(format!(
                                "{at}: the gradient for `{var}` is {f} at element {i}, lossc's {l}"
                            ));
                        }
                    }
                }
            }
        }
    }
    println!("{target}: compared {values} loss values and {gradients} gradient elements");
    failures
}

fn check_target(target: &str) {
    let run = run();
    let output = match &run.output {
        Ok(output) => output,
        Err(why) => {
            println!("skipped: the {target} comparison needs Python: {why}");
            return;
        }
    };
    if let Some(why) = output["missing"][target].as_str() {
        println!("skipped: {target} is not available in LOSSC_PYTHON: {why}");
        return;
    }
    let failures = compare(run, output, target);
    let mut unexpected = Vec::new();
    for failure in failures {
        match KNOWN
            .iter()
            .find(|(case, t, _)| *t == target && failure.starts_with(case))
        {
            Some((_, _, why)) => println!("known: {failure} ({why})"),
            None => unexpected.push(failure),
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} mismatch(es) for {target}:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

#[test]
fn jax_matches_lossc() {
    check_target("jax");
}

#[test]
fn torch_matches_lossc() {
    check_target("torch");
}

#[test]
fn keras_matches_lossc() {
    check_target("keras");
}

#[test]
fn tf_matches_lossc() {
    check_target("tf");
}

#[test]
fn numpy_matches_lossc() {
    check_target("numpy");
}

/// How many gradient elements `target`'s module computed at `case`'s edge
/// point (in float64) for which `bad(framework, lossc)` holds.
fn bad_gradient_at_the_edges(output: &Value, case: &Case, target: &str, bad: fn(f64, f64) -> bool) -> usize {
    let name = &case.name;
    let (k, point) = case
        .points
        .iter()
        .enumerate()
        .find(|(_, p)| p.label == "edges")
        .expect("an edge point");
    let expected = point.lossc[0].as_ref().expect("lossc evaluates the edge point");
    let got = &output["results"][name][target]["float64"][k];
    assert!(got["error"].is_null(), "{name} ({target}): {}", got["error"]);
    let mut count = 0;
    for (var, g) in &expected.gradient {
        let mut framework = Vec::new();
        flatten(&got["gradient"][var], &mut framework);
        count += framework.iter().zip(g.iter()).filter(|(f, l)| bad(**f, **l)).count();
    }
    count
}

#[test]
fn the_double_where_removes_the_nan_of_the_plain_transcription() {
    let run = run();
    let output = match &run.output {
        Ok(output) if output["missing"]["jax"].is_null() => output,
        Ok(_) => return println!("skipped: JAX is not available in LOSSC_PYTHON"),
        Err(why) => return println!("skipped: needs Python: {why}"),
    };
    for name in TRAPS {
        let Some(case) = run.cases.iter().find(|c| c.name == *name) else {
            continue;
        };
        let nan_where_lossc_is_finite =
            |target: &str| bad_gradient_at_the_edges(output, case, target, |f, l| f.is_nan() && l.is_finite());
        let naive = nan_where_lossc_is_finite("jax_naive");
        let emitted = nan_where_lossc_is_finite("jax");
        println!(
            "{name}: the plain transcription has {naive} NaN gradient element(s) where lossc's is finite; the emitted code {emitted}"
        );
        assert!(
            naive > 0,
            "{name}: the plain transcription should give NaN in JAX at the edge point"
        );
        assert_eq!(
            emitted, 0,
            "{name}: the emitted code gives NaN where lossc's gradient is finite"
        );
    }
}

/// A `param` given as a Python number keeps its float64 value in a float64
/// computation: Keras and TensorFlow would round `0.1` through a float32
/// tensor if it were cast (a relative error of 1.5e-8, which the general
/// comparison's tolerance does not see).
#[test]
fn params_keep_their_float64_value_in_keras_and_tensorflow() {
    let run = run();
    let output = match &run.output {
        Ok(output) => output,
        Err(why) => return println!("skipped: needs Python: {why}"),
    };
    let name = "inline/param_tenth.loss";
    let case = run
        .cases
        .iter()
        .find(|c| c.name == name)
        .expect("the inline program is emitted");
    for target in ["tf", "keras"] {
        if !output["missing"][target].is_null() {
            println!("skipped {target}: not available in LOSSC_PYTHON");
            continue;
        }
        for (k, point) in case.points.iter().enumerate() {
            let expected = point.lossc[0].as_ref().expect("lossc evaluates it").value;
            let got = &output["results"][name][target]["float64"][k];
            assert!(got["error"].is_null(), "{target}: {}", got["error"]);
            let value = number(&got["value"]);
            assert!(
                (value - expected).abs() <= 1e-13 * expected.abs().max(1e-300),
                "{target} ({}): {value} vs lossc's {expected}",
                point.label
            );
        }
    }
}

#[test]
fn a_power_of_abs_has_a_finite_gradient_at_the_kink() {
    let run = run();
    let output = match &run.output {
        Ok(output) if output["missing"]["jax"].is_null() && output["missing"]["torch"].is_null() => output,
        Ok(_) => return println!("skipped: JAX or PyTorch is not available in LOSSC_PYTHON"),
        Err(why) => return println!("skipped: needs Python: {why}"),
    };
    for name in KINKS {
        let Some(case) = run.cases.iter().find(|c| c.name == *name) else {
            continue;
        };
        // The edge point has samples with y_pred = y_true: the kink.
        let non_finite_where_lossc_is_finite =
            |target: &str| bad_gradient_at_the_edges(output, case, target, |f, l| !f.is_finite() && l.is_finite());
        let naive = non_finite_where_lossc_is_finite("torch_naive");
        println!(
            "{name}: the plain PyTorch transcription has {naive} non-finite gradient element(s) where lossc's is finite"
        );
        assert!(
            naive > 0,
            "{name}: the plain transcription should give NaN in PyTorch at the kink"
        );
        for target in ["jax", "torch"] {
            assert_eq!(
                non_finite_where_lossc_is_finite(target),
                0,
                "{name} ({target}): the emitted code's gradient is not finite where lossc's is"
            );
        }
    }
}

#[test]
fn a_keras_model_trains_with_an_emitted_loss() {
    let run = run();
    let output = match &run.output {
        Ok(output) if output["missing"]["keras"].is_null() => output,
        Ok(output) => return println!("skipped: {}", output["missing"]["keras"]),
        Err(why) => return println!("skipped: needs Python: {why}"),
    };
    let training = &output["training"];
    if training.is_null() {
        return println!("skipped: {TRAINING} is not among the files run (LOSSC_EMIT_ONLY)");
    }
    assert!(training["error"].is_null(), "training failed:\n{}", training["error"]);
    let losses: Vec<f64> = training["losses"]
        .as_array()
        .expect("the epoch losses")
        .iter()
        .map(number)
        .collect();
    println!("Keras 3 (JAX backend), {TRAINING}: epoch losses {losses:?}");
    assert!(losses.len() >= 3 && losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[losses.len() - 1] < 0.8 * losses[0],
        "the loss did not fall: {losses:?}"
    );
}

/// The JAX, PyTorch and NumPy modules refuse an argument with the wrong
/// number of axes (a `(N, 1)` prediction for `(N,)` labels, which would
/// broadcast to `(N, N)`), naming it and its shape; the right shapes pass.
#[test]
fn a_column_for_a_vector_input_is_refused_where_it_would_broadcast() {
    let Some(python) = std::env::var_os("LOSSC_PYTHON") else {
        return println!("skipped: LOSSC_PYTHON is not set");
    };
    let program =
        lossc::compile("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss mse = mean(square(y_true - y_pred))")
            .expect("compiles");
    let emission = program.emit(&EmitOptions::default()).expect("emits");
    for (target, module) in [
        ("jax", emission.module(EmitTarget::Jax)),
        ("torch", emission.module(EmitTarget::Torch)),
        ("numpy", emission.module(EmitTarget::Numpy)),
    ] {
        let script = format!(
            "import importlib.util, sys\n\
             try:\n    importlib.import_module({framework:?})\nexcept ImportError:\n    print('missing'); sys.exit(0)\n\
             import numpy as np\n\
             namespace = {{}}\n\
             exec(compile(sys.stdin.read(), 'emitted', 'exec'), namespace)\n\
             mse = namespace['mse']\n\
             t = np.array([1.0, 0.0, 1.0]); p = np.array([0.9, 0.2, 0.6])\n\
             print(float(mse(t, p)))\n\
             try:\n    mse(t, p[:, None])\nexcept ValueError as error:\n    print('refused:', error)\n",
            framework = if target == "numpy" { "numpy" } else { target }
        );
        let mut child = std::process::Command::new(&python)
            .args(["-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python runs");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(module.as_bytes())
            .expect("written");
        let output = child.wait_with_output().expect("python ends");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{target}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if stdout.trim() == "missing" {
            println!("skipped {target}: not installed");
            continue;
        }
        let mut lines = stdout.lines();
        let value: f64 = lines.next().expect("a value").parse().expect("a number");
        // JAX computes in float32 unless x64 is enabled.
        assert!((value - (0.01 + 0.04 + 0.16) / 3.0).abs() < 1e-6, "{target}: {value}");
        let refused = lines.next().unwrap_or("");
        assert!(
            refused.starts_with("refused:")
                && refused.contains("`y_pred` is declared [N]")
                && refused.contains("(3, 1)"),
            "{target}: {stdout}"
        );
    }
}
