// The scalar arithmetic of every elementwise built-in: the one definition
// every evaluator runs (the reference interpreter with the standard library's
// functions, the fused kernels with their vectorisable ones, and the code the
// kernels generate, which includes this file's text verbatim; see
// `SCALAR_SOURCE`). So this file is self-contained: it uses nothing but the
// standard library and `super::Builtin`, defines the float operations it
// needs ([`Scalar`]) and implements them for f32 and f64 itself, and has no
// inner attributes or inner doc comments. A method used here and not defined here
// is a build error of this crate, never a generated kernel that fails to
// compile.

use super::Builtin;

/// The float operations the built-ins' arithmetic uses (a subset of
/// `num_traits::Float`, implemented here for f32 and f64 so the generated
/// code needs no copy of it).
pub trait Scalar:
    Copy
    + PartialEq
    + PartialOrd
    + core::ops::Neg<Output = Self>
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn abs(x: Self) -> Self;
    fn max(x: Self, y: Self) -> Self;
    fn min(x: Self, y: Self) -> Self;
    fn floor(x: Self) -> Self;
    fn ceil(x: Self) -> Self;
    fn round(x: Self) -> Self;
    fn trunc(x: Self) -> Self;
    fn is_nan(x: Self) -> bool;
    fn is_finite(x: Self) -> bool;
    fn exp(x: Self) -> Self;
    fn exp_m1(x: Self) -> Self;
    fn ln(x: Self) -> Self;
    fn ln_1p(x: Self) -> Self;
    fn log2(x: Self) -> Self;
    fn log10(x: Self) -> Self;
    fn sqrt(x: Self) -> Self;
    fn sin(x: Self) -> Self;
    fn cos(x: Self) -> Self;
    fn tan(x: Self) -> Self;
    fn atan(x: Self) -> Self;
    fn asin(x: Self) -> Self;
    fn acos(x: Self) -> Self;
    fn tanh(x: Self) -> Self;
    fn cosh(x: Self) -> Self;
    fn powf(x: Self, y: Self) -> Self;
    /// The nearest value of the type to a constant.
    fn constant(x: f64) -> Self;
}

macro_rules! scalar_float {
    ($t:ident) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn abs(x: Self) -> Self {
                $t::abs(x)
            }
            #[inline(always)]
            fn max(x: Self, y: Self) -> Self {
                $t::max(x, y)
            }
            #[inline(always)]
            fn min(x: Self, y: Self) -> Self {
                $t::min(x, y)
            }
            #[inline(always)]
            fn floor(x: Self) -> Self {
                $t::floor(x)
            }
            #[inline(always)]
            fn ceil(x: Self) -> Self {
                $t::ceil(x)
            }
            #[inline(always)]
            fn round(x: Self) -> Self {
                $t::round(x)
            }
            #[inline(always)]
            fn trunc(x: Self) -> Self {
                $t::trunc(x)
            }
            #[inline(always)]
            fn is_nan(x: Self) -> bool {
                $t::is_nan(x)
            }
            #[inline(always)]
            fn is_finite(x: Self) -> bool {
                $t::is_finite(x)
            }
            #[inline(always)]
            fn exp(x: Self) -> Self {
                $t::exp(x)
            }
            #[inline(always)]
            fn exp_m1(x: Self) -> Self {
                $t::exp_m1(x)
            }
            #[inline(always)]
            fn ln(x: Self) -> Self {
                $t::ln(x)
            }
            #[inline(always)]
            fn ln_1p(x: Self) -> Self {
                $t::ln_1p(x)
            }
            #[inline(always)]
            fn log2(x: Self) -> Self {
                $t::log2(x)
            }
            #[inline(always)]
            fn log10(x: Self) -> Self {
                $t::log10(x)
            }
            #[inline(always)]
            fn sqrt(x: Self) -> Self {
                $t::sqrt(x)
            }
            #[inline(always)]
            fn sin(x: Self) -> Self {
                $t::sin(x)
            }
            #[inline(always)]
            fn cos(x: Self) -> Self {
                $t::cos(x)
            }
            #[inline(always)]
            fn tan(x: Self) -> Self {
                $t::tan(x)
            }
            #[inline(always)]
            fn atan(x: Self) -> Self {
                $t::atan(x)
            }
            #[inline(always)]
            fn asin(x: Self) -> Self {
                $t::asin(x)
            }
            #[inline(always)]
            fn acos(x: Self) -> Self {
                $t::acos(x)
            }
            #[inline(always)]
            fn tanh(x: Self) -> Self {
                $t::tanh(x)
            }
            #[inline(always)]
            fn cosh(x: Self) -> Self {
                $t::cosh(x)
            }
            #[inline(always)]
            fn powf(x: Self, y: Self) -> Self {
                $t::powf(x, y)
            }
            #[inline(always)]
            fn constant(x: f64) -> Self {
                x as $t
            }
        }
    };
}

