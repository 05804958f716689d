//! The symbolic gradient (`eval --grad`, f64) against central finite
//! differences of the loss value, for every differentiable built-in, every
//! axis/keepdims/index form, broadcasting, per-sample losses, params as `wrt`
//! and every program in `examples/`; and hand-derived exact values at the
//! kinks, where docs/language.md fixes the subgradient.
//!
//! Finite differences: central, `h = 1e-6 * max(1, |x|)` per element; the
//! symbolic value must agree to `1e-6` relative plus `1e-9 * max(1, |loss|)`
//! absolute (the rounding of the two loss values, divided by `2h`). Points are
//! chosen inside each function's domain and away from its kinks and ties (for
//! the one-argument functions, in the interval the built-in table's `sample`
//! column gives each).

use std::fs;
use std::path::{Path, PathBuf};

use lossc::ir::{Dim, Domain, Value, Var};
use lossc::{Dtype, EvalOptions, Evaluation, Program};
use ndarray::{ArrayD, Dimension, IxDyn};

use crate::support::unary;

type Inputs = Vec<(String, ArrayD<f64>)>;

// ------------------------------------------------------------------ helpers

/// An array of `shape` from row-major `data`.
fn arr(shape: &[usize], data: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).expect("data matches the shape")
}

/// A vector.
fn vec1(data: &[f64]) -> ArrayD<f64> {
    arr(&[data.len()], data)
}

/// Deterministic pseudo-random numbers (splitmix64), uniform in `[lo, hi)`.
struct Points(u64);

impl Points {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_unit()
    }

    fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
        let count = shape.iter().product();
        let data: Vec<f64> = (0..count).map(|_| self.uniform(lo, hi)).collect();
        arr(shape, &data)
    }
}

fn compile(src: &str) -> Program {
    lossc::compile(src).unwrap_or_else(|e| panic!("does not compile: {e}\n{src}"))
}

fn owned(inputs: &[(&str, ArrayD<f64>)]) -> Inputs {
    inputs.iter().map(|(n, a)| (n.to_string(), a.clone())).collect()
}

fn options(grad: bool, wrt: &[&str]) -> EvalOptions {
    EvalOptions {
        dtype: Dtype::F64,
        result: None,
        grad,
        wrt: wrt.iter().map(|w| w.to_string()).collect(),
    }
}

fn evaluate(program: &Program, inputs: &Inputs, grad: bool, wrt: &[&str], src: &str) -> Evaluation {
    program
        .eval(inputs, &options(grad, wrt))
        .unwrap_or_else(|e| panic!("eval fails: {e}\n{src}"))
}

/// The default loss's value (the mean of a per-sample loss).
fn loss_value(program: &Program, inputs: &Inputs) -> f64 {
    let evaluation = program.eval(inputs, &options(false, &[])).expect("the loss evaluates");
    *evaluation.value.first().expect("a 0-d value")
}

/// Central finite differences of the loss with respect to an input or a
/// scalar param, one element at a time.
fn finite_differences(program: &Program, inputs: &Inputs, var: &str) -> ArrayD<f64> {
    finite_differences_with(program, inputs, var, 1.0)
}

/// As [`finite_differences`], with the step scaled by `scale`.
fn finite_differences_with(program: &Program, inputs: &Inputs, var: &str, scale: f64) -> ArrayD<f64> {
    let ir = program.ir();
    match ir.var(var).unwrap_or_else(|| panic!("no variable `{var}`")) {
        Var::Input(_) => {
            let slot = inputs
                .iter()
                .position(|(n, _)| n == var)
                .expect("data for the variable");
            let base = inputs[slot].1.clone();
            let mut out = ArrayD::zeros(base.raw_dim());
            let mut shifted = inputs.clone();
            for (index, &x) in base.indexed_iter() {
                let h = scale * 1e-6 * x.abs().max(1.0);
                shifted[slot].1[&index] = x + h;
                let up = loss_value(program, &shifted);
                shifted[slot].1[&index] = x - h;
                let down = loss_value(program, &shifted);
                shifted[slot].1[&index] = x;
                out[&index] = (up - down) / (2.0 * h);
            }
            out
        }
        Var::Param(i) => {
            let Value::Scalar(x) = ir.params[i].value else {
                panic!("finite differences of a vector param go through `check_vector_param`")
            };
            let h = scale * 1e-6 * x.abs().max(1.0);
            let at = |v: f64| {
                let mut p = program.clone();
                p.set_param(var, v).expect("a scalar param");
                loss_value(&p, inputs)
            };
            ndarray::arr0((at(x + h) - at(x - h)) / (2.0 * h)).into_dyn()
        }
    }
}

fn close(symbolic: f64, numeric: f64, loss: f64) -> bool {
    (symbolic - numeric).abs() <= 1e-6 * symbolic.abs().max(numeric.abs()) + 1e-9 * loss.abs().max(1.0)
}

/// Compares one variable's symbolic gradient with `numeric`, panicking with
/// every disagreeing element.
fn compare(src: &str, inputs: &Inputs, var: &str, symbolic: &ArrayD<f64>, numeric: &ArrayD<f64>, loss: f64) {
    assert_eq!(
        symbolic.shape(),
        numeric.shape(),
        "gradient of `{var}` has the wrong shape\n{src}"
    );
    let bad: Vec<String> = symbolic
        .indexed_iter()
        .zip(numeric.iter())
        .filter(|&((_, &s), &n)| !(s.is_finite() && close(s, n, loss)))
        .map(|((index, s), n)| format!("  {var}{:?}: symbolic {s:e}, finite differences {n:e}", index.slice()))
        .collect();
    assert!(
        bad.is_empty(),
        "gradient disagrees with finite differences\nprogram:\n{src}\ninputs: {inputs:?}\nloss = {loss}\n{}",
        bad.join("\n")
    );
}

