//! How a sample's values are drawn: each sample's own generator, the
//! strategies and their weights, the floats of a domain in the dtype, and a
//! sample of all the inputs (the mode of its strategies, the enumeration of
//! set members, ties between inputs).

use lossc_ir::rng::SplitMix64;
use lossc_ir::{Domain, Dtype};

use super::layout::Layout;
use super::{ORDINARY_MAGNITUDE, ProbeError};

/// Uniform draws "at ordinary magnitudes" stay within ±this.
const ORDINARY_RANGE: f64 = 10.0;

/// Draws `count` values of one element of `domain` as floats of `dtype`, with
/// the probe's mix of strategies (see the module's docs).
pub fn sample_values(domain: &Domain, dtype: Dtype, count: usize, seed: u64) -> Result<Vec<f64>, ProbeError> {
    let range = Range::new(domain, dtype).ok_or_else(|| ProbeError::EmptyDomain {
        input: "<domain>".to_string(),
        dtype,
    })?;
    let mut rng = SplitMix64::new(seed);
    Ok((0..count)
        .map(|_| {
            let strategy = Strategy::pick(&mut rng);
            range.draw(strategy, None, &mut rng, dtype).0
        })
        .collect())
}

/// The generator of sample `index`: independent of every other sample's,
/// so that samples can be drawn on any thread in any order.
fn sample_rng(seed: u64, index: usize) -> SplitMix64 {
    let mut mixer = SplitMix64::new(seed ^ 0x5851_F42D_4C95_7F2D);
    let base = mixer.next_u64();
    let mut rng = SplitMix64::new(base.wrapping_add((index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)));
    rng.next_u64();
    rng
}

/// How one element's value is drawn from an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Uniform over the whole interval (clamped to the finite floats).
    Uniform,
    /// Uniform over the interval within ±10.
    Ordinary,
    /// Log-uniform magnitude from the smallest denormal up, either sign.
    NearZero,
    /// The low end plus a log-uniform distance, from its spacing to the width.
    NearLo,
    /// The high end minus a log-uniform distance.
    NearHi,
    /// The low end exactly.
    Lo,
    /// The high end exactly.
    Hi,
    /// `+0`.
    Zero,
    /// `-0`.
    NegZero,
    /// A denormal (log-uniform mantissa, so the smallest are frequent).
    Denormal,
    /// Within the top 8 binades of the largest finite value, or it exactly.
    Largest,
}

impl Strategy {
    /// Strategies with their weights (out of 1000).
    const WEIGHTED: [(Strategy, u32); 11] = [
        (Strategy::Uniform, 170),
        (Strategy::Ordinary, 200),
        (Strategy::NearZero, 200),
        (Strategy::NearLo, 75),
        (Strategy::NearHi, 75),
        (Strategy::Lo, 50),
        (Strategy::Hi, 50),
        (Strategy::Zero, 40),
        (Strategy::NegZero, 30),
        (Strategy::Denormal, 50),
        (Strategy::Largest, 60),
    ];

    /// The strategies that draw one of a few floats: an end, a zero, ...
    const ATOMS: [Strategy; 6] = [
        Strategy::Lo,
        Strategy::Hi,
        Strategy::Zero,
        Strategy::NegZero,
        Strategy::Denormal,
        Strategy::Largest,
    ];

    fn pick(rng: &mut SplitMix64) -> Strategy {
        let total: u32 = Self::WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut r = (rng.next_u64() % u64::from(total)) as u32;
        for (strategy, weight) in Self::WEIGHTED {
            if r < weight {
                return strategy;
            }
            r -= weight;
        }
        Strategy::Uniform
    }

    /// Whether the draws are uniform over (part of) the interval.
    fn is_uniform(self) -> bool {
        matches!(self, Strategy::Uniform | Strategy::Ordinary)
    }
}

/// The floats of the dtype one element can hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Range {
    /// Every float in `lo..=hi` (both finite floats of the dtype, `lo <= hi`;
    /// `-0` belongs whenever `+0` does).
    Interval { lo: f64, hi: f64 },
    /// The members, as floats of the dtype, sorted, without repeats.
    Set(Vec<f64>),
}

