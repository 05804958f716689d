//! The files lossc writes (`eval --grad-out`, `plot --out`, `fit --plot`)
//! whatever is at the path: `/dev/null` stays a device, a FIFO or a socket is
//! refused without blocking, a symbolic link stays a link, a replaced file
//! keeps its permissions and owner; temporary files go away on a signal and,
//! left by `kill -9`, on a later write; a gradient written straight into its
//! memory-mapped file is the one `eval` prints, and needs no memory of its
//! size.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::Command;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy};
use serde_json::Value;
use tempfile::TempDir;

/// Any command here finishes well within this; a FIFO opened for writing
/// would block forever.
const TIMEOUT: Duration = Duration::from_secs(60);

fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.env_remove("NO_COLOR").env_remove("TERM").timeout(TIMEOUT);
    command
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const MSE_INPUTS: [&str; 4] = ["--input", "y_true=[1, 0, 1]", "--input", "y_pred=[0.8, 0.2, 0.6]"];

/// `eval mse --grad-out TARGET` in `dir`.
fn grad_out(dir: &Path, target: &str) -> Output {
    lossc()
        .current_dir(dir)
        .args([
            "eval",
            example("mse").to_str().unwrap(),
            "--dtype",
            "f64",
            "--grad-out",
            target,
        ])
        .args(MSE_INPUTS)
        .output()
        .unwrap()
}

/// The gradient of MSE on `MSE_INPUTS`, by hand: 2 (y_pred - y_true) / 3.
const MSE_GRADIENT: [f64; 3] = [-0.4 / 3.0, 0.4 / 3.0, -0.8 / 3.0];

fn assert_mse_gradient(path: &Path) {
    let written: ArrayD<f64> = read_npy(path).unwrap();
    assert_eq!(written.shape(), &[3]);
    for (w, e) in written.iter().zip(MSE_GRADIENT) {
        assert!((w - e).abs() <= 1e-15, "{w} vs {e}");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn dev_null_stays_a_character_device() {
    let dir = TempDir::new().unwrap();
    let output = grad_out(dir.path(), "/dev/null");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("(written to /dev/null)"));
    let metadata = fs::metadata("/dev/null").unwrap();
    assert!(metadata.file_type().is_char_device(), "{:?}", metadata.file_type());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o666);
    assert!(names(Path::new("/dev")).iter().all(|name| !name.starts_with(".lossc-")));
    assert!(names(dir.path()).is_empty());

    // `plot --out` and `fit --plot` go through the same writer (they want a
    // name ending in .svg: a link to the device).
    std::os::unix::fs::symlink("/dev/null", dir.path().join("null.svg")).unwrap();
    let plot = lossc()
        .current_dir(dir.path())
        .args(["plot", example("mse").to_str().unwrap(), "--out", "null.svg"])
        .output()
        .unwrap();
    assert!(plot.status.success(), "{}", stderr_of(&plot));
    let fit = lossc()
        .current_dir(dir.path())
        .args([
            "fit",
            example("mse_sigmoid").to_str().unwrap(),
            "--epochs",
            "2",
            "--plot",
            "null.svg",
        ])
        .output()
        .unwrap();
    assert!(fit.status.code().is_some_and(|c| c < 2), "{}", stderr_of(&fit));
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    assert!(
        fs::symlink_metadata(dir.path().join("null.svg"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(names(dir.path()), ["null.svg"]);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let started = Instant::now();
    let output = grad_out(dir.path(), "pipe");
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        "error: cannot write `pipe`: it is a named pipe; lossc writes regular files and character devices such as /dev/null\n"
    );
    assert!(output.stdout.is_empty());
    assert!(started.elapsed() < TIMEOUT);
    assert!(
        fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "still a FIFO"
    );
    assert_eq!(names(dir.path()), ["pipe"]);

    // A link to a FIFO is refused too; so are plot --out and fit --plot.
    std::os::unix::fs::symlink("pipe", dir.path().join("link.svg")).unwrap();
    assert_eq!(grad_out(dir.path(), "link.svg").status.code(), Some(2));
    let plot = lossc()
        .current_dir(dir.path())
        .args(["plot", example("mse").to_str().unwrap(), "--out", "link.svg"])
        .output()
        .unwrap();
    assert_eq!(plot.status.code(), Some(2), "{}", stderr_of(&plot));
    assert!(stderr_of(&plot).contains("is a named pipe;"), "{}", stderr_of(&plot));
    let fit = lossc()
        .current_dir(dir.path())
        .args([
            "fit",
            example("mse_sigmoid").to_str().unwrap(),
            "--epochs",
            "2",
            "--plot",
            "link.svg",
        ])
        .output()
        .unwrap();
    assert_eq!(fit.status.code(), Some(2), "{}", stderr_of(&fit));
    assert!(stderr_of(&fit).contains("is a named pipe;"), "{}", stderr_of(&fit));
    assert!(
        fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "still a FIFO"
    );
    assert_eq!(names(dir.path()), ["link.svg", "pipe"]);
}

#[test]
fn a_socket_is_refused() {
    let dir = TempDir::new().unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("socket")).unwrap();
    let output = grad_out(dir.path(), "socket");
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("`socket`: it is a socket"),
        "{}",
        stderr_of(&output)
    );
    assert!(
        fs::symlink_metadata(dir.path().join("socket"))
            .unwrap()
            .file_type()
            .is_socket()
    );
    assert_eq!(names(dir.path()), ["socket"]);
}

