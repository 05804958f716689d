//! Property tests over random well-typed programs.
//!
//! The generator (`tests/support/programs.rs`, shared with the fuzz suite)
//! builds programs over every built-in, typed as they are built, with `let`s
//! and `def`s, shapes up to rank 2 and expressions up to depth 5; domains are
//! guarded by construction. A case whose value is still not finite, or whose
//! point is too close to a kink (the central differences with steps h and h/2
//! disagree), is skipped and counted (at most half may be; in practice under
//! 1%).
//!
//! Properties:
//! (a) the symbolic gradient (`eval --grad`, f64) matches central finite
//!     differences, 1e-6 relative (1000 cases);
//! (b) `Program::simplify().source` compiles and evaluates to the original
//!     loss's value (and per-sample values), 1e-9 relative (1000 cases);
//! (c) `Gradient::to_source()` compiles and its outputs `d_f_d_<var>`
//!     evaluate to the numbers of `eval --grad`, 1e-12 relative (500 cases:
//!     the e-graph that simplifies each gradient dominates the run time in
//!     debug builds; the gradient is derived once and evaluated both ways).
//! The whole file takes about 25 s in a debug build on 2 idle cores.
//!
//! The seed is fixed, so a run is reproducible; set `PROPTEST_RNG_SEED` to
//! explore others and `PROPTEST_CASES` to set the count of all three. A
//! failure prints the minimal program and its data.

use std::cell::RefCell;
use std::collections::BTreeMap;

use lossc::{Dtype, EvalOptions, Program};
use ndarray::{ArrayD, Dimension};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use crate::support::programs::{Case, case};

// ----------------------------------------------------------------- harness

/// Why a case was not checked, counted per reason.
#[derive(Default)]
struct Tally {
    checked: usize,
    skipped: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

/// Runs `property` on `cases` generated programs with a fixed seed and
/// panics with the minimal failing program, or when too few cases were
/// actually checked.
fn run(name: &str, cases: u32, property: impl Fn(&Case, &mut Tally) -> Result<(), TestCaseError>) {
    let defaults = Config::default();
    let cases = if std::env::var("PROPTEST_CASES").is_ok() {
        defaults.cases
    } else {
        cases
    };
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: match defaults.rng_seed {
            RngSeed::Fixed(seed) => RngSeed::Fixed(seed),
            RngSeed::Random => RngSeed::Fixed(0x1055_C0DE),
        },
        max_shrink_iters: 2000,
        ..defaults
    };
    let tally = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |case| property(&case, &mut tally.borrow_mut()));
    let tally = tally.into_inner();
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => panic!("{name}: {reason}\n\nminimal failing case:\n{case:?}"),
        Err(TestError::Abort(reason)) => panic!("{name}: aborted: {reason}"),
    }
    // Only a full pass gets here, and then every case ran exactly once.
    assert!(
        tally.checked * 2 >= cases as usize,
        "{name}: only {} of {cases} cases were checked; skipped: {:?}",
        tally.checked,
        tally.skipped
    );
}

fn compile(source: &str) -> Result<Program, TestCaseError> {
    lossc::compile(source).map_err(|e| TestCaseError::fail(format!("a generated program does not compile: {e}")))
}

fn options(result: Option<&str>, grad: bool) -> EvalOptions {
    EvalOptions {
        dtype: Dtype::F64,
        result: result.map(str::to_string),
        grad,
        wrt: Vec::new(),
    }
}

fn loss_value(program: &Program, data: &[(String, ArrayD<f64>)]) -> Result<f64, TestCaseError> {
    let evaluation = program
        .eval(data, &options(None, false))
        .map_err(|e| TestCaseError::fail(format!("eval fails: {e}")))?;
    Ok(*evaluation.value.first().expect("a 0-d loss"))
}

/// `|a - b|` within `rel` of the larger magnitude plus `abs`.
fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

// -------------------------------------------------------------- properties

