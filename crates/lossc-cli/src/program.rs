//! Compiling the program for the commands that need a valid one (`grad`,
//! `simplify`, `eval`): a program with errors is answered as `check` answers
//! it, with its diagnostics on stdout and exit status 1.

use codespan_reporting::term::termcolor::WriteColor;

use crate::cli::{Format, ParamArgs};
use crate::json::CheckReport;
use crate::render::{self, Counts, Verdict};
use crate::source::Source;
use crate::{CliError, Status, finish_output};

/// The outcome of [`compile`].
#[derive(Debug)]
pub enum Compiled {
    /// The program, with the `--param` overrides applied.
    Program(Box<lossc::Program>),
    /// The source has errors; they have been written, and the command ends
    /// with this status.
    Rejected(Status),
}

/// Compiles `source` and applies `params`. When the source has errors, writes
/// them to `out` in `format` (as `check` would) and returns
/// [`Compiled::Rejected`]; a bad `--param` is a [`CliError`].
pub fn compile(
    source: &Source,
    params: &ParamArgs,
    format: Format,
    dtype: lossc::Dtype,
    out: &mut dyn WriteColor,
) -> Result<Compiled, CliError> {
    match lossc::compile(&source.text) {
        Ok(mut program) => {
            params.apply(&mut program, &source.name)?;
            Ok(Compiled::Program(Box::new(program)))
        }
        Err(lossc::Error::Invalid(diagnostics)) => {
            let written = match format {
                Format::Json => CheckReport::new(source, dtype, &diagnostics).write(out),
                Format::Text => render::write_diagnostics(out, source, &diagnostics).and_then(|()| {
                    let counts = Counts::of(&diagnostics).describe();
                    let message = format!("could not compile `{}`: {counts}", source.name);
                    render::write_summary_line(out, Verdict::Error, &message)
                }),
            };
            finish_output(Status::Findings, written).map(Compiled::Rejected)
        }
        Err(other) => Err(crate::cli::library_error(&other, &source.name)),
    }
}

/// The note for a simplification that a limit stopped, if one did: the result
/// is still exact, only perhaps not in its simplest form.
pub fn limit_note(report: &lossc::Report, what: &str) -> Option<String> {
    match &report.stop {
        lossc::Stop::Saturated => None,
        lossc::Stop::Limit(limit) => Some(format!(
            "the simplification of the {what} stopped at the {limit}: \
             the result is exact but may not be in its simplest form"
        )),
    }
}

/// `"saturated"`, or the limit that stopped the simplification.
pub fn stop_text(stop: &lossc::Stop) -> String {
    match stop {
        lossc::Stop::Saturated => "saturated".to_string(),
        lossc::Stop::Limit(limit) => limit.clone(),
    }
}
