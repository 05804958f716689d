//! Evaluating the samples: chunks of samples on the machine's cores, each
//! sample evaluated by the reference interpreter (loss and gradients) and
//! classified into the tally.

use lossc_ir::builtins::Scalar;
use lossc_ir::{Dtype, NodeId, Program, Var};
use lossc_reference::Bindings;
use ndarray::{ArrayD, IxDyn};
use num_traits::Float;

use super::layout::Layout;
use super::report::{Class, Tally, Tensor, Witness};
use super::{EXPLODING, ProbeError};

/// Everything the workers share.
pub(super) struct Task<'a> {
    pub(super) program: &'a Program,
    pub(super) root: NodeId,
    pub(super) gradients: &'a [Option<NodeId>],
    pub(super) vars: &'a [Var],
    pub(super) var_shapes: &'a [Vec<usize>],
    /// The variables' shapes without the batch dimension.
    pub(super) var_rows: &'a [Vec<usize>],
    pub(super) layout: &'a Layout,
    pub(super) seed: u64,
    pub(super) samples: usize,
}

impl Task<'_> {
    /// Evaluates every sample in `T`, on all cores.
    pub(super) fn run<T: Float + Scalar + Send + Sync>(&self) -> Result<Tally, ProbeError> {
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 64)
            .min(self.samples.div_ceil(32).max(1));
        let chunk = self.samples.div_ceil(threads);
        let results: Vec<Result<Tally, ProbeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * chunk)..((t + 1) * chunk).min(self.samples);
                    scope.spawn(move || self.run_range::<T>(range))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload)))
                .collect()
        });
        let mut total = Tally::default();
        for result in results {
            total.merge(result?);
        }
        Ok(total)
    }

    fn run_range<T: Float + Scalar>(&self, range: std::ops::Range<usize>) -> Result<Tally, ProbeError> {
        let mut tally = Tally::default();
        let dtype = if std::mem::size_of::<T>() == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let mut roots = vec![self.root];
        roots.extend(self.gradients.iter().flatten());
        for index in range {
            let point = self.layout.point(index, self.samples, self.seed, dtype);
            tally.uniform_total += usize::from(point.uniform);
            let data = self.layout.inputs.iter().zip(&point.values).map(|(input, values)| {
                let array = ArrayD::from_shape_vec(
                    IxDyn(&input.shape),
                    values.iter().map(|&v| T::from(v).unwrap_or_else(T::nan)).collect(),
                )
                .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&input.shape), T::nan()));
                (input.name.as_str(), array)
            });
            let bindings = Bindings::new(self.program, data)?;
            let mut arrays = lossc_reference::eval(self.program, &roots, &bindings)?.into_iter();
            let value = arrays.next().map_or(f64::NAN, |a| mean(&a));
            let mut gradients = Vec::with_capacity(self.vars.len());
            for (((&var, grad), shape), row) in self
                .vars
                .iter()
                .zip(self.gradients)
                .zip(self.var_shapes)
                .zip(self.var_rows)
            {
                let values = match grad {
                    Some(_) => {
                        let array = arrays.next().unwrap_or_else(|| ArrayD::from_elem(IxDyn(&[]), T::nan()));
                        match array.broadcast(IxDyn(shape)) {
                            Some(view) => view.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect(),
                            None => array.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect(),
                        }
                    }
                    None => vec![0.0; shape.iter().product()],
                };
                gradients.push(Tensor {
                    name: self.program.var_name(var).to_string(),
                    shape: row.clone(),
                    values,
                });
            }

            let mut classes = Vec::new();
            if value.is_nan() {
                classes.push(Class::NanValue);
            } else if value.is_infinite() {
                classes.push(Class::InfValue);
            } else {
                let all = || gradients.iter().flat_map(|g| g.values.iter());
                if all().any(|g| !g.is_finite()) {
                    classes.push(Class::NonFiniteGradient);
                } else if all().any(|g| g.abs() > EXPLODING) {
                    classes.push(Class::ExplodingGradient);
                }
                if gradients.iter().any(|g| g.values.iter().all(|&v| v == 0.0)) {
                    classes.push(Class::ZeroGradient);
                }
            }
            if classes.is_empty() {
                continue;
            }
            let witness = Witness {
                index,
                inputs: self
                    .layout
                    .inputs
                    .iter()
                    .zip(point.values)
                    .map(|(input, values)| Tensor {
                        name: input.name.clone(),
                        shape: input.row.clone(),
                        values,
                    })
                    .collect(),
                value,
                gradients,
            };
            for class in classes {
                let i = class.index();
                tally.counts[i] += 1;
                if tally.first[i].is_none() {
                    tally.first[i] = Some((index, witness.clone()));
                }
                if point.uniform {
                    tally.uniform_counts[i] += 1;
                    if tally.first_uniform[i].is_none() {
                        tally.first_uniform[i] = Some((index, witness.clone()));
                    }
                }
            }
        }
        Ok(tally)
    }
}

/// The loss's value: a scalar as is, a per-sample loss as its mean (in `T`).
fn mean<T: Float + Scalar>(array: &ArrayD<T>) -> f64 {
    let values: Vec<T> = array.iter().copied().collect();
    let value = match values.len() {
        0 => T::nan(),
        1 => values[0],
        n => lossc_reference::compensated_sum(&values) / T::from(n).unwrap_or_else(T::nan),
    };
    value.to_f64().unwrap_or(f64::NAN)
}
