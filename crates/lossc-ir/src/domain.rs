//! The values a declared input can hold, and how they are written.

use std::fmt;

use crate::number::loss_number;
use crate::rng::SplitMix64;
use crate::types::Dtype;

/// The values an input can hold, as floats of the chosen dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Real,
    /// An interval. Infinite ends are open.
    Interval {
        lo: f64,
        lo_closed: bool,
        hi: f64,
        hi_closed: bool,
    },
    /// A finite set of values, sorted, without repeats.
    Set(Vec<f64>),
    /// Rows on the probability simplex (softmax outputs, soft labels): each
    /// element in [0, 1], and the elements of a row (the last axis) sum to 1
    /// within [`ROW_SUM_TOLERANCE`].
    Simplex,
    /// One-hot rows: each element 0 or 1, exactly one 1 per row (the last axis).
    OneHot,
}

/// How far from 1 the sum of a [`Domain::Simplex`] row may be: a float32
/// softmax over thousands of classes sums to 1 within about 1e-4, and data
/// written with a few decimals within about 1e-3.
pub const ROW_SUM_TOLERANCE: f64 = 1e-3;

impl Domain {
    /// The interval from `lo` to `hi`, each end closed or open.
    pub fn interval(lo: f64, lo_closed: bool, hi: f64, hi_closed: bool) -> Domain {
        Domain::Interval {
            lo,
            lo_closed,
            hi,
            hi_closed,
        }
    }

    /// Whether the domain constrains whole rows (the last axis), not only
    /// each element.
    pub fn is_row(&self) -> bool {
        matches!(self, Domain::Simplex | Domain::OneHot)
    }

    /// The values one element can hold, whatever the rest of its row holds:
    /// `[0, 1]` for a simplex, `{0, 1}` for one-hot rows, the domain itself
    /// for the others.
    pub fn element(&self) -> Domain {
        match self {
            Domain::Simplex => Domain::interval(0.0, true, 1.0, true),
            Domain::OneHot => Domain::Set(vec![0.0, 1.0]),
            other => other.clone(),
        }
    }

    /// The element at `column` of a row of `width` elements built around
    /// `first`, the value a sampled point gives the input: every element
    /// `first` (or, with `spike`, the first element `first` and the others
    /// 0). A row domain keeps its rows valid: a simplex row is `first` then
    /// `1 - first` spread over the others (all on the second with `spike`),
    /// a one-hot row is hot at the first column when `first` is 1 and at the
    /// second otherwise.
    pub fn row_element(&self, first: f64, spike: bool, column: usize, width: usize) -> f64 {
        match self {
            Domain::Simplex if width <= 1 => 1.0,
            Domain::Simplex => match column {
                0 => first,
                1 if spike => 1.0 - first,
                _ if spike => 0.0,
                _ => (1.0 - first) / (width - 1) as f64,
            },
            Domain::OneHot if width <= 1 => 1.0,
            Domain::OneHot => {
                let hot = if first == 1.0 { 0 } else { 1 };
                if column == hot { 1.0 } else { 0.0 }
            }
            _ if spike && column > 0 => 0.0,
            _ => first,
        }
    }

    /// Whether `row` (the elements of one row, along the last axis) is a row
    /// the domain holds: every element in the domain, and for a simplex a
    /// sum within [`ROW_SUM_TOLERANCE`] of 1, for one-hot rows exactly one 1.
    pub fn contains_row(&self, row: &[f64]) -> bool {
        if !row.iter().all(|v| self.contains(*v)) {
            return false;
        }
        match self {
            Domain::Simplex => (row.iter().sum::<f64>() - 1.0).abs() <= ROW_SUM_TOLERANCE,
            Domain::OneHot => row.iter().filter(|v| **v == 1.0).count() == 1,
            _ => true,
        }
    }

