//! The meaning of each op family on arrays. Elementwise arithmetic is
//! [`lossc_ir::builtins::eval_scalar`]'s; this file adds broadcasting,
//! reductions, the along-an-axis functions and the indexing and shape ops.
//!
//! Each function returns `Err(detail)` only when its arguments break an IR
//! invariant (an axis out of range, shapes that do not broadcast); the caller
//! turns that into [`crate::EvalError::Malformed`].

use lossc_ir::builtins::eval_scalar;
use lossc_ir::{Builtin, Signature};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use num_traits::Float;

use crate::error::shape_list;

/// Applies an elementwise built-in to one tuple of elements.
///
/// The caller has checked that `builtin` is elementwise, so `eval_scalar`
/// answers; NaN stands in for the impossible `None`.
fn apply<T: Float>(builtin: Builtin, args: &[T]) -> T {
    eval_scalar(builtin, args).unwrap_or_else(T::nan)
}

/// Whether [`elementwise`] handles this signature.
pub(crate) fn is_elementwise(signature: Signature) -> bool {
    matches!(
        signature,
        Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float
    )
}

/// The NumPy broadcast of several shapes: aligned from the right, each
/// dimension equal or 1.
pub(crate) fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; rank];
    for shape in shapes {
        let offset = rank - shape.len();
        for (k, &size) in shape.iter().enumerate() {
            let slot = &mut out[offset + k];
            if *slot == 1 {
                *slot = size;
            } else if size != 1 && size != *slot {
                let all: Vec<String> = shapes.iter().map(|s| shape_list(s)).collect();
                return Err(format!("shapes {} do not broadcast", all.join(" and ")));
            }
        }
    }
    Ok(out)
}

/// An elementwise built-in: the arguments broadcast together, then
/// `eval_scalar` on each tuple of elements (booleans are 0 and 1).
pub(crate) fn elementwise<T: Float>(builtin: Builtin, args: &[ArrayViewD<'_, T>]) -> Result<ArrayD<T>, String> {
    let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shapes(&shapes)?;
    let mut iters = Vec::with_capacity(args.len());
    for arg in args {
        // A broadcast view iterates in row-major order of `shape`, repeating
        // elements along its stride-0 axes.
        let view = arg.broadcast(IxDyn(&shape)).ok_or_else(|| format!("cannot broadcast to {}", shape_list(&shape)))?;
        iters.push(view.into_iter());
    }
    let count: usize = shape.iter().product();
    let mut tuple = vec![T::zero(); args.len()];
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        for (slot, iter) in tuple.iter_mut().zip(iters.iter_mut()) {
            *slot = iter.next().copied().unwrap_or_else(T::nan);
        }
        values.push(apply(builtin, &tuple));
    }
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())
}

/// Neumaier's compensated sum (Kahan–Babuška): a running sum plus a running
/// total of the rounding error of each addition, added back at the end. The
/// error is about one rounding of the result, independent of the count (a
/// naive f32 loop over 10M copies of 0.1 is off by about 10%).
///
/// If the running sum is not finite (an infinity, an overflow or a NaN among
/// the values) it is returned as is: that is the IEEE sum, and the
/// compensation, which is then NaN, is meaningless.
pub fn neumaier_sum<T: Float>(values: impl IntoIterator<Item = T>) -> T {
    let mut sum = T::zero();
    let mut compensation = T::zero();
    for x in values {
        let t = sum + x;
        compensation = compensation + if sum.abs() >= x.abs() { (sum - t) + x } else { (x - t) + sum };
        sum = t;
    }
    if sum.is_finite() { sum + compensation } else { sum }
}

/// The largest element, NaN if any is NaN (`maximum`'s rule); `-inf` if empty.
fn max_of<T: Float>(values: &[T]) -> T {
    values.iter().fold(T::neg_infinity(), |acc, &x| apply(Builtin::Maximum, &[acc, x]))
}

