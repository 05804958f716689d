//! lossc as a library: compile, check, differentiate and evaluate a loss.
//!
//! **In:** `.loss` source text and options.
//! **Out:** a checked [`Program`], or the diagnostics that stop it, as data.
//! **Never:** prints, exits, or reads files: the caller owns IO.
//!
//! ```
//! let program = lossc::compile("loss = mean(square(y_true - y_pred))").unwrap();
//! assert_eq!(program.losses().next().unwrap(), "loss");
//!
//! let diagnostics = lossc::check("loss = mean(squre(y_true - y_pred))", &lossc::CheckOptions::default()).unwrap();
//! assert_eq!(diagnostics[0].code, lossc::Code::UnknownName);
//! ```

pub use lossc_analysis::probe::{ProbeOptions, ProbeReport};
pub use lossc_diagnostics::{
    Code, Diagnostic, Fix, Label, LineIndex, Origin, OriginFile, Relocated, Severity, SourceMap, Span, WitnessValue,
};
pub use lossc_emit::{Emission, EmitError, Target as EmitTarget};
/// The typed IR, for users who want to go below the facade.
pub use lossc_ir as ir;
pub use lossc_ir::{Dtype, ResultKind, Var};
pub use lossc_reference::EvalError;
pub use lossc_symbolic::simplify::{Limits, Report, Stop};

mod domains;
pub use domains::{DOMAIN_ALIASES, DomainOverrideError, OutsideDomain, resolve_domain_alias, with_domains};

use lossc_ir::NodeId;
use lossc_symbolic::print;
use ndarray::ArrayD;

/// Why a program could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source has errors; every one found is here, sorted by position.
    #[error("the program has {} error(s); the first: {}", .0.len(), .0.first().map_or("", |d| d.message.as_str()))]
    Invalid(Vec<Diagnostic>),
    /// A `--param` override names no `param` of the program.
    #[error("no param named `{name}` in the program{}", suggestion(.known))]
    UnknownParam { name: String, known: Vec<String> },
    /// A `--param` override of a vector param: only scalars can be set.
    #[error("`{0}` is a vector param; only scalar params can be set")]
    VectorParam(String),
    /// No `loss` or `output` of that name.
    #[error("no loss or output named `{name}`{}", suggestion(.known))]
    UnknownResult { name: String, known: Vec<String> },
    /// Gradients are taken of losses only.
    #[error("`{0}` is an output: outputs are never differentiated; name a `loss`")]
    NotALoss(String),
    /// The program has no loss to act on by default.
    #[error("the program defines no `loss`")]
    NoLoss,
    /// A `wrt` name that is not an input or a param.
    #[error("cannot differentiate with respect to `{name}`: not an input or param{}", suggestion(.known))]
    UnknownVar { name: String, known: Vec<String> },
    /// Evaluation failed (missing or inconsistent data).
    #[error(transparent)]
    Eval(#[from] lossc_reference::EvalError),
    /// `probe` could not run: no samples asked for, or an input's domain holds
    /// no float of the dtype.
    #[error(transparent)]
    Probe(lossc_analysis::probe::ProbeError),
    /// `emit` cannot write the loss (a dimension no input's shape gives).
    #[error(transparent)]
    Emit(lossc_emit::EmitError),
}

fn suggestion(known: &[String]) -> String {
    if known.is_empty() {
        " (it declares none)".to_string()
    } else {
        format!(
            " (it declares {})",
            known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )
    }
}

/// Options shared by compilation and checking.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The float type the analysis reasons in.
    pub dtype: Dtype,
    /// `param` values that replace the declared defaults, as `--param NAME=VALUE`.
    pub params: Vec<(String, f64)>,
    /// The loss to analyse (`--loss`); every loss if `None`.
    pub loss: Option<String>,
    /// The variables of the gradient (`--wrt`); the program's `wrt` if empty.
    pub wrt: Vec<String>,
}

/// A compiled, checked program.
#[derive(Debug, Clone)]
pub struct Program {
    ir: lossc_ir::Program,
    /// The front end's warnings (e.g. an `[N, N]` broadcast).
    warnings: Vec<Diagnostic>,
    /// The text it was compiled from, which diagnostics quote.
    source: String,
}

impl Program {
    /// The typed IR, for the later stages.
    pub fn ir(&self) -> &lossc_ir::Program {
        &self.ir
    }

    /// The names of the losses, the default first.
    pub fn losses(&self) -> impl Iterator<Item = &str> {
        self.ir.losses().map(|result| result.name.as_str())
    }
}

/// The loss of `ir` named `name`, or its default (first) loss.
fn loss_name(ir: &lossc_ir::Program, name: Option<&str>) -> Result<String, Error> {
    match name {
        Some(name) => match ir.result(name) {
            Some(result) if result.kind == ResultKind::Loss => Ok(name.to_string()),
            Some(_) => Err(Error::NotALoss(name.to_string())),
            None => Err(unknown_result(ir, name)),
        },
        None => ir.losses().next().map(|r| r.name.clone()).ok_or(Error::NoLoss),
    }
}

fn unknown_result(ir: &lossc_ir::Program, name: &str) -> Error {
    Error::UnknownResult {
        name: name.to_string(),
        known: ir.results.iter().map(|r| r.name.clone()).collect(),
    }
}

/// The variables of `ir` named in `wrt`, or its own `wrt` list.
fn vars(ir: &lossc_ir::Program, wrt: &[&str]) -> Result<Vec<Var>, Error> {
    if wrt.is_empty() {
        return Ok(ir.wrt.clone());
    }
    wrt.iter()
        .map(|name| {
            ir.var(name).ok_or_else(|| Error::UnknownVar {
                name: name.to_string(),
                known: ir
                    .inputs
                    .iter()
                    .map(|i| i.name.clone())
                    .chain(ir.params.iter().map(|p| p.name.clone()))
                    .collect(),
            })
        })
        .collect()
}

/// A differentiated loss: the program with its gradient expressions.
#[derive(Debug, Clone)]
pub struct Gradient {
    /// The loss differentiated.
    pub loss: String,
    ir: lossc_ir::Program,
    /// (variable name, gradient root), in `wrt` order.
    outputs: Vec<(String, NodeId)>,
    /// How the simplification ended.
    pub report: Report,
}

impl Gradient {
    /// The variables, in order.
    pub fn wrt(&self) -> impl Iterator<Item = &str> {
        self.outputs.iter().map(|(name, _)| name.as_str())
    }

    /// The gradient with respect to `var` as one `.loss` expression.
    pub fn expression(&self, var: &str) -> Option<String> {
        let (_, node) = self.outputs.iter().find(|(name, _)| name == var)?;
        Some(print::expr(&self.ir, *node))
    }

