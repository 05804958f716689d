//! The corpus (`tests/fuzz/corpus/`): every input that once crashed, hung or
//! blew up a command, replayed on every run through the built `lossc` binary
//! in a child process (so one bomb cannot take the test binary with it),
//! each command under the deadline and the memory limit.
//!
//! - `source/*.loss`: `check` (f32 and f64), `grad`, `simplify`, `emit` and
//!   `probe`;
//! - `npy/*.npy`, `csv/*.csv`: `eval` of a vector and of a matrix loss with
//!   the file as `y_pred` and a `--grad-out` file;
//! - `json/*.json`: the same with the text as inline `--input y_pred=TEXT`;
//! - `repl/*.txt`: `lossc repl` with the file on stdin, in the scratch
//!   directory of `args` below;
//! - `args/*.args`: one argument per line (after `lossc`). `{dir}` is the
//!   scratch directory the command runs in; it holds `m.loss` (a program),
//!   `p.npy`, a FIFO `fifo` and `fifo.npy`, and a symbolic link `link.npy`
//!   to `target.npy`; `{corpus}` is `tests/fuzz/corpus/args`, where the
//!   programs some of them run lie beside them. After the command, the FIFOs and the link must still
//!   be a FIFO and a link: lossc may write through them or refuse, never
//!   replace them.
//!
//! A command passes when it exits with 0, 1 or 2 within the time and memory
//! limits (and, for data it refuses, says why in `error:` and `note:` lines
//! only); the test lists every file and command that did not.

use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::run::{Ending, crash_summary, run_binary};
use crate::seeds::root;

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    root().join("tests/fuzz/corpus")
}

/// The files of one kind, sorted.
fn files(kind: &str) -> Vec<PathBuf> {
    let dir = corpus_dir().join(kind);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        // Beside `.args` files, the programs they name.
        .filter(|path| kind != "args" || path.extension().is_some_and(|e| e == "args"))
        .collect();
    paths.sort();
    paths
}

/// One command of a replay: its arguments and stdin.
struct Run {
    args: Vec<OsString>,
    stdin: Vec<u8>,
}

impl Run {
    fn new<I: IntoIterator<Item = S>, S: Into<OsString>>(args: I) -> Run {
        Run {
            args: args.into_iter().map(Into::into).collect(),
            stdin: Vec::new(),
        }
    }

    fn shown(&self) -> String {
        let words: Vec<String> = self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("lossc {}", crate::args::shell_words(&words))
    }
}

const MATRIX_PROGRAM: &str = "input y_pred: real [N, C]\nloss = mean(sum(y_pred * y_pred, axis=-1))\n";
const PROGRAM: &str = "input y_true: {0, 1} [N]\ninput y_pred: [0, 1] [N]\nparam gamma = 2\n\
    loss l = mean(-(1 - y_pred)^gamma * y_true * log(y_pred + 1e-7))\n";

/// The commands a corpus file of `kind` is replayed with, in `dir`.
fn runs(kind: &str, file: &Path, dir: &Path) -> Vec<Run> {
    let path = file.as_os_str().to_owned();
    let data_runs = |input: OsString| {
        std::fs::write(dir.join("matrix.loss"), MATRIX_PROGRAM).expect("write a scratch file");
        let grad_out = dir.join("grad.npy");
        let mut out = Vec::new();
        for program in [vec!["-e", "mean(y_pred)"], vec!["matrix.loss"]] {
            let mut args: Vec<OsString> = vec!["eval".into(), "--input".into(), input.clone()];
            args.extend(["--grad-out".into(), grad_out.clone().into_os_string()]);
            args.extend(program.into_iter().map(OsString::from));
            out.push(Run::new(args));
        }
        out
    };
    match kind {
        "source" => {
            let mut out = vec![
                Run::new([OsString::from("check"), path.clone()]),
                Run::new([OsString::from("check"), path.clone(), "--dtype".into(), "f64".into()]),
                Run::new([OsString::from("grad"), path.clone()]),
                Run::new([OsString::from("simplify"), path.clone()]),
            ];
            for target in ["jax", "torch", "keras", "tf", "numpy"] {
                out.push(Run::new([
                    OsString::from("emit"),
                    path.clone(),
                    "--target".into(),
                    target.into(),
                ]));
            }
            out.push(Run::new([OsString::from("probe"), path.clone()]));
            out
        }
        "npy" | "csv" => {
            let mut input = OsString::from("y_pred=");
            input.push(&path);
            data_runs(input)
        }
        "json" => {
            let text = std::fs::read_to_string(file).expect("a JSON corpus file is text");
            data_runs(OsString::from(format!("y_pred={}", text.trim_end())))
        }
        "repl" => vec![Run {
            args: vec!["repl".into()],
            stdin: std::fs::read(file).expect("read a corpus file"),
        }],
        "args" => {
            let text = std::fs::read_to_string(file).expect("an args corpus file is text");
            let dir = dir.to_string_lossy();
            let corpus = corpus_dir().join("args");
            let corpus = corpus.to_string_lossy();
            let args: Vec<OsString> = text
                .lines()
                .filter(|line| !line.starts_with("#!"))
                .map(|line| OsString::from(line.replace("{dir}", &dir).replace("{corpus}", &corpus)))
                .collect();
            vec![Run::new(args)]
        }
        _ => panic!("unknown corpus kind `{kind}`"),
    }
}

