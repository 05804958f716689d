//! The fast evaluator on the standard losses: loss and gradient at 10^5 and
//! 10^6 elements, f32 and f64 (`cargo bench -p lossc-kernel`). The larger
//! sizes and the comparison with PyTorch and JAX are `lossc bench` and
//! `bench/compare.py` (docs/performance.md).

use lossc_kernel::{Evaluator, Tensor};
use ndarray::{ArrayD, IxDyn};

fn main() {
    divan::main();
}

const LOSSES: &[&str] = &["mse", "bce", "huber", "focal", "cce_logits"];
const ELEMENTS: &[usize] = &[100_000, 1_000_000];

/// The compiled loss + gradient and its inputs: `elements` in all, C = 10 for
/// the two-axis losses.
fn setup(loss: &str, elements: usize) -> (Evaluator, Vec<(String, ArrayD<f64>)>) {
    let path = format!("{}/../../examples/{loss}.loss", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(path).expect("the example exists");
    let program = lossc::compile(&source).expect("the example compiles");
    let options = lossc::EvalOptions {
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, false).expect("a loss");
    let inputs = program
        .ir()
        .inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = if input.shape.len() == 2 {
                vec![elements / 10, 10]
            } else {
                vec![elements]
            };
            let (lo, hi) = match &input.domain {
                lossc::ir::Domain::Interval { lo, hi, .. } => (lo.max(-3.0), hi.min(3.0)),
                lossc::ir::Domain::Set(values) => (values[0], values[values.len() - 1]),
                lossc::ir::Domain::Real => (-3.0, 3.0),
                // Made into rows below.
                lossc::ir::Domain::Simplex | lossc::ir::Domain::OneHot => (0.0, 1.0),
            };
            let mut values: Vec<f64> = (0..elements)
                .map(|i| lo + (hi - lo) * ((i * 7919 % 1000) as f64 / 1000.0))
                .collect();
            let mut rng = lossc::ir::rng::SplitMix64::new(1);
            input
                .domain
                .make_rows(&mut values, *shape.last().unwrap(), &mut rng, false);
            (
                input.name.clone(),
                ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
            )
        })
        .collect();
    (evaluator, inputs)
}

#[divan::bench(args = LOSSES, consts = [100_000, 1_000_000])]
fn f32_loss_and_gradient<const N: usize>(bencher: divan::Bencher, loss: &str) {
    let (evaluator, inputs) = setup(loss, N);
    let data: Vec<(String, ArrayD<f32>)> = inputs.iter().map(|(n, a)| (n.clone(), a.mapv(|v| v as f32))).collect();
    let tensors: Vec<(&str, Tensor<'_>)> = data.iter().map(|(n, a)| (n.as_str(), Tensor::F32(a.view()))).collect();
    let prepared = evaluator.prepare::<f32>(&tensors).unwrap();
    let mut last = Some(evaluator.run_prepared::<f32>(&prepared));
    bencher
        .counter(divan::counter::ItemsCount::new(N))
        .bench_local(|| last = Some(evaluator.run_recycling::<f32>(&prepared, last.take())));
}

#[divan::bench(args = LOSSES, consts = [100_000, 1_000_000])]
fn f64_loss_and_gradient<const N: usize>(bencher: divan::Bencher, loss: &str) {
    let (evaluator, inputs) = setup(loss, N);
    let tensors: Vec<(&str, Tensor<'_>)> = inputs
        .iter()
        .map(|(n, a)| (n.as_str(), Tensor::F64(a.view())))
        .collect();
    let prepared = evaluator.prepare::<f64>(&tensors).unwrap();
    let mut last = Some(evaluator.run_prepared::<f64>(&prepared));
    bencher
        .counter(divan::counter::ItemsCount::new(N))
        .bench_local(|| last = Some(evaluator.run_recycling::<f64>(&prepared, last.take())));
}

#[divan::bench(consts = [100_000, 10_000_000])]
fn f32_triad<const N: usize>(bencher: divan::Bencher) {
    let b = vec![1.0f32; N];
    let c = vec![2.0f32; N];
    let mut a = vec![0.0f32; N];
    bencher
        .counter(divan::counter::BytesCount::new(12 * N))
        .bench_local(|| lossc_kernel::triad(&mut a, &b, &c, 0.5));
}

// `ELEMENTS` documents the sizes the `consts` lists repeat.
const _: () = assert!(ELEMENTS.len() == 2);
