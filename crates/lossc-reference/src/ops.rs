//! The meaning of each op family on arrays. Elementwise arithmetic is
//! [`lossc_ir::builtins::eval_scalar`]'s; this file adds broadcasting,
//! reductions, the along-an-axis functions and the indexing and shape ops.
//!
//! Each function returns `Err(detail)` only when its arguments break an IR
//! invariant (an axis out of range, shapes that do not broadcast); the caller
//! turns that into [`crate::EvalError::Malformed`].

use lossc_ir::builtins::{Scalar, StdElementary, eval_scalar, logsumexp_finish, sum_finish, sum_step, two_sum};
use lossc_ir::{Along, Builtin, Reduction, Signature};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use num_traits::Float;

use crate::error::shape_list;

/// Applies an elementwise built-in to one tuple of elements.
///
/// The caller has checked that `builtin` is elementwise, so `eval_scalar`
/// answers; NaN stands in for the impossible `None`.
fn apply<T: Float + Scalar>(builtin: Builtin, args: &[T]) -> T {
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

/// The number of elements of an array of `shape`, if it fits in memory's index range.
fn element_count(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |n, &size| n.checked_mul(size))
        .ok_or_else(|| format!("an array of shape {} has too many elements", shape_list(shape)))
}

/// An elementwise built-in: the arguments broadcast together, then
/// `eval_scalar` on each tuple of elements (booleans are 0 and 1).
pub(crate) fn elementwise<T: Float + Scalar>(
    builtin: Builtin,
    args: &[ArrayViewD<'_, T>],
) -> Result<ArrayD<T>, String> {
    let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shapes(&shapes)?;
    let mut iters = Vec::with_capacity(args.len());
    for arg in args {
        // A broadcast view iterates in row-major order of `shape`, repeating
        // elements along its stride-0 axes.
        let view = arg
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| format!("cannot broadcast to {}", shape_list(&shape)))?;
        iters.push(view.into_iter());
    }
    let count = element_count(&shape)?;
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

/// The sum of `values`, accurate to about one rounding of the result whatever
/// their count: pairwise (cascade) summation whose leaves, runs of at most
/// [`LEAF`] elements, are added with Neumaier's compensated summation
/// (Kahan–Babuška), and whose joins keep each half's rounding error too (an
/// error-free two-sum), so the result is `sum + total error`, each term a few
/// roundings from exact. The order of additions is fixed: the result is
/// deterministic.
///
/// Neither method alone is enough in f32 at ten million elements: a naive loop
/// over 10M copies of 0.1 stalls at 2^21 (0.1 is below half its spacing), and
/// plain Neumaier then accumulates those lost tenths in a compensation term
/// that is itself a naive sum (off by 0.2%); plain pairwise summation is
/// bounded only by about `log2(n)` roundings.
///
/// If the sum is not finite (an infinity, an overflow or a NaN among the
/// values) it is returned as the additions made it: that is the IEEE sum, and
/// the error term, then NaN, is meaningless.
pub fn compensated_sum<T: Float + Scalar>(values: &[T]) -> T {
    let (sum, error) = sum_with_error(values);
    sum_finish(sum, error)
}

/// The length of the runs [`compensated_sum`] adds sequentially.
const LEAF: usize = 128;

/// The rounded sum of `values` and (an approximation of) its rounding error.
fn sum_with_error<T: Float + Scalar>(values: &[T]) -> (T, T) {
    if values.len() <= LEAF {
        return values.iter().fold((T::zero(), T::zero()), |acc, &x| sum_step(acc, x));
    }
    let (left, right) = values.split_at(values.len() / 2);
    let (left_sum, left_error) = sum_with_error(left);
    let (right_sum, right_error) = sum_with_error(right);
    let (sum, error) = two_sum(left_sum, right_sum);
    (sum, error + (left_error + right_error))
}

/// The largest element, NaN if any is NaN (`maximum`'s rule); `-inf` if empty.
fn max_of<T: Float + Scalar>(values: &[T]) -> T {
    values
        .iter()
        .fold(T::neg_infinity(), |acc, &x| apply(Builtin::Maximum, &[acc, x]))
}

/// The smallest element, NaN if any is NaN; `+inf` if empty.
fn min_of<T: Float + Scalar>(values: &[T]) -> T {
    values
        .iter()
        .fold(T::infinity(), |acc, &x| apply(Builtin::Minimum, &[acc, x]))
}

/// `log(sum(exp(x)))` with the maximum `m` subtracted: `m + log(sum(exp(x - m)))`.
/// All `-inf` (or empty) gives `-inf`; a `+inf` element gives `+inf`; a NaN gives NaN.
fn logsumexp_of<T: Float + Scalar>(values: &[T]) -> T {
    let m = max_of(values);
    if !m.is_finite() {
        return m;
    }
    let exps: Vec<T> = values.iter().map(|&x| (x - m).exp()).collect();
    logsumexp_finish::<T, StdElementary>(m, compensated_sum(&exps))
}

/// One reduction over one slice of elements.
fn reduce_slice<T: Float + Scalar>(reduction: Reduction, values: &[T]) -> T {
    match reduction {
        Reduction::Sum => compensated_sum(values),
        Reduction::Mean => compensated_sum(values) / count(values.len()),
        Reduction::Max => max_of(values),
        Reduction::Min => min_of(values),
        Reduction::Logsumexp => logsumexp_of(values),
        Reduction::Norm => {
            let squares: Vec<T> = values.iter().map(|&x| x * x).collect();
            compensated_sum(&squares).sqrt()
        }
    }
}

/// A count as `T` (rounded in f32 beyond 2^24, as any float mean divides).
pub(crate) fn count<T: Float + Scalar>(n: usize) -> T {
    T::from(n).unwrap_or_else(T::infinity)
}

/// Checks that `axes` are strictly increasing and below `rank`.
fn check_axes(axes: &[usize], rank: usize) -> Result<(), String> {
    let increasing = axes.windows(2).all(|w| w[0] < w[1]);
    if !increasing || axes.iter().any(|&a| a >= rank) {
        return Err(format!(
            "axes {axes:?} are not sorted distinct axes of a rank-{rank} operand"
        ));
    }
    Ok(())
}

/// `sum mean max min logsumexp norm` over `axes` (`None`: all), keeping the
/// reduced axes as size 1 with `keepdims`.
///
/// The operand's axes are permuted so the reduced ones come last; in row-major
/// order each output element's slice is then one contiguous run.
pub(crate) fn reduce<T: Float + Scalar>(
    reduction: Reduction,
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
        (0..outer).map(|_| reduce_slice(reduction, &[])).collect()
    } else {
        flat.chunks(inner).map(|slice| reduce_slice(reduction, slice)).collect()
    };

    let out_shape: Vec<usize> = if keepdims {
        (0..rank)
            .map(|k| if reduced.contains(&k) { 1 } else { shape[k] })
            .collect()
    } else {
        kept.iter().map(|&k| shape[k]).collect()
    };
    ArrayD::from_shape_vec(IxDyn(&out_shape), values).map_err(|e| e.to_string())
}

