//! REPL sessions through the session API (`lossc_cli::repl`): sequences of
//! entries (statements of real programs, mutated statements, every
//! `:command` with good and bad arguments) handled one by one, and the same
//! lines as a piped script (where open brackets join lines).
//!
//! `:save` and `:load` only ever name files in the case's scratch directory.

use codespan_reporting::term::termcolor::NoColor;
use lossc::Dtype;
use lossc_cli::repl::run_script;
use lossc_cli::repl::session::Session;
use proptest::prelude::*;
use proptest::sample::Index;
use tempfile::TempDir;

use crate::harness::{Problem, fuzz};
use crate::mutate::{Mutation, mutated};
use crate::seeds;

/// `:command` entries; `{dir}` is the scratch directory.
const COMMANDS: &[&str] = &[
    ":grad",
    ":grad l",
    ":grad loss",
    ":grad nothing",
    ":simplify",
    ":simplify l",
    ":check",
    ":check l",
    ":eval",
    ":eval y_pred=[0.5, 0.2]",
    ":eval y_true=[1, 0] y_pred=[0.9, 0.2]",
    ":eval l y_pred=[[1e308]]",
    ":eval y_pred=[",
    ":eval y_pred=\"NaN\"",
    ":eval x=1 x=2",
    ":emit",
    ":emit jax",
    ":emit torch l",
    ":emit keras",
    ":emit tf",
    ":emit numpy",
    ":emit cobol",
    ":emit jax l extra",
    ":show",
    ":dtype",
    ":dtype f64",
    ":dtype f32",
    ":dtype f16",
    ":help",
    ":",
    "::",
    ":grad \"",
    ":save {dir}/s.loss",
    ":load {dir}/s.loss",
    ":load {dir}/none.loss",
    ":load {dir}",
    ":save {dir}/no/such/dir.loss",
];

/// Statements that make a session with something to work on.
const STATEMENTS: &[&str] = &[
    "input y_true: {0, 1}",
    "input y_pred: [0, 1]",
    "input x: real [N, C]",
    "param gamma = 2",
    "const w = [1, 2]",
    "let eps = 1e-7",
    "loss l = mean(square(y_true - y_pred))",
    "loss = mean(-log(y_pred + eps))",
    "loss soft = mean(sum(softmax(x, axis=-1), axis=-1))",
    "def f(a) = a * a",
    "def g(a, b) = where(a > b,\n  a,\n  b)",
    "output o = y_pred * 2",
    "wrt y_pred",
    "loss l = mean(clip(clip(clip(clip(y_pred, 0, 1) * y_pred, 0, 1) * y_pred, 0, 1) * y_pred, 0, 1))",
];

/// One entry: a known statement or command, a line of a real program, or a
/// mutated one.
#[derive(Debug, Clone)]
enum Entry {
    Statement(Index),
    Command(Index),
    SeedLine(Index, Index),
    Mutated(Index, Vec<Mutation>),
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => any::<Index>().prop_map(Entry::Statement),
        4 => any::<Index>().prop_map(Entry::Command),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(p, l)| Entry::SeedLine(p, l)),
        3 => (any::<Index>(), prop::collection::vec(any::<Mutation>(), 1..3))
            .prop_map(|(s, m)| Entry::Mutated(s, m)),
    ]
}

fn text(entry: &Entry) -> String {
    match entry {
        Entry::Statement(i) => STATEMENTS[i.index(STATEMENTS.len())].to_string(),
        Entry::Command(i) => COMMANDS[i.index(COMMANDS.len())].to_string(),
        Entry::SeedLine(p, l) => {
            let programs = seeds::programs();
            let program = &programs[p.index(programs.len())];
            let lines: Vec<&str> = program.lines().collect();
            lines
                .get(l.index(lines.len().max(1)))
                .copied()
                .unwrap_or("")
                .to_string()
        }
        Entry::Mutated(s, mutations) => {
            let base = STATEMENTS[s.index(STATEMENTS.len())];
            mutated(base, mutations, STATEMENTS[0])
        }
    }
}

/// The entries as text, `:save`/`:load` kept inside `dir` and none of a
/// mutation's commands allowed to name another file.
fn entries(session: &[Entry], dir: &str) -> Vec<String> {
    session
        .iter()
        .map(|entry| {
            let text = text(entry).replace("{dir}", dir);
            let trimmed = text.trim_start();
            let names_a_file = trimmed.starts_with(":save") || trimmed.starts_with(":load");
            if names_a_file && !matches!(entry, Entry::Command(_)) {
                ":show".to_string()
            } else {
                text
            }
        })
        .collect()
}

fn session() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(entry(), 1..12)
}

#[test]
fn repl_sessions() {
    let show = |session: &Vec<Entry>| entries(session, "DIR").join("\n");
    fuzz("repl: sessions", session(), 60, show, |session| {
        let dir = TempDir::new().expect("a scratch directory");
        let entries = entries(&session, &dir.path().to_string_lossy());
        for dtype in [Dtype::F32, Dtype::F64] {
            let mut state = Session::new(dtype);
            let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
            for entry in &entries {
                state
                    .handle(entry, &mut out, &mut err)
                    .map_err(|error| Problem::new("repl: an entry fails to write", error.to_string()))?;
            }
        }
        // The same lines piped: brackets join lines into one entry.
        let script = entries.join("\n");
        let mut state = Session::new(Dtype::F32);
        let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
        if let Err(error) = run_script(&mut state, &mut script.as_bytes(), &mut out, &mut err) {
            crate::run::one_line_error("repl script", error.message())?;
        }
        Ok(())
    });
}
