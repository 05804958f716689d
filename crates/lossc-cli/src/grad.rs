//! `lossc grad`: the exact, simplified gradient of a loss, printed as a
//! complete `.loss` program whose outputs `d_<loss>_d_<wrt>` are the gradient
//! (or as JSON).

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;

use crate::cli::{Format, ParamArgs, TargetArgs, library_error};
use crate::json::GradReport;
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output, write_note_line};

pub(crate) const LONG_ABOUT: &str = "\
Print the exact gradient of a loss as a complete .loss program.

Differentiates the loss (the first, or --loss NAME) with respect to each
--wrt variable (default: the file's `wrt`, else y_pred), simplifies the
result with an e-graph, and prints a valid .loss program: the declarations,
`let` bindings for shared subexpressions, and one `output d_<loss>_d_<wrt>`
per variable. A per-sample loss is differentiated as its mean. Feeding the
program to `lossc eval --output d_<loss>_d_<wrt>` gives the same numbers as
`lossc eval --grad`.

If a limit stops the simplification, a note on stderr says which; the
gradient is still exact.

Exit status: 0 success, 1 the program has errors (shown as `check` shows
them), 2 bad usage or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc grad examples/mse.loss
  lossc grad -e 'mean(square(y_true - y_pred))'
  lossc grad examples/focal.loss --param gamma=3
  lossc grad examples/weighted_bce.loss --wrt y_pred --wrt w_pos
  lossc grad multi.loss --loss focal --format json | jq -r '.gradients.y_pred'
  lossc grad examples/mse.loss > mse_grad.loss && lossc check mse_grad.loss";

/// Options of `lossc grad`.
#[derive(Debug, Clone, Args)]
pub struct GradArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub params: ParamArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    /// How to print the gradient: `text`, a .loss program, or `json`, one
    /// object with each gradient expression and the program, e.g.
    /// `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `grad`: the program on `out`, a note on `err` if a limit stopped the
/// simplification.
pub fn run(args: &GradArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let program = match program::compile(&source, &args.params, args.format, lossc::Dtype::default(), out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    args.target.validate(&program, &source.name)?;
    let gradient = program
        .gradient(args.target.loss.as_deref(), &args.target.wrt())
        .map_err(|error| library_error(&error, &source.name))?;
    if let Some(note) = program::limit_note(&gradient.report, "gradient") {
        write_note_line(err, &note);
    }
    let written = match args.format {
        Format::Text => out.write_all(gradient.to_source().as_bytes()),
        Format::Json => GradReport::new(&gradient).write(out),
    };
    finish_output(Status::Success, written)
}
