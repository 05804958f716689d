//! Concrete witnesses: points of the declared domains where a hazard the
//! intervals predicted really happens, found by evaluating the program with
//! the reference interpreter on candidate values (the domain's ends, zero,
//! signed zeros, denormals, the program's own constants and their
//! neighbours, large magnitudes), many candidates in one batch.

use lossc_diagnostics::WitnessValue;
use lossc_ir::{Dim, Domain, Dtype, NodeId, Op, Program};
use ndarray::{ArrayD, Dimension, IxDyn};

/// One point: a value for each input (every element of an input holds it;
/// for a matrix input, `spike` puts it in the first column only, zeros elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub values: Vec<f64>,
    pub spike: bool,
}

/// The candidate points of one analysis case.
#[derive(Debug, Clone)]
pub struct Search<'p> {
    program: &'p Program,
    dtype: Dtype,
    /// Candidate values, per input.
    candidates: Vec<Vec<f64>>,
}

/// The most points evaluated for one question.
const MAX_POINTS: usize = 4096;

/// The most input elements (points times a row's elements) evaluated for
/// one question.
const MAX_ELEMENTS: usize = 1 << 22;

impl<'p> Search<'p> {
    /// Candidates for each input: `fixed` gives the value of the inputs whose
    /// set domain this case fixes; `clamp` bounds the magnitude of the others.
    pub fn new(program: &'p Program, dtype: Dtype, fixed: &[Option<f64>], clamp: f64) -> Self {
        let mut constants: Vec<f64> = Vec::new();
        for node in &program.nodes {
            if let Op::Literal(v) = node.op {
                constants.push(v);
            }
        }
        for c in program.params.iter().chain(&program.consts) {
            match &c.value {
                lossc_ir::Value::Scalar(v) => constants.push(*v),
                lossc_ir::Value::Vector(vs) => constants.extend(vs),
            }
        }
        let candidates = program
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| match fixed.get(i).copied().flatten() {
                Some(v) => vec![v],
                None => candidates(&input.domain, dtype, &constants, clamp),
            })
            .collect();
        Search {
            program,
            dtype,
            candidates,
        }
    }

    /// Every candidate point, deterministically thinned to at most [`MAX_POINTS`].
    fn points(&self) -> Vec<Point> {
        let matrix = self.program.inputs.iter().any(|i| i.shape.len() >= 2);
        let total: usize = self.candidates.iter().map(Vec::len).product::<usize>() * if matrix { 2 } else { 1 };
        // Large rows get fewer points: the elements evaluated per question
        // stay bounded whatever the declared sizes.
        let row = crate::largest_row(self.program).unwrap_or(crate::MAX_ROW);
        let most = MAX_POINTS.min((MAX_ELEMENTS / row).max(64));
        let stride = total.div_ceil(most).max(1);
        let mut points = Vec::new();
        let mut index = 0usize;
        loop {
            if index >= total {
                break;
            }
            let mut rest = index;
            let spike = if matrix {
                let s = rest % 2 == 1;
                rest /= 2;
                s
            } else {
                false
            };
            let values = self
                .candidates
                .iter()
                .map(|c| {
                    let v = c[rest % c.len()];
                    rest /= c.len();
                    v
                })
                .collect();
            points.push(Point { values, spike });
            index += stride;
        }
        points
    }

    /// The first point at which `holds` is true of the values of `roots`
    /// (each root's elements for that sample), with those values.
    pub fn find(&self, roots: &[NodeId], holds: impl Fn(&[Vec<f64>]) -> bool) -> Option<(Point, Vec<Vec<f64>>)> {
        let points = self.points();
        if points.is_empty() {
            return None;
        }
        let per_sample = roots.iter().all(|r| {
            let shape = &self.program.node(*r).ty.shape;
            shape.first().copied() == self.program.batch && self.program.batch.is_some()
        });
        // Rows too large to evaluate: the intervals alone judge them.
        let row = crate::largest_row(self.program)?;
        let batches: Vec<Vec<Point>> = if per_sample {
            // Batches of at most MAX_BATCH_ELEMENTS elements per input.
            let size = (crate::MAX_BATCH_ELEMENTS / row).max(1);
            points.chunks(size).map(<[Point]>::to_vec).collect()
        } else {
            // Values that mix the batch: one sample at a time, fewer of them.
            let step = points.len().div_ceil(256).max(1);
            points.into_iter().step_by(step).map(|p| vec![p]).collect()
        };
        for batch in batches {
            let values = match self.dtype {
                Dtype::F32 => self.eval::<f32>(&batch, roots),
                Dtype::F64 => self.eval::<f64>(&batch, roots),
            };
            let Some(values) = values else { continue };
            for (k, point) in batch.iter().enumerate() {
                let sample: Vec<Vec<f64>> = values.iter().map(|v| slice(v, k, per_sample)).collect();
                if holds(&sample) {
                    return Some((point.clone(), sample));
                }
            }
        }
        None
    }

    /// The values of `roots` at one point, evaluated with a batch of one.
    pub fn values_at(&self, point: &Point, roots: &[NodeId]) -> Option<Vec<Vec<f64>>> {
        let values = match self.dtype {
            Dtype::F32 => self.eval::<f32>(std::slice::from_ref(point), roots),
            Dtype::F64 => self.eval::<f64>(std::slice::from_ref(point), roots),
        }?;
        Some(values.iter().map(|a| a.iter().copied().collect()).collect())
    }

    /// The largest finite magnitude of `root` for one sample (evaluated with
    /// a batch of one) over a spread of the candidate points, and where.
    pub fn max_per_sample(&self, root: NodeId) -> Option<(Point, f64)> {
        let points = self.points();
        let step = points.len().div_ceil(200).max(1);
        let mut best: Option<(Point, f64)> = None;
        for point in points.into_iter().step_by(step) {
            let values = match self.dtype {
                Dtype::F32 => self.eval::<f32>(std::slice::from_ref(&point), &[root]),
                Dtype::F64 => self.eval::<f64>(std::slice::from_ref(&point), &[root]),
            };
            let Some(values) = values else { continue };
            let m = values[0]
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(v.abs()));
            if best.as_ref().is_none_or(|(_, b)| m > *b) {
                best = Some((point, m));
            }
        }
        best
    }

    fn eval<T: num_traits::Float + lossc_ir::builtins::Scalar>(
        &self,
        points: &[Point],
        roots: &[NodeId],
    ) -> Option<Vec<ArrayD<f64>>> {
        crate::largest_row(self.program)?;
        let n = points.len();
        let batch = self.program.batch;
        let mut data = Vec::new();
        for (i, input) in self.program.inputs.iter().enumerate() {
            let shape: Vec<usize> = input
                .shape
                .iter()
                .enumerate()
                .map(|(k, d)| match d {
                    _ if k == 0 && Some(*d) == batch => n,
                    Dim::Fixed(s) => *s as usize,
                    Dim::Named(id) => crate::dim_size(self.program, *id),
                })
                .collect();
            let has_batch = input.shape.first().copied() == batch && batch.is_some();
            let array = ArrayD::from_shape_fn(IxDyn(&shape), |index| {
                let sample = if has_batch { index[0] } else { 0 };
                let point = &points[sample.min(n - 1)];
                let v = point.values[i];
                let column = if input.shape.len() >= 2 {
                    index[index.ndim() - 1]
                } else {
                    0
                };
                let width = shape.last().copied().unwrap_or(1);
                let v = input.domain.row_element(v, point.spike, column, width);
                T::from(v).unwrap_or_else(T::nan)
            });
            data.push((input.name.as_str(), array));
        }
        let bindings = lossc_reference::Bindings::new(self.program, data).ok()?;
        let values = lossc_reference::eval(self.program, roots, &bindings).ok()?;
        Some(
            values
                .into_iter()
                .map(|a| a.mapv(|v| v.to_f64().unwrap_or(f64::NAN)))
                .collect(),
        )
    }

    /// "`y_true` = 1 and `y_pred` = 0", for the inputs `node` depends on.
    pub fn describe(&self, point: &Point, node: NodeId) -> String {
        let parts: Vec<String> = self
            .witness(point, node)
            .into_iter()
            .map(|w| {
                let v = lossc_ir::format_number(w.value, self.dtype);
                if let Some(row) = &w.row {
                    format!("`{}` = {} in each row", w.input, row_text(row, self.dtype))
                } else if w.first_of_row {
                    format!("`{}` = [{v}, 0, ...] in a row", w.input)
                } else {
                    format!("`{}` = {v}", w.input)
                }
            })
            .collect();
        parts.join(" and ")
    }

    /// The values of the inputs `node` depends on at `point`, as data: what
    /// [`Search::describe`] says.
    pub fn witness(&self, point: &Point, node: NodeId) -> Vec<WitnessValue> {
        let used = self.program.inputs_read(&[node]);
        self.program
            .inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| used[*i])
            .map(|(i, input)| WitnessValue {
                input: input.name.clone(),
                // A signed zero reads as 0, in the message and here.
                value: if point.values[i] == 0.0 { 0.0 } else { point.values[i] },
                first_of_row: point.spike && input.shape.len() >= 2,
                row: input.domain.is_row().then(|| {
                    let width = crate::last_axis_size(self.program, input);
                    (0..width)
                        .map(|c| {
                            let v = self
                                .dtype
                                .round(input.domain.row_element(point.values[i], point.spike, c, width));
                            if v == 0.0 { 0.0 } else { v }
                        })
                        .collect()
                }),
            })
            .collect()
    }
}

