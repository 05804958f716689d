// The scalar arithmetic of every elementwise built-in: the one definition
// every evaluator runs (the reference interpreter with the standard library's
// functions, the fused kernels with their vectorisable ones, and the code the
// kernels generate, which includes this file's text verbatim; see
// `SCALAR_SOURCE`). So this file uses nothing but `num_traits::Float` and
// `super::Builtin`, and no inner attributes or doc comments.

use num_traits::Float;

use super::Builtin;

/// The elementary functions the built-ins' arithmetic is made of. The
/// built-ins themselves (`sigmoid`, `softplus`, `xlogy`, `clip`, ...) are
/// defined once, in [`eval_scalar_in`], in terms of these; an evaluator picks
/// the implementation: [`StdElementary`] (the standard library, the
/// reference) or its own (the fused kernels supply branch-free, vectorisable
/// ones whose ulp error against the standard library they measure and test).
pub trait Elementary<T> {
    fn exp(x: T) -> T;
    fn exp_m1(x: T) -> T;
    fn ln(x: T) -> T;
    fn ln_1p(x: T) -> T;
    fn sqrt(x: T) -> T;
    fn sin(x: T) -> T;
    fn cos(x: T) -> T;
    fn tanh(x: T) -> T;
    fn cosh(x: T) -> T;
    fn powf(x: T, y: T) -> T;
}

/// The standard library's elementary functions: the reference semantics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdElementary;

impl<T: Float> Elementary<T> for StdElementary {
    fn exp(x: T) -> T {
        x.exp()
    }
    fn exp_m1(x: T) -> T {
        x.exp_m1()
    }
    fn ln(x: T) -> T {
        x.ln()
    }
    fn ln_1p(x: T) -> T {
        x.ln_1p()
    }
    fn sqrt(x: T) -> T {
        x.sqrt()
    }
    fn sin(x: T) -> T {
        x.sin()
    }
    fn cos(x: T) -> T {
        x.cos()
    }
    fn tanh(x: T) -> T {
        x.tanh()
    }
    fn cosh(x: T) -> T {
        x.cosh()
    }
    fn powf(x: T, y: T) -> T {
        x.powf(y)
    }
}

/// The arithmetic of an elementwise built-in on one element, the same code for
/// f32 and f64 (IEEE semantics: `log(0) = -inf`, `0/0 = NaN`, never a panic).
/// Booleans are `0` and `1`. Returns `None` for the built-ins that are not
/// elementwise (reductions, softmax, `take`, `one_hot`).
pub fn eval_scalar<T: Float>(builtin: Builtin, args: &[T]) -> Option<T> {
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
pub fn eval_scalar_in<T: Float, M: Elementary<T>>(builtin: Builtin, args: &[T]) -> Option<T> {
    let zero = T::zero();
    let one = T::one();
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
        Builtin::Abs => x.abs(),
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
        Builtin::Sqrt => M::sqrt(x),
        Builtin::Square => x * x,
        Builtin::Sin => M::sin(x),
        Builtin::Cos => M::cos(x),
        Builtin::Tanh => M::tanh(x),
        Builtin::Cosh => M::cosh(x),
        Builtin::Sigmoid => sigmoid_in::<T, M>(x),
        Builtin::LogSigmoid => -softplus_in::<T, M>(-x),
        Builtin::Softplus => softplus_in::<T, M>(x),
        Builtin::Relu => {
            if x > zero || x.is_nan() {
                x
            } else {
                zero
            }
        }
        Builtin::Floor => x.floor(),
        Builtin::Ceil => x.ceil(),
        Builtin::Round => round_half_even(x),
        Builtin::Float => truth(x != zero),
        Builtin::Maximum => nan_or(x, y, x.max(y)),
        Builtin::Minimum => nan_or(x, y, x.min(y)),
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
            if lo.is_nan() {
                lo
            } else if hi.is_nan() {
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
fn nan_or<T: Float>(a: T, b: T, value: T) -> T {
    if a.is_nan() {
        a
    } else if b.is_nan() {
        b
    } else {
        value
    }
}

/// `1 / (1 + e^-x)` without overflow for either sign.
pub fn sigmoid<T: Float>(x: T) -> T {
    sigmoid_in::<T, StdElementary>(x)
}

/// [`sigmoid`] with `M`'s `exp`: `1 / (1 + e^-x)` for `x >= 0`, else
/// `e^x / (1 + e^x)`, with one `exp` of `-|x|` serving both sides.
#[inline(always)]
pub fn sigmoid_in<T: Float, M: Elementary<T>>(x: T) -> T {
    let e = M::exp(-x.abs());
    let numerator = if x >= T::zero() { T::one() } else { e };
    numerator / (T::one() + e)
}

/// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`: never overflows.
pub fn softplus<T: Float>(x: T) -> T {
    softplus_in::<T, StdElementary>(x)
}

/// [`softplus`] with `M`'s `exp` and `ln_1p`.
#[inline(always)]
pub fn softplus_in<T: Float, M: Elementary<T>>(x: T) -> T {
    let value = x.max(T::zero()) + M::ln_1p(M::exp(-x.abs()));
    if x.is_nan() { x } else { value }
}

/// IEEE round-half-to-even, as NumPy and JAX round.
pub fn round_half_even<T: Float>(x: T) -> T {
    let rounded = x.round(); // half away from zero
    let two = T::one() + T::one();
    if (x - x.trunc()).abs() == T::one() / two {
        two * (x / two).round()
    } else {
        rounded
    }
}

/// `a + b` rounded, and its rounding error `(a + b) - rounded`, exact for
/// finite values (Neumaier's branch on the larger magnitude): the step of
/// every compensated sum (the oracle's and the kernels').
#[inline(always)]
pub fn two_sum<T: Float>(a: T, b: T) -> (T, T) {
    let sum = a + b;
    let error = if a.abs() >= b.abs() {
        (a - sum) + b
    } else {
        (b - sum) + a
    };
    (sum, error)
}

/// One step of a compensated sum: `(sum, error)` with `x` added.
#[inline(always)]
pub fn sum_step<T: Float>((sum, error): (T, T), x: T) -> (T, T) {
    let (t, e) = two_sum(sum, x);
    (t, error + e)
}

/// A compensated sum's value: the sum corrected by its error when finite;
/// otherwise the IEEE sum as the additions made it (the error is then
/// meaningless).
#[inline(always)]
pub fn sum_finish<T: Float>(sum: T, error: T) -> T {
    if sum.is_finite() { sum + error } else { sum }
}

/// `logsumexp`'s last step, from the maximum `m` and the sum `s` of
/// `exp(x - m)`: `m + ln(s)`; `m` itself when it is not finite (all `-inf`,
/// a `+inf`, a NaN).
#[inline(always)]
pub fn logsumexp_finish<T: Float, M: Elementary<T>>(m: T, s: T) -> T {
    if m.is_finite() { m + M::ln(s) } else { m }
}
