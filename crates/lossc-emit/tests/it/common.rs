//! What the emit tests share: the programs (every example, the corpus, one
//! per one-argument built-in), and deterministic data inside each input's
//! declared domain.

use std::path::{Path, PathBuf};

use lossc::ir::{Dim, Domain, Program};
use ndarray::{ArrayD, IxDyn};

use crate::unary;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Programs the examples and the corpus lack: per-sample losses (Keras
/// returns their values, JAX, PyTorch and NumPy their mean), a gradient with
/// respect to params, a scalar param and a vector const.
pub const EXTRA: &[(&str, &str)] = &[
    (
        "inline/param_tenth.loss",
        "input y_pred: real\nparam w = 0.1\nloss l = sum(w * y_pred)\n",
    ),
    (
        "inline/per_sample_bce_logits.loss",
        "input y_true: {0, 1}\ninput y_pred: real\nloss bce = softplus(y_pred) - y_true * y_pred\n",
    ),
    (
        "inline/per_sample_cce.loss",
        "input y_true: [0, 1] [N, 3]\ninput y_pred: real [N, 3]\nconst w = [1.0, 2.0, 0.5]\n\
         loss cce = -sum(w * y_true * log_softmax(y_pred), axis=-1)\n",
    ),
    (
        "inline/huber_wrt_delta.loss",
        "input y_true: real\ninput y_pred: real\nparam delta = 1.0\nwrt y_pred, delta\nlet e = abs(y_true - y_pred)\n\
         loss huber = mean(where(e <= delta, 0.5 * square(e), delta * (e - 0.5 * delta)))\n",
    ),
    (
        "inline/sqrt_of_selections.loss",
        "input y_true: real\ninput y_pred: real\n\
         loss roots = mean(sqrt(maximum(y_pred, 0)) + sqrt(clip(y_true - y_pred, 0, 1)) + sqrt(relu(y_pred)))\n",
    ),
    (
        "inline/per_sample_guarded.loss",
        "input y_true: real [N, D]\ninput y_pred: real [N, D]\nparam margin = 1.0\n\
         let d = sqrt(sum(square(y_pred - y_true), axis=-1))\nloss hinge = maximum(margin - d, 0) + where(d > 0, d, 0)\n",
    ),
];

/// One program per one-argument elementwise built-in with a sample interval
/// in the built-in table, `mean(y_true * f(y_pred))` with `y_pred` on that
/// interval, named `unary/NAME.loss`: every such built-in is emitted and run
/// in every framework, with no program written for it. (Goldens are kept
/// for written programs only.)
pub fn unary_programs() -> Vec<(String, String)> {
    unary::sampled()
        .iter()
        .map(|u| {
            let (lo, hi) = u.sample;
            let source = format!(
                "input y_true: [0, 1]\ninput y_pred: [{lo:?}, {hi:?}]\nloss l = mean(y_true * {})\n",
                u.apply("y_pred")
            );
            (format!("unary/{}.loss", u.spec().name), source)
        })
        .collect()
}

/// [`EXTRA`], [`unary_programs`], `examples/*.loss` and `tests/corpus/*.loss`,
/// as (name relative to the workspace, source).
pub fn programs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = EXTRA.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    out.extend(unary_programs());
    for dir in ["examples", "tests/corpus"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join(dir))
            .expect("the directory exists")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "loss"))
            .collect();
        files.sort();
        for path in files {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read_to_string(&path).expect("a readable file")));
        }
    }
    out
}

/// Deterministic pseudo-random numbers (splitmix64), seeded by a name.
pub struct Points(u64);

impl Points {
    pub fn for_name(name: &str) -> Points {
        Points(name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }))
    }

    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The size of every named dimension: the batch `N` as given, the others 3,
