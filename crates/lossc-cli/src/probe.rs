//! `lossc probe`: sample every declared domain, evaluate loss and gradient,
//! report the fraction of samples with NaN, infinite, exploding and zero
//! gradients with a witness for each, and cross-check `check`: a failure
//! that `check` did not predict is an analyzer bug (exit status 1).

use std::io::{self, Write};

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;
use lossc::Dtype;
use lossc_analysis::probe::{DEFAULT_SAMPLES, ProbeOptions, ProbeReport, Tensor as ProbeTensor, Witness};
use serde::Serialize;

use crate::cli::{AnalysisArgs, Format, library_error};
use crate::json::{Number, OrderedMap, Tensor};
use crate::program::{self, Compiled};
use crate::render::{self, Verdict};
use crate::source::{Source, SourceArgs};
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Sample the declared domains, evaluate loss and gradient, and cross-check `check`.

Draws --samples points (10000 by default, at most 1000000) from every
input's declared domain, as floats of --dtype: uniform over the interval and
at ordinary magnitudes, log-uniform near 0 and near each end, the exact
ends, +0 and -0, denormals, the largest finite values, every member of a set
(every combination of set members, when they fit), and inputs tied to each
other.
Each point is one batch of N = 1; the loss and its exact gradient with
respect to each --wrt variable are evaluated there by the reference
interpreter.

Reports, for each class of failure (nan-value, inf-value, nonfinite-gradient,
exploding-gradient above 1e6, zero-gradient), the share of all samples, the
share of the uniform samples (an estimate of the share of the domain), and
the first sample that shows it. Then runs `check` and cross-checks: any NaN,
infinity or explosion, and a zero gradient on at least 1% of the uniform
samples, must be predicted by one of the codes that report it. A failure
`check` did not predict is printed as an analyzer bug.

The same --seed draws the same points.

Exit status: 0 every failure was predicted by check, 1 an analyzer bug was
found (or the program has errors, shown as `check` shows them), 2 bad usage
or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc probe examples/faulty_log_eps.loss
  lossc probe -e 'mean(-log(y_pred))'
  lossc probe examples/bce.loss --samples 100000 --dtype f64
  lossc probe examples/focal.loss --param gamma=3 --seed 7
  lossc probe multi.loss --loss focal --wrt y_pred
  lossc probe examples/gaussian_nll.loss --format json | jq '.classes[] | select(.count > 0)'";

/// The most samples `probe --samples` draws: a million estimate a share to
/// within 0.1%, and more only make the run longer.
pub const MAX_SAMPLES: u64 = 1_000_000;

/// Options of `lossc probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// How many points to sample, from 1 to 1000000, e.g. `--samples 100000`.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_SAMPLES as u64, value_parser = clap::value_parser!(u64).range(1..=MAX_SAMPLES))]
    pub samples: u64,

    /// The seed of the sampler: the same seed draws the same points, e.g.
    /// `--seed 7`.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// How to print the report: `text`, a table, or `json`, one object with
    /// every class, witness and verdict, e.g. `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `probe`, writing the report to `out`.
