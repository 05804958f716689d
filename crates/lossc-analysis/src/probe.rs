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
//! from its declared [`Domain`] (docs/language.md): a closed end is included
//! exactly; an open end is excluded, its nearest float inside is not; `real`
//! is every finite float; an infinity is never drawn. The draws mix
//! ([`Strategy`]): uniform over the whole interval (clamped to the finite
//! floats), uniform at ordinary magnitudes (within ±10), log-uniform
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
//! ([`lossc_eval`]) computes the loss and the exact gradient
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

use std::fmt;

use lossc_diagnostics::Code;
use lossc_eval::{Bindings, EvalError};
use lossc_ir::builtins::Scalar;
use lossc_ir::rng::SplitMix64;
use lossc_ir::{Builtin, Dim, Domain, Dtype, NodeId, Op, Program, ResultKind, Var, format_number};
use ndarray::{ArrayD, IxDyn};
use num_traits::Float;

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

/// The size of a named dimension other than the batch, unless `take` or
/// `one_hot` needs more.
const OTHER_DIM: usize = 3;

/// The largest size given to a named dimension.
const MAX_DIM: usize = 64;

/// Uniform draws "at ordinary magnitudes" stay within ±this.
const ORDINARY_RANGE: f64 = 10.0;

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
    /// exceeds [`EXPLODING`] in magnitude.
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

    fn index(self) -> usize {
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

/// What [`probe`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// The loss probed.
    pub loss: String,
    pub dtype: Dtype,
    /// The number of samples evaluated.
    pub samples: usize,
    /// The number of samples asked for: more than [`ProbeReport::samples`]
    /// when [`WORK_BUDGET`] cut them.
    pub requested_samples: usize,
    /// How many of them are uniform samples (see the module's docs).
    pub uniform_samples: usize,
    pub seed: u64,
    /// The size given to each named dimension that an input uses, in
    /// [`Program::dims`] order (the batch dimension is 1).
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

// ------------------------------------------------------------------ dimensions

/// The size of each dimension: the batch (the leading dimension of the first
/// `wrt` input, else of the first input) is 1, every other named dimension
/// 3, or more where `take` or `one_hot` needs it.
fn dim_sizes(program: &Program) -> Vec<Option<usize>> {
    let batch = batch_dim(program);
    let mut need = OTHER_DIM;
    let mut classes_need = vec![0usize; program.dims.len()];
    let largest_label = program
        .inputs
        .iter()
        .filter_map(|input| match &input.domain {
            Domain::Set(values) => values.iter().copied().filter(|v| v.fract() == 0.0).reduce(f64::max),
            _ => None,
        })
        .reduce(f64::max);
    for node in &program.nodes {
        if let Op::Call(builtin, attrs) = &node.op {
            match builtin {
                Builtin::Take => {
                    if let Some(index) = attrs.index {
                        let size = if index >= 0 {
                            index.saturating_add(1)
                        } else {
                            index.saturating_neg()
                        };
                        need = need.max(usize::try_from(size).unwrap_or(MAX_DIM).min(MAX_DIM));
                    }
                }
                Builtin::OneHot => {
                    if let (Some(Dim::Named(id)), Some(label)) = (attrs.classes, largest_label)
                        && let Some(slot) = classes_need.get_mut(id.0 as usize)
                    {
                        // Labels are integers of a set; past MAX_DIM, as many as fit.
                        let size = if label + 1.0 > MAX_DIM as f64 {
                            MAX_DIM
                        } else {
                            (label + 1.0).max(1.0) as usize
                        };
                        *slot = (*slot).max(size);
                    }
                }
                _ => {}
            }
        }
    }
    let used: Vec<bool> = (0..program.dims.len())
        .map(|id| {
            program.inputs.iter().any(|input| {
                input
                    .shape
                    .iter()
                    .any(|d| matches!(d, Dim::Named(n) if n.0 as usize == id))
            })
        })
        .collect();
    (0..program.dims.len())
        .map(|id| {
            if !used[id] {
                return None;
            }
            if matches!(batch, Some(Dim::Named(b)) if b.0 as usize == id) {
                Some(1)
            } else {
                Some(need.max(classes_need[id]))
            }
        })
        .collect()
}

/// The batch dimension: the leading dimension of the first `wrt` input, else
/// of the first input, if it is a named one.
fn batch_dim(program: &Program) -> Option<Dim> {
    program
        .batch
        .or_else(|| program.inputs.first().and_then(|input| input.shape.first().copied()))
        .filter(|dim| matches!(dim, Dim::Named(_)))
}

/// The shape of one sample's row: `shape` (concrete) without a leading batch
/// dimension.
fn row_shape(declared: &[Dim], concrete: &[usize], batch: Option<Dim>) -> Vec<usize> {
    match (declared.first(), batch) {
        (Some(first), Some(batch)) if *first == batch => concrete[1..].to_vec(),
        _ => concrete.to_vec(),
    }
}

/// A declared shape under the probe's sizes.
fn concrete(shape: &[Dim], sizes: &[Option<usize>]) -> Vec<usize> {
    shape
        .iter()
        .map(|&d| match d {
            Dim::Fixed(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Dim::Named(id) => sizes.get(id.0 as usize).copied().flatten().unwrap_or(OTHER_DIM),
        })
        .collect()
}

// ------------------------------------------------------------------ sampling

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
enum Range {
    /// Every float in `lo..=hi` (both finite floats of the dtype, `lo <= hi`;
    /// `-0` belongs whenever `+0` does).
    Interval { lo: f64, hi: f64 },
    /// The members, as floats of the dtype, sorted, without repeats.
    Set(Vec<f64>),
}

impl Range {
    /// The floats of `domain` in `dtype`, or `None` if there are none.
    fn new(domain: &Domain, dtype: Dtype) -> Option<Range> {
        match domain {
            Domain::Real | Domain::Interval { .. } => {
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

/// One input's sampling plan.
#[derive(Debug, Clone)]
struct InputLayout {
    name: String,
    shape: Vec<usize>,
    /// The shape of one sample (without the batch dimension).
    row: Vec<usize>,
    len: usize,
    range: Range,
}

/// The inputs' plans, and the enumeration of the set-valued elements.
#[derive(Debug, Clone)]
struct Layout {
    inputs: Vec<InputLayout>,
    /// Every set-valued element (input, element) with its member count.
    set_slots: Vec<(usize, usize, usize)>,
    /// The number of combinations of the set-valued elements, if at most
    /// `u64::MAX`.
    combinations: Option<u64>,
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
struct Point {
    values: Vec<Vec<f64>>,
    uniform: bool,
}

impl Layout {
    fn new(program: &Program, sizes: &[Option<usize>], dtype: Dtype) -> Result<Layout, ProbeError> {
        let mut inputs = Vec::with_capacity(program.inputs.len());
        let mut set_slots = Vec::new();
        let mut combinations = Some(1u64);
        for (index, input) in program.inputs.iter().enumerate() {
            let range = Range::new(&input.domain, dtype).ok_or_else(|| ProbeError::EmptyDomain {
                input: input.name.clone(),
                dtype,
            })?;
            let shape = concrete(&input.shape, sizes);
            let row = row_shape(&input.shape, &shape, batch_dim(program));
            let len = shape.iter().product();
            if let Range::Set(members) = &range
                && members.len() > 1
            {
                for element in 0..len {
                    set_slots.push((index, element, members.len()));
                    combinations = combinations.and_then(|c| c.checked_mul(members.len() as u64));
                }
            }
            inputs.push(InputLayout {
                name: input.name.clone(),
                shape,
                row,
                len,
                range,
            });
        }
        Ok(Layout {
            inputs,
            set_slots,
            combinations,
        })
    }

    /// Sample `index` of `samples`, drawn from its own generator.
    fn point(&self, index: usize, samples: usize, seed: u64, dtype: Dtype) -> Point {
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
                let Some(i) = (0..j).find(|&i| self.inputs[i].len == self.inputs[j].len) else {
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

// ---------------------------------------------------------------- evaluation

/// Everything the workers share.
struct Task<'a> {
    program: &'a Program,
    root: NodeId,
    gradients: &'a [Option<NodeId>],
    vars: &'a [Var],
    var_shapes: &'a [Vec<usize>],
    /// The variables' shapes without the batch dimension.
    var_rows: &'a [Vec<usize>],
    layout: &'a Layout,
    seed: u64,
    samples: usize,
}

/// Counts and first witnesses, of one chunk of samples or of all.
#[derive(Debug, Clone, Default)]
struct Tally {
    counts: [usize; 5],
    uniform_counts: [usize; 5],
    uniform_total: usize,
    first: [Option<(usize, Witness)>; 5],
    first_uniform: [Option<(usize, Witness)>; 5],
}

impl Tally {
    fn merge(&mut self, other: Tally) {
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

impl Task<'_> {
    /// Evaluates every sample in `T`, on all cores.
    fn run<T: Float + Scalar + Send + Sync>(&self) -> Result<Tally, ProbeError> {
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 64)
            .min(self.samples.div_ceil(32).max(1));
        let chunk = self.samples.div_ceil(threads);
        let results: Vec<Result<Tally, ProbeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * chunk)..((t + 1) * chunk).min(self.samples);
                    scope.spawn(move || self.run_range::<T>(range))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload)))
                .collect()
        });
        let mut total = Tally::default();
        for result in results {
            total.merge(result?);
        }
        Ok(total)
    }

    fn run_range<T: Float + Scalar>(&self, range: std::ops::Range<usize>) -> Result<Tally, ProbeError> {
        let mut tally = Tally::default();
        let dtype = if std::mem::size_of::<T>() == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        };
        let mut roots = vec![self.root];
        roots.extend(self.gradients.iter().flatten());
        for index in range {
            let point = self.layout.point(index, self.samples, self.seed, dtype);
            tally.uniform_total += usize::from(point.uniform);
            let data = self.layout.inputs.iter().zip(&point.values).map(|(input, values)| {
                let array = ArrayD::from_shape_vec(
                    IxDyn(&input.shape),
                    values.iter().map(|&v| T::from(v).unwrap_or_else(T::nan)).collect(),
                )
                .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&input.shape), T::nan()));
                (input.name.as_str(), array)
            });
            let bindings = Bindings::new(self.program, data)?;
            let mut arrays = lossc_eval::eval(self.program, &roots, &bindings)?.into_iter();
            let value = arrays.next().map_or(f64::NAN, |a| mean(&a));
            let mut gradients = Vec::with_capacity(self.vars.len());
            for (((&var, grad), shape), row) in self
                .vars
                .iter()
                .zip(self.gradients)
                .zip(self.var_shapes)
                .zip(self.var_rows)
            {
                let values = match grad {
                    Some(_) => {
                        let array = arrays.next().unwrap_or_else(|| ArrayD::from_elem(IxDyn(&[]), T::nan()));
                        match array.broadcast(IxDyn(shape)) {
                            Some(view) => view.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect(),
                            None => array.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect(),
                        }
                    }
                    None => vec![0.0; shape.iter().product()],
                };
                gradients.push(Tensor {
                    name: self.program.var_name(var).to_string(),
                    shape: row.clone(),
                    values,
                });
            }

            let mut classes = Vec::new();
            if value.is_nan() {
                classes.push(Class::NanValue);
            } else if value.is_infinite() {
                classes.push(Class::InfValue);
            } else {
                let all = || gradients.iter().flat_map(|g| g.values.iter());
                if all().any(|g| !g.is_finite()) {
                    classes.push(Class::NonFiniteGradient);
                } else if all().any(|g| g.abs() > EXPLODING) {
                    classes.push(Class::ExplodingGradient);
                }
                if gradients.iter().any(|g| g.values.iter().all(|&v| v == 0.0)) {
                    classes.push(Class::ZeroGradient);
                }
            }
            if classes.is_empty() {
                continue;
            }
            let witness = Witness {
                index,
                inputs: self
                    .layout
                    .inputs
                    .iter()
                    .zip(point.values)
                    .map(|(input, values)| Tensor {
                        name: input.name.clone(),
                        shape: input.row.clone(),
                        values,
                    })
                    .collect(),
                value,
                gradients,
            };
            for class in classes {
                let i = class.index();
                tally.counts[i] += 1;
                if tally.first[i].is_none() {
                    tally.first[i] = Some((index, witness.clone()));
                }
                if point.uniform {
                    tally.uniform_counts[i] += 1;
                    if tally.first_uniform[i].is_none() {
                        tally.first_uniform[i] = Some((index, witness.clone()));
                    }
                }
            }
        }
        Ok(tally)
    }
}

