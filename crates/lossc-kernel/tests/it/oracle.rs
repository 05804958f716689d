//! The fast evaluator against the reference interpreter (the oracle), and
//! against itself on 1, 2 and 8 threads.
//!
//! Bounds (stated in docs/performance.md):
//! - every example in `examples/`, f32 and f64, loss and gradient: each
//!   element within [`EXAMPLE_ULPS`] ulps of the oracle's, or within
//!   [`EXAMPLE_ULPS`] ulps of the largest magnitude in the same array (a
//!   difference of nearly equal terms, e.g. `log1p(y_pred) - log1p(y_true)`,
//!   keeps the absolute error of its terms, not their relative one);
//! - random programs over every built-in, f64: within 1e-9 relative to
//!   `max(1, |oracle|)` (errors of a few ulps grow through the random
//!   compositions; the oracle's own accuracy is of the same order);
//! - NaN, +inf and -inf exactly where the oracle has them;
//! - bit-identical results for pools of 1, 2 and 8 threads, with chunks of a
//!   few elements so that every run has many chunks and partial tiles.

use std::sync::LazyLock;

use lossc::{Dtype, EvalOptions, Program};
use lossc_kernel::{Evaluator, Granularity, Tensor};
use ndarray::{ArrayD, IxDyn};

/// The examples' bound, in ulps (see the module documentation).
const EXAMPLE_ULPS: f64 = 8.0;

/// Tiles of 8 elements, chunks of 24, nothing sequential: many chunks on
/// small data.
const FINE: Granularity = Granularity {
    tile: 8,
    chunk: 24,
    sequential: 0,
};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Data inside each input's declared domain: N = `n`, C = 5, others 3.
fn data(program: &Program, n: usize, rng: &mut Rng) -> Vec<(String, ArrayD<f64>)> {
    let ir = program.ir();
    ir.inputs
        .iter()
        .map(|input| {
            let shape = super::shape(ir, input, n);
            let count: usize = shape.iter().product();
            let mut values: Vec<f64> = (0..count)
                .map(|_| match &input.domain {
                    // Made into rows below.
                    lossc::ir::Domain::Simplex | lossc::ir::Domain::OneHot => rng.uniform(),
                    lossc::ir::Domain::Real => (rng.uniform() - 0.5) * 6.0,
                    lossc::ir::Domain::Interval { lo, hi, .. } => {
                        let (lo, hi) = (lo.max(-3.0), hi.min(3.0));
                        lo + (hi - lo) * (0.02 + 0.96 * rng.uniform())
                    }
                    lossc::ir::Domain::Set(values) => values[rng.below(values.len())],
                })
                .collect();
            let mut rows = lossc::ir::rng::SplitMix64::new(rng.next());
            input
                .domain
                .make_rows(&mut values, shape.last().copied().unwrap_or(1), &mut rows, false);
            (
                input.name.clone(),
                ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
            )
        })
        .collect()
}

/// Whether `fast` is within the bound of `reference`: NaN and infinities in
/// the same places; finite values within `ulps` ulps (of the dtype) of the
/// reference or of the array's largest magnitude, or within `relative` of
/// `max(1, |reference|)`.
fn agrees(reference: &ArrayD<f64>, fast: &ArrayD<f64>, dtype: Dtype, ulps: f64, relative: f64) -> Result<(), String> {
    if reference.shape() != fast.shape() {
        return Err(format!("shape {:?} vs {:?}", reference.shape(), fast.shape()));
    }
    let epsilon = match dtype {
        Dtype::F32 => f64::from(f32::EPSILON),
        Dtype::F64 => f64::EPSILON,
    };
    let scale = reference
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    for (index, (&r, &f)) in reference.iter().zip(fast.iter()).enumerate() {
        let same_class = (r.is_nan() && f.is_nan()) || (r.is_infinite() && r == f);
        if same_class {
            continue;
        }
        if !r.is_finite() || !f.is_finite() {
            return Err(format!("element {index}: oracle {r}, fast {f}"));
        }
        let error = (r - f).abs();
        let bound = (ulps * epsilon * r.abs().max(scale)).max(relative * r.abs().max(1.0));
        if error > bound {
            return Err(format!(
                "element {index}: oracle {r:e}, fast {f:e}, error {error:e} > bound {bound:e}"
            ));
        }
    }
    Ok(())
}