/// The gradient of the default loss with respect to `wrt` (the program's own
/// `wrt` if empty) agrees with central finite differences at `inputs`.
fn check(src: &str, inputs: &[(&str, ArrayD<f64>)], wrt: &[&str]) {
    let program = compile(src);
    let inputs = owned(inputs);
    let evaluation = evaluate(&program, &inputs, true, wrt, src);
    let loss = *evaluation.value.first().expect("a 0-d value");
    assert!(
        loss.is_finite(),
        "the loss is {loss} at the test point\n{src}\n{inputs:?}"
    );
    let expected: Vec<String> = if wrt.is_empty() {
        program
            .ir()
            .wrt
            .iter()
            .map(|&v| program.ir().var_name(v).to_string())
            .collect()
    } else {
        wrt.iter().map(|w| w.to_string()).collect()
    };
    let names: Vec<&String> = evaluation.gradient.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        expected.iter().collect::<Vec<_>>(),
        "one gradient per `wrt`, in order\n{src}"
    );
    for (var, symbolic) in &evaluation.gradient {
        let numeric = finite_differences(&program, &inputs, var);
        compare(src, &inputs, var, symbolic, &numeric, loss);
    }
}

/// As [`check`], for a vector param: `template` holds `{W}` where the
/// param's vector literal goes, and finite differences recompile it.
fn check_vector_param(template: &str, name: &str, values: &[f64], inputs: &[(&str, ArrayD<f64>)]) {
    let literal = |v: &[f64]| {
        format!(
            "[{}]",
            v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")
        )
    };
    let source = |v: &[f64]| template.replace("{W}", &literal(v));
    let src = source(values);
    let program = compile(&src);
    let inputs = owned(inputs);
    let evaluation = evaluate(&program, &inputs, true, &[name], &src);
    let loss = *evaluation.value.first().expect("a 0-d value");
    let (_, symbolic) = &evaluation.gradient[0];
    let mut numeric = ArrayD::zeros(IxDyn(&[values.len()]));
    for k in 0..values.len() {
        let h = 1e-6 * values[k].abs().max(1.0);
        let mut shifted = values.to_vec();
        shifted[k] = values[k] + h;
        let up = loss_value(&compile(&source(&shifted)), &inputs);
        shifted[k] = values[k] - h;
        let down = loss_value(&compile(&source(&shifted)), &inputs);
        numeric[[k]] = (up - down) / (2.0 * h);
    }
    compare(&src, &inputs, name, symbolic, &numeric, loss);
}

/// The gradient of the default loss with respect to each `(var, expected)`
/// equals `expected` (hand-derived), exactly up to rounding; `inf` must be
/// `inf` and `NaN` must be `NaN`.
fn exact(src: &str, inputs: &[(&str, ArrayD<f64>)], expected: &[(&str, ArrayD<f64>)]) {
    if let Err(message) = exact_or_message(src, inputs, expected) {
        panic!("{message}");
    }
}

/// As [`exact`], returning what disagrees.
fn exact_or_message(src: &str, inputs: &[(&str, ArrayD<f64>)], expected: &[(&str, ArrayD<f64>)]) -> Result<(), String> {
    let program = compile(src);
    let inputs = owned(inputs);
    let wrt: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    let evaluation = evaluate(&program, &inputs, true, &wrt, src);
    for ((var, want), (name, got)) in expected.iter().zip(&evaluation.gradient) {
        assert_eq!(var, name);
        assert_eq!(
            want.shape(),
            got.shape(),
            "gradient of `{var}` has the wrong shape\n{src}"
        );
        let ok = want.iter().zip(got.iter()).all(|(&w, &g)| {
            if w.is_finite() {
                (w - g).abs() <= 1e-12 * w.abs().max(1.0)
            } else {
                w == g || (w.is_nan() && g.is_nan())
            }
        });
        if !ok {
            let symbolic = program
                .gradient(None, &[var])
                .ok()
                .and_then(|g| g.expression(var))
                .unwrap_or_default();
            let at: Vec<String> = inputs.iter().map(|(n, a)| format!("{n} = {a}")).collect();
            return Err(format!(
                "wrong gradient of `{var}`\nprogram:\n{src}\nat {}\n\
                 expected {want}\n     got {got}\nsymbolic: {symbolic}",
                at.join(", ")
            ));
        }
    }
    Ok(())
}

// The standard points: N = 4 samples, C = 3 classes.
const N: usize = 4;
const C: usize = 3;

fn weights() -> ArrayD<f64> {
    vec1(&[0.7, -1.3, 0.4, 1.1])
}

// ------------------------------------------------- elementwise, one argument

#[test]
fn unary_builtins_match_finite_differences() {
    // Every one-argument elementwise built-in of the table with a
    // derivative, at points of its sample interval (inside its domain, clear
    // of its poles): the ends and the thirds, which miss the kinks of `abs`
    // and `relu` at 0.
    for unary in unary::differentiable() {
        let points: [f64; N] = unary.points(N).try_into().expect("N points");
        let src = format!("loss = mean(y_true * {})", unary.apply("y_pred"));
        check(&src, &[("y_true", weights()), ("y_pred", vec1(&points))], &[]);
        // The same through a nonlinear outer function, on [N, C], at points
        // spread evenly inside the interval.
        let src = format!("input x: real [N, C]\nwrt x\nloss = mean(sin({}))", unary.apply("x"));
        let (lo, hi) = unary.sample;
        let grid: Vec<f64> = (0..N * C)
            .map(|k| lo + (hi - lo) * (k as f64 + 0.5) / (N * C) as f64)
            .collect();
        check(&src, &[("x", arr(&[N, C], &grid))], &[]);
    }
}

// ---------------------------------------------- elementwise, two arguments

#[test]
fn binary_builtins_match_finite_differences_in_both_arguments() {
    let a = vec1(&[-1.2, 0.4, 1.7, -0.6]);
    let b = vec1(&[0.8, -1.5, 0.3, 2.1]);
    let positive = vec1(&[0.3, 1.2, 2.5, 0.7]);
    let positive2 = vec1(&[1.4, 0.2, 0.9, 3.1]);
    let cases: &[(&str, &ArrayD<f64>, &ArrayD<f64>)] = &[
        ("a + b", &a, &b),
        ("a - b", &a, &b),
        ("a * b", &a, &b),
        ("a / b", &a, &b),
        ("a ^ b", &positive, &b),
        ("a ** b", &positive, &b),
        ("pow(a, b)", &positive, &b),
        ("maximum(a, b)", &a, &b),
        ("minimum(a, b)", &a, &b),
        ("xlogy(a, b)", &a, &positive),
        ("xlogy(a * 0, b) + xlogy(b, a)", &positive, &positive2),
        // Constant exponents, negative bases included.
        ("a ^ 3 + b ^ 2", &a, &b),
        ("a ^ -2 + b ^ 0.5", &a, &positive),
        ("2 ^ a + 0.5 ^ b", &a, &b),
        ("-a ^ 2 * b", &a, &b),
    ];
    for (expr, a, b) in cases {
        let src = format!("input a: real\ninput b: real\nwrt a, b\nloss = mean(y_true * ({expr}))");
        check(
            &src,
            &[("y_true", weights()), ("a", (*a).clone()), ("b", (*b).clone())],
            &[],
        );
    }
}

