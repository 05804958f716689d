//! The reference interpreter against values computed by hand: each expected
//! number is written out as arithmetic in the test, independent of the code
//! under test, with where it comes from.

use lossc_ir::{Op, Program};
use lossc_reference::{Bindings, EvalError, LossValue, eval, eval_loss};
use ndarray::{ArrayD, IxDyn, arr0};
use num_traits::Float;

/// The float types the tests run in.
trait Real: Float + lossc_ir::builtins::Scalar + std::fmt::Debug {}
impl<T: Float + lossc_ir::builtins::Scalar + std::fmt::Debug> Real for T {}

// ------------------------------------------------------------------ helpers

/// Parses and lowers `.loss` source; panics with the diagnostics if it fails.
#[track_caller]
fn compile(source: &str) -> Program {
    let ast = lossc_syntax::parse(source).unwrap_or_else(|d| panic!("parse failed: {d:#?}"));
    lossc_ir::lower(&ast, source)
        .unwrap_or_else(|d| panic!("lowering failed: {d:#?}"))
        .0
}

/// An array of shape `shape` from f64 values, converted to `T`.
fn array<T: Real>(shape: &[usize], values: &[f64]) -> ArrayD<T> {
    let values: Vec<T> = values.iter().map(|&v| T::from(v).unwrap()).collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

/// Evaluates result `name` of `source` on the given inputs.
#[track_caller]
fn run<T: Real>(source: &str, name: &str, inputs: &[(&str, ArrayD<T>)]) -> LossValue<T> {
    let program = compile(source);
    let bindings = Bindings::new(&program, inputs.iter().cloned()).unwrap_or_else(|e| panic!("binding failed: {e}"));
    eval_loss(&program, name, &bindings).unwrap_or_else(|e| panic!("evaluation failed: {e}"))
}

/// The error of binding the given inputs to `source`.
#[track_caller]
fn binding_error(source: &str, inputs: &[(&str, ArrayD<f64>)]) -> EvalError {
    let program = compile(source);
    Bindings::new(&program, inputs.iter().cloned()).expect_err("binding should fail")
}

/// The values of an array as f64, in row-major order.
fn values<T: Real>(array: &ArrayD<T>) -> Vec<f64> {
    array.iter().map(|v| v.to_f64().unwrap()).collect()
}

#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        let ok = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= tolerance * e.abs().max(1.0)
        };
        assert!(ok, "got {actual:?}, expected {expected:?} (tolerance {tolerance})");
    }
}

#[track_caller]
fn assert_scalar<T: Real>(value: &LossValue<T>, expected: f64, tolerance: f64) {
    assert_eq!(value.value.ndim(), 0, "not a scalar: {:?}", value.value);
    assert_close(&values(&value.value), &[expected], tolerance);
}

// ------------------------------------------------------------------- losses

const MSE: &str = "loss mse = mean(square(y_pred - y_true))";

fn mse_in<T: Real>() {
    let value = run::<T>(
        MSE,
        "mse",
        &[
            ("y_true", array(&[3], &[1.0, 0.0, 1.0])),
            ("y_pred", array(&[3], &[0.9, 0.2, 0.8])),
        ],
    );
    // (1 - 0.9)^2 + (0 - 0.2)^2 + (1 - 0.8)^2 = 0.01 + 0.04 + 0.04, over 3 samples.
    assert_scalar(&value, (0.01 + 0.04 + 0.04) / 3.0, 1e-6);
    assert_eq!(value.per_sample, None, "a scalar loss has no per-sample values");
}

#[test]
fn mse_by_hand_in_f32_and_f64() {
    mse_in::<f32>();
    mse_in::<f64>();
}

#[test]
fn per_sample_loss_value_is_the_mean() {
    let value = run::<f64>(
        "loss se = square(y_pred - y_true)",
        "se",
        &[
            ("y_true", array(&[3], &[1.0, 0.0, 1.0])),
            ("y_pred", array(&[3], &[0.9, 0.2, 0.8])),
        ],
    );
    let per_sample = value.per_sample.clone().expect("a [N] loss is per-sample");
    // The squared errors of each sample, as in the MSE test.
    assert_close(&per_sample.to_vec(), &[0.01, 0.04, 0.04], 1e-12);
    assert_scalar(&value, (0.01 + 0.04 + 0.04) / 3.0, 1e-12);
    assert_eq!(value.scalar().map(|v| (v - 0.03).abs() < 1e-12), Some(true));
}