fn tensors(inputs: &[(String, ArrayD<f64>)]) -> Vec<(&str, Tensor<'_>)> {
    inputs
        .iter()
        .map(|(n, a)| (n.as_str(), Tensor::F64(a.view())))
        .collect()
}

/// Runs `evaluator` in `dtype` on pools of 1, 2 and 8 threads; panics unless
/// the three agree bit for bit; returns the result as an `Evaluation`-like
/// list of arrays (value, samples, gradients).
fn run_on_pools(evaluator: &Evaluator, inputs: &[(String, ArrayD<f64>)], dtype: Dtype) -> Vec<ArrayD<f64>> {
    let inputs = tensors(inputs);
    let mut results: Vec<Vec<ArrayD<u64>>> = Vec::new();
    let mut values = Vec::new();
    for threads in [1, 2, 8] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let arrays: Vec<ArrayD<f64>> = pool.install(|| match dtype {
            Dtype::F32 => {
                let out = evaluator.run::<f32>(&inputs).unwrap();
                flatten(out, f64::from)
            }
            Dtype::F64 => flatten(evaluator.run::<f64>(&inputs).unwrap(), |v| v),
        });
        results.push(arrays.iter().map(|a| a.mapv(f64::to_bits)).collect());
        values = arrays;
    }
    assert_eq!(results[0], results[1], "1 and 2 threads differ");
    assert_eq!(results[0], results[2], "1 and 8 threads differ");
    values
}

fn flatten<T: Copy>(out: lossc_kernel::Evaluated<T>, f: impl Fn(T) -> f64 + Copy) -> Vec<ArrayD<f64>> {
    let mut arrays = vec![out.value.mapv(f)];
    if let Some(samples) = out.per_sample {
        arrays.push(samples.mapv(f).into_dyn());
    }
    arrays.extend(out.gradient.into_iter().map(|(_, g)| g.mapv(f)));
    arrays
}

fn reference_arrays(evaluation: lossc::Evaluation) -> Vec<ArrayD<f64>> {
    let mut arrays = vec![evaluation.value];
    if let Some(samples) = evaluation.per_sample {
        arrays.push(samples.into_dyn());
    }
    arrays.extend(evaluation.gradient.into_iter().map(|(_, g)| g));
    arrays
}