#[test]
fn clip_matches_finite_differences_with_the_variable_in_each_position() {
    // Each of x, lo, hi selected somewhere; lo > hi in the last element.
    let x = vec1(&[-2.0, 0.5, 3.0, 0.1, 1.5, 0.5]);
    let lo = vec1(&[-1.0, -1.0, -1.0, 0.3, 0.0, 2.0]);
    let hi = vec1(&[1.0, 1.0, 1.0, 2.0, 1.0, 1.0]);
    let w = vec1(&[0.7, -1.3, 0.4, 1.1, 0.9, -0.5]);
    let src = "input x: real\ninput lo: real\ninput hi: real\nwrt x, lo, hi\nloss = mean(w * clip(x, lo, hi))";
    let src = format!("input w: real\n{src}");
    check(
        &src,
        &[
            ("w", w.clone()),
            ("x", x.clone()),
            ("lo", lo.clone()),
            ("hi", hi.clone()),
        ],
        &[],
    );
    // One variable at a time, the bounds constant or the variable nonlinear.
    for expr in [
        "clip(square(x), 0.5, 2)",
        "clip(0.3, sin(x), 2)",
        "clip(0.3, -1, exp(x))",
        "clip(x, x - 1, x + 1)",
    ] {
        let src = format!("input w: real\ninput x: real\nwrt x\nloss = mean(w * {expr})");
        check(&src, &[("w", w.clone()), ("x", x.clone())], &[]);
    }
}

#[test]
fn where_matches_finite_differences_with_the_variable_in_each_branch() {
    let a = vec1(&[-1.2, 0.4, 1.7, -0.6]);
    let b = vec1(&[0.8, -1.5, 0.3, 2.1]);
    let cases = [
        "where(y_true > 0, square(a) * 2, 1)",
        "where(y_true > 0, 1, sin(b))",
        "where(y_true > 0, square(a), sin(b))",
        "where(a > b, a, b * 3)",
        "where(a > 0.5 and b < 1 or not (a < -1), exp(a), a * b)",
        "where(y_true > 0, a, 0) + where(y_true <= 0, 0, b)",
        "float(a > 0) * a + float(b < 0.5) * square(b)",
    ];
    for expr in cases {
        let src = format!("input a: real\ninput b: real\nwrt a, b\nloss = mean(y_true * ({expr}))");
        check(&src, &[("y_true", weights()), ("a", a.clone()), ("b", b.clone())], &[]);
    }
    // The same variable in both branches, and a param in one.
    let src = "param w = 0.7\nwrt y_pred, w\nloss = mean(where(y_pred > 0.5, square(y_pred) * w, exp(y_pred)))";
    check(src, &[("y_pred", vec1(&[0.1, 0.9, -0.4, 1.6]))], &[]);
}

// ------------------------------------------------------------- reductions

#[test]
fn reductions_match_finite_differences_for_every_axis_form() {
    let mut points = Points(7);
    let x = points.array(&[N, C], -1.5, 1.5);
    let v = points.array(&[N], -1.5, 1.5);
    let axes = [
        "",
        ", axis=0",
        ", axis=1",
        ", axis=-1",
        ", axis=-2",
        ", axis=(0, 1)",
        ", axis=(-1, 0)",
    ];
    let keepdims = ["", ", keepdims=true", ", keepdims=false"];
    let mut count = 0;
    for r in ["sum", "mean", "max", "min", "logsumexp", "norm"] {
        for axis in axes {
            for keep in keepdims {
                let src = format!("input x: real [N, C]\nwrt x\nloss = sum(sin({r}(x{axis}{keep})))");
                check(&src, &[("x", x.clone())], &[]);
                count += 1;
            }
        }
        for axis in ["", ", axis=0", ", axis=-1"] {
            for keep in keepdims {
                let src = format!("input v: real [N]\nwrt v\nloss = sum(sin({r}(v{axis}{keep})))");
                check(&src, &[("v", v.clone())], &[]);
                count += 1;
            }
        }
        // Reduced per sample: a per-sample loss.
        let src = format!("input x: real [N, C]\nwrt x\nloss = sin({r}(x, axis=-1)) * 3");
        check(&src, &[("x", x.clone())], &[]);
    }
    assert_eq!(count, 6 * (7 * 3 + 3 * 3));
}

#[test]
fn softmax_and_log_softmax_match_finite_differences_along_each_axis() {
    let mut points = Points(11);
    let x = points.array(&[N, C], -2.0, 2.0);
    let t = points.array(&[N, C], -1.0, 1.0);
    let v = points.array(&[N], -2.0, 2.0);
    let tv = points.array(&[N], -1.0, 1.0);
    for f in ["softmax", "log_softmax"] {
        for axis in ["", ", axis=0", ", axis=1", ", axis=-1", ", axis=-2"] {
            let src = format!("input x: real [N, C]\ninput t: real [N, C]\nwrt x\nloss = sum(t * {f}(x{axis}))");
            check(&src, &[("x", x.clone()), ("t", t.clone())], &[]);
            // A gradient that is constant along the axis.
            let src = format!("input x: real [N, C]\nwrt x\nloss = mean({f}(x{axis}) * 2)");
            check(&src, &[("x", x.clone())], &[]);
        }
        for axis in ["", ", axis=0", ", axis=-1"] {
            let src = format!("input v: real [N]\ninput t: real [N]\nwrt v\nloss = sum(t * {f}(v{axis}))");
            check(&src, &[("v", v.clone()), ("t", tv.clone())], &[]);
        }
    }
}

