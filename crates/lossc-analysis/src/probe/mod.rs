//! `lossc probe`: sample the declared domains, evaluate loss and gradient, and
//! cross-check what [`crate::analyze`] reported.
//!
//! **In:** a checked [`Program`] and [`ProbeOptions`] (dtype, sample count,
//! seed, which loss, which variables).
//! **Out:** a [`ProbeReport`]: for each failure [`Class`] the fraction of
//! samples that show it and the first sample that does (its witness), the
//! codes the analyzer reported, and every class that was observed but that
//! none of the codes predicting it was reported for ([`Unpredicted`]: a bug in
//! the analyzer, since soundness is its first promise).
//! **Never:** prints or does IO. Deterministic: the same program, options and
//! seed give the same report, whatever the number of threads.
//!
//! Sampling. Every element of every input is drawn, as a float of the dtype,
//! from its declared [`Domain`](lossc_ir::Domain) (docs/language.md): a
//! closed end is included exactly; an open end is excluded, its nearest
//! float inside is not; `real` is every finite float; an infinity is never
//! drawn. The draws mix (`Strategy`): uniform over the whole interval
//! (clamped to the finite floats), uniform at ordinary magnitudes (within ±10), log-uniform
//! magnitudes near 0 and distances from each end (from the smallest denormal,
//! or the end's spacing, up to the width), the exact ends, `+0` and `-0`,
//! denormals, and the largest finite magnitudes. A sample draws one strategy
//! per input, one per element, or one atom (an end, a zero, a denormal, the
//! largest value) for every element at once, or uniform draws only; some
//! samples also tie inputs of the same size (`y_pred == y_true`,
//! elementwise). A set domain contributes
//! each of its members; when the combinations of all set-valued elements
//! number at most the sample count, every combination is drawn in turn.
//!
//! Evaluation. Each sample is one batch of `N = 1` (docs/analysis.md: gradients are
//! judged per sample), other named dimensions get a small size (3, or more
//! where `take` or `one_hot` needs it); the reference interpreter
//! ([`lossc_reference`]) computes the loss and the exact gradient
//! ([`lossc_symbolic::gradient`], unsimplified) in the dtype. Samples are
//! spread over the machine's cores.
//!
//! Classes (a sample can be in several; the gradient is judged only where the
//! value is finite): [`Class::NanValue`], [`Class::InfValue`],
//! [`Class::NonFiniteGradient`], [`Class::ExplodingGradient`] (finite, some
//! element above [`EXPLODING`] in magnitude), [`Class::ZeroGradient`] (the
//! gradient with respect to some variable is exactly zero in every element).
//!
//! Fractions. A class's `fraction` is over all samples, which over-represent
//! the edges on purpose. Its `uniform_fraction` is over the *uniform*
//! samples only: every element drawn uniformly (over the interval or at
//! ordinary magnitudes) or a set member, none an end, a zero or a tie, none
//! above [`ORDINARY_MAGNITUDE`] in magnitude; it estimates the share of the
//! domain (for an unbounded one, of the box within ±10) where the class holds.
//!
//! Cross-check. Each class observed must be predicted by one of
//! [`Class::predicted_by`], reported at any severity. NaN, infinities and
//! explosions count at every sample: one is enough (docs/analysis.md, soundness).
//! A zero gradient is a finding only on a region of positive measure (a
//! zero at an edge, a tie or a rounding is not), so it counts only when at
//! least [`DEAD_FRACTION`] of the uniform samples show it (the analyzer's
//! own `dead-gradient` check reports from 1%, a margin for sampling noise).

// This file has the entry points (`probe`, `sample`), the options and the
// limits; `layout.rs` sizes the dimensions and lays out each input's
// elements; `draw.rs` draws a sample's values; `evaluate.rs` evaluates
// the samples on the cores and classifies each; `report.rs` has the
// classes, the report types, the tally of counts and witnesses, and the
// cross-check.

use std::fmt;

use lossc_diagnostics::Code;
use lossc_ir::{Dtype, NodeId, Program, ResultKind, Var};
use lossc_reference::EvalError;

use evaluate::Task;
use layout::{Layout, batch_dim, concrete, dim_sizes, row_shape};

mod draw;
mod evaluate;
mod layout;
mod report;
#[cfg(test)]
mod tests;

pub use draw::sample_values;
pub use report::{Class, ClassReport, ProbeReport, Tensor, Unpredicted, Witness};

/// The default number of samples of `lossc probe`.
pub const DEFAULT_SAMPLES: usize = 10_000;

/// A finite gradient element above this magnitude is exploding (docs/analysis.md).
pub use crate::EXPLODING;

/// A uniform sample has every element at most this large in magnitude
/// (docs/analysis.md, `overflow`: no normalised data reaches it).
pub const ORDINARY_MAGNITUDE: f64 = 1e6;

