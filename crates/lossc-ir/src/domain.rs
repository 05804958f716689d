//! The values a declared input can hold, and how they are written.

use std::fmt;

use crate::number::loss_number;
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
}

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
    /// infinity or a NaN).
    pub fn contains(&self, value: f64) -> bool {
        match self {
            Domain::Real => value.is_finite(),
            Domain::Set(values) => values.contains(&value),
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
/// more consecutive integers).
impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Real => f.write_str("real"),
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
}