impl Range {
    /// The floats of `domain` in `dtype`, or `None` if there are none.
    pub(super) fn new(domain: &Domain, dtype: Dtype) -> Option<Range> {
        match &domain.element() {
            Domain::Simplex | Domain::OneHot => unreachable!("an element's domain is not a row domain"),
            domain @ (Domain::Real | Domain::Interval { .. }) => {
                let (lo, hi) = domain.bounds(dtype);
                (lo.is_finite() && hi.is_finite() && lo <= hi).then_some(Range::Interval { lo, hi })
            }
            Domain::Set(values) => {
                let mut members: Vec<f64> = values
                    .iter()
                    .map(|&v| dtype.round(v))
                    .filter(|v| v.is_finite())
                    .collect();
                members.sort_by(f64::total_cmp);
                members.dedup_by(|a, b| a == b);
                (!members.is_empty()).then_some(Range::Set(members))
            }
        }
    }

    /// Whether `value` is one of the range's floats.
    fn contains(&self, value: f64) -> bool {
        match self {
            Range::Interval { lo, hi } => *lo <= value && value <= *hi,
            Range::Set(members) => members.contains(&value),
        }
    }

    /// One draw, and whether it is uniform: a set member, or drawn by a
    /// uniform strategy and neither an end nor a zero. A set takes `member`
    /// if given, else a random member.
    fn draw(&self, strategy: Strategy, member: Option<usize>, rng: &mut SplitMix64, dtype: Dtype) -> (f64, bool) {
        match self {
            Range::Set(members) => {
                let i = member.unwrap_or_else(|| rng.below(members.len())) % members.len();
                (members[i], true)
            }
            Range::Interval { lo, hi } => {
                let (lo, hi) = (*lo, *hi);
                if lo == hi {
                    return (lo, true);
                }
                let raw = draw_interval(lo, hi, strategy, rng, dtype);
                let value = dtype.round(raw);
                // Clamping keeps -0 when +0 is the low end (-0 < +0 is false).
                let value = if value < lo || value.is_nan() {
                    lo
                } else if value > hi {
                    hi
                } else {
                    value
                };
                let uniform = strategy.is_uniform() && value != lo && value != hi && value != 0.0;
                (value, uniform)
            }
        }
    }
}

/// A value for `strategy` in `lo..=hi` (before rounding and clamping).
fn draw_interval(lo: f64, hi: f64, strategy: Strategy, rng: &mut SplitMix64, dtype: Dtype) -> f64 {
    let max = dtype.max_finite();
    let tiny = dtype.min_positive_subnormal();
    // lo * (1 - u) + hi * u never overflows, even from -max to max.
    let lerp = |lo: f64, hi: f64, u: f64| lo * (1.0 - u) + hi * u;
    let log_uniform = |from: f64, to: f64, u: f64| {
        if from >= to {
            return from;
        }
        (from.log2() + (to.log2() - from.log2()) * u).exp2().clamp(from, to)
    };
    let width = (hi - lo).min(max);
    match strategy {
        Strategy::Uniform => lerp(lo, hi, rng.unit()),
        Strategy::Ordinary => {
            let (a, b) = (lo.max(-ORDINARY_RANGE), hi.min(ORDINARY_RANGE));
            if a <= b {
                lerp(a, b, rng.unit())
            } else {
                lerp(lo, hi, rng.unit())
            }
        }
        Strategy::NearZero => {
            let positive = (hi > 0.0).then(|| (lo.max(tiny), hi));
            let negative = (lo < 0.0).then(|| ((-hi).max(tiny), -lo));
            let side = match (positive, negative) {
                (Some(p), Some(n)) => Some(if rng.coin() { (p, 1.0) } else { (n, -1.0) }),
                (Some(p), None) => Some((p, 1.0)),
                (None, Some(n)) => Some((n, -1.0)),
                (None, None) => None,
            };
            match side {
                Some(((from, to), sign)) => sign * log_uniform(from, to, rng.unit()),
                None => 0.0,
            }
        }
        Strategy::NearLo => {
            let step = (dtype.next_up(lo) - lo).max(tiny);
            lo + log_uniform(step, width, rng.unit())
        }
        Strategy::NearHi => {
            let step = (hi - dtype.next_down(hi)).max(tiny);
            hi - log_uniform(step, width, rng.unit())
        }
        Strategy::Lo => lo,
        Strategy::Hi => hi,
        Strategy::Zero => 0.0,
        Strategy::NegZero => -0.0,
        Strategy::Denormal => {
            let bits = dtype.mantissa_bits();
            let top = ((1u64 << bits) - 1) as f64;
            let m = (f64::from(bits) * rng.unit()).exp2().floor().clamp(1.0, top);
            let magnitude = m * tiny;
            signed(magnitude, lo, hi, rng)
        }
        Strategy::Largest => {
            let magnitude = if rng.below(4) == 0 {
                max
            } else {
                max * (-8.0 * rng.unit()).exp2()
            };
            signed(magnitude, lo, hi, rng)
        }
    }
}

