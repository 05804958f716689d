//! The cache of generated code under attack and under failure: a library
//! copied over another's name, a cache directory others can write to or do
//! own, no private place for a cache, a compiler that hangs, a size cap.
//!
//! Every test uses a cache directory of its own. Tests that compile need a
//! Rust compiler (as `lossc-jit` finds it); without one they say so and pass
//! without checking.

#![allow(clippy::print_stderr)] // A skipped test says why.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lossc::{EvalOptions, Program};
use lossc_jit::{CacheLocation, Jit, JitError, JitOptions};
use lossc_kernel::Tensor;
use ndarray::{ArrayD, IxDyn};

/// The options from the environment with the cache in `cache`.
fn options(cache: &Path) -> JitOptions {
    let mut options = JitOptions::from_env().expect("the JIT's environment variables");
    options.cache = Some(CacheLocation::new(cache));
    options
}

/// A compiler with its cache in `cache`, or `None` (said) without one.
fn jit(options: JitOptions) -> Option<Jit> {
    match Jit::new(options) {
        Ok(jit) => Some(jit),
        Err(error) => {
            eprintln!("skipped: no Rust compiler for generated code ({error})");
            None
        }
    }
}

const MSE: &str = "input y_true: real\ninput y_pred: real\nloss mse = mean(square(y_true - y_pred))\n";
const MAE: &str = "input y_true: real\ninput y_pred: real\nloss mae = mean(abs(y_true - y_pred))\n";
const LOG_COSH: &str = "input y_true: real\ninput y_pred: real\nloss lc = mean(log(cosh(y_true - y_pred)))\n";

/// The evaluator of `source`'s loss and gradient in f64.
fn evaluator(source: &str) -> (Program, EvalOptions) {
    let options = EvalOptions {
        dtype: lossc::Dtype::F64,
        result: None,
        grad: true,
        wrt: Vec::new(),
    };
    (lossc::compile(source).unwrap(), options)
}

/// 100 predictions and targets.
fn inputs() -> [ArrayD<f64>; 2] {
    let y_true = (0..100).map(|i| (i % 3) as f64).collect();
    let y_pred = (0..100).map(|i| (i as f64 * 0.37).sin() * 2.0).collect();
    [
        ArrayD::from_shape_vec(IxDyn(&[100]), y_true).unwrap(),
        ArrayD::from_shape_vec(IxDyn(&[100]), y_pred).unwrap(),
    ]
}

/// `source`'s loss and gradient, interpreted and through `jit`: (the
/// interpreter's, generated code's), each as the loss followed by the
/// gradient.
fn both(jit: &Jit, source: &str) -> (Vec<f64>, Vec<f64>) {
    let (program, options) = evaluator(source);
    let evaluator = program.evaluator(&options, true).unwrap();
    let [y_true, y_pred] = inputs();
    let tensors = [
        ("y_true", Tensor::F64(y_true.view())),
        ("y_pred", Tensor::F64(y_pred.view())),
    ];
    let mut prepared = evaluator.prepare::<f64>(&tensors).unwrap();
    let flat = |out: lossc_kernel::Evaluated<f64>| {
        let mut values: Vec<f64> = out.value.iter().copied().collect();
        values.extend(out.gradient.iter().flat_map(|(_, g)| g.iter().copied()));
        values
    };
    let interpreted = flat(evaluator.run_prepared::<f64>(&prepared));
    let passes = jit.attach::<f64>(&mut prepared).unwrap();
    assert!(passes > 0, "no pass of {source:?} ran generated code");
    (interpreted, flat(evaluator.run_prepared::<f64>(&prepared)))
}

/// The cached library of `source` (compiled if need be).
fn library(jit: &Jit, source: &str) -> PathBuf {
    let (program, options) = evaluator(source);
    let evaluator = program.evaluator(&options, true).unwrap();
    let [y_true, y_pred] = inputs();
    let tensors = [
        ("y_true", Tensor::F64(y_true.view())),
        ("y_pred", Tensor::F64(y_pred.view())),
    ];
    let prepared = evaluator.prepare::<f64>(&tensors).unwrap();
    jit.library(&prepared.generate::<f64>().unwrap().source).unwrap()
}

