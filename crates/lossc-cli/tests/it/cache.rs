//! `lossc cache dir|info|clean`, and `--jit` against its cache: where the
//! cache is (and that there is none without a private place), a library
//! copied over another's name, a directory others may write to, bad
//! `LOSSC_JIT_*` values.
//!
//! Every test runs the binary with a cache directory of its own and without
//! the user's `LOSSC_JIT_CACHE`, `XDG_CACHE_HOME` and `HOME`.

#![allow(clippy::print_stderr)] // A skipped test says why.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// `lossc` with no cache location from the environment.
fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .env_remove("LOSSC_JIT_CACHE")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HOME")
        .env_remove("LOSSC_JIT_TIMEOUT")
        .env_remove("LOSSC_JIT_CACHE_MAX_MB");
    command
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `lossc eval EXAMPLE --grad --format json --jit JIT` on five points, with
/// the cache in `cache` (when given).
fn eval(name: &str, jit: &str, cache: Option<&Path>) -> Output {
    let mut command = lossc();
    if let Some(cache) = cache {
        command.env("LOSSC_JIT_CACHE", cache);
    }
    command
        .args(["eval", example(name).to_str().unwrap(), "--grad", "--format", "json"])
        .args(["--jit", jit, "--dtype", "f64"])
        .args([
            "--input",
            "y_true=[1, 0, 1, 0, 1]",
            "--input",
            "y_pred=[0.9, 0.2, 0, 1, 0.5]",
        ])
        .output()
        .unwrap()
}

/// The entries of libraries in `cache`.
fn libraries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() && path.file_name().unwrap().to_string_lossy().starts_with("lossc-"))
        .collect();
    entries.sort();
    entries
}

/// The library file of the entry `entry`.
fn library_file(entry: &Path) -> PathBuf {
    std::fs::read_dir(entry)
        .unwrap()
        .map(|file| file.unwrap().path())
        .find(|path| {
            path.extension()
                .is_some_and(|ext| ext == std::env::consts::DLL_EXTENSION)
        })
        .unwrap()
}

#[test]
fn cache_dir_follows_the_environment_and_never_falls_back_to_a_shared_folder() {
    let dir = lossc()
        .env("LOSSC_JIT_CACHE", "/somewhere/jit")
        .args(["cache", "dir"])
        .output()
        .unwrap();
    assert_eq!(stdout(&dir), "/somewhere/jit\n");
    let dir = lossc()
        .env("XDG_CACHE_HOME", "/xdg")
        .env("HOME", "/home/u")
        .args(["cache", "dir"])
        .output()
        .unwrap();
    assert_eq!(stdout(&dir), "/xdg/lossc/jit\n");
    // A relative XDG_CACHE_HOME is invalid (XDG specification): ignored.
    let dir = lossc()
        .env("XDG_CACHE_HOME", "cache")
        .env("HOME", "/home/u")
        .args(["cache", "dir"])
        .output()
        .unwrap();
    assert_eq!(stdout(&dir), "/home/u/.cache/lossc/jit\n");

    let none = lossc().args(["cache", "dir"]).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert_eq!(
        stderr(&none),
        "error: no private directory for the cache of generated code: none of LOSSC_JIT_CACHE, XDG_CACHE_HOME \
         and HOME is set\n"
    );
}

/// Without a private place for the cache, generated code is off: an error
/// under `--jit on`, a note and the interpreter's numbers under `--jit auto`.
#[test]
fn without_a_cache_directory_generated_code_is_off() {
    let on = eval("mse", "on", None);
    assert_eq!(on.status.code(), Some(2), "{}", stderr(&on));
    assert!(
        stderr(&on).contains("--jit on: no private directory for the cache"),
        "{}",
        stderr(&on)
    );
    let auto = eval("mse", "auto", None);
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(
        stderr(&auto).contains("running interpreted (--jit auto): no private directory for the cache"),
        "{}",
        stderr(&auto)
    );
    assert_eq!(stdout(&auto), stdout(&eval("mse", "off", None)));
}

