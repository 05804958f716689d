//! The abstract domain: intervals of floats of the analysis dtype, with a
//! flag for NaN.
//!
//! Bounds are computed *in the dtype*: rounding is monotone, so evaluating an
//! operation at the ends of its operands' intervals in f32 (or f64) bounds
//! what the program computes in f32 (or f64) exactly, including `1 - 1e-8`
//! rounding to 1 in f32. Transcendental functions, which the standard
//! library does not round correctly, are widened by a few units in the last
//! place, without ever crossing zero (their sign is exact).

use lossc_ir::Builtin;
use lossc_ir::Dtype;
use lossc_ir::builtins::eval_scalar;
use lossc_ir::builtins::{ValueRule, Values};

/// A set of floats `[lo, hi]` (with ±inf allowed as ends), and whether NaN
/// is possible. `lo > hi` means no number is possible (only NaN, if `nan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iv {
    pub lo: f64,
    pub hi: f64,
    pub nan: bool,
}

impl Iv {
    pub const EMPTY: Iv = Iv {
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
        nan: false,
    };
    pub const ALL: Iv = Iv {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
        nan: true,
    };

    pub fn new(lo: f64, hi: f64) -> Iv {
        Iv { lo, hi, nan: false }
    }

    pub fn point(v: f64) -> Iv {
        if v.is_nan() {
            Iv { nan: true, ..Iv::EMPTY }
        } else {
            Iv::new(v, v)
        }
    }

    pub fn is_empty(self) -> bool {
        self.lo > self.hi
    }

    pub fn contains(self, v: f64) -> bool {
        self.lo <= v && v <= self.hi
    }

    pub fn is_point(self) -> Option<f64> {
        (self.lo == self.hi && !self.nan).then_some(self.lo)
    }

    /// Whether the set holds a value that is not a finite number.
    pub fn may_be_non_finite(self) -> bool {
        self.nan || (!self.is_empty() && (self.lo == f64::NEG_INFINITY || self.hi == f64::INFINITY))
    }

    pub fn may_be_infinite(self) -> bool {
        !self.is_empty() && (self.lo == f64::NEG_INFINITY || self.hi == f64::INFINITY)
    }

    pub fn magnitude(self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.lo.abs().max(self.hi.abs())
        }
    }

    pub fn hull(self, other: Iv) -> Iv {
        Iv {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
            nan: self.nan || other.nan,
        }
    }

    pub fn meet(self, other: Iv) -> Iv {
        Iv {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
            nan: self.nan && other.nan,
        }
    }

    fn with_nan(self, nan: bool) -> Iv {
        Iv {
            nan: self.nan || nan,
            ..self
        }
    }
}

/// `builtin` applied to one element, in the dtype.
pub fn apply(dtype: Dtype, builtin: Builtin, args: &[f64]) -> f64 {
    match dtype {
        Dtype::F32 => {
            let args: Vec<f32> = args.iter().map(|a| *a as f32).collect();
            eval_scalar(builtin, &args).map_or(f64::NAN, |v| v as f64)
        }
        Dtype::F64 => eval_scalar(builtin, args).unwrap_or(f64::NAN),
    }
}

/// Widens the ends of a transcendental result by a few units in the last
/// place, keeping their signs.
fn widen(dtype: Dtype, iv: Iv) -> Iv {
    if iv.is_empty() {
        return iv;
    }
    let mut lo = iv.lo;
    let mut hi = iv.hi;
    for _ in 0..4 {
        // Never across zero, and never from a finite end to an infinite one.
        if lo.is_finite() && lo != 0.0 {
            let down = dtype.next_down(lo);
            if down.signum() == lo.signum() && down.is_finite() {
                lo = down;
            }
        }
        if hi.is_finite() && hi != 0.0 {
            let up = dtype.next_up(hi);
            if up.signum() == hi.signum() && up.is_finite() {
                hi = up;
            }
        }
    }
    Iv { lo, hi, nan: iv.nan }
}

/// A monotone non-decreasing function applied to an interval.
fn monotone(dtype: Dtype, builtin: Builtin, x: Iv, exact: bool) -> Iv {
    if x.is_empty() {
        return Iv {
            nan: x.nan,
            ..Iv::EMPTY
        };
    }
    let lo = apply(dtype, builtin, &[x.lo]);
    let hi = apply(dtype, builtin, &[x.hi]);
    let mut out = Iv::new(lo.min(hi), hi.max(lo)).with_nan(x.nan);
    if lo.is_nan() || hi.is_nan() {
        out = Iv::ALL.with_nan(true);
    }
    if exact { out } else { widen(dtype, out) }
}