    /// A complete `.loss` program whose outputs `d_<loss>_d_<var>` are the
    /// gradient (docs/cli.md, `lossc grad`).
    pub fn to_source(&self) -> String {
        let roots: Vec<print::Root> = self
            .outputs
            .iter()
            .map(|(var, node)| print::Root {
                kind: ResultKind::Output,
                name: format!("d_{}_d_{var}", self.loss),
                node: *node,
            })
            .collect();
        print::program(&self.ir, &roots)
    }
}

/// The losses of a program, simplified.
#[derive(Debug, Clone)]
pub struct Simplified {
    /// A complete, valid `.loss` program.
    pub source: String,
    pub report: Report,
}

/// What to evaluate.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    pub dtype: Dtype,
    /// A loss or output by name; the default loss if `None`.
    pub result: Option<String>,
    /// Also evaluate the gradient of the loss.
    pub grad: bool,
    /// The variables of the gradient; the program's `wrt` if empty.
    pub wrt: Vec<String>,
}

/// The numbers `eval` reports (docs/cli.md), as f64 whatever the dtype.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub name: String,
    pub kind: ResultKind,
    pub dtype: Dtype,
    /// Each named dimension's size, as bound from the data.
    pub dims: Vec<(String, usize)>,
    /// A loss: its value (the mean of a per-sample loss), a 0-d array. An
    /// output: the tensor.
    pub value: ArrayD<f64>,
    /// The per-sample values of a per-sample loss.
    pub per_sample: Option<ndarray::Array1<f64>>,
    /// (variable, gradient), each of the variable's shape.
    pub gradient: Vec<(String, ArrayD<f64>)>,
}

/// Compiles `source` with the declared param defaults.
pub fn compile(source: &str) -> Result<Program, Error> {
    let ast = lossc_syntax::parse(source).map_err(Error::Invalid)?;
    let (ir, warnings) = lossc_ir::lower(&ast, source).map_err(Error::Invalid)?;
    Ok(Program {
        ir,
        warnings,
        source: source.to_string(),
    })
}

impl Program {
    /// Replaces the value of `param NAME` (as `--param NAME=VALUE` does).
    pub fn set_param(&mut self, name: &str, value: f64) -> Result<(), Error> {
        if self.ir.set_param(name, value) {
            Ok(())
        } else if self.ir.param(name).is_some() {
            Err(Error::VectorParam(name.to_string()))
        } else {
            Err(Error::UnknownParam {
                name: name.to_string(),
                known: self.ir.params.iter().map(|p| p.name.clone()).collect(),
            })
        }
    }

    /// The loss named `name`, or the default (first) loss.
    fn loss_name(&self, name: Option<&str>) -> Result<String, Error> {
        loss_name(&self.ir, name)
    }

    fn unknown_result(&self, name: &str) -> Error {
        unknown_result(&self.ir, name)
    }

    /// The variables named in `wrt`, or the program's own `wrt` list.
    fn vars(&self, wrt: &[&str]) -> Result<Vec<Var>, Error> {
        vars(&self.ir, wrt)
    }

    /// The exact gradient of a loss (the default loss if `loss` is `None`)
    /// with respect to each of `wrt` (the program's `wrt` if empty),
    /// simplified. A per-sample loss is differentiated as its mean.
    ///
    /// ```
    /// let program = lossc::compile("loss mse = mean(square(y_true - y_pred))")?;
    /// let gradient = program.gradient(Some("mse"), &["y_pred"])?;
    /// assert_eq!(gradient.expression("y_pred"), Some("2 * (y_pred - y_true) / N".to_string()));
    /// # Ok::<(), lossc::Error>(())
    /// ```
    pub fn gradient(&self, loss: Option<&str>, wrt: &[&str]) -> Result<Gradient, Error> {
        let name = self.loss_name(loss)?;
        let vars = self.vars(wrt)?;
        let mut ir = self.ir.clone();
        let root = ir.result(&name).expect("checked by loss_name").root;
        let mut raw = Vec::with_capacity(vars.len());
        for &var in &vars {
            let g = match lossc_symbolic::gradient(&mut ir, root, var) {
                Some(g) => g,
                // No dependence: the gradient is exactly zero.
                None => ir.add(lossc_ir::Op::Literal(0.0), Vec::new(), ir.node(root).span),
            };
            raw.push(g);
        }
        let (simplified, report) = lossc_symbolic::simplify::simplify(&mut ir, &raw, Limits::default());
        let mut outputs = Vec::with_capacity(vars.len());
        for (&var, &g) in vars.iter().zip(&simplified) {
            // The gradient has the variable's shape, even where it is a constant.
            let var_shape = ir.var_shape(var);
            let g = if ir.node(g).ty.shape == var_shape {
                g
            } else {
                let span = ir.node(g).span;
                let leaf = match var {
                    Var::Input(i) => lossc_ir::Op::Input(i),
                    Var::Param(i) => lossc_ir::Op::Param(i),
                };
                let like = ir.add(leaf, Vec::new(), span);
                ir.add(
                    lossc_ir::Op::Call(lossc_ir::Builtin::BroadcastLike, Default::default()),
                    vec![g, like],
                    span,
                )
            };
            outputs.push((ir.var_name(var).to_string(), g));
        }
        Ok(Gradient {
            loss: name,
            ir,
            outputs,
            report,
        })
    }

    /// Every loss simplified, as a complete program, with one report per loss.
    pub fn simplify(&self) -> Simplified {
        let mut ir = self.ir.clone();
        let roots: Vec<NodeId> = ir.results.iter().map(|r| r.root).collect();
        let (new_roots, report) = lossc_symbolic::simplify::simplify(&mut ir, &roots, Limits::default());
        let printed: Vec<print::Root> = ir
            .results
            .iter()
            .zip(new_roots)
            .map(|(result, node)| print::Root {
                kind: result.kind,
                name: result.name.clone(),
                node,
            })
            .collect();
        Simplified {
            source: print::program(&ir, &printed),
            report,
        }
    }

    /// Evaluates a loss or output (and, on request, the gradient of a loss) on
    /// `inputs`, in the dtype of `options`. Numbers come back as f64.
    pub fn eval(&self, inputs: &[(String, ArrayD<f64>)], options: &EvalOptions) -> Result<Evaluation, Error> {
        match options.dtype {
            Dtype::F64 => self.eval_in::<f64>(inputs, options),
            Dtype::F32 => self.eval_in::<f32>(inputs, options),
        }
    }