/// A row as a message shows it: `[0, 1, 0]`, or its first four elements
/// and `...` when it is longer.
pub fn row_text(row: &[f64], dtype: Dtype) -> String {
    let mut items: Vec<String> = row.iter().take(4).map(|v| lossc_ir::format_number(*v, dtype)).collect();
    if row.len() > 4 {
        items.push("...".to_string());
    }
    format!("[{}]", items.join(", "))
}

/// The elements of sample `k` of an evaluated root.
fn slice(array: &ArrayD<f64>, k: usize, per_sample: bool) -> Vec<f64> {
    if per_sample && array.ndim() >= 1 {
        array
            .index_axis(ndarray::Axis(0), k.min(array.shape()[0] - 1))
            .iter()
            .copied()
            .collect()
    } else {
        array.iter().copied().collect()
    }
}

/// Candidate values of a domain, in the dtype, of magnitude at most `clamp`.
fn candidates(domain: &Domain, dtype: Dtype, constants: &[f64], clamp: f64) -> Vec<f64> {
    let (lo, hi) = domain.bounds(dtype);
    let (lo, hi) = (lo.max(-clamp), hi.min(clamp));
    let tiny = match dtype {
        Dtype::F32 => f32::from_bits(1) as f64,
        Dtype::F64 => f64::from_bits(1),
    };
    let one_below = dtype.next_down(1.0);
    // Simple values first: a witness reads best as `y_pred = 0`.
    let mut values = vec![
        0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 10.0, -10.0, 100.0, -100.0, 1e6, -1e6, lo, hi, one_below, tiny, -tiny, -0.0,
    ];
    for c in constants {
        let c = crate::absint::nearest(dtype, *c);
        values.extend([c, -c, 1.0 - c, dtype.next_up(c), dtype.next_down(c)]);
    }
    for big in [89.0, 100.0, 710.0, 1e6, 1e19, 1e38, 1e155, dtype.max_finite()] {
        values.extend([big, -big]);
    }
    // A ladder of tiny magnitudes: where 1/x and log(x) overflow or explode.
    let ladder: &[f64] = match dtype {
        Dtype::F32 => &[1e-44, 1e-42, 1e-40, 1e-38, 1e-30, 1e-20, 1e-12, 1e-8],
        Dtype::F64 => &[1e-320, 1e-310, 1e-300, 1e-200, 1e-100, 1e-30, 1e-12, 1e-8],
    };
    for t in ladder {
        values.extend([*t, -*t, 1.0 - *t]);
    }
    // A set's members (one-hot rows: 1 makes the first class hot, 0 another).
    if let Domain::Set(members) = domain.element() {
        values = members;
    }
    let mut kept: Vec<f64> = Vec::new();
    for v in values.into_iter().map(|v| crate::absint::nearest(dtype, v)) {
        if v.is_finite() && v >= lo && v <= hi && !kept.iter().any(|k| k.to_bits() == v.to_bits()) {
            kept.push(v);
        }
    }
    kept
}
