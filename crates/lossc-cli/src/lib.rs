//! The `lossc` command line, the one part of lossc that does IO.
//!
//! **In:** command-line arguments, a `.loss` file (or a `-e` formula), the
//! `NO_COLOR` environment variable and whether stdout is a terminal.
//! **Out:** the command's product on stdout (diagnostics rendered like rustc,
//! a `.loss` program, evaluated numbers, or one JSON object as docs/cli.md
//! fixes it), a one-line `error:` on stderr when the input cannot be used,
//! `note:` lines on stderr for what the user should know about a result, the
//! `--grad-out` file, and an exit status: 0 success, 1 the check found errors
//! (or warnings under `--deny warnings`), 2 bad usage or unreadable input.
//! **Never:** analyses anything itself (every finding comes from the `lossc`
//! library), panics or prints a backtrace on any input, or writes anything but
//! JSON to stdout in JSON mode.
//!
//! Layout: [`cli`] holds the clap definitions and the options every command
//! shares; each command is one module with its `Args` and a `run` function
//! ([`check`], [`grad`], [`simplify`], [`eval`]); [`source`] reads the
//! program, [`data`] the tensors `eval` works on; [`output`] writes the files
//! commands produce (`--grad-out`, `--out`, `--plot`); [`program`] compiles it for
//! the commands that need a valid one; [`render`] (text) and [`json`] turn
//! diagnostics and results into output; [`terminal`] decides on colour. A new
//! command is a new module plus one variant of [`cli::Command`].
//!
//! ```
//! use clap::Parser;
//! use codespan_reporting::term::termcolor::NoColor;
//!
//! let cli = lossc_cli::Cli::try_parse_from(["lossc", "check", "-e", "mean(squre(y_pred))"]).unwrap();
//! let (mut stdout, mut stderr) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
//! let status = lossc_cli::execute(&cli, &mut stdout, &mut stderr).unwrap();
//! assert_eq!(status, lossc_cli::Status::Findings); // exit status 1
//! let text = String::from_utf8(stdout.into_inner()).unwrap();
//! assert!(text.starts_with("error[unknown-name]: cannot find function `squre`"));
//! ```
//!
//! Tests: unit tests beside the code; the binary's exit statuses, streams,
//! colour and JSON, and insta snapshots of rendered diagnostics (each holding
//! its input) in `tests/it/cli.rs` and `tests/it/snapshots/`.

// This crate is the one place lossc writes to the terminal. It writes through
// termcolor streams in `run` (for colour and to survive a closed pipe) rather
// than `print!`, but the allow marks the exception the workspace lints make.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod bench;
pub mod cache;
pub mod check;
pub mod cli;
pub mod completions;
pub mod data;
pub mod emit;
pub mod eval;
pub mod fit;
pub mod grad;
pub mod input_file;
pub mod json;
pub mod output;
pub mod plot;
pub mod probe;
pub mod program;
pub mod render;
pub mod repl;
pub mod simplify;
pub mod source;
pub mod terminal;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use codespan_reporting::term::termcolor::{Color, ColorSpec, StandardStream, WriteColor};

pub use cli::{Cli, Command};

/// How a command ended, when it could run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit status 0: no errors (warnings allowed unless denied).
    Success,
    /// Exit status 1: the command found errors, or denied warnings.
    Findings,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Findings => 1,
        }
    }
}

/// Why a command could not run: bad usage or unreadable input (exit status 2).
///
/// The message is one line, without the `error: ` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    message: String,
}

