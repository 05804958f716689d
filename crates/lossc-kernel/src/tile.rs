//! The loops over one tile. Each elementwise loop applies
//! [`lossc_ir::builtins::eval_scalar_in`] (the one definition of every
//! built-in) with the vectorisable [`Fast`] elementary functions, instantiated
//! per built-in so the compiler sees a constant operation, inside a `pulp`
//! dispatch so it is compiled for AVX-512 and AVX2+FMA and picked at run
//! time. Reductions within a row use the oracle's own summation.

use lossc_ir::builtins::{Known, Specialised};
use lossc_ir::builtins::{eval_scalar_in, logsumexp_finish, sum_finish, sum_step};
use lossc_ir::{Builtin, Signature};

use crate::bind::MapOp;
use crate::math::Fast;
use crate::plan::ReduceKind;
use crate::tensor::Real;

/// An operand of an elementwise loop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a, T> {
    Slice(&'a [T]),
    Value(T),
}

/// Runs `f` compiled for the best instruction set the CPU has.
///
/// `f` is wrapped in a by-value [`pulp::WithSimd`] so that it is inlined
/// into pulp's `target_feature` function: a closure called through its
/// `FnOnce::call_once` shim is not, when it is large, and then runs as
/// scalar SSE code.
#[inline(always)]
pub(crate) fn vectorize<R>(arch: pulp::Arch, f: impl FnOnce() -> R) -> R {
    struct Job<F>(F);
    impl<R, F: FnOnce() -> R> pulp::WithSimd for Job<F> {
        type Output = R;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) -> R {
            (self.0)()
        }
    }
    arch.dispatch(Job(f))
}

#[inline(always)]
fn column<T: Real>(builtin: Builtin, args: &[T]) -> T {
    eval_scalar_in::<T, Fast>(builtin, args).unwrap_or_else(T::nan)
}

#[inline(always)]
fn unary<T: Real>(arch: pulp::Arch, out: &mut [T], a: Arg<'_, T>, f: impl Fn(T) -> T) {
    match a {
        Arg::Slice(a) => {
            let a = &a[..out.len()];
            vectorize(
                arch,
                #[inline(always)]
                || {
                    for (o, &x) in out.iter_mut().zip(a) {
                        *o = f(x);
                    }
                },
            );
        }
        Arg::Value(x) => out.fill(f(x)),
    }
}

#[inline(always)]
fn binary<T: Real>(arch: pulp::Arch, out: &mut [T], a: Arg<'_, T>, b: Arg<'_, T>, f: impl Fn(T, T) -> T) {
    let n = out.len();
    match (a, b) {
        (Arg::Slice(a), Arg::Slice(b)) => {
            let (a, b) = (&a[..n], &b[..n]);
            vectorize(
                arch,
                #[inline(always)]
                || {
                    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                        *o = f(x, y);
                    }
                },
            );
        }
        (Arg::Slice(a), Arg::Value(y)) => {
            let a = &a[..n];
            vectorize(
                arch,
                #[inline(always)]
                || {
                    for (o, &x) in out.iter_mut().zip(a) {
                        *o = f(x, y);
                    }
                },
            );
        }
        (Arg::Value(x), Arg::Slice(b)) => {
            let b = &b[..n];
            vectorize(
                arch,
                #[inline(always)]
                || {
                    for (o, &y) in out.iter_mut().zip(b) {
                        *o = f(x, y);
                    }
                },
            );
        }
        (Arg::Value(x), Arg::Value(y)) => out.fill(f(x, y)),
    }
}

#[inline(always)]
fn ternary<T: Real>(
    arch: pulp::Arch,
    out: &mut [T],
    a: Arg<'_, T>,
    b: Arg<'_, T>,
    c: Arg<'_, T>,
    f: impl Fn(T, T, T) -> T,
) {
    let n = out.len();
    match (a, b, c) {
        (Arg::Slice(a), Arg::Slice(b), Arg::Slice(c)) => {
            let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
            vectorize(
                arch,
                #[inline(always)]
                || {
                    for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
                        *o = f(x, y, z);
                    }
                },
            );
        }
        // The code generator passes scalars to binary operations only; a
        // stage's one-row operands may still mix: the plain loop serves.
        (a, b, c) => {
            let get = |arg: Arg<'_, T>, i: usize| match arg {
                Arg::Slice(s) => s[i],
                Arg::Value(v) => v,
            };
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(get(a, i), get(b, i), get(c, i));
            }
        }
    }
}