/// The loss's value: a scalar as is, a per-sample loss as its mean (in `T`).
fn mean<T: Float + Scalar>(array: &ArrayD<T>) -> f64 {
    let values: Vec<T> = array.iter().copied().collect();
    let value = match values.len() {
        0 => T::nan(),
        1 => values[0],
        n => lossc_eval::compensated_sum(&values) / T::from(n).unwrap_or_else(T::nan),
    };
    value.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(source: &str) -> Program {
        let ast = lossc_syntax::parse(source).expect("valid syntax");
        lossc_ir::lower(&ast, source).expect("a valid program").0
    }

    /// The sampling half only: these tests do not depend on the analyzer.
    fn probe_source(source: &str, dtype: Dtype, samples: usize) -> ProbeReport {
        let options = ProbeOptions {
            dtype,
            samples,
            ..ProbeOptions::default()
        };
        sample(&compile(source), &options).expect("the probe runs")
    }

    #[test]
    fn closed_ends_zeros_denormals_and_the_largest_values_are_sampled() {
        for dtype in [Dtype::F32, Dtype::F64] {
            let values = sample_values(&Domain::interval(-1.0, true, 1.0, true), dtype, 2000, 7).unwrap();
            assert!(
                values.contains(&-1.0) && values.contains(&1.0),
                "{dtype}: the exact ends"
            );
            assert!(values.iter().any(|v| *v == 0.0 && v.is_sign_positive()), "{dtype}: +0");
            assert!(values.iter().any(|v| *v == 0.0 && v.is_sign_negative()), "{dtype}: -0");
            assert!(
                values.contains(&dtype.min_positive_subnormal()) || values.contains(&-dtype.min_positive_subnormal())
            );
            assert!(
                values
                    .iter()
                    .any(|v| *v != 0.0 && v.abs() < f64::from(f32::MIN_POSITIVE))
            );
            assert!(values.iter().all(|v| (-1.0..=1.0).contains(v) && dtype.round(*v) == *v));

            let real = sample_values(&Domain::Real, dtype, 2000, 7).unwrap();
            let max = dtype.max_finite();
            assert!(
                real.contains(&max) && real.contains(&-max),
                "{dtype}: the largest finite values"
            );
            assert!(real.iter().all(|v| v.is_finite() && dtype.round(*v) == *v));
            // Ordinary magnitudes and tiny ones are both well represented.
            assert!(real.iter().filter(|v| (1e-3..1e3).contains(&v.abs())).count() > 400);
            assert!(real.iter().any(|v| *v != 0.0 && v.abs() < 1e-30));
        }
    }

    #[test]
    fn open_ends_are_excluded_and_their_neighbours_sampled() {
        let values = sample_values(&Domain::interval(0.0, false, 1.0, false), Dtype::F32, 3000, 1).unwrap();
        assert!(values.iter().all(|&v| v > 0.0 && v < 1.0));
        assert!(
            values.contains(&f64::from(f32::from_bits(1))),
            "the smallest denormal above 0"
        );
        assert!(
            values.contains(&f64::from(1.0f32.next_down())),
            "0.99999994, the largest f32 below 1"
        );
        let f64_values = sample_values(&Domain::interval(0.0, false, 1.0, false), Dtype::F64, 3000, 1).unwrap();
        assert!(f64_values.contains(&1.0f64.next_down()));
        assert!(f64_values.contains(&f64::from_bits(1)));
    }

    #[test]
    fn infinite_ends_are_clamped_to_the_largest_finite_value() {
        let values = sample_values(&Domain::interval(0.0, true, f64::INFINITY, false), Dtype::F32, 2000, 3).unwrap();
        assert!(values.contains(&f64::from(f32::MAX)));
        assert!(values.contains(&0.0));
        assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!(values.iter().any(|v| (1.0..100.0).contains(v)));
    }

    #[test]
    fn near_the_ends_distances_are_log_uniform() {
        // Values just inside each end, at many scales, not only the end itself.
        let values = sample_values(&Domain::interval(0.0, true, 1.0, true), Dtype::F64, 5000, 11).unwrap();
        let near_one: Vec<f64> = values
            .iter()
            .map(|v| 1.0 - v)
            .filter(|d| *d > 0.0 && *d < 1e-3)
            .collect();
        assert!(near_one.iter().any(|d| *d < 1e-12) && near_one.iter().any(|d| *d > 1e-6));
    }

    #[test]
    fn sets_give_their_members_and_bounds_follow_the_dtype() {
        let values = sample_values(&Domain::Set(vec![0.0, 1.0, 2.0]), Dtype::F32, 300, 5).unwrap();
        for member in [0.0, 1.0, 2.0] {
            assert!(values.contains(&member));
        }
        assert!(values.iter().all(|v| [0.0, 1.0, 2.0].contains(v)));
        // 0.7 is not an f32 and the nearest f32 is below it, outside the
        // domain: the closed end is the first f32 inside, as for the analyzer.
        let values = sample_values(&Domain::interval(0.7, true, 1.0, true), Dtype::F32, 2000, 5).unwrap();
        assert!(values.contains(&f64::from(0.7f32.next_up())));
        assert!(values.iter().all(|v| *v >= 0.7));
        // No f32 lies in (0, 1e-46).
        assert!(matches!(
            sample_values(&Domain::interval(0.0, false, 1e-46, false), Dtype::F32, 10, 0),
            Err(ProbeError::EmptyDomain { .. })
        ));
        assert!(sample_values(&Domain::interval(0.0, false, 1e-46, false), Dtype::F64, 10, 0).is_ok());
    }

    #[test]
    fn the_same_seed_gives_the_same_report() {
        let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(-log(y_pred + 1e-8) * y_true)";
        let a = probe_source(source, Dtype::F32, 500);
        let b = probe_source(source, Dtype::F32, 500);
        assert_eq!(a, b);
    }

    #[test]
    fn log_of_zero_is_found_with_its_witness() {
        let report = probe_source("input y_pred: [0, 1]\nloss = mean(-log(y_pred))", Dtype::F64, 300);
        let inf = report.class(Class::InfValue);
        assert!(inf.count > 0);
        let witness = inf.witness.as_ref().unwrap();
        assert_eq!(witness.input("y_pred").unwrap().values, [0.0]);
        assert_eq!(witness.value, f64::INFINITY);
        assert_eq!(report.class(Class::NanValue).count, 0);
        assert_eq!(report.dims, [("N".to_string(), 1)]);
    }

    #[test]
    fn every_combination_of_set_members_is_drawn() {
        let source = "input a: {0, 1, 2}\ninput b: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(where(a == 2 and b == 1, y_pred, 0))";
        let program = compile(source);
        let sizes = dim_sizes(&program);
        let layout = Layout::new(&program, &sizes, Dtype::F32).unwrap();
        let mut seen = std::collections::HashSet::new();
        for index in 0..6 {
            let point = layout.point(index, 100, 0, Dtype::F32);
            seen.insert(((point.values[0][0]) as i64, (point.values[1][0]) as i64));
        }
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn named_dimensions_are_sized_for_one_hot_labels() {
        let program = compile(
            "input y_true: {0..9}\ninput y_pred: real [N, C]\nloss = mean(-sum(one_hot(y_true, C) * log_softmax(y_pred), axis=-1))",
        );
        let sizes = dim_sizes(&program);
        let c = program.dims.iter().position(|d| d == "C").unwrap();
        let n = program.dims.iter().position(|d| d == "N").unwrap();
        assert_eq!(sizes[n], Some(1));
        assert_eq!(sizes[c], Some(10));
    }

    #[test]
    fn the_work_budget_cuts_samples_of_large_programs_only() {
        assert_eq!(budgeted_samples(10_000, 1_000), 10_000);
        assert_eq!(budgeted_samples(10_000, WORK_BUDGET / 500), 500);
        assert_eq!(budgeted_samples(10_000, usize::MAX), MIN_BUDGETED_SAMPLES);
        assert_eq!(budgeted_samples(7, usize::MAX), 7);
        // A row of 100,000 classes: a few hundred samples, not 10,000 (which
        // took minutes), and the report keeps the number asked for.
        let source = "input y_true: [0, 1] [N, 100000]\ninput y_pred: [0.1, 1] [N, 100000]\n\
                      loss l = mean(sum(-y_true * log(y_pred), axis=-1))\n";
        let report = probe_source(source, Dtype::F32, 10_000);
        assert_eq!(report.requested_samples, 10_000);
        // The library takes any count (the CLI caps its option): the most
        // samples a caller can ask for are sized by the budget, not by the count.
        let most = probe_source(source, Dtype::F32, usize::MAX);
        assert_eq!((most.requested_samples, most.samples), (usize::MAX, report.samples));
        assert!(
            report.samples < 1_000 && report.samples >= MIN_BUDGETED_SAMPLES,
            "{}",
            report.samples
        );
        // MSE is far under the budget.
        let report = probe_source("loss l = mean(square(y_true - y_pred))\n", Dtype::F32, 10_000);
        assert_eq!(report.samples, 10_000);
    }

    #[test]
    fn a_dead_branch_covers_half_of_the_uniform_samples() {
        let report = probe_source(
            "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0.5, square(y_pred), 0))",
            Dtype::F32,
            2000,
        );
        let zero = report.class(Class::ZeroGradient);
        assert!(report.uniform_samples > 200, "{}", report.uniform_samples);
        assert!((zero.uniform_fraction - 0.5).abs() < 0.06, "{}", zero.uniform_fraction);
        let witness = zero.witness.as_ref().unwrap();
        let y = witness.input("y_pred").unwrap().values[0];
        assert!(y > 0.0 && y <= 0.5, "a uniform witness inside the dead region: {y}");
        assert_eq!(witness.gradients[0].values, [0.0]);
    }

    #[test]
    fn the_cross_check_maps_classes_to_codes() {
        let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(-log(y_pred + 1e-8) * y_true)";
        let mut report = probe_source(source, Dtype::F32, 1000);
        assert!(report.class(Class::ExplodingGradient).count > 0);
        assert!(report.class(Class::ZeroGradient).uniform_fraction > 0.3);
        assert_eq!(report.class(Class::InfValue).count, 0);

        report.cross_check(&[]);
        let classes: Vec<Class> = report.unpredicted.iter().map(|u| u.class).collect();
        assert_eq!(classes, [Class::ExplodingGradient, Class::ZeroGradient]);
        let exploding = &report.unpredicted[0];
        assert_eq!(exploding.witness.input("y_true").unwrap().values, [1.0]);
        assert!(exploding.witness.gradients[0].values[0].abs() > EXPLODING);

        // A warning or a note of any predicting code will do; repeats are dropped.
        report.cross_check(&[Code::DeadGradient, Code::ExplodingGradient, Code::DeadGradient]);
        assert!(report.all_predicted());
        assert_eq!(report.diagnostics, [Code::ExplodingGradient, Code::DeadGradient]);
        // A code for another class predicts nothing here; a domain hazard
        // predicts the explosion beside its edge.
        report.cross_check(&[Code::Discontinuity, Code::ClipSaturation]);
        let classes: Vec<Class> = report.unpredicted.iter().map(|u| u.class).collect();
        assert_eq!(classes, [Class::ExplodingGradient]);
        report.cross_check(&[Code::LogDomain, Code::ClipSaturation]);
        assert!(report.all_predicted());
    }

    #[test]
    fn zero_gradients_at_edges_only_are_not_a_dead_region() {
        // MSE: a zero gradient only where y_pred == y_true exactly (ties, zeros).
        let mut report = probe_source("loss = mean(square(y_true - y_pred))", Dtype::F64, 1000);
        let zero = report.class(Class::ZeroGradient);
        assert!(zero.count > 0, "ties are sampled");
        assert_eq!(zero.uniform_count, 0);
        report.cross_check(&[Code::Overflow]);
        assert!(report.all_predicted(), "{:?}", report.unpredicted);
    }

    #[test]
    fn an_epsilon_that_vanishes_in_f32_makes_the_loss_infinite() {
        // In f32 `1 + 1e-8 == 1`: at y_pred = 1 the log's argument is 0. In f64
        // it is 1e-8: the value is finite, the gradient 1e8.
        let source = "input y_pred: [0, 1]\nloss = mean(-log(1 + 1e-8 - y_pred))";
        let f32_report = probe_source(source, Dtype::F32, 500);
        let inf = f32_report.class(Class::InfValue);
        assert!(inf.count > 0);
        assert_eq!(inf.witness.as_ref().unwrap().input("y_pred").unwrap().values, [1.0]);

        let f64_report = probe_source(source, Dtype::F64, 500);
        assert_eq!(f64_report.class(Class::InfValue).count, 0);
        assert_eq!(f64_report.class(Class::NanValue).count, 0);
        let exploding = f64_report.class(Class::ExplodingGradient).witness.as_ref().unwrap();
        assert!(exploding.input("y_pred").unwrap().values[0] > 0.99);
    }

    #[test]
    fn a_loss_without_the_variable_has_a_zero_gradient_everywhere() {
        let report = probe_source("input y_pred: real\nloss = mean(square(y_true))", Dtype::F32, 200);
        assert_eq!(report.wrt, ["y_pred"]);
        let zero = report.class(Class::ZeroGradient);
        let finite = 200 - report.class(Class::InfValue).count - report.class(Class::NanValue).count;
        assert_eq!(zero.count, finite);
        assert_eq!(zero.uniform_fraction, 1.0);
    }

    #[test]
    fn gradients_with_respect_to_params_are_probed() {
        let program =
            compile("input y_true: {0, 1}\ninput y_pred: [0, 1]\nparam w = 2\nwrt w\nloss = mean(w * y_true * y_pred)");
        let report = sample(
            &program,
            &ProbeOptions {
                samples: 300,
                ..ProbeOptions::default()
            },
        )
        .unwrap();
        assert_eq!(report.wrt, ["w"]);
        // Zero wherever y_true = 0 or y_pred = 0: about half of the uniform samples.
        let zero = report.class(Class::ZeroGradient);
        assert!((zero.uniform_fraction - 0.5).abs() < 0.15, "{}", zero.uniform_fraction);
        assert_eq!(zero.witness.as_ref().unwrap().gradients[0].shape, Vec::<usize>::new());
    }

    #[test]
    fn bad_options_are_errors() {
        let program = compile("output o = y_pred\nloss l = mean(y_pred)");
        let options = |loss: &str| ProbeOptions {
            loss: Some(loss.to_string()),
            ..ProbeOptions::default()
        };
        assert_eq!(
            sample(&program, &options("o")),
            Err(ProbeError::NotALoss("o".to_string()))
        );
        assert!(matches!(
            sample(&program, &options("nope")),
            Err(ProbeError::UnknownLoss { .. })
        ));
        let none = ProbeOptions {
            samples: 0,
            ..ProbeOptions::default()
        };
        assert_eq!(sample(&program, &none), Err(ProbeError::NoSamples));
        let var = ProbeOptions {
            wrt: vec![Var::Param(3)],
            ..ProbeOptions::default()
        };
        assert_eq!(sample(&program, &var), Err(ProbeError::UnknownVar(Var::Param(3))));
    }
}