#[test]
fn take_matches_finite_differences_for_positive_and_negative_indices() {
    let mut points = Points(13);
    let x = points.array(&[N, C], -2.0, 2.0);
    let v = points.array(&[N], -2.0, 2.0);
    let cases = [
        "sum(sin(take(x, 0)))",
        "sum(sin(take(x, 2)))",
        "sum(sin(take(x, -1)))",
        "sum(sin(take(x, -3)))",
        "sum(sin(take(x, 1, axis=1)))",
        "sum(sin(take(x, -2, axis=-1)))",
        "sum(sin(take(x, 1, axis=0)))",
        "sum(sin(take(x, -1, axis=0)))",
        "sum(sin(take(x, -4, axis=-2)))",
        "mean(take(x, 0) * take(x, -1))",
        "mean(take(x, 1) * 2)",
        // Per-sample losses.
        "sin(take(x, 1))",
        "exp(take(x, -1, axis=-1)) + take(x, 0)",
    ];
    for expr in cases {
        check(
            &format!("input x: real [N, C]\nwrt x\nloss = {expr}"),
            &[("x", x.clone())],
            &[],
        );
    }
    for expr in [
        "sin(take(v, 2))",
        "exp(take(v, -1)) * take(v, 0, axis=0)",
        "take(v, -4) * 3",
    ] {
        check(
            &format!("input v: real [N]\nwrt v\nloss = {expr}"),
            &[("v", v.clone())],
            &[],
        );
    }
}

#[test]
fn expand_dims_matches_finite_differences() {
    let mut points = Points(17);
    let x = points.array(&[N, C], -2.0, 2.0);
    let v = points.array(&[N], -2.0, 2.0);
    let c = points.array(&[C], -2.0, 2.0);
    let cases: &[(&str, &str)] = &[
        ("v", "sum(sin(expand_dims(v, axis=1) * x))"),
        ("v", "sum(sin(expand_dims(v, axis=-1) * x))"),
        ("v", "sum(sin(expand_dims(v, axis=0)))"),
        ("v", "sum(sin(expand_dims(v, axis=(0, 2))))"),
        ("c", "sum(sin(expand_dims(c, axis=0) * x))"),
        ("x", "sum(sin(expand_dims(x, axis=1)))"),
        ("x", "mean(expand_dims(x, axis=0) * 2)"),
    ];
    for (var, expr) in cases {
        let src = format!("input x: real [N, C]\ninput v: real [N]\ninput c: real [C]\nwrt {var}\nloss = {expr}");
        check(&src, &[("x", x.clone()), ("v", v.clone()), ("c", c.clone())], &[]);
    }
    // A scalar param expanded.
    let src = "param w = 0.7\nwrt w\nloss = mean(sin(expand_dims(w, axis=0) * y_pred))";
    check(src, &[("y_pred", v.clone())], &[]);
}

// ------------------------------------------------------------ broadcasting

#[test]
fn broadcasting_sums_the_gradient_back_over_the_broadcast_axes() {
    let mut points = Points(19);
    let x = points.array(&[N, C], -2.0, 2.0);
    let b = points.array(&[C], -1.0, 1.0);
    let s = points.array(&[N, 1], -1.0, 1.0);
    let data = || vec![("x", x.clone()), ("b", b.clone()), ("s", s.clone())];
    let decl = "input x: real [N, C]\ninput b: real [C]\ninput s: real [N, 1]\n";
    for (wrt, expr) in [
        ("b", "mean(square(x - b))"),
        ("b", "mean(sin(b) * x)"),
        ("s", "mean(sin(s * x))"),
        ("s", "sum(softmax(s * x) * x)"),
        ("x, s", "mean(sin(s * x + b))"),
        ("x, b, s", "sum(log_softmax(x * s + b), axis=-1)"),
        ("s, b", "mean(exp(s + b))"),
        ("x", "mean(sin(x * 2 + 1))"),
        ("s", "mean(sin(broadcast_like(s, x) * x))"),
        ("b", "mean(sin(broadcast_like(b, x)))"),
        // Linear in the broadcast operand: its adjoint stays smaller than
        // the broadcast result (a scalar from `mean`, `[N, 1]` from a sum
        // over the last axis) and must still be summed over the broadcast.
        ("b", "mean(x + b)"),
        ("b", "sum(x - b * 2)"),
        ("s", "sum(x * s, axis=-1)"),
        ("s", "mean(s + x)"),
        ("s, b", "sum(s + b, axis=-1)"),
        ("x, s, b", "sum(sum(x + s, axis=-1, keepdims=true) + b)"),
        ("b", "mean(take(x + b, 1, axis=0))"),
        ("s", "mean(expand_dims(s + x, axis=0))"),
    ] {
        check(&format!("{decl}wrt {wrt}\nloss = {expr}"), &data(), &[]);
    }
    // A [3] vector param against [N, 3] data.
    let x3 = points.array(&[N, 3], -2.0, 2.0);
    let template = "input x: real [N, 3]\nparam w = {W}\nloss = mean(sin(x * w))";
    check_vector_param(template, "w", &[0.5, 1.0, 2.0], &[("x", x3.clone())]);
    let template = "input x: real [N, 3]\nparam w = {W}\nloss = sum(w * log_softmax(x), axis=-1)";
    check_vector_param(template, "w", &[0.5, -1.0, 2.0], &[("x", x3.clone())]);
    let template = "input x: real [N, 3]\nparam w = {W}\nloss = mean(x + w)";
    check_vector_param(template, "w", &[0.5, -1.0, 2.0], &[("x", x3)]);
}