/// `magnitude` with a sign the interval allows (either, if both do).
fn signed(magnitude: f64, lo: f64, hi: f64, rng: &mut SplitMix64) -> f64 {
    match (hi > 0.0, lo < 0.0) {
        (true, true) => {
            if rng.coin() {
                magnitude
            } else {
                -magnitude
            }
        }
        (false, true) => -magnitude,
        _ => magnitude,
    }
}

/// How the elements of one sample are drawn.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// One strategy per input.
    PerInput,
    /// One strategy per element.
    PerElement,
    /// One atom strategy for every element.
    Global(Strategy),
    /// Uniform draws only: over the interval, or at ordinary magnitudes where
    /// the interval reaches beyond [`ORDINARY_MAGNITUDE`].
    Uniform,
}

/// One sample's input values, and whether it is a uniform sample.
#[derive(Debug, Clone)]
pub(super) struct Point {
    pub(super) values: Vec<Vec<f64>>,
    pub(super) uniform: bool,
}

impl Layout {
    /// Sample `index` of `samples`, drawn from its own generator.
    pub(super) fn point(&self, index: usize, samples: usize, seed: u64, dtype: Dtype) -> Point {
        let mut rng = sample_rng(seed, index);
        // Set members: every combination in turn when they all fit, else at random.
        let mut members: Vec<Vec<Option<usize>>> = self.inputs.iter().map(|i| vec![None; i.len]).collect();
        if let Some(combinations) = self.combinations
            && combinations <= samples as u64
        {
            let mut rest = index as u64 % combinations;
            for &(input, element, count) in &self.set_slots {
                members[input][element] = Some((rest % count as u64) as usize);
                rest /= count as u64;
            }
        }
        let mode = match rng.below(20) {
            0..=8 => Mode::PerInput,
            9..=12 => Mode::PerElement,
            13..=15 => Mode::Global(Strategy::ATOMS[rng.below(Strategy::ATOMS.len())]),
            _ => Mode::Uniform,
        };
        let mut uniform = true;
        let mut values = Vec::with_capacity(self.inputs.len());
        for (i, input) in self.inputs.iter().enumerate() {
            let per_input = Strategy::pick(&mut rng);
            let mut row = Vec::with_capacity(input.len);
            for member in &members[i] {
                let strategy = match mode {
                    Mode::PerInput => per_input,
                    Mode::PerElement => Strategy::pick(&mut rng),
                    Mode::Global(strategy) => strategy,
                    Mode::Uniform => match input.range {
                        Range::Interval { lo, hi } if lo.abs().max(hi.abs()) <= ORDINARY_MAGNITUDE => Strategy::Uniform,
                        _ => Strategy::Ordinary,
                    },
                };
                let (value, drawn_uniformly) = input.range.draw(strategy, *member, &mut rng, dtype);
                uniform &= drawn_uniformly;
                row.push(value);
            }
            // A row domain's rows are drawn whole: uniform over the rows in
            // the uniform mode, else built from the drawn elements.
            if input.domain.is_row() {
                let fresh = matches!(mode, Mode::Uniform);
                input.domain.make_rows(&mut row, input.width, &mut rng, fresh);
                for v in &mut row {
                    *v = dtype.round(*v);
                }
                uniform = uniform && fresh;
            }
            values.push(row);
        }
        // Ties: an interval input takes the values of an earlier one of the
        // same size (`y_pred == y_true`), where its domain holds them.
        if rng.below(10) == 0 {
            for j in 1..self.inputs.len() {
                // A set's members follow their own enumeration.
                if !rng.coin() || matches!(self.inputs[j].range, Range::Set(_)) {
                    continue;
                }
                // Rows of a row domain are tied only to rows of the same domain.
                let Some(i) = (0..j).find(|&i| {
                    self.inputs[i].len == self.inputs[j].len
                        && (!self.inputs[j].domain.is_row() || self.inputs[i].domain == self.inputs[j].domain)
                }) else {
                    continue;
                };
                let source = values[i].clone();
                for (slot, value) in values[j].iter_mut().zip(source) {
                    if self.inputs[j].range.contains(value) {
                        *slot = value;
                        uniform = false;
                    }
                }
            }
        }
        let ordinary = values.iter().flatten().all(|v| v.abs() <= ORDINARY_MAGNITUDE);
        Point {
            values,
            uniform: uniform && ordinary,
        }
    }
}
