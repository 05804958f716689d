//! `lossc repl`: an interactive session (docs/repl.md).
//!
//! Statements are entered one at a time and checked as they are entered
//! ([`session`]); `:commands` act on the loss they name or on the loss
//! entered last. On a terminal the line editor ([`editor`]) completes names
//! and commands, colours the line, and keeps a history across sessions; an
//! entry with a bracket open continues on the next line after the
//! [`CONTINUATION`] prompt. With standard input not a terminal
//! there are no prompts and no banner, only the same results, so a session
//! can be scripted: `lossc repl < session.txt`. The raw-text logic shared by
//! both (brackets, arguments, completion, colours) is in [`text`].

pub mod editor;
pub mod session;
pub mod text;

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{ColorMode, CompletionType, Config, Editor};

use crate::cli::DtypeArg;
use crate::terminal::ColorWhen;
use crate::{CliError, Status, finish_output, write_note_line};
use session::{Flow, Session};

pub(crate) const LONG_ABOUT: &str = "\
Enter statements and commands one at a time, each checked as it is entered.

Every statement (input, param, const, let, def, loss, output, wrt) is
checked with the session's program as it is entered, and the diagnostics it
brings are shown at once. A statement that does not compile is not kept; a
loss the analyzer finds errors in (a NaN or an infinity it can reach) is
kept, marked as having errors, so that it can be evaluated. Declaring a
name again replaces the earlier statement; a param entered again says how
the findings changed. An entry (a command too) continues on the next line,
after `...> `, while a bracket is open. A bare expression, e.g.
`log(y_pred)`, is evaluated as the loss `_` on the data last given to
`:eval`.

Commands act on the loss they name, else on the loss entered last:
  :grad [NAME]            the gradient of a loss or output, as a .loss program
  :simplify [NAME]        the loss or output simplified, as a .loss program
  :check [NAME]           every diagnostic, as `lossc check` shows them
  :eval [NAME] IN=DATA..  the value (and gradient) on data, e.g. y_pred=[0.9,0.2]
  :emit TARGET [NAME]     Python for jax, torch, keras, tf or numpy
  :load FILE, :save FILE  replace the session with a file; write it to one
  :show                   the session's program
  :dtype [f32|f64]        the float type to check and evaluate in
  :help, :quit            the commands; leave (also Ctrl-D)

On a terminal: Tab completes built-ins, declared names, commands and file
names; Up and Down recall earlier entries, kept across sessions in the
user's data directory (LOSSC_HISTORY=FILE sets another file; empty turns
history off). With standard input not a terminal (a pipe or a file) there is
no prompt and no banner: the same results, for scripts.

Exit status: 0; with standard input not a terminal, 1 if an entry brought
an error (kept or not) or a command failed; 2 bad usage or an unreadable
FILE.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc repl
  lossc repl examples/bce.loss
  lossc repl --dtype f64
  printf 'loss mse = mean(square(y_true - y_pred))\\n:grad\\n' | lossc repl
  lossc repl < session.txt > transcript.txt";

/// Options of `lossc repl`.
#[derive(Debug, Clone, Args)]
pub struct ReplArgs {
    /// A .loss file to start from, as `:load FILE` would, e.g.
    /// `examples/bce.loss`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The float type to check and evaluate in (`:dtype` changes it), e.g.
    /// `--dtype f64`.
    #[arg(long, value_enum, value_name = "DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
}

/// The prompt of a new entry.
pub const PROMPT: &str = "lossc> ";

/// The prompt of the next line of an entry with a bracket open.
pub const CONTINUATION: &str = "...> ";

/// Runs the REPL on the process's standard input: the line editor on a
/// terminal, else [`run_script`].
pub fn run(
    args: &ReplArgs,
    color: ColorWhen,
    out: &mut dyn WriteColor,
    err: &mut dyn WriteColor,
) -> Result<Status, CliError> {
    let mut session = Session::new(args.dtype.dtype());
    if let Some(file) = &args.file {
        load(&mut session, file, out)?;
    }
    if io::stdin().is_terminal() {
        let color = color.use_color(
            io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        );
        interactive(&mut session, color, out, err)
    } else {
        run_script(&mut session, &mut io::stdin().lock(), out, err)
    }
}