scalar_float!(f32);
scalar_float!(f64);

/// The elementary functions the built-ins' arithmetic is made of. The
/// built-ins themselves (`sigmoid`, `softplus`, `xlogy`, `clip`, ...) are
/// defined once, in [`eval_scalar_in`], in terms of these; an evaluator picks
/// the implementation: [`StdElementary`] (the standard library, the
/// reference) or its own (the fused kernels supply branch-free, vectorisable
/// ones whose ulp error against the standard library they measure and test).
/// Every function defaults to the standard library's, so an implementation
/// overrides only the ones it computes its own way, and a new function is
/// one method here.
pub trait Elementary<T: Scalar> {
    #[inline(always)]
    fn exp(x: T) -> T {
        T::exp(x)
    }
    #[inline(always)]
    fn exp_m1(x: T) -> T {
        T::exp_m1(x)
    }
    #[inline(always)]
    fn ln(x: T) -> T {
        T::ln(x)
    }
    #[inline(always)]
    fn ln_1p(x: T) -> T {
        T::ln_1p(x)
    }
    #[inline(always)]
    fn log2(x: T) -> T {
        T::log2(x)
    }
    #[inline(always)]
    fn log10(x: T) -> T {
        T::log10(x)
    }
    #[inline(always)]
    fn sqrt(x: T) -> T {
        T::sqrt(x)
    }
    #[inline(always)]
    fn sin(x: T) -> T {
        T::sin(x)
    }
    #[inline(always)]
    fn cos(x: T) -> T {
        T::cos(x)
    }
    #[inline(always)]
    fn tan(x: T) -> T {
        T::tan(x)
    }
    #[inline(always)]
    fn atan(x: T) -> T {
        T::atan(x)
    }
    #[inline(always)]
    fn asin(x: T) -> T {
        T::asin(x)
    }
    #[inline(always)]
    fn acos(x: T) -> T {
        T::acos(x)
    }
    #[inline(always)]
    fn tanh(x: T) -> T {
        T::tanh(x)
    }
    #[inline(always)]
    fn cosh(x: T) -> T {
        T::cosh(x)
    }
    #[inline(always)]
    fn powf(x: T, y: T) -> T {
        T::powf(x, y)
    }
}

/// The standard library's elementary functions: the reference semantics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdElementary;

impl<T: Scalar> Elementary<T> for StdElementary {}

/// The arithmetic of an elementwise built-in on one element, the same code for
/// f32 and f64 (IEEE semantics: `log(0) = -inf`, `0/0 = NaN`, never a panic).
/// Booleans are `0` and `1`. Returns `None` for the built-ins that are not
/// elementwise (reductions, softmax, `take`, `one_hot`).
pub fn eval_scalar<T: Scalar>(builtin: Builtin, args: &[T]) -> Option<T> {
    eval_scalar_in::<T, StdElementary>(builtin, args)
}

