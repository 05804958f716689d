//! Running the compiler with a time limit.
//!
//! A compiler that does not finish in time (a `rustup` proxy waiting on a
//! lock, a linker stuck on a network file system) is killed with everything
//! it started: the child runs in a process group of its own, and the whole
//! group gets `SIGKILL`. Its output is read by two threads so that a chatty
//! compiler never blocks on a full pipe; after a timeout they are left to end
//! on their own (a grandchild that escaped the group may hold a pipe open).

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// What a compiler run that ended in time printed, and how it ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a compiler run gave no [`Finished`].
#[derive(Debug)]
pub(crate) enum RunError {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ran out of time and was killed.
    TimedOut,
}

/// Runs `command` (stdin closed, stdout and stderr captured) for at most
/// `limit`; kills it and its process group when the limit passes.
pub(crate) fn run_with_limit(command: &mut Command, limit: Duration) -> Result<Finished, RunError> {
    let deadline = Instant::now() + limit;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so that a timeout kills what it started too.
        command.process_group(0);
    }
    let mut child = spawn(command).map_err(RunError::Spawn)?;
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let status = match child.wait_timeout(limit) {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            kill(&mut child);
            return Err(RunError::TimedOut);
        }
    };
    // A grandchild that still holds a pipe open counts against the limit too.
    let mut collect = |reader: Option<mpsc::Receiver<Vec<u8>>>| -> Result<Vec<u8>, RunError> {
        let Some(reader) = reader else {
            return Ok(Vec::new());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        reader.recv_timeout(left).map_err(|_| {
            kill(&mut child);
            RunError::TimedOut
        })
    };
    let stdout = collect(stdout)?;
    let stderr = collect(stderr)?;
    Ok(Finished { status, stdout, stderr })
}

/// Starts `command`, again a few times while its file is busy (being
/// written: a compiler being updated, or a script written a moment ago while
/// another thread started a process).
fn spawn(command: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(error) if error.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 10 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Reads `pipe` to its end on a thread of its own; the bytes arrive on the
/// returned channel.
fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error ends the output where it stopped.
        let _ = pipe.read_to_end(&mut bytes);
        let _ = send.send(bytes);
    });
    receive
}

/// Kills `child`'s process group (its own: see [`run_with_limit`]), then the
/// child itself, and reaps it.
fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // The group is the child's own and outlives it while a member runs,
        // so its id is not reused under us. Already gone: nothing to kill.
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
