//! `lossc eval`: a loss (or an output) and, with `--grad`, its gradient, on
//! data given with `--input`, as a short text summary or as JSON.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;
use ndarray::{ArrayViewD, Axis};

use crate::cli::{AnalysisArgs, Format, library_error};
use crate::data::{self, InputArg};
use crate::json::EvalReport;
use crate::output::{MappedNpy, Output};
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Evaluate a loss, or an output, and with --grad its gradient, on data.

Each input gets its data from --input NAME=SOURCE: an inline JSON array
(nested lists for more axes, numbers or booleans), a .npy file (floats,
integers or booleans) or a .csv file (one row per line; one column is a
vector). Symbolic dimensions such as N are bound from the data; data that
disagrees about a dimension is an error naming both inputs.

Prints the value (for a per-sample loss, the mean and the per-sample
values) and the gradient of the loss with respect to each --wrt variable
(default: the file's `wrt`, else y_pred), computed in --dtype (f32 by
default). In JSON, a non-finite number is the string \"NaN\", \"inf\" or \"-inf\".

Exit status: 0 success (even if a value is NaN), 1 the program has errors
(shown as `check` shows them), 2 bad usage, unreadable or inconsistent data.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc eval examples/mse.loss --input y_true='[1, 0, 1]' --input y_pred='[0.9, 0.2, 0.8]' --grad
  lossc eval -e 'mean(square(y_true - y_pred))' --input y_true=t.npy --input y_pred=p.npy
  lossc eval examples/cce_logits.loss --input y_true='[[0, 1], [1, 0]]' --input y_pred=logits.csv --grad
  lossc eval examples/focal.loss --input y_true=t.npy --input y_pred=p.npy --param gamma=3 --dtype f64
  lossc eval grad.loss --input y_true=t.npy --input y_pred=p.npy --output d_mse_d_y_pred
  lossc eval examples/mse.loss --input y_true=t.npy --input y_pred=p.npy --grad-out grad.npy
  lossc eval examples/mse.loss --input y_true=t.npy --input y_pred=p.npy --grad --format json | jq '.gradient.data'";

/// Options of `lossc eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The data of an input: `NAME=SOURCE`, SOURCE an inline JSON array, a
    /// `.npy` or a `.csv` file, e.g. `--input y_true='[1, 0, 1]'` or
    /// `--input y_pred=pred.npy`; one per input.
    #[arg(long = "input", value_name = "NAME=SOURCE", value_parser = data::parse_input)]
    pub inputs: Vec<InputArg>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Evaluate this `output` (or any named result) instead of a loss, e.g.
    /// `--output per_sample`.
    #[arg(long, value_name = "NAME", conflicts_with = "loss")]
    pub output: Option<String>,

    /// Also evaluate the gradient of the loss (implied by `--wrt` and
    /// `--grad-out`).
    #[arg(long)]
    pub grad: bool,

    /// Write the gradient (of the first `--wrt` variable) to this file as a
    /// .npy array in the evaluation's dtype (`--dtype`, f32 by default), e.g.
    /// `--grad-out grad.npy`; a file is replaced atomically (never left
    /// half-written, its permissions kept), a device such as /dev/null written
    /// in place, a FIFO or directory refused.
    #[arg(long, value_name = "FILE.npy")]
    pub grad_out: Option<PathBuf>,

    /// How to print the result: `text`, a short summary, or `json`, one
    /// object with every number, e.g. `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,

    /// Refuse inputs that hold NaN or infinity (exit status 2) instead of
    /// noting them on stderr and evaluating anyway.
    #[arg(long)]
    pub deny_nonfinite_input: bool,

    /// Refuse data outside the inputs' declared domains (exit status 2)
    /// instead of warning on stderr and evaluating anyway.
    #[arg(long)]
    pub strict_domains: bool,

    /// Fuse each pass into native code with the Rust compiler first: `off`
    /// (default; a first compilation takes about a second, cached after),
    /// `auto` (when `rustc` runs) or `on`. Same numbers either way.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::bench::JitMode::Off)]
    pub jit: crate::bench::JitMode,
}