/// The four products of the ends, with `0 * inf` taken as 0 for the bounds;
/// NaN is flagged when it can really happen.
pub fn mul(dtype: Dtype, a: Iv, b: Iv) -> Iv {
    if a.is_empty() || b.is_empty() {
        return Iv {
            nan: a.nan || b.nan,
            ..Iv::EMPTY
        };
    }
    let product = |x: f64, y: f64| {
        if x == 0.0 || y == 0.0 {
            0.0
        } else {
            apply(dtype, Builtin::Mul, &[x, y])
        }
    };
    let candidates = [
        product(a.lo, b.lo),
        product(a.lo, b.hi),
        product(a.hi, b.lo),
        product(a.hi, b.hi),
    ];
    let lo = candidates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = candidates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let zero_times_inf = (a.contains(0.0) && b.may_be_infinite()) || (b.contains(0.0) && a.may_be_infinite());
    Iv::new(lo, hi).with_nan(a.nan || b.nan || zero_times_inf)
}

pub fn add(dtype: Dtype, a: Iv, b: Iv) -> Iv {
    if a.is_empty() || b.is_empty() {
        return Iv {
            nan: a.nan || b.nan,
            ..Iv::EMPTY
        };
    }
    let lo = apply(dtype, Builtin::Add, &[a.lo, b.lo]);
    let hi = apply(dtype, Builtin::Add, &[a.hi, b.hi]);
    // inf + -inf is NaN.
    let opposite =
        (a.hi == f64::INFINITY && b.lo == f64::NEG_INFINITY) || (a.lo == f64::NEG_INFINITY && b.hi == f64::INFINITY);
    let lo = if lo.is_nan() { f64::NEG_INFINITY } else { lo };
    let hi = if hi.is_nan() { f64::INFINITY } else { hi };
    Iv::new(lo, hi).with_nan(a.nan || b.nan || opposite)
}

pub fn neg(a: Iv) -> Iv {
    if a.is_empty() {
        a
    } else {
        Iv {
            lo: -a.hi,
            hi: -a.lo,
            nan: a.nan,
        }
    }
}

pub fn div(dtype: Dtype, a: Iv, b: Iv) -> Iv {
    if a.is_empty() || b.is_empty() {
        return Iv {
            nan: a.nan || b.nan,
            ..Iv::EMPTY
        };
    }
    let nan = a.nan || b.nan || (a.contains(0.0) && b.contains(0.0)) || (a.may_be_infinite() && b.may_be_infinite());
    if b.contains(0.0) {
        // The quotient takes every sign the operands allow, up to infinity.
        let pos_b = b.hi > 0.0 || b.contains(0.0);
        let neg_b = b.lo < 0.0 || b.contains(0.0);
        let can_pos = (a.hi > 0.0 && pos_b) || (a.lo < 0.0 && neg_b);
        let can_neg = (a.hi > 0.0 && neg_b) || (a.lo < 0.0 && pos_b);
        let lo = if can_neg { f64::NEG_INFINITY } else { 0.0 };
        let hi = if can_pos { f64::INFINITY } else { 0.0 };
        return Iv::new(lo, hi).with_nan(nan);
    }
    let q = |x: f64, y: f64| {
        let v = apply(dtype, Builtin::Div, &[x, y]);
        if v.is_nan() { 0.0 } else { v }
    };
    let candidates = [q(a.lo, b.lo), q(a.lo, b.hi), q(a.hi, b.lo), q(a.hi, b.hi)];
    let lo = candidates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = candidates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Iv::new(lo, hi).with_nan(nan)
}

/// `tan` of an interval: increasing between two poles (at pi/2 + k pi), so
/// the ends bound it when both lie strictly inside one branch; otherwise it
/// takes every value. The branch of each end is computed in f64 from the end
/// itself (an f32 end is exact in f64), with a margin for the rounding of
/// that computation: an end within it of a pole counts as crossing it.
fn tan(dtype: Dtype, x: Iv) -> Iv {
    use std::f64::consts::{FRAC_PI_2, PI};
    if x.is_empty() {
        return x;
    }
    let nan = x.nan || x.may_be_infinite();
    let branch = |v: f64| {
        let t = (v + FRAC_PI_2) / PI;
        let k = t.floor();
        let margin = 1e-9 * (1.0 + k.abs());
        (t - k > margin && k + 1.0 - t > margin).then_some(k)
    };
    match (branch(x.lo), branch(x.hi)) {
        (Some(a), Some(b)) if a == b && x.lo.is_finite() && x.hi.is_finite() => monotone(dtype, Builtin::Tan, x, false),
        _ => Iv::new(f64::NEG_INFINITY, f64::INFINITY).with_nan(nan),
    }
}