/// or enough for the largest integer label (class counts of `one_hot`).
fn dim_sizes(program: &Program, batch: usize) -> Vec<usize> {
    let largest_label = program
        .inputs
        .iter()
        .filter_map(|i| match &i.domain {
            Domain::Set(values) if i.domain.is_integer_set() => values.last().map(|v| *v as usize + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    (0..program.dims.len())
        .map(|d| {
            let is_batch = program
                .batch
                .is_some_and(|b| b == Dim::Named(lossc::ir::DimId(d as u32)));
            if is_batch { batch } else { largest_label.max(3) }
        })
        .collect()
}

fn shape_of(shape: &[Dim], sizes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n as usize,
            Dim::Named(id) => sizes[id.0 as usize],
        })
        .collect()
}

/// A value inside `domain`, away from its ends.
fn inside(domain: &Domain, u: f64) -> f64 {
    match domain {
        Domain::Real => 4.0 * u - 2.0,
        Domain::Interval { lo, hi, .. } => match (lo.is_finite(), hi.is_finite()) {
            (true, true) => lo + (hi - lo) * (0.05 + 0.9 * u),
            (true, false) => lo + 0.1 + 3.0 * u,
            (false, true) => hi - 0.1 - 3.0 * u,
            (false, false) => 4.0 * u - 2.0,
        },
        Domain::Set(values) => values[((u * values.len() as f64) as usize).min(values.len() - 1)],
        Domain::Simplex | Domain::OneHot => inside(&domain.element(), u),
    }
}

/// The smallest and largest values of `domain` data can hold (an open finite
/// end: just inside it; an infinite end: 2 from the other end or from 0).
fn ends(domain: &Domain) -> (f64, f64) {
    match domain {
        Domain::Real => (-2.0, 2.0),
        Domain::Set(values) => (values[0], values[values.len() - 1]),
        Domain::Simplex | Domain::OneHot => ends(&domain.element()),
        Domain::Interval {
            lo,
            lo_closed,
            hi,
            hi_closed,
        } => {
            let width = if lo.is_finite() && hi.is_finite() { hi - lo } else { 1.0 };
            let low = if !lo.is_finite() {
                if hi.is_finite() { hi - 2.0 } else { -2.0 }
            } else if *lo_closed {
                *lo
            } else {
                lo + 1e-3 * width
            };
            let high = if !hi.is_finite() {
                low + 2.0
            } else if *hi_closed {
                *hi
            } else {
                hi - 1e-3 * width
            };
            (low, high)
        }
    }
}

/// Makes the rows of a row domain's data ones it holds (deterministically).
fn make_rows(domain: &Domain, data: &mut [f64], shape: &[usize]) {
    let mut rng = lossc::ir::rng::SplitMix64::new(data.len() as u64);
    domain.make_rows(data, shape.last().copied().unwrap_or(1), &mut rng, false);
}

/// Data inside the domains, away from their ends (and, by chance, from
/// every kink): `batch` samples, both values of a two-valued set present.
pub fn random_point(program: &Program, name: &str, batch: usize) -> Vec<(String, ArrayD<f64>)> {
    let mut points = Points::for_name(name);
    let sizes = dim_sizes(program, batch);
    program
        .inputs
        .iter()
        .map(|input| {
            let shape = shape_of(&input.shape, &sizes);
            let count: usize = shape.iter().product();
            let mut data: Vec<f64> = (0..count)
                .map(|k| match &input.domain {
                    Domain::Set(values) if k < values.len().min(2) => values[k],
                    domain => inside(domain, points.unit()),
                })
                .collect();
            make_rows(&input.domain, &mut data, &shape);
            (input.name.clone(), ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap())
        })
        .collect()
}

/// Data at the places where guards matter: along the batch axis, sample 0
/// has every input at the low end of its domain, sample 1 at the high end,
/// sample 2 at 0 (where the domain has it), sample 3 all inputs equal (a
/// distance of 0), sample 4 inside, sample 5 ends mixed.
pub fn edge_point(program: &Program, name: &str) -> Vec<(String, ArrayD<f64>)> {
    const BATCH: usize = 6;
    let mut points = Points::for_name(&format!("{name} edges"));
    let sizes = dim_sizes(program, BATCH);
    let shared: Vec<f64> = (0..4096).map(|_| points.unit()).collect();
    program
        .inputs
        .iter()
        .map(|input| {
            let shape = shape_of(&input.shape, &sizes);
            let count: usize = shape.iter().product();
            let batched = input.shape.first().is_some_and(|d| Some(*d) == program.batch);
            let per_sample = if batched { count / BATCH.max(1) } else { count };
            let (low, high) = ends(&input.domain);
            let data = (0..count)
                .map(|k| {
                    let sample = if batched { k / per_sample.max(1) } else { 4 };
                    let u = points.unit();
                    match sample {
                        0 => low,
                        1 => high,
                        2 if input.domain.contains(0.0) => 0.0,
                        3 => {
                            let v = inside(&Domain::Real, shared[k % per_sample.max(1) % shared.len()]);
                            if input.domain.contains(v) {
                                v
                            } else {
                                inside(&input.domain, shared[k % shared.len()])
                            }
                        }
                        5 if k % 2 == 0 => low,
                        5 => high,
                        _ => inside(&input.domain, u),
                    }
                })
                .collect::<Vec<f64>>();
            let mut data = data;
            make_rows(&input.domain, &mut data, &shape);
            (input.name.clone(), ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap())
        })
        .collect()
}

/// Relative closeness with an absolute floor.
pub fn close(a: f64, b: f64, relative: f64, absolute: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= relative * a.abs().max(b.abs()) + absolute
}
