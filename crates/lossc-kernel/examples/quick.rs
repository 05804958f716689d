#![allow(clippy::print_stdout)]
use lossc_kernel::Tensor;
use ndarray::{ArrayD, IxDyn};
use std::time::Instant;

fn main() {
    let file = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(10_000_000);
    let source = std::fs::read_to_string(&file).unwrap();
    let program = lossc::compile(&source).unwrap();
    let options = lossc::EvalOptions {
        grad: true,
        ..Default::default()
    };
    let evaluator = program.evaluator(&options, false).unwrap();
    let ir = program.ir();
    let mut arrays = Vec::new();
    for input in &ir.inputs {
        let shape: Vec<usize> = input
            .shape
            .iter()
            .map(|d| match d {
                lossc::ir::Dim::Fixed(k) => *k as usize,
                lossc::ir::Dim::Named(id) => {
                    if ir.dims[id.0 as usize] == "N" {
                        n
                    } else {
                        10
                    }
                }
            })
            .collect();
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 * 0.98 + 0.01)
            .collect();
        arrays.push((
            input.name.clone(),
            ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
        ));
    }
    let tensors: Vec<(&str, Tensor)> = arrays
        .iter()
        .map(|(n, a)| (n.as_str(), Tensor::F32(a.view())))
        .collect();
    let prepared = evaluator.prepare::<f32>(&tensors).unwrap();
    println!("passes {}", evaluator.kernel().passes());
    if std::env::var_os("EXPLAIN").is_some() {
        println!("{}", prepared.describe());
    }
    for _ in 0..3 {
        let mut times = vec![];
        let mut last = None;
        for _ in 0..11 {
            let t = Instant::now();
            let out = evaluator.run_recycling::<f32>(&prepared, last.take());
            std::hint::black_box(&out);
            last = Some(out);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{file} n={n}: median {:.3} ms", times[5]);
    }
}