/// Central differences of the loss at `data` with respect to `var` (an
/// input, or the scalar param `p`), with the step `scale * 1e-6 * max(1, |v|)`.
fn finite_differences(
    program: &Program,
    data: &[(String, ArrayD<f64>)],
    var: &str,
    scale: f64,
) -> Result<ArrayD<f64>, TestCaseError> {
    if var == "p" {
        let lossc::ir::Value::Scalar(v) = program.ir().params[0].value else {
            unreachable!()
        };
        let h = scale * 1e-6 * v.abs().max(1.0);
        let at = |value: f64| {
            let mut shifted = program.clone();
            shifted.set_param("p", value).expect("a scalar param");
            loss_value(&shifted, data)
        };
        return Ok(ndarray::arr0((at(v + h)? - at(v - h)?) / (2.0 * h)).into_dyn());
    }
    let slot = data
        .iter()
        .position(|(n, _)| n == var)
        .expect("data for every variable");
    let mut shifted = data.to_vec();
    let mut out = ArrayD::zeros(data[slot].1.raw_dim());
    for (index, &v) in data[slot].1.indexed_iter() {
        let h = scale * 1e-6 * v.abs().max(1.0);
        shifted[slot].1[&index] = v + h;
        let up = loss_value(program, &shifted)?;
        shifted[slot].1[&index] = v - h;
        let down = loss_value(program, &shifted)?;
        shifted[slot].1[&index] = v;
        out[&index] = (up - down) / (2.0 * h);
    }
    Ok(out)
}

fn gradient_matches_finite_differences(case: &Case, tally: &mut Tally) -> Result<(), TestCaseError> {
    let program = compile(&case.source)?;
    let evaluation = program
        .eval(&case.data, &options(None, true))
        .map_err(|e| TestCaseError::fail(format!("eval --grad fails: {e}")))?;
    let loss = *evaluation.value.first().expect("a 0-d loss");
    if !loss.is_finite() {
        tally.skip("loss not finite");
        return Ok(());
    }
    if evaluation
        .gradient
        .iter()
        .any(|(_, g)| g.iter().any(|v| !v.is_finite()))
    {
        tally.skip("gradient not finite");
        return Ok(());
    }
    let noise = 1e-9 * loss.abs().max(1.0);
    let mut mismatches = Vec::new();
    for (var, symbolic) in &evaluation.gradient {
        let fd = finite_differences(&program, &case.data, var, 1.0)?;
        let fd_half = finite_differences(&program, &case.data, var, 0.5)?;
        if fd.shape() != symbolic.shape() {
            return Err(TestCaseError::fail(format!(
                "the gradient of `{var}` has shape {:?}, the variable {:?}",
                symbolic.shape(),
                fd.shape()
            )));
        }
        for ((index, &g), (&f1, &f2)) in symbolic.indexed_iter().zip(fd.iter().zip(fd_half.iter())) {
            if !(f1.is_finite() && f2.is_finite() && close(f1, f2, 1e-6, noise)) {
                // A kink, jump or cancellation within a step: the point says nothing.
                tally.skip("a kink or noise within the step");
                return Ok(());
            }
            if !close(g, f1, 1e-6, noise) {
                mismatches.push(format!(
                    "{var}{:?}: symbolic {g:e}, finite differences {f1:e} (h/2: {f2:e})",
                    index.slice()
                ));
            }
        }
    }
    if !mismatches.is_empty() {
        let gradient = program.gradient(None, &[]).map(|g| g.to_source()).unwrap_or_default();
        return Err(TestCaseError::fail(format!(
            "the symbolic gradient disagrees with finite differences (loss = {loss:e}):\n{}\n\n\
             gradient program:\n{gradient}",
            mismatches.join("\n")
        )));
    }
    tally.checked += 1;
    Ok(())
}

fn simplified_program_evaluates_equal(case: &Case, tally: &mut Tally) -> Result<(), TestCaseError> {
    let program = compile(&case.source)?;
    let simplified = program.simplify();
    let compiled = lossc::compile(&simplified.source).map_err(|e| {
        TestCaseError::fail(format!(
            "the simplified program does not compile: {e}\n\n{}",
            simplified.source
        ))
    })?;
    let evaluate = |program: &Program| {
        program
            .eval(&case.data, &options(Some("f"), false))
            .map_err(|e| TestCaseError::fail(format!("eval fails: {e}\n\n{}", simplified.source)))
    };
    let (before, after) = (evaluate(&program)?, evaluate(&compiled)?);
    if before.value.iter().any(|v| !v.is_finite()) {
        tally.skip("loss not finite");
        return Ok(());
    }
    // The value, and for a per-sample loss every sample.
    let values =
        |e: &lossc::Evaluation| -> Vec<f64> { e.value.iter().chain(e.per_sample.iter().flatten()).copied().collect() };
    let (want, got) = (values(&before), values(&after));
    if want.len() != got.len() || want.iter().zip(&got).any(|(&a, &b)| !close(a, b, 1e-9, 1e-300)) {
        return Err(TestCaseError::fail(format!(
            "the simplified loss evaluates to {got:?}, the original to {want:?} (value, then samples)\n\n\
             simplified:\n{}",
            simplified.source
        )));
    }
    tally.checked += 1;
    Ok(())
}

