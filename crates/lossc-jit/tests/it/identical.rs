//! Generated code against the interpreter: bit-identical losses, per-sample
//! values and gradients, on every example and on random programs over every
//! elementwise built-in, in f32 and f64, with tiles and chunks small enough
//! that every run has partial tiles and many chunks, on 1, 2 and 8 threads.
//!
//! Needs a Rust compiler (as `lossc-jit` finds it); without one every test
//! says so and passes without checking.

#![allow(clippy::print_stderr)] // A skipped test says why.

use lossc::ir::{Builtin, Signature};
use lossc::{EvalOptions, Program};
use lossc_jit::{Jit, JitOptions};
use lossc_kernel::{Evaluated, Evaluator, Granularity, Real, Tensor};
use ndarray::{ArrayD, IxDyn};

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
}

/// The compiler, with a cache in the target directory (kept between runs).
fn jit() -> Option<Jit> {
    let mut options = JitOptions::from_env().expect("the JIT's environment variables");
    options.cache = Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jit").into());
    match Jit::new(options) {
        Ok(jit) => Some(jit),
        Err(error) => {
            eprintln!("skipped: no Rust compiler for generated code ({error})");
            None
        }
    }
}

/// Data inside each input's domain, with its edges and special values mixed
/// in: N = `n`, C = 5, other dimensions 3.
fn data(program: &Program, n: usize, rng: &mut Rng) -> Vec<(String, ArrayD<f64>)> {
    let ir = program.ir();
    ir.inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = input
                .shape
                .iter()
                .map(|d| match d {
                    lossc::ir::Dim::Fixed(k) => *k as usize,
                    lossc::ir::Dim::Named(id) => match ir.dims[id.0 as usize].as_str() {
                        "N" => n,
                        "C" => 5,
                        _ => 3,
                    },
                })
                .collect();
            let count: usize = shape.iter().product();
            let mut values: Vec<f64> = (0..count)
                .map(|_| match &input.domain {
                    // Made into rows below.
                    lossc::ir::Domain::Simplex | lossc::ir::Domain::OneHot => rng.uniform(),
                    lossc::ir::Domain::Real => match rng.below(40) {
                        0 => 0.0,
                        1 => -0.0,
                        2 => 1e30,
                        3 => -88.0,
                        _ => (rng.uniform() - 0.5) * 8.0,
                    },
                    lossc::ir::Domain::Interval { lo, hi, .. } => {
                        let (lo, hi) = (lo.max(-4.0), hi.min(4.0));
                        match rng.below(20) {
                            0 => lo,
                            1 => hi,
                            _ => lo + (hi - lo) * rng.uniform(),
                        }
                    }
                    lossc::ir::Domain::Set(values) => values[rng.below(values.len())],
                })
                .collect();
            let mut rows = lossc::ir::rng::SplitMix64::new(rng.below(1 << 30) as u64);
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

/// A dtype whose arrays the kernels read in place.
trait Native: Real {
    fn wrap(view: ndarray::ArrayViewD<'_, Self>) -> Tensor<'_>;
}

impl Native for f32 {
    fn wrap(view: ndarray::ArrayViewD<'_, f32>) -> Tensor<'_> {
        Tensor::F32(view)
    }
}

impl Native for f64 {
    fn wrap(view: ndarray::ArrayViewD<'_, f64>) -> Tensor<'_> {
        Tensor::F64(view)
    }
}

/// Every array of a result, as bits (every NaN as one pattern: which NaN
/// an operation returns depends on the instruction the compiler picked).
fn bits<T: Real>(out: Evaluated<T>) -> Vec<Vec<u64>> {
    let one = |v: &T| {
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.as_f64().to_bits()
        }
    };
    let to = |a: &ArrayD<T>| a.iter().map(one).collect::<Vec<u64>>();
    let mut arrays = vec![to(&out.value)];
    if let Some(samples) = &out.per_sample {
        arrays.push(samples.iter().map(one).collect());
    }
    arrays.extend(out.gradient.iter().map(|(_, g)| to(g)));
    arrays
}

/// Runs `evaluator` interpreted and generated in `T` on 1 and 2 threads;
/// panics unless all four agree bit for bit. Returns the number of passes
/// that ran generated code.
fn compare<T: Native>(jit: &Jit, evaluator: &Evaluator, inputs: &[(String, ArrayD<f64>)], label: &str) -> usize {
    let arrays: Vec<(String, ArrayD<T>)> = inputs.iter().map(|(n, a)| (n.clone(), a.mapv(T::from_f64))).collect();
    let tensors: Vec<(&str, Tensor<'_>)> = arrays.iter().map(|(n, a)| (n.as_str(), T::wrap(a.view()))).collect();
    let mut prepared = evaluator.prepare::<T>(&tensors).unwrap();
    let interpreted = bits(evaluator.run_prepared::<T>(&prepared));
    let passes = jit
        .attach::<T>(&mut prepared)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    for threads in [1, 2, 8] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let generated = pool.install(|| bits(evaluator.run_prepared::<T>(&prepared)));
        for (k, (g, i)) in generated.iter().zip(&interpreted).enumerate() {
            if let Some(e) = (0..g.len()).find(|&e| g[e] != i[e]) {
                panic!(
                    "{label}: generated code differs from the interpreter on {threads} threads ({}): array {k} element {e}: {} vs {}",
                    std::any::type_name::<T>(),
                    f64::from_bits(g[e]),
                    f64::from_bits(i[e])
                );
            }
        }
    }
    passes
}

/// Both dtypes, two granularities (many partial tiles and chunks; the
/// defaults). Returns the passes that ran generated code.
fn check(jit: &Jit, program: &Program, inputs: &[(String, ArrayD<f64>)], label: &str) -> usize {
    let options = EvalOptions {
        dtype: lossc::Dtype::F64,
        result: None,
        grad: true,
        wrt: Vec::new(),
    };
    let mut compiled = 0;
    for granularity in [
        Granularity {
            tile: 16,
            chunk: 48,
            sequential: 0,
        },
        Granularity::default(),
    ] {
        let evaluator = program.evaluator(&options, true).unwrap().with_granularity(granularity);
        compiled += compare::<f32>(jit, &evaluator, inputs, label);
        compiled += compare::<f64>(jit, &evaluator, inputs, label);
    }
    compiled
}

fn examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "loss"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn generated_code_is_bit_identical_on_every_example() {
    let Some(jit) = jit() else { return };
    let mut rng = Rng(7);
    let mut fused = Vec::new();
    for (file, source) in examples() {
        let program = lossc::compile(&source).unwrap();
        let inputs = data(&program, 203, &mut rng);
        if check(&jit, &program, &inputs, &file) > 0 {
            fused.push(file);
        }
    }
    // The standard elementwise losses must actually run generated code.
    eprintln!("fused: {fused:?}");
    for file in [
        "mse.loss",
        "bce.loss",
        "huber.loss",
        "focal.loss",
        "bce_logits.loss",
        "cce_logits.loss",
    ] {
        assert!(
            fused.iter().any(|f| f == file),
            "{file} ran no generated pass: {fused:?}"
        );
    }
}

/// A call of `builtin` on `args` as a user writes it: `name(a, b)` for a
/// callable built-in, else its operator.
fn spell(builtin: Builtin, args: &[String]) -> String {
    let spec = builtin.spec();
    match (spec.callable, spec.symbol, args) {
        (false, Some(op), [a]) => format!("({op} {a})"),
        (false, Some(op), [a, b]) => format!("({a} {op} {b})"),
        _ => format!("{}({})", spec.name, args.join(", ")),
    }
}

/// One number-valued term applying `builtin` to the inputs, for every
/// built-in the kernels compute element by element (from the table, so a
/// new one is covered without editing this test); `None` for the others.
fn elementwise_term(builtin: Builtin, k: usize) -> Option<String> {
    let numbers = ["y_pred", "y_true", "(y_pred - 0.25)"];
    let conditions = ["(y_pred > 0.1)", "(y_true < 0.5)"];
    let arity = builtin.spec().params.len();
    let args = |from: &[&str]| -> Vec<String> { (0..arity).map(|a| from[(a + k) % from.len()].to_string()).collect() };
    Some(match builtin.spec().signature {
        Signature::Elementwise => spell(builtin, &args(&numbers)),
        Signature::Compare => format!("where({}, 1.5, -0.5)", spell(builtin, &args(&numbers))),
        Signature::Logic => format!("where({}, 1.5, -0.5)", spell(builtin, &args(&conditions))),
        Signature::Where => spell(builtin, &[conditions[k % 2].into(), "y_pred".into(), "y_true".into()]),
        Signature::Float => spell(builtin, &args(&conditions)),
        Signature::Reduce(_)
        | Signature::AlongAxis(_)
        | Signature::Take
        | Signature::OneHot
        | Signature::ExpandDims => {
            return None;
        }
    })
}

/// Every elementwise built-in of the table in one loss: the generated code
/// (the scalar arithmetic and the elementary functions included verbatim)
/// compiles, runs, and matches the interpreter bit for bit on every one.
#[test]
fn generated_code_covers_every_elementwise_builtin() {
    let Some(jit) = jit() else { return };
    let terms: Vec<String> = Builtin::ALL
        .iter()
        .enumerate()
        .filter_map(|(k, &b)| elementwise_term(b, k))
        .map(|term| format!("mean({term})"))
        .collect();
    assert!(terms.len() > 30, "the table's elementwise built-ins: {terms:?}");
    let source = format!(
        "input y_true: real\ninput y_pred: real\nloss l = {}\n",
        terms.join(" + ")
    );
    let program = lossc::compile(&source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
    let inputs = data(&program, 131, &mut Rng(5));
    assert!(
        check(&jit, &program, &inputs, &source) > 0,
        "no generated pass ran:\n{source}"
    );
}

/// Random elementwise programs: many means of random expressions in one
/// loss, so one compilation covers many expressions. The operations are the
/// table's elementwise built-ins of one and two numbers.
#[test]
fn generated_code_is_bit_identical_on_random_programs() {
    let Some(jit) = jit() else { return };
    let of_arity = |n: usize| -> Vec<&'static str> {
        Builtin::ALL
            .iter()
            .map(|b| b.spec())
            .filter(|spec| spec.signature == Signature::Elementwise && spec.params.len() == n)
            .filter(|spec| spec.name != "broadcast_like")
            .map(|spec| {
                if spec.callable {
                    spec.name
                } else {
                    spec.symbol.unwrap_or(spec.name)
                }
            })
            .collect()
    };
    let unary = of_arity(1);
    let mut binary = of_arity(2);
    binary.extend(
        Builtin::ALL
            .iter()
            .filter(|b| b.spec().signature == Signature::Compare)
            .filter_map(|b| b.spec().symbol),
    );
    let mut rng = Rng(11);
    fn expr(rng: &mut Rng, depth: usize, unary: &[&str], binary: &[&str]) -> String {
        if depth == 0 {
            return match rng.below(5) {
                0 => "y_true".into(),
                1 => format!("{:.3}", (rng.uniform() - 0.3) * 4.0),
                2 => "2".into(),
                _ => "y_pred".into(),
            };
        }
        match rng.below(4) {
            0 => {
                let op = unary[rng.below(unary.len())];
                let a = expr(rng, depth - 1, unary, binary);
                if op == "-" {
                    format!("(-{a})")
                } else {
                    format!("{op}({a})")
                }
            }
            1 => {
                let a = expr(rng, depth - 1, unary, binary);
                let b = expr(rng, depth - 1, unary, binary);
                format!("where({a} > {b}, {a}, {b} * 0.5)")
            }
            _ => {
                let op = binary[rng.below(binary.len())];
                let a = expr(rng, depth - 1, unary, binary);
                let b = expr(rng, depth - 1, unary, binary);
                match op {
                    "==" | "!=" | "<" | "<=" | ">" | ">=" => format!("where({a} {op} {b}, 1.5, -0.5)"),
                    "+" | "-" | "*" | "/" => format!("({a} {op} {b})"),
                    _ => format!("{op}({a}, {b})"),
                }
            }
        }
    }
    let mut fused = 0;
    for round in 0..4 {
        let terms: Vec<String> = (0..12)
            .map(|_| format!("mean({})", expr(&mut rng, 3, &unary, &binary)))
            .collect();
        let source = format!(
            "input y_true: real\ninput y_pred: real\nloss l = {}\n",
            terms.join(" + ")
        );
        let Ok(program) = lossc::compile(&source) else {
            continue;
        };
        let inputs = data(&program, 131, &mut rng);
        fused += check(&jit, &program, &inputs, &format!("random program {round}:\n{source}"));
    }
    assert!(fused > 0, "no random program ran generated code");
}

/// A gradient of more than 8 MB is written with streaming stores, through a
/// tile-sized buffer: still the interpreter's bits.
#[test]
fn generated_code_is_bit_identical_with_streaming_stores() {
    let Some(jit) = jit() else { return };
    let source = "input y_true: [0, 1]\ninput y_pred: [0, 1]\nloss l = mean(square(y_true - y_pred) + abs(y_pred))\n";
    let program = lossc::compile(source).unwrap();
    let mut rng = Rng(3);
    let inputs = data(&program, (9 << 20) / 8 + 77, &mut rng);
    let options = EvalOptions {
        dtype: lossc::Dtype::F64,
        result: None,
        grad: true,
        wrt: Vec::new(),
    };
    let evaluator = program.evaluator(&options, true).unwrap();
    assert_eq!(compare::<f64>(&jit, &evaluator, &inputs, "streaming"), 1);
}

/// Passes over rows of several elements: row-wise reductions of every kind,
/// softmax, broadcasting within rows, a per-class weight spread over the
/// rows, several groups per row, a per-element output.
#[test]
fn generated_code_is_bit_identical_on_row_programs() {
    let Some(jit) = jit() else { return };
    let programs = [
        "input t: [0, 1] [N, C]\ninput x: real [N, C]\nloss l = mean(-sum(t * log_softmax(x), axis=-1))",
        "input t: [0, 1] [N, C]\ninput x: real [N, C]\nloss l = mean(logsumexp(x, axis=1) - max(x, axis=1) + min(t * x, axis=-1))",
        "input t: real [N, 5]\ninput x: real [N, 5]\nparam w = [0.5, 1, 2, 0.25, 3]\nloss l = mean(sum(w * square(softmax(x, axis=-1) - t), axis=-1))",
        "input t: real [N, 4, 3]\ninput x: real [N, 4, 3]\nloss l = mean(sum(norm(x - t, axis=-1), axis=-1) + sum(abs(x), axis=(1, 2)) / take(mean(square(t) + 1, axis=1), 0))",
        "input t: real [N, C]\ninput x: real [N, C]\nloss l = mean(square(x - t) ^ 1.5 + maximum(x, t) * sign(x))",
        "input t: real [N, C]\ninput x: real [N, C]\nloss l = mean(where(x > mean(x, axis=-1, keepdims=true), x - t, 0.5 * (t - x)))",
    ];
    let mut rng = Rng(5);
    let mut fused = 0;
    for source in programs {
        let program = match lossc::compile(source) {
            Ok(program) => program,
            Err(error) => panic!("{source}: {error:?}"),
        };
        let inputs = data(&program, 77, &mut rng);
        fused += check(&jit, &program, &inputs, source);
    }
    assert!(fused >= programs.len(), "row programs ran {fused} generated passes");
}