/// `|x|` of an interval: exact.
fn magnitude(x: Iv) -> Iv {
    if x.is_empty() || x.lo >= 0.0 {
        x
    } else if x.hi <= 0.0 {
        neg(x)
    } else {
        Iv::new(0.0, x.lo.abs().max(x.hi)).with_nan(x.nan)
    }
}

/// The interval of a one-argument function the table's `values` column
/// describes: its scalar definition at the ends
/// of the argument's interval, restricted to where it is defined (NaN if the
/// argument can leave that), met with its image.
fn described(dtype: Dtype, builtin: Builtin, x: Iv) -> Option<Iv> {
    let values = builtin.spec().values;
    let facts = values.facts()?;
    let (inside, outside) = match facts.defined {
        Some(d) => (
            x.meet(Iv::new(d.lo, d.hi)).with_nan(x.nan),
            !x.is_empty() && (x.lo < d.lo || x.hi > d.hi),
        ),
        None => (x, false),
    };
    let out = match values {
        Values::Monotone(_) => monotone(dtype, builtin, inside, facts.exact),
        Values::Even(_) => monotone(dtype, builtin, magnitude(inside), facts.exact),
        Values::Periodic(_) if inside.is_empty() => inside,
        Values::Periodic(_) => Iv::new(facts.image.0, facts.image.1).with_nan(inside.nan || inside.may_be_infinite()),
        Values::Own(_) => return None,
    };
    let out = if facts.image == (f64::NEG_INFINITY, f64::INFINITY) {
        out
    } else {
        out.meet(Iv::new(facts.image.0, facts.image.1)).with_nan(out.nan)
    };
    Some(out.with_nan(outside))
}