/// The smallest element, NaN if any is NaN; `+inf` if empty.
fn min_of<T: Float>(values: &[T]) -> T {
    values.iter().fold(T::infinity(), |acc, &x| apply(Builtin::Minimum, &[acc, x]))
}

/// `log(sum(exp(x)))` with the maximum `m` subtracted: `m + log(sum(exp(x - m)))`.
/// All `-inf` (or empty) gives `-inf`; a `+inf` element gives `+inf`; a NaN gives NaN.
fn logsumexp_of<T: Float>(values: &[T]) -> T {
    let m = max_of(values);
    if !m.is_finite() {
        return m;
    }
    m + neumaier_sum(values.iter().map(|&x| (x - m).exp())).ln()
}

/// One reduction over one slice of elements.
fn reduce_slice<T: Float>(builtin: Builtin, values: &[T]) -> Result<T, String> {
    Ok(match builtin {
        Builtin::Sum => neumaier_sum(values.iter().copied()),
        Builtin::Mean => neumaier_sum(values.iter().copied()) / count(values.len()),
        Builtin::Max => max_of(values),
        Builtin::Min => min_of(values),
        Builtin::Logsumexp => logsumexp_of(values),
        Builtin::Norm => neumaier_sum(values.iter().map(|&x| x * x)).sqrt(),
        other => return Err(format!("`{other}` is not a reduction")),
    })
}

/// A count as `T` (rounded in f32 beyond 2^24, as any float mean divides).
pub(crate) fn count<T: Float>(n: usize) -> T {
    T::from(n).unwrap_or_else(T::infinity)
}

/// Checks that `axes` are strictly increasing and below `rank`.
fn check_axes(axes: &[usize], rank: usize) -> Result<(), String> {
    let increasing = axes.windows(2).all(|w| w[0] < w[1]);
    if !increasing || axes.iter().any(|&a| a >= rank) {
        return Err(format!("axes {axes:?} are not sorted distinct axes of a rank-{rank} operand"));
    }
    Ok(())
}

/// `sum mean max min logsumexp norm` over `axes` (`None`: all), keeping the
/// reduced axes as size 1 with `keepdims`.
///
/// The operand's axes are permuted so the reduced ones come last; in row-major
/// order each output element's slice is then one contiguous run.
pub(crate) fn reduce<T: Float>(
    builtin: Builtin,
    x: ArrayViewD<'_, T>,
    axes: Option<&[usize]>,
    keepdims: bool,
) -> Result<ArrayD<T>, String> {
    let rank = x.ndim();
    let shape = x.shape().to_vec();
    let reduced: Vec<usize> = axes.map_or_else(|| (0..rank).collect(), <[usize]>::to_vec);
    check_axes(&reduced, rank)?;
    let kept: Vec<usize> = (0..rank).filter(|k| !reduced.contains(k)).collect();
    let inner: usize = reduced.iter().map(|&k| shape[k]).product();
    let outer: usize = kept.iter().map(|&k| shape[k]).product();

    let order: Vec<usize> = kept.iter().chain(&reduced).copied().collect();
    let flat: Vec<T> = x.permuted_axes(IxDyn(&order)).iter().copied().collect();
    let values: Vec<T> = if inner == 0 {
        (0..outer).map(|_| reduce_slice(builtin, &[])).collect::<Result<_, _>>()?
    } else {
        flat.chunks(inner).map(|slice| reduce_slice(builtin, slice)).collect::<Result<_, _>>()?
    };

    let out_shape: Vec<usize> = if keepdims {
        (0..rank).map(|k| if reduced.contains(&k) { 1 } else { shape[k] }).collect()
    } else {
        kept.iter().map(|&k| shape[k]).collect()
    };
    ArrayD::from_shape_vec(IxDyn(&out_shape), values).map_err(|e| e.to_string())
}