/// One kernel's library copied over another's: `eval --jit on` still gives
/// the right loss's numbers (the copy fails its hash and is recompiled).
#[test]
fn a_library_copied_over_another_s_name_gives_the_right_numbers() {
    let cache = tempfile::tempdir().unwrap();
    let first = eval("mse", "on", Some(cache.path()));
    if !first.status.success() {
        eprintln!("skipped: no Rust compiler ({})", stderr(&first));
        return;
    }
    let [mse] = libraries(cache.path()).try_into().unwrap();
    assert!(eval("mae", "on", Some(cache.path())).status.success());
    let mae = libraries(cache.path()).into_iter().find(|entry| *entry != mse).unwrap();
    std::fs::copy(library_file(&mse), library_file(&mae)).unwrap();

    let on = eval("mae", "on", Some(cache.path()));
    assert!(on.status.success(), "{}", stderr(&on));
    // Not silently: the user hears why it compiled again.
    assert!(
        stderr(&on).contains("failed its check") && stderr(&on).contains("compiled it again"),
        "{}",
        stderr(&on)
    );
    assert_eq!(
        stdout(&on),
        stdout(&eval("mae", "off", None)),
        "MSE's library ran for MAE"
    );
    assert_ne!(
        std::fs::read(library_file(&mae)).unwrap(),
        std::fs::read(library_file(&mse)).unwrap()
    );
}

/// `info` counts, `clean` removes lossc's entries only and says how much it
/// freed; a second `clean` has nothing to do.
#[test]
fn cache_info_and_clean() {
    let cache = tempfile::tempdir().unwrap();
    let info = |cache: &Path| {
        let output = lossc()
            .env("LOSSC_JIT_CACHE", cache)
            .args(["cache", "info"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let text = info(&cache.path().join("not-yet"));
    assert!(
        text.contains("entries: none (the directory does not exist yet)"),
        "{text}"
    );
    assert!(text.contains("size cap: 256.0 MiB"), "{text}");
    assert!(text.contains("usable: yes"), "{text}");

    if !eval("mse", "on", Some(cache.path())).status.success() {
        eprintln!("skipped: no Rust compiler");
        return;
    }
    assert!(eval("mae", "on", Some(cache.path())).status.success());
    std::fs::write(cache.path().join("notes.txt"), "the user's own file").unwrap();
    let text = info(cache.path());
    assert!(text.contains("entries: 2 libraries, "), "{text}");

    let clean = lossc()
        .env("LOSSC_JIT_CACHE", cache.path())
        .args(["cache", "clean"])
        .output()
        .unwrap();
    assert!(clean.status.success(), "{}", stderr(&clean));
    let text = stdout(&clean);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!("removed {}", cache.path().join("lossc-").display())),
        "{text}"
    );
    let summary = format!("removed 2 items from {}: ", cache.path().display());
    assert!(
        lines[2].starts_with(&summary) && lines[2].ends_with(" bytes freed"),
        "{text}"
    );
    let freed: u64 = lines[2][summary.len()..]
        .trim_end_matches(" bytes freed")
        .parse()
        .unwrap();
    assert!(freed > 1000, "{text}");
    let left: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);

    let again = lossc()
        .env("LOSSC_JIT_CACHE", cache.path())
        .args(["cache", "clean"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&again),
        format!("nothing to remove in {}\n", cache.path().display())
    );
}

/// A cache directory others may write to is not used: `--jit on` exits 2
/// naming it and why, `info` says so.
#[cfg(unix)]
#[test]
fn a_cache_directory_others_may_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let on = eval("mse", "on", Some(&cache));
    assert_eq!(on.status.code(), Some(2));
    assert_eq!(
        stderr(&on),
        format!(
            "error: --jit on: the cache of generated code {0} is not safe to use: its group and others may write to \
             it (mode 0777); only its owner may; `chmod go-w {0}` makes it private\n",
            cache.display()
        )
    );
    let auto = eval("mse", "auto", Some(&cache));
    assert!(auto.status.success());
    assert!(stderr(&auto).contains("running interpreted (--jit auto): the cache of generated code"));
    let info = lossc()
        .env("LOSSC_JIT_CACHE", &cache)
        .args(["cache", "info"])
        .output()
        .unwrap();
    assert!(stdout(&info).contains("usable: no, generated code is off: the cache of generated code"));
    assert!(libraries(&cache).is_empty(), "nothing compiled into it");
}