    fn eval_in<T: num_traits::Float + lossc_ir::builtins::Scalar>(
        &self,
        inputs: &[(String, ArrayD<f64>)],
        options: &EvalOptions,
    ) -> Result<Evaluation, Error> {
        let name = match &options.result {
            Some(name) if self.ir.result(name).is_some() => name.clone(),
            Some(name) => return Err(self.unknown_result(name)),
            None => self.loss_name(None)?,
        };
        let result = self.ir.result(&name).expect("checked above").clone();
        let to_t = |a: &ArrayD<f64>| a.mapv(|v| T::from(v).unwrap_or_else(T::nan));
        let data: Vec<(&str, ArrayD<T>)> = inputs.iter().map(|(n, a)| (n.as_str(), to_t(a))).collect();
        let to_f64 = |a: ArrayD<T>| a.mapv(|v| v.to_f64().unwrap_or(f64::NAN));
        let mut gradients = Vec::new();
        let (ir, mut roots) = if options.grad {
            if result.kind != ResultKind::Loss {
                return Err(Error::NotALoss(name));
            }
            let wrt: Vec<&str> = options.wrt.iter().map(String::as_str).collect();
            let gradient = self.gradient(Some(&name), &wrt)?;
            let roots: Vec<NodeId> = gradient.outputs.iter().map(|(_, g)| *g).collect();
            gradients = gradient.outputs.iter().map(|(n, _)| n.clone()).collect();
            (gradient.ir, roots)
        } else {
            (self.ir.clone(), Vec::new())
        };
        roots.insert(0, result.root);
        let bindings = lossc_reference::Bindings::new(&ir, data)?;
        let mut values = lossc_reference::eval(&ir, &roots, &bindings)?.into_iter();
        let value = values.next().expect("one value per root");
        let dims = bindings.dims().map(|(n, s)| (n.to_string(), s)).collect();
        let (value, per_sample) = match (result.kind, value.ndim()) {
            (ResultKind::Loss, 1) => {
                let per_sample: ndarray::Array1<f64> = to_f64(value).into_iter().collect();
                // The mean in T, as the loss's value is defined in the dtype.
                let samples: Vec<T> = per_sample.iter().map(|v| T::from(*v).unwrap_or_else(T::nan)).collect();
                let count = T::from(samples.len().max(1)).unwrap_or_else(T::one);
                let mean = (lossc_reference::compensated_sum(&samples) / count)
                    .to_f64()
                    .unwrap_or(f64::NAN);
                (ndarray::arr0(mean).into_dyn(), Some(per_sample))
            }
            _ => (to_f64(value), None),
        };
        let gradient = gradients.into_iter().zip(values.map(to_f64)).collect();
        Ok(Evaluation {
            name,
            kind: result.kind,
            dtype: self.dtype_of::<T>(),
            dims,
            value,
            per_sample,
            gradient,
        })
    }

    fn dtype_of<T: num_traits::Float>(&self) -> Dtype {
        if std::mem::size_of::<T>() == 4 {
            Dtype::F32
        } else {
            Dtype::F64
        }
    }

    /// The findings for this program under `options`: the front end's
    /// warnings and the static analysis, sorted by position. Names in
    /// `options.loss` and `options.wrt` must exist (see [`Program::check_with`]).
    pub fn check(&self, options: &CheckOptions) -> Vec<Diagnostic> {
        self.check_with(options).unwrap_or_else(|_| self.warnings.clone())
    }

    /// [`Program::check`], reporting a `loss` or `wrt` name that does not exist.
    pub fn check_with(&self, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
        Checker::default().check(self, options)
    }

    /// Samples the declared domains (edges, zeros, denormals and the largest
    /// values included), evaluates the loss (the default loss if
    /// `options.loss` is `None`) and its gradient at each sample, and reports
    /// the fraction of samples with a NaN or infinite value, a NaN, infinite,
    /// exploding or zero gradient, with a witness for each, cross-checked
    /// against the analyzer (`lossc probe`, docs/cli.md).
    ///
    /// ```
    /// use lossc::ir::Dtype;
    /// use lossc_analysis::probe::{Class, ProbeOptions};
    ///
    /// let program = lossc::compile("input y_pred: [0, 1]\nloss = mean(-log(y_pred))")?;
    /// let options = ProbeOptions { dtype: Dtype::F64, samples: 300, ..ProbeOptions::default() };
    /// let report = program.probe(&options)?;
    /// let witness = report.class(Class::InfValue).witness.as_ref().expect("log(0) is sampled");
    /// assert_eq!(witness.input("y_pred").unwrap().values, [0.0]);
    /// # Ok::<(), lossc::Error>(())
    /// ```
    pub fn probe(
        &self,
        options: &lossc_analysis::probe::ProbeOptions,
    ) -> Result<lossc_analysis::probe::ProbeReport, Error> {
        use lossc_analysis::probe::ProbeError;
        let name = self.loss_name(options.loss.as_deref())?;
        let options = lossc_analysis::probe::ProbeOptions {
            loss: Some(name),
            ..options.clone()
        };
        lossc_analysis::probe::probe(&self.ir, &self.source, &options).map_err(|error| match error {
            ProbeError::Eval(error) => Error::Eval(error),
            ProbeError::NoLoss => Error::NoLoss,
            ProbeError::NotALoss(name) => Error::NotALoss(name),
            ProbeError::UnknownLoss { name, .. } => self.unknown_result(&name),
            other => Error::Probe(other),
        })
    }

    /// Evaluates a loss and its gradient, derived once by
    /// [`Program::gradient`], on `inputs`: the numbers [`Program::eval`] gives
    /// with `grad: true`, without differentiating again. For callers that
    /// evaluate one gradient on many batches, as `lossc fit` does.
    ///
    /// ```
    /// use ndarray::{ArrayD, IxDyn};
    ///
    /// let program = lossc::compile("loss mse = mean(square(y_true - y_pred))")?;
    /// let gradient = program.gradient(None, &["y_pred"])?;
    /// let data = |v: &[f64]| ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap();
    /// let inputs = [("y_true".to_string(), data(&[1.0, 0.0])), ("y_pred".to_string(), data(&[0.5, 0.0]))];
    /// let evaluation = program.eval_gradient(&gradient, &inputs, lossc::Dtype::F64)?;
    /// assert_eq!(evaluation.value[[]], 0.125);
    /// assert_eq!(evaluation.gradient[0].1.as_slice().unwrap(), [-0.5, 0.0]);
    /// # Ok::<(), lossc::Error>(())
    /// ```
    pub fn eval_gradient(
        &self,
        gradient: &Gradient,
        inputs: &[(String, ArrayD<f64>)],
        dtype: Dtype,
    ) -> Result<Evaluation, Error> {
        match dtype {
            Dtype::F64 => self.eval_gradient_in::<f64>(gradient, inputs),
            Dtype::F32 => self.eval_gradient_in::<f32>(gradient, inputs),
        }
    }

