//! The state of a REPL session and what each entry does to it, with no
//! terminal: the accepted statements, the dtype, the most recent loss, and
//! the diagnostics already shown.
//!
//! The session is a `.loss` program kept as text, one statement per entry,
//! and compiled as a [`lossc::Session`]. Every entry is checked within the
//! program: an entry that appends `let`, `loss` or `output` statements is
//! parsed and lowered alone against the compiled program (anything else
//! compiles the whole program again), and the session's
//! [`lossc::Checker`] analyses only the losses the entry adds or changes,
//! so an entry costs the work of what it adds, not of the session. Only
//! the diagnostics it brings are shown (the ones the program already had
//! were shown when their statement was entered). An entry that does not
//! compile is not kept; one the analyzer finds errors in is kept, and the
//! losses with errors are marked. A bare expression is evaluated and not
//! kept. A statement that declares a name
//! the session already declares replaces that statement in place, so
//! `let eps = 1e-7` after `let eps = 1e-8` is a correction, not a
//! `duplicate-name` error.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use codespan_reporting::term::termcolor::WriteColor;
use lossc::{Diagnostic, Dtype, Severity};
use lossc_syntax::ast::StatementKind;
use ndarray::ArrayD;

use super::text::{self, COMMANDS, Names};
use crate::data::{self, InputArg};
use crate::render::{self, Counts, Verdict};
use crate::source::{self, Source};
use crate::{CliError, write_error_line, write_note_line};

/// The name the session's program is shown under in diagnostics.
pub const SOURCE_NAME: &str = "<repl>";

/// What the loop does after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The outcome of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub flow: Flow,
    /// The entry was not kept, or the command failed.
    pub failed: bool,
}

impl Reply {
    const OK: Reply = Reply {
        flow: Flow::Continue,
        failed: false,
    };
    const FAILED: Reply = Reply {
        flow: Flow::Continue,
        failed: true,
    };
}

/// A REPL session.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The accepted statements, in program order.
    statements: Vec<Statement>,
    dtype: Dtype,
    /// The loss commands act on when they name none.
    last_loss: Option<String>,
    /// The diagnostics of the accepted program, already shown.
    shown: Vec<Key>,
    /// The names the program declares, for completion.
    names: Names,
    /// Each loss's findings, kept while it is unchanged: an entry analyses
    /// only the losses it adds or changes.
    checker: lossc::Checker,
    /// The accepted statements, compiled; `None` until needed again after
    /// an entry that was not kept (its trial consumed it).
    compiled: Option<lossc::Session>,
    /// The losses whose findings include an error (kept so that they can be
    /// evaluated and differentiated), in program order.
    with_errors: Vec<String>,
    /// The data last given to `:eval`, by input name: inputs an `:eval` or
    /// an expression does not give are read from here.
    data: Vec<(String, ArrayD<f64>)>,
}

/// One statement's text and what it declares.
#[derive(Debug, Clone, PartialEq)]
struct Statement {
    text: String,
    declares: Option<Declares>,
    /// The name of the loss it defines, if it is a `loss`.
    loss: Option<String>,
    /// The name of the param, const, let or def it declares, for completion.
    value: Option<String>,
    /// Whether it is a `param`, whose change is reported as a change of
    /// the findings.
    param: bool,
}

/// What a statement declares, for replacing it by a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Declares {
    /// An input, param, const, let or def.
    Name(String),
    /// A loss or an output: results are named apart from values, so
    /// `let loss = ...` and `loss = mean(loss)` are two statements.
    Result(String),
    /// `wrt ...`: a program has one.
    Wrt,
}

/// A diagnostic as the user sees it, independent of where in the session
/// text it sits (statements can be replaced, which moves offsets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    code: String,
    severity: Severity,
    message: String,
    snippet: String,
}

/// `:plot`'s options, parsed as `lossc plot` parses them.
#[derive(clap::Parser)]
#[command(name = ":plot")]
struct PlotCommand {
    #[command(flatten)]
    args: crate::plot::PlotArgs,
}

impl Session {
    pub fn new(dtype: Dtype) -> Session {
        Session {
            dtype,
            ..Session::default()
        }
    }

    /// The session's program, as `:save` writes it (without the final newline).
    pub fn text(&self) -> String {
        join(&self.statements)
    }