/// `out = op(args...)` elementwise.
pub(crate) fn map<T: Real>(arch: pulp::Arch, op: MapOp, out: &mut [T], args: &[Arg<'_, T>]) {
    let builtin = match op {
        MapOp::LseFinish => {
            binary(arch, out, args[0], args[1], logsumexp_finish::<T, Fast>);
            return;
        }
        MapOp::Builtin(builtin) => builtin,
    };
    builtin.specialise(Map { arch, out, args });
}

/// A built-in's loop over a tile, specialised to it (its arithmetic a
/// constant in the loop, so the loop vectorises), by its number of operands.
struct Map<'o, 'a, T> {
    arch: pulp::Arch,
    out: &'o mut [T],
    args: &'o [Arg<'a, T>],
}

impl<T: Real> Specialised for Map<'_, '_, T> {
    type Output = ();

    #[inline(always)]
    fn run<B: Known>(self) {
        let Map { arch, out, args } = self;
        let elementwise = matches!(
            B::BUILTIN.spec().signature,
            Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float
        );
        match args {
            [x, y] if B::BUILTIN == Builtin::Pow => pow(arch, out, *x, *y),
            _ if !elementwise => out.fill(T::nan()),
            [x] => unary(
                arch,
                out,
                *x,
                #[inline(always)]
                |x| column(B::BUILTIN, &[x]),
            ),
            [x, y] => binary(
                arch,
                out,
                *x,
                *y,
                #[inline(always)]
                |x, y| column(B::BUILTIN, &[x, y]),
            ),
            [x, y, z] => ternary(
                arch,
                out,
                *x,
                *y,
                *z,
                #[inline(always)]
                |x, y, z| column(B::BUILTIN, &[x, y, z]),
            ),
            _ => out.fill(T::nan()),
        }
    }
}

/// How `x^e` is computed for one exponent `e` over a whole tile (and in
/// generated code, for an exponent known when it is generated): the
/// exponents whose result is exactly a product or a quotient take it
/// (`x^2 = x * x` is the correctly rounded square, as `powf`'s; `x^1`, `x^0`,
/// `x^-1` likewise exact), the others the general power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PowForm {
    Square,
    Identity,
    One,
    Reciprocal,
    General,
}

pub(crate) fn pow_form<T: Real>(e: T) -> PowForm {
    let one = T::one();
    if e == one + one {
        PowForm::Square
    } else if e == one {
        PowForm::Identity
    } else if e == T::zero() {
        PowForm::One
    } else if e == -one {
        PowForm::Reciprocal
    } else {
        PowForm::General
    }
}

/// `x^y`: with one exponent for the whole tile, by [`pow_form`] (the general
/// form through [`Real::powf_slice`]); elementwise exponents use `powf`.
fn pow<T: Real>(arch: pulp::Arch, out: &mut [T], x: Arg<'_, T>, y: Arg<'_, T>) {
    let one = T::one();
    match (x, y) {
        (Arg::Slice(xs), Arg::Value(e)) => match pow_form(e) {
            PowForm::Square => unary(arch, out, x, |v| v * v),
            PowForm::Identity => unary(arch, out, x, |v| v),
            PowForm::One => out.fill(one),
            PowForm::Reciprocal => unary(arch, out, x, |v| one / v),
            PowForm::General => T::powf_slice(out, &xs[..out.len()], e),
        },
        _ => binary(arch, out, x, y, |a, b| a.powf(b)),
    }
}

/// `out[r * map.len() + o] = src[r * stride + map[o]]`.
pub(crate) fn gather<T: Real>(out: &mut [T], rows: usize, src: &[T], stride: usize, map: &[usize]) {
    let width = map.len();
    if width == 0 {
        return;
    }
    let splat = map.iter().all(|&m| m == map[0]);
    if stride == 0 {
        // The same row every time (a uniform value spread over a tile).
        let (first, rest) = out[..rows * width].split_at_mut(width);
        for (o, &m) in first.iter_mut().zip(map) {
            *o = src[m];
        }
        if splat {
            rest.fill(first[0]);
        } else {
            for row in rest.chunks_exact_mut(width) {
                row.copy_from_slice(first);
            }
        }
        return;
    }
    for (r, row) in out[..rows * width].chunks_exact_mut(width).enumerate() {
        let base = r * stride;
        if splat {
            row.fill(src[base + map[0]]);
        } else {
            for (o, &m) in row.iter_mut().zip(map) {
                *o = src[base + m];
            }
        }
    }
}