/// Where a one-argument function of the table first overflows: the
/// smallest positive argument (of `|x|`, for an even function) at which its
/// scalar definition in the dtype is infinite, or `None` if it never is.
/// Found by bisection on the definition itself, so it is the threshold of
/// the arithmetic the program runs (`exp` in f32: about 88.72).
pub fn overflow_threshold(dtype: Dtype, builtin: Builtin) -> Option<f64> {
    let infinite = |v: f64| apply(dtype, builtin, &[v]).is_infinite();
    let (mut lo, mut hi) = (0.0f64, dtype.max_finite());
    if infinite(lo) || !infinite(hi) {
        return None;
    }
    for _ in 0..2100 {
        let mid = dtype.round(lo + (hi - lo) / 2.0);
        if mid <= lo || mid >= hi {
            break;
        }
        if infinite(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

/// The interval of an elementwise built-in, or `None` for the others.
pub fn elementwise(dtype: Dtype, builtin: Builtin, args: &[Iv]) -> Option<Iv> {
    let x = args.first().copied().unwrap_or(Iv::EMPTY);
    let y = args.get(1).copied().unwrap_or(Iv::EMPTY);
    let rule = match builtin.spec().values {
        Values::Own(rule) => rule,
        _ => return described(dtype, builtin, x),
    };
    let boolean = |args: &[Iv]| Iv::new(0.0, 1.0).with_nan(false).meet_bool(args);
    Some(match rule {
        ValueRule::Neg => neg(x),
        ValueRule::Add => add(dtype, x, y),
        ValueRule::Sub => add(dtype, x, neg(y)),
        ValueRule::Mul => mul(dtype, x, y),
        ValueRule::Div => div(dtype, x, y),
        ValueRule::Pow => pow(dtype, x, y),
        ValueRule::Compare => compare(builtin, x, y).unwrap_or_else(|| boolean(args)),
        ValueRule::And => logic(x, y, |a, b| a && b),
        ValueRule::Or => logic(x, y, |a, b| a || b),
        ValueRule::Not => match x.is_point() {
            Some(v) => Iv::point(if v == 0.0 { 1.0 } else { 0.0 }),
            None => Iv::new(0.0, 1.0),
        },
        ValueRule::Float => x.meet(Iv::new(0.0, 1.0)).with_nan(false),
        ValueRule::Square => {
            let a = magnitude(x);
            monotone(dtype, Builtin::Square, a, true)
        }
        ValueRule::Tan => tan(dtype, x),
        ValueRule::Maximum | ValueRule::Minimum => {
            if x.is_empty() || y.is_empty() {
                Iv {
                    nan: x.nan || y.nan,
                    ..Iv::EMPTY
                }
            } else if rule == ValueRule::Maximum {
                Iv::new(x.lo.max(y.lo), x.hi.max(y.hi)).with_nan(x.nan || y.nan)
            } else {
                Iv::new(x.lo.min(y.lo), x.hi.min(y.hi)).with_nan(x.nan || y.nan)
            }
        }
        ValueRule::Clip => {
            let lo = elementwise(dtype, Builtin::Maximum, &[x, y])?;
            elementwise(dtype, Builtin::Minimum, &[lo, args[2]])?
        }
        ValueRule::Xlogy => {
            // x * log(y), and 0 where x = 0.
            let log = elementwise(dtype, Builtin::Log, &[y])?;
            let nonzero_x = if x.is_point() == Some(0.0) { Iv::EMPTY } else { x };
            let product = mul(dtype, nonzero_x, log);
            let product = if x.contains(0.0) {
                product.hull(Iv::point(0.0))
            } else {
                product
            };
            Iv {
                nan: product.nan && nonzero_x.lo <= nonzero_x.hi || x.nan,
                ..product
            }
        }
        ValueRule::Where => {
            let c = x;
            let (a, b) = (y, args[2]);
            match c.is_point() {
                Some(v) if v != 0.0 => a,
                Some(_) => b,
                None => a.hull(b),
            }
        }
        ValueRule::BroadcastLike => x,
        // Reductions, indexing and shape operations: the analysis's own
        // walk (absint.rs).
        ValueRule::NotElementwise => return None,
    })
}

trait IvExt {
    fn meet_nonneg(self) -> Iv;
    fn meet_bool(self, args: &[Iv]) -> Iv;
}

impl IvExt for Iv {
    fn meet_nonneg(self) -> Iv {
        Iv {
            lo: self.lo.max(0.0),
            ..self
        }
    }

    fn meet_bool(self, _args: &[Iv]) -> Iv {
        self
    }
}

/// A comparison whose outcome the intervals decide, or `None`.
fn compare(builtin: Builtin, a: Iv, b: Iv) -> Option<Iv> {
    if a.nan || b.nan || a.is_empty() || b.is_empty() {
        return None;
    }
    let (always, never) = match builtin {
        Builtin::Lt => (a.hi < b.lo, a.lo >= b.hi),
        Builtin::Le => (a.hi <= b.lo, a.lo > b.hi),
        Builtin::Gt => (a.lo > b.hi, a.hi <= b.lo),
        Builtin::Ge => (a.lo >= b.hi, a.hi < b.lo),
        Builtin::Eq => (a.is_point().is_some() && a == b, a.hi < b.lo || b.hi < a.lo),
        Builtin::Ne => (a.hi < b.lo || b.hi < a.lo, a.is_point().is_some() && a == b),
        Builtin::Neg
        | Builtin::Add
        | Builtin::Sub
        | Builtin::Mul
        | Builtin::Div
        | Builtin::Pow
        | Builtin::And
        | Builtin::Or
        | Builtin::Not
        | Builtin::Abs
        | Builtin::Sign
        | Builtin::Exp
        | Builtin::Expm1
        | Builtin::Log
        | Builtin::Log1p
        | Builtin::Log2
        | Builtin::Log10
        | Builtin::Sqrt
        | Builtin::Square
        | Builtin::Sin
        | Builtin::Cos
        | Builtin::Tan
        | Builtin::Atan
        | Builtin::Asin
        | Builtin::Acos
        | Builtin::Tanh
        | Builtin::Cosh
        | Builtin::Erf
        | Builtin::Erfc
        | Builtin::Sigmoid
        | Builtin::LogSigmoid
        | Builtin::Softplus
        | Builtin::Relu
        | Builtin::Floor
        | Builtin::Ceil
        | Builtin::Round
        | Builtin::StopGradient
        | Builtin::Float
        | Builtin::Maximum
        | Builtin::Minimum
        | Builtin::Xlogy
        | Builtin::Clip
        | Builtin::Where
        | Builtin::Sum
        | Builtin::Mean
        | Builtin::Max
        | Builtin::Min
        | Builtin::Logsumexp
        | Builtin::Norm
        | Builtin::Softmax
        | Builtin::LogSoftmax
        | Builtin::Take
        | Builtin::OneHot
        | Builtin::BroadcastLike
        | Builtin::ExpandDims => (false, false),
    };
    if always {
        Some(Iv::point(1.0))
    } else if never {
        Some(Iv::point(0.0))
    } else {
        None
    }
}

fn logic(a: Iv, b: Iv, f: impl Fn(bool, bool) -> bool) -> Iv {
    match (a.is_point(), b.is_point()) {
        (Some(x), Some(y)) => Iv::point(if f(x != 0.0, y != 0.0) { 1.0 } else { 0.0 }),
        _ => Iv::new(0.0, 1.0),
    }
}

/// `x log x` (with 0 at 0), for `xlogy(x, x)`: its minimum is -1/e at 1/e.
pub fn x_log_x(dtype: Dtype, x: Iv) -> Iv {
    let inside = x.meet(Iv::new(0.0, f64::INFINITY));
    if inside.is_empty() {
        return Iv { nan: true, ..Iv::EMPTY };
    }
    let f = |v: f64| {
        if v == 0.0 {
            0.0
        } else {
            apply(dtype, Builtin::Mul, &[v, apply(dtype, Builtin::Log, &[v])])
        }
    };
    let (a, b) = (f(inside.lo), f(inside.hi));
    let mut lo = a.min(b);
    let e = (-1.0f64).exp();
    if inside.contains(e) {
        lo = lo.min(-e);
    }
    widen(dtype, Iv::new(lo, a.max(b))).with_nan(x.nan || x.lo < 0.0)
}

/// `x ^ y`, with its domain: a negative base needs an integer exponent, and
/// 0 to a negative power is infinite.
pub fn pow(dtype: Dtype, x: Iv, y: Iv) -> Iv {
    if x.is_empty() || y.is_empty() {
        return Iv {
            nan: x.nan || y.nan,
            ..Iv::EMPTY
        };
    }
    let nan_in = x.nan || y.nan;
    if let Some(c) = y.is_point() {
        if c == 0.0 {
            return Iv::point(1.0).with_nan(false);
        }
        let integer = c.fract() == 0.0 && c.abs() < 2f64.powi(53);
        let base = if integer {
            x
        } else {
            x.meet(Iv::new(0.0, f64::INFINITY))
        };
        let nan = nan_in || (!integer && x.lo < 0.0);
        if base.is_empty() {
            return Iv { nan, ..Iv::EMPTY };
        }
        let mut ends = vec![base.lo, base.hi];
        if base.contains(0.0) {
            ends.push(0.0);
            ends.push(-0.0);
        }
        let values: Vec<f64> = ends.iter().map(|&e| apply(dtype, Builtin::Pow, &[e, c])).collect();
        let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Between the ends: even powers dip to 0, negative powers blow up at 0.
        if base.contains(0.0) && c < 0.0 {
            if base.hi > 0.0 || (integer && (c as i64) % 2 == 0) {
                hi = f64::INFINITY;
            }
            if base.lo < 0.0 && integer && (c as i64) % 2 != 0 {
                lo = f64::NEG_INFINITY;
            }
        }
        return widen(dtype, Iv::new(lo, hi)).with_nan(nan);
    }
    // A variable exponent: exp(y * log(x)) for x > 0; anything for x < 0.
    if x.lo > 0.0 {
        return positive_base_pow(dtype, x, y).with_nan(nan_in);
    }
    if x.lo == 0.0 {
        // 0 ^ y is 0 for y > 0, 1 for y = 0 and inf for y < 0 (-inf for
        // -0 and an odd y; never NaN); the positive bases, from the
        // smallest positive float up.
        let mut zero = Iv::EMPTY;
        if y.hi > 0.0 {
            zero = zero.hull(Iv::point(0.0));
        }
        if y.contains(0.0) {
            zero = zero.hull(Iv::point(1.0));
        }
        if y.lo < 0.0 {
            zero = zero.hull(Iv::new(f64::NEG_INFINITY, f64::INFINITY));
        }
        let out = if x.hi > 0.0 {
            let positive = Iv::new(dtype.next_up(0.0), x.hi);
            zero.hull(positive_base_pow(dtype, positive, y))
        } else {
            zero
        };
        return out.with_nan(nan_in);
    }
    Iv::ALL
}

/// `x ^ y` for bases `x` > 0 and any exponent: `exp(y * log(x))`.
fn positive_base_pow(dtype: Dtype, x: Iv, y: Iv) -> Iv {
    let log = elementwise(dtype, Builtin::Log, &[x]).unwrap_or(Iv::ALL);
    let product = mul(dtype, y, log);
    let out = monotone(dtype, Builtin::Exp, product, false).meet_nonneg();
    out.with_nan(product.nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in computed element by element has an interval rule:
    /// the table's `values` column or an arm of [`elementwise`].
    #[test]
    fn every_elementwise_builtin_has_an_interval() {
        use lossc_ir::builtins::Signature;
        for &b in Builtin::ALL {
            let spec = b.spec();
            let elementwise_signature = matches!(
                spec.signature,
                Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float
            );
            let args = vec![Iv::new(0.25, 0.5); spec.params.len()];
            assert_eq!(
                elementwise(Dtype::F64, b, &args).is_some(),
                elementwise_signature,
                "`{b}`: an elementwise built-in needs a `values` row in the table or its own arm in interval.rs"
            );
        }
    }

    /// The facts of every row of the table's `values` column are sound: at
    /// points of several intervals, in both dtypes, the scalar definition's
    /// value lies in the computed interval (or the interval flags NaN).
    #[test]
    fn every_described_function_stays_in_its_interval() {
        let intervals = [
            (-1e30, -50.0),
            (-3.0, -0.5),
            (-1.0, 1.0),
            (-0.25, 0.75),
            (0.0, 0.5),
            (0.5, 4.0),
            (1.0, 1.0),
            (10.0, 200.0),
            (f64::NEG_INFINITY, 0.0),
            (0.0, f64::INFINITY),
        ];
        for &b in Builtin::ALL.iter().filter(|b| b.spec().values.facts().is_some()) {
            for dtype in [Dtype::F32, Dtype::F64] {
                for (lo, hi) in intervals {
                    let iv = elementwise(dtype, b, &[Iv::new(lo, hi)]).unwrap();
                    for k in 0..=200 {
                        let t = k as f64 / 200.0;
                        let v = if lo.is_finite() && hi.is_finite() {
                            lo * (1.0 - t) + hi * t
                        } else if lo.is_finite() {
                            lo + (t / (1.0 - t + 1e-300)).min(f64::MAX)
                        } else {
                            hi - (t / (1.0 - t + 1e-300)).min(f64::MAX)
                        };
                        let y = apply(dtype, b, &[dtype.round(v)]);
                        assert!(
                            if y.is_nan() { iv.nan } else { iv.contains(y) },
                            "`{b}` in {dtype}: {b}({v}) = {y} is outside {iv:?}, computed for [{lo}, {hi}]"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_overflow_threshold_is_where_the_definition_overflows() {
        let exp32 = overflow_threshold(Dtype::F32, Builtin::Exp).unwrap();
        assert!((exp32 - f64::from(f32::MAX).ln()).abs() < 1e-5, "{exp32}");
        assert!(apply(Dtype::F32, Builtin::Exp, &[exp32]).is_infinite());
        assert!(apply(Dtype::F32, Builtin::Exp, &[Dtype::F32.next_down(exp32)]).is_finite());
        let exp64 = overflow_threshold(Dtype::F64, Builtin::Exp).unwrap();
        assert!((exp64 - f64::MAX.ln()).abs() < 1e-12, "{exp64}");
        // cosh(x) = e^|x| / 2 past ln(2 max).
        let cosh32 = overflow_threshold(Dtype::F32, Builtin::Cosh).unwrap();
        assert!(
            (cosh32 - (2.0f64.ln() + f64::from(f32::MAX).ln())).abs() < 1e-4,
            "{cosh32}"
        );
        assert_eq!(overflow_threshold(Dtype::F32, Builtin::Tanh), None);
        assert_eq!(overflow_threshold(Dtype::F64, Builtin::Log), None);
    }

    #[test]
    fn f32_rounding_is_part_of_the_bounds() {
        let one = Iv::point(1.0);
        let eps = Iv::point(Dtype::F32.round_toward(1e-8, lossc_ir::Rounding::Up));
        let f32 = add(Dtype::F32, one, neg(eps));
        assert_eq!(f32, Iv::point(1.0), "1 - 1e-8 == 1 in f32");
        let f64 = add(Dtype::F64, one, neg(Iv::point(1e-8)));
        assert!(f64.hi < 1.0);
    }

    #[test]
    fn log_knows_its_domain() {
        let x = Iv::new(0.0, 1.0);
        let l = elementwise(Dtype::F32, Builtin::Log, &[x]).unwrap();
        assert_eq!(l.lo, f64::NEG_INFINITY);
        assert!(!l.nan);
        let l = elementwise(Dtype::F32, Builtin::Log, &[Iv::new(-1.0, 1.0)]).unwrap();
        assert!(l.nan);
    }

    #[test]
    fn tan_is_bounded_only_between_two_poles() {
        for dtype in [Dtype::F32, Dtype::F64] {
            let t = elementwise(dtype, Builtin::Tan, &[Iv::new(-1.0, 1.0)]).unwrap();
            assert!(
                t.lo < -1.557 && t.lo > -1.558 && t.hi > 1.557 && t.hi < 1.558 && !t.nan,
                "{t:?}"
            );
            // Past pi/2, and in the next branch entirely.
            let t = elementwise(dtype, Builtin::Tan, &[Iv::new(1.0, 2.0)]).unwrap();
            assert_eq!((t.lo, t.hi, t.nan), (f64::NEG_INFINITY, f64::INFINITY, false));
            let t = elementwise(dtype, Builtin::Tan, &[Iv::new(2.0, 4.0)]).unwrap();
            assert!(t.lo.is_finite() && t.hi.is_finite() && t.lo < t.hi, "{t:?}");
            let t = elementwise(dtype, Builtin::Tan, &[Iv::new(0.0, 1e6)]).unwrap();
            assert_eq!((t.lo, t.hi), (f64::NEG_INFINITY, f64::INFINITY));
            let t = elementwise(dtype, Builtin::Tan, &[Iv::new(0.0, f64::INFINITY)]).unwrap();
            assert!(t.nan, "tan(inf) is NaN");
        }
        // The largest f32 below pi/2 is in the first branch; the next one past it.
        let below = 1.570_796_2_f32 as f64;
        let t = elementwise(Dtype::F32, Builtin::Tan, &[Iv::new(0.0, below)]).unwrap();
        assert!(t.hi.is_finite() && t.hi > 1e7, "{t:?}");
        let past = Dtype::F32.next_up(below);
        let t = elementwise(Dtype::F32, Builtin::Tan, &[Iv::new(0.0, past)]).unwrap();
        assert_eq!((t.lo, t.hi), (f64::NEG_INFINITY, f64::INFINITY));
        // The sampled values of every dtype lie in the interval.
        for (lo, hi) in [(-1.5, 1.5), (2.0, 4.6), (-7.0, -5.0), (100.0, 101.0)] {
            let t = elementwise(Dtype::F64, Builtin::Tan, &[Iv::new(lo, hi)]).unwrap();
            for k in 0..=1000 {
                let v = lo + (hi - lo) * k as f64 / 1000.0;
                assert!(t.contains(v.tan()), "tan({v}) = {} not in {t:?}", v.tan());
            }
        }
    }

    #[test]
    fn atan_is_increasing_and_bounded() {
        let a = elementwise(Dtype::F64, Builtin::Atan, &[Iv::new(f64::NEG_INFINITY, f64::INFINITY)]).unwrap();
        assert!(a.contains(std::f64::consts::FRAC_PI_2) && a.contains(-std::f64::consts::FRAC_PI_2));
        assert!(
            (a.hi - std::f64::consts::FRAC_PI_2).abs() < 1e-12 && (a.lo + std::f64::consts::FRAC_PI_2).abs() < 1e-12
        );
        let a = elementwise(Dtype::F32, Builtin::Atan, &[Iv::new(0.0, f64::INFINITY)]).unwrap();
        assert!(a.contains(f32::atan(f32::INFINITY) as f64));
    }

    #[test]
    fn asin_and_acos_know_their_domain() {
        for dtype in [Dtype::F32, Dtype::F64] {
            let a = elementwise(dtype, Builtin::Asin, &[Iv::new(0.0, 1.0)]).unwrap();
            assert!(
                !a.nan && a.lo <= 0.0 && a.contains(apply(dtype, Builtin::Asin, &[1.0])),
                "{a:?}"
            );
            let a = elementwise(dtype, Builtin::Acos, &[Iv::new(0.0, 1.0)]).unwrap();
            assert!(
                !a.nan && a.lo <= 0.0 && a.contains(apply(dtype, Builtin::Acos, &[0.0])),
                "{a:?}"
            );
            assert!(a.hi < 1.6, "decreasing: acos(0) is the top, {a:?}");
            let a = elementwise(dtype, Builtin::Acos, &[Iv::new(-3.0, 0.5)]).unwrap();
            assert!(a.nan && a.contains(apply(dtype, Builtin::Acos, &[-1.0])), "{a:?}");
            let a = elementwise(dtype, Builtin::Asin, &[Iv::new(0.5, 2.0)]).unwrap();
            assert!(a.nan && a.hi < 1.6, "{a:?}");
        }
    }

    #[test]
    fn zero_times_infinity_is_nan() {
        let product = mul(Dtype::F64, Iv::new(0.0, 1.0), Iv::new(f64::NEG_INFINITY, 0.0));
        assert!(product.nan);
        // [0, 1] holds -0 too, and 1 / -0 = -inf.
        let quotient = div(Dtype::F64, Iv::new(1.0, 2.0), Iv::new(0.0, 1.0));
        assert_eq!(
            (quotient.lo, quotient.hi, quotient.nan),
            (f64::NEG_INFINITY, f64::INFINITY, false)
        );
        let quotient = div(Dtype::F64, Iv::new(1.0, 2.0), Iv::new(0.5, 1.0));
        assert_eq!((quotient.lo, quotient.hi, quotient.nan), (1.0, 4.0, false));
    }

    #[test]
    fn exp_overflows_past_88_in_f32() {
        let e = elementwise(Dtype::F32, Builtin::Exp, &[Iv::new(0.0, 89.0)]).unwrap();
        assert_eq!(e.hi, f64::INFINITY);
        let e = elementwise(Dtype::F32, Builtin::Exp, &[Iv::new(0.0, 88.0)]).unwrap();
        assert!(e.hi.is_finite());
    }

    #[test]
    fn powers() {
        let sq = pow(Dtype::F64, Iv::new(-2.0, 3.0), Iv::point(2.0));
        assert!(sq.lo == 0.0 && (sq.hi - 9.0).abs() < 1e-12 && sq.hi >= 9.0);
        let root = pow(Dtype::F64, Iv::new(-1.0, 4.0), Iv::point(0.5));
        assert!(root.nan);
        let inv = pow(Dtype::F64, Iv::new(0.0, 4.0), Iv::point(-1.0));
        assert_eq!(inv.hi, f64::INFINITY);
    }

    #[test]
    fn a_variable_power_of_a_base_from_zero_is_bounded_and_sound() {
        // 0 ^ y over y >= 0 is 0 or 1; a base in [0, 1] keeps it in [0, 1].
        assert_eq!(pow(Dtype::F32, Iv::point(0.0), Iv::new(0.0, 100.0)), Iv::new(0.0, 1.0));
        assert_eq!(pow(Dtype::F32, Iv::point(0.0), Iv::new(1.0, 100.0)), Iv::point(0.0));
        let unit = pow(Dtype::F32, Iv::new(0.0, 1.0), Iv::new(0.0, 1e30));
        // (Bounds are widened outwards by a few ulps for rounding.)
        assert!(unit.lo == 0.0 && unit.hi < 1.001 && !unit.nan, "{unit:?}");
        // A negative exponent reaches inf at 0, and past the largest float
        // for a tiny positive base.
        assert!(pow(Dtype::F64, Iv::new(0.0, 1.0), Iv::new(-1.0, 1.0)).may_be_infinite());
        // Every sampled x ^ y lies in the interval, for each dtype.
        let bases = [0.0, 1e-300, 1e-30, 0.5, 1.0, 2.0, 1e10];
        let exponents = [-50.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 40.0];
        for dtype in [Dtype::F32, Dtype::F64] {
            for hi in [0.0, 0.5, 1.0, 3.0, 1e10] {
                for (ylo, yhi) in [(0.0, 1.0), (0.5, 40.0), (-1.0, 1.0), (-50.0, -0.5)] {
                    let out = pow(dtype, Iv::new(0.0, hi), Iv::new(ylo, yhi));
                    for &x in bases.iter().filter(|&&x| x <= hi) {
                        for &y in exponents.iter().filter(|&&y| ylo <= y && y <= yhi) {
                            let v = apply(dtype, Builtin::Pow, &[dtype.round_toward(x, lossc_ir::Rounding::Up), y]);
                            assert!(out.contains(v), "{x} ^ {y} = {v} not in {out:?} ({dtype})");
                        }
                    }
                }
            }
        }
    }
}
