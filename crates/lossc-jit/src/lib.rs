//! Code generation for the fast evaluator, through the Rust compiler.
//!
//! **In:** a [`lossc_kernel::Prepared`] kernel (a loss and its gradient bound
//! to data). **Out:** the same kernel with the passes that
//! [`Prepared::generate`] can fuse running as native code: each pass's whole
//! chain of operations in one loop, every intermediate value in a vector
//! register, instead of one interpreted operation at a time over a tile. The
//! results are bit-identical to the interpreter's (the generated code
//! includes the built-ins' one definition verbatim; tested).
//! **Never:** prints, or changes a result; a missing or failing compiler is
//! an error the caller may ignore (the kernel then stays interpreted).
//!
//! How: the generated source is compiled by `rustc` (found as `LOSSC_RUSTC`,
//! `RUSTC`, or `rustc` on the `PATH`) into a `cdylib` with
//! `-C opt-level=3 -C target-cpu=native` (stable flags only: [`FLAGS`]),
//! cached under a key made of the source, the compiler's version and the
//! target's features (so a cache shared between machines never runs code
//! built for another CPU), and loaded with `libloading`. Every run of the
//! compiler has a time limit (120 s for a compilation, 10 s for a question
//! such as `rustc -vV`; `LOSSC_JIT_TIMEOUT` seconds for either); one that
//! does not finish is killed with what it started.
//!
//! The cache ([`cache`]) lives in `LOSSC_JIT_CACHE`, else
//! `$XDG_CACHE_HOME/lossc/jit`, else `~/.cache/lossc/jit`; without any of
//! them there is no cache and no generated code (never a shared folder).
//! lossc creates its directories 0700 and uses them only while they are
//! owned by this user and writable by no one else. A library is written
//! with its SHA-256 beside it, as one entry renamed into place (concurrent
//! processes never see half an entry), and loaded only when its bytes match
//! that hash and it too is this user's alone; anything else is removed and
//! compiled again. After each compilation the least recently used entries
//! are evicted down to 256 MiB (`LOSSC_JIT_CACHE_MAX_MB`); build
//! directories left by killed compilations are removed. A first compilation
//! takes about a second; a cached library loads in milliseconds.

pub mod cache;
mod run;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lossc_kernel::{Generated, PassFn, Prepared, Real};
use sha2::{Digest, Sha256};

pub use cache::{CacheEntry, CacheLocation, EntryKind};

/// Why generated code could not be compiled or loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JitError {
    #[error("cannot run the Rust compiler `{rustc}`: {error}")]
    NoCompiler { rustc: String, error: String },
    #[error(
        "the Rust compiler `{rustc}` did not finish {what} within {seconds} s and was stopped \
         (LOSSC_JIT_TIMEOUT sets the limit in seconds)"
    )]
    TimedOut { rustc: String, what: String, seconds: f64 },
    #[error("the Rust compiler rejected the generated code ({path}):\n{stderr}")]
    Compile { path: PathBuf, stderr: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error(
        "no private directory for the cache of generated code: none of LOSSC_JIT_CACHE, XDG_CACHE_HOME \
         and HOME is set"
    )]
    NoCache,
    #[error("the cache of generated code {path} is not safe to use: {why}")]
    UnsafeCache { path: PathBuf, why: String },
    #[error("{name}=`{value}`: expected {expected}")]
    BadEnv {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Where the compiler and the cache are, and the limits on both.
#[derive(Debug, Clone)]
pub struct JitOptions {
    pub rustc: PathBuf,
    /// `None`: no private place for the cache, so no generated code.
    pub cache: Option<CacheLocation>,
    /// The most one compilation may take.
    pub compile_limit: Duration,
    /// The most a question to the compiler (`-vV`, `--print cfg`) may take.
    pub query_limit: Duration,
    /// The size the cache is evicted down to after each compilation.
    pub cache_max_bytes: u64,
}

/// [`JitOptions::compile_limit`] unless `LOSSC_JIT_TIMEOUT` says otherwise.
pub const DEFAULT_COMPILE_LIMIT: Duration = Duration::from_secs(120);
/// [`JitOptions::query_limit`] unless `LOSSC_JIT_TIMEOUT` says otherwise.
pub const DEFAULT_QUERY_LIMIT: Duration = Duration::from_secs(10);
/// [`JitOptions::cache_max_bytes`] unless `LOSSC_JIT_CACHE_MAX_MB` says otherwise.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 256 << 20;

impl JitOptions {
    /// From the environment (see the crate documentation); an error names a
    /// variable whose value is not usable.
    pub fn from_env() -> Result<JitOptions, JitError> {
        let rustc = std::env::var_os("LOSSC_RUSTC")
            .or_else(|| std::env::var_os("RUSTC"))
            .filter(|rustc| !rustc.is_empty())
            .map_or_else(|| PathBuf::from("rustc"), PathBuf::from);
        let (compile_limit, query_limit) = match env_value("LOSSC_JIT_TIMEOUT") {
            None => (DEFAULT_COMPILE_LIMIT, DEFAULT_QUERY_LIMIT),
            Some(text) => {
                let limit = parse_seconds(&text).ok_or(JitError::BadEnv {
                    name: "LOSSC_JIT_TIMEOUT",
                    value: text,
                    expected: "a number of seconds above 0 and at most 86400, e.g. 120",
                })?;
                (limit, limit)
            }
        };
        let cache_max_bytes = match env_value("LOSSC_JIT_CACHE_MAX_MB") {
            None => DEFAULT_CACHE_MAX_BYTES,
            Some(text) => parse_mebibytes(&text).ok_or(JitError::BadEnv {
                name: "LOSSC_JIT_CACHE_MAX_MB",
                value: text,
                expected: "a whole number of MiB up to 1048576, e.g. 256",
            })?,
        };
        Ok(JitOptions {
            rustc,
            cache: CacheLocation::from_env(),
            compile_limit,
            query_limit,
            cache_max_bytes,
        })
    }
}

/// The value of the environment variable `name`, unset when empty.
fn env_value(name: &str) -> Option<String> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(|value| value.to_string_lossy().into_owned())
}