    /// Makes every row of `values` (each run of `width` elements, the last
    /// axis) one the domain holds, keeping what was drawn where it can; a
    /// domain that does not constrain rows leaves `values` as they are.
    ///
    /// A simplex row either keeps one element's drawn value and scales the
    /// others to the rest of the sum (so values near 0 and 1, the ones that
    /// break losses, survive), or is scaled to sum to 1 as a whole; with
    /// `uniform`, it is drawn afresh, uniformly over the simplex (normalised
    /// exponential draws). A one-hot row is hot where a 1 was drawn, or at a
    /// random column.
    pub fn make_rows(&self, values: &mut [f64], width: usize, rng: &mut SplitMix64, uniform: bool) {
        if !self.is_row() || width == 0 {
            return;
        }
        for row in values.chunks_mut(width) {
            match self {
                Domain::Simplex if row.len() == 1 => row[0] = 1.0,
                Domain::Simplex if uniform => {
                    for v in row.iter_mut() {
                        *v = -(1.0 - rng.unit()).ln();
                    }
                    scale_to(row, 1.0, rng);
                }
                Domain::Simplex => {
                    if rng.coin() {
                        // The kept element goes first, the others share the rest.
                        let keep = rng.below(row.len());
                        row.swap(0, keep);
                        row[0] = row[0].clamp(0.0, 1.0);
                        let rest = 1.0 - row[0];
                        scale_to(&mut row[1..], rest, rng);
                        row.swap(0, keep);
                    } else {
                        scale_to(row, 1.0, rng);
                    }
                }
                Domain::OneHot => {
                    let ones: Vec<usize> = (0..row.len()).filter(|&k| row[k] == 1.0).collect();
                    let hot = if ones.is_empty() || uniform {
                        rng.below(row.len())
                    } else {
                        ones[rng.below(ones.len())]
                    };
                    for (k, v) in row.iter_mut().enumerate() {
                        *v = if k == hot { 1.0 } else { 0.0 };
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether every value is an integer (a class label set).
    pub fn is_integer_set(&self) -> bool {
        matches!(self, Domain::Set(values) if values.iter().all(|v| v.fract() == 0.0))
    }

    /// The smallest closed interval containing the domain.
    pub fn hull(&self) -> (f64, f64) {
        match self {
            Domain::Real => (f64::NEG_INFINITY, f64::INFINITY),
            Domain::Interval { lo, hi, .. } => (*lo, *hi),
            Domain::Set(values) => (values[0], values[values.len() - 1]),
            Domain::Simplex | Domain::OneHot => (0.0, 1.0),
        }
    }

    /// The smallest and largest float of `dtype` in the domain: an interval's
    /// ends rounded inwards (an open end excluded, an infinite end is the
    /// dtype's largest finite float, since an input never holds an
    /// infinity), a set's first and last members. When the dtype has no
    /// float inside an interval the first is above the second.
    pub fn bounds(&self, dtype: Dtype) -> (f64, f64) {
        let max = dtype.max_finite();
        match self {
            Domain::Real => (-max, max),
            Domain::Set(values) => (values[0], values[values.len() - 1]),
            Domain::Simplex | Domain::OneHot => (0.0, 1.0),
            Domain::Interval {
                lo,
                lo_closed,
                hi,
                hi_closed,
            } => {
                let low = if lo.is_infinite() {
                    -max
                } else {
                    let r = dtype.round_toward(*lo, Rounding::Up);
                    if *lo_closed || r > *lo { r } else { dtype.next_up(r) }
                };
                let high = if hi.is_infinite() {
                    max
                } else {
                    let r = dtype.round_toward(*hi, Rounding::Down);
                    if *hi_closed || r < *hi { r } else { dtype.next_down(r) }
                };
                (low.max(-max), high.min(max))
            }
        }
    }

    /// Whether `value` belongs to the domain (an input never holds an
    /// infinity or a NaN); for a row domain, whether one element can hold it.
    pub fn contains(&self, value: f64) -> bool {
        match self {
            Domain::Real => value.is_finite(),
            Domain::Set(values) => values.contains(&value),
            Domain::Simplex => (0.0..=1.0).contains(&value),
            Domain::OneHot => value == 0.0 || value == 1.0,
            Domain::Interval {
                lo,
                lo_closed,
                hi,
                hi_closed,
            } => {
                value.is_finite()
                    && (if *lo_closed { value >= *lo } else { value > *lo })
                    && (if *hi_closed { value <= *hi } else { value < *hi })
            }
        }
    }
}

/// A domain as it is written in a `.loss` file: `real`, `[0, 1]`,
/// `(-inf, 1]` (an infinite end is always open), `{0, 1}`, `{0..9}` (four or
/// more consecutive integers), `simplex`, `onehot`.
impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Real => f.write_str("real"),
            Domain::Simplex => f.write_str("simplex"),
            Domain::OneHot => f.write_str("onehot"),
            Domain::Interval {
                lo,
                lo_closed,
                hi,
                hi_closed,
            } => write!(
                f,
                "{}{}, {}{}",
                if *lo_closed && lo.is_finite() { '[' } else { '(' },
                loss_number(*lo),
                loss_number(*hi),
                if *hi_closed && hi.is_finite() { ']' } else { ')' }
            ),
            Domain::Set(values) => {
                let consecutive = values.len() > 3
                    && values.iter().all(|v| v.fract() == 0.0)
                    && values.windows(2).all(|w| w[1] - w[0] == 1.0);
                if consecutive {
                    write!(
                        f,
                        "{{{}..{}}}",
                        loss_number(values[0]),
                        loss_number(values[values.len() - 1])
                    )
                } else {
                    let items: Vec<String> = values.iter().map(|v| loss_number(*v)).collect();
                    write!(f, "{{{}}}", items.join(", "))
                }
            }
        }
    }
}

/// Scales the non-negative `row` to sum to `total`; a row summing to 0 (or
/// to more than floats hold) puts all of `total` on one random element.
fn scale_to(row: &mut [f64], total: f64, rng: &mut SplitMix64) {
    for v in row.iter_mut() {
        *v = v.clamp(0.0, 1.0);
    }
    let sum: f64 = row.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        for v in row.iter_mut() {
            *v = (*v / sum * total).min(1.0);
        }
    } else {
        let hot = rng.below(row.len());
        for (k, v) in row.iter_mut().enumerate() {
            *v = if k == hot { total } else { 0.0 };
        }
    }
}

/// Which way [`Dtype::round_toward`] rounds a value that is not a float of
/// the dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards -inf.
    Down,
    /// Towards +inf.
    Up,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_infinite_end_is_always_printed_open() {
        assert_eq!(
            Domain::interval(f64::NEG_INFINITY, true, 1.0, true).to_string(),
            "(-inf, 1]"
        );
        assert_eq!(
            Domain::interval(0.0, false, f64::INFINITY, true).to_string(),
            "(0, inf)"
        );
        assert_eq!(Domain::interval(0.0, true, 1.0, false).to_string(), "[0, 1)");
        assert_eq!(Domain::interval(1e-8, true, 0.5, true).to_string(), "[1e-8, 0.5]");
    }