/// Starts from a file: its diagnostics are shown; a file that cannot be
/// read or does not compile ends the command (exit status 2).
fn load(session: &mut Session, file: &std::path::Path, out: &mut dyn WriteColor) -> Result<(), CliError> {
    session.start_from(file, out)?;
    out.flush().map_err(output_error)
}

/// Runs entries read from `input` with no prompt: lines are joined while a
/// bracket is open. The status is [`Status::Findings`] if an entry brought
/// an error or a command failed.
pub fn run_script(
    session: &mut Session,
    input: &mut dyn BufRead,
    out: &mut dyn WriteColor,
    err: &mut dyn WriteColor,
) -> Result<Status, CliError> {
    let mut failed = false;
    let mut entry = String::new();
    for line in input.lines() {
        let line = line.map_err(|error| CliError::new(format!("cannot read standard input: {error}")))?;
        if !entry.is_empty() {
            entry.push('\n');
        }
        entry.push_str(&line);
        if text::needs_more(&entry) {
            continue;
        }
        let reply = match session.handle(&entry, out, err) {
            Ok(reply) => reply,
            Err(error) => return finish_output(status(failed), Err(error)),
        };
        entry.clear();
        failed |= reply.failed;
        if reply.flow == Flow::Quit {
            return Ok(status(failed));
        }
    }
    // An entry left open at the end: checking it says which bracket.
    if !entry.is_empty() {
        match session.handle(&entry, out, err) {
            Ok(reply) => failed |= reply.failed,
            Err(error) => return finish_output(status(failed), Err(error)),
        }
    }
    Ok(status(failed))
}

fn status(failed: bool) -> Status {
    if failed { Status::Findings } else { Status::Success }
}

fn output_error(error: io::Error) -> CliError {
    CliError::new(format!("cannot write the output: {error}"))
}

/// The line editor's loop.
fn interactive(
    session: &mut Session,
    color: bool,
    out: &mut dyn WriteColor,
    err: &mut dyn WriteColor,
) -> Result<Status, CliError> {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .color_mode(if color { ColorMode::Enabled } else { ColorMode::Disabled })
        .build();
    let editor_error = |error: ReadlineError| CliError::new(format!("the line editor failed: {error}"));
    let mut editor: Editor<editor::ReplHelper, FileHistory> = Editor::with_config(config).map_err(editor_error)?;
    let mut helper = editor::ReplHelper::new(color);
    helper.names = session.names().clone();
    editor.set_helper(Some(helper));

    let history = editor::history_path(std::env::var_os(editor::HISTORY_ENV));
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // A missing file is a first session; an unreadable one only loses
        // the recall of earlier entries.
        let _ = editor.load_history(path);
    }

    writeln!(
        out,
        "lossc {} ({}): enter statements, `:help` for the commands, `:quit` or Ctrl-D to leave",
        env!("CARGO_PKG_VERSION"),
        session.dtype()
    )
    .and_then(|()| out.flush())
    .map_err(output_error)?;

    loop {
        let (entry, last) = match read_entry(&mut editor) {
            Ok(read) => read,
            // Ctrl-C drops the entry being edited.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(editor_error(error)),
        };
        if !entry.trim().is_empty() {
            let _ = editor.add_history_entry(entry.as_str());
            if let Some(path) = &history
                && let Err(error) = editor.append_history(path)
            {
                write_note_line(
                    err,
                    &format!("cannot save the history to `{}`: {error}", path.display()),
                );
            }
        }
        let reply = session.handle(&entry, out, err).map_err(output_error)?;
        if let Some(helper) = editor.helper_mut() {
            helper.names = session.names().clone();
        }
        if reply.flow == Flow::Quit || last {
            break;
        }
    }
    Ok(Status::Success)
}

/// Reads one entry: a line, and while a bracket is open the next ones,
/// after the [`CONTINUATION`] prompt, joined by newlines. `true` with it
/// when Ctrl-D ended it with a bracket open (it is checked, which says
/// which bracket, and the session ends).
fn read_entry(editor: &mut Editor<editor::ReplHelper, FileHistory>) -> Result<(String, bool), ReadlineError> {
    let mut entry = editor.readline(PROMPT)?;
    while text::needs_more(&entry) {
        match editor.readline(CONTINUATION) {
            Ok(line) => {
                entry.push('\n');
                entry.push_str(&line);
            }
            Err(ReadlineError::Eof) => return Ok((entry, true)),
            Err(other) => return Err(other),
        }
    }
    Ok((entry, false))
}