    fn eval_gradient_in<T: num_traits::Float + lossc_ir::builtins::Scalar>(
        &self,
        gradient: &Gradient,
        inputs: &[(String, ArrayD<f64>)],
    ) -> Result<Evaluation, Error> {
        let ir = &gradient.ir;
        let result = ir
            .result(&gradient.loss)
            .ok_or_else(|| self.unknown_result(&gradient.loss))?;
        let to_t = |a: &ArrayD<f64>| a.mapv(|v| T::from(v).unwrap_or_else(T::nan));
        let to_f64 = |a: ArrayD<T>| a.mapv(|v| v.to_f64().unwrap_or(f64::NAN));
        let data: Vec<(&str, ArrayD<T>)> = inputs.iter().map(|(n, a)| (n.as_str(), to_t(a))).collect();
        let mut roots = vec![result.root];
        roots.extend(gradient.outputs.iter().map(|(_, g)| *g));
        let bindings = lossc_reference::Bindings::new(ir, data)?;
        let mut values = lossc_reference::eval(ir, &roots, &bindings)?.into_iter();
        let value = values.next().expect("one value per root");
        let dims = bindings.dims().map(|(n, s)| (n.to_string(), s)).collect();
        let (value, per_sample) = if value.ndim() == 1 {
            // A per-sample loss: its value is the mean, taken in T as `eval` does.
            let samples: Vec<T> = value.iter().copied().collect();
            let count = T::from(samples.len().max(1)).unwrap_or_else(T::one);
            let mean = (lossc_reference::compensated_sum(&samples) / count)
                .to_f64()
                .unwrap_or(f64::NAN);
            (
                ndarray::arr0(mean).into_dyn(),
                Some(to_f64(value).into_iter().collect()),
            )
        } else {
            (to_f64(value), None)
        };
        let names = gradient.outputs.iter().map(|(n, _)| n.clone());
        Ok(Evaluation {
            name: gradient.loss.clone(),
            kind: ResultKind::Loss,
            dtype: self.dtype_of::<T>(),
            dims,
            value,
            per_sample,
            gradient: names.zip(values.map(to_f64)).collect(),
        })
    }

    /// Prepares a loss (the default loss if `options.loss` is `None`) for
    /// `lossc emit`: [`Emission::module`] then writes it as a readable,
    /// NaN-safe Python module for JAX, PyTorch, Keras 3, TensorFlow or NumPy
    /// (docs/cli.md). The module's docstring reports this program's
    /// diagnostics (in `options.dtype`) and which of them the emitted code fixes.
    ///
    /// ```
    /// let program = lossc::compile("input y_pred: [0, 1]\nloss nll = mean(-log(y_pred))")?;
    /// let module = program.emit(&lossc::EmitOptions::default())?.module(lossc::EmitTarget::Torch);
    /// assert!(module.contains("def nll(y_pred):"));
    /// assert!(module.contains("torch.mean(-torch.log(y_pred))"));
    /// # Ok::<(), lossc::Error>(())
    /// ```
    pub fn emit(&self, options: &EmitOptions) -> Result<Emission, Error> {
        let name = self.loss_name(options.loss.as_deref())?;
        let wrt: Vec<&str> = options.wrt.iter().map(String::as_str).collect();
        let vars = self.vars(&wrt)?;
        let check = CheckOptions {
            dtype: options.dtype,
            params: Vec::new(),
            loss: Some(name.clone()),
            wrt: options.wrt.clone(),
        };
        let emit = lossc_emit::Options {
            loss: name.clone(),
            wrt: vars,
            dtype: options.dtype,
            diagnostics: if options.no_check {
                Vec::new()
            } else {
                self.check_with(&check)?
            },
            file: options.file.clone(),
            guards: !options.unguarded,
            checked: !options.no_check,
        };
        lossc_emit::prepare(&self.ir, &self.source, &emit).map_err(Error::Emit)
    }
}

/// What [`Program::emit`] prepares.
#[derive(Debug, Clone, Default)]
pub struct EmitOptions {
    /// The loss, by name; the default (first) loss if `None`.
    pub loss: Option<String>,
    /// The variables the loss is differentiated with respect to; the
    /// program's `wrt` if empty.
    pub wrt: Vec<String>,
    /// The float type of the analysis the module's docstring reports.
    pub dtype: Dtype,
    /// The file name the docstring names.
    pub file: Option<String>,
    /// Leave out the "double where" guards: the plain transcription, whose
    /// framework gradient can be NaN (for comparison and tests).
    pub unguarded: bool,
    /// Skip the analysis: the docstring then reports no diagnostics and the
    /// analyzer's stable-form fixes are not applied (faster, for tests).
    pub no_check: bool,
}

/// Every diagnostic for `source`, sorted by position: the front end's errors
/// if it has any, or else the findings of [`Program::check`].
///
/// `Err` only for a bad option: a `--param` that names no param.
pub fn check(source: &str, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
    Checker::default().check_source(source, options)
}

/// Checks programs loss by loss, keeping each loss's findings for as long as
/// what they depend on is unchanged: a program that grows by one loss (a
/// REPL session, an edited file checked again) costs the analysis of that
/// loss alone.
///
/// Each loss is analysed on its own, in the program cut down to the
/// operations it computes (with every declaration): its findings depend on
/// that, the dtype, the variables, and the source text up to the last byte
/// any of it points into, which together are the key its findings are kept
/// under. A loss whose key is unchanged is not analysed again; keys not used
/// by the latest check are forgotten. The program-wide check of constants
/// (which also covers `let`s and outputs no loss reads) is cheap and runs on
/// every check.
///
/// ```
/// let mut checker = lossc::Checker::default();
/// let options = lossc::CheckOptions::default();
/// let first = "input y_pred: (0, 1)\nloss a = mean(-log(y_pred))";
/// checker.check_source(first, &options)?;
/// let second = format!("{first}\nloss b = mean(square(y_pred))");
/// let diagnostics = checker.check_source(&second, &options)?;
/// assert_eq!(checker.analysed(), 2, "`a` is not analysed again");
/// assert_eq!(diagnostics, lossc::check(&second, &options)?);
/// # Ok::<(), lossc::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Checker {
    /// Each loss's findings by a digest of the key of what they depend on.
    kept: std::collections::HashMap<Digest, Vec<Diagnostic>>,
    /// How many losses were analysed (not found in `kept`).
    analysed: usize,
    /// The last check of a whole [`Session`] program, whose losses a
    /// program appended to it keeps unchanged.
    last: Option<LastCheck>,
    /// The losses of the last check whose own findings include an error.
    with_errors: Vec<String>,
}

/// A 128-bit digest of a loss's key: two SipHashes of it.
type Digest = (u64, u64);