/// `softmax` or `log_softmax` along one axis, shape kept. Each lane has its
/// maximum subtracted: `softmax = exp(x - m) / sum(exp(x - m))`,
/// `log_softmax = x - logsumexp(x)`. A lane whose maximum is infinite or NaN
/// gives NaN where `x - m` is NaN, as JAX does.
pub(crate) fn along_axis<T: Float>(builtin: Builtin, x: ArrayViewD<'_, T>, axes: &[usize]) -> Result<ArrayD<T>, String> {
    let &[axis] = axes else {
        return Err(format!("`{builtin}` needs exactly one axis, found {axes:?}"));
    };
    check_axes(&[axis], x.ndim())?;
    let mut out = x.to_owned();
    for mut lane in out.lanes_mut(Axis(axis)) {
        let values: Vec<T> = lane.iter().copied().collect();
        match builtin {
            Builtin::Softmax => {
                let m = max_of(&values);
                let exps: Vec<T> = values.iter().map(|&v| (v - m).exp()).collect();
                let total = neumaier_sum(exps.iter().copied());
                for (slot, e) in lane.iter_mut().zip(exps) {
                    *slot = e / total;
                }
            }
            Builtin::LogSoftmax => {
                let lse = logsumexp_of(&values);
                for slot in lane.iter_mut() {
                    *slot = *slot - lse;
                }
            }
            other => return Err(format!("`{other}` is not a function along an axis")),
        }
    }
    Ok(out)
}

/// Why `take` could not index: the index is outside the axis.
pub(crate) struct OutOfRange {
    pub index: i64,
    pub axis: usize,
    pub size: usize,
}

/// `take(x, index, axis)`: the slice at `index` (negative from the end) along
/// `axis`, which is removed.
pub(crate) fn take<T: Float>(
    x: ArrayViewD<'_, T>,
    index: i64,
    axes: &[usize],
) -> Result<Result<ArrayD<T>, OutOfRange>, String> {
    let &[axis] = axes else {
        return Err(format!("`take` needs exactly one axis, found {axes:?}"));
    };
    check_axes(&[axis], x.ndim())?;
    let size = x.shape()[axis];
    let position = if index < 0 { index + size as i64 } else { index };
    if position < 0 || position >= size as i64 {
        return Ok(Err(OutOfRange { index, axis, size }));
    }
    Ok(Ok(x.index_axis(Axis(axis), position as usize).to_owned()))
}

/// `one_hot(labels, classes)`: shape `labels.shape + [classes]`, 1 at each
/// label's class and 0 elsewhere. A label that is not an integer in
/// `[0, classes)` (a fraction, a negative, too large, NaN, inf) gives a row of
/// zeros, as `jax.nn.one_hot` does.
pub(crate) fn one_hot<T: Float>(labels: ArrayViewD<'_, T>, classes: usize) -> Result<ArrayD<T>, String> {
    let mut values = vec![T::zero(); labels.len() * classes];
    // Row `i` of the output (in row-major order) belongs to label `i`.
    for (row, &label) in labels.iter().enumerate() {
        let in_range = label.fract() == T::zero() && label >= T::zero() && label < count(classes);
        if let Some(class) = label.to_usize().filter(|_| in_range) {
            values[row * classes + class] = T::one();
        }
    }
    let mut shape = labels.shape().to_vec();
    shape.push(classes);
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())
}

/// `expand_dims(x, axis=...)`: a size-1 axis at each position of `axes`,
/// positions counted in the output.
pub(crate) fn expand_dims<T: Float>(x: ArrayViewD<'_, T>, axes: &[usize]) -> Result<ArrayD<T>, String> {
    let out_rank = x.ndim() + axes.len();
    check_axes(axes, out_rank)?;
    // Inserting in increasing order puts each axis at its output position:
    // every axis before it is already in place.
    let mut out = x.to_owned();
    for &axis in axes {
        out.insert_axis_inplace(Axis(axis));
    }
    Ok(out)
}