#[test]
fn bad_jit_settings_are_named() {
    let cache = tempfile::tempdir().unwrap();
    for (name, value, expected) in [
        (
            "LOSSC_JIT_TIMEOUT",
            "soon",
            "a number of seconds above 0 and at most 86400, e.g. 120",
        ),
        (
            "LOSSC_JIT_TIMEOUT",
            "-1",
            "a number of seconds above 0 and at most 86400, e.g. 120",
        ),
        (
            "LOSSC_JIT_CACHE_MAX_MB",
            "1e99",
            "a whole number of MiB up to 1048576, e.g. 256",
        ),
    ] {
        let output = lossc()
            .env("LOSSC_JIT_CACHE", cache.path())
            .env(name, value)
            .args(["cache", "info"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            stderr(&output),
            format!("error: {name}=`{value}`: expected {expected}\n")
        );
    }
}

#[test]
fn cache_has_help_with_examples() {
    let output = lossc().args(["cache", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = stdout(&output);
    for part in [
        "Examples:\n  lossc cache dir",
        "lossc cache clean",
        "Exit status",
        "LOSSC_JIT_CACHE_MAX_MB",
    ] {
        assert!(help.contains(part), "{part} missing:\n{help}");
    }
    let bare = lossc().arg("cache").output().unwrap();
    assert_eq!(bare.status.code(), Some(2), "a subcommand is required");
}

#[test]
fn cache_info_and_clean_as_json() {
    let cache = tempfile::tempdir().unwrap();
    let entry = cache.path().join("lossc-0123");
    std::fs::create_dir(&entry).unwrap();
    std::fs::write(entry.join("liblossc-0123.so"), vec![0u8; 3000]).unwrap();
    std::fs::write(cache.path().join("lossc-4567.failed.rs"), "fn f(").unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let output = lossc()
            .env("LOSSC_JIT_CACHE", cache.path())
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let info = json(&["cache", "info", "--format", "json"]);
    assert_eq!(info["dir"], cache.path().display().to_string());
    assert_eq!(info["libraries"], 1);
    assert_eq!(info["failed_sources"], 1);
    assert_eq!(info["bytes"], 3005);
    assert_eq!(info["max_bytes"], 256u64 << 20);
    assert_eq!(info["why"], serde_json::Value::Null);
    let clean = json(&["cache", "--format", "json", "clean"]);
    assert_eq!(clean["bytes_freed"], 3005);
    let kinds: Vec<&str> = clean["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["library", "failed_source"]);
    assert_eq!(
        json(&["cache", "dir", "--format", "json"])["dir"],
        cache.path().display().to_string()
    );
}

/// A compiler that hangs: `--jit auto` runs interpreted within the limit
/// with a note and the interpreter's numbers, `--jit on` exits 2.
#[cfg(unix)]
#[test]
fn a_hung_compiler_falls_back_within_the_time_limit() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let rustc = dir.path().join("rustc");
    std::fs::write(&rustc, "#!/bin/sh\nsleep 600\n").unwrap();
    std::fs::set_permissions(&rustc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |jit: &str| {
        let started = std::time::Instant::now();
        let output = lossc()
            .env("LOSSC_RUSTC", &rustc)
            .env("LOSSC_JIT_TIMEOUT", "1")
            .env("LOSSC_JIT_CACHE", dir.path().join("cache"))
            .args(["eval", example("mse").to_str().unwrap(), "--grad", "--jit", jit])
            .args(["--input", "y_true=[1, 0]", "--input", "y_pred=[0.5, 0.25]"])
            .output()
            .unwrap();
        // Generous: the limit is 1 s; the run used to hang for good.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        output
    };
    let auto = run("auto");
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(
        stderr(&auto).contains("running interpreted (--jit auto): the Rust compiler")
            && stderr(&auto).contains("did not finish answering `-vV` within 1 s and was stopped"),
        "{}",
        stderr(&auto)
    );
    assert_eq!(stdout(&auto), stdout(&run("off")));
    let on = run("on");
    assert_eq!(on.status.code(), Some(2));
    assert!(
        stderr(&on).starts_with("error: --jit on: the Rust compiler"),
        "{}",
        stderr(&on)
    );
}