/// The oracle's sum of a short run: sequential Neumaier (as
/// `lossc_reference::compensated_sum` adds its leaves), or the oracle's own
/// function for long runs; bit-identical to it either way.
#[inline(always)]
fn row_sum<T: Real>(values: &[T]) -> T {
    if values.len() > ROW_LEAF {
        return lossc_reference::compensated_sum(values);
    }
    let (sum, error) = values.iter().fold((T::zero(), T::zero()), |acc, &x| sum_step(acc, x));
    sum_finish(sum, error)
}

/// The longest run the oracle's compensated sum adds sequentially (one
/// leaf): row sums up to this long are that sequential sum, vectorised
/// across rows, and generated code may compute them.
pub(crate) const ROW_LEAF: usize = 128;

pub(crate) use lossc_ir::builtins::two_sum;

#[inline(always)]
pub(crate) fn maximum<T: Real>(a: T, b: T) -> T {
    column(Builtin::Maximum, &[a, b])
}

#[inline(always)]
pub(crate) fn minimum<T: Real>(a: T, b: T) -> T {
    column(Builtin::Minimum, &[a, b])
}

fn fold<T: Real>(kind: ReduceKind, values: &[T]) -> T {
    match kind {
        ReduceKind::Sum => row_sum(values),
        ReduceKind::Max => values.iter().fold(T::neg_infinity(), |m, &x| maximum(m, x)),
        ReduceKind::Min => values.iter().fold(T::infinity(), |m, &x| minimum(m, x)),
    }
}

/// A reduction within each of `rows` rows of `width` elements: `groups`
/// results per row, each over `q` elements (contiguous, or through `perm`).
///
/// Short contiguous groups (at most 128 elements, the oracle's sequential
/// leaf) are reduced [`LANES`] rows at a time, one row per vector lane, each
/// lane adding its row's elements in the row's order: the oracle's
/// arithmetic, vectorised across rows.
#[allow(clippy::too_many_arguments)] // One row layout, spelled out.
pub(crate) fn row_reduce<T: Real>(
    arch: pulp::Arch,
    kind: ReduceKind,
    out: &mut [T],
    rows: usize,
    src: &[T],
    width: usize,
    groups: usize,
    q: usize,
    perm: Option<&[usize]>,
) {
    let mut first = 0;
    if perm.is_none() && q <= ROW_LEAF && rows >= LANES {
        first = rows / LANES * LANES;
        let job = RowReduce {
            kind,
            src,
            width,
            groups,
            q,
            blocks: first / LANES,
        };
        // Few captures: pulp passes a small closure in registers and inlines it.
        vectorize(
            arch,
            #[inline(always)]
            || row_reduce_lanes(&job, out),
        );
    }
    let mut scratch = Vec::new();
    for r in first..rows {
        let row = &src[r * width..(r + 1) * width];
        for g in 0..groups {
            let values = match perm {
                None => &row[g * q..(g + 1) * q],
                Some(perm) => {
                    scratch.clear();
                    scratch.extend(perm[g * q..(g + 1) * q].iter().map(|&k| row[k]));
                    &scratch[..]
                }
            };
            out[r * groups + g] = fold(kind, values);
        }
    }
}

/// The parameters of [`row_reduce_lanes`].
struct RowReduce<'a, T> {
    kind: ReduceKind,
    src: &'a [T],
    width: usize,
    groups: usize,
    q: usize,
    /// Blocks of [`LANES`] rows.
    blocks: usize,
}