fn gradient_program_round_trips(case: &Case, tally: &mut Tally) -> Result<(), TestCaseError> {
    let program = compile(&case.source)?;
    let gradient = program
        .gradient(None, &[])
        .map_err(|e| TestCaseError::fail(format!("no gradient: {e}")))?;
    let source = gradient.to_source();
    let printed = lossc::compile(&source)
        .map_err(|e| TestCaseError::fail(format!("the gradient program does not compile: {e}\n\n{source}")))?;
    // `eval --grad`'s numbers: `Program::eval` with `grad` differentiates and
    // simplifies as `gradient` did just above, then evaluates that gradient;
    // `eval_gradient` evaluates the same one without deriving it again.
    let evaluation = program
        .eval_gradient(&gradient, &case.data, Dtype::F64)
        .map_err(|e| TestCaseError::fail(format!("eval --grad fails: {e}")))?;
    // The gradient program declares the inputs it uses.
    let data: Vec<(String, ArrayD<f64>)> = case
        .data
        .iter()
        .filter(|(n, _)| printed.ir().input(n).is_some())
        .cloned()
        .collect();
    for (var, expected) in &evaluation.gradient {
        let output = format!("d_{}_d_{var}", gradient.loss);
        let got = printed
            .eval(&data, &options(Some(&output), false))
            .map_err(|e| TestCaseError::fail(format!("evaluating `{output}` fails: {e}\n\n{source}")))?
            .value;
        let same = got.shape() == expected.shape()
            && got.iter().zip(expected.iter()).all(|(&a, &b)| {
                if a.is_finite() && b.is_finite() {
                    close(a, b, 1e-12, 1e-300)
                } else {
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
                }
            });
        if !same {
            return Err(TestCaseError::fail(format!(
                "`{output}` of the gradient program evaluates to\n{got}\nbut eval --grad gives\n{expected}\n\n\
                 gradient program:\n{source}"
            )));
        }
    }
    tally.checked += 1;
    Ok(())
}

#[test]
fn symbolic_gradient_matches_finite_differences() {
    run(
        "(a) gradient vs finite differences",
        1000,
        gradient_matches_finite_differences,
    );
}

#[test]
fn simplify_preserves_the_loss() {
    run("(b) simplify", 1000, simplified_program_evaluates_equal);
}

#[test]
fn gradient_program_evaluates_like_eval_grad() {
    run("(c) grad round trip", 500, gradient_program_round_trips);
}

/// A regression found by property (b): an unnamed `loss = ...` is named
/// `loss`, and `simplify` printed it as `loss loss = ...`, which did not
/// parse (`loss` was then a reserved word), so `lossc simplify` of such a file was
/// not a valid `.loss` program (docs/cli.md). The generator names its losses
/// (`loss f = ...`) so that (b) checks the simplifier rather than this.
#[test]
fn simplify_of_an_unnamed_loss_is_a_valid_program() {
    for source in [
        "loss = mean(square(y_pred - y_true))",
        "loss = mean(y_pred)\nloss second = mean(exp(y_pred))",
    ] {
        let program = lossc::compile(source).expect("a valid program");
        let simplified = program.simplify().source;
        let again = lossc::compile(&simplified)
            .unwrap_or_else(|e| panic!("`simplify` of\n{source}\nprints\n{simplified}\nwhich does not compile: {e}"));
        let names: Vec<&str> = again.losses().collect();
        assert_eq!(
            names,
            program.losses().collect::<Vec<_>>(),
            "the losses keep their names and order"
        );
    }
}