#[test]
fn a_scalar_adjoint_is_summed_over_the_axes_it_stands_for() {
    // The gradient of a broadcast operand is the sum over the broadcast axes
    // even where the adjoint reaching the broadcast is a scalar or keeps an
    // axis of size 1 (hand-derived, N = 4, C = 3).
    let y_pred = vec1(&[0.1, 0.9, -0.4, 1.6]);
    let x = arr(&[N, C], &[1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 2.0, 2.0, 2.0, -3.0, 1.0, 1.5]);
    let row_sums: Vec<f64> = (0..N)
        .map(|n| (0..C).map(|c| x[[n, c]]).sum::<f64>() / N as f64)
        .collect();
    let scalar = |v: f64| ndarray::arr0(v).into_dyn();
    type Case<'a> = (&'a str, Vec<(&'a str, ArrayD<f64>)>, Vec<(&'a str, ArrayD<f64>)>);
    let cases: Vec<Case> = vec![
        (
            "param w = 0.7\nwrt w\nloss = mean(w + y_pred)",
            vec![("y_pred", y_pred.clone())],
            vec![("w", scalar(1.0))],
        ),
        (
            "param w = 0.7\nwrt w\nloss = sum(w * 2 + y_pred)",
            vec![("y_pred", y_pred.clone())],
            vec![("w", scalar(2.0 * N as f64))],
        ),
        (
            "param w = 0.7\nwrt y_pred, w\nloss = w + y_pred",
            vec![("y_pred", y_pred.clone())],
            vec![("y_pred", vec1(&[0.25; N])), ("w", scalar(1.0))],
        ),
        (
            "input a: real\nwrt a\nloss = mean(sum(a, keepdims=true) + a)",
            vec![("a", y_pred.clone())],
            vec![("a", vec1(&[1.25; N]))],
        ),
        (
            "input x: real [N, C]\ninput b: real [C]\nwrt x, b\nloss = mean(x + b)",
            vec![("x", x.clone()), ("b", vec1(&[0.1, 0.2, 0.3]))],
            vec![
                ("x", ArrayD::from_elem(IxDyn(&[N, C]), 1.0 / 12.0)),
                ("b", vec1(&[1.0 / 3.0; C])),
            ],
        ),
        (
            "input x: real [N, C]\ninput s: real [N, 1]\nwrt x, s\nloss = sum(x * s, axis=-1)",
            vec![("x", x.clone()), ("s", arr(&[N, 1], &[1.0, 2.0, 3.0, 4.0]))],
            vec![
                (
                    "x",
                    arr(
                        &[N, C],
                        &[0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1.0, 1.0, 1.0],
                    ),
                ),
                ("s", arr(&[N, 1], &row_sums)),
            ],
        ),
        (
            "input x: real [N, C]\ninput s: real []\nwrt x, s\nloss = mean(x + s)",
            vec![("x", x.clone()), ("s", scalar(0.5))],
            vec![("s", scalar(1.0))],
        ),
        (
            "input x: real [N, C]\ninput c: real [C]\nwrt x, c\nloss = sum(x + expand_dims(c, axis=0), axis=-1)",
            vec![("x", x.clone()), ("c", vec1(&[0.1, 0.2, 0.3]))],
            vec![("c", vec1(&[1.0; C]))],
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(src, inputs, expected)| exact_or_message(src, inputs, expected).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_loss_other_than_the_default_and_a_variable_it_does_not_use() {
    let src = "param w = 0.7\nwrt y_pred, w\nloss first = mean(square(y_pred - y_true))\n\
               loss second = mean(w * exp(y_pred) * y_true)\noutput o = y_pred * 2";
    let program = compile(src);
    let y_pred = vec1(&[0.1, 0.9, -0.4, 1.6]);
    let inputs = owned(&[("y_true", weights()), ("y_pred", y_pred.clone())]);
    let second = |grad| EvalOptions {
        result: Some("second".to_string()),
        ..options(grad, &[])
    };
    let evaluation = program.eval(&inputs, &second(true)).expect("eval --grad --loss second");
    assert_eq!(evaluation.name, "second");
    let loss = *evaluation.value.first().unwrap();
    // Finite differences of `second`, by hand: it is not the default loss.
    let value = |p: &Program, i: &Inputs| *p.eval(i, &second(false)).unwrap().value.first().unwrap();
    let mut numeric = ArrayD::zeros(IxDyn(&[N]));
    for k in 0..N {
        let mut shifted = inputs.clone();
        let x = inputs[1].1[k];
        let h = 1e-6 * x.abs().max(1.0);
        shifted[1].1[k] = x + h;
        let up = value(&program, &shifted);
        shifted[1].1[k] = x - h;
        numeric[k] = (up - value(&program, &shifted)) / (2.0 * h);
    }
    compare(src, &inputs, "y_pred", &evaluation.gradient[0].1, &numeric, loss);
    let h = 1e-6;
    let at = |v: f64| {
        let mut p = program.clone();
        p.set_param("w", v).unwrap();
        value(&p, &inputs)
    };
    let numeric_w = ndarray::arr0((at(0.7 + h) - at(0.7 - h)) / (2.0 * h)).into_dyn();
    compare(src, &inputs, "w", &evaluation.gradient[1].1, &numeric_w, loss);
    // `first`, the default, does not use `w`: its gradient is exactly 0, of w's shape.
    exact(
        src,
        &[("y_true", weights()), ("y_pred", y_pred.clone())],
        &[
            ("y_pred", (y_pred - weights()) * 0.5),
            ("w", ndarray::arr0(0.0).into_dyn()),
        ],
    );
    // An output is never differentiated.
    let output = EvalOptions {
        result: Some("o".to_string()),
        ..options(true, &[])
    };
    assert!(
        program.eval(&inputs, &output).is_err(),
        "eval --grad of an output must be refused"
    );
}

// --------------------------------------------- per-sample losses and params

#[test]
fn per_sample_losses_are_differentiated_as_their_mean() {
    let mut points = Points(23);
    let x = points.array(&[N, C], -2.0, 2.0);
    let t = points.array(&[N, C], -1.0, 1.0);
    let src = "input x: real [N, C]\ninput t: real [N, C]\nwrt x\nloss = sum(square(x - t), axis=-1)";
    check(src, &[("x", x.clone()), ("t", t.clone())], &[]);
    let program = compile(src);
    let inputs = owned(&[("x", x.clone()), ("t", t.clone())]);
    let evaluation = evaluate(&program, &inputs, true, &[], src);
    let per_sample = evaluation.per_sample.expect("a per-sample loss reports its samples");
    assert_eq!(per_sample.len(), N);
    let mean = per_sample.sum() / N as f64;
    assert!((evaluation.value.first().copied().unwrap() - mean).abs() < 1e-12);
    // Exact: d/dx mean_n sum_c (x - t)^2 = 2 (x - t) / N.
    exact(
        src,
        &[("x", x.clone()), ("t", t.clone())],
        &[("x", (&x - &t) * 2.0 / N as f64)],
    );

    let src = "loss = square(y_pred - y_true) * y_true";
    check(
        src,
        &[("y_true", weights()), ("y_pred", vec1(&[0.1, 0.9, -0.4, 1.6]))],
        &[],
    );
}

#[test]
fn params_and_several_variables_at_once() {
    let y_pred = vec1(&[0.1, 0.9, -0.4, 1.6]);
    let src = "param w = 0.7\nwrt w\nloss = mean(square(y_pred - w * y_true))";
    check(src, &[("y_true", weights()), ("y_pred", y_pred.clone())], &[]);
    // Overridden by the caller (`--param`) and then differentiated there.
    let mut program = compile(src);
    program.set_param("w", -2.5).expect("a scalar param");
    let inputs = owned(&[("y_true", weights()), ("y_pred", y_pred.clone())]);
    let evaluation = evaluate(&program, &inputs, true, &[], src);
    let numeric = finite_differences(&program, &inputs, "w");
    let loss = *evaluation.value.first().unwrap();
    compare(src, &inputs, "w", &evaluation.gradient[0].1, &numeric, loss);

    let src = "param w = 0.7\nparam gamma = 2.0\nwrt y_pred, w, y_true, gamma\n\
               loss = mean(w * y_true * (1 - sigmoid(y_pred)) ^ gamma + softplus(y_pred * w))";
    check(src, &[("y_true", weights()), ("y_pred", y_pred.clone())], &[]);
    // `wrt` given by the caller overrides the program's.
    check(
        src,
        &[("y_true", weights()), ("y_pred", y_pred.clone())],
        &["gamma", "y_pred"],
    );
    // A def and a let in the path.
    let src = "def f(u, k) = k * log1p(square(u))\nparam w = 0.7\nlet z = f(y_pred, w) - y_true\n\
               wrt y_pred, w\nloss = mean(z * z)";
    check(src, &[("y_true", weights()), ("y_pred", y_pred)], &[]);
}

// ------------------------------------------------------- kink conventions

#[test]
fn abs_and_relu_have_derivative_zero_at_zero() {
    let at = vec1(&[0.0, 1.0, -2.0, 0.0]);
    exact(
        "loss = mean(abs(y_pred))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.0, 0.25, -0.25, 0.0]))],
    );
    exact(
        "loss = mean(relu(y_pred))",
        &[("y_pred", at)],
        &[("y_pred", vec1(&[0.0, 0.25, 0.0, 0.0]))],
    );
}

#[test]
fn maximum_and_minimum_give_each_argument_half_at_a_tie() {
    let decl = "input a: real\ninput b: real\nwrt a, b\n";
    let a = vec1(&[1.0, 2.0, 3.0, -1.0]);
    let b = vec1(&[1.0, 1.0, 4.0, -1.0]);
    let data = [("a", a), ("b", b)];
    exact(
        &format!("{decl}loss = mean(maximum(a, b))"),
        &data,
        &[
            ("a", vec1(&[0.125, 0.25, 0.0, 0.125])),
            ("b", vec1(&[0.125, 0.0, 0.25, 0.125])),
        ],
    );
    exact(
        &format!("{decl}loss = mean(minimum(a, b))"),
        &data,
        &[
            ("a", vec1(&[0.125, 0.0, 0.25, 0.125])),
            ("b", vec1(&[0.125, 0.25, 0.0, 0.125])),
        ],
    );
    // A tie with a constant: the variable gets half.
    exact(
        "loss = mean(maximum(y_pred, 0))",
        &[("y_pred", vec1(&[0.0, 1.0, -1.0, 0.0]))],
        &[("y_pred", vec1(&[0.125, 0.25, 0.0, 0.125]))],
    );
}

#[test]
fn clip_at_its_bounds_gives_half() {
    exact(
        "loss = mean(clip(y_pred, 0, 1))",
        &[("y_pred", vec1(&[0.0, 1.0, 0.5, 2.0]))],
        &[("y_pred", vec1(&[0.125, 0.125, 0.25, 0.0]))],
    );
    // minimum(maximum(x, lo), hi) with every argument a variable. The last
    // element is a three-way tie: maximum gives x and lo half each of what
    // minimum passes on, which is half (the other half goes to hi).
    let decl = "input x: real\ninput lo: real\ninput hi: real\nwrt x, lo, hi\n";
    let n = 5.0;
    exact(
        &format!("{decl}loss = mean(clip(x, lo, hi))"),
        &[
            ("x", vec1(&[0.0, 1.0, 0.5, 2.0, 0.5])),
            ("lo", vec1(&[0.0, 0.0, 0.0, 0.0, 0.5])),
            ("hi", vec1(&[1.0, 1.0, 1.0, 1.0, 0.5])),
        ],
        &[
            ("x", vec1(&[0.5 / n, 0.5 / n, 1.0 / n, 0.0, 0.25 / n])),
            ("lo", vec1(&[0.5 / n, 0.0, 0.0, 0.0, 0.25 / n])),
            ("hi", vec1(&[0.0, 0.5 / n, 0.0, 1.0 / n, 0.5 / n])),
        ],
    );
}

#[test]
fn ties_of_an_argument_with_itself_and_of_equal_bounds() {
    let at = vec1(&[0.5, 0.7, 0.3, -1.0]);
    // maximum(y, y): half and half of the same variable, so 1.
    exact(
        "loss = mean(maximum(y_pred, y_pred))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.25; N]))],
    );
    exact(
        "loss = mean(minimum(y_pred, y_pred * 1))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.25; N]))],
    );
    // clip(y, 0.5, 0.5): at 0.5, maximum's tie passes on half of what
    // minimum's tie passes, itself half: a quarter. Elsewhere a bound wins.
    exact(
        "loss = mean(clip(y_pred, 0.5, 0.5))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.25 / N as f64, 0.0, 0.0, 0.0]))],
    );
    // clip(y, y, y) is y: the ties share it all back to y, 1/4 + 1/4 + 1/2.
    exact(
        "loss = mean(clip(y_pred, y_pred, y_pred))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.25; N]))],
    );
    // where on the variable itself, at its boundary: the false branch's 0.
    exact(
        "loss = mean(where(y_pred > 0.5, y_pred, 0))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.0, 0.25, 0.0, 0.0]))],
    );
    exact(
        "loss = mean(abs(y_pred - y_true))",
        &[("y_pred", at), ("y_true", vec1(&[0.5, 0.0, 1.0, -1.0]))],
        &[("y_pred", vec1(&[0.0, 0.25, -0.25, 0.0]))],
    );
}

#[test]
fn max_and_min_reductions_share_a_tie_equally() {
    exact(
        "loss = max(y_pred)",
        &[("y_pred", vec1(&[1.0, 3.0, 3.0, 2.0]))],
        &[("y_pred", vec1(&[0.0, 0.5, 0.5, 0.0]))],
    );
    exact(
        "loss = min(y_pred)",
        &[("y_pred", vec1(&[1.0, 3.0, 1.0, 1.0]))],
        &[("y_pred", vec1(&[1.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0]))],
    );
    let x = arr(&[N, C], &[2.0, 2.0, 1.0, 5.0, 5.0, 5.0, 0.0, 1.0, -1.0, 3.0, 1.0, 3.0]);
    let third = 1.0 / 3.0;
    exact(
        "input x: real [N, C]\nwrt x\nloss = sum(max(x, axis=1))",
        &[("x", x.clone())],
        &[(
            "x",
            arr(
                &[N, C],
                &[0.5, 0.5, 0.0, third, third, third, 0.0, 1.0, 0.0, 0.5, 0.0, 0.5],
            ),
        )],
    );
    exact(
        "input x: real [N, C]\nwrt x\nloss = sum(max(x, axis=-1, keepdims=true))",
        &[("x", x.clone())],
        &[(
            "x",
            arr(
                &[N, C],
                &[0.5, 0.5, 0.0, third, third, third, 0.0, 1.0, 0.0, 0.5, 0.0, 0.5],
            ),
        )],
    );
    // Per column: [2, 5, 0, 3] and [1, 5, -1, 3] have one minimum, [2, 5, 1, 1] a tie.
    exact(
        "input x: real [N, C]\nwrt x\nloss = sum(min(x, axis=0))",
        &[("x", x.clone())],
        &[(
            "x",
            arr(&[N, C], &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.5, 0.0]),
        )],
    );
    // Over everything: the three 5s share.
    exact(
        "input x: real [N, C]\nwrt x\nloss = max(x)",
        &[("x", x)],
        &[(
            "x",
            arr(
                &[N, C],
                &[0.0, 0.0, 0.0, third, third, third, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
        )],
    );
}

#[test]
fn the_branch_not_selected_contributes_nothing_even_where_it_is_not_finite() {
    // docs/language.md: `where(c, a, b)` has derivative `where(c, a', b')`, and the
    // same holds for maximum, minimum, clip, relu. At y_pred = 0 the
    // unselected branch's derivative is infinite (1/0) or NaN.
    let at = [("y_pred", vec1(&[0.0, 2.0]))];
    let cases: &[(&str, [f64; 2])] = &[
        ("mean(where(y_pred > 0, log(y_pred), 0))", [0.0, 0.5 / 2.0]),
        ("mean(where(y_pred <= 0, 0, log(y_pred)))", [0.0, 0.5 / 2.0]),
        (
            "mean(where(y_pred > 0, sqrt(y_pred), 0))",
            [0.0, 0.5 * 0.5 / 2.0_f64.sqrt()],
        ),
        ("mean(maximum(log(y_pred), -1))", [0.0, 0.5 / 2.0]),
        ("mean(minimum(-log(y_pred), 1))", [0.0, -0.5 / 2.0]),
        ("mean(clip(log(y_pred), -1, 1))", [0.0, 0.5 / 2.0]),
        ("mean(relu(log(y_pred)))", [0.0, 0.5 / 2.0]),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(expr, expected)| {
            exact_or_message(&format!("loss = {expr}"), &at, &[("y_pred", vec1(expected))]).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn products_keep_ieee_semantics_in_the_gradient() {
    // docs/language.md: `0 * inf` in a product-rule term is NaN in lossc's gradient
    // too. d/dy_pred of y_true * sqrt(y_pred) is y_true * 0.5 / sqrt(y_pred).
    exact(
        "loss = mean(y_true * sqrt(y_pred))",
        &[("y_true", vec1(&[0.0, 1.0])), ("y_pred", vec1(&[0.0, 4.0]))],
        &[("y_pred", vec1(&[f64::NAN, 0.125]))],
    );
    exact(
        "loss = mean(y_true * log(y_pred))",
        &[("y_true", vec1(&[0.0, 1.0])), ("y_pred", vec1(&[0.0, 4.0]))],
        &[("y_pred", vec1(&[f64::NAN, 0.125]))],
    );
}

#[test]
fn a_power_at_a_zero_base_has_the_derivatives_jax_gives() {
    // d/dy x^y = x^y * log(x), with log(1) for log(0) (JAX's `_pow_jvp_rhs`
    // replaces a zero base by 1): at x = 0 it is 0 * 0^y, so 0 for y >= 0
    // and 0 * inf = NaN for y < 0, where the value is inf too.
    exact(
        "loss = mean(0 ^ y_pred)",
        &[("y_pred", vec1(&[0.0, 2.0, 0.5, -1.0]))],
        &[("y_pred", vec1(&[0.0, 0.0, 0.0, f64::NAN]))],
    );
    // A variable base: the same at x = 0. d/dx x^y = y * x^(y - 1), 0 where
    // y = 0 (x^0 is 1 for every x; JAX's rule for an integer exponent), -inf
    // for 0^-1.
    exact(
        "loss = mean(y_true ^ y_pred)",
        &[
            ("y_true", vec1(&[0.0, 0.0, 0.0, 2.0])),
            ("y_pred", vec1(&[0.0, 2.0, -1.0, 1.0])),
        ],
        &[
            ("y_true", vec1(&[0.0, 0.0, f64::NEG_INFINITY, 0.25])),
            ("y_pred", vec1(&[0.0, 0.0, f64::NAN, 2.0 * 2f64.ln() / 4.0])),
        ],
    );
    // Constant exponents at x = 0: x^0 has derivative 0, x^1 has 1, x^2 has 0.
    exact(
        "loss = mean(y_pred ^ 0 + y_pred ^ 1 + y_pred ^ 2)",
        &[("y_pred", vec1(&[0.0, 3.0]))],
        &[("y_pred", vec1(&[0.5, 3.5]))],
    );
    // Other constant bases: c^y * log(c).
    exact(
        "loss = mean(2 ^ y_pred + 0.5 ^ y_pred)",
        &[("y_pred", vec1(&[0.0, 1.0]))],
        &[("y_pred", vec1(&[0.0, 0.75 * 2f64.ln()]))],
    );
}

#[test]
fn sqrt_has_an_infinite_derivative_at_zero() {
    exact(
        "loss = mean(sqrt(y_pred))",
        &[("y_pred", vec1(&[0.0, 4.0]))],
        &[("y_pred", vec1(&[f64::INFINITY, 0.125]))],
    );
}

#[test]
fn step_functions_have_derivative_zero() {
    let at = vec1(&[0.5, 1.5, -0.7, 2.5]);
    for f in ["floor", "ceil", "round", "sign"] {
        // No gradient path at all: exactly zero, of the variable's shape.
        exact(
            &format!("loss = mean({f}(y_pred))"),
            &[("y_pred", at.clone())],
            &[("y_pred", vec1(&[0.0; N]))],
        );
        // In a product, only the other factor's derivative is left.
        let step: Vec<f64> = at
            .iter()
            .map(|&v| match f {
                "floor" => v.floor(),
                "ceil" => v.ceil(),
                "round" => v.round_ties_even(),
                _ => v.signum(),
            })
            .collect();
        let expected: Vec<f64> = step.iter().map(|s| s / N as f64).collect();
        exact(
            &format!("loss = mean(y_pred * {f}(y_pred))"),
            &[("y_pred", at.clone())],
            &[("y_pred", vec1(&expected))],
        );
    }
    exact(
        "loss = mean(y_pred * float(y_pred > 1))",
        &[("y_pred", at.clone())],
        &[("y_pred", vec1(&[0.0, 0.25, 0.0, 0.25]))],
    );
    exact(
        "loss = mean(float(y_pred > 1))",
        &[("y_pred", at)],
        &[("y_pred", vec1(&[0.0; N]))],
    );
}

// ------------------------------------------------------------- examples

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Data for every input of `program` from its declared domain and shape:
/// N = 4, other named dimensions 3; intervals sampled away from their ends,
/// sets by picking members.
fn example_inputs(program: &Program, points: &mut Points) -> Inputs {
    let ir = program.ir();
    ir.inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = input
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(k) => *k as usize,
                    Dim::Named(id) if ir.dims[id.0 as usize] == "N" => N,
                    Dim::Named(_) => C,
                })
                .collect();
            let count: usize = shape.iter().product();
            let mut data: Vec<f64> = (0..count)
                .map(|_| match &input.domain {
                    // Rows are scaled to sum to 1 below, every entry away from 0.
                    Domain::Simplex => points.uniform(0.2, 1.0),
                    Domain::OneHot => points.next_unit(),
                    Domain::Real => points.uniform(-2.0, 2.0),
                    Domain::Interval { lo, hi, .. } => match (lo.is_finite(), hi.is_finite()) {
                        (true, true) => points.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)),
                        (true, false) => points.uniform(lo + 0.1, lo + 3.0),
                        (false, true) => points.uniform(hi - 3.0, hi - 0.1),
                        (false, false) => points.uniform(-2.0, 2.0),
                    },
                    Domain::Set(values) => values[(points.next_unit() * values.len() as f64) as usize % values.len()],
                })
                .collect();
            let width = shape.last().copied().unwrap_or(1).max(1);
            for row in data.chunks_mut(width) {
                match input.domain {
                    Domain::Simplex => {
                        let total: f64 = row.iter().sum();
                        row.iter_mut().for_each(|v| *v /= total);
                    }
                    Domain::OneHot => {
                        let hot = (0..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best });
                        for (k, v) in row.iter_mut().enumerate() {
                            *v = f64::from(u8::from(k == hot));
                        }
                    }
                    _ => {}
                }
            }
            (input.name.clone(), arr(&shape, &data))
        })
        .collect()
}