/// What a [`Checker`] remembers of the last [`Session`] it checked whole.
#[derive(Debug, Clone)]
struct LastCheck {
    revision: u64,
    dtype: Dtype,
    vars: Vec<Var>,
    /// Each loss's key digest, in program order.
    keys: Vec<Digest>,
}

impl Checker {
    /// How many losses this checker has analysed: the work it did, the ones
    /// whose findings were kept not counted.
    pub fn analysed(&self) -> usize {
        self.analysed
    }

    /// The losses of the last check whose findings include an error (a
    /// value or gradient that can be NaN or infinite, ...), in program
    /// order. Errors of the program-wide check of constants belong to no
    /// loss.
    pub fn losses_with_errors(&self) -> &[String] {
        &self.with_errors
    }

    /// [`check`], reusing the findings of losses checked before.
    pub fn check_source(&mut self, source: &str, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
        let mut program = match compile(source) {
            Ok(program) => program,
            Err(Error::Invalid(diagnostics)) => return Ok(diagnostics),
            Err(other) => return Err(other),
        };
        for (name, value) in &options.params {
            program.set_param(name, *value)?;
        }
        self.check(&program, options)
    }

    /// [`Program::check_with`], reusing the findings of losses checked before.
    pub fn check(&mut self, program: &Program, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
        self.check_parts(&program.ir, &program.source, &program.warnings, options, None)
    }

    /// [`Checker::check`] of a [`Session`]'s program. The losses of the
    /// program it was appended to are known unchanged when that program
    /// was the last one this checker checked whole with the same dtype and
    /// variables: only the appended losses are looked at, so an entry costs
    /// the work of what it adds. `options.params` must be empty (a session
    /// sets params by its statements).
    pub fn check_session(&mut self, session: &Session, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
        if !options.params.is_empty() {
            let mut program = session.to_program();
            for (name, value) in &options.params {
                program.set_param(name, *value)?;
            }
            return self.check(&program, options);
        }
        let revision = Some((session.revision, session.base));
        self.check_parts(
            session.lowering.program(),
            &session.source,
            session.lowering.warnings(),
            options,
            revision,
        )
    }

    /// The check of `ir`; `revision`: the session program's revision and
    /// the one it was appended to (with its number of losses), if any.
    fn check_parts(
        &mut self,
        ir: &lossc_ir::Program,
        source: &str,
        warnings: &[Diagnostic],
        options: &CheckOptions,
        revision: Option<(u64, Option<(u64, usize)>)>,
    ) -> Result<Vec<Diagnostic>, Error> {
        if let Some(name) = &options.loss {
            loss_name(ir, Some(name))?;
        }
        let wrt: Vec<&str> = options.wrt.iter().map(String::as_str).collect();
        let vars = if wrt.is_empty() { Vec::new() } else { vars(ir, &wrt)? };
        // The losses known unchanged since the last check: their keys.
        let last = self.last.take();
        let unchanged: &[Digest] = match (&last, revision) {
            (Some(last), Some((current, base)))
                if last.dtype == options.dtype && last.vars == vars && options.loss.is_none() =>
            {
                match base {
                    _ if last.revision == current => &last.keys,
                    Some((base, losses)) if last.revision == base && losses <= last.keys.len() => &last.keys[..losses],
                    _ => &[],
                }
            }
            _ => &[],
        };
        let mut kept = std::collections::HashMap::new();
        let mut keys = Vec::new();
        let mut found = Vec::new();
        self.with_errors.clear();
        for (index, loss) in ir.losses().enumerate() {
            if options.loss.as_ref().is_some_and(|name| *name != loss.name) {
                continue;
            }
            let (key, alone) = match unchanged.get(index) {
                Some(&key) => (key, None),
                None => {
                    let alone = only_loss(ir, loss);
                    (digest(&loss_key(&alone, source, options.dtype, &vars)), Some(alone))
                }
            };
            let findings = match self.kept.remove(&key).or_else(|| kept.get(&key).cloned()) {
                Some(findings) => findings,
                None => {
                    self.analysed += 1;
                    let alone = alone.unwrap_or_else(|| only_loss(ir, loss));
                    let analysis = lossc_analysis::Options {
                        dtype: options.dtype,
                        loss: Some(loss.name.clone()),
                        wrt: vars.clone(),
                    };
                    lossc_analysis::analyze(&alone, source, &analysis)
                }
            };
            if findings.iter().any(|d| d.severity == Severity::Error) {
                self.with_errors.push(loss.name.clone());
            }
            found.extend(findings.iter().cloned());
            kept.insert(key, findings);
            keys.push(key);
        }
        self.last = match revision {
            Some((revision, _)) if options.loss.is_none() => Some(LastCheck {
                revision,
                dtype: options.dtype,
                vars: vars.clone(),
                keys,
            }),
            _ => None,
        };
        // The constants of the whole program: no loss has an empty name.
        let constants = lossc_analysis::Options {
            dtype: options.dtype,
            loss: Some(String::new()),
            wrt: vars,
        };
        found.extend(lossc_analysis::analyze(ir, source, &constants));
        self.kept = kept;
        // One diagnostic per code and place, the most severe, as the analyzer does.
        found.sort_by_key(|d| std::cmp::Reverse(d.severity));
        let mut seen = std::collections::HashSet::new();
        found.retain(|d| seen.insert((d.code, d.span)));
        let assumed = assumed_domains(ir, source, options, &found);
        let mut diagnostics = warnings.to_vec();
        diagnostics.extend(found);
        diagnostics.extend(assumed);
        lossc_diagnostics::sort(&mut diagnostics);
        Ok(diagnostics)
    }
}

/// The domains tried for an input declared without one, in order of
/// preference (a probability is what most losses take), each with what it
/// is for the user.
const CANDIDATE_DOMAINS: [(&str, &str, [f64; 2], [bool; 2]); 3] = [
    (
        "[0, 1]",
        "a probability, such as a sigmoid output",
        [0.0, 1.0],
        [true, true],
    ),
    (
        "[0, inf)",
        "a non-negative value, such as a relu or softplus output",
        [0.0, f64::INFINITY],
        [true, false],
    ),
    (
        "(0, inf)",
        "a positive value, such as an exp output",
        [0.0, f64::INFINITY],
        [false, false],
    ),
];

