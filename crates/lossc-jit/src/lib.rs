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
//! `-C opt-level=3 -C target-cpu=native`, cached under a key made of the
//! source, the compiler's version and the target's features (so a cache
//! shared between machines never runs code built for another CPU), and
//! loaded with `libloading`. The cache lives in `LOSSC_JIT_CACHE`, else
//! `$XDG_CACHE_HOME/lossc/jit`, else `~/.cache/lossc/jit`; a library is
//! written to a temporary directory and renamed into place, so concurrent
//! processes never load a half-written file; the source is kept beside it
//! (`liblossc-<key>.rs`) for people who want to read what ran. A first compilation takes
//! about a second; a cached library loads in milliseconds.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lossc_kernel::{Generated, PassFn, Prepared, Real};
use sha2::{Digest, Sha256};

/// Why generated code could not be compiled or loaded.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    #[error("cannot run the Rust compiler `{rustc}`: {error}")]
    NoCompiler { rustc: String, error: String },
    #[error("the Rust compiler rejected the generated code ({path}):\n{stderr}")]
    Compile { path: PathBuf, stderr: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
}

/// Where the compiler and the cache are.
#[derive(Debug, Clone)]
pub struct JitOptions {
    pub rustc: PathBuf,
    pub cache: PathBuf,
}

impl JitOptions {
    /// From the environment (see the crate documentation).
    pub fn from_env() -> JitOptions {
        let rustc = std::env::var_os("LOSSC_RUSTC")
            .or_else(|| std::env::var_os("RUSTC"))
            .map_or_else(|| PathBuf::from("rustc"), PathBuf::from);
        let cache = std::env::var_os("LOSSC_JIT_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("lossc").join("jit")))
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache").join("lossc").join("jit")))
            .unwrap_or_else(|| std::env::temp_dir().join("lossc-jit"));
        JitOptions { rustc, cache }
    }
}

/// A Rust compiler ready to compile generated kernels.
#[derive(Debug, Clone)]
pub struct Jit {
    options: JitOptions,
    /// The compiler's `-vV` and the native target's `cfg`s: part of every key.
    identity: String,
}

/// The flags every library is compiled with.
const FLAGS: &[&str] = &[
    "--crate-type=cdylib",
    "--edition=2024",
    "-Copt-level=3",
    "-Ctarget-cpu=native",
    // The interpreter's loops use AVX-512 where the CPU has it (pulp); so do these.
    "-Ctarget-feature=-prefer-256-bit",
    "-Cpanic=abort",
    "-Cdebuginfo=0",
];

impl Jit {
    /// Checks that the compiler runs.
    pub fn new(options: JitOptions) -> Result<Jit, JitError> {
        let run = |args: &[&str]| -> Result<String, JitError> {
            let output = Command::new(&options.rustc)
                .args(args)
                .output()
                .map_err(|error| JitError::NoCompiler {
                    rustc: options.rustc.display().to_string(),
                    error: error.to_string(),
                })?;
            if !output.status.success() {
                return Err(JitError::NoCompiler {
                    rustc: options.rustc.display().to_string(),
                    error: String::from_utf8_lossy(&output.stderr).trim().to_string(),
                });
            }
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        };
        let version = run(&["-vV"])?;
        let target = run(&["--print=cfg", "-Ctarget-cpu=native"])?;
        Ok(Jit {
            identity: format!("{version}\n{target}\n{}", FLAGS.join(" ")),
            options,
        })
    }

    /// [`Jit::new`] with [`JitOptions::from_env`], once per process (the
    /// compiler is asked for its version and the CPU's features once).
    pub fn from_env() -> Result<Jit, JitError> {
        // (rustc, why) of a failure: `Jit::new` fails only with `NoCompiler`.
        static FROM_ENV: std::sync::OnceLock<Result<Jit, (String, String)>> = std::sync::OnceLock::new();
        FROM_ENV
            .get_or_init(|| {
                let options = JitOptions::from_env();
                let rustc = options.rustc.display().to_string();
                Jit::new(options).map_err(|error| match error {
                    JitError::NoCompiler { rustc, error } => (rustc, error),
                    other => (rustc, other.to_string()),
                })
            })
            .clone()
            .map_err(|(rustc, error)| JitError::NoCompiler { rustc, error })
    }

    /// Generates, compiles (or finds in the cache) and attaches the fused
    /// passes of `prepared` in `T`. Returns how many passes run generated
    /// code (0: none can be fused; the kernel stays interpreted).
    pub fn attach<T: Real>(&self, prepared: &mut Prepared<'_, '_>) -> Result<usize, JitError> {
        let Some(generated) = prepared.generate::<T>() else {
            return Ok(0);
        };
        let path = self.library(&generated.source)?;
        // SAFETY: the library at `path` was compiled from `generated.source`
        // (its file name is the hash of that source with the compiler and
        // flags; it is written under that name only after a successful
        // compilation); loading runs no initialisation code of ours.
        #[allow(unsafe_code)]
        let library = unsafe { libloading::Library::new(&path) }.map_err(|error| JitError::Load {
            path: path.clone(),
            message: error.to_string(),
        })?;
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

    /// The compiled library of `source`: from the cache, or compiled now.
    pub fn library(&self, source: &str) -> Result<PathBuf, JitError> {
        let mut hasher = Sha256::new();
        hasher.update(self.identity.as_bytes());
        hasher.update([0]);
        hasher.update(source.as_bytes());
        let key: String = hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
        let cache = &self.options.cache;
        let name = format!(
            "{}lossc-{key}{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let path = cache.join(name);
        if path.is_file() {
            return Ok(path);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JitError::Io { path, source }
        };
        std::fs::create_dir_all(cache).map_err(io(cache))?;
        // A directory of our own for the source and the compiler's output.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let work = cache.join(format!(
            ".build-{key}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&work).map_err(io(&work))?;
        let result = self.compile_in(&work, source, &path);
        let _ = std::fs::remove_dir_all(&work);
        result.map(|()| path)
    }

    fn compile_in(&self, work: &Path, source: &str, target: &Path) -> Result<(), JitError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JitError::Io { path, source }
        };
        let file = work.join("kernel.rs");
        std::fs::write(&file, source).map_err(io(&file))?;
        let output_file = work.join("kernel.so");
        let output = Command::new(&self.options.rustc)
            .args(FLAGS)
            .arg("-o")
            .arg(&output_file)
            .arg(&file)
            .output()
            .map_err(|error| JitError::NoCompiler {
                rustc: self.options.rustc.display().to_string(),
                error: error.to_string(),
            })?;
        if !output.status.success() {
            // Keep the source where the message points.
            let kept = target.with_extension("rs");
            let _ = std::fs::write(&kept, source);
            return Err(JitError::Compile {
                path: kept,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        // The source beside the library, for people reading what ran
        // (written first: the library's presence means the build is done).
        let _ = std::fs::write(target.with_extension("rs"), source);
        // Atomic on one file system: another process sees all or nothing.
        std::fs::rename(&output_file, target).map_err(io(target))
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