impl CliError {
    /// The exit status of every `CliError`.
    pub const EXIT_CODE: u8 = 2;

    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Runs a parsed command line against the real stdout and stderr.
pub fn run(cli: &Cli) -> ExitCode {
    ExitCode::from(run_status(cli))
}

/// [`run`], returning the exit status as a number: for callers that run the
/// command in-process and need the status itself (the Python package's
/// `lossc` script), where an [`ExitCode`] cannot be read.
pub fn run_status(cli: &Cli) -> u8 {
    let mut stdout = StandardStream::stdout(cli.color.choice(terminal::Stream::Stdout));
    let mut stderr = StandardStream::stderr(cli.color.choice(terminal::Stream::Stderr));
    let outcome = execute(cli, &mut stdout, &mut stderr).and_then(|status| finish_output(status, stdout.flush()));
    match outcome {
        Ok(status) => status.code(),
        Err(error) => {
            // Nothing sensible is left to do if stderr itself cannot be written.
            let _ = write_error_line(&mut stderr, &error);
            CliError::EXIT_CODE
        }
    }
}

/// Runs the command, writing its product to `stdout` and its notes to
/// `stderr`. A [`CliError`] is for the caller to report (on stderr) with exit
/// status 2.
pub fn execute(cli: &Cli, stdout: &mut dyn WriteColor, stderr: &mut dyn WriteColor) -> Result<Status, CliError> {
    match &cli.command {
        Command::Check(args) => check::run(args, stdout, stderr),
        Command::Grad(args) => grad::run(args, stdout, stderr),
        Command::Simplify(args) => simplify::run(args, stdout, stderr),
        Command::Eval(args) => eval::run(args, stdout, stderr),
        Command::Bench(args) => bench::run(args, stdout, stderr),
        Command::Probe(args) => probe::run(args, stdout),
        Command::Fit(args) => fit::run(args, stdout, stderr),
        Command::Emit(args) => emit::run(args, stdout),
        Command::Repl(args) => repl::run(args, cli.color, stdout, stderr),
        Command::Plot(args) => plot::run(args, stdout, stderr),
        Command::Completions(args) => completions::run_completions(args, stdout),
        Command::Man(args) => completions::run_man(args, stdout),
        Command::Cache(args) => cache::run(args, stdout),
        Command::Import(args) => Err(CliError::new(format!(
            "`lossc import {}` reads a Python function, and this `lossc` reads .loss files only: use the `lossc` \
             command of the Python package (`pip install lossc`), which imports Python losses",
            args.target
        ))),
    }
}

/// Writes `error: MESSAGE`, with `error` in bold red when `out` has colour.
pub fn write_error_line(out: &mut dyn WriteColor, error: &CliError) -> io::Result<()> {
    out.set_color(ColorSpec::new().set_fg(Some(Color::Red)).set_bold(true))?;
    write!(out, "error")?;
    out.reset()?;
    writeln!(out, ": {error}")?;
    out.flush()
}

/// Writes `note: MESSAGE`, with `note` in bold green when `out` has colour.
/// A note that cannot be written is not worth failing the command for.
pub fn write_note_line(out: &mut dyn WriteColor, message: &str) {
    write_tagged_line(out, "note", Color::Green, message);
}

/// Writes `warning: MESSAGE`, with `warning` in bold yellow when `out` has
/// colour; like a note, never a reason to fail the command.
pub fn write_warning_line(out: &mut dyn WriteColor, message: &str) {
    write_tagged_line(out, "warning", Color::Yellow, message);
}

fn write_tagged_line(out: &mut dyn WriteColor, tag: &str, color: Color, message: &str) {
    let written = (|| {
        out.set_color(ColorSpec::new().set_fg(Some(color)).set_bold(true))?;
        write!(out, "{tag}")?;
        out.reset()?;
        writeln!(out, ": {message}")?;
        out.flush()
    })();
    // Nothing sensible is left to do if stderr itself cannot be written.
    let _ = written;
}

/// Turns the result of writing a command's output into its outcome. A closed
/// pipe (`lossc check f.loss | head -1`) is not a failure: the reader has seen
/// what it wanted.
pub fn finish_output(status: Status, written: io::Result<()>) -> Result<Status, CliError> {
    match written {
        Ok(()) => Ok(status),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(error) => Err(CliError::new(format!("cannot write the output: {error}"))),
    }
}
