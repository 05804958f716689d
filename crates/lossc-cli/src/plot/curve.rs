//! A loss and its gradient sampled along one input, and what the samples
//! show: where either is NaN or infinite, where the gradient is exactly zero
//! on an interval (a dead zone), where the loss jumps (a discontinuity) and
//! where its derivative jumps (a kink).
//!
//! Everything is found from evaluated numbers, never guessed: a suspected
//! jump or kink between two samples is narrowed by bisection down to two
//! neighbouring floats of the dtype, and kept only if it is still there.

use lossc::Dtype;

/// Samples of the loss and of its derivative along the swept input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curve {
    /// The swept values, increasing, each a float of the dtype.
    pub xs: Vec<f64>,
    pub values: Vec<f64>,
    pub grads: Vec<f64>,
}

/// What a curve shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Intervals `[from, to]` where the gradient is exactly zero at every
    /// sample (two samples at least).
    pub dead: Vec<(f64, f64)>,
    /// Where the loss jumps.
    pub jumps: Vec<f64>,
    /// Where the derivative jumps but the loss does not.
    pub kinks: Vec<f64>,
    /// Samples whose loss is NaN or infinite: `(x, value)`.
    pub bad_values: Vec<(f64, f64)>,
    /// Samples whose gradient is NaN or infinite: `(x, gradient)`.
    pub bad_grads: Vec<(f64, f64)>,
}

/// `count` points from `lo` to `hi` (both included), as floats of `dtype`,
/// increasing and without repeats. The grid is `lo + (hi - lo) * i / (count -
/// 1)`, so round values such as 0.5 on [0, 1] or 0 on [-10, 10] are on it.
///
/// A span wider than the largest float (`[-1e308, 1e308]`) is stepped in
/// halves, so no point is infinite or NaN.
pub fn grid(dtype: Dtype, lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        // An empty (or NaN) interval has no point.
        return Vec::new();
    }
    let count = count.max(2);
    let width = hi - lo;
    let mut xs: Vec<f64> = (0..count)
        .map(|i| {
            let t = i as f64 / (count - 1) as f64;
            let x = if width.is_finite() {
                lo + width * t
            } else {
                2.0 * (lo / 2.0 + (hi / 2.0 - lo / 2.0) * t)
            };
            dtype.round(x).clamp(lo, hi)
        })
        .collect();
    xs.dedup();
    xs
}

/// How far apart two samples must be, relative to the range of the curve,
/// for a jump or a kink that survives bisection to count.
const RELATIVE_STEP: f64 = 1e-3;
/// At most this many suspected kinks are narrowed down per curve (the
/// largest changes of the derivative first), which bounds the work on a
/// curve that bends everywhere.
const MAX_SUSPECTS: usize = 64;

