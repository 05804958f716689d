//! lossc against JAX: for every case below, a lossc program and an
//! independently hand-written JAX function of the same loss (in
//! `python/jax_reference.py`, keyed by the case's name) are evaluated on the
//! same inputs in float64; the loss values, the per-sample vectors of
//! per-sample losses, and the gradients with respect to every `wrt` variable
//! must agree to a relative `1e-9` (absolute floor `1e-12`).
//!
//! The one-argument elementwise built-ins are the exception: one case each,
//! made from the built-in table (on its `sample` interval), whose JAX
//! function is the built-in's own JAX emit template, passed with the case.
//! The template and the scalar definition lossc evaluates are still written
//! independently, so the comparison tests both.
//!
//! The inputs are deterministic (N = 5, C = 3 or 4), inside each input's
//! domain and away from kinks and ties, where the two gradients are the same
//! number. All cases go to one Python process (JAX starts slowly): the test
//! writes them to one JSON file, runs `$LOSSC_PYTHON python/jax_reference.py
//! FILE`, and reads back JAX's value and `jax.grad` per case.
//!
//! Without `LOSSC_PYTHON` (`.ci/run` sets it to a pinned virtual environment,
//! see `python/venv.sh`), or when that python cannot import jax, the
//! comparison is skipped with a message and passes. The lossc half of every
//! case (it compiles and evaluates to finite numbers) runs regardless.

// A test that skips says so, and known bugs are listed, on stdout.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use lossc::ir::Value as ParamValue;
use lossc::{Dtype, EvalOptions};
use ndarray::{ArrayD, IxDyn};
use serde_json::{Value, json};

use crate::support::unary;

/// Cases where lossc is known to disagree with JAX, with the reason. They are
/// still run and their mismatches printed, but do not fail the test; a case
/// listed here that agrees again fails it, so the list stays honest.
const KNOWN_BUGS: &[(&str, &str)] = &[];

const RELATIVE: f64 = 1e-9;
const ABSOLUTE: f64 = 1e-12;
const N: usize = 5;
const C: usize = 4;

const SKIP: &str = "skipped: JAX not available (set LOSSC_PYTHON to a python with jax)";

// ------------------------------------------------------------------ inputs

/// Deterministic pseudo-random numbers (splitmix64).
struct Points(u64);