const CLIPPED_BCE: &str = "
input y_true: {0, 1}
input y_pred: [0, 1]
const eps = 1e-7
let p = clip(y_pred, eps, 1 - eps)
loss bce = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))
output per_sample = -(y_true * log(p) + (1 - y_true) * log(1 - p))
";

#[test]
fn clipped_bce_by_hand() {
    let inputs = [
        ("y_true", array::<f64>(&[4], &[1.0, 0.0, 1.0, 0.0])),
        // 0 and 1 are the clip's cases: p becomes eps and 1 - eps.
        ("y_pred", array::<f64>(&[4], &[0.9, 0.2, 0.0, 1.0])),
    ];
    // Sample by sample: -ln(0.9), -ln(1 - 0.2), -ln(eps) (p clipped up to eps),
    // -ln(1 - (1 - eps)) = -ln(eps) (p clipped down to 1 - eps).
    let eps: f64 = 1e-7;
    let expected = [-(0.9f64).ln(), -(0.8f64).ln(), -eps.ln(), -eps.ln()];
    let per_sample = run::<f64>(CLIPPED_BCE, "per_sample", &inputs);
    assert_close(&values(&per_sample.value), &expected, 1e-8);
    let loss = run::<f64>(CLIPPED_BCE, "bce", &inputs);
    assert_scalar(&loss, expected.iter().sum::<f64>() / 4.0, 1e-8);
    // ln(1e-7) = -16.118095650958319: the clip keeps the loss finite.
    assert!((expected[2] - 16.118_095_650_958_32).abs() < 1e-9);

    // f32: 1 - eps is 0.99999988 (eps = 1e-7 is representable next to 1), so
    // the last sample is -ln(1 - 0.99999988f32) = -ln(1.1920929e-7), not -ln(1e-7).
    let inputs32 = [
        ("y_true", array::<f32>(&[4], &[1.0, 0.0, 1.0, 0.0])),
        ("y_pred", array::<f32>(&[4], &[0.9, 0.2, 0.0, 1.0])),
    ];
    let per_sample = run::<f32>(CLIPPED_BCE, "per_sample", &inputs32);
    let last = -(1.0f64 - f64::from(1.0f32 - 1e-7f32)).ln();
    assert_close(&values(&per_sample.value)[3..], &[last], 1e-6);
    assert!(values(&per_sample.value).iter().all(|v| v.is_finite()));
}

const CCE_LOGITS: &str = "
input y_true: [0, 1] [N, C]
input y_pred: real [N, C]
loss cce = mean(-sum(y_true * log_softmax(y_pred), axis=-1))
output log_probs = log_softmax(y_pred)
";

fn cce_in<T: Real>(tolerance: f64) {
    let inputs = [
        ("y_true", array::<T>(&[2, 3], &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0])),
        ("y_pred", array::<T>(&[2, 3], &[1.0, 2.0, 3.0, 0.0, 0.0, 0.0])),
    ];
    // Row 0: logsumexp(1, 2, 3) = 3 + ln(1 + e^-1 + e^-2) = 3.40760596444438;
    // row 1: logsumexp(0, 0, 0) = ln 3. log_softmax = logit - logsumexp.
    let lse0 = 3.0 + (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln();
    let lse1 = 3.0f64.ln();
    assert!((lse0 - 3.407_605_964_444_38).abs() < 1e-12);
    let expected_log_probs = [1.0 - lse0, 2.0 - lse0, 3.0 - lse0, -lse1, -lse1, -lse1];
    let log_probs = run::<T>(CCE_LOGITS, "log_probs", &inputs);
    assert_eq!(log_probs.value.shape(), &[2, 3]);
    assert_close(&values(&log_probs.value), &expected_log_probs, tolerance);
    // The true classes are 1 (row 0) and 0 (row 1): -(2 - lse0) and -(0 - lse1).
    let loss = run::<T>(CCE_LOGITS, "cce", &inputs);
    assert_scalar(&loss, ((lse0 - 2.0) + lse1) / 2.0, tolerance);
}

#[test]
fn categorical_cross_entropy_from_logits_by_hand() {
    cce_in::<f32>(1e-6);
    cce_in::<f64>(1e-14);
}