#[test]
fn a_symbolic_link_stays_a_link_to_the_replaced_file() {
    let dir = TempDir::new().unwrap();
    fs::create_dir(dir.path().join("data")).unwrap();
    let real = dir.path().join("data/grad.npy");
    fs::write(&real, b"an older file").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("data/grad.npy", dir.path().join("link.npy")).unwrap();
    let output = grad_out(dir.path(), "link.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let link = fs::symlink_metadata(dir.path().join("link.npy")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    assert_eq!(
        fs::read_link(dir.path().join("link.npy")).unwrap(),
        Path::new("data/grad.npy")
    );
    assert_mse_gradient(&real);
    assert_eq!(mode(&real), 0o600, "the file it points to keeps its mode");
    assert_eq!(names(dir.path()), ["data", "link.npy"]);
    assert_eq!(names(&dir.path().join("data")), ["grad.npy"]);

    // A link to nothing yet: the file is created where it points.
    std::os::unix::fs::symlink("data/new.npy", dir.path().join("new-link.npy")).unwrap();
    let output = grad_out(dir.path(), "new-link.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        fs::symlink_metadata(dir.path().join("new-link.npy"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_mse_gradient(&dir.path().join("data/new.npy"));
}

#[test]
fn a_replaced_file_keeps_its_permissions() {
    let dir = TempDir::new().unwrap();
    for (name, permissions) in [("private.npy", 0o600), ("group.npy", 0o640), ("read-only.npy", 0o444)] {
        let path = dir.path().join(name);
        fs::write(&path, b"older").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(permissions)).unwrap();
        let output = grad_out(dir.path(), name);
        assert!(output.status.success(), "{name}: {}", stderr_of(&output));
        assert_mse_gradient(&path);
        assert_eq!(mode(&path), permissions, "{name}");
    }
    let svg = dir.path().join("plot.svg");
    fs::write(&svg, b"older").unwrap();
    fs::set_permissions(&svg, fs::Permissions::from_mode(0o640)).unwrap();
    let plot = lossc()
        .args(["plot", example("mse").to_str().unwrap(), "--out", svg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(plot.status.success(), "{}", stderr_of(&plot));
    assert!(fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_eq!(mode(&svg), 0o640);
}

#[test]
fn a_replaced_file_keeps_its_owner_when_root_writes_it() {
    if !rustix::process::geteuid().is_root() {
        // Only root can give a file to another user.
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("theirs.npy");
    fs::write(&path, b"older").unwrap();
    std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
    let output = grad_out(dir.path(), "theirs.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let metadata = fs::metadata(&path).unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), (4321, 4322));
    assert_mse_gradient(&path);
}

/// A process id that no process has now: that of a child that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Creates a file `name` in `dir`, last modified `age` ago.
fn file_aged(dir: &Path, name: &str, age: Duration) -> PathBuf {
    let path = dir.join(name);
    let file = fs::File::create(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    path
}

#[test]
fn stale_temporary_files_of_dead_processes_are_removed_by_a_later_write() {
    let dir = TempDir::new().unwrap();
    let dead = dead_pid();
    let alive = std::process::id();
    let two_minutes = Duration::from_secs(120);
    let stale = file_aged(dir.path(), &format!(".lossc-{dead}-aB3xYz.npy.tmp"), two_minutes);
    let stale_svg = file_aged(dir.path(), &format!(".lossc-{dead}-Qq9w8E.svg.tmp"), two_minutes);
    let running = file_aged(dir.path(), &format!(".lossc-{alive}-aB3xYz.npy.tmp"), two_minutes);
    let fresh = file_aged(dir.path(), &format!(".lossc-{dead}-Zz1234.npy.tmp"), Duration::ZERO);
    let someone_elses = file_aged(dir.path(), ".lossc-notes.tmp", two_minutes);
    let output = grad_out(dir.path(), "grad.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(!stale.exists() && !stale_svg.exists(), "stale temporaries are removed");
    assert!(running.exists(), "a running process's temporary is kept");
    assert!(fresh.exists(), "a temporary less than a minute old is kept");
    assert!(someone_elses.exists(), "a file not named as lossc names them is kept");
    assert_mse_gradient(&dir.path().join("grad.npy"));
}

/// 4M float32 values: an `eval --grad-out` long enough to be caught
/// while its temporary file exists (seconds in a debug build).
fn big_input(dir: &Path) -> PathBuf {
    let path = dir.join("big.npy");
    let values: Vec<f32> = (0..4_000_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
    write_npy(&path, &ArrayD::from_shape_vec(IxDyn(&[values.len()]), values).unwrap()).unwrap();
    path
}

/// Starts `eval -e 'mean(square(y_pred))' --input y_pred=big.npy --grad-out
/// grad.npy` in `dir` and returns it with its temporary file's name once that
/// exists (`None` if it finished first, which 4M elements do not allow).
fn start_big_eval(dir: &Path) -> (std::process::Child, Option<String>) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lossc"))
        .current_dir(dir)
        .args([
            "eval",
            "-e",
            "mean(square(y_pred))",
            "--input",
            "y_pred=big.npy",
            "--grad-out",
            "grad.npy",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_temporary(dir, child)
}

/// `child` (a `lossc eval --grad-out grad.npy` in `dir`) with its temporary
/// file's name once that exists (`None` if it finished first).
fn wait_for_temporary(dir: &Path, child: std::process::Child) -> (std::process::Child, Option<String>) {
    let prefix = format!(".lossc-{}-", child.id());
    let started = Instant::now();
    while started.elapsed() < TIMEOUT {
        if let Some(name) = names(dir).into_iter().find(|name| name.starts_with(&prefix)) {
            return (child, Some(name));
        }
        if grad_ready(dir) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (child, None)
}

fn grad_ready(dir: &Path) -> bool {
    dir.join("grad.npy").exists()
}

#[test]
fn sigterm_removes_the_temporary_file_and_ends_as_the_signal_would() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new().unwrap();
    big_input(dir.path());
    let (mut child, temporary) = start_big_eval(dir.path());
    let temporary = temporary.expect("the temporary file is seen while eval runs");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    if status.success() {
        // It finished just before the signal came.
        assert!(grad_ready(dir.path()));
    } else {
        assert_eq!(status.signal(), Some(15), "ended by SIGTERM: {status:?}");
        assert!(!grad_ready(dir.path()), "no half-written gradient");
    }
    assert!(!dir.path().join(&temporary).exists(), "{temporary} is removed");
    assert!(names(dir.path()).iter().all(|name| !name.starts_with(".lossc-")));
}

#[test]
fn a_signal_ignored_under_nohup_stays_ignored() {
    let dir = TempDir::new().unwrap();
    big_input(dir.path());
    let child = std::process::Command::new("nohup")
        .current_dir(dir.path())
        .arg(env!("CARGO_BIN_EXE_lossc"))
        .args([
            "eval",
            "-e",
            "mean(square(y_pred))",
            "--input",
            "y_pred=big.npy",
            "--grad-out",
            "grad.npy",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut child, temporary) = wait_for_temporary(dir.path(), child);
    temporary.expect("the temporary file is seen while eval runs");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGHUP was ignored: {status:?}");
    assert!(grad_ready(dir.path()));
    assert_eq!(names(dir.path()), ["big.npy", "grad.npy"]);
}

#[test]
fn a_temporary_file_left_by_kill_9_is_removed_by_the_next_write() {
    let dir = TempDir::new().unwrap();
    big_input(dir.path());
    let (mut child, temporary) = start_big_eval(dir.path());
    let temporary = temporary.expect("the temporary file is seen while eval runs");
    child.kill().unwrap();
    child.wait().unwrap();
    let left = dir.path().join(&temporary);
    assert!(left.exists(), "nothing can remove it on SIGKILL");
    // A minute later, another write into the same directory.
    fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(61))
        .unwrap();
    let output = grad_out(dir.path(), "small.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(!left.exists(), "{temporary} is removed");
    assert_eq!(names(dir.path()), ["big.npy", "small.npy"]);
}

#[test]
fn a_gradient_written_in_place_is_the_gradient_eval_computes() {
    // 100,003 rows of [N, 3] (several chunks, in parallel): the file equals
    // the printed gradient (JSON, every digit) and the hand-derived formula
    // 2 (y_pred - y_true) / (3 N).
    let dir = TempDir::new().unwrap();
    let n = 100_003;
    let y_true: Vec<f64> = (0..3 * n).map(|i| ((i * 7) % 11) as f64 / 10.0).collect();
    let y_pred: Vec<f64> = (0..3 * n).map(|i| ((i * 5) % 13) as f64 / 12.0).collect();
    let shape = IxDyn(&[n, 3]);
    write_npy(
        dir.path().join("t.npy"),
        &ArrayD::from_shape_vec(shape.clone(), y_true.clone()).unwrap(),
    )
    .unwrap();
    write_npy(
        dir.path().join("p.npy"),
        &ArrayD::from_shape_vec(shape, y_pred.clone()).unwrap(),
    )
    .unwrap();
    fs::write(
        dir.path().join("l.loss"),
        "input y_true: real [N, 3]\ninput y_pred: real [N, 3]\nloss l = mean(square(y_true - y_pred))\n",
    )
    .unwrap();
    for dtype in ["f64", "f32"] {
        let output = lossc()
            .current_dir(dir.path())
            .args(["eval", "l.loss", "--input", "y_true=t.npy", "--input", "y_pred=p.npy"])
            .args(["--dtype", dtype, "--format", "json", "--grad-out", "g.npy"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["grad_out"], "g.npy");
        let printed: Vec<f64> = json["gradient"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let written: Vec<f64> = if dtype == "f64" {
            let array: ArrayD<f64> = read_npy(dir.path().join("g.npy")).unwrap();
            assert_eq!(array.shape(), &[n, 3]);
            array.iter().copied().collect()
        } else {
            let array: ArrayD<f32> = read_npy(dir.path().join("g.npy")).unwrap();
            assert_eq!(array.shape(), &[n, 3]);
            array.iter().map(|&v| f64::from(v)).collect()
        };
        // The file holds what eval printed: f32 exactly (printed with the
        // digits that identify an f32), f64 to the ulp (serde_json's parser,
        // without its `float_roundtrip` feature, may round the last bit).
        assert_eq!(written.len(), printed.len());
        for (w, p) in written.iter().zip(&printed) {
            let same = match dtype {
                "f32" => *w as f32 == *p as f32,
                _ => (w - p).abs() <= 2.0 * f64::EPSILON * w.abs(),
            };
            assert!(same, "{dtype}: {w} written, {p} printed");
        }
        let tolerance = if dtype == "f64" { 1e-15 } else { 2e-6 };
        for ((w, t), p) in written.iter().zip(&y_true).zip(&y_pred) {
            let expected = 2.0 * (p - t) / (3 * n) as f64;
            assert!(
                (w - expected).abs() <= tolerance * expected.abs().max(1e-6),
                "{w} vs {expected}"
            );
        }
        assert_eq!(names(dir.path()), ["g.npy", "l.loss", "p.npy", "t.npy"]);
    }
}

// Linux counts private writable mappings (what `Vec` allocates) against
// RLIMIT_DATA; other systems count differently.
#[cfg(target_os = "linux")]
#[test]
fn a_gradient_larger_than_the_memory_allowed_is_written_in_place() {
    // 4M float32 values: a 16 MB gradient, under a limit of 8 MB on the
    // process's private writable memory (RLIMIT_DATA, `ulimit -d`). Written
    // into its memory-mapped file, it never needs that memory; computed in
    // memory first (as for a device), it cannot be allocated.
    let dir = TempDir::new().unwrap();
    big_input(dir.path());
    let run = |target: &str| {
        let script = format!(
            "ulimit -d 8192 && exec \"$0\" eval -e 'mean(square(y_pred))' --input y_pred=big.npy --grad-out {target}"
        );
        std::process::Command::new("sh")
            .current_dir(dir.path())
            .args(["-c", &script, env!("CARGO_BIN_EXE_lossc")])
            .output()
            .unwrap()
    };
    let output = run("grad.npy");
    assert!(output.status.success(), "{}", stderr_of(&output));
    let input: ArrayD<f32> = read_npy(dir.path().join("big.npy")).unwrap();
    let written: ArrayD<f32> = read_npy(dir.path().join("grad.npy")).unwrap();
    assert_eq!(written.shape(), input.shape());
    // By hand: d/dy mean(y^2) = 2 y / N.
    let n = input.len() as f64;
    for (g, y) in written.iter().zip(&input) {
        let expected = 2.0 * f64::from(*y) / n;
        assert!(
            (f64::from(*g) - expected).abs() <= 1e-6 * expected.abs(),
            "{g} vs {expected}"
        );
    }
    assert!(
        !run("/dev/null").status.success(),
        "the limit is below the gradient's size"
    );
    assert_eq!(names(dir.path()), ["big.npy", "grad.npy"]);
}