/// One `assumed-domain` note per input declared without a domain
/// (`input x [N]`), said on the declaration: the analysis took it to be any
/// real number. When stating one of [`CANDIDATE_DOMAINS`] leaves fewer
/// errors (then fewer warnings) than `found` has (checked by analysing the
/// program again with that domain), the note names the one that leaves the
/// fewest, with both counts. An input used without any declaration (`y_pred`
/// in a one-liner) gets the note, on its first use, only in that case.
fn assumed_domains(
    ir: &lossc_ir::Program,
    source: &str,
    options: &CheckOptions,
    found: &[Diagnostic],
) -> Vec<Diagnostic> {
    let counts = |findings: &[Diagnostic]| {
        let errors = findings.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = findings.iter().filter(|d| d.severity == Severity::Warning).count();
        (errors, warnings)
    };
    let baseline = counts(found);
    let analysis = lossc_analysis::Options {
        dtype: options.dtype,
        loss: options.loss.clone(),
        wrt: options
            .wrt
            .iter()
            .filter_map(|name| vars(ir, &[name.as_str()]).ok())
            .flatten()
            .collect(),
    };
    let mut notes = Vec::new();
    for (index, input) in ir.inputs.iter().enumerate() {
        if input.domain_stated {
            continue;
        }
        let mut best: Option<((usize, usize), &str, &str)> = None;
        if baseline != (0, 0) {
            for (text, meaning, [lo, hi], [lo_closed, hi_closed]) in CANDIDATE_DOMAINS {
                let mut ir = ir.clone();
                ir.inputs[index].domain = lossc_ir::Domain::Interval {
                    lo,
                    lo_closed,
                    hi,
                    hi_closed,
                };
                let with = counts(&lossc_analysis::analyze(&ir, source, &analysis));
                if with < best.map_or(baseline, |(fewest, _, _)| fewest) {
                    best = Some((with, text, meaning));
                }
            }
        }
        let name = &input.name;
        // An input a one-liner uses without declaring it (`y_true`, `y_pred`)
        // gets the note only where a domain would change the findings.
        if input.implicit && best.is_none() {
            continue;
        }
        let mut note = if input.implicit {
            Diagnostic::note(
                Code::AssumedDomain,
                format!("`{name}` is not declared, so `check` took it as any real number"),
                input.span,
            )
            .with_label("used without a declaration")
        } else {
            Diagnostic::note(
                Code::AssumedDomain,
                format!("`{name}` is declared without a domain, so `check` assumed it can be any real number"),
                input.span,
            )
            .with_label("no domain stated")
        };
        note = match best {
            Some((with, text, meaning)) => {
                let tally = |(errors, warnings): (usize, usize)| {
                    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                    format!("{} and {}", plural(errors, "error"), plural(warnings, "warning"))
                };
                note.with_note(format!(
                    "as {text} ({meaning}), `check` finds {} instead of {}",
                    tally(with),
                    tally(baseline)
                ))
                .with_help(if input.implicit {
                    format!(
                        "declare the domain `{name}`'s values have: `input {name}: {text}` in a file, \
                         `--input {name}='{text}'` on the command line (in Python, `inputs={{\"{name}\": \"{text}\"}}`)"
                    )
                } else {
                    format!(
                        "state the domain `{name}`'s values have: `input {name}: {text}` (in Python, `inputs={{\"{name}\": \"{text}\"}}`)"
                    )
                })
            }
            None => note.with_help(format!(
                "state the domain `{name}`'s values have (`input {name}: [0, 1]`, `{{0, 1}}`, `real`, ...): the analysis is only as precise as the domains"
            )),
        };
        notes.push(note);
    }
    notes
}

/// The digest a loss's findings are kept under.
fn digest(key: &str) -> Digest {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let half = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        salt.hash(&mut hasher);
        key.hash(&mut hasher);
        hasher.finish()
    };
    (half(0), half(1))
}

/// A program compiled statement by statement, as a REPL session grows: a
/// `let`, `loss` or `output` appended to it is parsed and lowered alone,
/// against what is already compiled, and [`Checker::check_session`]
/// analyses only the losses it adds. Anything else (a declaration, a
/// replaced statement, an error) compiles the whole program again, with the
/// same result.
///
/// ```
/// let session = lossc::Session::new("input y_pred: (0, 1)\nloss a = mean(-log(y_pred))")?;
/// let session = session.append("loss b = mean(square(y_pred))")?;
/// assert_eq!(session.source(), "input y_pred: (0, 1)\nloss a = mean(-log(y_pred))\nloss b = mean(square(y_pred))");
/// assert_eq!(session.statements_lowered(), 3, "each statement lowered once");
/// assert_eq!(session.to_program().ir(), lossc::compile(session.source())?.ir());
/// # Ok::<(), lossc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    lowering: lossc_ir::Lowering,
    source: String,
    /// Unique to this program.
    revision: u64,
    /// The revision this one was appended to, and its number of losses.
    base: Option<(u64, usize)>,
}

impl Session {
    /// Compiles a whole program.
    pub fn new(source: &str) -> Result<Session, Error> {
        let ast = lossc_syntax::parse(source).map_err(Error::Invalid)?;
        let lowering = lossc_ir::Lowering::new(&ast, source).map_err(Error::Invalid)?;
        Ok(Session {
            lowering,
            source: source.to_string(),
            revision: next_revision(),
            base: None,
        })
    }

    /// The program with `text` appended on a new line (or as the whole
    /// program, if it is blank). `text` of `let`, `loss` and `output`
    /// statements only is lowered alone; anything else compiles the whole
    /// program. `Err` holds the diagnostics of the whole program.
    pub fn append(self, text: &str) -> Result<Session, Error> {
        if self.source.trim().is_empty() {
            return Session::new(text);
        }
        let source = format!("{}\n{text}", self.source);
        let losses = self.lowering.program().losses().count();
        let revision = self.revision;
        let appended = lossc_syntax::parse_at(text, self.source.len() + 1)
            .ok()
            .and_then(|ast| self.lowering.append(&ast, &source));
        match appended {
            Some(lowering) => Ok(Session {
                lowering,
                source,
                revision: next_revision(),
                base: Some((revision, losses)),
            }),
            None => Session::new(&source),
        }
    }

    /// The whole program's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The IR.
    pub fn ir(&self) -> &lossc_ir::Program {
        self.lowering.program()
    }

    /// Statements lowered to build this program since it was last compiled
    /// whole (that compilation's included): the work, for tests that bound it.
    pub fn statements_lowered(&self) -> usize {
        self.lowering.statements_lowered()
    }

    /// The program, as [`compile`] gives it.
    pub fn to_program(&self) -> Program {
        let (ir, warnings) = self.lowering.clone().into_parts();
        Program {
            ir,
            warnings,
            source: self.source.clone(),
        }
    }
}