#[test]
fn every_example_agrees_with_the_oracle_on_any_thread_count() {
    let mut rng = Rng(42);
    for (file, source) in super::examples() {
        let program = lossc::compile(&source).unwrap();
        for dtype in [Dtype::F32, Dtype::F64] {
            for n in [1, 37] {
                let inputs = data(&program, n, &mut rng);
                let options = EvalOptions {
                    dtype,
                    grad: true,
                    ..Default::default()
                };
                let reference = reference_arrays(program.eval(&inputs, &options).unwrap());
                let evaluator = program.evaluator(&options, true).unwrap().with_granularity(FINE);
                let fast = run_on_pools(&evaluator, &inputs, dtype);
                assert_eq!(reference.len(), fast.len(), "{file}");
                for (k, (r, f)) in reference.iter().zip(&fast).enumerate() {
                    if let Err(why) = agrees(r, f, dtype, EXAMPLE_ULPS, 0.0) {
                        panic!("{file} ({dtype}, N = {n}), result {k}: {why}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_default_granularity_agrees_too() {
    // Several default-sized chunks, in parallel: N = 200_003 rows of [N].
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/bce.loss")).unwrap();
    let program = lossc::compile(&source).unwrap();
    let mut rng = Rng(7);
    let inputs = data(&program, 200_003, &mut rng);
    let options = EvalOptions {
        dtype: Dtype::F32,
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, true).unwrap();
    let fast = run_on_pools(&evaluator, &inputs, Dtype::F32);
    let reference = reference_arrays(program.eval(&inputs, &options).unwrap());
    for (r, f) in reference.iter().zip(&fast) {
        agrees(r, f, Dtype::F32, EXAMPLE_ULPS, 0.0).unwrap();
    }
}

// ----------------------------------------------------------- random programs

/// The shapes of generated expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum S {
    Scalar,
    N,
    C,
    NC,
    N1,
    OneC,
}

const HEADER: &str = "input x: real [N, C]\ninput t: real [N, C]\ninput a: real [N]\ninput b: real [N]\n\
input c: real [C]\ninput k: real [N, 1]\ninput s: real []\ninput lab: {0, 1} [N]\nparam p = 0.75\n\
wrt x, a, c, s, p\n";

/// Functions of one argument, written out; `{}` is the argument. [`unary`]
/// adds every one-argument built-in of the table.
const UNARY: &[&str] = &[
    "abs({})",
    "sign({})",
    "exp(tanh({}) * 2)",
    "expm1(sin({}))",
    "log(square({}) + 0.5)",
    "log1p(softplus({}))",
    "sqrt(square({}) + 1)",
    "square({})",
    "cos({})",
    "tanh({})",
    "cosh(tanh({}))",
    "sigmoid({})",
    "log_sigmoid({})",
    "softplus({})",
    "relu({})",
    "floor({})",
    "round({})",
    "-({})",
    "({}) ^ 2",
    "({}) ** 3",
    "(softplus({}) + 0.5) ^ 1.5",
    "(sigmoid({}) + 0.5) ^ p",
];

/// [`UNARY`], and every one-argument elementwise built-in of the table with
/// a derivative and a sample interval (the ones of derivative 0 are written
/// out: `stop_gradient` is not constant, so finite differences would not
/// give its 0), its argument mapped into that interval
/// (`tan(-1.2 + 2.2 * sigmoid({}))`, inside its domain, clear of its
/// poles), so that a new built-in is generated with no line here.
fn unary() -> &'static [String] {
    static ALL: LazyLock<Vec<String>> = LazyLock::new(|| {
        let table = crate::unary::differentiable()
            .iter()
            .map(|u| u.mapped_call())
            .collect::<Vec<_>>();
        UNARY.iter().map(|f| f.to_string()).chain(table).collect()
    });
    &ALL
}

const BINARY: &[&str] = &[
    "({a} + {b})",
    "({a} - {b})",
    "({a} * {b})",
    "({a} / (square({b}) + 1))",
    "maximum({a}, {b})",
    "minimum({a}, {b})",
    "pow(square({a}) + 0.5, tanh({b}))",
    "xlogy({a}, softplus({b}) + 0.5)",
    "clip({a}, -0.5, {b})",
    "where({a} > {b}, {a}, 2 * {b})",
    "where({a} <= 0.25 and {b} != 0, {b}, 0)",
    "({a} * float(not ({b} < 0)))",
];

fn leaves(shape: S) -> &'static [&'static str] {
    match shape {
        S::Scalar => &["p", "s", "0.5", "2", "N", "C", "s * p"],
        S::N => &["a", "b", "a"],
        S::C => &["c"],
        S::NC => &["x", "t", "x", "one_hot(lab, C)"],
        S::N1 => &["k", "expand_dims(a, axis=1)"],
        S::OneC => &["mean(x, axis=0, keepdims=true)", "expand_dims(c, axis=0)"],
    }
}

/// Operand shapes that broadcast to `shape` (itself first).
fn parts(shape: S) -> &'static [S] {
    match shape {
        S::Scalar => &[S::Scalar],
        S::N => &[S::N, S::Scalar],
        S::C => &[S::C, S::Scalar],
        S::NC => &[S::NC, S::N1, S::OneC, S::C, S::Scalar],
        S::N1 => &[S::N1, S::Scalar],
        S::OneC => &[S::OneC, S::C, S::Scalar],
    }
}

/// `(operand shape, function, arguments)` of the reductions giving `shape`.
fn reductions(shape: S) -> &'static [(S, &'static str)] {
    match shape {
        S::Scalar => &[
            (S::N, ""),
            (S::C, ", axis=-1"),
            (S::NC, ""),
            (S::NC, ", axis=(0, 1)"),
            (S::N1, ""),
        ],
        S::N => &[(S::NC, ", axis=1"), (S::NC, ", axis=-1"), (S::N1, ", axis=-1")],
        S::C => &[(S::NC, ", axis=0"), (S::OneC, ", axis=0")],
        S::N1 => &[(S::NC, ", axis=1, keepdims=true")],
        S::OneC => &[(S::NC, ", axis=0, keepdims=true")],
        S::NC => &[],
    }
}

