//! The command line's shape: the `lossc` command, its subcommands, and the
//! options several commands share ([`AnalysisArgs`]).

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::CliError;
use crate::check::CheckArgs;
use crate::eval::EvalArgs;
use crate::grad::GradArgs;
use crate::probe::ProbeArgs;
use crate::simplify::SimplifyArgs;
use crate::terminal::ColorWhen;

const ABOUT: &str = "Compile and statically analyse machine-learning loss formulas.";

const LONG_ABOUT: &str = "\
Compile and statically analyse machine-learning loss formulas.

lossc reads a loss written as a formula (a .loss file, or a one-line formula
with -e) and, before any training run, reports the places where it cannot
compile or where the loss or its gradient can become NaN, infinite, exploding
or dead, with errors in the style of rustc.

It also prints the exact gradient of a loss as a .loss program (grad), the
simplified program (simplify), and evaluates a loss and its gradient on data
(eval).

Exit status: 0 no errors, 1 errors found (or warnings under --deny warnings),
2 bad usage or unreadable input.";

const EXAMPLES: &str = "\
Examples:
  lossc check examples/bce.loss
  lossc check -e 'mean(square(y_true - y_pred))'
  lossc check focal.loss --param gamma=2 --dtype f64 --deny warnings
  lossc check focal.loss --format json
  lossc grad examples/mse.loss
  lossc simplify examples/huber.loss
  lossc eval examples/mse.loss --input y_true='[1, 0, 1]' --input y_pred='[0.9, 0.2, 0.8]' --grad
  lossc plot examples/faulty_step_where.loss --out step_where.svg
  lossc repl examples/bce.loss

Run `lossc help COMMAND` for every option of a command.";

/// `lossc [--color WHEN] COMMAND ...`
#[derive(Debug, Parser)]
#[command(name = "lossc", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// When to colour the output: `auto` colours a terminal unless NO_COLOR is
    /// set, e.g. `--color always` keeps colour through `| less -R`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true, display_order = 100)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands. Each is one module of this crate with an `Args` struct and a
/// `run` function.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report every error and numerical hazard of a loss, like rustc (or as JSON).
    #[command(long_about = crate::check::LONG_ABOUT, after_help = crate::check::EXAMPLES)]
    Check(CheckArgs),
    /// Print the exact gradient of a loss as a complete .loss program.
    #[command(long_about = crate::grad::LONG_ABOUT, after_help = crate::grad::EXAMPLES)]
    Grad(GradArgs),
    /// Print the program with each loss simplified, as a valid .loss file.
    #[command(long_about = crate::simplify::LONG_ABOUT, after_help = crate::simplify::EXAMPLES)]
    Simplify(SimplifyArgs),
    /// Evaluate a loss (or an output) and its gradient on data.
    #[command(long_about = crate::eval::LONG_ABOUT, after_help = crate::eval::EXAMPLES)]
    Eval(EvalArgs),
    /// Time loss and loss + gradient on generated data with the fast evaluator.
    #[command(long_about = crate::bench::LONG_ABOUT, after_help = crate::bench::EXAMPLES)]
    Bench(crate::bench::BenchArgs),
    /// Sample the declared domains, evaluate loss and gradient, and cross-check `check`.
    #[command(long_about = crate::probe::LONG_ABOUT, after_help = crate::probe::EXAMPLES)]
    Probe(ProbeArgs),
    /// Train the smallest model a loss is meant for, and say whether it learns.
    #[command(long_about = crate::fit::LONG_ABOUT, after_help = crate::fit::EXAMPLES)]
    Fit(crate::fit::FitArgs),
    /// Print a loss as a NaN-safe Python module for JAX, PyTorch, Keras 3, TensorFlow or NumPy.
    #[command(long_about = crate::emit::LONG_ABOUT, after_help = crate::emit::EXAMPLES)]
    Emit(crate::emit::EmitArgs),
    /// Enter statements and commands one at a time, each checked as it is entered.
    #[command(long_about = crate::repl::LONG_ABOUT, after_help = crate::repl::EXAMPLES)]
    Repl(crate::repl::ReplArgs),
    /// Draw a loss and its gradient against one input, marking dead zones and kinks (SVG).
    #[command(long_about = crate::plot::LONG_ABOUT, after_help = crate::plot::EXAMPLES)]
    Plot(crate::plot::PlotArgs),
    /// Print a shell completion script for lossc.
    #[command(long_about = crate::completions::LONG_ABOUT, after_help = crate::completions::EXAMPLES)]
    Completions(crate::completions::CompletionsArgs),
    /// Print lossc's manual page (roff), or a command's.
    #[command(long_about = crate::completions::MAN_LONG_ABOUT, after_help = crate::completions::MAN_EXAMPLES)]
    Man(crate::completions::ManArgs),
    /// Show or empty the cache of generated code (`--jit`): `dir`, `info`, `clean`.
    #[command(long_about = crate::cache::LONG_ABOUT, after_help = crate::cache::EXAMPLES)]
    Cache(crate::cache::CacheArgs),
    /// Print the .loss program a Python loss function translates to (the Python package's `lossc`).
    #[command(long_about = IMPORT_LONG_ABOUT, after_help = IMPORT_EXAMPLES)]
    Import(ImportArgs),
}