/// Finds the features of `curve`. `sample(x)` evaluates `(loss, gradient)` at
/// a float of `dtype`, for the bisections.
pub fn features<E>(
    curve: &Curve,
    dtype: Dtype,
    sample: &mut dyn FnMut(f64) -> Result<(f64, f64), E>,
) -> Result<Features, E> {
    let range = match (curve.xs.first(), curve.xs.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => return Ok(Features::default()),
    };
    let Curve { xs, values, grads } = curve;
    let n = xs.len();
    let mut features = Features::default();
    for i in 0..n {
        if !values[i].is_finite() {
            features.bad_values.push((xs[i], values[i]));
        }
        if !grads[i].is_finite() {
            features.bad_grads.push((xs[i], grads[i]));
        }
    }

    // Dead zones: runs of exact zeros of the gradient.
    let mut run_start: Option<usize> = None;
    for i in 0..=n {
        let zero = i < n && grads[i] == 0.0 && values[i].is_finite();
        match (zero, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= 2 {
                    features.dead.push((xs[start], xs[i - 1]));
                }
                run_start = None;
            }
            _ => {}
        }
    }

    let value_span = span(values);
    let grad_span = span(grads);
    let step = |i: usize| xs[i + 1] - xs[i];
    let at = |i: usize| (xs[i], (values[i], grads[i]));

    // Jumps of the loss: a change between neighbours that the derivative
    // does not explain, confirmed by bisection.
    for i in 0..n.saturating_sub(1) {
        let (v0, v1, g0, g1) = (values[i], values[i + 1], grads[i], grads[i + 1]);
        if !(v0.is_finite() && v1.is_finite()) {
            continue;
        }
        let change = v1 - v0;
        let explained = if g0.is_finite() && g1.is_finite() {
            (change - step(i) * (g0 + g1) / 2.0).abs() <= (step(i) * (g1 - g0).abs()).max(RELATIVE_STEP * value_span)
        } else {
            change.abs() <= RELATIVE_STEP * value_span
        };
        if explained {
            continue;
        }
        if let Some(x) = narrow(dtype, range, Of::Value, at(i), at(i + 1), value_span, sample)? {
            push_apart(&mut features.jumps, x, step(i));
        }
    }

    // Kinks: jumps of the derivative where the loss is continuous. The
    // suspects are changes of the derivative between neighbours well above
    // the changes two samples away on either side: a smooth derivative
    // changes at a similar rate there, a jump does not (and a kink on a
    // sample, whose subgradient sits between the two sides, makes two large
    // changes in a row, which this still singles out).
    let delta = |i: usize| (grads[i + 1] - grads[i]).abs();
    let finite = |i: usize| grads[i].is_finite() && grads[i + 1].is_finite();
    let intervals = n.saturating_sub(1);
    let mut changes: Vec<(f64, usize)> = (0..intervals)
        .filter(|&i| finite(i) && delta(i) > RELATIVE_STEP * grad_span)
        .filter(|&i| {
            let around = [i.checked_sub(2), Some(i + 2).filter(|&j| j < intervals)]
                .into_iter()
                .flatten()
                .filter(|&j| finite(j))
                .map(delta)
                .fold(0.0, f64::max);
            delta(i) > 3.0 * around
        })
        .map(|i| (delta(i), i))
        .collect();
    changes.sort_by(|a, b| b.0.total_cmp(&a.0));
    changes.truncate(MAX_SUSPECTS);
    changes.sort_by_key(|&(_, i)| i);
    for (_, i) in changes {
        let near_jump = features
            .jumps
            .iter()
            .any(|&jump| jump >= xs[i] - step(i) && jump <= xs[i + 1] + step(i));
        if near_jump {
            continue;
        }
        if let Some(x) = narrow(dtype, range, Of::Slope, at(i), at(i + 1), grad_span, sample)? {
            push_apart(&mut features.kinks, x, step(i));
        }
    }
    features.kinks.sort_by(f64::total_cmp);
    Ok(features)
}

/// The range of the finite numbers of `numbers` (1 if they are all equal or
/// none is finite, so relative thresholds stay meaningful).
fn span(numbers: &[f64]) -> f64 {
    let finite = numbers.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi > lo { hi - lo } else { 1.0 }
}

/// Which of a sample's two numbers [`narrow`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Of {
    /// The loss: a step is a jump.
    Value,
    /// The derivative: a step is a kink.
    Slope,
}