    #[test]
    fn sets_print_as_written() {
        assert_eq!(Domain::Real.to_string(), "real");
        assert_eq!(Domain::Set(vec![0.0, 1.0]).to_string(), "{0, 1}");
        assert_eq!(Domain::Set(vec![-1.0, 0.5]).to_string(), "{-1, 0.5}");
        assert_eq!(Domain::Set((0..10).map(f64::from).collect()).to_string(), "{0..9}");
    }

    #[test]
    fn bounds_are_the_extreme_floats_of_the_dtype_inside() {
        let unit_open = Domain::interval(0.0, false, 1.0, false);
        assert_eq!(
            unit_open.bounds(Dtype::F32),
            (f64::from(f32::from_bits(1)), f64::from(1.0f32.next_down()))
        );
        assert_eq!(unit_open.bounds(Dtype::F64), (f64::from_bits(1), 1.0f64.next_down()));
        // 0.1 is not an f32: the closed end rounds inwards, never outside.
        let (lo, _) = Domain::interval(0.1, true, 1.0, true).bounds(Dtype::F32);
        assert_eq!(lo, f64::from(0.1f32));
        assert!(lo >= 0.1);
        let (lo, _) = Domain::interval(0.7, true, 1.0, true).bounds(Dtype::F32);
        assert_eq!(lo, f64::from(0.7f32.next_up()));
        assert!(lo >= 0.7 && f64::from(0.7f32) < 0.7);
        assert_eq!(
            Domain::Real.bounds(Dtype::F32),
            (-f64::from(f32::MAX), f64::from(f32::MAX))
        );
        assert_eq!(
            Domain::interval(f64::NEG_INFINITY, false, 0.0, true).bounds(Dtype::F64),
            (-f64::MAX, 0.0)
        );
    }