/// [`eval_scalar`] with the elementary functions of `M`: the one definition
/// of every elementwise built-in. Written without data-dependent branches
/// around expensive calls (each `if` picks between values already computed),
/// so a loop over it vectorises when `M`'s functions do. Always inlined: with
/// a constant `builtin` the `match` folds away (the kernels instantiate it once
/// per built-in); [`eval_scalar`] is the one out-of-line copy for callers with
/// a run-time built-in.
#[inline(always)]
pub fn eval_scalar_in<T: Scalar, M: Elementary<T>>(builtin: Builtin, args: &[T]) -> Option<T> {
    let zero = T::ZERO;
    let one = T::ONE;
    let truth = |b: bool| if b { one } else { zero };
    let x = args.first().copied().unwrap_or(zero);
    let y = args.get(1).copied().unwrap_or(zero);
    Some(match builtin {
        Builtin::Neg => -x,
        Builtin::Add => x + y,
        Builtin::Sub => x - y,
        Builtin::Mul => x * y,
        Builtin::Div => x / y,
        Builtin::Pow => M::powf(x, y),
        Builtin::Eq => truth(x == y),
        Builtin::Ne => truth(x != y),
        Builtin::Lt => truth(x < y),
        Builtin::Le => truth(x <= y),
        Builtin::Gt => truth(x > y),
        Builtin::Ge => truth(x >= y),
        Builtin::And => truth(x != zero && y != zero),
        Builtin::Or => truth(x != zero || y != zero),
        Builtin::Not => truth(x == zero),
        Builtin::Abs => T::abs(x),
        Builtin::StopGradient => x,
        Builtin::Sign => {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x // 0, -0 or NaN
            }
        }
        Builtin::Exp => M::exp(x),
        Builtin::Expm1 => M::exp_m1(x),
        Builtin::Log => M::ln(x),
        Builtin::Log1p => M::ln_1p(x),
        Builtin::Log2 => M::log2(x),
        Builtin::Log10 => M::log10(x),
        Builtin::Sqrt => M::sqrt(x),
        Builtin::Square => x * x,
        Builtin::Sin => M::sin(x),
        Builtin::Cos => M::cos(x),
        Builtin::Tan => M::tan(x),
        Builtin::Atan => M::atan(x),
        Builtin::Asin => M::asin(x),
        Builtin::Acos => M::acos(x),
        Builtin::Tanh => M::tanh(x),
        Builtin::Cosh => M::cosh(x),
        Builtin::Erf => erf_in::<T, M>(x),
        Builtin::Erfc => erfc_in::<T, M>(x),
        Builtin::Sigmoid => sigmoid_in::<T, M>(x),
        Builtin::LogSigmoid => -softplus_in::<T, M>(-x),
        Builtin::Softplus => softplus_in::<T, M>(x),
        Builtin::Relu => {
            if x > zero || T::is_nan(x) {
                x
            } else {
                zero
            }
        }
        Builtin::Floor => T::floor(x),
        Builtin::Ceil => T::ceil(x),
        Builtin::Round => round_half_even(x),
        Builtin::Float => truth(x != zero),
        Builtin::Maximum => nan_or(x, y, T::max(x, y)),
        Builtin::Minimum => nan_or(x, y, T::min(x, y)),
        Builtin::Xlogy => {
            if x == zero {
                zero
            } else {
                x * M::ln(y)
            }
        }
        Builtin::BroadcastLike => x,
        Builtin::Clip => {
            let (lo, hi) = (y, args.get(2).copied().unwrap_or(zero));
            // NumPy's `minimum(maximum(x, lo), hi)`: a NaN anywhere is NaN.
            // Written as selections on comparisons, which are false for a
            // NaN `x` (so it passes through): one instruction each in a
            // vectorised loop, where `max` with its NaN checks takes four.
            // A NaN bound is the same for every element of a kernel's loop.
            let low = if lo > x { lo } else { x };
            let clipped = if hi < low { hi } else { low };
            if T::is_nan(lo) {
                lo
            } else if T::is_nan(hi) {
                hi
            } else {
                clipped
            }
        }
        Builtin::Where => {
            if x != zero {
                y
            } else {
                args.get(2).copied().unwrap_or(zero)
            }
        }
        Builtin::Sum
        | Builtin::Mean
        | Builtin::Max
        | Builtin::Min
        | Builtin::Logsumexp
        | Builtin::Norm
        | Builtin::Softmax
        | Builtin::LogSoftmax
        | Builtin::Take
        | Builtin::OneHot
        | Builtin::ExpandDims => return None,
    })
}

/// NaN if either operand is NaN (as NumPy's `maximum`), else `value`.
fn nan_or<T: Scalar>(a: T, b: T, value: T) -> T {
    if T::is_nan(a) {
        a
    } else if T::is_nan(b) {
        b
    } else {
        value
    }
}

/// `1 / (1 + e^-x)` without overflow for either sign.
pub fn sigmoid<T: Scalar>(x: T) -> T {
    sigmoid_in::<T, StdElementary>(x)
}

/// [`sigmoid`] with `M`'s `exp`: `1 / (1 + e^-x)` for `x >= 0`, else
/// `e^x / (1 + e^x)`, with one `exp` of `-|x|` serving both sides.
#[inline(always)]
pub fn sigmoid_in<T: Scalar, M: Elementary<T>>(x: T) -> T {
    let e = M::exp(-T::abs(x));
    let numerator = if x >= T::ZERO { T::ONE } else { e };
    numerator / (T::ONE + e)
}

/// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`: never overflows.
pub fn softplus<T: Scalar>(x: T) -> T {
    softplus_in::<T, StdElementary>(x)
}

/// [`softplus`] with `M`'s `exp` and `ln_1p`.
#[inline(always)]
pub fn softplus_in<T: Scalar, M: Elementary<T>>(x: T) -> T {
    let value = T::max(x, T::ZERO) + M::ln_1p(M::exp(-T::abs(x)));
    if T::is_nan(x) { x } else { value }
}

/// Below this `|x|`, `erf` is its Taylor series; from it on, `1 - erfc`
/// by `erfc`'s continued fraction (each converges fast on its side).
const ERF_SERIES_BELOW: f64 = 1.5;