#[test]
fn a_library_copied_over_another_s_name_is_never_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let Some(jit) = jit(options(cache.path())) else { return };
    let mse = library(&jit, MSE);
    let mae = library(&jit, MAE);
    std::fs::copy(&mse, &mae).unwrap();
    // MAE's numbers, never MSE's: its entry failed its hash and was rebuilt.
    let (interpreted, generated) = both(&jit, MAE);
    assert_eq!(interpreted, generated);
    assert_ne!(std::fs::read(&mae).unwrap(), std::fs::read(&mse).unwrap());
    let (interpreted, generated) = both(&jit, MSE);
    assert_eq!(interpreted, generated);
}

#[test]
fn the_cache_is_evicted_to_its_size_after_each_compilation() {
    let cache = tempfile::tempdir().unwrap();
    let mut options = options(cache.path());
    options.cache_max_bytes = 0;
    let Some(jit) = jit(options) else { return };
    let mse = library(&jit, MSE);
    let mae = library(&jit, MAE);
    assert!(!mse.exists(), "the older entry is evicted");
    assert!(mae.exists(), "the entry just compiled stays");
    let (interpreted, generated) = both(&jit, LOG_COSH);
    assert_eq!(interpreted, generated);
    let entries = CacheLocation::new(cache.path()).entries().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

/// A script standing in for `rustc`: `body` after a `#!/bin/sh` line.
#[cfg(unix)]
fn fake_rustc(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("rustc");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
#[cfg(target_os = "linux")]
fn has_ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// A compiler that hangs on `-vV` (a `rustup` proxy waiting on a lock) is
/// stopped at the limit, with what it started.
#[cfg(target_os = "linux")]
#[test]
fn a_hung_compiler_is_stopped_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    let rustc = fake_rustc(
        dir.path(),
        &format!("sleep 600 &\necho $! > '{}'\nwait", pid_file.display()),
    );
    let mut options = options(&dir.path().join("cache"));
    options.rustc = rustc.clone();
    options.query_limit = Duration::from_millis(500);
    let started = Instant::now();
    let error = Jit::new(options).unwrap_err();
    // Generous: the limit is half a second; the run used to last forever.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(matches!(error, JitError::TimedOut { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "the Rust compiler `{}` did not finish answering `-vV` within 0.5 s and was stopped \
             (LOSSC_JIT_TIMEOUT sets the limit in seconds)",
            rustc.display()
        )
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    while !has_ended(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(has_ended(&pid), "the compiler's child {pid} still runs");
}

/// A compilation that hangs is stopped at the limit and leaves no build
/// directory behind; the kernel can still run interpreted.
#[cfg(target_os = "linux")]
#[test]
fn a_hung_compilation_is_stopped_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let real = JitOptions::from_env().unwrap().rustc;
    let rustc = fake_rustc(
        dir.path(),
        &format!(
            "case \"$1\" in -vV|--print*) exec '{}' \"$@\";; esac\nexec sleep 600",
            real.display()
        ),
    );
    let cache = dir.path().join("cache");
    let mut options = options(&cache);
    options.rustc = rustc;
    options.compile_limit = Duration::from_millis(500);
    let Some(jit) = jit(options) else { return };
    let (program, eval_options) = evaluator(MSE);
    let evaluator = program.evaluator(&eval_options, true).unwrap();
    let [y_true, y_pred] = inputs();
    let tensors = [
        ("y_true", Tensor::F64(y_true.view())),
        ("y_pred", Tensor::F64(y_pred.view())),
    ];
    let mut prepared = evaluator.prepare::<f64>(&tensors).unwrap();
    let started = Instant::now();
    let error = jit.attach::<f64>(&mut prepared).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(
        error
            .to_string()
            .contains("did not finish compiling a kernel within 0.5 s"),
        "{error}"
    );
    assert_eq!(prepared.compiled_passes(), 0);
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the cache: {left:?}");
}

