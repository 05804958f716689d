//! `lossc repl` as a user meets it: a piped session through every command
//! (no prompts, the same results, exit status 1 when an entry fails), a
//! multi-line `def`, an error and the recovery from it; and a session on a
//! pseudo-terminal with the line editor: tab completion, multi-line entry,
//! and history across two sessions.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.env_remove("NO_COLOR").env_remove("TERM");
    command
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

/// Runs `lossc repl ARGS` with `script` on standard input.
fn piped(args: &[&str], script: &str) -> (Output, String, String) {
    let output = lossc().arg("repl").args(args).write_stdin(script).output().unwrap();
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    (output, stdout, stderr)
}

/// The part of `text` after the first occurrence of `marker` (which must be there).
#[track_caller]
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in:\n{text}"));
    &text[at + marker.len()..]
}

#[test]
fn a_piped_session_runs_every_command() {
    let dir = TempDir::new().unwrap();
    let saved = dir.path().join("session.loss");
    let script = format!(
        "\
input y_true: {{0, 1}}
input y_pred: [0, 1]
# A typo: the entry is not kept, and the session goes on.
loss mse = mean(squre(y_true - y_pred))
loss mse = mean(square(y_true - y_pred))
def smooth(e) = where(abs(e) < 1,
                      0.5 * square(e),
                      abs(e) - 0.5)
loss smooth_l1 = mean(smooth(y_true - y_pred))
:grad
:grad mse
:simplify mse
:check
:eval y_true=[1, 0] y_pred=[0.9, 0.2]
:eval mse y_true=[1, 0] y_pred=[0.9, 0.2]
:emit jax
:dtype f64
:save {}
:show
:help
:load {}
:check
:quit
:show
",
        saved.display(),
        example("faulty_step_where").display()
    );
    let (output, stdout, stderr) = piped(&[], &script);

    // No prompt and no banner: the output is only results.
    assert!(!stdout.contains("lossc>"), "{stdout}");
    assert!(!stdout.starts_with("lossc "), "{stdout}");

    // The typo: its diagnostic points at the line typed, in the session.
    assert!(
        stdout.starts_with("error[unknown-name]: cannot find function `squre`\n  --> <repl>:3:17"),
        "{stdout}"
    );
    assert!(stdout.contains("error: not kept: 1 error"), "{stdout}");

    // `:grad` acts on the loss entered last, `:grad mse` on the one named.
    let grad = after(&stdout, "error: not kept: 1 error\n");
    assert!(grad.contains("output d_smooth_l1_d_y_pred = "), "{grad}");
    assert!(
        grad.contains("output d_mse_d_y_pred = 2 * (y_pred - y_true) / N"),
        "{grad}"
    );
    // `:simplify mse` prints a program with that loss only.
    let simplified = after(grad, "output d_mse_d_y_pred");
    let simplified = &simplified[..simplified.find("ok: `<repl>`").unwrap()];
    assert!(
        simplified.contains("loss mse = mean(square(y_true - y_pred))"),
        "{simplified}"
    );
    assert!(!simplified.contains("smooth_l1"), "{simplified}");
    // `:check`.
    assert!(stdout.contains("ok: `<repl>`: no problems found (f32)"), "{stdout}");
    // `:eval`, on the last loss and on a named one, with the gradient.
    assert!(
        stdout.contains("loss smooth_l1 = 0.0125 (f32, N = 2)\ngradient wrt y_pred, shape [2]:\n  [-0.05, 0.1]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("loss mse = 0.025 (f32, N = 2)\ngradient wrt y_pred, shape [2]:\n  [-0.1, 0.2]"),
        "{stdout}"
    );
    // `:emit jax`: the module `lossc emit` prints, for the last loss.
    assert!(stdout.contains("import jax.numpy as jnp"), "{stdout}");
    assert!(stdout.contains("def smooth_l1(y_true, y_pred):"), "{stdout}");
    // `:dtype`, `:save`, `:show`, `:help`.
    assert!(stdout.contains("dtype f64\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("saved 5 statements to `{}`", saved.display())),
        "{stdout}"
    );
    let file = std::fs::read_to_string(&saved).unwrap();
    assert!(
        file.starts_with("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss mse = mean(square"),
        "{file}"
    );
    assert!(
        file.contains("def smooth(e) = where(abs(e) < 1,\n                      0.5 * square(e),"),
        "{file}"
    );
    assert!(stdout.contains(&file), "`:show` prints what `:save` wrote:\n{stdout}");
    assert!(stdout.contains(":emit TARGET [NAME]"), "{stdout}");
    // `:load` replaces the session; its findings are shown at once, and
    // again by `:check`, now in f64.
    assert!(
        stdout.contains("loaded `") && stdout.contains("(4 statements; losses: `confident_mse`): 2 warnings (f64)"),
        "{stdout}"
    );
    let checked = after(&stdout, "2 warnings (f64)\n");
    assert!(checked.contains("warning[dead-gradient]"), "{checked}");
    assert!(
        checked.contains("warning: `<repl>`: no errors, 2 warnings (f64)"),
        "{checked}"
    );
    // `:quit` ends the session: the `:show` after it never runs.
    assert!(stdout.trim_end().ends_with("no errors, 2 warnings (f64)"), "{stdout}");

    // The session the script saved can be checked as a file.
    lossc().arg("check").arg(&saved).assert().success();

    // An entry was not kept: exit status 1.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}

#[test]
fn a_clean_script_exits_zero_and_a_bad_one_says_why() {
    let (output, stdout, stderr) = piped(
        &["--dtype", "f64"],
        "loss = mean(abs(y_true - y_pred))\n:eval y_true=[1] y_pred=[3]\n",
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // The statement brings notes (the kink of `abs`), then the numbers.
    assert!(stdout.starts_with("note[non-smooth]"), "{stdout}");
    assert!(
        stdout.ends_with("\nloss loss = 2 (f64, N = 1)\ngradient wrt y_pred, shape [1]:\n  [1]\n"),
        "{stdout}"
    );

    let (output, stdout, stderr) = piped(&[], ":grad\n:eval nothing\n:dtype f16\n:gard\nloss l = mean(y_pred\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("error: the session is empty: enter a loss first"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: `:dtype f16`: the dtypes are `f32` and `f64`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no command `:gard`: did you mean `:grad`?"),
        "{stderr}"
    );
    // A bracket left open at the end of the input is reported at the bracket.
    assert!(stdout.contains("error[syntax]"), "{stdout}");
}

#[test]
fn a_session_starts_from_a_file_and_redefines_names() {
    let (output, stdout, stderr) = piped(
        &[example("faulty_clip_eps").to_str().unwrap()],
        "const eps = 1e-7\n:check\n",
    );
    // Loading the faulty file shows its errors; correcting `eps` replaces
    // the statement in place, and the check is clean of them.
    assert!(stdout.contains("error[log-domain]"), "{stdout}");
    assert!(stderr.contains("note: replaced `const eps = 1e-8`"), "{stderr}");
    let checked = after(&stdout, "losses: `bce` (with errors))");
    let checked = after(checked, "\n");
    assert!(!checked.contains("error[log-domain]"), "{checked}");
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");

    let (output, _, stderr) = piped(&["no/such/file.loss"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("cannot read `no/such/file.loss`"), "{stderr}");
}

#[test]
fn the_scripted_session_in_the_docs_prints_what_they_show() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/repl.md")).unwrap();
    let block = |tag: &str| {
        let start = after(&page, &format!("```text\n# {tag}\n"));
        start[..start.find("```").unwrap()].to_string()
    };
    let (output, stdout, stderr) = piped(&[], &block("repl-input"));
    assert_eq!(stdout, block("repl-output"), "docs/repl.md's transcript");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}

/// The line editor on a pseudo-terminal.
#[cfg(unix)]
mod terminal {
    use super::*;
    use rexpect::session::{Options, PtySession, spawn_with_options};

    /// `lossc repl` on a pseudo-terminal, with history in `history`; `None`
    /// (and a message) when this machine cannot open one.
    // The message says why the test did nothing; it must reach the reader.
    #[allow(clippy::print_stderr)]
    fn spawn(history: &Path) -> Option<PtySession> {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lossc"));
        command
            .arg("repl")
            .env("LOSSC_HISTORY", history)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let options = Options {
            timeout_ms: Some(20_000),
            strip_ansi_escape_codes: true,
        };
        match spawn_with_options(command, options) {
            Ok(session) => Some(session),
            Err(error) => {
                eprintln!("skipped: no pseudo-terminal available here ({error})");
                None
            }
        }
    }

    /// Sends keys without Enter (rexpect buffers them until a flush).
    fn type_keys(repl: &mut PtySession, keys: &str) {
        repl.send(keys).unwrap();
        repl.flush().unwrap();
    }

    /// Waits for a fresh prompt: the previous entry has been handled and the
    /// editor reads the next one. (The editor discards keys typed before it
    /// is ready, so every entry waits for this. While a line is edited the
    /// prompt is drawn again, but followed by the text.)
    fn prompt(repl: &mut PtySession) {
        repl.exp_string("lossc> \r").unwrap();
    }

    /// Enters `line` at a fresh prompt, and waits for the next one.
    fn enter(repl: &mut PtySession, line: &str) {
        repl.send_line(line).unwrap();
        prompt(repl);
    }

    #[test]
    fn completion_multi_line_entries_and_history_across_sessions() {
        let dir = TempDir::new().unwrap();
        let history = dir.path().join("history");

        // The first session.
        let Some(mut repl) = spawn(&history) else { return };
        repl.exp_string("`:help` for the commands").unwrap();
        prompt(&mut repl);
        // Tab completes a built-in (with its bracket) ...
        type_keys(&mut repl, "loss first = mean(squ");
        type_keys(&mut repl, "\t");
        repl.exp_string("square(").unwrap();
        enter(&mut repl, "y_true - y_pred))");
        // ... a declared name ...
        enter(&mut repl, "let base_error = y_true - y_pred");
        type_keys(&mut repl, "loss second = mean(2 * abs(base_e");
        type_keys(&mut repl, "\t");
        repl.exp_string("base_error").unwrap();
        enter(&mut repl, "))");
        // ... and a command.
        type_keys(&mut repl, ":gr");
        type_keys(&mut repl, "\t");
        repl.exp_string(":grad").unwrap();
        repl.send_line(" first").unwrap();
        repl.exp_string("output d_first_d_y_pred = 2 * (y_pred - y_true) / N")
            .unwrap();
        prompt(&mut repl);
        // An open bracket continues the entry on the next line, after a
        // prompt of its own, until the brackets balance.
        repl.send_line("def relu6(x) = minimum(").unwrap();
        repl.exp_string("...> \r").unwrap();
        repl.send_line("    relu(x),").unwrap();
        repl.exp_string("...> \r").unwrap();
        enter(&mut repl, "    6)");
        enter(&mut repl, "loss capped = mean(relu6(y_pred))");
        // An error: the entry is not kept; the session goes on.
        repl.send_line("loss broken = mean(y_pred +)").unwrap();
        repl.exp_string("not kept").unwrap();
        prompt(&mut repl);
        enter(&mut repl, "loss last = mean(abs(y_pred))");
        repl.send_line(":show").unwrap();
        repl.exp_string("\nloss first = mean(square(y_true - y_pred))").unwrap();
        repl.exp_string("\nloss second = mean(2 * abs(base_error))").unwrap();
        repl.exp_string("\ndef relu6(x) = minimum(\r\n    relu(x),\r\n    6)")
            .unwrap();
        repl.exp_string("\nloss capped = mean(relu6(y_pred))").unwrap();
        repl.exp_string("\nloss last = mean(abs(y_pred))").unwrap();
        prompt(&mut repl);
        // Ctrl-D leaves.
        repl.send_control('d').unwrap();
        repl.exp_eof().unwrap();

        let saved = std::fs::read_to_string(&history).unwrap();
        assert!(saved.contains("loss last = mean(abs(y_pred))"), "{saved}");

        // The second session recalls the first one's entries with Up: the
        // last was `:show`, before it `loss last = ...`.
        let Some(mut repl) = spawn(&history) else { return };
        repl.exp_string("`:help` for the commands").unwrap();
        prompt(&mut repl);
        type_keys(&mut repl, "\x1b[A");
        repl.exp_string(":show").unwrap();
        type_keys(&mut repl, "\x1b[A");
        repl.exp_string("loss last = mean(abs(y_pred))").unwrap();
        enter(&mut repl, "");
        repl.send_line(":show").unwrap();
        repl.exp_string("\nloss last = mean(abs(y_pred))").unwrap();
        prompt(&mut repl);
        repl.send_line(":quit").unwrap();
        repl.exp_eof().unwrap();
    }
}

/// `:save` writes as every output of lossc does: a FIFO is refused at once
/// (it used to block the session forever), a symbolic link stays a link to
/// the saved file.
#[cfg(unix)]
#[test]
fn save_refuses_a_fifo_and_keeps_a_link() {
    use std::time::{Duration, Instant};

    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let script = format!("loss l = mean(square(y_pred))\n:save {}\n", fifo.display());
    let started = Instant::now();
    let (output, _, stderr) = piped(&["--color", "never"], &script);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the session waited on the FIFO"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("it is a named pipe"), "{stderr}");

    let target = dir.path().join("saved.loss");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("link.loss");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let script = format!("loss l = mean(square(y_pred))\n:save {}\n", link.display());
    let (output, _, stderr) = piped(&["--color", "never"], &script);
    assert!(output.status.success(), "{stderr}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("loss l = mean(square(y_pred))")
    );
}

#[test]
fn open_brackets_continue_statements_and_commands() {
    let (output, stdout, stderr) = piped(
        &[],
        "\
input y_true: {0, 1}
input y_pred: [0, 1]
loss mse = mean(square(y_true - y_pred))
:eval y_true=[1,
              0] y_pred=[0.9,
                         0.2]
def half(
    e) = 0.5 * e
:eval y_true=[1] y_pred=[
    0.5]
",
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "loss mse = 0.025 (f32, N = 2)\ngradient wrt y_pred, shape [2]:\n  [-0.1, 0.2]\n\
         loss mse = 0.25 (f32, N = 1)\ngradient wrt y_pred, shape [1]:\n  [-1]\n"
    );
}

#[test]
fn a_loss_with_analyzer_errors_is_kept_and_marked() {
    let (output, stdout, stderr) = piped(
        &[],
        "\
input y_pred: real
loss l = mean(log(y_pred))
:show
:eval y_pred=[1, 0]
:grad
loss m = mean(lg(y_pred))
:show
",
    );
    // The finding is shown, and the loss is kept, marked.
    assert!(stdout.starts_with("error[log-domain]"), "{stdout}");
    assert!(stdout.contains("error: kept, with 1 error"), "{stdout}");
    assert!(stdout.contains("; with errors: `l`\n"), "{stdout}");
    let shown = after(&stdout, "input y_pred: real\nloss l = mean(log(y_pred))\n");
    assert!(
        shown.starts_with("# losses with errors: `l` (`:check` shows them)\n"),
        "{shown}"
    );
    // The very infinity the finding is about, and the gradient.
    assert!(stdout.contains("loss l = -inf (f32, N = 2)"), "{stdout}");
    assert!(stdout.contains("output d_l_d_y_pred = "), "{stdout}");
    // A statement that does not compile is still refused.
    assert!(stdout.contains("error[unknown-name]"), "{stdout}");
    assert!(stdout.contains("error: not kept: 1 error"), "{stdout}");
    assert!(!after(&stdout, "not kept").contains("loss m ="), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_param_change_says_how_the_findings_changed() {
    let (_, stdout, stderr) = piped(
        &[],
        "\
input y_pred: [0, 1]
param eps = 0.1
loss l = mean(-log(y_pred + eps))
param eps = 0
param eps = 0.0
param eps = 0.2
",
    );
    let appeared = after(
        &stdout,
        "findings changed by `param eps = 0`: 2 appeared, 0 went away\n",
    );
    assert!(
        appeared.starts_with(
            "  + error[log-domain]: `y_pred + eps` reaches 0 when `y_pred` = 0\n  + warning[exploding-gradient]: "
        ),
        "{appeared}"
    );
    let unchanged = after(appeared, "findings unchanged by `param eps = 0.0`\n");
    let gone = after(
        unchanged,
        "findings changed by `param eps = 0.2`: 0 appeared, 2 went away\n",
    );
    assert!(
        gone.starts_with(
            "  - error[log-domain]: `y_pred + eps` reaches 0 when `y_pred` = 0\n  - warning[exploding-gradient]: "
        ),
        "{gone}"
    );
    assert!(stderr.contains("note: replaced `param eps = 0.0`"), "{stderr}");
}

#[test]
fn a_bare_expression_is_evaluated_on_the_data_given_last() {
    let (output, stdout, stderr) = piped(
        &[],
        "\
input y_true: {0, 1}
input y_pred: [0, 1]
loss mse = mean(square(y_true - y_pred))
log(y_pred)
:eval y_true=[1, 0] y_pred=[0.9, 0]
log(y_pred)
mean(square(
    y_pred - y_true))
y_pred > 0.5
:eval mse y_pred=[0.5, 0.5]
mean(squre(y_pred))
:show
",
    );
    // No data yet: as `:eval` says, with where data comes from.
    assert!(
        stderr.starts_with(
            "error: no data for input `y_true` (declared with shape [N]): an expression reads the data last given to `:eval`: `:eval y_true=[...]`\n"
        ),
        "{stderr}"
    );
    // The infinity a `log-domain` finding is about.
    assert!(
        stdout.contains(
            "loss _ = -inf (f32, N = 2)\nper sample, shape [2] (the loss is their mean):\n  [-0.105361, -inf]\n"
        ),
        "{stdout}"
    );
    // A number is a loss, with its gradient (an open bracket continues the
    // expression); a boolean is an output.
    assert!(
        stdout.contains("loss _ = 0.005 (f32, N = 2)\ngradient wrt y_pred, shape [2]:\n  [-0.1, 0]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("output _, shape [2] (f32, N = 2):\n  [1, 0]\n"),
        "{stdout}"
    );
    // `:eval` reads the data given last for an input it is not given.
    assert!(stdout.contains("loss mse = 0.25 (f32, N = 2)"), "{stdout}");
    // An expression that does not compile says why, and nothing is kept.
    assert!(stdout.contains("loss _ = mean(squre(y_pred))"), "{stdout}");
    assert!(stdout.contains("error: not evaluated: 1 error\n"), "{stdout}");
    assert!(stdout.ends_with("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss mse = mean(square(y_true - y_pred))\n"));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn grad_and_simplify_take_outputs() {
    let (_, stdout, stderr) = piped(
        &[],
        "\
input y_true: {0, 1}
input y_pred: [0, 1]
loss mse = mean(square(y_true - y_pred))
output per_sample = square(y_true - y_pred)
output high = y_pred > 0.5
:grad per_sample
:simplify per_sample
:grad high
",
    );
    assert!(
        stdout.contains("\noutput d_per_sample_d_y_pred = 2 * (y_pred - y_true) / N\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("note: `per_sample` has one value per sample: the gradient is that of their mean"),
        "{stderr}"
    );
    let simplified = after(&stdout, "d_per_sample_d_y_pred");
    assert!(
        simplified.contains("\noutput per_sample = square(y_true - y_pred)\n"),
        "{simplified}"
    );
    assert!(!simplified.contains("mse"), "{simplified}");
    assert!(
        stderr.contains("error: the output `high` cannot be differentiated as a loss: the loss `high` is a boolean"),
        "{stderr}"
    );
}

#[test]
fn mistyped_names_get_a_suggestion() {
    let (_, _, stderr) = piped(
        &[],
        "\
loss mse = mean(square(y_true - y_pred))
output per_sample = square(y_true - y_pred)
:grad mes
:simplify per_sampel
:eval mes
:emit torch mes
:emit jaxx
:chek
",
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: no loss or output named `mes`; did you mean `mse`? the session defines `mse`, `per_sample`",
            "error: no loss or output named `per_sampel`; did you mean `per_sample`? the session defines `mse`, `per_sample`",
            "error: no loss or output named `mes`; did you mean `mse`? the session defines `mse`, `per_sample`",
            "error: no loss named `mes`; did you mean `mse`? the losses: `mse`",
            "error: `:emit jaxx`: no such target; did you mean `jax`? the targets: jax, torch, keras, tf, numpy",
            "error: no command `:chek`: did you mean `:check`? `:help` lists the commands",
        ]
    );
}

#[test]
fn plot_draws_a_loss_even_with_errors() {
    let dir = TempDir::new().unwrap();
    let svg = dir.path().join("l.svg");
    let script = format!(
        "\
input y_true: {{0, 1}}
input y_pred: [0, 1]
loss l = mean(-log(y_pred))
:plot {svg} --fix y_true=1
:plot l {svg} --nope
:plot
",
        svg = svg.display()
    );
    let (_, stdout, stderr) = piped(&[], &script);
    // The loss with its log-domain error is drawn, and the summary says
    // where it is infinite (-log(0) = inf).
    let drawn = after(
        &stdout,
        &format!("{}: loss `l` against `y_pred` over [0, 1] (f32)\n", svg.display()),
    );
    assert!(
        drawn.starts_with("  the loss is NaN or infinite at y_pred = 0\n"),
        "{drawn}"
    );
    let written = std::fs::read_to_string(&svg).unwrap();
    assert!(
        written.starts_with("<svg") || written.contains("<svg "),
        "{}",
        &written[..100.min(written.len())]
    );
    // Options are `lossc plot`'s: an unknown one is named; a missing file is asked for.
    assert_eq!(
        stderr,
        "error: `:plot`: unexpected argument '--nope' found
\
         error: `:plot` needs an SVG file: `:plot [NAME] FILE.svg [--wrt INPUT] [--fix INPUT=VALUE] [--range LO,HI]`\n"
    );
}