/// Examples whose default loss is not differentiable at the sampled points:
/// none. (Every example's kinks, e.g. `abs` at 0 in `mae`, `maximum` ties in
/// `hinge` and `quantile`, `round` at halves in `faulty_round`, the `where`
/// boundary of `huber`, are hit with probability zero by continuous samples;
/// each sample is also checked with the step halved, so a point that does land
/// near a kink fails loudly rather than passing by luck.)
const SKIPPED_EXAMPLES: &[(&str, &str)] = &[];

#[test]
fn every_example_matches_finite_differences_at_points_of_its_domains() {
    let mut files: Vec<PathBuf> = fs::read_dir(workspace().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "loss"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} examples", files.len());
    let mut checked = 0;
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        if SKIPPED_EXAMPLES.iter().any(|(name, _)| *name == stem) {
            continue;
        }
        let src = fs::read_to_string(&file).expect("example");
        let program = compile(&src);
        for seed in 0..3 {
            let mut points = Points(1000 + seed);
            let inputs = example_inputs(&program, &mut points);
            let evaluation = evaluate(&program, &inputs, true, &[], &src);
            let loss = *evaluation.value.first().unwrap();
            assert!(loss.is_finite(), "{stem}: loss {loss} at {inputs:?}");
            for (var, symbolic) in &evaluation.gradient {
                let numeric = finite_differences(&program, &inputs, var);
                let halved = finite_differences_with(&program, &inputs, var, 0.5);
                let smooth = numeric.iter().zip(halved.iter()).all(|(&a, &b)| close(a, b, loss));
                assert!(
                    smooth,
                    "{stem}: the point is too close to a kink; skip it\n{inputs:?}\n{numeric}\n{halved}"
                );
                compare(&format!("# {stem}\n{src}"), &inputs, var, symbolic, &numeric, loss);
            }
            checked += 1;
        }
    }
    assert!(checked >= 60);
}