    /// The names for completion.
    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Acts on one complete entry: statements, or a `:command`. Results go to
    /// `out`, one-line errors and notes to `err`.
    pub fn handle(&mut self, entry: &str, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> io::Result<Reply> {
        if text::is_command(entry) {
            return self.command(entry.trim(), out, err);
        }
        if text::is_blank(entry) {
            return Ok(Reply::OK);
        }
        if is_expression(entry) {
            return self.expression(entry, out, err);
        }
        self.enter(entry, out, err)
    }

    /// Evaluates a bare expression as the loss [`EXPRESSION`] over the
    /// session's statements (as an output if it cannot be a loss: a boolean,
    /// or not one value or one per sample), on the data last given to
    /// `:eval`. Nothing is kept.
    fn expression(&mut self, entry: &str, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> io::Result<Reply> {
        let base = blank_results(&self.text(), |name| name == EXPRESSION);
        let attempt = |kind: &str| {
            let statement = format!("{kind} {EXPRESSION} = {}", entry.trim());
            let text = if source::is_blank(&base) {
                statement
            } else {
                format!("{base}\n{statement}")
            };
            (lossc::compile(&text), text)
        };
        let (mut compiled, mut text) = attempt("loss");
        if compiled.is_err() {
            // Not a loss: an output, if it is one; else why it is not a loss.
            let (as_output, output_text) = attempt("output");
            if as_output.is_ok() {
                (compiled, text) = (as_output, output_text);
            }
        }
        let result = match compiled {
            Ok(program) => {
                let inputs = self.inputs_for(&program, Vec::new());
                self.evaluate(&program, EXPRESSION.to_string(), &inputs, true, out)
            }
            Err(lossc::Error::Invalid(diagnostics)) => {
                let source = Source::new(SOURCE_NAME, text);
                render::write_diagnostics(out, &source, &diagnostics)?;
                let message = format!("not evaluated: {}", Counts::of(&diagnostics).describe());
                render::write_summary_line(out, Verdict::Error, &message)?;
                out.flush()?;
                return Ok(Reply::FAILED);
            }
            Err(other) => Err(CliError::new(other.to_string()).into()),
        };
        finish(result, out, err)
    }

    /// Checks `entry` within the session's program and keeps it unless it
    /// brings an error.
    fn enter(&mut self, entry: &str, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> io::Result<Reply> {
        let mut statements = self.statements.clone();
        let mut replaced = Vec::new();
        // The params entered again, whose change of the findings is reported.
        let mut changed_params = Vec::new();
        // The entry's statements, and the kept ones they do not replace:
        // where a replacement goes if it reads a name declared after the
        // statement it replaces (a loss kept with errors, corrected with a
        // `let` entered since).
        let entered = split(entry);
        let mut moved: Vec<Statement> = self
            .statements
            .iter()
            .filter(|kept| kept.declares.is_none() || entered.iter().all(|new| new.declares != kept.declares))
            .cloned()
            .collect();
        moved.extend(entered.iter().cloned());
        for statement in entered {
            let earlier = statement
                .declares
                .as_ref()
                .and_then(|declares| statements.iter().position(|s| s.declares.as_ref() == Some(declares)));
            match earlier {
                Some(index) => {
                    if statement.param {
                        changed_params.push(first_line(&statement.text).to_string());
                    }
                    replaced.push(statements[index].text.clone());
                    statements[index] = statement;
                }
                None => statements.push(statement),
            }
        }
        let mut program = join(&statements);
        let options = self.options(None);
        // Appended statements are lowered alone; a replacement compiles the
        // whole program, with the replacement in place, else at the end.
        let mut compiled = match self.compiled.take() {
            Some(compiled) if replaced.is_empty() => compiled.append(&join(&statements[self.statements.len()..])),
            _ => lossc::Session::new(&program),
        };
        if compiled.is_err() && !replaced.is_empty() {
            let at_end = join(&moved);
            if let Ok(session) = lossc::Session::new(&at_end) {
                (statements, program, compiled) = (moved, at_end, Ok(session));
            }
        }
        let (compiled, checked) = match compiled {
            Ok(compiled) => {
                let checked = self.checker.check_session(&compiled, &options);
                (Some(compiled), checked.map_err(|error| error.to_string()))
            }
            Err(lossc::Error::Invalid(diagnostics)) => (None, Ok(diagnostics)),
            Err(other) => (None, Err(other.to_string())),
        };
        let diagnostics = match checked {
            Ok(diagnostics) => diagnostics,
            Err(error) => {
                write_error_line(err, &CliError::new(error))?;
                return Ok(Reply::FAILED);
            }
        };
        let fresh = fresh(&diagnostics, &self.shown, &program);
        let source = Source::new(SOURCE_NAME, program.clone());
        render::write_diagnostics(out, &source, &fresh)?;
        let counts = Counts::of(&fresh);
        // Only an entry that does not compile (syntax, names, types, shapes)
        // is refused; the analyzer's errors are findings about a loss the
        // user may want to evaluate.
        if compiled.is_none() {
            let message = format!("not kept: {}", counts.describe());
            render::write_summary_line(out, Verdict::Error, &message)?;
            out.flush()?;
            return Ok(Reply::FAILED);
        }
        for old in replaced {
            write_note_line(err, &format!("replaced `{}`", first_line(&old)));
        }
        let new_loss = statements
            .iter()
            .filter(|s| !self.statements.contains(s))
            .filter_map(|s| s.loss.clone())
            .next_back();
        self.statements = statements;
        self.compiled = compiled;
        let before = std::mem::replace(&mut self.shown, keys(&diagnostics, &program));
        self.with_errors = self.checker.losses_with_errors().to_vec();
        if new_loss.is_some() {
            self.last_loss = new_loss;
        }
        self.refresh_names();
        if let Some(param) = changed_params.last() {
            write_changes(out, param, &before, &self.shown)?;
        }
        let reply = if counts.errors > 0 {
            let marked = if self.with_errors.is_empty() {
                String::new()
            } else {
                format!(
                    "; with errors: {}",
                    crate::cli::listing(self.with_errors.iter().map(String::as_str))
                )
            };
            let message = format!("kept, with {}{marked}", counts.describe());
            render::write_summary_line(out, Verdict::Error, &message)?;
            Reply::FAILED
        } else {
            Reply::OK
        };
        out.flush()?;
        Ok(reply)
    }

    fn options(&self, loss: Option<String>) -> lossc::CheckOptions {
        lossc::CheckOptions {
            dtype: self.dtype,
            loss,
            ..lossc::CheckOptions::default()
        }
    }

    /// The accepted statements, compiled (again, after an entry that was
    /// not kept).
    fn compiled(&mut self) -> Option<&lossc::Session> {
        if self.compiled.is_none() {
            self.compiled = lossc::Session::new(&self.text()).ok();
        }
        self.compiled.as_ref()
    }

    /// Recomputes the names the session declares, from its compiled program
    /// and its statements (parsing nothing again).
    fn refresh_names(&mut self) {
        let mut names = Names::default();
        if let Some(compiled) = self.compiled() {
            let ir = compiled.ir();
            names.losses = ir.losses().map(|r| r.name.clone()).collect();
            names.results = ir.results.iter().map(|r| r.name.clone()).collect();
            names.inputs = ir.inputs.iter().map(|i| i.name.clone()).collect();
            names.others.extend(ir.dims.iter().cloned());
        }
        names
            .others
            .extend(self.statements.iter().filter_map(|s| s.value.clone()));
        self.names = names;
    }

    /// Runs a `:command`.
    fn command(&mut self, line: &str, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> io::Result<Reply> {
        let line = &line[1..];
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let args = text::split_args(rest);
        let result = match name {
            "grad" => self.grad(&args, out, err),
            "simplify" => self.simplify(&args, out, err),
            "check" => self.check(&args, out),
            "eval" => self.eval(&args, out),
            "emit" => self.emit(&args, out),
            "plot" => self.plot(&args, out, err),
            "load" => self.load(&args, out),
            "save" => self.save(&args, out),
            "show" => self.show(&args, out),
            "dtype" => self.set_dtype(&args, out),
            "help" | "h" | "?" => help(out),
            "quit" | "q" | "exit" => {
                return Ok(Reply {
                    flow: Flow::Quit,
                    failed: false,
                });
            }
            "" => Err(CliError::new("a command follows `:`, e.g. `:help`").into()),
            other => {
                let suggestion = suggestion(other, COMMANDS.iter().map(|(name, _, _)| *name), ":");
                Err(CliError::new(format!("no command `:{other}`: {suggestion}`:help` lists the commands")).into())
            }
        };
        finish(result, out, err)
    }

    /// The session's program, compiled. It always compiles (only entries that
    /// compile are kept), but a session with nothing in it has nothing to act on.
    fn program(&self) -> Result<lossc::Program, CliError> {
        let text = self.text();
        if source::is_blank(&text) {
            return Err(CliError::new(
                "the session is empty: enter a loss first, e.g. `loss mse = mean(square(y_true - y_pred))`",
            ));
        }
        lossc::compile(&text).map_err(|error| CliError::new(error.to_string()))
    }

    /// The loss a command acts on: the one named, else the most recently
    /// entered one, else the program's first.
    fn target(&self, program: &lossc::Program, named: Option<&String>) -> Result<String, CliError> {
        self.result_target(program, named, false)
    }

    /// The loss, or with `outputs` the loss or output, a command acts on:
    /// the one named, else the loss entered last, else the program's first.
    fn result_target(
        &self,
        program: &lossc::Program,
        named: Option<&String>,
        outputs: bool,
    ) -> Result<String, CliError> {
        let losses = || crate::cli::listing(program.losses());
        if let Some(name) = named {
            let result = program.ir().result(name);
            if program.losses().any(|loss| loss == name) || (outputs && result.is_some()) {
                return Ok(name.clone());
            }
            if result.is_some() {
                return Err(CliError::new(format!(
                    "`{name}` is an `output`, not a `loss`; the losses: {}",
                    losses()
                )));
            }
            let results: Vec<&str> = if outputs {
                program.ir().results.iter().map(|r| r.name.as_str()).collect()
            } else {
                program.losses().collect()
            };
            let (what, listed) = if outputs {
                ("loss or output", "the session defines")
            } else {
                ("loss", "the losses:")
            };
            return Err(CliError::new(format!(
                "no {what} named `{name}`; {}{listed} {}",
                suggestion(name, results.iter().copied(), ""),
                crate::cli::listing(results.iter().copied())
            )));
        }
        if let Some(last) = &self.last_loss
            && program.losses().any(|loss| loss == last)
        {
            return Ok(last.clone());
        }
        program.losses().next().map(str::to_string).ok_or_else(|| {
            CliError::new("the session has no loss yet: enter one, e.g. `loss mse = mean(square(y_true - y_pred))`")
        })
    }

    /// `:grad [NAME]`
    fn grad(&self, args: &[String], out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<(), Failure> {
        at_most(":grad", args, 1)?;
        let program = self.program()?;
        let loss = self.result_target(&program, args.first(), true)?;
        let program = if program.losses().any(|name| name == loss) {
            program
        } else {
            self.output_as_loss(&program, &loss, err)?
        };
        let gradient = program
            .gradient(Some(&loss), &[])
            .map_err(|error| CliError::new(error.to_string()))?;
        if let Some(note) = crate::program::limit_note(&gradient.report, "gradient") {
            write_note_line(err, &note);
        }
        out.write_all(gradient.to_source().as_bytes())?;
        Ok(())
    }

    /// The session's program with only the output `name`, written as a
    /// loss, to be differentiated; a note says when it is per-sample (its
    /// mean is differentiated, as for a per-sample loss).
    fn output_as_loss(
        &self,
        program: &lossc::Program,
        name: &str,
        err: &mut dyn WriteColor,
    ) -> Result<lossc::Program, CliError> {
        let text = only_result(&self.text(), name);
        let text = match lossc_syntax::parse(&text) {
            Ok(ast) => {
                let start = ast.statements.iter().find_map(|statement| match &statement.kind {
                    StatementKind::Output { name: output, .. } if output.name == name => Some(statement.span.start),
                    _ => None,
                });
                match start {
                    // `loss` and two spaces: every offset stays where it was.
                    Some(start) if text[start..].starts_with("output") => {
                        format!("{}loss  {}", &text[..start], &text[start + "output".len()..])
                    }
                    _ => text,
                }
            }
            Err(_) => text,
        };
        let compiled = lossc::compile(&text).map_err(|error| match error {
            lossc::Error::Invalid(diagnostics) => CliError::new(format!(
                "the output `{name}` cannot be differentiated as a loss: {}",
                diagnostics.first().map_or("", |d| d.message.as_str())
            )),
            other => CliError::new(other.to_string()),
        })?;
        let per_sample = program
            .ir()
            .result(name)
            .is_some_and(|result| !program.ir().node(result.root).ty.shape.is_empty());
        if per_sample {
            write_note_line(
                err,
                &format!("`{name}` has one value per sample: the gradient is that of their mean"),
            );
        }
        Ok(compiled)
    }

    /// `:simplify [NAME]`: the program with only that loss, simplified.
    fn simplify(&self, args: &[String], out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<(), Failure> {
        at_most(":simplify", args, 1)?;
        let program = self.program()?;
        let loss = self.result_target(&program, args.first(), true)?;
        let only =
            lossc::compile(&only_result(&self.text(), &loss)).map_err(|error| CliError::new(error.to_string()))?;
        let simplified = only.simplify();
        if let Some(note) = crate::program::limit_note(&simplified.report, "program") {
            write_note_line(err, &note);
        }
        out.write_all(simplified.source.as_bytes())?;
        Ok(())
    }

    /// `:check [NAME]`: every diagnostic, as `lossc check` shows them.
    fn check(&mut self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        at_most(":check", args, 1)?;
        let program = self.program()?;
        let loss = match args.first() {
            Some(name) => Some(self.target(&program, Some(name))?),
            None => None,
        };
        let text = self.text();
        let options = self.options(loss);
        let checked = match (&options.loss, self.compiled.take()) {
            (None, Some(compiled)) => {
                let checked = self.checker.check_session(&compiled, &options);
                self.compiled = Some(compiled);
                checked
            }
            _ => self.checker.check(&program, &options),
        };
        let diagnostics = checked.map_err(|error| CliError::new(error.to_string()))?;
        if options.loss.is_none() {
            self.with_errors = self.checker.losses_with_errors().to_vec();
        }
        let source = Source::new(SOURCE_NAME, text);
        render::write_diagnostics(out, &source, &diagnostics)?;
        let (verdict, message) = crate::check::summary(SOURCE_NAME, self.dtype, Counts::of(&diagnostics), false);
        render::write_summary_line(out, verdict, &message)?;
        Ok(())
    }

    /// `:eval [NAME] INPUT=DATA...`
    fn eval(&mut self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        let program = self.program()?;
        let (named, data) = match args.first() {
            Some(first) if !first.contains('=') => (Some(first), &args[1..]),
            _ => (None, args),
        };
        let name = self.result_target(&program, named, true)?;
        let mut given = Vec::with_capacity(data.len());
        for arg in data {
            let input: InputArg = data::parse_input(arg).map_err(|why| CliError::new(format!("`{arg}`: {why}")))?;
            given.push((input.name.clone(), input.load_at_most(eval_numbers_at_most())?));
        }
        let inputs = self.inputs_for(&program, given);
        self.evaluate(&program, name, &inputs, false, out)
    }

    /// The data to evaluate `program` on: `given`, and for the inputs it
    /// does not give, the data given last. `given` is remembered.
    fn inputs_for(
        &mut self,
        program: &lossc::Program,
        given: Vec<(String, ArrayD<f64>)>,
    ) -> Vec<(String, ArrayD<f64>)> {
        self.data.retain(|(name, _)| given.iter().all(|(new, _)| new != name));
        self.data.extend(given.iter().cloned());
        let mut inputs = given;
        for (name, data) in &self.data {
            let used = program.ir().inputs.iter().any(|input| input.name == *name);
            if used && inputs.iter().all(|(given, _)| given != name) {
                inputs.push((name.clone(), data.clone()));
            }
        }
        inputs
    }

    /// Writes the value of the result `name` (and of its gradient, for a
    /// loss) on `inputs`, as `lossc eval` does; `expression`: for a bare
    /// expression, whose data comes from `:eval`.
    fn evaluate(
        &self,
        program: &lossc::Program,
        name: String,
        inputs: &[(String, ArrayD<f64>)],
        expression: bool,
        out: &mut dyn WriteColor,
    ) -> Result<(), Failure> {
        let is_loss = program.losses().any(|loss| loss == name);
        let options = lossc::EvalOptions {
            dtype: self.dtype,
            result: Some(name),
            grad: is_loss,
            wrt: Vec::new(),
        };
        let evaluation = program.eval(inputs, &options).map_err(|error| match error {
            lossc::Error::Eval(lossc::EvalError::MissingInput { ref name, .. }) if expression => CliError::new(
                format!("{error}: an expression reads the data last given to `:eval`: `:eval {name}=[...]`"),
            ),
            lossc::Error::Eval(lossc::EvalError::MissingInput { ref name, .. }) => {
                CliError::new(format!("{error}: give it as `{name}=[...]`"))
            }
            other => CliError::new(other.to_string()),
        })?;
        crate::eval::write_text(out, &crate::eval::Printed::of(&evaluation), None)?;
        Ok(())
    }

    /// `:emit TARGET [NAME]`: the Python module `lossc emit` prints.
    fn emit(&self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        let targets = || text::emit_targets().collect::<Vec<_>>().join(", ");
        let Some(target) = args.first() else {
            return Err(CliError::new(format!("`:emit` needs a target: {}", targets())).into());
        };
        let Some(target) = lossc::EmitTarget::parse(target) else {
            let suggestion = suggestion(target, text::emit_targets(), "");
            return Err(CliError::new(format!(
                "`:emit {target}`: no such target; {suggestion}the targets: {}",
                targets()
            ))
            .into());
        };
        at_most(":emit", args, 2)?;
        let program = self.program()?;
        let loss = self.target(&program, args.get(1))?;
        let options = lossc::EmitOptions {
            loss: Some(loss),
            dtype: self.dtype,
            file: Some(SOURCE_NAME.to_string()),
            ..lossc::EmitOptions::default()
        };
        let emission = program
            .emit(&options)
            .map_err(|error| CliError::new(error.to_string()))?;
        out.write_all(emission.module(target).as_bytes())?;
        Ok(())
    }

    /// `:plot [NAME] FILE.svg [OPTION...]`: `lossc plot` on the session,
    /// with its options (`--wrt`, `--fix`, `--range`, `--points`, `--dim`),
    /// in the session's dtype; a loss with analyzer errors is drawn too.
    fn plot(&self, args: &[String], out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<(), Failure> {
        let usage =
            "`:plot` needs an SVG file: `:plot [NAME] FILE.svg [--wrt INPUT] [--fix INPUT=VALUE] [--range LO,HI]`";
        let Some(file) = args.iter().position(|a| a.to_ascii_lowercase().ends_with(".svg")) else {
            return Err(CliError::new(usage).into());
        };
        let (named, rest) = match file {
            0 => (None, &args[1..]),
            1 => (args.first(), &args[2..]),
            _ => return Err(CliError::new(usage).into()),
        };
        let program = self.program()?;
        let loss = self.target(&program, named)?;
        let dtype = if self.dtype == Dtype::F64 { "f64" } else { "f32" };
        let mut argv: Vec<String> = [
            "plot",
            "-e",
            "0",
            "--out",
            args[file].as_str(),
            "--loss",
            loss.as_str(),
            "--dtype",
            dtype,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        argv.extend(rest.iter().cloned());
        let parsed = <PlotCommand as clap::Parser>::try_parse_from(&argv).map_err(|error| {
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or("").trim_start_matches("error: ");
            CliError::new(format!("`:plot`: {first}"))
        })?;
        let session = Source::new(SOURCE_NAME, self.text());
        crate::plot::run_on(&parsed.args, &session, out, err)?;
        Ok(())
    }

    /// Starts the session from a file, as `:load FILE` does; `Err` (after its
    /// diagnostics are written) if it cannot be read or does not compile.
    pub fn start_from(&mut self, path: &Path, out: &mut dyn WriteColor) -> Result<(), CliError> {
        match self.load_file(path, out) {
            Ok(()) => Ok(()),
            Err(Failure::Cli(error)) => Err(error),
            Err(Failure::Io(error)) => Err(CliError::new(format!("cannot write the output: {error}"))),
        }
    }

    /// `:load FILE`
    fn load(&mut self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        let path = exactly_one(":load", "FILE", args)?;
        self.load_file(Path::new(path), out)
    }

    /// Replaces the session with the file at `path`, if it compiles.
    fn load_file(&mut self, path: &Path, out: &mut dyn WriteColor) -> Result<(), Failure> {
        let file = source::read_file(path)?;
        let diagnostics = match lossc::compile(&file.text) {
            Ok(_) => {
                let options = self.options(None);
                self.checker
                    .check_source(&file.text, &options)
                    .map_err(|error| CliError::new(error.to_string()))?
            }
            Err(lossc::Error::Invalid(diagnostics)) => {
                render::write_diagnostics(out, &file, &diagnostics)?;
                let message = format!(
                    "`{}` not loaded: {}; the session is unchanged",
                    file.name,
                    Counts::of(&diagnostics).describe()
                );
                render::write_summary_line(out, Verdict::Error, &message)?;
                return Err(Failure::Cli(CliError::new(format!("cannot load `{}`", file.name))));
            }
            Err(other) => return Err(CliError::new(other.to_string()).into()),
        };
        render::write_diagnostics(out, &file, &diagnostics)?;
        let statements = split(&file.text);
        let program = join(&statements);
        let options = self.options(None);
        self.compiled = lossc::Session::new(&program).ok();
        let checked = match &self.compiled {
            Some(compiled) => self.checker.check_session(compiled, &options).unwrap_or_default(),
            None => self.checker.check_source(&program, &options).unwrap_or_default(),
        };
        self.shown = keys(&checked, &program);
        self.with_errors = self.checker.losses_with_errors().to_vec();
        self.statements = statements;
        self.refresh_names();
        self.last_loss = self.names.losses.first().cloned();
        let losses = self.losses_listing();
        let counts = Counts::of(&diagnostics);
        let findings = if counts == Counts::default() {
            "no problems found".to_string()
        } else {
            counts.describe()
        };
        let verdict = if counts.errors > 0 {
            Verdict::Error
        } else if counts.warnings > 0 {
            Verdict::Warning
        } else {
            Verdict::Ok
        };
        let message = format!(
            "loaded `{}` ({} statements; losses: {losses}): {findings} ({})",
            file.name,
            self.statements.len(),
            self.dtype
        );
        render::write_summary_line(out, verdict, &message)?;
        Ok(())
    }

    /// `:save FILE`
    fn save(&self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        let path = exactly_one(":save", "FILE", args)?;
        let mut text = self.text();
        text.push('\n');
        crate::output::write_file(Path::new(path), ".loss.tmp", |file| {
            std::io::Write::write_all(file, text.as_bytes())
        })?;
        writeln!(out, "saved {} statements to `{path}`", self.statements.len())?;
        Ok(())
    }

    /// `:show`
    fn show(&self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        at_most(":show", args, 0)?;
        if self.statements.is_empty() {
            writeln!(out, "# the session is empty")?;
        } else {
            writeln!(out, "{}", self.text())?;
        }
        if !self.with_errors.is_empty() {
            writeln!(
                out,
                "# losses with errors: {} (`:check` shows them)",
                crate::cli::listing(self.with_errors.iter().map(String::as_str))
            )?;
        }
        Ok(())
    }

    /// The session's losses, those with errors marked.
    fn losses_listing(&self) -> String {
        let marked = self.names.losses.iter().map(|loss| {
            if self.with_errors.contains(loss) {
                format!("`{loss}` (with errors)")
            } else {
                format!("`{loss}`")
            }
        });
        let losses: Vec<String> = marked.collect();
        if losses.is_empty() {
            "none".to_string()
        } else {
            losses.join(", ")
        }
    }

    /// `:dtype [f32|f64]`
    fn set_dtype(&mut self, args: &[String], out: &mut dyn WriteColor) -> Result<(), Failure> {
        at_most(":dtype", args, 1)?;
        if let Some(dtype) = args.first() {
            self.dtype = match dtype.as_str() {
                "f32" | "float32" => Dtype::F32,
                "f64" | "float64" => Dtype::F64,
                other => {
                    return Err(CliError::new(format!("`:dtype {other}`: the dtypes are `f32` and `f64`")).into());
                }
            };
            let program = self.text();
            let options = self.options(None);
            let checked = match self.compiled.take() {
                Some(compiled) => {
                    let checked = self.checker.check_session(&compiled, &options);
                    self.compiled = Some(compiled);
                    checked
                }
                None => self.checker.check_source(&program, &options),
            };
            self.shown = keys(&checked.unwrap_or_default(), &program);
            self.with_errors = self.checker.losses_with_errors().to_vec();
        }
        writeln!(out, "dtype {}", self.dtype)?;
        Ok(())
    }
}

/// Why a command failed: a message for the user, or the output broke.
#[derive(Debug)]
enum Failure {
    Cli(CliError),
    Io(io::Error),
}

impl From<CliError> for Failure {
    fn from(error: CliError) -> Failure {
        Failure::Cli(error)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Io(error)
    }
}

/// The name a bare expression is evaluated under, as `loss _ = EXPRESSION`.
pub const EXPRESSION: &str = "_";

/// Whether `entry` is a bare expression: not statements, but the value of
/// one (`mean(square(y_pred - y_true))`, `y_pred * 2`).
fn is_expression(entry: &str) -> bool {
    lossc_syntax::parse(entry).is_err()
        && lossc_syntax::parse(&format!("loss {EXPRESSION} = {}", entry.trim()))
            .is_ok_and(|ast| ast.statements.len() == 1)
}

/// `did you mean `PREFIX NAME`? ` for the candidate closest to a misspelt
/// `name`, or nothing when none is close.
fn suggestion<'c>(name: &str, candidates: impl Iterator<Item = &'c str>, prefix: &str) -> String {
    lossc::ir::closest(name, candidates)
        .map(|closest| format!("did you mean `{prefix}{closest}`? "))
        .unwrap_or_default()
}

/// The reply to a command that ran: `result`'s error, if any, written as
/// one line.
fn finish(result: Result<(), Failure>, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> io::Result<Reply> {
    match result {
        Ok(()) => {
            out.flush()?;
            Ok(Reply::OK)
        }
        Err(Failure::Io(error)) => Err(error),
        Err(Failure::Cli(error)) => {
            out.flush()?;
            write_error_line(err, &error)?;
            Ok(Reply::FAILED)
        }
    }
}

fn at_most(command: &str, args: &[String], count: usize) -> Result<(), CliError> {
    if args.len() > count {
        let synopsis = COMMANDS
            .iter()
            .find(|(name, _, _)| Some(*name) == command.strip_prefix(':'))
            .map_or("", |(_, synopsis, _)| synopsis);
        return Err(CliError::new(format!(
            "`{command}` takes {}: `{command} {synopsis}`",
            match count {
                0 => "no arguments".to_string(),
                1 => "at most one argument".to_string(),
                n => format!("at most {n} arguments"),
            }
        )));
    }
    Ok(())
}

fn exactly_one<'a>(command: &str, what: &str, args: &'a [String]) -> Result<&'a str, CliError> {
    match args {
        [one] => Ok(one),
        _ => Err(CliError::new(format!(
            "`{command}` takes one {what}: `{command} {what}`"
        ))),
    }
}

/// `:help`: the commands and how statements are entered.
fn help(out: &mut dyn WriteColor) -> Result<(), Failure> {
    writeln!(
        out,
        "Enter statements (input, param, const, let, def, loss, output, wrt) one at a time;"
    )?;
    writeln!(
        out,
        "each is checked as it is entered. One that does not compile is not kept; a loss with"
    )?;
    writeln!(
        out,
        "analyzer errors is kept, marked, to be evaluated. A statement that declares a name"
    )?;
    writeln!(
        out,
        "again replaces the earlier one. A bracket left open continues the entry (`...> `)."
    )?;
    writeln!(
        out,
        "A bare expression is evaluated as the loss `_`, on the data last given to `:eval`."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Commands act on the loss they name, else on the loss entered last:"
    )?;
    let width = COMMANDS
        .iter()
        .map(|(name, synopsis, _)| name.len() + synopsis.len())
        .max()
        .unwrap_or(0)
        + 3;
    for (name, synopsis, about) in COMMANDS {
        let usage = if synopsis.is_empty() {
            format!(":{name}")
        } else {
            format!(":{name} {synopsis}")
        };
        writeln!(out, "  {usage:<width$} {about}")?;
    }
    Ok(())
}

/// The statements of `text`, each with what it declares; comments before a
/// statement (and after it on its line) stay with it. Text that does not
/// parse is one statement that declares nothing (checking it reports why).
fn split(text: &str) -> Vec<Statement> {
    let whole = || Statement {
        text: text.trim_end().to_string(),
        declares: None,
        loss: None,
        value: None,
        param: false,
    };
    let Ok(ast) = lossc_syntax::parse(text) else {
        return vec![whole()];
    };
    if ast.statements.is_empty() {
        return vec![whole()];
    }
    let count = ast.statements.len();
    let mut statements = Vec::with_capacity(count);
    let mut from = 0;
    for (index, statement) in ast.statements.iter().enumerate() {
        let end = if index + 1 == count {
            text.len()
        } else {
            line_end(text, statement.span.end.min(text.len()))
        };
        let piece = text[from..end].trim_start_matches([';', ' ', '\t', '\r']);
        let piece = piece.strip_prefix('\n').unwrap_or(piece).trim_end();
        let (declares, loss) = match &statement.kind {
            StatementKind::Input { name, .. }
            | StatementKind::Param { name, .. }
            | StatementKind::Const { name, .. }
            | StatementKind::Let { name, .. }
            | StatementKind::Def { name, .. } => (Some(Declares::Name(name.name.clone())), None),
            StatementKind::Output { name, .. } => (Some(Declares::Result(name.name.clone())), None),
            StatementKind::Loss { name, .. } => {
                let name = name.as_ref().map_or("loss", |n| n.name.as_str()).to_string();
                (Some(Declares::Result(name.clone())), Some(name))
            }
            StatementKind::Wrt { .. } => (Some(Declares::Wrt), None),
        };
        let value = match &statement.kind {
            StatementKind::Param { name, .. }
            | StatementKind::Const { name, .. }
            | StatementKind::Let { name, .. }
            | StatementKind::Def { name, .. } => Some(name.name.clone()),
            _ => None,
        };
        statements.push(Statement {
            text: piece.to_string(),
            declares,
            loss,
            value,
            param: matches!(statement.kind, StatementKind::Param { .. }),
        });
        from = end;
    }
    statements
}

/// Where the line holding offset `at` ends, if the rest of it is blank or a
/// comment; else `at` (another statement follows on the line, after `;`).
fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |offset| at + offset);
    let rest = text[at..end].trim();
    if rest.is_empty() || rest.starts_with('#') {
        end
    } else {
        at
    }
}

fn join(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

/// What a param change did to the findings: those that appeared (`+`) and
/// those that went away (`-`), by severity, code and message, or that they
/// are unchanged. Where in the text a finding points is left out: the
/// param's line moves nothing else.
fn write_changes(out: &mut dyn WriteColor, param: &str, before: &[Key], after: &[Key]) -> io::Result<()> {
    let headline = |key: &Key| format!("{}[{}]: {}", key.severity, key.code, key.message);
    let mut gone: Vec<String> = before.iter().map(headline).collect();
    let mut appeared = Vec::new();
    for line in after.iter().map(headline) {
        match gone.iter().position(|old| *old == line) {
            Some(index) => {
                gone.remove(index);
            }
            None => appeared.push(line),
        }
    }
    if appeared.is_empty() && gone.is_empty() {
        return writeln!(out, "findings unchanged by `{param}`");
    }
    writeln!(
        out,
        "findings changed by `{param}`: {} appeared, {} went away",
        appeared.len(),
        gone.len()
    )?;
    for line in &appeared {
        writeln!(out, "  + {line}")?;
    }
    for line in &gone {
        writeln!(out, "  - {line}")?;
    }
    Ok(())
}

fn keys(diagnostics: &[Diagnostic], text: &str) -> Vec<Key> {
    diagnostics
        .iter()
        .map(|diagnostic| Key {
            code: diagnostic.code.as_str().to_string(),
            severity: diagnostic.severity,
            message: diagnostic.message.clone(),
            snippet: text[render::clamp(text, diagnostic.span)].to_string(),
        })
        .collect()
}

/// The diagnostics that are not among `shown` (counting repeats).
fn fresh(diagnostics: &[Diagnostic], shown: &[Key], text: &str) -> Vec<Diagnostic> {
    let mut remaining: HashMap<&Key, usize> = HashMap::new();
    for key in shown {
        *remaining.entry(key).or_default() += 1;
    }
    diagnostics
        .iter()
        .zip(keys(diagnostics, text))
        .filter_map(|(diagnostic, key)| match remaining.get_mut(&key) {
            Some(count) if *count > 0 => {
                *count -= 1;
                None
            }
            _ => Some(diagnostic.clone()),
        })
        .collect()
}

/// `text` with every `loss` and `output` statement but `keep` blanked out.
fn only_result(text: &str, keep: &str) -> String {
    blank_results(text, |name| name != keep)
}

/// `text` with the `loss` and `output` statements whose name `blank`
/// accepts blanked out (offsets are unchanged).
fn blank_results(text: &str, blank: impl Fn(&str) -> bool) -> String {
    let Ok(ast) = lossc_syntax::parse(text) else {
        return text.to_string();
    };
    let mut bytes = text.as_bytes().to_vec();
    for statement in &ast.statements {
        let name = match &statement.kind {
            StatementKind::Loss { name, .. } => name.as_ref().map_or("loss", |n| n.name.as_str()),
            StatementKind::Output { name, .. } => name.name.as_str(),
            _ => continue,
        };
        if blank(name) {
            let span = render::clamp(text, statement.span);
            for byte in &mut bytes[span] {
                if *byte != b'\n' {
                    *byte = b' ';
                }
            }
        }
    }
    // Every byte of a blanked character became a space, so the text is still
    // UTF-8; the fallback is never taken.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// The most numbers `:eval` reads from one `.npy` file: what a quarter of
/// the memory the system reports available holds as f64 (the data is
/// converted, then evaluated with its gradient), or no bound where the
/// system does not say.
fn eval_numbers_at_most() -> usize {
    data::available_memory().map_or(usize::MAX, |bytes| usize::try_from(bytes / 32).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use codespan_reporting::term::termcolor::NoColor;

    /// Runs `entries` through a new session; the output and error streams.
    fn run(entries: &[&str]) -> (Session, String, String, Vec<bool>) {
        let mut session = Session::new(Dtype::F32);
        let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
        let failed = entries
            .iter()
            .map(|entry| session.handle(entry, &mut out, &mut err).unwrap().failed)
            .collect();
        let out = String::from_utf8(out.into_inner()).unwrap();
        let err = String::from_utf8(err.into_inner()).unwrap();
        (session, out, err, failed)
    }

    #[test]
    fn statements_split_with_their_comments() {
        let statements =
            split("# head\ninput y_true: {0, 1}\nlet a = 1; let b = 2  # b\n\nloss l = mean(y_true * a * b)\n");
        let texts: Vec<&str> = statements.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "# head\ninput y_true: {0, 1}",
                "let a = 1",
                "let b = 2  # b",
                "\nloss l = mean(y_true * a * b)"
            ]
        );
        assert_eq!(statements[3].loss.as_deref(), Some("l"));
        assert_eq!(statements[1].declares, Some(Declares::Name("a".into())));
    }

    #[test]
    fn each_entry_analyses_only_the_loss_it_adds() {
        let mut entries = vec!["input y_true: [0, 1]", "input y_pred: [0, 1]"];
        let losses: Vec<String> = (0..8)
            .map(|k| format!("loss l{k} = mean(square(y_pred - y_true)) * {}", k + 1))
            .collect();
        entries.extend(losses.iter().map(String::as_str));
        let (mut session, out, _, failed) = run(&entries);
        assert!(failed.iter().all(|f| !f), "{out}");
        // One analysis per loss entered, not one per loss per entry (36).
        assert_eq!(session.checker.analysed(), 8);
        // `:check` finds every loss's findings kept.
        let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
        session.handle(":check", &mut out, &mut err).unwrap();
        assert_eq!(session.checker.analysed(), 8);
        // Replacing the last loss analyses it alone (this one has an error: it
        // is kept, marked). Replacing an earlier one moves the text of the
        // losses after it, and they are analysed again.
        session
            .handle("loss l7 = mean(-log(y_pred))", &mut out, &mut err)
            .unwrap();
        assert_eq!(session.checker.analysed(), 9);
        let out = String::from_utf8(out.into_inner()).unwrap();
        assert!(out.contains("log-domain"), "{out}");
        assert!(out.contains("error: kept, with 1 error"), "{out}");
        assert_eq!(session.with_errors, ["l7"]);
    }

    /// Entering one more statement lowers that statement alone: a session of
    /// 2 inputs and 100 losses lowers 102 statements, not one whole program
    /// per entry (5,250); a replacement, an entry that is not kept and a
    /// param change compile the whole program again, with the same results.
    #[test]
    fn each_entry_lowers_only_what_it_adds() {
        let mut entries = vec!["input y_true: [0, 1]".to_string(), "input y_pred: [0, 1]".to_string()];
        entries.extend((0..100).map(|k| format!("loss l{k} = mean(square(y_pred - y_true)) * {}", k + 1)));
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let (mut session, out, _, failed) = run(&entries);
        assert!(failed.iter().all(|f| !f), "{out}");
        let lowered = |session: &Session| session.compiled.as_ref().expect("compiled").statements_lowered();
        assert_eq!(lowered(&session), 102);
        assert_eq!(session.checker.analysed(), 100);
        let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
        // A `let` and a loss that reads it: two statements more.
        session.handle("let eps = 1e-7", &mut out, &mut err).unwrap();
        session
            .handle("loss nll = mean(-log(y_pred + eps))", &mut out, &mut err)
            .unwrap();
        assert_eq!(lowered(&session), 104);
        assert_eq!(session.checker.analysed(), 101);
        // Not kept: the next entry compiles the session again, once.
        let reply = session
            .handle("loss bad = mean(log(y_pred) + nothing)", &mut out, &mut err)
            .unwrap();
        assert!(reply.failed);
        assert!(session.compiled.is_none());
        session.handle("loss l100 = mean(y_pred)", &mut out, &mut err).unwrap();
        assert_eq!(lowered(&session), 105);
        // Replacing a statement compiles the whole program, whose losses are
        // unchanged and not analysed again.
        session.handle("let eps = 1e-6", &mut out, &mut err).unwrap();
        assert_eq!(lowered(&session), 105);
        // `nll` reads the new `eps`, and `l100` is written after it (its text moved).
        assert_eq!(session.checker.analysed(), 104);
        let text = session.text();
        assert_eq!(
            lossc::check(&text, &session.options(None)).unwrap(),
            session.checker.check_source(&text, &session.options(None)).unwrap()
        );
        let out = String::from_utf8(out.into_inner()).unwrap();
        assert!(out.contains("unknown-name"), "{out}");
    }

    /// The diagnostics of appended entries are those of the whole program.
    #[test]
    fn appended_entries_bring_the_diagnostics_of_the_whole_program() {
        let entries = [
            "input y_pred: real [N, 2]",
            "const w = [1, 2]",
            "def f(a) = a * a",
            "let p = softmax(y_pred, axis=-1)",
            "loss a = mean(-log(p + 1e-7))",
            "let q = f(p) + 1e-9 - 1",
            "loss b = mean(f(q) * w)",
            "output o = 1 - 1e-9",
            "loss c = mean(sum(exp(-square(y_pred)), axis=-1))",
        ];
        for count in 1..=entries.len() {
            let (session, out, _, failed) = run(&entries[..count]);
            assert!(failed.iter().all(|f| !f), "{out}");
            let text = session.text();
            assert_eq!(text, entries[..count].join("\n"));
            let expected = lossc::check(&text, &session.options(None)).unwrap();
            let mut checker = lossc::Checker::default();
            let compiled = session.compiled.clone().expect("compiled");
            assert_eq!(
                checker.check_session(&compiled, &session.options(None)).unwrap(),
                expected,
                "{out}"
            );
            assert_eq!(compiled.ir(), lossc::compile(&text).unwrap().ir());
        }
    }

    #[test]
    fn an_entry_with_errors_is_not_kept() {
        let (session, out, _, failed) = run(&["loss l = mean(squre(y_pred))", "loss l = mean(square(y_pred))"]);
        assert_eq!(failed, [true, false]);
        assert!(out.contains("error[unknown-name]"), "{out}");
        assert!(out.contains("<repl>:1:"), "{out}");
        assert!(out.contains("error: not kept: 1 error"), "{out}");
        assert_eq!(session.text(), "loss l = mean(square(y_pred))");
    }

    #[test]
    fn a_redeclared_name_replaces_the_statement_in_place() {
        let (session, _, err, failed) = run(&["let a = 2", "loss l = mean(a * square(y_pred))", "let a = 3"]);
        assert_eq!(failed, [false, false, false]);
        assert_eq!(session.text(), "let a = 3\nloss l = mean(a * square(y_pred))");
        assert!(err.contains("note: replaced `let a = 2`"), "{err}");
    }

    #[test]
    fn a_result_does_not_replace_a_value_of_the_same_name() {
        let (session, out, err, failed) = run(&[
            "input output: real [N]",
            "wrt output",
            "let loss = output * 2",
            "loss = mean(loss)",
            "output output = loss + 1",
        ]);
        assert_eq!(failed, [false, false, false, false, false], "{out}{err}");
        assert_eq!(
            session.text(),
            "input output: real [N]\nwrt output\nlet loss = output * 2\nloss = mean(loss)\noutput output = loss + 1"
        );
        assert!(!err.contains("replaced"), "{err}");
    }

    #[test]
    fn commands_act_on_the_last_loss() {
        let (_, out, err, failed) = run(&[
            "loss first = mean(abs(y_pred))",
            "loss second = mean(square(y_true - y_pred))",
            ":grad",
            ":grad first",
            ":grad nothing",
        ]);
        assert_eq!(failed, [false, false, false, false, true]);
        assert!(out.contains("output d_second_d_y_pred ="), "{out}");
        assert!(out.contains("output d_first_d_y_pred ="), "{out}");
        assert!(err.contains("no loss or output named `nothing`"), "{err}");
    }

    #[test]
    fn only_the_kept_result_survives() {
        let text = "let a = 1\nloss one = mean(a * y_pred)\noutput two = y_pred";
        assert_eq!(
            only_result(text, "one"),
            "let a = 1\nloss one = mean(a * y_pred)\n                   "
        );
    }

    #[test]
    fn unknown_commands_suggest_one() {
        let (_, _, err, failed) = run(&[":gard"]);
        assert_eq!(failed, [true]);
        assert!(err.contains("did you mean `:grad`?"), "{err}");
    }
}