impl Points {
    /// Seeded by the case's name, so adding a case changes no other.
    fn for_case(name: &str) -> Points {
        // FNV-1a.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Points(seed)
    }

    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How one input's values are made.
#[derive(Clone, Copy)]
enum Gen {
    /// Uniform in `[lo, hi)`.
    Uniform(f64, f64),
    /// 0 and 1, both present.
    Binary,
    /// Class labels `0..k` as floats.
    Labels(usize),
    /// Rows (along the last axis) of positive numbers summing to 1.
    Simplex,
    /// Exactly these numbers, row-major.
    Data(&'static [f64]),
}

fn generate(points: &mut Points, shape: &[usize], how: Gen) -> ArrayD<f64> {
    let count: usize = shape.iter().product();
    let data: Vec<f64> = match how {
        Gen::Uniform(lo, hi) => (0..count).map(|_| lo + (hi - lo) * points.next_unit()).collect(),
        // A fixed start guarantees both labels; the rest is random.
        Gen::Binary => (0..count)
            .map(|i| match i {
                0 => 1.0,
                1 => 0.0,
                _ => f64::from(u8::from(points.next_unit() < 0.5)),
            })
            .collect(),
        Gen::Labels(k) => (0..count).map(|i| ((i * 7 + 2) % k) as f64).collect(),
        Gen::Simplex => {
            let width = *shape.last().expect("a simplex has a last axis");
            let raw: Vec<f64> = (0..count).map(|_| 0.1 + points.next_unit()).collect();
            raw.chunks(width)
                .flat_map(|row| {
                    let total: f64 = row.iter().sum();
                    row.iter().map(move |v| v / total)
                })
                .collect()
        }
        Gen::Data(data) => {
            assert_eq!(data.len(), count, "explicit data does not fill the shape {shape:?}");
            data.to_vec()
        }
    };
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("data matches the shape")
}

// ------------------------------------------------------------------- cases

/// One loss, as lossc source, with its inputs and `wrt` (the program's own
/// `wrt` if empty). The JAX function of the same name is in
/// `python/jax_reference.py`.
struct Case {
    name: String,
    source: String,
    inputs: Vec<(String, ArrayD<f64>)>,
    wrt: Vec<String>,
    /// For the cases of one-argument built-ins, the built-in's JAX emit
    /// template (`jnp.arctan({0})`): the script builds the case's function
    /// from it rather than keep a list of its own.
    jax_unary: Option<&'static str>,
}

/// A case: inputs as (name, shape, generator).
fn case(name: &str, wrt: &[&str], inputs: &[(&str, &[usize], Gen)], source: &str) -> Case {
    let mut points = Points::for_case(name);
    Case {
        name: name.to_string(),
        source: source.trim().to_string(),
        inputs: inputs
            .iter()
            .map(|(input, shape, how)| (input.to_string(), generate(&mut points, shape, *how)))
            .collect(),
        wrt: wrt.iter().map(|w| w.to_string()).collect(),
        jax_unary: None,
    }
}

const NC: &[usize] = &[N, C];
const V: &[usize] = &[N];
const REAL: Gen = Gen::Uniform(-2.0, 2.0);
const PROB: Gen = Gen::Uniform(0.05, 0.95);
const POSITIVE: Gen = Gen::Uniform(0.2, 3.0);
/// Away from 0 on both sides: for abs, relu, sign and 1 / x.
const SIGNED: Gen = Gen::Data(&[-1.3, -0.4, 0.25, 0.9, 1.7]);
/// Errors `y_pred - y_true` on both sides of `delta = 1` and of 0.
const HUBER_TRUE: Gen = Gen::Data(&[0.1, 0.5, -1.0, 2.0, 0.3]);
const HUBER_PRED: Gen = Gen::Data(&[0.4, -0.1, 0.5, -0.5, 1.2]);
/// Probabilities including one below `1e-7` and one above `1 - 1e-7` (clipped).
const CLIPPED_PROB: Gen = Gen::Data(&[0.9, 0.2, 1e-9, 0.999_999_99, 0.6]);
const LABELS01: Gen = Gen::Data(&[1.0, 0.0, 1.0, 0.0, 1.0]);
const SIGNS: Gen = Gen::Data(&[1.0, -1.0, 1.0, -1.0, 1.0]);

fn cases() -> Vec<Case> {
    let mut cases = vec![
        // ---------------------------------------------------- regression
        case(
            "mse",
            &[],
            &[("y_true", V, REAL), ("y_pred", V, REAL)],
            "loss mse = mean(square(y_true - y_pred))",
        ),
        case(
            "mae",
            &[],
            &[("y_true", V, HUBER_TRUE), ("y_pred", V, HUBER_PRED)],
            "loss mae = mean(abs(y_true - y_pred))",
        ),
        case(
            "huber",
            &[],
            &[("y_true", V, HUBER_TRUE), ("y_pred", V, HUBER_PRED)],
            HUBER,
        ),
        case(
            "huber_wrt_delta",
            &["y_pred", "delta"],
            &[("y_true", V, HUBER_TRUE), ("y_pred", V, HUBER_PRED)],
            HUBER,
        ),
        case(
            "huber_per_sample_wrt_delta",
            &["y_pred", "delta"],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
param delta = 0.8
let e = y_true - y_pred
loss huber = mean(where(abs(e) <= delta, 0.5 * square(e), delta * (abs(e) - 0.5 * delta)), axis=-1)
",
        ),
        case(
            "smooth_l1_several_wrt",
            &["y_true", "y_pred", "beta"],
            &[("y_true", V, HUBER_TRUE), ("y_pred", V, HUBER_PRED)],
            "
param beta = 0.5
let d = abs(y_pred - y_true)
loss smooth_l1 = mean(where(d < beta, 0.5 * square(d) / beta, d - 0.5 * beta))
",
        ),
        case(
            "log_cosh",
            &[],
            &[
                ("y_true", V, Gen::Uniform(-3.0, 3.0)),
                ("y_pred", V, Gen::Uniform(-3.0, 3.0)),
            ],
            "
let e = y_pred - y_true
loss log_cosh = mean(abs(e) + softplus(-2 * abs(e)) - log(2))
",
        ),
        case(
            "log_cosh_naive",
            &[],
            &[
                ("y_true", V, Gen::Uniform(-3.0, 3.0)),
                ("y_pred", V, Gen::Uniform(-3.0, 3.0)),
            ],
            "loss log_cosh = mean(log(cosh(y_pred - y_true)))",
        ),
        case(
            "quantile",
            &["y_pred", "tau"],
            &[("y_true", V, HUBER_TRUE), ("y_pred", V, HUBER_PRED)],
            "
param tau = 0.7
let e = y_true - y_pred
loss pinball = mean(maximum(tau * e, (tau - 1) * e))
",
        ),
        case(
            "msle",
            &[],
            &[
                ("y_true", V, Gen::Uniform(0.0, 3.0)),
                ("y_pred", V, Gen::Uniform(0.0, 3.0)),
            ],
            "
input y_true: [0, inf)
input y_pred: [0, inf)
loss msle = mean(square(log1p(y_pred) - log1p(y_true)))
",
        ),
        case(
            "poisson",
            &[],
            &[
                ("y_true", V, Gen::Data(&[0.0, 1.0, 2.0, 3.0, 1.0])),
                ("y_pred", V, POSITIVE),
            ],
            "
input y_true: [0, inf)
input y_pred: [0, inf)
const eps = 1e-7
loss poisson = mean(y_pred - y_true * log(y_pred + eps))
",
        ),
        case(
            "gaussian_nll",
            &[],
            &[
                ("y_true", V, REAL),
                ("y_pred", V, REAL),
                // One variance below eps: maximum selects the constant.
                ("var", V, Gen::Data(&[0.5, 1e-8, 2.0, 0.3, 1.2])),
            ],
            "
input y_true: real
input y_pred: real
input var: [0, inf)
const eps = 1e-6
wrt y_pred, var
let v = maximum(var, eps)
loss gaussian_nll = mean(0.5 * (log(v) + square(y_pred - y_true) / v))
",
        ),
        case(
            "gaussian_nll_full",
            &[],
            &[("y_true", V, REAL), ("y_pred", V, REAL), ("var", V, POSITIVE)],
            "
input var: (0, inf)
const pi = 3.141592653589793
wrt y_pred, var
loss nll = mean(0.5 * log(2 * pi * var) + square(y_true - y_pred) / (2 * var))
",
        ),
        // ------------------------------------------------ binary, probabilities
        case(
            "bce_clipped",
            &[],
            &[("y_true", V, LABELS01), ("y_pred", V, CLIPPED_PROB)],
            "
input y_true: {0, 1}
input y_pred: [0, 1]
const eps = 1e-7
let p = clip(y_pred, eps, 1 - eps)
loss bce = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))
",
        ),
        case(
            "weighted_bce",
            &[],
            &[("y_true", V, LABELS01), ("y_pred", V, CLIPPED_PROB)],
            WEIGHTED_BCE,
        ),
        case(
            "weighted_bce_wrt_w_pos",
            &["y_pred", "w_pos"],
            &[("y_true", V, LABELS01), ("y_pred", V, PROB)],
            WEIGHTED_BCE,
        ),
        case(
            "focal",
            &[],
            &[("y_true", V, LABELS01), ("y_pred", V, CLIPPED_PROB)],
            FOCAL,
        ),
        case(
            "focal_wrt_gamma_alpha",
            &["y_pred", "gamma", "alpha"],
            &[("y_true", V, LABELS01), ("y_pred", V, PROB)],
            FOCAL,
        ),
        // --------------------------------------------------- binary, logits
        case(
            "bce_logits_softplus",
            &[],
            &[("y_true", V, Gen::Binary), ("y_pred", V, Gen::Uniform(-4.0, 4.0))],
            "
input y_true: {0, 1}
loss bce = mean(softplus(y_pred) - y_pred * y_true)
",
        ),
        case(
            "bce_logits_max",
            &[],
            &[("y_true", V, LABELS01), ("y_pred", V, SIGNED)],
            "
input y_true: {0, 1}
let z = y_pred
loss bce = mean(maximum(z, 0) - z * y_true + log1p(exp(-abs(z))))
",
        ),
        case(
            "bce_logits_extreme",
            &[],
            &[
                ("y_true", V, LABELS01),
                ("y_pred", V, Gen::Data(&[-50.0, -20.0, 0.3, 25.0, 60.0])),
            ],
            "
input y_true: {0, 1}
loss bce = mean(softplus(y_pred) - y_pred * y_true)
",
        ),
        case(
            "bce_logits_per_sample",
            &[],
            &[("y_true", V, Gen::Binary), ("y_pred", V, REAL)],
            "
input y_true: {0, 1}
loss bce = softplus(y_pred) - y_pred * y_true
",
        ),
        case(
            "focal_logits",
            &[],
            &[("y_true", V, Gen::Binary), ("y_pred", V, Gen::Uniform(-4.0, 4.0))],
            "
input y_true: {0, 1}
param gamma = 2.0
param alpha = 0.25
let p = sigmoid(y_pred)
let ce = softplus(y_pred) - y_pred * y_true
let p_t = p * y_true + (1 - p) * (1 - y_true)
let alpha_t = alpha * y_true + (1 - alpha) * (1 - y_true)
loss focal = mean(alpha_t * ce * (1 - p_t) ^ gamma)
",
        ),
        case(
            "hinge",
            &[],
            &[("y_true", V, SIGNS), ("y_pred", V, HINGE_PRED)],
            "
input y_true: {-1, 1}
loss hinge = mean(maximum(1 - y_true * y_pred, 0))
",
        ),
        case(
            "squared_hinge",
            &[],
            &[("y_true", V, SIGNS), ("y_pred", V, HINGE_PRED)],
            "
input y_true: {-1, 1}
loss squared_hinge = mean(square(maximum(1 - y_true * y_pred, 0)))
",
        ),
        // ---------------------------------------------------- categorical
        case(
            "cce_logits",
            &[],
            &[("y_true", NC, Gen::Simplex), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            CCE,
        ),
        case(
            "cce_logits_extreme",
            &[],
            &[
                ("y_true", NC, Gen::Simplex),
                ("y_pred", NC, Gen::Uniform(-800.0, 800.0)),
            ],
            CCE,
        ),
        case(
            "cce_probabilities_keras",
            &[],
            &[("y_true", NC, Gen::Simplex), ("y_pred", NC, Gen::Simplex)],
            include_str!("../examples/cce.loss"),
        ),
        case(
            "cce_per_sample",
            &[],
            &[("y_true", NC, Gen::Simplex), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            "
input y_true: [0, 1] [N, C]
input y_pred: real [N, C]
loss cce = -sum(y_true * log_softmax(y_pred), axis=-1)
",
        ),
        case(
            "cce_class_weights",
            &["y_pred", "w"],
            &[("y_true", NC, Gen::Simplex), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            "
input y_true: [0, 1] [N, 4]
input y_pred: real [N, 4]
param w = [1.0, 2.0, 0.5, 1.5]
loss cce = mean(-sum(w * y_true * log_softmax(y_pred), axis=-1))
",
        ),
        case(
            "sparse_cce",
            &[],
            &[("y_true", V, Gen::Labels(C)), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            "
input y_true: {0..3}
input y_pred: real [N, 4]
loss sparse_cce = mean(-sum(one_hot(y_true, 4) * log_softmax(y_pred), axis=-1))
",
        ),
        case(
            "sparse_cce_dim_name",
            &[],
            &[
                ("y_true", V, Gen::Labels(3)),
                ("y_pred", &[N, 3], Gen::Uniform(-3.0, 3.0)),
            ],
            "
input y_true: {0..2}
input y_pred: real [N, C]
loss sparse_cce = mean(-sum(one_hot(y_true, C) * log_softmax(y_pred), axis=-1))
",
        ),
        case(
            "kl_divergence",
            &[],
            &[
                // A zero in the target: clipped to eps.
                ("y_true", &[N, 3], Gen::Data(&KL_TRUE)),
                ("y_pred", &[N, 3], Gen::Simplex),
            ],
            "
input y_true: [0, 1] [N, C]
input y_pred: [0, 1] [N, C]
const eps = 1e-7
let t = clip(y_true, eps, 1)
let p = clip(y_pred, eps, 1)
loss kl = mean(sum(t * log(t / p), axis=-1))
",
        ),
        case(
            "kl_divergence_xlogy",
            &[],
            &[
                ("y_true", &[N, 3], Gen::Data(&KL_TRUE)),
                ("y_pred", &[N, 3], Gen::Simplex),
            ],
            "
input y_true: [0, 1] [N, C]
input y_pred: (0, 1] [N, C]
loss kl = mean(sum(xlogy(y_true, y_true) - y_true * log(y_pred), axis=-1))
",
        ),
        case(
            "brier_softmax",
            &[],
            &[("y_true", NC, Gen::Simplex), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            "
input y_true: [0, 1] [N, C]
input y_pred: real [N, C]
loss brier = mean(sum(square(softmax(y_pred) - y_true), axis=-1))
",
        ),
        // ------------------------------------------------------- vectors
        case(
            "cosine_similarity",
            &["y_true", "y_pred"],
            &[
                // A zero row in each: the epsilon guard is selected there.
                ("y_true", &[N, 3], Gen::Data(&COSINE_TRUE)),
                ("y_pred", &[N, 3], Gen::Data(&COSINE_PRED)),
            ],
            "
input y_true: real [N, D]
input y_pred: real [N, D]
def l2_normalize(x) = x / sqrt(maximum(sum(square(x), axis=-1, keepdims=true), 1e-12))
loss cosine_similarity = mean(-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis=-1))
",
        ),
        case(
            "dice",
            &[],
            &[("y_true", &[N, 2, 3], Gen::Binary), ("y_pred", &[N, 2, 3], PROB)],
            "
input y_true: {0, 1} [N, H, W]
input y_pred: [0, 1] [N, H, W]
param smooth = 1.0
let intersection = sum(y_true * y_pred, axis=(1, 2))
let total = sum(y_true, axis=(1, 2)) + sum(y_pred, axis=(1, 2))
let dice_coef = (2 * intersection + smooth) / (total + smooth)
loss dice = mean(1 - dice_coef)
",
        ),
        case(
            "mse_per_sample",
            &[],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
loss mse = mean(square(y_pred - y_true), axis=-1)
",
        ),
        case(
            "logsumexp_keepdims",
            &["y_true", "y_pred"],
            &[("y_true", NC, PROB), ("y_pred", NC, Gen::Uniform(-3.0, 3.0))],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
let lse = logsumexp(y_pred, axis=-1, keepdims=true)
loss l = mean(y_true * square(y_pred - lse)) + mean(logsumexp(y_pred, axis=0))
",
        ),
        case(
            "norm_distance",
            &[],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
loss distance = mean(norm(y_pred - y_true, axis=-1))
",
        ),
        case(
            "norm_all_keepdims",
            &["y_true", "y_pred"],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
loss l = sum(y_pred / norm(y_pred, axis=-1, keepdims=true)) + mean(square(norm(y_true - y_pred, axis=0))) + norm(y_pred)
",
        ),
        case(
            "take_columns",
            &[],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
loss l = mean(square(take(y_pred, 1) - take(y_true, 1))) + mean(take(y_pred, 0, axis=0)) * mean(take(y_pred, 2))
",
        ),
        case(
            "expand_dims_pairwise",
            &[],
            &[
                ("y_true", V, Gen::Data(&[0.0, 2.0, 1.0, 3.0, 0.5])),
                ("y_pred", V, REAL),
            ],
            "
let score_diff = expand_dims(y_pred, axis=1) - expand_dims(y_pred, axis=0)
let label_diff = expand_dims(y_true, axis=1) - expand_dims(y_true, axis=0)
loss ranknet = mean(softplus(-score_diff * label_diff))
",
        ),
        case(
            "max_min_reductions",
            &[],
            &[("y_true", NC, POSITIVE), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
let spread = max(y_pred, axis=-1) - min(y_pred, axis=-1)
loss l = mean(spread * max(y_true, axis=-1)) + max(y_pred) - min(y_pred * y_true)
",
        ),
        case(
            "axes_and_keepdims",
            &["y_true", "y_pred"],
            &[("y_true", NC, REAL), ("y_pred", NC, REAL)],
            "
input y_true: real [N, C]
input y_pred: real [N, C]
let s = softmax(y_true, axis=0)
let columns = sum(y_pred * s, axis=0, keepdims=true)
let rows = max(y_pred, axis=-1, keepdims=true)
loss l = sum(columns * rows) + mean(y_pred, axis=(0, 1)) + mean(log_softmax(y_pred, axis=0) * y_true)
",
        ),
        case(
            "def_and_precedence",
            &["y_true", "y_pred"],
            &[("y_true", V, REAL), ("y_pred", V, REAL)],
            "
def smooth_abs(x, eps) = sqrt(square(x) + eps)
loss l = mean(smooth_abs(y_pred - y_true, 0.01) - -y_pred^2 / 4 + 2 ** -1 * y_pred)
",
        ),
        // --------------------------------------- selections, away from ties
        case(
            "maximum_minimum",
            &["y_true", "y_pred"],
            &[
                ("y_true", V, Gen::Data(&[0.0, 0.5, 1.0, -1.0, 2.0])),
                ("y_pred", V, SIGNED),
            ],
            "loss l = mean(maximum(y_pred, y_true) * minimum(y_pred, 0.5))",
        ),
        case(
            "clip_both_sides",
            &[],
            &[
                ("y_true", V, REAL),
                ("y_pred", V, Gen::Data(&[-1.2, -0.3, 0.1, 0.45, 0.9])),
            ],
            "loss l = mean(square(clip(y_pred, -0.5, 0.5) - y_true))",
        ),
        case(
            "where_logic",
            &[],
            &[
                ("y_true", V, Gen::Data(&[-0.5, 0.3, 0.8, 1.2, -1.0])),
                ("y_pred", V, Gen::Data(&[0.4, 1.5, -1.4, 0.2, -1.3])),
            ],
            "
let cond = (y_true > 0 and y_pred < 1) or not (y_pred > -1)
loss l = mean(where(cond, square(y_pred), abs(y_pred - 1)) + float(y_true > 0.5) * y_pred)
",
        ),
        case(
            "piecewise_constant",
            &[],
            &[
                ("y_true", V, Gen::Data(&[0.1, 0.3, 0.6, 0.9, 0.75])),
                ("y_pred", V, SIGNED),
            ],
            "loss l = mean(y_pred * round(3 * y_true) + floor(y_pred) + ceil(y_pred) * y_pred + sign(y_pred))",
        ),
        case(
            "stop_gradient_target",
            &[],
            &[("y_true", V, REAL), ("y_pred", V, REAL)],
            "loss l = mean(square(y_pred - stop_gradient(0.5 * y_pred + 0.5 * y_true)) + y_pred * stop_gradient(tanh(y_pred)))",
        ),
        case(
            "dim_name_scalar",
            &[],
            &[("y_true", V, REAL), ("y_pred", V, REAL)],
            "loss l = sum(square(y_true - y_pred)) / N + 1 / N",
        ),
        // ------------------------------------------------------ pow, xlogy
        case(
            "pow_constant",
            &[],
            &[
                ("y_true", V, Gen::Data(&[0.5, -1.0, 0.2, 1.1, -0.3])),
                ("y_pred", V, SIGNED),
            ],
            "loss l = mean(abs(y_pred - y_true) ^ 1.5 + y_pred ^ 3 - 2 ^ -y_pred ^ 2 + y_pred ** -1)",
        ),
        case(
            "pow_variable",
            &["y_true", "y_pred"],
            &[("y_true", V, Gen::Uniform(0.3, 2.0)), ("y_pred", V, REAL)],
            "
input y_true: (0, inf)
loss l = mean(y_true ^ y_pred)
",
        ),
        case(
            "pow_zero_base",
            &["y_true", "y_pred"],
            &[
                ("y_true", V, Gen::Data(&[0.0, 0.5, 0.0, 1.5, 0.0])),
                ("y_pred", V, Gen::Data(&[1.0, 0.7, 2.5, 2.0, 1.3])),
            ],
            "
input y_true: [0, inf)
loss l = mean(y_true ^ y_pred + 0 ^ y_pred)
",
        ),
        case(
            "pow_integer_exponents_at_zero",
            &[],
            &[("y_pred", V, Gen::Data(&[0.0, 0.5, 0.0, 2.0, -1.5]))],
            "
input y_pred: real
loss l = mean(y_pred ^ 0 + y_pred ^ 1 + y_pred ^ 2 + y_pred ^ 3 + 0 ^ square(y_pred))
",
        ),
        case(
            "xlogy",
            &["y_true", "y_pred"],
            &[
                ("y_true", V, Gen::Data(&[0.0, 0.5, 1.2, 0.0, 2.0])),
                ("y_pred", V, POSITIVE),
            ],
            "
input y_true: [0, inf)
input y_pred: (0, inf)
loss l = mean(xlogy(y_true, y_pred) - xlogy(y_true, y_true + 1))
",
        ),
    ];
    // Every one-argument elementwise built-in with a derivative, on its
    // sample interval from the built-in table, weighted so the gradient is
    // not the same in every element. The JAX side is the built-in's own JAX
    // emit template, passed with the case.
    for unary in unary::differentiable() {
        let (lo, hi) = unary.sample;
        let name = unary.spec().name;
        let mut case = case(
            &format!("unary_{name}"),
            &[],
            &[
                ("y_true", V, Gen::Uniform(0.5, 1.5)),
                ("y_pred", V, Gen::Uniform(lo, hi)),
            ],
            &format!("loss l = mean(y_true * {})", unary.apply("y_pred")),
        );
        case.jax_unary = Some(unary.spec().emit.jax);
        cases.push(case);
    }
    cases
}

const HUBER: &str = "
param delta = 1.0
let e = y_true - y_pred
let quadratic = 0.5 * square(e)
let linear = delta * (abs(e) - 0.5 * delta)
loss huber = mean(where(abs(e) <= delta, quadratic, linear))
";

/// The README's first example.
const WEIGHTED_BCE: &str = "
input y_true: {0, 1}
input y_pred: [0, 1]
param w_pos = 10.0
const eps = 1e-7

let p = clip(y_pred, eps, 1 - eps)
let bce = -(y_true * log(p) + (1 - y_true) * log(1 - p))
loss weighted_bce = mean(where(y_true == 1, w_pos, 1) * bce)
";

const FOCAL: &str = "
input y_true: {0, 1}
input y_pred: [0, 1]
param gamma = 2.0
param alpha = 0.25
const eps = 1e-7
let p = clip(y_pred, eps, 1 - eps)
let p_t = where(y_true == 1, p, 1 - p)
let alpha_t = where(y_true == 1, alpha, 1 - alpha)
loss focal = mean(-alpha_t * (1 - p_t) ^ gamma * log(p_t))
";

const CCE: &str = "
input y_true: [0, 1] [N, C]
input y_pred: real [N, C]
loss cce = mean(-sum(y_true * log_softmax(y_pred), axis=-1))
";

/// Margins `1 - y * y_pred` on both sides of 0, none near it.
const HINGE_PRED: Gen = Gen::Data(&[0.3, 0.5, 2.0, -1.6, -0.4]);

const KL_TRUE: [f64; 15] = [
    0.2, 0.3, 0.5, //
    0.0, 0.6, 0.4, //
    0.1, 0.1, 0.8, //
    1.0, 0.0, 0.0, //
    0.25, 0.5, 0.25,
];

const COSINE_TRUE: [f64; 15] = [
    1.0, -0.5, 0.3, //
    0.0, 0.0, 0.0, //
    -0.7, 0.2, 0.9, //
    0.4, 0.4, -1.1, //
    2.0, -0.3, 0.6,
];

const COSINE_PRED: [f64; 15] = [
    0.8, -0.2, 0.5, //
    0.3, -0.6, 0.1, //
    -0.1, 0.9, 0.4, //
    0.0, 0.0, 0.0, //
    1.5, 0.2, -0.4,
];

// ---------------------------------------------------------- the numbers

/// A tensor, flattened row-major.
#[derive(Debug, Clone, PartialEq)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Tensor {
    fn from_array(a: &ArrayD<f64>) -> Tensor {
        Tensor {
            shape: a.shape().to_vec(),
            data: a.iter().copied().collect(),
        }
    }

    /// Nested lists of numbers (or "NaN", "inf", "-inf"), as the script writes them.
    fn from_json(value: &Value) -> Result<Tensor, String> {
        match value {
            Value::Array(rows) => {
                let rows: Vec<Tensor> = rows.iter().map(Tensor::from_json).collect::<Result<_, _>>()?;
                let inner = rows.first().map_or(Vec::new(), |r| r.shape.clone());
                if rows.iter().any(|r| r.shape != inner) {
                    return Err(format!("ragged nested list: {value}"));
                }
                let mut shape = vec![rows.len()];
                shape.extend(inner);
                Ok(Tensor {
                    shape,
                    data: rows.into_iter().flat_map(|r| r.data).collect(),
                })
            }
            other => Ok(Tensor {
                shape: Vec::new(),
                data: vec![number_from_json(other)?],
            }),
        }
    }

    fn to_json(&self) -> Value {
        fn nest(shape: &[usize], data: &[f64]) -> Value {
            match shape.split_first() {
                None => number_to_json(data[0]),
                Some((&len, rest)) => {
                    let stride = rest.iter().product::<usize>();
                    Value::Array(
                        (0..len)
                            .map(|i| nest(rest, &data[i * stride..(i + 1) * stride]))
                            .collect(),
                    )
                }
            }
        }
        nest(&self.shape, &self.data)
    }
}

fn number_to_json(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(v)
    }
}

fn number_from_json(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("not an f64: {n}")),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "inf" => Ok(f64::INFINITY),
        Value::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        other => Err(format!("not a number: {other}")),
    }
}

/// What one side computed for a case.
#[derive(Debug, Clone, PartialEq)]
struct Numbers {
    value: f64,
    per_sample: Option<Tensor>,
    /// (variable, gradient), by variable name.
    gradient: BTreeMap<String, Tensor>,
}

impl Numbers {
    fn to_json(&self) -> Value {
        json!({
            "value": number_to_json(self.value),
            "per_sample": self.per_sample.as_ref().map(Tensor::to_json),
            "gradient": self.gradient.iter().map(|(k, g)| (k.clone(), g.to_json())).collect::<serde_json::Map<_, _>>(),
        })
    }