#[test]
fn sparse_cce_with_one_hot_matches_dense_labels() {
    let source = "
input y_true: {0..2}
input y_pred: real [N, C]
loss scce = mean(-sum(one_hot(y_true, C) * log_softmax(y_pred), axis=-1))
";
    let loss = run::<f64>(
        source,
        "scce",
        &[
            ("y_true", array(&[2], &[1.0, 0.0])),
            ("y_pred", array(&[2, 3], &[1.0, 2.0, 3.0, 0.0, 0.0, 0.0])),
        ],
    );
    // The same logits and classes as the dense CCE test.
    let lse0 = 3.0 + (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln();
    assert_scalar(&loss, ((lse0 - 2.0) + 3.0f64.ln()) / 2.0, 1e-14);
}

// ------------------------------------------------------- stable reductions

const LOGSUMEXP: &str = "
input x: real [N]
output lse = logsumexp(x)
output naive = log(sum(exp(x)))
";

#[test]
fn logsumexp_does_not_overflow() {
    // logsumexp(1000, 1000) = 1000 + ln(e^0 + e^0) = 1000 + ln 2; exp(1000)
    // overflows in both dtypes, so the naive form is inf.
    let value = run::<f64>(LOGSUMEXP, "lse", &[("x", array(&[2], &[1000.0, 1000.0]))]);
    assert_scalar(&value, 1000.0 + 2f64.ln(), 1e-15);
    let value = run::<f32>(LOGSUMEXP, "lse", &[("x", array(&[2], &[1000.0, 1000.0]))]);
    assert_scalar(&value, 1000.0 + 2f64.ln(), 1e-7);
    let naive = run::<f32>(LOGSUMEXP, "naive", &[("x", array(&[2], &[1000.0, 1000.0]))]);
    assert_eq!(naive.scalar(), Some(f32::INFINITY));
}

#[test]
fn logsumexp_edge_cases() {
    let lse = |data: &[f64]| {
        run::<f64>(LOGSUMEXP, "lse", &[("x", array(&[data.len()], data))])
            .scalar()
            .unwrap()
    };
    // Every term e^-inf = 0: the log of 0.
    assert_eq!(lse(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), f64::NEG_INFINITY);
    // One -inf term adds 0: logsumexp(-inf, 0) = ln(0 + 1) = 0.
    assert_eq!(lse(&[f64::NEG_INFINITY, 0.0]), 0.0);
    assert_eq!(lse(&[f64::INFINITY, 1.0]), f64::INFINITY);
    assert!(lse(&[f64::NAN, 1.0]).is_nan());
    // logsumexp(-1000, -1000) = -1000 + ln 2: no underflow to -inf either.
    assert!((lse(&[-1000.0, -1000.0]) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
}

#[test]
fn softmax_rows_sum_to_one() {
    let source = "
input x: real [N, C]
output p = softmax(x)
output row_sums = sum(softmax(x), axis=-1)
output columns = softmax(x, axis=0)
";
    let data = [1.0, 2.0, 3.0, -1000.0, 0.0, 1000.0, 5.0, 5.0, 5.0];
    let sums = run::<f32>(source, "row_sums", &[("x", array(&[3, 3], &data))]);
    assert_close(&values(&sums.value), &[1.0, 1.0, 1.0], 1e-6);
    let p = run::<f64>(source, "p", &[("x", array(&[3, 3], &data))]);
    // Row 0: e^k / (e^1 + e^2 + e^3); row 1: e^-2000 and e^-1000 vanish next to
    // e^0; row 2: three equal logits, 1/3 each.
    let z = 1f64.exp() + 2f64.exp() + 3f64.exp();
    let expected = [
        1f64.exp() / z,
        2f64.exp() / z,
        3f64.exp() / z,
        0.0,
        0.0,
        1.0,
        1.0 / 3.0,
        1.0 / 3.0,
        1.0 / 3.0,
    ];
    assert_close(&values(&p.value), &expected, 1e-14);
    // Along axis 0, column 2 is softmax(3, 1000, 5) = (0, 1, 0).
    let columns = run::<f64>(source, "columns", &[("x", array(&[3, 3], &data))]);
    let column2: Vec<f64> = values(&columns.value).into_iter().skip(2).step_by(3).collect();
    assert_close(&column2, &[0.0, 1.0, 0.0], 1e-14);
}

#[test]
fn reductions_with_axes_and_keepdims() {
    let source = "
input x: real [N, C]
output row_sums = sum(x, axis=-1, keepdims=true)
output column_means = mean(x, axis=0)
output column_means_kept = mean(x, axis=0, keepdims=true)
output total = sum(x, axis=(0, 1))
output largest = max(x)
output smallest = min(x, axis=1)
output row_norms = norm(x, axis=-1)
";
    // x = [[1, 2, 3], [4, 5, 6]]
    let inputs = [("x", array::<f64>(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))];
    let get = |name: &str| run::<f64>(source, name, &inputs).value;
    let row_sums = get("row_sums");
    assert_eq!(row_sums.shape(), &[2, 1]);
    assert_close(&values(&row_sums), &[1.0 + 2.0 + 3.0, 4.0 + 5.0 + 6.0], 0.0);
    let means = get("column_means");
    assert_eq!(means.shape(), &[3]);
    assert_close(
        &values(&means),
        &[(1.0 + 4.0) / 2.0, (2.0 + 5.0) / 2.0, (3.0 + 6.0) / 2.0],
        0.0,
    );
    assert_eq!(get("column_means_kept").shape(), &[1, 3]);
    let total = get("total");
    assert_eq!(total.shape(), &[] as &[usize]);
    assert_close(&values(&total), &[21.0], 0.0);
    assert_close(&values(&get("largest")), &[6.0], 0.0);
    assert_close(&values(&get("smallest")), &[1.0, 4.0], 0.0);
    // sqrt(1 + 4 + 9) and sqrt(16 + 25 + 36).
    assert_close(&values(&get("row_norms")), &[14f64.sqrt(), 77f64.sqrt()], 1e-15);
}

#[test]
fn reduction_over_non_adjacent_axes() {
    let source = "
input x: real [A, B, D]
output s = sum(x, axis=(0, 2))
output m = max(x, axis=(0, 2), keepdims=true)
";
    // x[a, b, d] = 100a + 10b + d for a < 2, b < 3, d < 2.
    let data: Vec<f64> = (0..2)
        .flat_map(|a| (0..3).flat_map(move |b| (0..2).map(move |d| f64::from(100 * a + 10 * b + d))))
        .collect();
    let inputs = [("x", array::<f64>(&[2, 3, 2], &data))];
    let s = run::<f64>(source, "s", &inputs).value;
    // For each b: sum over a, d of 100a + 10b + d = 2*100 + 4*10b + 2*1.
    assert_close(&values(&s), &[202.0, 242.0, 282.0], 0.0);
    let m = run::<f64>(source, "m", &inputs).value;
    assert_eq!(m.shape(), &[1, 3, 1]);
    // The largest is at a = 1, d = 1: 101 + 10b.
    assert_close(&values(&m), &[101.0, 111.0, 121.0], 0.0);
}

#[test]
fn compensated_sum_in_f32_matches_f64() {
    // Ten million copies of 0.1f32: a naive f32 loop drifts far off (the
    // running sum's spacing grows past 0.1's contribution); the compensated sum
    // stays within a rounding or so of the f64 sum of the same f32 values.
    const COUNT: usize = 10_000_000;
    let program = compile("input x: real [N]\noutput s = sum(x)\noutput m = mean(x)");
    let x = ArrayD::from_elem(IxDyn(&[COUNT]), 0.1f32);
    let bindings = Bindings::new(&program, [("x", x)]).unwrap();
    let roots: Vec<_> = program.results.iter().map(|r| r.root).collect();
    let results = eval(&program, &roots, &bindings).unwrap();
    let sum = f64::from(results[0][[]]);
    let mean = f64::from(results[1][[]]);

    let reference = f64::from(0.1f32) * COUNT as f64; // exact up to f64 rounding
    assert!(
        (sum - reference).abs() <= 1e-6 * reference,
        "f32 sum {sum} vs f64 {reference}"
    );
    assert!((mean - f64::from(0.1f32)).abs() <= 1e-6 * 0.1, "mean {mean}");

    let mut naive = 0.0f32;
    for _ in 0..COUNT {
        naive += 0.1f32;
    }
    assert!(
        (f64::from(naive) - reference).abs() > 1e-3 * reference,
        "the naive loop is the problem being solved"
    );
}

// ----------------------------------------------------- broadcasting, where

#[test]
fn broadcasting_column_matrix_and_row() {
    let source = "
input a: real [N, 1]
input b: real [N, C]
input c: real [C]
output o = a * b + c
";
    let o = run::<f64>(
        source,
        "o",
        &[
            ("a", array(&[2, 1], &[10.0, 100.0])),
            ("b", array(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
            ("c", array(&[3], &[0.1, 0.2, 0.3])),
        ],
    )
    .value;
    assert_eq!(o.shape(), &[2, 3]);
    // Row i, column j: a[i] * b[i, j] + c[j].
    let expected = [
        10.0 + 0.1,
        20.0 + 0.2,
        30.0 + 0.3,
        400.0 + 0.1,
        500.0 + 0.2,
        600.0 + 0.3,
    ];
    assert_close(&values(&o), &expected, 1e-15);
}

#[test]
fn where_selects_and_ignores_the_other_branch() {
    let source = "
input x: real [N]
output abs_by_where = where(x > 0, x, -x)
output safe_log = where(x > 0, log(x), 0)
output mask = float(x > 0 and x < 2)
";
    let inputs = [("x", array::<f64>(&[4], &[-2.0, 0.0, 1.5, 3.0]))];
    assert_close(
        &values(&run::<f64>(source, "abs_by_where", &inputs).value),
        &[2.0, 0.0, 1.5, 3.0],
        0.0,
    );
    // log(-2) = NaN and log(0) = -inf are computed but not selected.
    assert_close(
        &values(&run::<f64>(source, "safe_log", &inputs).value),
        &[0.0, 0.0, 1.5f64.ln(), 3f64.ln()],
        1e-15,
    );
    assert_close(
        &values(&run::<f64>(source, "mask", &inputs).value),
        &[0.0, 0.0, 1.0, 0.0],
        0.0,
    );
}

#[test]
fn booleans_are_zero_and_one() {
    let program = compile("input x: real [N]\noutput big = float(x > 1)");
    let bindings = Bindings::new(&program, [("x", array::<f64>(&[3], &[0.0, 1.0, 2.0]))]).unwrap();
    // Node of the comparison itself: a boolean array of 0/1.
    let comparison = program
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::Call(lossc_ir::Builtin::Gt, _)))
        .map(|i| lossc_ir::NodeId(i as u32))
        .unwrap();
    let out = eval(&program, &[comparison], &bindings).unwrap();
    assert_close(&values(&out[0]), &[0.0, 0.0, 1.0], 0.0);
}

#[test]
fn round_is_half_to_even() {
    let source = "input x: real [N]\noutput r = round(x)";
    let data = [0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6];
    // Ties go to the even neighbour: 0, 2, 2, -0, -2; others to the nearest.
    let r = run::<f32>(source, "r", &[("x", array(&[7], &data))]).value;
    assert_close(&values(&r), &[0.0, 2.0, 2.0, -0.0, -2.0, 2.0, 3.0], 0.0);
}

// ------------------------------------------------------------------ IEEE

#[test]
fn non_finite_values_flow_through_without_panic() {
    let source = "
input x: real [N]
output logs = log(x)
output total = sum(log(x))
output ratio = x / x
output big = exp(x * 100)
output largest = max(x / 0)
";
    let inputs32 = [("x", array::<f32>(&[3], &[0.0, 1.0, -1.0]))];
    // log(0) = -inf, log(1) = 0, log(-1) = NaN.
    let logs = run::<f32>(source, "logs", &inputs32).value;
    assert_close(&values(&logs), &[f64::NEG_INFINITY, 0.0, f64::NAN], 0.0);
    // A sum with a NaN term is NaN (not -inf, not a panic).
    assert!(run::<f32>(source, "total", &inputs32).scalar().unwrap().is_nan());
    // 0/0 = NaN, 1/1 = 1.
    assert_close(
        &values(&run::<f32>(source, "ratio", &inputs32).value),
        &[f64::NAN, 1.0, 1.0],
        0.0,
    );
    // exp(100) overflows f32 (max about 3.4e38 = e^88.7) but not f64.
    let big = run::<f32>(source, "big", &inputs32).value;
    assert_close(&values(&big), &[1.0, f64::INFINITY, 0.0], 1e-6);
    let big64 = run::<f64>(source, "big", &[("x", array(&[3], &[0.0, 1.0, -1.0]))]).value;
    assert_close(&values(&big64), &[1.0, 100f64.exp(), (-100f64).exp()], 1e-12);
    // max over 0/0 = NaN, 1/0 = inf, -1/0 = -inf: NaN propagates.
    assert!(run::<f32>(source, "largest", &inputs32).scalar().unwrap().is_nan());
}

#[test]
fn sums_with_infinities_follow_ieee() {
    let source = "input x: real [N]\noutput s = sum(x)\noutput m = mean(x)";
    let sum = |data: &[f64]| {
        run::<f64>(source, "s", &[("x", array(&[data.len()], data))])
            .scalar()
            .unwrap()
    };
    assert_eq!(sum(&[f64::INFINITY, 1.0, 2.0]), f64::INFINITY);
    assert_eq!(sum(&[1.0, f64::NEG_INFINITY]), f64::NEG_INFINITY);
    assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    // Overflow: MAX + MAX is inf.
    assert_eq!(sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
    // Cancellation handled by compensation: 1e100 + 1 - 1e100 = 1.
    assert_eq!(sum(&[1e100, 1.0, -1e100]), 1.0);
}

// --------------------------------------------------- indexing and shapes

#[test]
fn take_one_hot_and_expand_dims() {
    let source = "
input x: real [N, C]
input labels: {0..2} [M]
output first_column = take(x, 0)
output last_row = take(x, -1, axis=0)
output hot = one_hot(labels, 3)
output hot_scalar = one_hot(take(x, 0, axis=0), 3)
output lifted = expand_dims(x, axis=0)
output both = expand_dims(take(x, 1), axis=(0, 2))
";
    let inputs = [
        ("x", array::<f64>(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        // 2, 0, 1 are classes; 1.5 (not an integer), -1 and 3 (out of range) are not.
        ("labels", array::<f64>(&[6], &[2.0, 0.0, 1.0, 1.5, -1.0, 3.0])),
    ];
    let get = |name: &str| run::<f64>(source, name, &inputs).value;

    let first_column = get("first_column");
    assert_eq!(first_column.shape(), &[2]);
    assert_close(&values(&first_column), &[1.0, 4.0], 0.0);
    let last_row = get("last_row");
    assert_eq!(last_row.shape(), &[3]);
    assert_close(&values(&last_row), &[4.0, 5.0, 6.0], 0.0);

    let hot = get("hot");
    assert_eq!(hot.shape(), &[6, 3]);
    #[rustfmt::skip]
    let expected = [
        0.0, 0.0, 1.0,
        1.0, 0.0, 0.0,
        0.0, 1.0, 0.0,
        0.0, 0.0, 0.0, // 1.5: a row of zeros, as jax.nn.one_hot
        0.0, 0.0, 0.0, // -1
        0.0, 0.0, 0.0, // 3 >= C
    ];
    assert_close(&values(&hot), &expected, 0.0);

    // Not integer labels (1, 2, 3 from x's first row) still evaluate: a rank-1
    // label vector gives [3, 3]; label 3 is out of range.
    let hot_scalar = get("hot_scalar");
    assert_eq!(hot_scalar.shape(), &[3, 3]);
    assert_close(
        &values(&hot_scalar),
        &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        0.0,
    );

    let lifted = get("lifted");
    assert_eq!(lifted.shape(), &[1, 2, 3]);
    assert_close(&values(&lifted), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.0);
    // take(x, 1) is [2, 5] of shape [N]; new axes at output positions 0 and 2.
    let both = get("both");
    assert_eq!(both.shape(), &[1, 2, 1]);
    assert_close(&values(&both), &[2.0, 5.0], 0.0);
}

#[test]
fn take_out_of_range_is_an_error() {
    let source = "input x: real [N, C]\noutput o = take(x, 3)";
    let program = compile(source);
    let bindings = Bindings::new(&program, [("x", array::<f64>(&[2, 3], &[0.0; 6]))]).unwrap();
    let error = eval_loss(&program, "o", &bindings).unwrap_err();
    assert_eq!(
        error.to_string(),
        "index 3 of `take` is out of range for axis 1 of size 3"
    );
    let EvalError::IndexOutOfRange { span, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!(&source[span.start..span.end], "take(x, 3)");
    // -3 is the first column; -4 is out of range.
    let program = compile("input x: real [N, C]\noutput o = take(x, -4)");
    let bindings = Bindings::new(&program, [("x", array::<f64>(&[2, 3], &[0.0; 6]))]).unwrap();
    assert!(matches!(
        eval_loss(&program, "o", &bindings),
        Err(EvalError::IndexOutOfRange { index: -4, .. })
    ));
}

#[test]
fn dimension_names_are_scalars() {
    let source = "
input x: real [N, C]
output n = N
output mean_by_hand = sum(x) / (N * C)
";
    let inputs = [("x", array::<f64>(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))];
    assert_eq!(run::<f64>(source, "n", &inputs).scalar(), Some(2.0));
    assert_scalar(&run::<f64>(source, "mean_by_hand", &inputs), 21.0 / 6.0, 1e-15);
}

#[test]
fn params_consts_and_overrides() {
    let source = "
input y_pred: real [N, 3]
param weights = [1.0, 2.0, 5.0]
param scale = 2
const half = 0.5
output o = sum(y_pred * weights, axis=-1) * scale * half
";
    let program = compile(source);
    let inputs = [("y_pred", array::<f64>(&[1, 3], &[1.0, 1.0, 1.0]))];
    let mut bindings = Bindings::new(&program, inputs.clone()).unwrap();
    // (1 + 2 + 5) * 2 * 0.5.
    assert_close(
        &values(&eval_loss(&program, "o", &bindings).unwrap().value),
        &[8.0],
        0.0,
    );
    bindings.set_param(&program, "scale", arr0(3.0).into_dyn()).unwrap();
    assert_close(
        &values(&eval_loss(&program, "o", &bindings).unwrap().value),
        &[12.0],
        0.0,
    );
    let wrong = bindings
        .set_param(&program, "weights", array(&[2], &[1.0, 1.0]))
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "param `weights` has shape [3] but the new value has shape [2]"
    );
    let unknown = bindings.set_param(&program, "half", arr0(1.0).into_dyn()).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "there is no param `half`; the params are `weights`, `scale`"
    );
}

// ------------------------------------------------------------ memoisation

#[test]
fn shared_subexpressions_are_evaluated_once() {
    // a_k = a_{k-1} + a_{k-1}: a DAG of 60 levels whose tree has 2^60 leaves.
    let mut source = String::from("input x: real [N]\nlet a0 = x\n");
    for k in 1..=60 {
        source.push_str(&format!("let a{k} = a{} + a{}\n", k - 1, k - 1));
    }
    source.push_str("output o = a60\noutput p = a30");
    let program = compile(&source);
    let bindings = Bindings::new(&program, [("x", array::<f64>(&[2], &[1.0, -1.0]))]).unwrap();
    let roots: Vec<_> = program.results.iter().map(|r| r.root).collect();
    let results = eval(&program, &roots, &bindings).unwrap();
    // x * 2^60 and x * 2^30, exact in f64.
    assert_close(&values(&results[0]), &[2f64.powi(60), -(2f64.powi(60))], 0.0);
    assert_close(&values(&results[1]), &[2f64.powi(30), -(2f64.powi(30))], 0.0);
}

// ------------------------------------------------------------ binding errors

#[test]
fn batch_dimension_mismatch_names_both_inputs() {
    let error = binding_error(
        MSE,
        &[
            ("y_true", array(&[3], &[1.0, 0.0, 1.0])),
            ("y_pred", array(&[4], &[0.9, 0.2, 0.8, 0.5])),
        ],
    );
    assert_eq!(error.to_string(), "`y_true` has N = 3 but `y_pred` has N = 4");
}

#[test]
fn class_dimension_mismatch_names_both_inputs() {
    let error = binding_error(
        CCE_LOGITS,
        &[
            ("y_true", array(&[2, 3], &[0.0; 6])),
            ("y_pred", array(&[2, 4], &[0.0; 8])),
        ],
    );
    assert_eq!(error.to_string(), "`y_true` has C = 3 but `y_pred` has C = 4");
    assert!(matches!(
        error,
        EvalError::DimMismatch {
            first_axis: 1,
            second_axis: 1,
            ..
        }
    ));
}

#[test]
fn one_input_using_a_dimension_twice_must_agree() {
    let error = binding_error(
        "input k: real [N, N]\noutput o = sum(k)",
        &[("k", array(&[2, 3], &[0.0; 6]))],
    );
    assert_eq!(error.to_string(), "`k` has N = 2 on axis 0 but N = 3 on axis 1");
}

#[test]
fn shape_errors_name_the_input_and_both_shapes() {
    let rank = binding_error(
        CCE_LOGITS,
        &[
            ("y_true", array(&[6], &[0.0; 6])),
            ("y_pred", array(&[2, 3], &[0.0; 6])),
        ],
    );
    assert_eq!(
        rank.to_string(),
        "`y_true` is declared with shape [N, C] but its data has shape [6]: expected 2 axes, found 1"
    );
    let fixed = binding_error(
        "input y_pred: real [N, 10]\noutput o = sum(y_pred)",
        &[("y_pred", array(&[2, 3], &[0.0; 6]))],
    );
    assert_eq!(
        fixed.to_string(),
        "`y_pred` is declared with shape [N, 10] but its data has shape [2, 3]: axis 1 must have size 10"
    );
    let empty = binding_error(MSE, &[("y_true", array(&[0], &[])), ("y_pred", array(&[0], &[]))]);
    assert_eq!(
        empty.to_string(),
        "`y_true` has N = 0 (axis 0): dimension sizes must be at least 1"
    );
}

#[test]
fn missing_unknown_and_duplicate_inputs() {
    // Implicit inputs are declared inputs.
    let missing = binding_error(MSE, &[("y_pred", array(&[1], &[0.0]))]);
    assert_eq!(
        missing.to_string(),
        "no data for input `y_true` (declared with shape [N])"
    );
    let unknown = binding_error(MSE, &[("y_pred", array(&[1], &[0.0])), ("y_ture", array(&[1], &[0.0]))]);
    assert_eq!(
        unknown.to_string(),
        "there is no input `y_ture` (did you mean `y_true`?); the inputs are `y_true`, `y_pred`"
    );
    let twice = binding_error(MSE, &[("y_pred", array(&[1], &[0.0])), ("y_pred", array(&[1], &[0.0]))]);
    assert_eq!(twice.to_string(), "data for input `y_pred` was given twice");
}

#[test]
fn bound_dimensions_are_reported() {
    let program = compile(CCE_LOGITS);
    let bindings = Bindings::new(
        &program,
        [
            ("y_true", array::<f32>(&[2, 3], &[0.0; 6])),
            ("y_pred", array(&[2, 3], &[0.0; 6])),
        ],
    )
    .unwrap();
    let dims: Vec<(&str, usize)> = bindings.dims().collect();
    assert_eq!(dims, [("N", 2), ("C", 3)]);
}

#[test]
fn unknown_result_lists_the_defined_ones() {
    let program = compile(CLIPPED_BCE);
    let bindings = Bindings::new(
        &program,
        [("y_true", array::<f64>(&[1], &[1.0])), ("y_pred", array(&[1], &[0.5]))],
    )
    .unwrap();
    let error = eval_loss(&program, "bce_loss", &bindings).unwrap_err();
    assert_eq!(
        error.to_string(),
        "there is no loss or output `bce_loss`; the program defines `bce`, `per_sample`"
    );
}

// ------------------------------------------------------ malformed programs

#[test]
fn a_malformed_program_is_an_error_not_a_panic() {
    let mut program = compile("input x: real [N, C]\noutput o = sum(x, axis=1)");
    let bindings = Bindings::new(&program, [("x", array::<f64>(&[2, 3], &[0.0; 6]))]).unwrap();
    let root = program.results[0].root;
    if let Op::Call(_, attrs) = &mut program.nodes[root.index()].op {
        attrs.axes = Some(vec![7]);
    }
    assert!(matches!(
        eval(&program, &[root], &bindings),
        Err(EvalError::Malformed { .. })
    ));
    // A wrong IR type is caught by the shape check.
    let mut program = compile("input x: real [N, C]\noutput o = sum(x, axis=1)");
    let root = program.results[0].root;
    program.nodes[root.index()].ty.shape.clear();
    let error = eval(&program, &[root], &bindings).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("computed shape [2] but the IR type is [] = []"),
        "{error}"
    );
    // Bindings of another program.
    let other = compile(MSE);
    assert!(matches!(
        eval(&other, &[other.results[0].root], &bindings),
        Err(EvalError::ForeignBindings { .. })
    ));
}