fn expr(rng: &mut Rng, shape: S, depth: u32) -> String {
    if depth == 0 || rng.below(5) == 0 {
        return rng.pick(leaves(shape)).to_string();
    }
    let d = depth - 1;
    match rng.below(7) {
        0 | 1 => {
            let functions = unary();
            functions[rng.below(functions.len())].replace("{}", &expr(rng, shape, d))
        }
        2 | 3 => {
            let options = parts(shape);
            let (sa, sb) = if rng.below(2) == 0 {
                (shape, options[rng.below(options.len())])
            } else {
                (options[rng.below(options.len())], shape)
            };
            let template = rng.pick(BINARY);
            template
                .replace("{a}", &expr(rng, sa, d))
                .replace("{b}", &expr(rng, sb, d))
        }
        4 => {
            let options = reductions(shape);
            if options.is_empty() {
                return expr(rng, shape, d);
            }
            let (operand, args) = options[rng.below(options.len())];
            let function = rng.pick(&["sum", "mean", "max", "min", "logsumexp", "norm"]);
            format!("{function}({}{args})", expr(rng, operand, d))
        }
        5 if shape != S::Scalar => {
            let function = rng.pick(&["softmax", "log_softmax"]);
            let axis = match shape {
                S::NC => rng.pick(&["", ", axis=0", ", axis=1"]),
                S::N1 => rng.pick(&[", axis=0", ", axis=-1"]),
                S::OneC => rng.pick(&["", ", axis=0"]),
                _ => "",
            };
            format!("{function}({}{axis})", expr(rng, shape, d))
        }
        _ => match shape {
            S::N => format!("take({}, 1)", expr(rng, S::NC, d)),
            S::C => format!("take({}, 0, axis=0)", expr(rng, S::NC, d)),
            S::Scalar => format!("take({}, -1)", expr(rng, S::C, d)),
            S::NC => format!("broadcast_like({}, x)", expr(rng, S::N1, d)),
            S::N1 => format!("expand_dims({}, axis=1)", expr(rng, S::N, d)),
            S::OneC => format!("expand_dims({}, axis=0)", expr(rng, S::C, d)),
        },
    }
}

fn random_program(rng: &mut Rng) -> String {
    let shape = [S::Scalar, S::N, S::C, S::NC, S::N1, S::OneC][rng.below(6)];
    let body = expr(rng, shape, 4);
    match (shape, rng.below(2)) {
        (S::NC, 0) => format!("{HEADER}loss L = sum({body}, axis=-1)\n"),
        (S::N, 0) => format!("{HEADER}loss L = {body}\n"),
        _ => format!("{HEADER}loss L = mean({body})\n"),
    }
}

