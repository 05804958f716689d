//! `lossc check`: every diagnostic of a program, rendered like rustc or as JSON.

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::WriteColor;
use lossc::Diagnostic;

use crate::cli::{AnalysisArgs, Format, library_error};
use crate::json::CheckReport;
use crate::render::{self, Counts, Verdict};
use crate::source::{Source, SourceArgs};
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Report every error and numerical hazard of a loss, like rustc (or as JSON).

Parses and type/shape-checks the program, then reports where the loss or its
gradient can be NaN, infinite, exploding or dead over the declared input
domains in the chosen float type. Diagnostics go to stdout, in source order,
followed by a one-line summary.

Exit status: 0 no errors (warnings allowed unless --deny warnings), 1 errors
found, 2 bad usage or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc check examples/bce.loss
  lossc check -e 'mean(square(y_true - y_pred))'
  lossc check -e '-mean(y_true * log(y_pred))' --dtype f64
  lossc check -e 'mean(-log(y_pred + 1e-8) * y_true)' --input y_true='{0,1}' --input y_pred=sigmoid
  lossc check focal.loss --param gamma=2 --param alpha=0.25
  lossc check multi.loss --loss focal --wrt logits
  lossc check focal.loss --deny warnings
  lossc check focal.loss --format json | jq '.summary'
  lossc check focal.loss --color always | less -R";

/// Options of `lossc check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// More programs to check after FILE: files, directories (every `.loss`
    /// file inside, at any depth) or `-` (standard input), e.g. `lossc check
    /// examples/`.
    #[arg(value_name = "MORE", conflicts_with = "formula")]
    pub more: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// How to print the diagnostics: `text` as rustc does, or `json`, one
    /// object on stdout for tools, e.g. `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,

    /// The domain of an input, in place of its declaration or, for an input
    /// a formula uses without declaring it, as its declaration:
    /// `--input y_true='{0, 1}' --input y_pred=sigmoid`. An output layer's
    /// name stands for its domain: `sigmoid` [0, 1], `softmax` rows on the
    /// simplex, `linear` real, `relu`/`softplus`/`exp` [0, inf), `tanh` [-1, 1].
    #[arg(long = "input", value_name = "NAME=DOMAIN", value_parser = parse_domain_override)]
    pub inputs: Vec<(String, String)>,

    /// Treat warnings as errors for the exit status, e.g. `--deny warnings`
    /// (or `-D warnings`): any warning then makes the exit status 1.
    #[arg(long, short = 'D', value_enum, value_name = "WHAT")]
    pub deny: Vec<Deny>,
}

/// What `--deny` can make fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Every warning.
    Warnings,
}

/// What `check` was asked to read: one program (a file, a formula, a
/// preloaded Python import), or several files, directories and `-`.
enum Targets {
    One,
    Many(Vec<std::path::PathBuf>),
}

impl Targets {
    fn of(args: &CheckArgs) -> Result<Targets, CliError> {
        let dash = |path: &std::path::Path| path.as_os_str() == "-";
        match &args.source.file {
            Some(first) if !args.more.is_empty() || dash(first) || first.is_dir() => {
                let mut paths = Vec::new();
                for path in std::iter::once(first).chain(&args.more) {
                    if path.is_dir() {
                        paths.extend(crate::source::loss_files_under(path)?);
                    } else {
                        paths.push(path.clone());
                    }
                }
                if paths.iter().filter(|path| dash(path)).count() > 1 {
                    return Err(CliError::new("`-` (standard input) can be read once"));
                }
                Ok(Targets::Many(paths))
            }
            _ => Ok(Targets::One),
        }
    }
}

/// Runs `check`, writing its product to `out`: for several programs, each
/// one's diagnostics and summary line in turn (a program that cannot be read
/// is an error on `err`, and the others are still checked, exit status 2),
/// then a total; as JSON, an array of the per-program objects.
pub fn run(args: &CheckArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let paths = match Targets::of(args)? {
        Targets::One => {
            let source = args.source.load()?;
            let checked = check_one(args, source)?;
            let written = match args.format {
                Format::Json => checked.json().write(out),
                Format::Text => checked.write_text(out),
            };
            return finish_output(checked.status, written);
        }
        Targets::Many(paths) => paths,
    };
    let mut status = Status::Success;
    let mut failed = 0usize;
    let mut total = Counts::default();
    let mut reports = Vec::new();
    let mut written = Ok(());
    for path in &paths {
        let loaded = if path.as_os_str() == "-" {
            crate::source::read_stdin()
        } else {
            crate::source::SourceArgs {
                file: Some(path.clone()),
                formula: None,
            }
            .load()
        };
        let checked = match loaded.and_then(|source| check_one(args, source)) {
            Ok(checked) => checked,
            Err(error) => {
                failed += 1;
                let _ = crate::write_error_line(err, &error);
                continue;
            }
        };
        if checked.status == Status::Findings {
            status = Status::Findings;
        }
        total = total.plus(checked.counts);
        match args.format {
            Format::Json => reports.push(checked),
            Format::Text => written = written.and_then(|()| checked.write_text(out)),
        }
    }
    let written = match args.format {
        Format::Json => {
            let values: Vec<CheckReport<'_>> = reports.iter().map(Checked::json).collect();
            serde_json::to_writer_pretty(&mut *out, &values)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        // One program read from `-` or found in a directory needs no total.
        Format::Text if paths.len() == 1 => written,
        Format::Text => written.and_then(|()| {
            let verdict = if status == Status::Findings || failed > 0 {
                Verdict::Error
            } else if total.warnings > 0 {
                Verdict::Warning
            } else {
                Verdict::Ok
            };
            render::write_summary_line(
                out,
                verdict,
                &if failed == 0 {
                    format!("{} files checked: {}", paths.len(), total.describe())
                } else {
                    format!(
                        "{} of {} files checked: {}",
                        paths.len() - failed,
                        paths.len(),
                        total.describe()
                    )
                },
            )
        }),
    };
    if failed > 0 {
        // The others were reported; exit status 2 says that one could not be.
        let _ = finish_output(status, written);
        return Err(CliError::new(format!(
            "{failed} of {} programs could not be checked; see the errors above",
            paths.len()
        )));
    }
    finish_output(status, written)
}

/// One program's findings.
struct Checked {
    source: Source,
    dtype: lossc::Dtype,
    diagnostics: Vec<Diagnostic>,
    counts: Counts,
    deny_warnings: bool,
    status: Status,
}

impl Checked {
    fn json(&self) -> CheckReport<'_> {
        CheckReport::new(&self.source, self.dtype, &self.diagnostics)
    }

    fn write_text(&self, out: &mut dyn WriteColor) -> std::io::Result<()> {
        render::write_diagnostics(out, &self.source, &self.diagnostics)?;
        let (verdict, message) = summary(&self.source.name, self.dtype, self.counts, self.deny_warnings);
        render::write_summary_line(out, verdict, &message)
    }
}