    fn from_json(value: &Value) -> Result<Numbers, String> {
        let per_sample = match &value["per_sample"] {
            Value::Null => None,
            v => Some(Tensor::from_json(v)?),
        };
        let gradient = value["gradient"]
            .as_object()
            .ok_or("no `gradient` object")?
            .iter()
            .map(|(k, g)| Ok((k.clone(), Tensor::from_json(g)?)))
            .collect::<Result<_, String>>()?;
        Ok(Numbers {
            value: number_from_json(&value["value"])?,
            per_sample,
            gradient,
        })
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= (RELATIVE * a.abs().max(b.abs())).max(ABSOLUTE)
}

/// The multi-index of the `flat`-th element of a row-major tensor.
fn index(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &len) in shape.iter().enumerate().rev() {
        index[i] = flat % len;
        flat /= len;
    }
    index
}

/// Every disagreement between lossc's and JAX's numbers, one line each.
fn compare(lossc: &Numbers, jax: &Numbers) -> Vec<String> {
    fn tensors(what: &str, lossc: &Tensor, jax: &Tensor, out: &mut Vec<String>) {
        if lossc.shape != jax.shape {
            out.push(format!(
                "{what}: shape {:?} in lossc, {:?} in JAX",
                lossc.shape, jax.shape
            ));
            return;
        }
        for (i, (a, b)) in lossc.data.iter().zip(&jax.data).enumerate() {
            if !close(*a, *b) {
                out.push(format!(
                    "{what}{:?}: lossc {a:e} vs JAX {b:e} (diff {:e})",
                    index(&lossc.shape, i),
                    a - b
                ));
            }
        }
    }
    let mut out = Vec::new();
    if !close(lossc.value, jax.value) {
        out.push(format!(
            "value: lossc {:e} vs JAX {:e} (diff {:e})",
            lossc.value,
            jax.value,
            lossc.value - jax.value
        ));
    }
    match (&lossc.per_sample, &jax.per_sample) {
        (Some(a), Some(b)) => tensors("per_sample", a, b, &mut out),
        (None, None) => {}
        (a, b) => out.push(format!(
            "per-sample: lossc {}, JAX {}",
            if a.is_some() { "per-sample" } else { "scalar" },
            if b.is_some() { "per-sample" } else { "scalar" }
        )),
    }
    for (var, a) in &lossc.gradient {
        match jax.gradient.get(var) {
            Some(b) => tensors(&format!("d/d{var}"), a, b, &mut out),
            None => out.push(format!("d/d{var}: computed by lossc, not by JAX")),
        }
    }
    for var in jax.gradient.keys().filter(|v| !lossc.gradient.contains_key(*v)) {
        out.push(format!("d/d{var}: computed by JAX, not by lossc"));
    }
    out
}

// ------------------------------------------------------------ lossc side

/// lossc's numbers for a case, and the param values it used (for JAX).
fn run_lossc(case: &Case) -> Result<(Numbers, serde_json::Map<String, Value>), String> {
    let program = lossc::compile(&case.source).map_err(|e| format!("does not compile: {e}"))?;
    let params = program
        .ir()
        .params
        .iter()
        .map(|p| {
            let value = match &p.value {
                ParamValue::Scalar(v) => json!(v),
                ParamValue::Vector(v) => json!(v),
            };
            (p.name.clone(), value)
        })
        .collect();
    let options = EvalOptions {
        dtype: Dtype::F64,
        result: None,
        grad: true,
        wrt: case.wrt.clone(),
    };
    let evaluation = program
        .eval(&case.inputs, &options)
        .map_err(|e| format!("eval fails: {e}"))?;
    let value = *evaluation.value.first().ok_or("the loss value is empty")?;
    if evaluation.value.ndim() != 0 {
        return Err(format!("the loss value has shape {:?}", evaluation.value.shape()));
    }
    let numbers = Numbers {
        value,
        per_sample: evaluation
            .per_sample
            .as_ref()
            .map(|p| Tensor::from_array(&p.clone().into_dyn())),
        gradient: evaluation
            .gradient
            .iter()
            .map(|(n, g)| (n.clone(), Tensor::from_array(g)))
            .collect(),
    };
    Ok((numbers, params))
}

fn known_bug(name: &str) -> Option<&'static str> {
    KNOWN_BUGS.iter().find(|(n, _)| *n == name).map(|(_, why)| *why)
}