pub fn run(args: &ProbeArgs, out: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let file = source.name.as_str();
    let dtype = args.analysis.dtype.dtype();
    let program = match program::compile(&source, &args.analysis.params, args.format, dtype, out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    args.analysis.validate(&program, file)?;
    if program.losses().next().is_none() {
        return Err(CliError::new(format!(
            "`{file}` defines no `loss`: there is nothing to probe \
             (add e.g. `loss mse = mean(square(y_true - y_pred))`)"
        )));
    }
    let target = &args.analysis.target;
    // `validate` checked that every name exists.
    let wrt = target.wrt.iter().filter_map(|name| program.ir().var(name)).collect();
    let options = ProbeOptions {
        dtype,
        samples: usize::try_from(args.samples).unwrap_or(usize::MAX),
        seed: args.seed,
        loss: target.loss.clone(),
        wrt,
    };
    let report = program.probe(&options).map_err(|error| library_error(&error, file))?;
    let status = if report.all_predicted() {
        Status::Success
    } else {
        Status::Findings
    };
    let written = match args.format {
        Format::Text => write_text(out, &source, &report),
        Format::Json => ProbeJson::new(&source, &report).write(out),
    };
    finish_output(status, written)
}

/// The table and the verdict, e.g.
///
/// ```text
/// probe of loss `faulty_ce` in `examples/faulty_log_eps.loss`: 10000 samples in f32 (seed 0, N = 1), gradient with respect to `y_pred`
///
/// class                 samples   uniform  witness
/// nan-value                  0%        0%  -
/// inf-value                  0%        0%  -
/// nonfinite-gradient         0%        0%  -
/// exploding-gradient     21.74%        0%  y_true = 1, y_pred = 6.312315e-25 (loss 18.420681, gradient y_pred = -100000000)
/// zero-gradient          50.00%    49.56%  y_true = 0, y_pred = 0.17290395 (loss 0, gradient y_pred = -0)
///
/// check reported: dead-gradient, exploding-gradient
/// cross-check: every failure was predicted by check
/// ```
pub fn write_text(out: &mut dyn WriteColor, source: &Source, report: &ProbeReport) -> io::Result<()> {
    let dtype = report.dtype;
    let mut context = vec![format!("seed {}", report.seed)];
    context.extend(report.dims.iter().map(|(dim, size)| format!("{dim} = {size}")));
    let wrt: Vec<String> = report.wrt.iter().map(|name| format!("`{name}`")).collect();
    writeln!(
        out,
        "probe of loss `{}` in `{}`: {} samples in {dtype} ({}), gradient with respect to {}",
        report.loss,
        source.name,
        report.samples,
        context.join(", "),
        if wrt.is_empty() {
            "nothing".to_string()
        } else {
            wrt.join(", ")
        }
    )?;
    writeln!(out)?;
    writeln!(out, "{:<20} {:>8} {:>9}  witness", "class", "samples", "uniform")?;
    for class in &report.classes {
        let witness = class
            .witness
            .as_ref()
            .map_or_else(|| "-".to_string(), |w| describe_witness(w, dtype));
        writeln!(
            out,
            "{:<20} {:>8} {:>9}  {witness}",
            class.class.as_str(),
            percent(class.fraction),
            percent(class.uniform_fraction)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "samples: the share of all {} samples, edges over-represented on purpose; \
         uniform: the share of the {} uniform samples, an estimate of the share of the domain",
        report.samples, report.uniform_samples
    )?;
    if report.samples < report.requested_samples {
        writeln!(
            out,
            "note: {} of the {} samples asked for: each sample evaluates every operation of the program \
             and its gradient, and one probe's work is bounded (see docs/analysis.md)",
            report.samples, report.requested_samples,
        )?;
    }
    let codes: Vec<&str> = report.diagnostics.iter().map(|code| code.as_str()).collect();
    writeln!(
        out,
        "check reported: {}",
        if codes.is_empty() {
            "nothing".to_string()
        } else {
            codes.join(", ")
        }
    )?;
    if report.unpredicted.is_empty() {
        return writeln!(out, "cross-check: every failure was predicted by check");
    }
    for miss in &report.unpredicted {
        let expected: Vec<&str> = miss.expected.iter().map(|code| code.as_str()).collect();
        let message = format!(
            "analyzer bug: {} at {}, but check reported none of {}",
            miss.class.as_str(),
            describe_witness(&miss.witness, dtype),
            expected.join(", ")
        );
        render::write_summary_line(out, Verdict::Error, &message)?;
    }
    Ok(())
}

/// `y_true = 1, y_pred = 0 (loss inf, gradient y_pred = -inf)`.
fn describe_witness(witness: &Witness, dtype: Dtype) -> String {
    format!(
        "{} (loss {}, gradient {})",
        witness.describe_inputs(dtype),
        lossc::ir::format_number(witness.value, dtype),
        if witness.gradients.is_empty() {
            "none".to_string()
        } else {
            witness.describe_gradients(dtype)
        }
    )
}

/// `0%`, `<0.01%`, `21.74%`.
fn percent(fraction: f64) -> String {
    if fraction == 0.0 {
        "0%".to_string()
    } else if fraction < 1e-4 {
        "<0.01%".to_string()
    } else {
        format!("{:.2}%", fraction * 100.0)
    }
}

/// The whole output of `probe --format json`:
///
/// ```text
/// {"file", "loss", "dtype", "samples", "requested_samples", "uniform_samples", "seed",
///  "dims": {"N": 1}, "wrt": ["y_pred"],
///  "classes": [{"class", "count", "fraction", "uniform_count",
///               "uniform_fraction", "witness": {"y_true": 1, "y_pred": 0}|null,
///               "value": number|null, "gradient": {"y_pred": ..}|null}],
///  "diagnostics": ["exploding-gradient", ..],
///  "unpredicted": [{"class", "witness", "value", "gradient", "expected": [codes]}],
///  "predicted": bool}
/// ```
///
/// A witness maps each input to its value (a number, or lists nested like
/// its shape); a non-finite number is the string `"NaN"`, `"inf"` or `"-inf"`.
#[derive(Debug, Serialize)]
pub struct ProbeJson<'a> {
    pub file: &'a str,
    pub loss: &'a str,
    pub dtype: &'static str,
    pub samples: usize,
    /// The samples asked for (`--samples`): more than `samples` when the
    /// probe's work budget cut them.
    pub requested_samples: usize,
    pub uniform_samples: usize,
    pub seed: u64,
    pub dims: OrderedMap<usize>,
    pub wrt: &'a [String],
    pub classes: Vec<JsonClass>,
    pub diagnostics: Vec<&'static str>,
    pub unpredicted: Vec<JsonUnpredicted>,
    /// Whether every failure was predicted by `check` (exit status 0).
    pub predicted: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonClass {
    pub class: &'static str,
    pub count: usize,
    pub fraction: f64,
    pub uniform_count: usize,
    pub uniform_fraction: f64,
    pub witness: Option<JsonTensors>,
    pub value: Option<Number>,
    pub gradient: Option<JsonTensors>,
}

#[derive(Debug, Serialize)]
pub struct JsonUnpredicted {
    pub class: &'static str,
    pub witness: JsonTensors,
    pub value: Number,
    pub gradient: JsonTensors,
    pub expected: Vec<&'static str>,
}

/// Named tensors as one object, in order: `{"y_true": 1, "y_pred": [0, 0.5]}`.
#[derive(Debug)]
pub struct JsonTensors {
    tensors: Vec<(String, ndarray::ArrayD<f64>)>,
    dtype: Dtype,
}

impl JsonTensors {
    fn new(tensors: &[ProbeTensor], dtype: Dtype) -> Self {
        let tensors = tensors
            .iter()
            .map(|t| {
                let array = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&t.shape), t.values.clone())
                    .unwrap_or_else(|_| ndarray::Array1::from(t.values.clone()).into_dyn());
                (t.name.clone(), array)
            })
            .collect();
        JsonTensors { tensors, dtype }
    }
}