/// Bisects `[lo, hi]` (with their samples `(value, gradient)`) towards the
/// half where the followed number changes most, down to two neighbouring
/// floats of the dtype, and decides whether the change there is a step: more
/// than [`RELATIVE_STEP`] of `scale`, and not what a steep but continuous
/// function does from one float to the next.
///
/// - The loss steps if its change is more than [`STEP_FACTOR`] times what
///   the derivative at either float explains (`-log(1 - x)` near 1 in f32
///   changes by 0.4 between neighbours, and its derivative says so).
/// - The derivative steps if its change over the floats around the pair is
///   more than [`KINK_FACTOR`] times its change just outside them (the
///   window covers a kink whose subgradient sits on one float between the
///   two sides, as `abs'(0) = 0` does).
///
/// A NaN or an infinity met on the way is marked as such, not as a step.
/// Returns where the step is: whichever float is written shorter (0.5, not
/// 0.50000006).
fn narrow<E>(
    dtype: Dtype,
    range: (f64, f64),
    of: Of,
    (mut lo, mut s_lo): (f64, (f64, f64)),
    (mut hi, mut s_hi): (f64, (f64, f64)),
    scale: f64,
    sample: &mut dyn FnMut(f64) -> Result<(f64, f64), E>,
) -> Result<Option<f64>, E> {
    let pick = |s: (f64, f64)| match of {
        Of::Value => s.0,
        Of::Slope => s.1,
    };
    loop {
        let mid = dtype.round(midpoint(lo, hi));
        // Also stops on a NaN, which compares false either way.
        if !(mid > lo && mid < hi) {
            break;
        }
        let s_mid = sample(mid)?;
        if !pick(s_mid).is_finite() {
            return Ok(None);
        }
        if (pick(s_mid) - pick(s_lo)).abs() >= (pick(s_hi) - pick(s_mid)).abs() {
            (hi, s_hi) = (mid, s_mid);
        } else {
            (lo, s_lo) = (mid, s_mid);
        }
    }
    let change = (pick(s_hi) - pick(s_lo)).abs();
    if change <= RELATIVE_STEP * scale {
        return Ok(None);
    }
    match of {
        Of::Value => {
            let slope = s_lo.1.abs().max(s_hi.1.abs());
            if !slope.is_finite() || change <= STEP_FACTOR * (hi - lo) * slope {
                return Ok(None);
            }
        }
        Of::Slope => {
            // The derivative at up to two floats on each side of the pair.
            let inside = |x: f64| x >= range.0 && x <= range.1;
            let mut outward = |from: f64, down: bool| -> Result<Option<Vec<f64>>, E> {
                let mut found = Vec::new();
                let mut x = from;
                for _ in 0..2 {
                    x = if down { dtype.next_down(x) } else { dtype.next_up(x) };
                    if !inside(x) {
                        break;
                    }
                    let g = sample(x)?.1;
                    if !g.is_finite() {
                        return Ok(None);
                    }
                    found.push(g);
                }
                Ok(Some(found))
            };
            let (Some(left), Some(right)) = (outward(lo, true)?, outward(hi, false)?) else {
                return Ok(None);
            };
            let wide = (right.first().copied().unwrap_or(s_hi.1) - left.first().copied().unwrap_or(s_lo.1)).abs();
            let outer = [&left, &right]
                .iter()
                .filter(|side| side.len() == 2)
                .map(|side| (side[1] - side[0]).abs())
                .fold(0.0, f64::max);
            if wide <= KINK_FACTOR * outer {
                return Ok(None);
            }
        }
    }
    let written = |x: f64| match dtype {
        Dtype::F32 => format!("{}", x as f32).len(),
        Dtype::F64 => format!("{x}").len(),
    };
    Ok(Some(if written(hi) < written(lo) { hi } else { lo }))
}

/// The float halfway between `lo` and `hi`, also when `hi - lo` overflows.
fn midpoint(lo: f64, hi: f64) -> f64 {
    let width = hi - lo;
    if width.is_finite() {
        lo + width / 2.0
    } else {
        lo / 2.0 + hi / 2.0
    }
}

/// How many times the change that the derivative explains a jump must be.
const STEP_FACTOR: f64 = 4.0;
/// How many times the derivative's change just outside a kink its change
/// across it must be. Near a pole (`1 / (1 - x)` at the last floats below 1)
/// a smooth derivative changes over three floats about 8 times as much as
/// over the next one out, so the factor is well above that.
const KINK_FACTOR: f64 = 16.0;