// ------------------------------------------------------------------ tests

#[test]
fn every_case_compiles_and_evaluates_to_finite_numbers() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let mut failures = Vec::new();
    for case in &cases {
        match run_lossc(case) {
            Ok((numbers, _)) => {
                let all = std::iter::once(numbers.value)
                    .chain(numbers.per_sample.iter().flat_map(|p| p.data.iter().copied()))
                    .chain(numbers.gradient.values().flat_map(|g| g.data.iter().copied()));
                if all.clone().any(|v| !v.is_finite()) {
                    failures.push(format!("{}: a non-finite number: {numbers:?}", case.name));
                }
                if numbers.gradient.is_empty() {
                    failures.push(format!("{}: no gradient", case.name));
                }
            }
            Err(e) if known_bug(&case.name).is_some() => println!("{}: known bug: {e}", case.name),
            Err(e) => failures.push(format!("{}: {e}\n{}", case.name, case.source)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn lossc_agrees_with_jax() {
    let python = match std::env::var("LOSSC_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            println!("{SKIP}");
            return;
        }
    };
    let started = Instant::now();
    let cases = cases();
    let mut failures = Vec::new();
    let mut lossc_numbers = BTreeMap::new();
    let mut entries = Vec::new();
    for case in &cases {
        let (numbers, params) = match run_lossc(case) {
            Ok(ok) => ok,
            // Reported by the test above.
            Err(e) => {
                if known_bug(&case.name).is_none() {
                    failures.push(format!("case `{}`: lossc: {e}", case.name));
                }
                continue;
            }
        };
        entries.push(json!({
            "name": case.name,
            "source": case.source,
            "inputs": case.inputs.iter().map(|(n, a)| (n.clone(), Tensor::from_array(a).to_json())).collect::<serde_json::Map<_, _>>(),
            "params": params,
            "wrt": numbers.gradient.keys().collect::<Vec<_>>(),
            "lossc": numbers.to_json(),
            "jax_unary": case.jax_unary,
        }));
        lossc_numbers.insert(case.name.clone(), numbers);
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jax_reference");
    std::fs::create_dir_all(&dir).expect("create the temp dir");
    let file = dir.join("cases.json");
    let document = json!({ "cases": entries });
    std::fs::write(&file, serde_json::to_string_pretty(&document).expect("serialise")).expect("write the cases");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python/jax_reference.py");
    let output = match Command::new(&python).arg(&script).arg(&file).output() {
        Ok(output) => output,
        Err(e) => {
            println!("{SKIP}: cannot run `{python}`: {e}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(77) {
        println!("{SKIP}: {}", stderr.trim());
        return;
    }
    assert!(
        output.status.success(),
        "{python} {} failed ({}):\n{stderr}",
        script.display(),
        output.status
    );
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the script's output is not JSON: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });

    let mut known = Vec::new();
    for (name, lossc) in &lossc_numbers {
        let mismatches = if let Some(error) = reply["errors"].get(name) {
            vec![format!("the JAX side failed: {}", error.as_str().unwrap_or_default())]
        } else {
            match Numbers::from_json(&reply["results"][name]) {
                Ok(jax) => compare(lossc, &jax),
                Err(e) => vec![format!("JAX result unreadable: {e}")],
            }
        };
        match (known_bug(name), mismatches.is_empty()) {
            (None, true) => {}
            (None, false) => failures.push(format!("case `{name}`:\n  {}", mismatches.join("\n  "))),
            (Some(why), false) => known.push(format!(
                "case `{name}` (known bug: {why}):\n  {}",
                mismatches.join("\n  ")
            )),
            (Some(why), true) => failures.push(format!(
                "case `{name}` is listed in KNOWN_BUGS ({why}) but now agrees with JAX: remove it from the list"
            )),
        }
    }
    for k in &known {
        println!("{k}");
    }
    println!(
        "compared {} cases with JAX {} in {:.1?} ({} known bugs)",
        lossc_numbers.len(),
        reply["jax"].as_str().unwrap_or("?"),
        started.elapsed(),
        known.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with JAX (input file: {}):\n{}",
        failures.len(),
        cases.len(),
        file.display(),
        failures.join("\n")
    );
}

// -------------------------------------------------- the comparison itself

fn sample_numbers() -> Numbers {
    Numbers {
        value: 0.75,
        per_sample: Some(Tensor {
            shape: vec![2],
            data: vec![0.5, 1.0],
        }),
        gradient: BTreeMap::from([(
            "y_pred".to_string(),
            Tensor {
                shape: vec![2],
                data: vec![-0.25, 1e-13],
            },
        )]),
    }
}

#[test]
fn comparison_accepts_equal_and_rounding_level_differences() {
    let a = sample_numbers();
    assert!(compare(&a, &a).is_empty());
    let mut b = a.clone();
    b.value *= 1.0 + 1e-12;
    b.gradient.get_mut("y_pred").unwrap().data[1] = 5e-13; // under the absolute floor
    assert!(compare(&a, &b).is_empty(), "{:?}", compare(&a, &b));
}

#[test]
fn comparison_reports_a_perturbed_value() {
    let a = sample_numbers();
    let mut b = a.clone();
    b.value *= 1.0 + 1e-7;
    let mismatches = compare(&a, &b);
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(
        mismatches[0].starts_with("value: lossc 7.5e-1 vs JAX"),
        "{}",
        mismatches[0]
    );
}

#[test]
fn comparison_reports_gradients_per_sample_shapes_and_missing_variables() {
    let a = sample_numbers();
    let mut b = a.clone();
    b.gradient.get_mut("y_pred").unwrap().data[0] = -0.2500001;
    b.per_sample.as_mut().unwrap().data[1] = f64::NAN;
    b.gradient.insert(
        "delta".to_string(),
        Tensor {
            shape: vec![],
            data: vec![1.0],
        },
    );
    let mismatches = compare(&a, &b);
    assert_eq!(mismatches.len(), 3, "{mismatches:?}");
    assert!(
        mismatches
            .iter()
            .any(|m| m.starts_with("per_sample[1]: lossc 1e0 vs JAX NaN"))
    );
    assert!(mismatches.iter().any(|m| m.starts_with("d/dy_pred[0]")));
    assert!(
        mismatches
            .iter()
            .any(|m| m.contains("d/ddelta: computed by JAX, not by lossc"))
    );

    let mut c = a.clone();
    c.gradient.get_mut("y_pred").unwrap().shape = vec![2, 1];
    assert_eq!(compare(&a, &c).len(), 1);
    c.per_sample = None;
    assert_eq!(compare(&a, &c).len(), 2);
}

#[test]
fn comparison_treats_non_finite_numbers_exactly() {
    assert_eq!(index(&[2, 3], 4), vec![1, 1]);
    assert_eq!(index(&[], 0), Vec::<usize>::new());
    assert!(close(f64::NAN, f64::NAN));
    assert!(close(f64::INFINITY, f64::INFINITY));
    assert!(!close(f64::INFINITY, f64::NEG_INFINITY));
    assert!(!close(f64::NAN, 1.0));
    assert!(!close(1e300, f64::INFINITY));
}

#[test]
fn json_round_trip_keeps_shapes_and_non_finite_numbers() {
    let t = Tensor {
        shape: vec![2, 3],
        data: vec![1.0, f64::NAN, f64::INFINITY, -2.5, f64::NEG_INFINITY, 0.0],
    };
    let back = Tensor::from_json(&t.to_json()).unwrap();
    assert_eq!(back.shape, t.shape);
    assert_eq!(format!("{:?}", back.data), format!("{:?}", t.data));
    let scalar = Tensor::from_json(&json!(0.5)).unwrap();
    assert!(scalar.shape.is_empty());
    assert!(Tensor::from_json(&json!([[1.0], [1.0, 2.0]])).is_err());
}