impl Serialize for JsonTensors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.tensors.len()))?;
        for (name, array) in &self.tensors {
            map.serialize_entry(name, &Tensor::new(array.view(), self.dtype))?;
        }
        map.end()
    }
}

impl<'a> ProbeJson<'a> {
    pub fn new(source: &'a Source, report: &'a ProbeReport) -> Self {
        let dtype = report.dtype;
        let classes = report
            .classes
            .iter()
            .map(|class| JsonClass {
                class: class.class.as_str(),
                count: class.count,
                fraction: class.fraction,
                uniform_count: class.uniform_count,
                uniform_fraction: class.uniform_fraction,
                witness: class.witness.as_ref().map(|w| JsonTensors::new(&w.inputs, dtype)),
                value: class.witness.as_ref().map(|w| Number(w.value, dtype)),
                gradient: class.witness.as_ref().map(|w| JsonTensors::new(&w.gradients, dtype)),
            })
            .collect();
        let unpredicted = report
            .unpredicted
            .iter()
            .map(|miss| JsonUnpredicted {
                class: miss.class.as_str(),
                witness: JsonTensors::new(&miss.witness.inputs, dtype),
                value: Number(miss.witness.value, dtype),
                gradient: JsonTensors::new(&miss.witness.gradients, dtype),
                expected: miss.expected.iter().map(|code| code.as_str()).collect(),
            })
            .collect();
        ProbeJson {
            file: &source.name,
            loss: &report.loss,
            dtype: dtype.as_str(),
            samples: report.samples,
            requested_samples: report.requested_samples,
            uniform_samples: report.uniform_samples,
            seed: report.seed,
            dims: OrderedMap(report.dims.clone()),
            wrt: &report.wrt,
            classes,
            diagnostics: report.diagnostics.iter().map(|code| code.as_str()).collect(),
            unpredicted,
            predicted: report.all_predicted(),
        }
    }

    /// Writes the report as pretty-printed JSON and a final newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lossc_analysis::probe::Class;

    #[test]
    fn fractions_are_percentages() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.00001), "<0.01%");
        assert_eq!(percent(0.2174), "21.74%");
        assert_eq!(percent(1.0), "100.00%");
    }

    #[test]
    fn the_classes_are_named_in_kebab_case() {
        let names: Vec<&str> = Class::ALL.iter().map(|class| class.as_str()).collect();
        assert_eq!(
            names,
            [
                "nan-value",
                "inf-value",
                "nonfinite-gradient",
                "exploding-gradient",
                "zero-gradient"
            ]
        );
    }
}