/// The scratch directory of an `args` replay: a program, data, FIFOs, a link.
fn prepare(dir: &Path) {
    std::fs::write(dir.join("m.loss"), PROGRAM).expect("write a scratch file");
    let array = ndarray::arr1(&[0.5f64, 0.25]).into_dyn();
    ndarray_npy::write_npy(dir.join("p.npy"), &array).expect("write a scratch file");
    ndarray_npy::write_npy(dir.join("target.npy"), &array).expect("write a scratch file");
    std::os::unix::fs::symlink(dir.join("target.npy"), dir.join("link.npy")).expect("make a link");
    for fifo in ["fifo", "fifo.npy"] {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join(fifo))
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo is needed to replay the corpus");
    }
}

/// What is wrong with the special files of `dir` after a command, if anything.
fn special_files_replaced(dir: &Path) -> Option<String> {
    let kind = |name: &str| std::fs::symlink_metadata(dir.join(name)).map(|m| m.file_type());
    for fifo in ["fifo", "fifo.npy"] {
        if !kind(fifo).is_ok_and(|t| t.is_fifo()) {
            return Some(format!("the FIFO `{fifo}` was replaced or removed"));
        }
    }
    if !kind("link.npy").is_ok_and(|t| t.is_symlink()) {
        return Some("the symbolic link `link.npy` was replaced or removed".to_string());
    }
    None
}

/// What is wrong with the stderr of a command that refused its data, if
/// anything: every line must be an `error:` or a `note:` (a message that
/// quotes a file's text must not carry its line breaks along).
fn broken_error_lines(stderr: &str) -> Option<String> {
    let stray = stderr
        .lines()
        .find(|line| !(line.starts_with("error: ") || line.starts_with("note: ")))?;
    Some(format!(
        "an error message of several lines: the line `{}` is not an `error:` or a `note:`",
        crate::harness::abbreviate(stray, 120)
    ))
}

/// Replays every file of `kinds`, one child at a time (a loaded machine
/// must not make a command look hung), and panics listing every failure.
pub fn replay(kinds: &[&str]) {
    let jobs: Vec<(&str, PathBuf)> = kinds
        .iter()
        .flat_map(|kind| files(kind).into_iter().map(move |file| (*kind, file)))
        .collect();
    assert!(!jobs.is_empty(), "the corpus of {kinds:?} is empty");
    let started = std::time::Instant::now();
    let failures: Vec<String> = jobs.iter().filter_map(|(kind, file)| replay_file(kind, file)).collect();
    eprintln!(
        "corpus: {} files in {:.1} s, {} failing",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus files fail:\n\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n\n")
    );
}

/// Replays one file; the first command that fails stops it.
fn replay_file(kind: &str, file: &Path) -> Option<String> {
    let dir = TempDir::new().expect("a scratch directory");
    if kind == "args" || kind == "repl" {
        prepare(dir.path());
    }
    let name = file.strip_prefix(root()).unwrap_or(file).display().to_string();
    for run in runs(kind, file, dir.path()) {
        let what = match run_binary(&run.args, &run.stdin, dir.path()) {
            Ending::Normal { code, stderr } => match kind {
                "args" | "repl" => special_files_replaced(dir.path()),
                "npy" | "csv" | "json" if code == 2 => broken_error_lines(&stderr),
                _ => None,
            },
            Ending::Crashed { status, stderr } => Some(format!("{status}: {}", crash_summary(&stderr))),
            Ending::Hung(why) => Some(format!("{why} (killed)")),
            Ending::TooMuchMemory(bytes) => Some(format!("killed at {} MiB of resident memory", bytes >> 20)),
        };
        if let Some(what) = what {
            return Some(format!("{name}\n  {}\n  {what}", run.shown()));
        }
    }
    None
}

#[test]
fn corpus_replays() {
    replay(&["source", "npy", "csv", "json", "repl", "args"]);
}