/// Runs `eval`, writing its product to `out` (and the `--grad-out` file),
/// notes about the inputs to `err`.
pub fn run(args: &EvalArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let file = source.name.as_str();
    let dtype = args.analysis.dtype.dtype();
    let program = match program::compile(&source, &args.analysis.params, args.format, dtype, out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    args.analysis.validate(&program, file)?;
    let target = &args.analysis.target;
    let result = args.output.clone().or_else(|| target.loss.clone());
    let grad = args.grad || args.grad_out.is_some() || !target.wrt.is_empty();
    if grad
        && let Some(name) = &args.output
        && program
            .ir()
            .result(name)
            .is_some_and(|result| result.kind == lossc::ResultKind::Output)
    {
        let flag = if args.grad {
            "--grad"
        } else if args.grad_out.is_some() {
            "--grad-out"
        } else {
            "--wrt"
        };
        return Err(CliError::new(format!(
            "`{flag}`: `{name}` is an `output` of `{file}`: outputs are never differentiated; \
             name a `loss` with `--loss` for a gradient"
        )));
    }

    let mut loaded = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        loaded.push(input.open()?);
    }
    let tensors: Vec<(&str, lossc_kernel::Tensor<'_>)> = loaded
        .iter()
        .map(|input| (input.name.as_str(), input.tensor()))
        .collect();
    check_finite(&tensors, args.deny_nonfinite_input, err)?;
    for outside in program.data_outside_domains(&tensors) {
        let message = format!("input `{}` holds {}", outside.input, outside.describe());
        if args.strict_domains {
            return Err(CliError::new(format!("{message} (`--strict-domains`)")));
        }
        crate::write_warning_line(
            err,
            &format!(
                "{message}: `check`'s findings hold only for data inside the declared domains (refuse such data with `--strict-domains`)"
            ),
        );
    }
    let options = lossc::EvalOptions {
        dtype,
        result,
        grad,
        wrt: target.wrt.clone(),
    };
    let evaluator = program
        .evaluator(&options, true)
        .map_err(|error| eval_error(&error, file))?;
    match dtype {
        lossc::Dtype::F32 => finish::<f32>(args, &evaluator, &tensors, file, out, err),
        lossc::Dtype::F64 => finish::<f64>(args, &evaluator, &tensors, file, out, err),
    }
}

/// A dtype `eval` computes in, prints from and writes `.npy` files of.
trait EvalDtype: lossc_kernel::Real + Into<f64> + crate::output::NpyElement {}
impl EvalDtype for f32 {}
impl EvalDtype for f64 {}

/// Evaluates in `T`, writes `--grad-out` and the report. The arrays stay
/// in `T` (the text report prints from them, the `.npy` file has the
/// evaluation's dtype); only the JSON report, which prints every number,
/// converts them to f64.
fn finish<T: EvalDtype>(
    args: &EvalArgs,
    evaluator: &lossc_kernel::Evaluator,
    tensors: &[(&str, lossc_kernel::Tensor<'_>)],
    file: &str,
    out: &mut dyn WriteColor,
    err: &mut dyn WriteColor,
) -> Result<Status, CliError> {
    // What is at the `--grad-out` path is looked at (a FIFO or a directory
    // refused) before any work.
    let destination = match &args.grad_out {
        Some(path) if evaluator.wrt.is_empty() => {
            return Err(CliError::new(format!(
                "`--grad-out {}`: there is no gradient to write",
                path.display()
            )));
        }
        Some(path) => Some(Output::resolve(path)?),
        None => None,
    };
    let (evaluated, mut mapped) = evaluate::<T>(evaluator, tensors, args.jit, file, err, destination.as_ref())?;
    let grad_out = match (&args.grad_out, &destination) {
        (Some(path), Some(destination)) => {
            match (&mut mapped, evaluated.gradient.first()) {
                (Some(npy), _) => npy.commit()?,
                (None, Some((_, gradient))) => destination.write_npy(gradient.view())?,
                (None, None) => {}
            }
            Some(path.display().to_string())
        }
        _ => None,
    };
    // The first gradient is read back from its file when it was written there.
    let written = mapped.as_ref().map(MappedNpy::view).transpose()?;
    let gradient: Vec<(&str, ArrayViewD<'_, T>)> = evaluated
        .gradient
        .iter()
        .enumerate()
        .map(|(index, (name, array))| match (&written, index) {
            (Some(view), 0) => (name.as_str(), view.view()),
            _ => (name.as_str(), array.view()),
        })
        .collect();
    let dtype = if std::mem::size_of::<T>() == 4 {
        lossc::Dtype::F32
    } else {
        lossc::Dtype::F64
    };
    let written = match args.format {
        Format::Json => {
            let to_f64 = |a: &ndarray::ArrayD<T>| a.mapv(Into::into);
            let evaluation = lossc::Evaluation {
                name: evaluator.name.clone(),
                kind: evaluator.kind,
                dtype,
                dims: evaluated.dims.clone(),
                value: to_f64(&evaluated.value),
                per_sample: evaluated.per_sample.as_ref().map(|s| s.mapv(Into::into)),
                gradient: gradient
                    .iter()
                    .map(|(name, g)| (name.to_string(), g.mapv(Into::into)))
                    .collect(),
            };
            EvalReport::new(&evaluation, grad_out).write(out)
        }
        Format::Text => {
            let printed = Printed {
                name: &evaluator.name,
                kind: evaluator.kind,
                dtype,
                dims: &evaluated.dims,
                value: evaluated.value.view(),
                per_sample: evaluated.per_sample.as_ref().map(|s| s.view().into_dyn()),
                gradient,
            };
            write_text(out, &printed, grad_out.as_deref())
        }
    };
    finish_output(Status::Success, written)
}

/// Runs the fast evaluator in `T` (through generated code as `jit` says),
/// with a progress bar on a terminal when it takes over a second. With a
/// `--grad-out` file that can be memory-mapped (not a device), the first
/// gradient is written straight into it and not held in memory besides.
fn evaluate<T: EvalDtype>(
    evaluator: &lossc_kernel::Evaluator,
    tensors: &[(&str, lossc_kernel::Tensor<'_>)],
    jit: crate::bench::JitMode,
    file: &str,
    err: &mut dyn WriteColor,
    grad_out: Option<&Output>,
) -> Result<(lossc_kernel::Evaluated<T>, Option<MappedNpy<T>>), CliError> {
    let mut prepared = evaluator
        .prepare::<T>(tensors)
        .map_err(|error| eval_error(&lossc::Error::Eval(error), file))?;
    if let (_, Some(note)) = jit.apply::<T>(&mut prepared)? {
        let _ = writeln!(err, "{note}");
    }
    let mut mapped = match (grad_out, evaluator.gradient_shape(&prepared, 0)) {
        (Some(output), Some(shape)) => output.map_npy::<T>(shape)?,
        _ => None,
    };
    let progress = crate::bench::Progress::new("evaluating", prepared.chunks() as u64);
    let evaluated = match &mut mapped {
        Some(npy) => {
            let data = npy.data_mut()?;
            evaluator.run_into::<T>(&prepared, data, &|| progress.step())
        }
        None => Some(evaluator.run_observed::<T>(&prepared, None, &|| progress.step())),
    };
    progress.finish();
    let evaluated = evaluated.ok_or_else(|| CliError::new("the gradient's file does not have the gradient's size"))?;
    Ok((evaluated, mapped))
}

/// Reports NaN and infinity in the inputs: a note on `err`, or with
/// `--deny-nonfinite-input` an error.
fn check_finite(
    tensors: &[(&str, lossc_kernel::Tensor<'_>)],
    deny: bool,
    err: &mut dyn WriteColor,
) -> Result<(), CliError> {
    for (name, tensor) in tensors {
        let found = tensor.scan_nonfinite();
        if !found.any() {
            continue;
        }
        let shape = tensor.shape();
        let at = |index: usize| {
            let mut rest = index;
            let mut position = vec![0; shape.len()];
            for (slot, &size) in position.iter_mut().zip(shape).rev() {
                *slot = rest % size.max(1);
                rest /= size.max(1);
            }
            let parts: Vec<String> = position.iter().map(usize::to_string).collect();
            format!("[{}]", parts.join(", "))
        };
        let mut parts = Vec::new();
        if let Some(first) = found.first_nan {
            parts.push(format!("{} NaN (the first at {})", found.nan, at(first)));
        }
        if let Some(first) = found.first_inf {
            parts.push(format!("{} infinite (the first at {})", found.inf, at(first)));
        }
        let message = format!("input `{name}` holds {}", parts.join(" and "));
        if deny {
            return Err(CliError::new(format!("{message} (`--deny-nonfinite-input`)")));
        }
        crate::write_note_line(
            err,
            &format!("{message}; the results carry them (refuse such inputs with `--deny-nonfinite-input`)"),
        );
    }
    Ok(())
}

/// The message for an evaluation that failed, with a hint where one helps.
fn eval_error(error: &lossc::Error, file: &str) -> CliError {
    match error {
        lossc::Error::Eval(lossc::EvalError::MissingInput { name, .. }) => CliError::new(format!(
            "{error}: give it with `--input {name}=SOURCE` (a JSON array, a .npy or a .csv file)"
        )),
        _ => library_error(error, file),
    }
}

/// The text summary, e.g.
///
/// ```text
/// loss mse = 0.03 (f32, N = 3)
/// gradient wrt y_pred, shape [3]:
///   [-0.06666667, 0.13333334, -0.13333334]
/// ```
/// What the text report prints: a result's arrays, in the evaluation's dtype.
#[derive(Debug)]
pub struct Printed<'a, T> {
    pub name: &'a str,
    pub kind: lossc::ResultKind,
    pub dtype: lossc::Dtype,
    pub dims: &'a [(String, usize)],
    pub value: ArrayViewD<'a, T>,
    pub per_sample: Option<ArrayViewD<'a, T>>,
    pub gradient: Vec<(&'a str, ArrayViewD<'a, T>)>,
}

impl<'a> Printed<'a, f64> {
    /// The arrays of a library evaluation.
    pub fn of(evaluation: &'a lossc::Evaluation) -> Self {
        Printed {
            name: &evaluation.name,
            kind: evaluation.kind,
            dtype: evaluation.dtype,
            dims: &evaluation.dims,
            value: evaluation.value.view(),
            per_sample: evaluation.per_sample.as_ref().map(|s| s.view().into_dyn()),
            gradient: evaluation
                .gradient
                .iter()
                .map(|(n, g)| (n.as_str(), g.view()))
                .collect(),
        }
    }
}

pub fn write_text<T: Copy + Into<f64>>(
    out: &mut dyn Write,
    evaluation: &Printed<'_, T>,
    grad_out: Option<&str>,
) -> io::Result<()> {
    let dtype = evaluation.dtype;
    let mut context = vec![dtype.to_string()];
    context.extend(evaluation.dims.iter().map(|(dim, size)| format!("{dim} = {size}")));
    let context = context.join(", ");
    let kind = match evaluation.kind {
        lossc::ResultKind::Loss => "loss",
        lossc::ResultKind::Output => "output",
    };
    let value = evaluation.value.view();
    if value.ndim() == 0 {
        writeln!(
            out,
            "{kind} {} = {} ({context})",
            evaluation.name,
            tensor_text(value, "")
        )?;
    } else {
        writeln!(
            out,
            "{kind} {}, shape {} ({context}):",
            evaluation.name,
            shape_text(value.shape())
        )?;
        writeln!(out, "  {}", tensor_text(value, "  "))?;
    }
    if let Some(per_sample) = &evaluation.per_sample {
        let view = per_sample.view();
        writeln!(
            out,
            "per sample, shape {} (the loss is their mean):",
            shape_text(view.shape())
        )?;
        writeln!(out, "  {}", tensor_text(view, "  "))?;
    }
    for (index, (wrt, gradient)) in evaluation.gradient.iter().enumerate() {
        let view = gradient.view();
        let written = match grad_out {
            Some(path) if index == 0 => format!(" (written to {path})"),
            _ => String::new(),
        };
        if view.ndim() == 0 {
            writeln!(out, "gradient wrt {wrt} = {}{written}", tensor_text(view, ""))?;
        } else {
            writeln!(out, "gradient wrt {wrt}, shape {}{written}:", shape_text(view.shape()))?;
            writeln!(out, "  {}", tensor_text(view, "  "))?;
        }
    }
    Ok(())
}

/// `[3, 4]`.
fn shape_text(shape: &[usize]) -> String {
    let sizes: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", sizes.join(", "))
}

/// Above this many numbers a tensor is summarised: each long axis shows its
/// first and last [`EDGE`] entries around `...` (as NumPy prints).
const SUMMARY_THRESHOLD: usize = 100;
const EDGE: usize = 3;

/// A tensor as nested lists, one innermost list per line, continuation lines
/// starting with `indent`.
fn tensor_text<T: Copy + Into<f64>>(array: ArrayViewD<'_, T>, indent: &str) -> String {
    let summarise = array.len() > SUMMARY_THRESHOLD;
    let mut text = String::new();
    nested(&mut text, array, indent, 0, summarise);
    text
}

fn nested<T: Copy + Into<f64>>(
    text: &mut String,
    array: ArrayViewD<'_, T>,
    indent: &str,
    depth: usize,
    summarise: bool,
) {
    if array.ndim() == 0 {
        text.push_str(&number_text(array.iter().next().map_or(f64::NAN, |&v| v.into())));
        return;
    }
    let len = array.len_of(Axis(0));
    let shown: Vec<Option<usize>> = if summarise && len > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((len - EDGE..len).map(Some))
            .collect()
    } else {
        (0..len).map(Some).collect()
    };
    // Between rows of a matrix (or deeper), a line break and alignment under
    // the opening brackets; between numbers, a space.
    let separator = if array.ndim() == 1 {
        ", ".to_string()
    } else {
        format!(",\n{indent}{}", " ".repeat(depth + 1))
    };
    text.push('[');
    for (position, index) in shown.iter().enumerate() {
        if position > 0 {
            text.push_str(&separator);
        }
        match index {
            Some(index) => nested(text, array.index_axis(Axis(0), *index), indent, depth + 1, summarise),
            None => text.push_str("..."),
        }
    }
    text.push(']');
}

/// A number for people, to six significant digits as C's `%g` writes
/// it: `0.03`, `-0.0666667`, `1e-08`, `NaN`, `inf`. JSON has every digit.
pub fn number_text(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    // The exponent after rounding to DIGITS digits (0.9999999 is 1, not 0.99...).
    let scientific = format!("{value:.prec$e}", prec = DIGITS - 1);
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    if exponent < -4 || exponent >= DIGITS as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    } else {
        let decimals = (DIGITS as i32 - 1 - exponent).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

/// Significant digits of [`number_text`].
const DIGITS: usize = 6;

/// `0.500` to `0.5`, `2.000` to `2`; integers are left alone.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn numbers_have_six_significant_digits() {
        assert_eq!(number_text(f64::from(0.03_f32)), "0.03");
        assert_eq!(number_text(0.029999999999999995), "0.03");
        assert_eq!(number_text(-0.06666666666666665), "-0.0666667");
        assert_eq!(number_text(2.0), "2");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(123456.0), "123456");
        assert_eq!(number_text(1234567.0), "1.23457e+06");
        assert_eq!(number_text(0.99999999), "1");
        assert_eq!(number_text(1e-8), "1e-08");
        assert_eq!(number_text(0.0001), "0.0001");
        assert_eq!(number_text(f64::NAN), "NaN");
        assert_eq!(number_text(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn tensors_print_as_nested_lists() {
        let matrix = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.0, 3.0, 4.5]).unwrap();
        assert_eq!(tensor_text(matrix.view(), "  "), "[[1, 2],\n   [3, 4.5]]");
        let long = ArrayD::from_shape_vec(IxDyn(&[200]), (0..200).map(f64::from).collect()).unwrap();
        assert_eq!(tensor_text(long.view(), ""), "[0, 1, 2, ..., 197, 198, 199]");
    }
}