/// Seconds in (0, 86400].
fn parse_seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds > 0.0 && seconds <= 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

/// Whole MiB up to 1 TiB, as bytes.
fn parse_mebibytes(text: &str) -> Option<u64> {
    let mebibytes: u64 = text.trim().parse().ok()?;
    (mebibytes <= 1 << 20).then_some(mebibytes << 20)
}

/// A Rust compiler ready to compile generated kernels, and a cache checked
/// to be private.
#[derive(Debug, Clone)]
pub struct Jit {
    options: JitOptions,
    /// The cache directory (checked by [`Jit::new`]).
    cache: CacheLocation,
    /// The compiler's `-vV` and the native target's `cfg`s: part of every key.
    identity: String,
}

/// The flags every library is compiled with: stable ones only (no `-Z`,
/// no target feature that rustc does not know).
pub const FLAGS: &[&str] = &[
    "--crate-type=cdylib",
    "--edition=2024",
    "-Copt-level=3",
    "-Ctarget-cpu=native",
    "-Cpanic=abort",
    "-Cdebuginfo=0",
];

impl Jit {
    /// Checks (and creates, private) the cache directory, removes what killed
    /// compilations left in it, and checks that the compiler runs.
    pub fn new(options: JitOptions) -> Result<Jit, JitError> {
        let cache = options.cache.clone().ok_or(JitError::NoCache)?;
        cache::open(&cache, options.compile_limit)?;
        let version = query(&options, &["-vV"])?;
        let target = query(&options, &["--print=cfg", "-Ctarget-cpu=native"])?;
        Ok(Jit {
            identity: format!("{version}\n{target}\n{}", FLAGS.join(" ")),
            cache,
            options,
        })
    }

    /// [`Jit::new`] with [`JitOptions::from_env`], once per process (the
    /// compiler is asked for its version and the CPU's features once).
    pub fn from_env() -> Result<Jit, JitError> {
        static FROM_ENV: std::sync::OnceLock<Result<Jit, JitError>> = std::sync::OnceLock::new();
        FROM_ENV
            .get_or_init(|| JitOptions::from_env().and_then(Jit::new))
            .clone()
    }

    /// Generates, compiles (or finds in the cache) and attaches the fused
    /// passes of `prepared` in `T`. Returns how many passes run generated
    /// code (0: none can be fused; the kernel stays interpreted).
    pub fn attach<T: Real>(&self, prepared: &mut Prepared<'_, '_>) -> Result<usize, JitError> {
        self.attach_noting::<T>(prepared, &mut None)
    }

    /// [`Jit::attach`], also saying in `rebuilt` why a cached library was
    /// compiled again (it was there but failed its check: changed bytes, a
    /// wrong owner or mode), so that the caller can tell the user.
    pub fn attach_noting<T: Real>(
        &self,
        prepared: &mut Prepared<'_, '_>,
        rebuilt: &mut Option<String>,
    ) -> Result<usize, JitError> {
        let Some(generated) = prepared.generate::<T>() else {
            return Ok(0);
        };
        let mut path = self.library_noting(&generated.source, rebuilt)?;
        let library = match load(&path) {
            Ok(library) => library,
            // Evicted by another process between the check and the load:
            // compiled again (once).
            Err(_) if !path.exists() => {
                path = self.library(&generated.source)?;
                load(&path)?
            }
            Err(error) => return Err(error),
        };
        let functions = symbols(&library, &generated, &path)?;
        let owner: Arc<dyn Any + Send + Sync> = Arc::new(library);
        // SAFETY: `generated` is this kernel's own `generate::<T>()`, and the
        // functions are its symbols in the library compiled from its source.
        #[allow(unsafe_code)]
        unsafe {
            prepared.attach::<T>(&generated, functions, owner);
        }
        Ok(prepared.compiled_passes())
    }

