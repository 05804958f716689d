//! Command lines through the CLI crate's library: argument vectors built
//! from clap's own description of every command and option (so a new option
//! is fuzzed without being listed here), with values at the edges (huge
//! counts, negative and non-finite numbers, empty and non-ASCII text, files
//! of every kind), then edited (arguments dropped, repeated, swapped).
//!
//! Every vector is parsed (`Cli::try_parse_from` must not panic); one that
//! parses is run in this process when it is cheap and safe to: every command
//! but `repl` (it reads the test's stdin), `bench` and `fit` (they time and
//! train at length; the corpus runs them as a child process), and only when
//! every file it would write is in the case's scratch directory.

use clap::CommandFactory;
use clap::Parser;
use lossc_cli::{Cli, Command};
use proptest::prelude::*;
use proptest::sample::Index;
use tempfile::TempDir;

use crate::harness::{Problem, fuzz};
use crate::run::execute;

/// Values for options, `{dir}` the scratch directory (which holds the files
/// below, written for each case).
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "7",
    "100",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "-0",
    "0.5",
    "1e-320",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "",
    " ",
    "é",
    "a",
    "y_pred",
    "y_true",
    "l",
    "x",
    "gamma",
    "f32",
    "f64",
    "jax",
    "torch",
    "numpy",
    "json",
    "text",
    "auto",
    "on",
    "off",
    "always",
    "never",
    "bash",
    "zsh",
    "gamma=2",
    "gamma=NaN",
    "gamma=1e400",
    "=",
    "y_pred=[0.5, 0.2]",
    "y_true=[1, 0]",
    "y_pred=[[1], [2]]",
    "y_pred=[]",
    "y_pred=1",
    "y_pred={dir}/p.npy",
    "y_pred={dir}/p.csv",
    "y_pred={dir}/none.npy",
    "N=3",
    "N=0",
    "N=18446744073709551615",
    "-1,1",
    "0,0",
    "1,-1",
    "-1e308,1e308",
    "NaN,1",
    "{dir}/m.loss",
    "{dir}/out.svg",
    "{dir}/g.npy",
    "{dir}/none.loss",
    "{dir}",
    "{dir}/x.npy",
    "{dir}/y.npy",
    "{dir}/new/dir/out.npy",
];

/// Formulas for `-e`.
const FORMULAS: &[&str] = &[
    "mean(square(y_true - y_pred))",
    "mean(-log(y_pred))",
    "mean(where(y_pred > 0, y_pred, softmax(log(-y_pred))))",
    "mean(0 ^ y_pred)",
    "",
    "mean(",
    "sum(y_pred, axis=5)",
];

/// The program file every case has: a param, two losses, an output.
const PROGRAM: &str = "input y_true: {0, 1} [N]\ninput y_pred: [0, 1] [N]\nparam gamma = 2\n\
    loss l = mean(-(1 - y_pred)^gamma * y_true * log(y_pred + 1e-7))\nloss m = mean(square(y_true - y_pred))\n\
    output o = y_pred * 2\n";

/// An option of a command: its flag and whether it takes a value.
#[derive(Debug, Clone)]
struct Flag {
    name: String,
    takes_value: bool,
    choices: Vec<String>,
}

/// Every command's name and flags, read from clap.
fn commands() -> Vec<(String, Vec<Flag>)> {
    let root = Cli::command();
    root.get_subcommands()
        .map(|command| {
            let flags = command
                .get_arguments()
                .filter(|arg| !arg.is_positional())
                .map(|arg| Flag {
                    name: match (arg.get_long(), arg.get_short()) {
                        (Some(long), _) => format!("--{long}"),
                        (None, Some(short)) => format!("-{short}"),
                        (None, None) => format!("--{}", arg.get_id()),
                    },
                    takes_value: arg.get_action().takes_values(),
                    choices: arg
                        .get_possible_values()
                        .iter()
                        .map(|value| value.get_name().to_string())
                        .collect(),
                })
                .collect();
            (command.get_name().to_string(), flags)
        })
        .collect()
}

/// A generated command line, before the scratch directory is known.
#[derive(Debug, Clone)]
struct Line {
    command: Index,
    source: Source,
    options: Vec<(Index, ValueChoice)>,
    edits: Vec<Edit>,
}

#[derive(Debug, Clone)]
enum Source {
    File,
    Formula(Index),
    Missing,
}

#[derive(Debug, Clone)]
enum ValueChoice {
    /// One of the option's possible values, when it has some.
    Choice(Index),
    Pool(Index),
    /// `--flag=VALUE` in one argument.
    Joined(Index),
}

#[derive(Debug, Clone)]
enum Edit {
    Drop(Index),
    Repeat(Index),
    Swap(Index, Index),
    Insert(Index, Index),
}

