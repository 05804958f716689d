//! Input data as the kernels read it: a view of any numeric element type, in
//! any memory order, read where it lies (a memory-mapped `.npy` file, a
//! caller's array). Data already in the evaluation's float type and in
//! row-major order is read in place; anything else is converted one tile of
//! rows at a time, so no converted copy of a whole input is ever made.

use lossc_ir::builtins::Scalar;
use ndarray::{ArrayViewD, Axis, Slice};
use num_traits::Float;

use crate::math::{self, FastMath};

/// A view of one input's data.
#[derive(Debug, Clone)]
pub enum Tensor<'a> {
    F32(ArrayViewD<'a, f32>),
    F64(ArrayViewD<'a, f64>),
    I8(ArrayViewD<'a, i8>),
    I16(ArrayViewD<'a, i16>),
    I32(ArrayViewD<'a, i32>),
    I64(ArrayViewD<'a, i64>),
    U8(ArrayViewD<'a, u8>),
    U16(ArrayViewD<'a, u16>),
    U32(ArrayViewD<'a, u32>),
    U64(ArrayViewD<'a, u64>),
    /// Booleans read as 0 and 1.
    Bool(ArrayViewD<'a, bool>),
}

/// Applies `$body` to the view inside any variant, bound to `$view`.
macro_rules! with_view {
    ($tensor:expr, $view:ident => $body:expr) => {
        match $tensor {
            Tensor::F32($view) => $body,
            Tensor::F64($view) => $body,
            Tensor::I8($view) => $body,
            Tensor::I16($view) => $body,
            Tensor::I32($view) => $body,
            Tensor::I64($view) => $body,
            Tensor::U8($view) => $body,
            Tensor::U16($view) => $body,
            Tensor::U32($view) => $body,
            Tensor::U64($view) => $body,
            Tensor::Bool($view) => $body,
        }
    };
}

/// What a tensor scan found: counts of NaN and infinite elements and the
/// (row-major) index of the first of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NonFinite {
    pub nan: usize,
    pub inf: usize,
    pub first_nan: Option<usize>,
    pub first_inf: Option<usize>,
}

impl NonFinite {
    pub fn any(&self) -> bool {
        self.nan + self.inf > 0
    }
}

impl<'a> Tensor<'a> {
    pub fn shape(&self) -> &[usize] {
        with_view!(self, v => v.shape())
    }

    /// The element type's name, as NumPy spells it (`float32`, `int64`, `bool`).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Tensor::F32(_) => "float32",
            Tensor::F64(_) => "float64",
            Tensor::I8(_) => "int8",
            Tensor::I16(_) => "int16",
            Tensor::I32(_) => "int32",
            Tensor::I64(_) => "int64",
            Tensor::U8(_) => "uint8",
            Tensor::U16(_) => "uint16",
            Tensor::U32(_) => "uint32",
            Tensor::U64(_) => "uint64",
            Tensor::Bool(_) => "bool",
        }
    }

    /// Calls `f` with every element as an f64 (a bool as 0 or 1), in
    /// row-major order.
    #[allow(clippy::cast_precision_loss)]
    pub fn for_each_f64(&self, mut f: impl FnMut(f64)) {
        match self {
            Tensor::F32(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::F64(v) => v.iter().for_each(|x| f(*x)),
            Tensor::I8(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::I16(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::I32(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::I64(v) => v.iter().for_each(|x| f(*x as f64)),
            Tensor::U8(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::U16(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::U32(v) => v.iter().for_each(|x| f(f64::from(*x))),
            Tensor::U64(v) => v.iter().for_each(|x| f(*x as f64)),
            Tensor::Bool(v) => v.iter().for_each(|x| f(f64::from(u8::from(*x)))),
        }
    }

    /// Whether `pred` holds for some element (as an f64; a bool as 0 or 1),
    /// tested in parallel over large contiguous tensors.
    #[allow(clippy::cast_precision_loss)]
    pub fn any_f64(&self, pred: impl Fn(f64) -> bool + Sync) -> bool {
        fn any<S: Copy + Sync>(view: &ArrayViewD<'_, S>, f: impl Fn(S) -> bool + Sync) -> bool {
            use rayon::prelude::*;
            const CHUNK: usize = 1 << 16;
            match view.as_slice_memory_order() {
                Some(slice) if slice.len() > CHUNK => slice.par_chunks(CHUNK).any(|part| part.iter().any(|x| f(*x))),
                Some(slice) => slice.iter().any(|x| f(*x)),
                None => view.iter().any(|x| f(*x)),
            }
        }
        match self {
            Tensor::F32(v) => any(v, |x| pred(f64::from(x))),
            Tensor::F64(v) => any(v, &pred),
            Tensor::I8(v) => any(v, |x| pred(f64::from(x))),
            Tensor::I16(v) => any(v, |x| pred(f64::from(x))),
            Tensor::I32(v) => any(v, |x| pred(f64::from(x))),
            Tensor::I64(v) => any(v, |x| pred(x as f64)),
            Tensor::U8(v) => any(v, |x| pred(f64::from(x))),
            Tensor::U16(v) => any(v, |x| pred(f64::from(x))),
            Tensor::U32(v) => any(v, |x| pred(f64::from(x))),
            Tensor::U64(v) => any(v, |x| pred(x as f64)),
            Tensor::Bool(v) => any(v, |x| pred(f64::from(u8::from(x)))),
        }
    }

    /// Counts the NaN and infinite elements (only floats can hold them), in
    /// parallel over large tensors.
    pub fn scan_nonfinite(&self) -> NonFinite {
        match self {
            Tensor::F32(v) => scan(v),
            Tensor::F64(v) => scan(v),
            _ => NonFinite::default(),
        }
    }

    /// The rows `rows` (along axis 0; the whole tensor for a scalar) as `T`,
    /// in row-major order, written to `out`.
    pub(crate) fn read_rows<T: Real>(&self, rows: std::ops::Range<usize>, out: &mut [T]) {
        fn copy<S: Copy, T>(view: &ArrayViewD<'_, S>, rows: std::ops::Range<usize>, out: &mut [T], f: impl Fn(S) -> T) {
            let part = if view.ndim() == 0 {
                view.view()
            } else {
                view.slice_axis(Axis(0), Slice::from(rows))
            };
            match part.as_slice() {
                Some(slice) => {
                    for (o, &x) in out.iter_mut().zip(slice) {
                        *o = f(x);
                    }
                }
                None => {
                    for (o, &x) in out.iter_mut().zip(part.iter()) {
                        *o = f(x);
                    }
                }
            }
        }
        match self {
            Tensor::F32(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::F64(v) => copy(v, rows, out, T::from_f64),
            Tensor::I8(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::I16(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::I32(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            // Beyond 2^53 an integer rounds to the nearest f64 first, as NumPy's astype.
            Tensor::I64(v) => copy(v, rows, out, |x| T::from_f64(x as f64)),
            Tensor::U8(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::U16(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::U32(v) => copy(v, rows, out, |x| T::from_f64(f64::from(x))),
            Tensor::U64(v) => copy(v, rows, out, |x| T::from_f64(x as f64)),
            Tensor::Bool(v) => copy(v, rows, out, |x| if x { T::one() } else { T::zero() }),
        }
    }
}

fn scan<S: Float + Send + Sync>(view: &ArrayViewD<'_, S>) -> NonFinite {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    let count = |offset: usize, values: &[S]| {
        let mut found = NonFinite::default();
        for (i, &x) in values.iter().enumerate() {
            if x.is_nan() {
                found.nan += 1;
                found.first_nan.get_or_insert(offset + i);
            } else if x.is_infinite() {
                found.inf += 1;
                found.first_inf.get_or_insert(offset + i);
            }
        }
        found
    };
    let merge = |a: NonFinite, b: NonFinite| NonFinite {
        nan: a.nan + b.nan,
        inf: a.inf + b.inf,
        first_nan: a.first_nan.or(b.first_nan),
        first_inf: a.first_inf.or(b.first_inf),
    };
    match view.as_slice() {
        Some(slice) if slice.len() > CHUNK => slice
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(k, part)| count(k * CHUNK, part))
            .collect::<Vec<_>>()
            .into_iter()
            .fold(NonFinite::default(), merge),
        Some(slice) => count(0, slice),
        None => {
            let values: Vec<S> = view.iter().copied().collect();
            count(0, &values)
        }
    }
}

/// The size of one element of `tensor`'s type, in bytes.
pub(crate) fn element_size(tensor: &Tensor<'_>) -> usize {
    match tensor {
        Tensor::F32(_) | Tensor::I32(_) | Tensor::U32(_) => 4,
        Tensor::F64(_) | Tensor::I64(_) | Tensor::U64(_) => 8,
        Tensor::I16(_) | Tensor::U16(_) => 2,
        Tensor::I8(_) | Tensor::U8(_) | Tensor::Bool(_) => 1,
    }
}

/// The float types the kernels evaluate in: f32 and f64.
pub trait Real: Float + Scalar + FastMath + Send + Sync + std::fmt::Debug + Default + 'static {
    /// The data of `tensor` as a row-major slice of `Self`, if it is one.
    fn native<'t>(tensor: &Tensor<'t>) -> Option<&'t [Self]>;
    fn from_f64(value: f64) -> Self;
    fn as_f64(self) -> f64;
    /// `x^y` for an `x` slice and one `y`, vectorised where it can be.
    fn powf_slice(out: &mut [Self], x: &[Self], y: Self);
}

impl Real for f32 {
    fn native<'t>(tensor: &Tensor<'t>) -> Option<&'t [f32]> {
        match tensor {
            Tensor::F32(view) => view.to_slice(),
            _ => None,
        }
    }
    #[inline(always)]
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
    fn powf_slice(out: &mut [f32], x: &[f32], y: f32) {
        // `math::pow_f32` element by element: the f64 path vectorised over
        // the whole slice, then the standard library's where it applies.
        let yd = f64::from(y);
        crate::tile::vectorize(
            pulp::Arch::new(),
            #[inline(always)]
            || {
                for (o, &b) in out.iter_mut().zip(x) {
                    let bd = f64::from(b);
                    *o = math::exp_f64(yd * math::ln_f64(bd)) as f32;
                }
            },
        );
        if !y.is_finite() {
            for (o, &b) in out.iter_mut().zip(x) {
                *o = b.powf(y);
            }
            return;
        }
        for (o, &b) in out.iter_mut().zip(x) {
            if !(b > 0.0 && b < f32::INFINITY) {
                *o = b.powf(y);
            }
        }
    }
}

impl Real for f64 {
    fn native<'t>(tensor: &Tensor<'t>) -> Option<&'t [f64]> {
        match tensor {
            Tensor::F64(view) => view.to_slice(),
            _ => None,
        }
    }
    #[inline(always)]
    fn from_f64(value: f64) -> f64 {
        value
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    fn powf_slice(out: &mut [f64], x: &[f64], y: f64) {
        for (o, &b) in out.iter_mut().zip(x) {
            *o = b.powf(y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    /// The parallel path (past one chunk), a strided view and the element
    /// types all find the one element the predicate holds for, and only it.
    #[test]
    fn any_f64_finds_a_single_element_anywhere() {
        let n = 300_000;
        for at in [0, 65_535, 65_536, n - 1] {
            let mut data = vec![0.5f32; n];
            data[at] = 1.5;
            let array = ArrayD::from_shape_vec(IxDyn(&[n]), data).unwrap();
            let tensor = Tensor::F32(array.view());
            assert!(tensor.any_f64(|v| v > 1.0), "{at}");
            assert!(!tensor.any_f64(|v| v > 2.0), "{at}");
        }
        let matrix = ArrayD::from_shape_vec(IxDyn(&[3, 2]), vec![0i64, 1, 0, 1, 0, 7]).unwrap();
        let transposed = matrix.t();
        assert!(Tensor::I64(transposed.view()).any_f64(|v| v == 7.0));
        let flags = ArrayD::from_shape_vec(IxDyn(&[2]), vec![false, true]).unwrap();
        assert!(Tensor::Bool(flags.view()).any_f64(|v| v == 1.0));
        assert!(!Tensor::Bool(flags.view()).any_f64(|v| v == 2.0));
    }
}