const IMPORT_LONG_ABOUT: &str = "\
Print the .loss program a Python loss function translates to.

`lossc import losses.py::my_loss` traces the function with its framework
(JAX or Keras 3 `keras.ops`, TensorFlow or tf.keras, PyTorch) and prints the
program lossc checks, with a comment per statement naming the Python line it
came from. Every command that reads a .loss FILE also takes
`losses.py::my_loss`, with `--input NAME=DOMAIN` (or `--domain`),
`--shape NAME=SHAPE` and `--framework jax|tf|torch`.

Reading Python needs Python: these work in the `lossc` command that the
Python package installs (`pip install lossc`). The `lossc` binary built with
cargo reads .loss files only and says so. See docs/python.md.";

const IMPORT_EXAMPLES: &str = "\
Examples:
  lossc import losses.py::custom_loss --input y_true='{0, 1}' --input y_pred=sigmoid
  lossc check losses.py::custom_loss --input y_pred=sigmoid
  lossc import train.py::focal --framework torch --shape input='[N, 10]'";

/// `lossc import FILE.py::NAME [OPTIONS]`: handled by the Python package's
/// `lossc`; this binary only explains that.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The function, as `FILE.py::NAME`.
    #[arg(value_name = "FILE.py::NAME")]
    pub target: String,
    /// `--input NAME=DOMAIN`, `--shape NAME=SHAPE`, `--framework jax|tf|torch`, `--dtype f32|f64`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "OPTIONS")]
    pub options: Vec<String>,
}

/// Options that choose what is analysed and how: shared by the commands that
/// check or evaluate a loss (`check`, `eval`).
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// The float type to reason and compute in, as Keras's `float32` (the
    /// default) or `float64`, e.g. `--dtype f64`.
    #[arg(long, value_enum, value_name = "DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,

    #[command(flatten)]
    pub params: ParamArgs,

    #[command(flatten)]
    pub target: TargetArgs,
}

/// `--param NAME=VALUE`, repeatable: every command that compiles a program.
#[derive(Debug, Clone, Default, Args)]
pub struct ParamArgs {
    /// Use this value of a `param` instead of its declared default, e.g.
    /// `--param gamma=2`; repeat for several params.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<ParamOverride>,
}

/// `--loss NAME` and `--wrt NAME`: which loss, differentiated with respect to
/// what.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// The loss to work on, by name, when the file defines several (default:
    /// the first), e.g. `--loss focal`.
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    /// An input or param to differentiate with respect to (default: the
    /// file's `wrt`, else `y_pred`), e.g. `--wrt logits`; repeat for several.
    #[arg(long, value_name = "NAME")]
    pub wrt: Vec<String>,
}

/// `--format text|json`: every command's product, for people or for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: diagnostics as rustc renders them, programs as .loss
    /// text, numbers as a short summary.
    Text,
    /// For tools: one JSON object on stdout.
    Json,
}

/// `--dtype f32|f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    /// IEEE binary32, Keras's default.
    #[value(alias = "float32")]
    F32,
    /// IEEE binary64.
    #[value(alias = "float64")]
    F64,
}

impl DtypeArg {
    pub fn dtype(self) -> lossc::Dtype {
        match self {
            DtypeArg::F32 => lossc::Dtype::F32,
            DtypeArg::F64 => lossc::Dtype::F64,
        }
    }
}

/// One `--param NAME=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamOverride {
    pub name: String,
    pub value: f64,
}

/// Parses `NAME=VALUE` with a finite number as VALUE.
pub fn parse_param(text: &str) -> Result<ParamOverride, String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("expected NAME=VALUE, e.g. `--param gamma=2`".to_string());
    };
    let name = name.trim();
    let is_identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_identifier {
        return Err(format!("`{name}` is not a param name, e.g. `--param gamma=2`"));
    }
    match value.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(ParamOverride {
            name: name.to_string(),
            value,
        }),
        _ => Err(format!(
            "`{}` is not a finite number, e.g. `--param {name}=2`",
            value.trim()
        )),
    }
}

impl AnalysisArgs {
    /// The library's options for these arguments.
    pub fn check_options(&self) -> lossc::CheckOptions {
        lossc::CheckOptions {
            dtype: self.dtype.dtype(),
            params: self.params.pairs(),
            loss: self.target.loss.clone(),
            wrt: self.target.wrt.clone(),
        }
    }