fn line() -> impl Strategy<Value = Line> {
    let source = prop_oneof![
        3 => Just(Source::File),
        3 => any::<Index>().prop_map(Source::Formula),
        1 => Just(Source::Missing),
    ];
    let value = prop_oneof![
        3 => any::<Index>().prop_map(ValueChoice::Choice),
        4 => any::<Index>().prop_map(ValueChoice::Pool),
        1 => any::<Index>().prop_map(ValueChoice::Joined),
    ];
    let edit = prop_oneof![
        any::<Index>().prop_map(Edit::Drop),
        any::<Index>().prop_map(Edit::Repeat),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Insert(a, b)),
    ];
    (
        any::<Index>(),
        source,
        prop::collection::vec((any::<Index>(), value), 0..6),
        prop::collection::vec(edit, 0..2),
    )
        .prop_map(|(command, source, options, edits)| Line {
            command,
            source,
            options,
            edits,
        })
}

/// The argument vector of `line` (without `lossc`), files in `dir`.
fn argv(line: &Line, dir: &str) -> Vec<String> {
    let commands = commands();
    let (name, flags) = &commands[line.command.index(commands.len())];
    let value = |index: &Index| VALUES[index.index(VALUES.len())].replace("{dir}", dir);
    let mut args = vec![name.clone()];
    match &line.source {
        Source::File => args.push(format!("{dir}/m.loss")),
        Source::Formula(i) => {
            args.push("-e".to_string());
            args.push(FORMULAS[i.index(FORMULAS.len())].to_string());
        }
        Source::Missing => {}
    }
    if !flags.is_empty() {
        for (flag, choice) in &line.options {
            let flag = &flags[flag.index(flags.len())];
            if !flag.takes_value {
                args.push(flag.name.clone());
                continue;
            }
            match choice {
                ValueChoice::Choice(i) if !flag.choices.is_empty() => {
                    args.push(flag.name.clone());
                    args.push(flag.choices[i.index(flag.choices.len())].clone());
                }
                ValueChoice::Choice(i) | ValueChoice::Pool(i) => {
                    args.push(flag.name.clone());
                    args.push(value(i));
                }
                ValueChoice::Joined(i) => args.push(format!("{}={}", flag.name, value(i))),
            }
        }
    }
    for edit in &line.edits {
        let n = args.len();
        match edit {
            Edit::Drop(i) if n > 1 => {
                args.remove(1 + i.index(n - 1));
            }
            Edit::Repeat(i) => {
                let at = i.index(n);
                args.insert(at, args[at].clone());
            }
            Edit::Swap(a, b) => args.swap(a.index(n), b.index(n)),
            Edit::Insert(at, v) => args.insert(at.index(n + 1), value(v)),
            Edit::Drop(_) => {}
        }
    }
    args
}

/// Whether running `cli` is cheap and writes only inside `dir`.
fn safe_to_run(cli: &Cli, dir: &std::path::Path) -> bool {
    let inside = |path: &std::path::Path| path.starts_with(dir);
    match &cli.command {
        Command::Repl(_) | Command::Bench(_) | Command::Fit(_) => false,
        Command::Eval(args) => args.grad_out.as_deref().is_none_or(inside),
        Command::Plot(args) => inside(&args.out),
        _ => true,
    }
}

/// Writes the files the values name.
fn scratch_files(dir: &std::path::Path) {
    std::fs::write(dir.join("m.loss"), PROGRAM).expect("write a scratch file");
    std::fs::write(dir.join("p.csv"), "0.5\n0.2\n").expect("write a scratch file");
    let array = ndarray::arr1(&[0.5f64, 0.25]).into_dyn();
    ndarray_npy::write_npy(dir.join("p.npy"), &array).expect("write a scratch file");
    ndarray_npy::write_npy(dir.join("x.npy"), &ndarray::arr2(&[[0.5f64, 1.0], [2.0, 3.0]])).expect("write");
    ndarray_npy::write_npy(dir.join("y.npy"), &ndarray::arr1(&[1.0f64, 0.0])).expect("write a scratch file");
}

#[test]
fn command_lines() {
    fuzz(
        "args: command lines",
        line(),
        300,
        |line| format!("lossc {}", shell_words(&argv(line, "DIR"))),
        |line| {
            let dir = TempDir::new().expect("a scratch directory");
            scratch_files(dir.path());
            let args = argv(&line, &dir.path().to_string_lossy());
            let argv = std::iter::once("lossc".to_string()).chain(args.iter().cloned());
            let Ok(mut cli) = Cli::try_parse_from(argv) else {
                return Ok(());
            };
            if !safe_to_run(&cli, dir.path()) {
                return Ok(());
            }
            if let Command::Eval(eval) = &mut cli.command {
                eval.jit = lossc_cli::bench::JitMode::Off;
            }
            execute(&cli).map_err(|problem| Problem::new(&problem.signature, problem.message))
        },
    );
}

/// The arguments quoted for a POSIX shell.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./,:{}".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