#[test]
fn random_programs_agree_with_the_oracle_on_any_thread_count() {
    let cases: usize = std::env::var("LOSSC_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut rng = Rng(0x5eed);
    let mut compiled = 0;
    for case in 0..cases {
        let source = random_program(&mut rng);
        let program = match lossc::compile(&source) {
            Ok(program) => program,
            Err(error) => panic!("case {case}: the generator wrote an invalid program: {error}\n{source}"),
        };
        compiled += 1;
        let n = if case % 2 == 0 { 3 } else { 23 };
        let inputs = random_inputs(&program, n, &mut rng);
        let options = EvalOptions {
            dtype: Dtype::F64,
            grad: true,
            ..Default::default()
        };
        let reference = reference_arrays(program.eval(&inputs, &options).unwrap());
        let evaluator = program.evaluator(&options, true).unwrap().with_granularity(FINE);
        let fast = run_on_pools(&evaluator, &inputs, Dtype::F64);
        for (k, (r, f)) in reference.iter().zip(&fast).enumerate() {
            if let Err(why) = agrees(r, f, Dtype::F64, EXAMPLE_ULPS, 1e-9) {
                panic!("case {case}, result {k}: {why}\n{source}\ninputs: {inputs:?}");
            }
        }
    }
    assert_eq!(compiled, cases);
}

/// Data for the generated programs' header: C = 2.
fn random_inputs(program: &Program, n: usize, rng: &mut Rng) -> Vec<(String, ArrayD<f64>)> {
    program
        .ir()
        .inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = match input.name.as_str() {
                "x" | "t" => vec![n, 2],
                "a" | "b" | "lab" => vec![n],
                "c" => vec![2],
                "k" => vec![n, 1],
                _ => vec![],
            };
            let count: usize = shape.iter().product();
            let values = (0..count)
                .map(|_| {
                    if input.name == "lab" {
                        rng.below(2) as f64
                    } else {
                        (rng.uniform() - 0.5) * 4.0
                    }
                })
                .collect();
            (
                input.name.clone(),
                ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_f32_sum_of_ten_million_is_within_a_few_ulps_of_the_f64_sum() {
    let program = lossc::compile("input x: real [N]\nloss total = sum(x)\nwrt x").unwrap();
    let n = 10_000_000;
    let mut rng = Rng(3);
    // Positive values over six decades, and a run of 0.1 (where a naive f32
    // sum stalls).
    let values: Vec<f32> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                0.1
            } else {
                (10f64.powf(rng.uniform() * 6.0 - 3.0)) as f32
            }
        })
        .collect();
    let exact: f64 = {
        // Neumaier in f64 over exactly representable f32 values: the exact
        // sum to about 1e-16 relative.
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for &v in &values {
            let v = f64::from(v);
            let t = s + v;
            c += if s.abs() >= v.abs() { (s - t) + v } else { (v - t) + s };
            s = t;
        }
        s + c
    };
    let array = ArrayD::from_shape_vec(IxDyn(&[n]), values).unwrap();
    let options = EvalOptions::default();
    let evaluator = program.evaluator(&options, false).unwrap();
    let out = evaluator.run::<f32>(&[("x", Tensor::F32(array.view()))]).unwrap();
    let sum = out.value.first().copied().unwrap();
    let ulps = lossc_kernel::math::ulp_distance_f32(sum, exact as f32);
    assert!(ulps <= 2, "f32 sum {sum} vs f64 {exact}: {ulps} ulps");
}

#[test]
fn inputs_in_any_type_and_order_read_as_their_values() {
    let program =
        lossc::compile("input y_true: real [N, C]\ninput y_pred: real [N, C]\nloss l = mean(square(y_pred - y_true))")
            .unwrap();
    let options = EvalOptions {
        dtype: Dtype::F64,
        grad: true,
        ..Default::default()
    };
    let truth: Vec<f64> = (0..12).map(|i| f64::from(i % 3)).collect();
    let pred: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.25).collect();
    let t64 = ArrayD::from_shape_vec(IxDyn(&[4, 3]), truth.clone()).unwrap();
    let p64 = ArrayD::from_shape_vec(IxDyn(&[4, 3]), pred).unwrap();
    let expected = program
        .eval_fast(
            &[("y_true", Tensor::F64(t64.view())), ("y_pred", Tensor::F64(p64.view()))],
            &options,
        )
        .unwrap();
    // The same numbers as integers, as f32, and in Fortran order.
    let t_int = t64.mapv(|v| v as i32);
    let t_u8 = t64.mapv(|v| v as u8);
    let p32 = p64.mapv(|v| v as f32);
    let p_fortran_data: Vec<f64> = p64.t().iter().copied().collect();
    use ndarray::ShapeBuilder;
    let p_fortran = ArrayD::from_shape_vec(IxDyn(&[4, 3]).f(), p_fortran_data).unwrap();
    assert_eq!(p_fortran, p64);
    for (truth, pred) in [
        (Tensor::I32(t_int.view()), Tensor::F32(p32.view())),
        (Tensor::U8(t_u8.view()), Tensor::F64(p_fortran.view())),
    ] {
        let got = program
            .eval_fast(&[("y_true", truth), ("y_pred", pred)], &options)
            .unwrap();
        assert_eq!(got.value, expected.value);
        assert_eq!(got.gradient[0].1, expected.gradient[0].1);
    }
}

#[test]
fn shape_disagreements_name_both_inputs_and_the_dimension() {
    let program = lossc::compile("loss mse = mean(square(y_true - y_pred))").unwrap();
    let t = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f64, 2.0, 3.0]).unwrap();
    let p = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
    let error = program
        .eval_fast(
            &[("y_true", Tensor::F64(t.view())), ("y_pred", Tensor::F64(p.view()))],
            &EvalOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert_eq!(error, "`y_true` has N = 3 but `y_pred` has N = 4");
}