    #[test]
    fn membership_excludes_open_ends_and_non_finite_values() {
        let unit = Domain::interval(0.0, false, 1.0, true);
        assert!(!unit.contains(0.0));
        assert!(unit.contains(1.0));
        assert!(!Domain::Real.contains(f64::INFINITY));
        assert!(!Domain::Real.contains(f64::NAN));
        assert!(Domain::Set(vec![0.0, 1.0]).contains(1.0));
        assert!(!Domain::Set(vec![0.0, 1.0]).contains(0.5));
    }

    #[test]
    fn rows_built_for_sampled_points_belong_to_their_domain() {
        for domain in [Domain::Simplex, Domain::OneHot] {
            let members: &[f64] = if domain == Domain::OneHot {
                &[0.0, 1.0]
            } else {
                &[0.0, 0.25, 1.0]
            };
            for width in [1, 2, 3, 10] {
                for &first in members {
                    for spike in [false, true] {
                        let row: Vec<f64> = (0..width).map(|c| domain.row_element(first, spike, c, width)).collect();
                        assert!(domain.contains_row(&row), "{domain} {first} {spike} {row:?}");
                        if width > 1 {
                            assert_eq!(row[0], first, "{domain}: the point's value is the first element");
                        }
                    }
                }
            }
        }
        let mut rng = SplitMix64::new(7);
        for domain in [Domain::Simplex, Domain::OneHot, Domain::Real] {
            for uniform in [false, true] {
                for _ in 0..200 {
                    // Rows of zeros, of ones, of tiny values and of mixtures.
                    let kind = rng.below(5);
                    let mut values: Vec<f64> = (0..12)
                        .map(|k| match (kind, k % 4) {
                            (0, _) => 0.0,
                            (1, _) => 1.0,
                            (2, 0) | (3, _) => 1e-30,
                            (_, 1) => 1.0,
                            (_, 2) => 0.0,
                            _ => rng.unit(),
                        })
                        .collect();
                    let before = values.clone();
                    domain.make_rows(&mut values, 4, &mut rng, uniform);
                    if domain == Domain::Real {
                        assert_eq!(values, before);
                        continue;
                    }
                    for row in values.chunks(4) {
                        // Rounded to float32, as the probe's values are, a row still sums to 1.
                        let rounded: Vec<f64> = row.iter().map(|v| f64::from(*v as f32)).collect();
                        assert!(domain.contains_row(&rounded), "{domain} {uniform}: {row:?}");
                    }
                }
            }
        }
        assert!(!Domain::Simplex.contains_row(&[0.5, 0.6]));
        assert!(Domain::Simplex.contains_row(&[0.5, 0.5004]));
        assert!(!Domain::Simplex.contains_row(&[1.5, -0.5]));
        assert!(!Domain::OneHot.contains_row(&[1.0, 1.0]));
        assert!(!Domain::OneHot.contains_row(&[0.0, 0.0]));
        assert_eq!(Domain::Simplex.to_string(), "simplex");
        assert_eq!(Domain::OneHot.to_string(), "onehot");
        assert_eq!(Domain::Simplex.bounds(Dtype::F32), (0.0, 1.0));
    }
}
