//! What a probe reports: the failure classes and the codes that predict
//! each, the witnesses (a sample's inputs, value and gradients), the report
//! of each class and of the probe with its cross-check against the
//! analyzer's codes, and the tally of counts and first witnesses the
//! workers keep.

use std::fmt;

use lossc_diagnostics::Code;
use lossc_ir::{Dtype, format_number};

use super::DEAD_FRACTION;

/// A kind of failure a sample can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The loss is NaN.
    NanValue,
    /// The loss is `+inf` or `-inf`.
    InfValue,
    /// The loss is finite, an element of the gradient is NaN or infinite.
    NonFiniteGradient,
    /// The loss and the gradient are finite, an element of the gradient
    /// exceeds [`EXPLODING`](super::EXPLODING) in magnitude.
    ExplodingGradient,
    /// The loss is finite and the gradient with respect to some variable is
    /// exactly zero in every element.
    ZeroGradient,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 5] = [
        Class::NanValue,
        Class::InfValue,
        Class::NonFiniteGradient,
        Class::ExplodingGradient,
        Class::ZeroGradient,
    ];

    /// The kebab-case name of reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::NanValue => "nan-value",
            Class::InfValue => "inf-value",
            Class::NonFiniteGradient => "nonfinite-gradient",
            Class::ExplodingGradient => "exploding-gradient",
            Class::ZeroGradient => "zero-gradient",
        }
    }

    /// What the class means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Class::NanValue => "the loss is NaN",
            Class::InfValue => "the loss is infinite",
            Class::NonFiniteGradient => "the loss is finite, the gradient NaN or infinite",
            Class::ExplodingGradient => "the gradient exceeds 1e6 in magnitude",
            Class::ZeroGradient => "the gradient is exactly zero",
        }
    }

    /// The codes of which one, reported at any severity, predicts this class.
    pub fn predicted_by(self) -> &'static [Code] {
        const VALUE: &[Code] = &[
            Code::LogDomain,
            Code::DivByZero,
            Code::SqrtDomain,
            Code::AsinDomain,
            Code::PowDomain,
            Code::ExpOverflow,
            Code::Overflow,
        ];
        match self {
            Class::NanValue | Class::InfValue => VALUE,
            Class::NonFiniteGradient => &[
                Code::NanGradient,
                Code::Overflow,
                Code::LogDomain,
                Code::DivByZero,
                Code::SqrtDomain,
                Code::AsinDomain,
                Code::AsinDomain,
                Code::PowDomain,
                Code::ExpOverflow,
            ],
            // A slope that is infinite at a domain edge is huge next to it: a
            // reported log(0) or x/0 predicts the explosion around it.
            Class::ExplodingGradient => &[
                Code::ExplodingGradient,
                Code::NanGradient,
                Code::Overflow,
                Code::ExpOverflow,
                Code::LogDomain,
                Code::DivByZero,
                Code::SqrtDomain,
                Code::AsinDomain,
                Code::AsinDomain,
                Code::PowDomain,
            ],
            Class::ZeroGradient => &[
                Code::DeadGradient,
                Code::ZeroGradient,
                Code::NoGradientPath,
                Code::ClipSaturation,
            ],
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named tensor of a witness: an input's values, or a gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The input's or the variable's name.
    pub name: String,
    /// The shape of one sample: the declared shape under the probe's
    /// dimension sizes, without the batch dimension (`[]` for one number).
    pub shape: Vec<usize>,
    /// The elements in row-major order, exactly as floats of the dtype.
    pub values: Vec<f64>,
}

/// One sample: the inputs, the loss value and the gradient there.
#[derive(Debug, Clone, PartialEq)]
pub struct Witness {
    /// The sample's number (0-based), for `--seed` reproduction.
    pub index: usize,
    /// Every input, in declaration order.
    pub inputs: Vec<Tensor>,
    /// The loss (the mean of a per-sample loss, over `N = 1`).
    pub value: f64,
    /// The gradient with respect to each variable, of the variable's shape.
    pub gradients: Vec<Tensor>,
}

impl Witness {
    /// The inputs as `y_true = 1, y_pred = 0`, numbers written in the dtype's
    /// shortest form; a tensor as `[a, b, c]` (at most 12 elements shown).
    pub fn describe_inputs(&self, dtype: Dtype) -> String {
        describe_tensors(&self.inputs, dtype)
    }

    /// The gradients as `y_pred = -1e8`.
    pub fn describe_gradients(&self, dtype: Dtype) -> String {
        describe_tensors(&self.gradients, dtype)
    }

    /// The value of the input `name`.
    pub fn input(&self, name: &str) -> Option<&Tensor> {
        self.inputs.iter().find(|t| t.name == name)
    }
}