/// A build directory whose process is gone (a compilation killed with
/// lossc) is removed by the next run; a running one's stays.
#[cfg(unix)]
#[test]
fn build_directories_of_killed_compilations_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let killed = cache.join(format!(".build-0123abcd-{}-0", child.id()));
    let running = cache.join(format!(".build-4567cdef-{}-9", std::process::id()));
    for build in [&killed, &running] {
        std::fs::create_dir_all(build).unwrap();
        std::fs::write(build.join("kernel.rs"), "// half a compilation").unwrap();
    }
    let mut options = options(&cache);
    options.rustc = fake_rustc(dir.path(), "exit 0");
    Jit::new(options).unwrap();
    assert!(!killed.exists());
    assert!(running.exists());
}

#[test]
fn without_a_private_place_there_is_no_cache_and_no_generated_code() {
    let mut options = options(Path::new("unused"));
    options.cache = None;
    let error = Jit::new(options).unwrap_err();
    assert!(matches!(error, JitError::NoCache), "{error:?}");
    assert_eq!(
        error.to_string(),
        "no private directory for the cache of generated code: none of LOSSC_JIT_CACHE, XDG_CACHE_HOME and \
         HOME is set"
    );
}

/// The cache directory is created 0700; one others may write to, or that
/// another user owns, is refused with its name and why.
#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_to_or_own_is_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("new").join("cache");
    let mut options = options(&cache);
    options.rustc = fake_rustc(dir.path(), "exit 0");
    Jit::new(options.clone()).unwrap();
    for created in [&cache, &cache.parent().unwrap().to_path_buf()] {
        let mode = std::fs::metadata(created).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700, "{created:?}");
    }

    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = Jit::new(options.clone()).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "the cache of generated code {0} is not safe to use: its group and others may write to it (mode \
             0777); only its owner may; `chmod go-w {0}` makes it private",
            cache.display()
        )
    );
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();

    let me = std::fs::metadata(dir.path()).unwrap().uid();
    if me != 0 {
        eprintln!("skipped the ownership check: it needs root to give the directory to another user");
        return;
    }
    std::os::unix::fs::chown(&cache, Some(65534), None).unwrap();
    let error = Jit::new(options).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "the cache of generated code {} is not safe to use: it is owned by uid 65534, not by this user \
             (uid 0); set LOSSC_JIT_CACHE to a directory of your own",
            cache.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_file_in_place_of_the_cache_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::write(&cache, "not a directory").unwrap();
    let mut options = options(&cache);
    options.rustc = fake_rustc(dir.path(), "exit 0");
    let error = Jit::new(options).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "the cache of generated code {} is not safe to use: it is not a directory",
            cache.display()
        )
    );
}

/// No flag needs a nightly compiler or draws a warning: an empty library
/// compiles with them silently.
#[test]
fn the_compiler_flags_are_stable() {
    for flag in lossc_jit::FLAGS {
        assert!(!flag.starts_with("-Z"), "{flag}");
        assert!(!flag.contains("target-feature"), "{flag}: not a stable target feature");
    }
    let dir = tempfile::tempdir().unwrap();
    let rustc = JitOptions::from_env().unwrap().rustc;
    let source = dir.path().join("empty.rs");
    std::fs::write(
        &source,
        "#[unsafe(no_mangle)]\npub extern \"C\" fn lossc_probe() -> i32 { 1 }\n",
    )
    .unwrap();
    let output = std::process::Command::new(&rustc)
        .args(lossc_jit::FLAGS)
        .arg("-o")
        .arg(dir.path().join("libempty.so"))
        .arg(&source)
        .output();
    let Ok(output) = output else {
        eprintln!("skipped: no Rust compiler");
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "the flags draw warnings:\n{stderr}");
}
