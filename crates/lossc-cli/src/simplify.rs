//! `lossc simplify`: the program with each loss and output simplified by the
//! e-graph, printed as a valid `.loss` file (or as JSON).

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;

use crate::cli::{Format, ParamArgs};
use crate::json::SimplifyReport;
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output, write_note_line};

pub(crate) const LONG_ABOUT: &str = "\
Print the program with each loss simplified, as a valid .loss file.

Rewrites every loss and output into an equal, cheaper form with an e-graph
(equality saturation) and prints the whole program: the declarations, `let`
bindings for shared subexpressions, then each loss and output. A --param
override becomes the printed value of that param.

If a limit stops the simplification, a note on stderr says which; the
result is still equal to the original.

Exit status: 0 success, 1 the program has errors (shown as `check` shows
them), 2 bad usage or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc simplify examples/huber.loss
  lossc simplify -e 'mean(log(exp(y_pred)) - y_true * 1)'
  lossc simplify examples/focal.loss --param gamma=2
  lossc simplify examples/bce.loss --format json | jq -r '.program'";

/// Options of `lossc simplify`.
#[derive(Debug, Clone, Args)]
pub struct SimplifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub params: ParamArgs,

    /// How to print the result: `text`, a .loss program, or `json`, one
    /// object with the program and how the simplification ended, e.g.
    /// `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `simplify`: the program on `out`, a note on `err` if a limit stopped
/// the simplification.
pub fn run(args: &SimplifyArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let program = match program::compile(&source, &args.params, args.format, lossc::Dtype::default(), out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    let simplified = program.simplify();
    if let Some(note) = program::limit_note(&simplified.report, "program") {
        write_note_line(err, &note);
    }
    let written = match args.format {
        Format::Text => out.write_all(simplified.source.as_bytes()),
        Format::Json => SimplifyReport::new(&simplified).write(out),
    };
    finish_output(Status::Success, written)
}