/// Adds `at` unless a point within `within` is already there (the same
/// feature found from both sides of a sample).
fn push_apart(points: &mut Vec<f64>, at: f64, within: f64) {
    if !points.iter().any(|&p| (p - at).abs() <= within) {
        points.push(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The curve of `f` (value and derivative) on `count` points of [lo, hi] in f64.
    fn curve(f: impl Fn(f64) -> (f64, f64), lo: f64, hi: f64, count: usize) -> Curve {
        let xs = grid(Dtype::F64, lo, hi, count);
        let (values, grads) = xs.iter().map(|&x| f(x)).unzip();
        Curve { xs, values, grads }
    }

    fn features_of(f: impl Fn(f64) -> (f64, f64) + Copy, lo: f64, hi: f64) -> Features {
        let curve = curve(f, lo, hi, 801);
        features(&curve, Dtype::F64, &mut |x| Ok::<_, ()>(f(x))).unwrap()
    }

    #[test]
    fn a_grid_wider_than_the_largest_float_is_finite_and_increasing() {
        // `hi - lo` overflowed to infinity: every point was NaN or infinite,
        // and bisecting between NaNs never ended.
        let xs = grid(Dtype::F64, -1e308, 1e308, 801);
        assert_eq!(xs.len(), 801);
        assert!(xs.iter().all(|x| x.is_finite()));
        assert!(xs.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!((xs[0], xs[400], xs[800]), (-1e308, 0.0, 1e308));
        let xs = grid(Dtype::F64, f64::MIN, f64::MAX, 3);
        assert_eq!(xs, vec![f64::MIN, 0.0, f64::MAX]);
        // A kink at 0 over the whole line is found, in a bounded number of
        // evaluations (bisection by value: about 2100 halvings at most).
        let abs = |x: f64| (x.abs(), if x == 0.0 { 0.0 } else { x.signum() });
        let mut calls = 0;
        let curve = curve(abs, -1e308, 1e308, 801);
        let features = features(&curve, Dtype::F64, &mut |x: f64| {
            calls += 1;
            Ok::<_, ()>(abs(x))
        })
        .unwrap();
        assert_eq!(features.kinks, vec![0.0]);
        assert!(calls < 10_000, "{calls} evaluations");
        assert_eq!(midpoint(-f64::MAX, f64::MAX), 0.0);
        // An interval holding no float of the dtype (the ends were moved
        // inside an open `(0, 1e-320)` in f32) has no point; `clamp` panicked.
        assert!(grid(Dtype::F32, 1.401298464324817e-45, -1.401298464324817e-45, 801).is_empty());
        assert!(grid(Dtype::F64, f64::NAN, 1.0, 801).is_empty());
    }

    #[test]
    fn the_grid_holds_round_values() {
        let xs = grid(Dtype::F32, 0.0, 1.0, 801);
        assert_eq!(xs.len(), 801);
        assert!(xs.contains(&0.5));
        assert!(grid(Dtype::F32, -10.0, 10.0, 801).contains(&0.0));
    }

    #[test]
    fn a_step_through_where_is_dead_and_jumps() {
        // (1 - x)^2 where x > 0.5, else 0.
        let f = |x: f64| {
            if x > 0.5 {
                ((1.0 - x).powi(2), -2.0 * (1.0 - x))
            } else {
                (0.0, 0.0)
            }
        };
        let found = features_of(f, 0.0, 1.0);
        assert_eq!(found.dead, [(0.0, 0.5)]);
        assert_eq!(found.jumps.len(), 1);
        assert!((found.jumps[0] - 0.5).abs() < 1e-12, "{:?}", found.jumps);
        assert!(found.kinks.is_empty(), "{:?}", found.kinks);
    }

    #[test]
    fn abs_has_one_kink_and_squares_none() {
        let abs = features_of(|x: f64| (x.abs(), if x == 0.0 { 0.0 } else { x.signum() }), -10.0, 10.0);
        assert_eq!(abs.kinks, [0.0]);
        assert!(abs.jumps.is_empty() && abs.dead.is_empty());
        let square = features_of(|x: f64| (x * x, 2.0 * x), -10.0, 10.0);
        assert_eq!(square, Features::default());
        // Steep but continuous: no jump.
        let log = features_of(|x: f64| (-(x + 1e-7).ln(), -1.0 / (x + 1e-7)), 0.0, 1.0);
        assert!(log.jumps.is_empty() && log.kinks.is_empty(), "{log:?}");
    }

    #[test]
    fn non_finite_samples_are_listed() {
        let found = features_of(|x: f64| (-x.ln(), -1.0 / x), 0.0, 1.0);
        assert_eq!(found.bad_values, [(0.0, f64::INFINITY)]);
        assert_eq!(found.bad_grads, [(0.0, f64::NEG_INFINITY)]);
    }
}