/// [`row_reduce`]'s vectorised part: `job.blocks` blocks of [`LANES`] rows.
#[inline(always)]
fn row_reduce_lanes<T: Real>(job: &RowReduce<'_, T>, out: &mut [T]) {
    let RowReduce {
        kind,
        src,
        width,
        groups,
        q,
        ..
    } = *job;
    for block in 0..job.blocks {
        let base = block * LANES * width;
        for g in 0..groups {
            let mut x = [T::zero(); LANES];
            let mut result = [T::zero(); LANES];
            match kind {
                ReduceKind::Sum => {
                    let mut sum = [T::zero(); LANES];
                    let mut error = [T::zero(); LANES];
                    for k in 0..q {
                        for l in 0..LANES {
                            x[l] = src[base + l * width + g * q + k];
                        }
                        for l in 0..LANES {
                            (sum[l], error[l]) = sum_step((sum[l], error[l]), x[l]);
                        }
                    }
                    for l in 0..LANES {
                        result[l] = sum_finish(sum[l], error[l]);
                    }
                }
                ReduceKind::Max | ReduceKind::Min => {
                    let max = kind == ReduceKind::Max;
                    let mut m = [if max { T::neg_infinity() } else { T::infinity() }; LANES];
                    for k in 0..q {
                        for l in 0..LANES {
                            x[l] = src[base + l * width + g * q + k];
                        }
                        for l in 0..LANES {
                            m[l] = if max { maximum(m[l], x[l]) } else { minimum(m[l], x[l]) };
                        }
                    }
                    result = m;
                }
            }
            for (l, &value) in result.iter().enumerate() {
                out[(block * LANES + l) * groups + g] = value;
            }
        }
    }
}

/// Rows of `width` labels to rows of `width * classes` 0/1: 1 where the
/// label equals the class (a fraction, a negative, a label too large or NaN
/// equals none, as in the oracle).
pub(crate) fn one_hot<T: Real>(out: &mut [T], rows: usize, labels: &[T], width: usize, classes: usize) {
    for (i, &label) in labels[..rows * width].iter().enumerate() {
        for (c, slot) in out[i * classes..(i + 1) * classes].iter_mut().enumerate() {
            *slot = if label == T::from_f64(c as f64) {
                T::one()
            } else {
                T::zero()
            };
        }
    }
}

/// Rows reduced at once by [`row_reduce`] (one per vector lane).
pub(crate) const LANES: usize = 16;

/// Lanes of the vectorised compensated sum of a global reduction.
pub(crate) const SUM_LANES: usize = 64;

/// The running compensated sum of a chunk, in [`SUM_LANES`] independent lanes (four vectors'
/// worth, so that four dependency chains run at once).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LaneSum<T> {
    sum: [T; SUM_LANES],
    error: [T; SUM_LANES],
}

impl<T: Real> LaneSum<T> {
    pub fn new() -> Self {
        LaneSum {
            sum: [T::zero(); SUM_LANES],
            error: [T::zero(); SUM_LANES],
        }
    }

    /// Adds `values`, element `i` to lane `i % SUM_LANES`.
    pub fn add(&mut self, arch: pulp::Arch, values: &[T]) {
        // The lanes live in registers during the loop, not in `self`.
        let (mut sum, mut error) = (self.sum, self.error);
        vectorize(
            arch,
            #[inline(always)]
            || {
                let mut blocks = values.chunks_exact(SUM_LANES);
                for block in &mut blocks {
                    for l in 0..SUM_LANES {
                        (sum[l], error[l]) = sum_step((sum[l], error[l]), block[l]);
                    }
                }
                for (l, &x) in blocks.remainder().iter().enumerate() {
                    (sum[l], error[l]) = sum_step((sum[l], error[l]), x);
                }
            },
        );
        self.sum = sum;
        self.error = error;
    }

    /// The lanes, for generated code that adds to them: (sums, errors).
    pub fn lanes_mut(&mut self) -> (&mut [T; SUM_LANES], &mut [T; SUM_LANES]) {
        (&mut self.sum, &mut self.error)
    }

    /// The lanes joined pairwise: (sum, error).
    pub fn finish(&self) -> (T, T) {
        let mut pairs: Vec<(T, T)> = self.sum.iter().copied().zip(self.error.iter().copied()).collect();
        while pairs.len() > 1 {
            pairs = pairs
                .chunks(2)
                .map(|p| if p.len() == 2 { join(p[0], p[1]) } else { p[0] })
                .collect();
        }
        pairs[0]
    }
}

/// Two partial compensated sums joined: the sum of sums with its rounding
/// error added to the errors.
#[inline(always)]
pub(crate) fn join<T: Real>(a: (T, T), b: (T, T)) -> (T, T) {
    let (s, e) = two_sum(a.0, b.0);
    (s, e + (a.1 + b.1))
}
