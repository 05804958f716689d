//! `Evaluator::run_into`: the gradient written into a caller's slice (the
//! `--grad-out` file, memory-mapped) is the gradient `run_prepared` returns,
//! bit for bit, on every example, on outputs large enough for streaming
//! stores, and on a gradient that does not vary over the batch; a slice of
//! the wrong length is refused before anything runs.

use std::sync::atomic::{AtomicBool, Ordering};

use lossc::{Dtype, EvalOptions};
use lossc_kernel::{Evaluated, Evaluator, Granularity, Real, Tensor};
use ndarray::{ArrayD, IxDyn};

/// Tiles of 8 elements, chunks of 24, nothing sequential: many chunks (and
/// so many slices of the caller's buffer) on small data.
const FINE: Granularity = Granularity {
    tile: 8,
    chunk: 24,
    sequential: 0,
};

/// Data in every input's domain, deterministic: N = `n`, C = 5, others 3.
fn data(program: &lossc::Program, n: usize) -> Vec<(String, ArrayD<f64>)> {
    let ir = program.ir();
    ir.inputs
        .iter()
        .map(|input| {
            let shape = super::shape(ir, input, n);
            let count: usize = shape.iter().product();
            let mut values: Vec<f64> = (0..count)
                .map(|i| {
                    // A fraction in (0, 1) that varies from element to element.
                    let t = 0.02 + 0.96 * ((i * 7919) % 101) as f64 / 100.0;
                    match &input.domain {
                        // Made into rows below.
                        lossc::ir::Domain::Simplex | lossc::ir::Domain::OneHot => t,
                        lossc::ir::Domain::Real => (t - 0.5) * 6.0,
                        lossc::ir::Domain::Interval { lo, hi, .. } => {
                            let (lo, hi) = (lo.max(-3.0), hi.min(3.0));
                            lo + (hi - lo) * t
                        }
                        lossc::ir::Domain::Set(values) => values[i % values.len()],
                    }
                })
                .collect();
            let mut rng = lossc::ir::rng::SplitMix64::new(n as u64);
            input
                .domain
                .make_rows(&mut values, shape.last().copied().unwrap_or(1), &mut rng, false);
            (
                input.name.clone(),
                ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
            )
        })
        .collect()
}

fn tensors(inputs: &[(String, ArrayD<f64>)]) -> Vec<(&str, Tensor<'_>)> {
    inputs
        .iter()
        .map(|(n, a)| (n.as_str(), Tensor::F64(a.view())))
        .collect()
}

/// Runs `evaluator` both ways and checks that they agree bit for bit;
/// returns the written gradient's element count.
fn agree<T: Real>(evaluator: &Evaluator, inputs: &[(String, ArrayD<f64>)], what: &str) -> usize {
    let inputs = tensors(inputs);
    let prepared = evaluator.prepare::<T>(&inputs).unwrap();
    let returned: Evaluated<T> = evaluator.run_prepared(&prepared);
    let shape = evaluator.gradient_shape(&prepared, 0).expect("a gradient").to_vec();
    assert_eq!(shape, returned.gradient[0].1.shape(), "{what}: the gradient's shape");
    let count: usize = shape.iter().product();
    // Filled with a value the gradient never has, so an element left
    // unwritten shows.
    let mut written = vec![T::from_f64(12345.0); count];
    let streamed = evaluator
        .run_into::<T>(&prepared, &mut written, &|| {})
        .expect("a slice of the gradient's length");
    let expected = returned.gradient[0].1.as_standard_layout();
    let bits = |values: &[T]| values.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
    let array_bits = |array: &ArrayD<T>| bits(&array.iter().copied().collect::<Vec<_>>());
    assert_eq!(
        bits(&written),
        bits(expected.as_slice().unwrap()),
        "{what}: the written gradient"
    );
    assert_eq!(
        streamed.gradient[0].1.shape(),
        &[0],
        "{what}: the written entry is empty"
    );
    assert_eq!(
        array_bits(&streamed.value),
        array_bits(&returned.value),
        "{what}: the value"
    );
    assert_eq!(
        streamed.per_sample.map(|s| array_bits(&s.into_dyn())),
        returned.per_sample.map(|s| array_bits(&s.into_dyn())),
        "{what}: the samples"
    );
    for ((name, s), (_, r)) in streamed.gradient.iter().zip(&returned.gradient).skip(1) {
        assert_eq!(array_bits(s), array_bits(r), "{what}: the gradient wrt {name}");
    }
    count
}

#[test]
fn every_example_writes_the_gradient_it_returns() {
    for (file, source) in super::examples() {
        let program = lossc::compile(&source).unwrap();
        for n in [1, 37] {
            let inputs = data(&program, n);
            for dtype in [Dtype::F32, Dtype::F64] {
                let options = EvalOptions {
                    dtype,
                    grad: true,
                    ..Default::default()
                };
                let evaluator = program.evaluator(&options, true).unwrap().with_granularity(FINE);
                let what = format!("{file} ({dtype}, N = {n})");
                match dtype {
                    Dtype::F32 => agree::<f32>(&evaluator, &inputs, &what),
                    Dtype::F64 => agree::<f64>(&evaluator, &inputs, &what),
                };
            }
        }
    }
}

#[test]
fn a_gradient_written_with_streaming_stores_is_the_same() {
    // 3M f32 elements, 12 MB: above the size at which the kernels write
    // their outputs with streaming stores, in default-sized chunks.
    let program =
        lossc::compile("input y_true: real\ninput y_pred: real\nloss mse = mean(square(y_true - y_pred))").unwrap();
    let inputs = data(&program, 3_000_000);
    let options = EvalOptions {
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, true).unwrap();
    assert_eq!(agree::<f32>(&evaluator, &inputs, "mse at 3M"), 3_000_000);
}

#[test]
fn a_gradient_uniform_over_the_batch_is_copied_into_the_slice() {
    // The gradient with respect to `w` (shape [3]) does not vary over the
    // batch: it is computed whole, then copied where the caller wants it.
    let program =
        lossc::compile("input y_pred: real [N, 3]\ninput w: real [3]\nwrt w, y_pred\nloss l = mean(y_pred * w * w)")
            .unwrap();
    let inputs = data(&program, 37);
    let options = EvalOptions {
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, true).unwrap().with_granularity(FINE);
    assert_eq!(evaluator.wrt, ["w", "y_pred"]);
    assert_eq!(agree::<f64>(&evaluator, &inputs, "wrt w"), 3);
}

#[test]
fn a_slice_of_another_length_is_refused_before_running() {
    let program = lossc::compile("loss mse = mean(square(y_true - y_pred))").unwrap();
    let inputs = data(&program, 5);
    let options = EvalOptions {
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, true).unwrap();
    let tensors = tensors(&inputs);
    let prepared = evaluator.prepare::<f64>(&tensors).unwrap();
    for len in [0, 4, 6] {
        let mut slice = vec![7.0; len];
        let ran = AtomicBool::new(false);
        assert!(
            evaluator
                .run_into::<f64>(&prepared, &mut slice, &|| ran.store(true, Ordering::Relaxed))
                .is_none()
        );
        assert!(
            !ran.load(Ordering::Relaxed) && slice.iter().all(|&v| v == 7.0),
            "nothing ran or was written"
        );
    }
    let no_gradient = program.evaluator(&EvalOptions::default(), true).unwrap();
    let prepared = no_gradient.prepare::<f64>(&tensors).unwrap();
    assert!(no_gradient.gradient_shape(&prepared, 0).is_none());
    assert!(no_gradient.run_into::<f64>(&prepared, &mut [0.0; 5], &|| {}).is_none());
}