/// Checks one program with the command's options.
fn check_one(args: &CheckArgs, mut source: Source) -> Result<Checked, CliError> {
    if !args.inputs.is_empty() {
        source.text = lossc::with_domains(&source.text, &args.inputs)
            .map_err(|error| CliError::new(format!("`--input`: {error}")))?;
    }
    let diagnostics = diagnose(args, &source)?;
    let counts = Counts::of(&diagnostics);
    let deny_warnings = args.deny.contains(&Deny::Warnings);
    let status = if counts.errors > 0 || (deny_warnings && counts.warnings > 0) {
        Status::Findings
    } else {
        Status::Success
    };
    Ok(Checked {
        source,
        dtype: args.analysis.dtype.dtype(),
        diagnostics,
        counts,
        deny_warnings,
        status,
    })
}

/// `NAME=DOMAIN`, split at the first `=`.
fn parse_domain_override(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, domain)) if !name.trim().is_empty() && !domain.trim().is_empty() => {
            Ok((name.trim().to_string(), domain.trim().to_string()))
        }
        _ => Err(format!(
            "expected NAME=DOMAIN, e.g. `--input y_pred=sigmoid` or `--input y_true='{{0, 1}}'`, got `{text}`"
        )),
    }
}

/// The diagnostics of `source`, after checking the options against it.
///
/// When the program compiles, `--loss` and `--wrt` must name something in it,
/// and it must define a `loss` or an `output`; when it does not compile, its
/// errors are the answer and the options cannot be checked.
pub fn diagnose(args: &CheckArgs, source: &Source) -> Result<Vec<Diagnostic>, CliError> {
    if let Ok(program) = lossc::compile(&source.text) {
        args.analysis.validate(&program, &source.name)?;
        if program.ir().results.is_empty() {
            return Err(CliError::new(format!(
                "`{}` defines no `loss` and no `output`: there is nothing to check \
                 (add e.g. `loss mse = mean(square(y_true - y_pred))`)",
                source.name
            )));
        }
    }
    lossc::check(&source.text, &args.analysis.check_options()).map_err(|error| library_error(&error, &source.name))
}

/// The summary line's verdict and message.
pub fn summary(file: &str, dtype: lossc::Dtype, counts: Counts, deny_warnings: bool) -> (Verdict, String) {
    let described = counts.describe();
    if counts.errors > 0 {
        (Verdict::Error, format!("could not check `{file}`: {described}"))
    } else if deny_warnings && counts.warnings > 0 {
        (
            Verdict::Error,
            format!("could not check `{file}`: {described} (denied by `--deny warnings`)"),
        )
    } else if counts.warnings > 0 {
        (Verdict::Warning, format!("`{file}`: no errors, {described} ({dtype})"))
    } else if counts.notes > 0 {
        (
            Verdict::Ok,
            format!("`{file}`: no errors or warnings, {described} ({dtype})"),
        )
    } else {
        (Verdict::Ok, format!("`{file}`: no problems found ({dtype})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lossc::Dtype;

    fn counts(errors: usize, warnings: usize, notes: usize) -> Counts {
        Counts {
            errors,
            warnings,
            notes,
        }
    }

    #[test]
    fn summaries_read_as_sentences() {
        let line = |c, deny| summary("f.loss", Dtype::F32, c, deny).1;
        assert_eq!(line(counts(0, 0, 0), false), "`f.loss`: no problems found (f32)");
        assert_eq!(
            line(counts(2, 1, 0), false),
            "could not check `f.loss`: 2 errors, 1 warning"
        );
        assert_eq!(line(counts(0, 2, 0), false), "`f.loss`: no errors, 2 warnings (f32)");
        assert_eq!(
            line(counts(0, 1, 0), true),
            "could not check `f.loss`: 1 warning (denied by `--deny warnings`)"
        );
        assert_eq!(
            line(counts(0, 0, 1), false),
            "`f.loss`: no errors or warnings, 1 note (f32)"
        );
    }
}