/// A number no other [`Session`] program of this process has.
fn next_revision() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The program with `loss` as its only result and only the nodes it
/// computes (renumbered, still in topological order); every declaration kept.
fn only_loss(ir: &lossc_ir::Program, loss: &lossc_ir::NamedResult) -> lossc_ir::Program {
    let mut needed = ir.reachable(&[loss.root]);
    needed.truncate(loss.root.index() + 1);
    let mut renumbered = vec![NodeId(0); needed.len()];
    let mut nodes = Vec::new();
    for (i, _) in needed.iter().enumerate().filter(|(_, keep)| **keep) {
        let mut node = ir.nodes[i].clone();
        for arg in &mut node.args {
            *arg = renumbered[arg.index()];
        }
        renumbered[i] = NodeId(nodes.len() as u32);
        nodes.push(node);
    }
    lossc_ir::Program {
        results: vec![lossc_ir::NamedResult {
            root: renumbered[loss.root.index()],
            ..loss.clone()
        }],
        nodes,
        dims: ir.dims.clone(),
        inputs: ir.inputs.clone(),
        params: ir.params.clone(),
        consts: ir.consts.clone(),
        wrt: ir.wrt.clone(),
        batch: ir.batch,
        lets: kept_lets(ir, &needed, &renumbered),
    }
}

/// The `let`s of `ir` whose node is kept, with its new id.
fn kept_lets(ir: &lossc_ir::Program, kept: &[bool], renumbered: &[NodeId]) -> Vec<lossc_ir::LetBinding> {
    ir.lets
        .iter()
        .filter(|l| kept.get(l.node.index()).copied().unwrap_or(false))
        .map(|l| lossc_ir::LetBinding {
            node: renumbered[l.node.index()],
            ..l.clone()
        })
        .collect()
}

/// Everything the findings of the one loss of `alone` depend on: the
/// program, the options, and the source text up to the last byte it points into.
fn loss_key(alone: &lossc_ir::Program, source: &str, dtype: Dtype, vars: &[Var]) -> String {
    let spans = alone
        .nodes
        .iter()
        .map(|n| n.span)
        .chain(alone.inputs.iter().map(|i| i.span))
        .chain(alone.params.iter().chain(&alone.consts).map(|c| c.span))
        .chain(alone.results.iter().map(|r| r.span));
    let end = spans.map(|span| span.end).max().unwrap_or(0);
    let text = source.get(..end).unwrap_or(source);
    format!("{dtype:?}\n{vars:?}\n{alone:?}\n{text}")
}

/// The fast evaluator: fused, chunked, parallel kernels (`lossc_kernel`).
impl Program {
    /// Compiles a loss or output (the default loss if `options.result` is
    /// `None`) and, with `options.grad`, the gradient of a loss, for the
    /// fast evaluator. `samples`: also return a per-sample loss's samples
    /// (else only their mean is computed). Run it as often as needed with
    /// [`lossc_kernel::Evaluator::run`] in f32 or f64; [`Program::eval_fast`]
    /// does both steps.
    pub fn evaluator(&self, options: &EvalOptions, samples: bool) -> Result<lossc_kernel::Evaluator, Error> {
        let name = match &options.result {
            Some(name) if self.ir.result(name).is_some() => name.clone(),
            Some(name) => return Err(self.unknown_result(name)),
            None => self.loss_name(None)?,
        };
        let result = self.ir.result(&name).expect("checked above").clone();
        let compiled = if options.grad {
            if result.kind != ResultKind::Loss {
                return Err(Error::NotALoss(name));
            }
            let wrt: Vec<&str> = options.wrt.iter().map(String::as_str).collect();
            let gradient = self.gradient(Some(&name), &wrt)?;
            lossc_kernel::Evaluator::new(
                &gradient.ir,
                &name,
                result.kind,
                result.root,
                &gradient.outputs,
                samples,
            )
        } else {
            lossc_kernel::Evaluator::new(&self.ir, &name, result.kind, result.root, &[], samples)
        };
        compiled.map_err(Error::Eval)
    }