/// The share of the uniform samples with a zero gradient from which the
/// analyzer must have reported it. The analyzer's own `dead-gradient` check
/// reports from 1% of its samples; the margin up to 5% absorbs the sampling
/// noise of two independent samplers, so the cross-check does not flicker on
/// a region right at the threshold (a real region of 1-5% is reported by the
/// analyzer, and one the analyzer misses entirely shows up here).
pub const DEAD_FRACTION: f64 = 0.05;

/// The most work one probe does, in element evaluations: each sample
/// evaluates every operation of the program and its gradient over one
/// sample's elements, and an operation costs [`OPERATION_COST`] elements
/// besides. Past it, fewer samples are drawn
/// ([`ProbeReport::requested_samples`] keeps the number asked for), so the
/// cost of `lossc probe` is bounded whatever the program's size and its
/// inputs' declared shapes. Most standard losses stay under it at the
/// default 10,000 samples (focal loss draws about 8,300).
pub const WORK_BUDGET: usize = 150_000_000;

/// The fixed cost of evaluating one operation of the reference interpreter,
/// in elements (measured: about as long as 256 elements of arithmetic).
const OPERATION_COST: usize = 256;

/// The fewest samples a probe draws when the work budget cuts them (unless
/// fewer are asked for).
pub const MIN_BUDGETED_SAMPLES: usize = 100;

/// How many of `requested` samples fit [`WORK_BUDGET`] when each costs
/// `per_sample` element evaluations (at least [`MIN_BUDGETED_SAMPLES`]).
fn budgeted_samples(requested: usize, per_sample: usize) -> usize {
    let fit = WORK_BUDGET / per_sample.max(1);
    requested.min(fit.max(MIN_BUDGETED_SAMPLES))
}

/// What to probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOptions {
    /// The float type of the samples and of the evaluation.
    pub dtype: Dtype,
    /// How many samples (at least 1).
    pub samples: usize,
    /// The seed of the sampler: the same seed draws the same samples.
    pub seed: u64,
    /// The loss, by name; the program's first loss if `None`.
    pub loss: Option<String>,
    /// The variables of the gradient; the program's `wrt` if empty.
    pub wrt: Vec<Var>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            dtype: Dtype::default(),
            samples: DEFAULT_SAMPLES,
            seed: 0,
            loss: None,
            wrt: Vec::new(),
        }
    }
}