    /// The cache key of `source`.
    pub fn key(&self, source: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.identity.as_bytes());
        hasher.update([0]);
        hasher.update(source.as_bytes());
        hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// The compiled library of `source`, checked and ready to load: from the
    /// cache, or compiled now (then the cache is evicted down to its size).
    pub fn library(&self, source: &str) -> Result<PathBuf, JitError> {
        self.library_noting(source, &mut None)
    }

    /// [`Jit::library`], saying in `rebuilt` why a cached library that was
    /// there was removed and compiled again.
    pub fn library_noting(&self, source: &str, rebuilt: &mut Option<String>) -> Result<PathBuf, JitError> {
        let key = self.key(source);
        let dir = &self.cache.dir;
        if let Some(library) = cache::find_noting(dir, &key, rebuilt)? {
            return Ok(library);
        }
        let entry = self.compile(&key, source)?;
        // Best effort: a cache over its size still works.
        let _ = cache::evict(dir, self.options.cache_max_bytes, &entry);
        let library = entry.join(cache::library_name(&key));
        match cache::verify(&entry, &key) {
            Ok(library) => Ok(library),
            Err(why) => Err(JitError::Load {
                path: library,
                message: why,
            }),
        }
    }

    /// Compiles `source` in a build directory of its own and stores the
    /// library as the entry of `key`; the build directory is removed
    /// whatever happens (one left by a killed process is removed by a later
    /// [`Jit::new`]).
    fn compile(&self, key: &str, source: &str) -> Result<PathBuf, JitError> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = &self.cache.dir;
        let work = cache::build_dir(dir, key, COUNTER.fetch_add(1, Ordering::Relaxed));
        cache::create_private_dir(&work)?;
        let result = self.compile_in(&work, key, source);
        let _ = cache::remove(&work);
        result
    }

    fn compile_in(&self, work: &Path, key: &str, source: &str) -> Result<PathBuf, JitError> {
        let file = work.join("kernel.rs");
        std::fs::write(&file, source).map_err(cache::io_error(&file))?;
        let built = work.join(cache::library_name(key));
        let mut command = Command::new(&self.options.rustc);
        command.args(FLAGS).arg("-o").arg(&built).arg(&file);
        let limit = self.options.compile_limit;
        let output = run::run_with_limit(&mut command, limit)
            .map_err(|error| run_error(&self.options.rustc, "compiling a kernel", limit, error))?;
        if !output.status.success() {
            // Keep the source where the message points.
            let kept = cache::failed_source(&self.cache.dir, key);
            let _ = std::fs::write(&kept, source);
            return Err(JitError::Compile {
                path: kept,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        cache::store(&self.cache.dir, key, work, &built, source)
    }
}

/// Loads the library at `path`, which [`Jit::library`] has just returned.
fn load(path: &Path) -> Result<libloading::Library, JitError> {
    // SAFETY: the library at `path` was compiled from the source `library`
    // was given: its entry is named by the hash of that source with the
    // compiler and flags, and `library` has just checked that its bytes are
    // the ones recorded when lossc wrote it there after a successful
    // compilation, and that the entry and the directories above it up to
    // the cache are this user's alone (no one else can swap it since).
    // Loading runs no initialisation code of ours.
    #[allow(unsafe_code)]
    let library = unsafe { libloading::Library::new(path) };
    library.map_err(|error| JitError::Load {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Asks the compiler `args` (within the query limit): its standard output.
fn query(options: &JitOptions, args: &[&str]) -> Result<String, JitError> {
    let rustc = options.rustc.display().to_string();
    let mut command = Command::new(&options.rustc);
    command.args(args);
    let what = format!("answering `{}`", args.join(" "));
    let output = run::run_with_limit(&mut command, options.query_limit)
        .map_err(|error| run_error(&options.rustc, &what, options.query_limit, error))?;
    if !output.status.success() {
        return Err(JitError::NoCompiler {
            rustc,
            error: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The [`JitError`] of a compiler run that gave no output.
fn run_error(rustc: &Path, what: &str, limit: Duration, error: run::RunError) -> JitError {
    let rustc = rustc.display().to_string();
    match error {
        run::RunError::Spawn(error) => JitError::NoCompiler {
            rustc,
            error: error.to_string(),
        },
        run::RunError::TimedOut => JitError::TimedOut {
            rustc,
            what: what.to_string(),
            seconds: limit.as_secs_f64(),
        },
    }
}

/// The functions of `generated`, in its symbols' order.
fn symbols(library: &libloading::Library, generated: &Generated, path: &Path) -> Result<Vec<PassFn>, JitError> {
    generated
        .symbols()
        .map(|symbol| {
            // SAFETY: the symbol is a function of type `PassFn` in the
            // generated source (`pub unsafe extern "C" fn(*const Call)`).
            #[allow(unsafe_code)]
            let function = unsafe { library.get::<PassFn>(symbol.as_bytes()) };
            function.map(|f| *f).map_err(|error| JitError::Load {
                path: path.to_path_buf(),
                message: format!("{symbol}: {error}"),
            })
        })
        .collect()
}