    /// [`Program::eval`] on the fast evaluator: the same numbers within the
    /// bounds `lossc_kernel` states (its tests hold it to the reference
    /// interpreter), read from inputs of any element type and memory order.
    ///
    /// ```
    /// use lossc_kernel::Tensor;
    /// use ndarray::{ArrayD, IxDyn};
    ///
    /// let program = lossc::compile("loss mse = mean(square(y_true - y_pred))")?;
    /// let t = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0f32, 0.0]).unwrap();
    /// let p = ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.5f32, 0.0]).unwrap();
    /// let options = lossc::EvalOptions { grad: true, ..Default::default() };
    /// let inputs = [("y_true", Tensor::F32(t.view())), ("y_pred", Tensor::F32(p.view()))];
    /// let evaluation = program.eval_fast(&inputs, &options)?;
    /// assert_eq!(evaluation.value[[]], 0.125);
    /// assert_eq!(evaluation.gradient[0].1.as_slice().unwrap(), [-0.5, 0.0]);
    /// # Ok::<(), lossc::Error>(())
    /// ```
    pub fn eval_fast(
        &self,
        inputs: &[(&str, lossc_kernel::Tensor<'_>)],
        options: &EvalOptions,
    ) -> Result<Evaluation, Error> {
        let evaluator = self.evaluator(options, true)?;
        match options.dtype {
            Dtype::F32 => Ok(fast_evaluation(&evaluator, evaluator.run::<f32>(inputs)?, Dtype::F32)),
            Dtype::F64 => Ok(fast_evaluation(&evaluator, evaluator.run::<f64>(inputs)?, Dtype::F64)),
        }
    }
}

/// The fast evaluator's numbers as [`Evaluation`]'s f64s.
fn fast_evaluation<T: lossc_kernel::Real>(
    evaluator: &lossc_kernel::Evaluator,
    evaluated: lossc_kernel::Evaluated<T>,
    dtype: Dtype,
) -> Evaluation {
    let to_f64 = |a: ArrayD<T>| a.mapv(|v| v.as_f64());
    Evaluation {
        name: evaluator.name.clone(),
        kind: evaluator.kind,
        dtype,
        dims: evaluated.dims,
        value: to_f64(evaluated.value),
        per_sample: evaluated.per_sample.map(|s| s.mapv(|v| v.as_f64())),
        gradient: evaluated
            .gradient
            .into_iter()
            .map(|(name, g)| (name, to_f64(g)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    /// The losses whose own findings hold an error, kept or analysed again.
    #[test]
    fn the_checker_names_the_losses_with_errors() {
        let mut checker = Checker::default();
        let options = CheckOptions::default();
        let text = "input y_pred: [0, 1]\nloss a = mean(-log(y_pred))\nloss b = mean(square(y_pred))\nloss c = mean(1 / y_pred)";
        checker.check_source(text, &options).unwrap();
        assert_eq!(checker.losses_with_errors(), ["a", "c"]);
        // Kept findings count too.
        checker.check_source(text, &options).unwrap();
        assert_eq!(checker.analysed(), 3);
        assert_eq!(checker.losses_with_errors(), ["a", "c"]);
        let fixed = "input y_pred: [0, 1]\nloss a = mean(-log(y_pred + 1e-7))\nloss b = mean(square(y_pred))";
        checker.check_source(fixed, &options).unwrap();
        assert!(checker.losses_with_errors().is_empty());
    }

    fn assumed(source: &str) -> Vec<Diagnostic> {
        compile(source)
            .unwrap()
            .check(&CheckOptions::default())
            .into_iter()
            .filter(|d| d.code == Code::AssumedDomain)
            .collect()
    }

    /// An input without a domain gets one note, naming the candidate that
    /// removes the most findings when one does: `log(y_pred + 1e-8)` is
    /// fine on [0, 1]; `sqrt(y_pred)` needs (0, inf); `square` needs none.
    #[test]
    fn an_input_without_a_domain_is_noted_with_the_domain_that_helps() {
        let plus_eps = assumed("input y_true: {0, 1}\ninput y_pred [N]\nloss ce = mean(-log(y_pred + 1e-8) * y_true)");
        let [note] = plus_eps.as_slice() else {
            panic!("{plus_eps:?}")
        };
        assert_eq!(note.severity, Severity::Note);
        assert!(
            note.notes[0].starts_with("as [0, 1] (a probability"),
            "{:?}",
            note.notes
        );
        assert!(note.help.as_deref().unwrap().contains("input y_pred: [0, 1]"));

        // sqrt: its gradient is infinite at 0, so [0, 1] and [0, inf) leave an error.
        let root = assumed("input y_pred\nloss = mean(sqrt(y_pred))");
        let [note] = root.as_slice() else { panic!("{root:?}") };
        assert!(note.notes[0].starts_with("as (0, inf)"), "{:?}", note.notes);

        let square = assumed("input y_true [N]\ninput y_pred [N]\nloss = mean(square(y_true - y_pred))");
        assert_eq!(square.len(), 2, "{square:?}");
        assert!(
            square
                .iter()
                .all(|d| d.notes.is_empty() && d.help.as_deref().unwrap().contains("[0, 1]"))
        );

        // A stated domain, `real` included, or an implicit input: no note.
        assert!(assumed("input y_pred: real\nloss = mean(-log(y_pred))").is_empty());
        assert!(assumed("input y_pred [N]\nloss = mean(-log(y_pred + 1e-8))")[0].notes[0].contains("finds 0 errors"));
        assert!(assumed("loss = mean(-log(y_pred))").is_empty());
    }

    /// `input x [SHAPE]` and `input x` declare an input without a domain;
    /// brackets after a name without a colon are a shape, and a domain
    /// written there is an error that shows the colon.
    #[test]
    fn an_input_can_be_declared_without_a_domain() {
        let program = compile("input x [N, 3]\ninput w\nloss = mean(sum(x, axis=-1) * w)").unwrap();
        let [x, w] = program.ir.inputs.as_slice() else { panic!() };
        assert_eq!(
            (x.domain.clone(), x.domain_stated, x.implicit),
            (lossc_ir::Domain::Real, false, false)
        );
        assert_eq!(program.ir.shape_string(&x.shape), "[N, 3]");
        assert_eq!(program.ir.shape_string(&w.shape), "[N]");
        assert!(!w.domain_stated);
        let stated = compile("input x: real [N]\nloss = mean(x)").unwrap();
        assert!(stated.ir.inputs[0].domain_stated);
        let Err(Error::Invalid(errors)) = compile("input p [0, 1]\nloss = mean(p)") else {
            panic!("a domain without its colon is an error")
        };
        assert!(
            errors[0].notes.iter().any(|n| n.contains("write `input p: [0, 1]`")),
            "{errors:?}"
        );
    }

    /// The suggestion is checked, not guessed: with the named domain stated,
    /// the program has that many fewer errors and warnings.
    #[test]
    fn the_named_domain_removes_what_the_note_says() {
        let unstated = "input y_pred [N]\nloss = mean(-log(y_pred + 1e-8) + sqrt(y_pred))";
        let [note] = assumed(unstated).try_into().unwrap();
        let serious = |source: &str| {
            compile(source)
                .unwrap()
                .check(&CheckOptions::default())
                .iter()
                .filter(|d| d.severity >= Severity::Warning)
                .count()
        };
        let before = serious(unstated);
        let stated = unstated.replace("input y_pred [N]", "input y_pred: (0, inf)");
        assert!(note.notes[0].starts_with("as (0, inf)"), "{:?}", note.notes);
        let counts = |source: &str| {
            let found = compile(source).unwrap().check(&CheckOptions::default());
            let errors = found.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = found.iter().filter(|d| d.severity == Severity::Warning).count();
            format!(
                "{errors} error{} and {warnings} warning{}",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            )
        };
        assert!(
            note.notes[0].ends_with(&format!(
                "`check` finds {} instead of {}",
                counts(&stated),
                counts(unstated)
            )),
            "{:?}",
            note.notes
        );
        assert!(serious(&stated) < before);
    }

    /// `def f{i}(a) = f{i-1}(a) + f{i-1}(a)`, 30 levels: 2^30 copies of
    /// `a * 2` if any stage walked the program as a tree.
    #[test]
    fn every_stage_takes_a_def_fan_out_as_a_dag() {
        let mut source = String::from("input y_pred: [0, 1]\ndef f0(a) = a * 2\n");
        for i in 1..=30 {
            source.push_str(&format!("def f{i}(a) = f{}(a) + f{}(a)\n", i - 1, i - 1));
        }
        source.push_str("loss = mean(f30(y_pred))\n");
        let program = compile(&source).expect("valid");
        assert!(program.ir().nodes.len() < 40, "{} nodes", program.ir().nodes.len());
        let options = CheckOptions {
            dtype: Dtype::F64,
            ..CheckOptions::default()
        };
        program.check_with(&options).expect("checks");
        let gradient = program.gradient(None, &[]).expect("differentiates");
        let inputs = [(
            "y_pred".to_string(),
            ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.25, 0.5]).expect("shape"),
        )];
        let evaluation = program
            .eval_gradient(&gradient, &inputs, Dtype::F64)
            .expect("evaluates");
        // 2^31 * mean(y_pred), and its gradient 2^31 / N.
        assert_eq!(evaluation.value[[]], 2f64.powi(31) * 0.375);
        assert_eq!(
            evaluation.gradient[0].1.as_slice().expect("contiguous"),
            [2f64.powi(30); 2]
        );
        let emission = program.emit(&EmitOptions::default()).expect("emits");
        assert!(emission.module(EmitTarget::Jax).contains("def loss(y_pred):"));
    }
}