/// `softmax` or `log_softmax` along one axis, shape kept. Each lane has its
/// maximum subtracted: `softmax = exp(x - m) / sum(exp(x - m))`,
/// `log_softmax = x - logsumexp(x)`. A lane whose maximum is infinite or NaN
/// gives NaN where `x - m` is NaN, as JAX does.
pub(crate) fn along_axis<T: Float + Scalar>(
    along: Along,
    x: ArrayViewD<'_, T>,
    axes: &[usize],
) -> Result<ArrayD<T>, String> {
    let &[axis] = axes else {
        return Err(format!("`{along:?}` needs exactly one axis, found {axes:?}"));
    };
    check_axes(&[axis], x.ndim())?;
    let mut out = x.to_owned();
    for mut lane in out.lanes_mut(Axis(axis)) {
        let values: Vec<T> = lane.iter().copied().collect();
        match along {
            Along::Softmax => {
                let m = max_of(&values);
                let exps: Vec<T> = values.iter().map(|&v| (v - m).exp()).collect();
                let total = compensated_sum(&exps);
                for (slot, e) in lane.iter_mut().zip(exps) {
                    *slot = e / total;
                }
            }
            Along::LogSoftmax => {
                let lse = logsumexp_of(&values);
                for slot in lane.iter_mut() {
                    *slot = *slot - lse;
                }
            }
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
pub(crate) fn take<T: Float + Scalar>(
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
pub(crate) fn one_hot<T: Float + Scalar>(labels: ArrayViewD<'_, T>, classes: usize) -> Result<ArrayD<T>, String> {
    let mut shape = labels.shape().to_vec();
    shape.push(classes);
    let mut values = vec![T::zero(); element_count(&shape)?];
    // Row `i` of the output (in row-major order) belongs to label `i`.
    for (row, &label) in labels.iter().enumerate() {
        let in_range = label.fract() == T::zero() && label >= T::zero() && label < count(classes);
        if let Some(class) = label.to_usize().filter(|&class| in_range && class < classes)
            && let Some(slot) = values.get_mut(row * classes + class)
        {
            *slot = T::one();
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())
}

/// `expand_dims(x, axis=...)`: a size-1 axis at each position of `axes`,
/// positions counted in the output.
pub(crate) fn expand_dims<T: Float + Scalar>(x: ArrayViewD<'_, T>, axes: &[usize]) -> Result<ArrayD<T>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    fn array(shape: &[usize], values: &[f64]) -> ArrayD<f64> {
        ArrayD::from_shape_vec(IxDyn(shape), values.to_vec()).unwrap()
    }

    #[test]
    fn compensated_sum_is_one_rounding_from_exact() {
        // 10M copies of 0.1f32: exact sum 10^7 * 13421773 / 2^27 (0.1f32 is
        // 13421773 / 2^27), i.e. 1000000.0149..., within f64's precision.
        let values = vec![0.1f32; 10_000_000];
        let exact = 1e7 * 13_421_773.0 / 2f64.powi(27);
        let sum = f64::from(compensated_sum(&values));
        // One f32 rounding at 1e6 is 2^-5 = 0.03125 at most.
        assert!((sum - exact).abs() <= 0.0625, "{sum} vs {exact}");
    }

    #[test]
    fn compensated_sum_cancels_and_mixes_signs() {
        // Alternating ±1e8 with 1s between: the exact sum is the count of 1s.
        let values: Vec<f32> = (0..30_000).map(|i| [1e8f32, 1.0, -1e8f32][i % 3]).collect();
        assert_eq!(compensated_sum(&values), 10_000.0);
        assert_eq!(compensated_sum::<f64>(&[]), 0.0);
        assert_eq!(compensated_sum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(compensated_sum(&[f64::INFINITY, 1.0]), f64::INFINITY);
        assert!(compensated_sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(compensated_sum(&[f64::NAN, 1.0]).is_nan());
        // Overflow of the rounded sum is the IEEE result.
        assert_eq!(compensated_sum(&[f32::MAX, f32::MAX]), f32::INFINITY);
    }

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shapes(&[&[2, 1], &[2, 3], &[3]]), Ok(vec![2, 3]));
        assert_eq!(broadcast_shapes(&[&[], &[4]]), Ok(vec![4]));
        assert_eq!(broadcast_shapes(&[]), Ok(vec![]));
        assert_eq!(
            broadcast_shapes(&[&[2], &[3]]),
            Err("shapes [2] and [3] do not broadcast".to_string())
        );
    }

    #[test]
    fn invariant_violations_are_errors_not_panics() {
        let x = array(&[2, 3], &[0.0; 6]);
        assert!(reduce(Reduction::Sum, x.view(), Some(&[2]), false).is_err());
        assert!(reduce(Reduction::Sum, x.view(), Some(&[1, 0]), false).is_err());
        assert!(along_axis(Along::Softmax, x.view(), &[0, 1]).is_err());
        assert!(along_axis(Along::Softmax, x.view(), &[2]).is_err());
        assert!(take(x.view(), 0, &[5]).is_err());
        assert!(expand_dims(x.view(), &[3, 3]).is_err());
        assert!(expand_dims(x.view(), &[4]).is_err());
        assert!(elementwise(Builtin::Add, &[x.view(), array(&[2], &[1.0, 2.0]).view()]).is_err());
    }

    #[test]
    fn reductions_of_empty_slices_are_their_identities() {
        let empty = array(&[2, 0], &[]);
        let sum = |b| values_of(&reduce(b, empty.view(), Some(&[1]), false).unwrap());
        assert_eq!(sum(Reduction::Sum), [0.0, 0.0]);
        assert_eq!(sum(Reduction::Max), [f64::NEG_INFINITY; 2]);
        assert_eq!(sum(Reduction::Min), [f64::INFINITY; 2]);
        assert_eq!(sum(Reduction::Logsumexp), [f64::NEG_INFINITY; 2]);
        assert!(sum(Reduction::Mean).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn one_hot_of_odd_labels_is_zero_rows() {
        let labels = array(&[5], &[f64::NAN, f64::INFINITY, -0.0, 1.0 - 1e-12, 1.0]);
        let hot = one_hot(labels.view(), 2).unwrap();
        assert_eq!(hot.shape(), &[5, 2]);
        // -0.0 is class 0; 1 - 1e-12 is not an integer.
        assert_eq!(values_of(&hot), [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let scalar = one_hot(array(&[], &[1.0]).view(), 3).unwrap();
        assert_eq!(scalar.shape(), &[3]);
        assert_eq!(values_of(&scalar), [0.0, 1.0, 0.0]);
    }

    fn values_of(a: &ArrayD<f64>) -> Vec<f64> {
        a.iter().copied().collect()
    }
}