/// `erf(|x|)` and `erfc(|x|)`, each where it is accurate: the Taylor
/// series `2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1))` (36 terms: below
/// 1.5 the next is under 1e-22), and the continued fraction
/// `erfc(x) = e^(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / ...)))`
/// evaluated from depth 120 up (converged to rounding from 1.5 on), with
/// `e^(-x^2)` as `e^(-h^2) e^(-(x - h)(x + h))` for `h` = x rounded to
/// 1/16, so the square's rounding does not grow with x. Both are computed
/// and one is picked (a loop over it vectorises). Measured against a
/// correctly rounded erf over [0, 26]: erf within 2e-15 relative, erfc
/// within 2e-14 (the worst just below 1.5, from `1 - series`).
#[inline(always)]
fn erf_parts<T: Scalar, M: Elementary<T>>(a: T) -> (T, T) {
    let one = T::ONE;
    let two = one + one;
    let square = a * a;
    let mut term = a;
    let mut series = a;
    let mut n = one;
    for _ in 0..36 {
        term = term * -square / n;
        series = series + term / (two * n + one);
        n = n + one;
    }
    let series = series * T::constant(core::f64::consts::FRAC_2_SQRT_PI);
    let half = one / two;
    let mut depth = T::constant(120.0);
    let mut fraction = a;
    for _ in 0..120 {
        fraction = a + depth * half / fraction;
        depth = depth - one;
    }
    let sixteen = T::constant(16.0);
    let h = T::round(a * sixteen) / sixteen;
    let gauss = M::exp(-(h * h)) * M::exp(-((a - h) * (a + h)));
    let sqrt_pi = T::constant(1.772_453_850_905_516);
    let tail = gauss / (sqrt_pi * fraction);
    // Past 27, erfc is below the smallest float of either type.
    let tail = if a > T::constant(27.0) { T::ZERO } else { tail };
    if a < T::constant(ERF_SERIES_BELOW) {
        (series, one - series)
    } else {
        (one - tail, tail)
    }
}

/// The error function, odd, in [-1, 1] ([`erf_parts`] gives its accuracy).
#[inline(always)]
pub fn erf_in<T: Scalar, M: Elementary<T>>(x: T) -> T {
    let (erf, _) = erf_parts::<T, M>(T::abs(x));
    if T::is_nan(x) {
        x
    } else if x < T::ZERO {
        -erf
    } else {
        erf
    }
}

/// The complementary error function `1 - erf(x)`, in [0, 2], accurate
/// where it is small (large x) too.
#[inline(always)]
pub fn erfc_in<T: Scalar, M: Elementary<T>>(x: T) -> T {
    let (_, erfc) = erf_parts::<T, M>(T::abs(x));
    if T::is_nan(x) {
        x
    } else if x < T::ZERO {
        T::ONE + T::ONE - erfc
    } else {
        erfc
    }
}

/// IEEE round-half-to-even, as NumPy and JAX round.
pub fn round_half_even<T: Scalar>(x: T) -> T {
    let rounded = T::round(x); // half away from zero
    let two = T::ONE + T::ONE;
    if T::abs(x - T::trunc(x)) == T::ONE / two {
        two * T::round(x / two)
    } else {
        rounded
    }
}

/// `a + b` rounded, and its rounding error `(a + b) - rounded`, exact for
/// finite values (Neumaier's branch on the larger magnitude): the step of
/// every compensated sum (the oracle's and the kernels').
#[inline(always)]
pub fn two_sum<T: Scalar>(a: T, b: T) -> (T, T) {
    let sum = a + b;
    let error = if T::abs(a) >= T::abs(b) {
        (a - sum) + b
    } else {
        (b - sum) + a
    };
    (sum, error)
}

/// One step of a compensated sum: `(sum, error)` with `x` added.
#[inline(always)]
pub fn sum_step<T: Scalar>((sum, error): (T, T), x: T) -> (T, T) {
    let (t, e) = two_sum(sum, x);
    (t, error + e)
}

/// A compensated sum's value: the sum corrected by its error when finite;
/// otherwise the IEEE sum as the additions made it (the error is then
/// meaningless).
#[inline(always)]
pub fn sum_finish<T: Scalar>(sum: T, error: T) -> T {
    if T::is_finite(sum) { sum + error } else { sum }
}

/// `logsumexp`'s last step, from the maximum `m` and the sum `s` of
/// `exp(x - m)`: `m + ln(s)`; `m` itself when it is not finite (all `-inf`,
/// a `+inf`, a NaN).
#[inline(always)]
pub fn logsumexp_finish<T: Scalar, M: Elementary<T>>(m: T, s: T) -> T {
    if T::is_finite(m) { m + M::ln(s) } else { m }
}