/// Why a probe could not run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProbeError {
    /// The program defines no loss.
    NoLoss,
    /// No loss or output of that name.
    UnknownLoss { name: String, known: Vec<String> },
    /// The result named is an `output`: outputs are never differentiated.
    NotALoss(String),
    /// A variable that is not an input or a param of the program.
    UnknownVar(Var),
    /// A sample count of 0.
    NoSamples,
    /// An input's domain holds no finite float of the dtype (e.g. `(0, 1e-50)`
    /// in f32).
    EmptyDomain { input: String, dtype: Dtype },
    /// The reference interpreter failed (a bug, or an index out of range).
    Eval(EvalError),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NoLoss => f.write_str("the program defines no `loss` to probe"),
            ProbeError::UnknownLoss { name, known } => {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                write!(f, "no loss named `{name}` (the program defines {known})")
            }
            ProbeError::NotALoss(name) => {
                write!(
                    f,
                    "`{name}` is an output: outputs are never differentiated; name a `loss`"
                )
            }
            ProbeError::UnknownVar(var) => write!(f, "{var:?} is not an input or param of the program"),
            ProbeError::NoSamples => f.write_str("the number of samples must be at least 1"),
            ProbeError::EmptyDomain { input, dtype } => write!(
                f,
                "the domain of input `{input}` holds no finite {dtype} value: there is nothing to sample"
            ),
            ProbeError::Eval(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ProbeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProbeError::Eval(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EvalError> for ProbeError {
    fn from(error: EvalError) -> Self {
        ProbeError::Eval(error)
    }
}

/// Samples the declared domains of `program`, evaluates the loss and its
/// gradient at each sample (one batch of `N = 1` each), classifies the
/// failures, and cross-checks them against [`crate::analyze`] (`source` is
/// the text `program` was compiled from, as `analyze` takes it): [`sample`]
/// then [`ProbeReport::cross_check`].
///
/// ```
/// use lossc_analysis::probe::{Class, ProbeOptions, probe};
///
/// let source = "input y_pred: [0, 1]\nloss = mean(-log(y_pred))";
/// let ast = lossc_syntax::parse(source).unwrap();
/// let (program, _) = lossc_ir::lower(&ast, source).unwrap();
/// let report = probe(&program, source, &ProbeOptions { samples: 200, ..ProbeOptions::default() }).unwrap();
/// let infinite = report.class(Class::InfValue);
/// assert!(infinite.count > 0);
/// assert_eq!(infinite.witness.as_ref().unwrap().input("y_pred").unwrap().values, [0.0]);
/// ```
pub fn probe(program: &Program, source: &str, options: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    let mut report = sample(program, options)?;
    let vars = resolve_vars(program, options)?;
    let analysis = crate::Options {
        dtype: options.dtype,
        loss: Some(report.loss.clone()),
        wrt: vars,
    };
    let codes: Vec<Code> = crate::analyze(program, source, &analysis)
        .iter()
        .map(|d| d.code)
        .collect();
    report.cross_check(&codes);
    Ok(report)
}

/// The sampling half of [`probe`]: the classes, their fractions and
/// witnesses, without the cross-check (`diagnostics` and `unpredicted` are
/// empty).
pub fn sample(program: &Program, options: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    if options.samples == 0 {
        return Err(ProbeError::NoSamples);
    }
    let result = match &options.loss {
        Some(name) => match program.result(name) {
            Some(result) if result.kind == ResultKind::Loss => result,
            Some(_) => return Err(ProbeError::NotALoss(name.clone())),
            None => {
                return Err(ProbeError::UnknownLoss {
                    name: name.clone(),
                    known: program.losses().map(|r| r.name.clone()).collect(),
                });
            }
        },
        None => program.losses().next().ok_or(ProbeError::NoLoss)?,
    };
    let vars = resolve_vars(program, options)?;

    let sizes = dim_sizes(program);
    let layout = Layout::new(program, &sizes, options.dtype)?;

    // The gradient, appended to a copy of the program (lossc's semantics,
    // unsimplified: the definition, not an optimisation of it).
    let mut ir = program.clone();
    let root = result.root;
    let gradients: Vec<Option<NodeId>> = vars
        .iter()
        .map(|&var| lossc_symbolic::gradient(&mut ir, root, var))
        .collect();
    let var_shapes: Vec<Vec<usize>> = vars.iter().map(|&v| concrete(&ir.var_shape(v), &sizes)).collect();
    let var_rows: Vec<Vec<usize>> = vars
        .iter()
        .zip(&var_shapes)
        .map(|(&v, shape)| row_shape(&ir.var_shape(v), shape, batch_dim(program)))
        .collect();
    // Each sample evaluates every node of the program and its gradient over
    // one sample's elements: the largest input bounds a node's elements.
    let sample_elements = program
        .inputs
        .iter()
        .map(|input| {
            concrete(&input.shape, &sizes)
                .iter()
                .skip(usize::from(input.shape.first().copied() == batch_dim(program)))
                .fold(1usize, |n, &d| n.saturating_mul(d))
        })
        .max()
        .unwrap_or(1);
    let per_sample = ir
        .nodes
        .len()
        .saturating_mul(OPERATION_COST.saturating_add(sample_elements));
    let samples = budgeted_samples(options.samples, per_sample);
    let task = Task {
        program: &ir,
        root,
        gradients: &gradients,
        vars: &vars,
        var_shapes: &var_shapes,
        var_rows: &var_rows,
        layout: &layout,
        seed: options.seed,
        samples,
    };
    let tally = match options.dtype {
        Dtype::F32 => task.run::<f32>()?,
        Dtype::F64 => task.run::<f64>()?,
    };

    let classes = Class::ALL
        .iter()
        .map(|&class| {
            let i = class.index();
            let uniform_fraction = if tally.uniform_total == 0 {
                0.0
            } else {
                tally.uniform_counts[i] as f64 / tally.uniform_total as f64
            };
            let first = tally.first[i].as_ref().map(|(_, w)| w.clone());
            let first_uniform = tally.first_uniform[i].as_ref().map(|(_, w)| w.clone());
            let witness = match class {
                Class::ZeroGradient => first_uniform.or(first),
                _ => first,
            };
            ClassReport {
                class,
                count: tally.counts[i],
                fraction: tally.counts[i] as f64 / samples as f64,
                uniform_count: tally.uniform_counts[i],
                uniform_fraction,
                witness,
            }
        })
        .collect();
    let dims = program
        .dims
        .iter()
        .zip(&sizes)
        .filter_map(|(name, size)| size.map(|s| (name.clone(), s)))
        .collect();
    Ok(ProbeReport {
        loss: result.name.clone(),
        dtype: options.dtype,
        samples,
        requested_samples: options.samples,
        uniform_samples: tally.uniform_total,
        seed: options.seed,
        dims,
        wrt: vars.iter().map(|&v| program.var_name(v).to_string()).collect(),
        classes,
        diagnostics: Vec::new(),
        unpredicted: Vec::new(),
    })
}

/// The variables of `options`, or the program's `wrt`; each checked.
fn resolve_vars(program: &Program, options: &ProbeOptions) -> Result<Vec<Var>, ProbeError> {
    let vars = if options.wrt.is_empty() {
        program.wrt.clone()
    } else {
        options.wrt.clone()
    };
    for &var in &vars {
        let known = match var {
            Var::Input(i) => i < program.inputs.len(),
            Var::Param(i) => i < program.params.len(),
        };
        if !known {
            return Err(ProbeError::UnknownVar(var));
        }
    }
    Ok(vars)
}