fn describe_tensors(tensors: &[Tensor], dtype: Dtype) -> String {
    tensors
        .iter()
        .map(|t| format!("{} = {}", t.name, describe_values(&t.values, t.shape.is_empty(), dtype)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_values(values: &[f64], scalar: bool, dtype: Dtype) -> String {
    const SHOWN: usize = 12;
    if scalar && values.len() == 1 {
        return format_number(values[0], dtype);
    }
    let mut parts: Vec<String> = values.iter().take(SHOWN).map(|&v| format_number(v, dtype)).collect();
    if values.len() > SHOWN {
        parts.push(format!("... ({} elements)", values.len()));
    }
    format!("[{}]", parts.join(", "))
}

/// One class's findings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassReport {
    pub class: Class,
    /// How many samples show the class.
    pub count: usize,
    /// `count` over the number of samples.
    pub fraction: f64,
    /// How many of the uniform samples show the class.
    pub uniform_count: usize,
    /// `uniform_count` over the number of uniform samples (0 if there are
    /// none): an estimate of the share of the domain where the class holds.
    pub uniform_fraction: f64,
    /// The first sample that shows the class (for a zero gradient, the first
    /// uniform one if there is one), or `None` if none does.
    pub witness: Option<Witness>,
}

/// A class observed at samples the cross-check counts, which the analyzer
/// did not predict: a bug in the analyzer.
#[derive(Debug, Clone, PartialEq)]
pub struct Unpredicted {
    pub class: Class,
    /// The first counted sample that shows it.
    pub witness: Witness,
    /// The codes any one of which would have predicted it.
    pub expected: Vec<Code>,
}

/// What [`probe`](super::probe) found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// The loss probed.
    pub loss: String,
    pub dtype: Dtype,
    /// The number of samples evaluated.
    pub samples: usize,
    /// The number of samples asked for: more than [`ProbeReport::samples`]
    /// when [`WORK_BUDGET`](super::WORK_BUDGET) cut them.
    pub requested_samples: usize,
    /// How many of them are uniform samples (see the module's docs).
    pub uniform_samples: usize,
    pub seed: u64,
    /// The size given to each named dimension that an input uses, in
    /// [`Program::dims`](lossc_ir::Program::dims) order (the batch dimension is 1).
    pub dims: Vec<(String, usize)>,
    /// The variables of the gradient, in order.
    pub wrt: Vec<String>,
    /// One report per class, in [`Class::ALL`] order.
    pub classes: Vec<ClassReport>,
    /// The codes [`crate::analyze`] reported, sorted, without repeats (empty
    /// before [`ProbeReport::cross_check`]).
    pub diagnostics: Vec<Code>,
    /// The classes observed that no reported code predicts, in class order
    /// (empty before [`ProbeReport::cross_check`]).
    pub unpredicted: Vec<Unpredicted>,
}

impl ProbeReport {
    /// The report of one class.
    pub fn class(&self, class: Class) -> &ClassReport {
        &self.classes[class.index()]
    }

    /// Whether the analyzer predicted every failure observed.
    pub fn all_predicted(&self) -> bool {
        self.unpredicted.is_empty()
    }

    /// Records the codes the analyzer reported (at any severity) and lists
    /// in `unpredicted` each class observed that none of them predicts
    /// ([`Class::predicted_by`]): NaN, infinities and explosions at any
    /// sample; a zero gradient when at least [`DEAD_FRACTION`] of the uniform
    /// samples show it.
    pub fn cross_check(&mut self, codes: &[Code]) {
        let mut codes = codes.to_vec();
        codes.sort();
        codes.dedup();
        self.unpredicted = self
            .classes
            .iter()
            .filter(|report| match report.class {
                Class::ZeroGradient => report.uniform_count > 0 && report.uniform_fraction >= DEAD_FRACTION,
                _ => report.count > 0,
            })
            .filter(|report| !report.class.predicted_by().iter().any(|code| codes.contains(code)))
            .filter_map(|report| {
                Some(Unpredicted {
                    class: report.class,
                    witness: report.witness.clone()?,
                    expected: report.class.predicted_by().to_vec(),
                })
            })
            .collect();
        self.diagnostics = codes;
    }
}

/// Counts and first witnesses, of one chunk of samples or of all.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    pub(super) counts: [usize; 5],
    pub(super) uniform_counts: [usize; 5],
    pub(super) uniform_total: usize,
    pub(super) first: [Option<(usize, Witness)>; 5],
    pub(super) first_uniform: [Option<(usize, Witness)>; 5],
}

impl Tally {
    pub(super) fn merge(&mut self, other: Tally) {
        for i in 0..Class::ALL.len() {
            self.counts[i] += other.counts[i];
            self.uniform_counts[i] += other.uniform_counts[i];
            keep_first(&mut self.first[i], other.first[i].clone());
            keep_first(&mut self.first_uniform[i], other.first_uniform[i].clone());
        }
        self.uniform_total += other.uniform_total;
    }
}

fn keep_first(slot: &mut Option<(usize, Witness)>, other: Option<(usize, Witness)>) {
    if let Some((index, witness)) = other
        && slot.as_ref().is_none_or(|(first, _)| index < *first)
    {
        *slot = Some((index, witness));
    }
}
