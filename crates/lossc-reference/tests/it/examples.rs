//! Every program in the workspace's `examples/` evaluates, in f32 and f64, on
//! data drawn from its declared domains: every result comes back with the
//! shape its IR type promises, and no evaluation panics.

use std::path::Path;

use lossc_ir::{Dim, Domain, Program};
use lossc_reference::{Bindings, eval};
use ndarray::{ArrayD, IxDyn};
use num_traits::Float;

/// Dimension sizes used for the data: N = 4, every other name 3.
fn size(program: &Program, dim: Dim) -> usize {
    match dim {
        Dim::Fixed(n) => n as usize,
        Dim::Named(id) if program.dims[id.0 as usize] == "N" => 4,
        Dim::Named(_) => 3,
    }
}

/// The `k`-th of a few values inside `domain` (edges included where closed).
fn sample(domain: &Domain, k: usize) -> f64 {
    let t = (k % 7) as f64 / 6.0; // 0, 1/6, ..., 1
    match domain {
        Domain::Real => (k as f64 * 0.7).sin() * 3.0,
        Domain::Set(values) => values[k % values.len()],
        Domain::Interval { lo, hi, .. } if lo.is_finite() && hi.is_finite() => lo + (hi - lo) * t,
        Domain::Interval { lo, .. } if lo.is_finite() => lo + 5.0 * t,
        Domain::Interval { hi, .. } if hi.is_finite() => hi - 5.0 * t,
        Domain::Interval { .. } => (k as f64 * 0.7).sin() * 3.0,
        Domain::Simplex | Domain::OneHot => sample(&domain.element(), k),
    }
}

fn evaluate_all<T: Float + lossc_ir::builtins::Scalar>(program: &Program, name: &str) {
    let inputs = program.inputs.iter().map(|input| {
        let shape: Vec<usize> = input.shape.iter().map(|&d| size(program, d)).collect();
        let count: usize = shape.iter().product();
        let mut values: Vec<f64> = (0..count).map(|k| sample(&input.domain, k)).collect();
        let mut rng = lossc_ir::rng::SplitMix64::new(count as u64);
        input
            .domain
            .make_rows(&mut values, shape.last().copied().unwrap_or(1), &mut rng, false);
        let values: Vec<T> = values.into_iter().map(|v| T::from(v).unwrap()).collect();
        (
            input.name.clone(),
            ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
        )
    });
    let bindings = Bindings::new(program, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let roots: Vec<_> = program.results.iter().map(|r| r.root).collect();
    let values = eval(program, &roots, &bindings).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (result, value) in program.results.iter().zip(values) {
        let expected: Vec<usize> = program
            .node(result.root)
            .ty
            .shape
            .iter()
            .map(|&d| size(program, d))
            .collect();
        assert_eq!(value.shape(), expected.as_slice(), "{name}: `{}`", result.name);
    }
}

#[test]
fn every_example_evaluates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "loss"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let ast = lossc_syntax::parse(&source).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        let (program, _warnings) = lossc_ir::lower(&ast, &source).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        evaluate_all::<f32>(&program, &name);
        evaluate_all::<f64>(&program, &name);
    }
}
