//! Running `lossc` commands: in this process through the CLI crate's library
//! (`Cli::try_parse_from` and `execute`), and as the built binary in a child
//! process with a deadline and a memory limit (for the corpus, where one
//! input may be a bomb that must not take the test binary with it).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::Parser;
use codespan_reporting::term::termcolor::NoColor;
use lossc_cli::{Cli, Command as LosscCommand};

use crate::harness::{
    Clock, MEMORY_LIMIT, POLL, Problem, Verdict, WALL_LIMIT, abbreviate, read_cpu_time, resident_bytes,
};

/// A refusal must be one line that says something.
pub fn one_line_error(stage: &str, message: &str) -> Verdict {
    if message.trim().is_empty() {
        return Err(Problem::new(&format!("{stage}: an empty error message"), ""));
    }
    if message.contains('\n') {
        return Err(Problem::new(
            &format!("{stage}: an error message of several lines"),
            abbreviate(message, 500),
        ));
    }
    Ok(())
}

/// Parses `lossc ARGS` and, when it parses, runs it in this process with its
/// output in memory (generated code off). Parsing may fail and the command
/// may refuse its input; neither may panic.
pub fn command_line(args: &[&str]) -> Verdict {
    let argv = std::iter::once("lossc").chain(args.iter().copied());
    let Ok(mut cli) = Cli::try_parse_from(argv) else {
        return Ok(());
    };
    if let LosscCommand::Eval(eval) = &mut cli.command {
        eval.jit = lossc_cli::bench::JitMode::Off;
    }
    execute(&cli)
}

/// Runs a parsed command line with its output in memory.
pub fn execute(cli: &Cli) -> Verdict {
    let (mut stdout, mut stderr) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
    match lossc_cli::execute(cli, &mut stdout, &mut stderr) {
        Ok(_) => Ok(()),
        Err(error) => one_line_error("a command", error.message()),
    }
}

/// How a child `lossc` ended.
#[derive(Debug)]
pub enum Ending {
    /// Exit status 0, 1 or 2, with what it wrote on stderr.
    Normal { code: i32, stderr: String },
    /// Any other status, or a signal: a panic (101) or an abort.
    Crashed { status: String, stderr: String },
    /// Killed over a time limit; says which.
    Hung(String),
    /// Killed when its resident memory passed [`MEMORY_LIMIT`].
    TooMuchMemory(u64),
}

/// The built binary.
pub fn lossc_binary() -> &'static str {
    env!("CARGO_BIN_EXE_lossc")
}

/// Runs `lossc ARGS` in `dir` with `stdin`, killing it when it uses more
/// than [`crate::harness::CPU_LIMIT`] (all its threads together), waits
/// [`crate::harness::IDLE_LIMIT`] without computing, runs past [`WALL_LIMIT`]
/// or uses more than [`MEMORY_LIMIT`]. Its cache and history go to `dir`.
pub fn run_binary(args: &[OsString], stdin: &[u8], dir: &Path) -> Ending {
    let stderr_path = dir.join(".lossc-stderr");
    let stderr_file = std::fs::File::create(&stderr_path).expect("create a scratch file");
    let mut child = Command::new(lossc_binary())
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env("XDG_DATA_HOME", dir.join(".data"))
        .env("TMPDIR", dir)
        .env("NO_COLOR", "1")
        .env("RAYON_NUM_THREADS", "2")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .expect("run the lossc binary");
    let mut input = child.stdin.take().expect("a piped stdin");
    let stdin = stdin.to_vec();
    // A child that never reads its input must not block the test.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut clock = Clock::start(WALL_LIMIT);
    let proc_status = format!("/proc/{}/status", child.id());
    let proc_stat = format!("/proc/{}/stat", child.id());
    let ending = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break match status.code() {
                    Some(code @ 0..=2) => Ending::Normal {
                        code,
                        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
                    },
                    _ => Ending::Crashed {
                        status: status.to_string(),
                        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
                    },
                };
            }
            Ok(None) => {}
            Err(error) => panic!("cannot wait for lossc: {error}"),
        }
        if let Some(rss) = std::fs::read_to_string(&proc_status)
            .ok()
            .as_deref()
            .and_then(resident_bytes)
            && rss > MEMORY_LIMIT
        {
            let _ = child.kill();
            let _ = child.wait();
            break Ending::TooMuchMemory(rss);
        }
        let cpu = read_cpu_time(Path::new(&proc_stat));
        if let Some(why) = clock.over(cpu, cpu) {
            let _ = child.kill();
            let _ = child.wait();
            break Ending::Hung(why);
        }
        std::thread::sleep(POLL);
    };
    let _ = writer.join();
    ending
}

/// The first lines of a crashed child's stderr that say what happened.
pub fn crash_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
        .take(4)
        .collect();
    lines.join(" | ")
}