    /// Checks that `--loss` and `--wrt` name something in `program`.
    pub fn validate(&self, program: &lossc::Program, file: &str) -> Result<(), CliError> {
        self.target.validate(program, file)
    }
}

impl ParamArgs {
    /// The overrides as `(name, value)` pairs, in command-line order.
    pub fn pairs(&self) -> Vec<(String, f64)> {
        self.params.iter().map(|p| (p.name.clone(), p.value)).collect()
    }

    /// Sets every overridden param of `program`; the error names the file and
    /// lists its params.
    pub fn apply(&self, program: &mut lossc::Program, file: &str) -> Result<(), CliError> {
        for param in &self.params {
            program
                .set_param(&param.name, param.value)
                .map_err(|error| library_error(&error, file))?;
        }
        Ok(())
    }
}

impl TargetArgs {
    /// The `--wrt` names as the library takes them.
    pub fn wrt(&self) -> Vec<&str> {
        self.wrt.iter().map(String::as_str).collect()
    }

    /// Checks that `--loss` names a loss of `program` and each `--wrt` one of
    /// its inputs or params; the error lists the names that exist.
    pub fn validate(&self, program: &lossc::Program, file: &str) -> Result<(), CliError> {
        let ir = program.ir();
        if let Some(name) = &self.loss
            && !program.losses().any(|loss| loss == name)
        {
            let losses = listing(program.losses());
            let message = if ir.result(name).is_some() {
                format!("`--loss {name}`: `{name}` is an `output` of `{file}`, not a `loss`; its losses: {losses}")
            } else {
                format!("`--loss {name}`: no loss named `{name}` in `{file}`; its losses: {losses}")
            };
            return Err(CliError::new(message));
        }
        for name in &self.wrt {
            if ir.var(name).is_none() {
                let inputs = listing(ir.inputs.iter().map(|input| input.name.as_str()));
                let params = listing(ir.params.iter().map(|param| param.name.as_str()));
                return Err(CliError::new(format!(
                    "`--wrt {name}`: no input or param named `{name}` in `{file}`; its inputs: {inputs}; its params: {params}"
                )));
            }
        }
        Ok(())
    }
}

/// The one-line message for a library error caused by the command line (a
/// bad `--param`, `--loss`, `--output` or `--wrt`, or unusable data), naming
/// `file`.
pub fn library_error(error: &lossc::Error, file: &str) -> CliError {
    use lossc::Error;
    let message = match error {
        Error::UnknownParam { name, known } if known.contains(name) => vector_param(name, file),
        Error::VectorParam(name) => vector_param(name, file),
        Error::UnknownParam { name, known } => {
            let params = listing(known.iter().map(String::as_str));
            format!("`--param {name}`: no param named `{name}` in `{file}`; its params: {params}")
        }
        Error::UnknownResult { name, known } => {
            let results = listing(known.iter().map(String::as_str));
            format!("no loss or output named `{name}` in `{file}`; it defines {results}")
        }
        Error::NotALoss(name) => format!(
            "`{name}` is an `output` of `{file}`: outputs are never differentiated; name a `loss` with `--loss`"
        ),
        Error::NoLoss => format!("`{file}` defines no `loss`: name an `output` with `--output`"),
        Error::UnknownVar { name, known } => {
            let known = listing(known.iter().map(String::as_str));
            format!("`--wrt {name}`: no input or param named `{name}` in `{file}`; it declares {known}")
        }
        Error::Eval(error) => error.to_string(),
        Error::Invalid(_) => error.to_string(),
        Error::Probe(error) => format!("cannot probe `{file}`: {error}"),
        Error::Emit(error) => format!("cannot emit `{file}`: {error}"),
    };
    CliError::new(message)
}

fn vector_param(name: &str, file: &str) -> String {
    format!("`--param {name}`: `{name}` is a vector param of `{file}`; only scalar params can be set with `--param`")
}

/// `` `a`, `b` `` or `none`.
pub(crate) fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn params_are_name_equals_finite_number() {
        assert_eq!(
            parse_param("gamma=2"),
            Ok(ParamOverride {
                name: "gamma".to_string(),
                value: 2.0
            })
        );
        assert_eq!(parse_param(" w = -1e-3 ").map(|p| p.value), Ok(-1e-3));
        assert!(parse_param("gamma").is_err());
        assert!(parse_param("=2").is_err());
        assert!(parse_param("2x=2").is_err());
        assert!(parse_param("gamma=two").is_err());
        assert!(parse_param("gamma=nan").is_err());
        assert!(parse_param("gamma=inf").is_err());
    }
}
