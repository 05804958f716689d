//! The files lossc writes: `eval --grad-out`, `plot --out` and `fit --plot`,
//! all through [`Output`].
//!
//! What is at the path decides how it is written ([`Output::resolve`], before
//! any work is done):
//! - nothing, or a regular file: a temporary file is written in the same
//!   directory and renamed over the path, so the path holds the old file or
//!   the whole new one, never half of one. A replaced file keeps its
//!   permissions (and its owner and group where the system lets us set
//!   them); a new file gets 0644 less the umask.
//! - a symbolic link: followed; the file it points to is replaced as above
//!   and the link stays a link.
//! - a character device (`/dev/null`, a terminal): written in place; it is
//!   never renamed over or removed.
//! - a directory, a named pipe (FIFO), a socket or a block device: refused
//!   with an error (exit status 2), without opening it (opening a FIFO would
//!   wait for a reader).
//!
//! Temporary files are named `.lossc-<pid>-<random><suffix>` (e.g.
//! `.lossc-4242-Xa3kq9.npy.tmp`) and removed on every way out: an error, a
//! panic (a guard), and SIGINT, SIGTERM or SIGHUP (a handler thread removes
//! the live ones, then the process ends as the signal would have ended it; a
//! signal the process was started ignoring, as under `nohup`, stays ignored).
//! Only `kill -9` or a crash of the machine can leave one behind; the next
//! write into the same directory removes those of processes no longer
//! running, once they are a minute old ([`STALE_AGE`]).
//!
//! A gradient larger than memory is written by the evaluator straight into
//! the temporary file, memory-mapped ([`Output::map_npy`]): its space is
//! reserved first, so a full disk is an error naming the size, not a crash
//! half-way.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};
use ndarray_npy::{ViewMutNpyExt, ViewNpyExt, WriteNpyExt};
use tempfile::NamedTempFile;

use crate::CliError;

/// A stale temporary file (of a process no longer running) is removed once
/// it is this old.
pub const STALE_AGE: Duration = Duration::from_secs(60);

/// What every temporary file's name starts with.
const PREFIX: &str = ".lossc-";

/// Writes `path` through `write` (see the [module documentation](self)):
/// a regular file atomically, a character device in place. `suffix` ends the
/// temporary file's name, e.g. `.svg.tmp`.
pub fn write_file(
    path: &Path,
    suffix: &str,
    write: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> Result<(), CliError> {
    Output::resolve(path)?.write(suffix, write)
}

/// Writes `array` to `path` as a `.npy` file of its element type
/// ([`write_file`]).
pub fn write_npy<A: ndarray_npy::WritableElement + Clone>(
    path: &Path,
    array: ArrayViewD<'_, A>,
) -> Result<(), CliError> {
    Output::resolve(path)?.write_npy(array)
}

/// The element types of `.npy` files lossc writes, and views in place.
pub trait NpyElement:
    ndarray_npy::WritableElement + ndarray_npy::ViewElement + ndarray_npy::ViewMutElement + Copy
{
}
impl NpyElement for f32 {}
impl NpyElement for f64 {}

/// A path to write, with what is there now.
#[derive(Debug)]
pub struct Output {
    /// The path as the user gave it, for messages.
    shown: PathBuf,
    target: Target,
}

#[derive(Debug)]
enum Target {
    /// A regular file, existing or new, at `path` (symbolic links followed),
    /// replaced by renaming a temporary file written in `directory`.
    File {
        path: PathBuf,
        directory: PathBuf,
        /// The file it replaces, whose permissions and owner it keeps.
        existing: Option<Box<fs::Metadata>>,
    },
    /// A character device, written in place.
    Device,
}

impl Output {
    /// Looks at what is at `path` and decides how to write it; refuses a
    /// directory, a FIFO, a socket, a block device, a missing directory.
    pub fn resolve(path: &Path) -> Result<Output, CliError> {
        let shown = path.to_path_buf();
        let fail = |why: &dyn std::fmt::Display| CliError::new(format!("cannot write `{}`: {why}", path.display()));
        let target = match fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => {
                let real = fs::canonicalize(path).map_err(|error| fail(&error))?;
                let directory = parent(&real).to_path_buf();
                Target::File {
                    path: real,
                    directory,
                    existing: Some(Box::new(metadata)),
                }
            }
            Ok(metadata) if is_char_device(&metadata) => Target::Device,
            Ok(metadata) => return Err(fail(&refusal(&metadata))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // A new file, perhaps where a dangling symbolic link points.
                let real = follow_links(path).map_err(|error| fail(&error))?;
                let directory = parent(&real).to_path_buf();
                if !directory.is_dir() {
                    return Err(fail(&format!("there is no directory `{}`", directory.display())));
                }
                Target::File {
                    path: real,
                    directory,
                    existing: None,
                }
            }
            Err(error) => return Err(fail(&error)),
        };
        Ok(Output { shown, target })
    }

    fn fail(&self, why: &dyn std::fmt::Display) -> CliError {
        CliError::new(format!("cannot write `{}`: {why}", self.shown.display()))
    }

    /// Writes the file through `write`: into a temporary file then renamed
    /// over the target, or into the device. On an error the target is
    /// untouched (a device may have received part of the data).
    pub fn write(&self, suffix: &str, write: impl FnOnce(&mut fs::File) -> io::Result<()>) -> Result<(), CliError> {
        match &self.target {
            Target::Device => {
                let mut device = open_device(&self.shown).map_err(|error| self.fail(&error))?;
                write(&mut device).map_err(|error| self.fail(&error))?;
                device.flush().map_err(|error| self.fail(&error))
            }
            Target::File {
                path,
                directory,
                existing,
            } => {
                let mut temporary =
                    Temporary::create(directory, suffix, existing.as_deref()).map_err(|error| self.fail(&error))?;
                write(temporary.file_mut()).map_err(|error| self.fail(&error))?;
                temporary.file_mut().sync_all().map_err(|error| self.fail(&error))?;
                temporary.persist(path).map_err(|error| self.fail(&error))?;
                Ok(())
            }
        }
    }

    /// Writes `array` as a `.npy` file of its element type.
    pub fn write_npy<A: ndarray_npy::WritableElement + Clone>(&self, array: ArrayViewD<'_, A>) -> Result<(), CliError> {
        self.write(".npy.tmp", |file| {
            let mut writer = BufWriter::new(file);
            array
                .as_standard_layout()
                .write_npy(&mut writer)
                .map_err(io::Error::other)?;
            writer.flush()
        })
    }

    /// A `.npy` file of `T` of `shape`, its data memory-mapped for writing in
    /// place ([`MappedNpy`]), in a temporary file whose disk space is
    /// reserved; `None` for a device, or a file system that cannot map files
    /// for writing: write those with [`Output::write_npy`] instead.
    pub fn map_npy<T: NpyElement>(&self, shape: &[usize]) -> Result<Option<MappedNpy<T>>, CliError> {
        let Target::File {
            path,
            directory,
            existing,
        } = &self.target
        else {
            return Ok(None);
        };
        let bytes = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_mul(std::mem::size_of::<T>()))
            .filter(|&b| isize::try_from(b).is_ok() && b < usize::MAX / 2)
            .ok_or_else(|| self.fail(&format!("shape {shape:?} is too large to address")))?;
        let mut temporary =
            Temporary::create(directory, ".npy.tmp", existing.as_deref()).map_err(|error| self.fail(&error))?;
        let sized = |error: &dyn std::fmt::Display| self.fail(&format!("{} of data: {error}", size_text(bytes)));
        ndarray_npy::write_zeroed_npy::<T, _>(temporary.file_mut(), IxDyn(shape)).map_err(|error| sized(&error))?;
        let length = temporary.file_mut().metadata().map_err(|error| sized(&error))?.len();
        reserve(temporary.file_mut(), length).map_err(|error| match error {
            Reserve::Short { available } => self.fail(&format!(
                "it needs {} and its file system has {} free",
                size_text(length as usize),
                size_text(available as usize)
            )),
            Reserve::Io(error) => sized(&error),
        })?;
        #[allow(unsafe_code)]
        // SAFETY: the map is of a file lossc just created (with O_EXCL, under
        // a random name) and keeps to itself until it renames it; it lives in
        // `MappedNpy`, and every slice of it borrows `MappedNpy`. Mapping is
        // `unsafe` because another process could truncate the file meanwhile,
        // which would make accesses fault (SIGBUS), never return wrong
        // numbers; its space was reserved above so a full disk cannot.
        let Ok(map) = (unsafe { memmap2::MmapMut::map_mut(temporary.file()) }) else {
            // The temporary file is removed; the gradient is computed in memory.
            return Ok(None);
        };
        Ok(Some(MappedNpy {
            shown: self.shown.clone(),
            path: path.clone(),
            temporary: Some(temporary),
            map,
            element: PhantomData,
        }))
    }
}

/// A `.npy` file being written in place: its data is a slice of memory
/// mapped onto a temporary file ([`MappedNpy::data_mut`]), which
/// [`MappedNpy::commit`] renames over the target. Dropped uncommitted, the
/// temporary file is removed.
#[derive(Debug)]
pub struct MappedNpy<T> {
    shown: PathBuf,
    path: PathBuf,
    /// `None` once committed.
    temporary: Option<Temporary>,
    map: memmap2::MmapMut,
    element: PhantomData<T>,
}

impl<T: NpyElement> MappedNpy<T> {
    fn fail(&self, why: &dyn std::fmt::Display) -> CliError {
        CliError::new(format!("cannot write `{}`: {why}", self.shown.display()))
    }

    /// The data, in C order, to be filled.
    pub fn data_mut(&mut self) -> Result<&mut [T], CliError> {
        let shown = self.shown.clone();
        let fail = |why: &dyn std::fmt::Display| CliError::new(format!("cannot write `{}`: {why}", shown.display()));
        ArrayViewMutD::<T>::view_mut_npy(&mut self.map)
            .map_err(|error| fail(&error))?
            .into_slice()
            .ok_or_else(|| fail(&"its data is not in C order"))
    }

    /// The data as written, as an array of its shape.
    pub fn view(&self) -> Result<ArrayViewD<'_, T>, CliError> {
        ArrayViewD::<T>::view_npy(&self.map).map_err(|error| self.fail(&error))
    }

    /// Writes the data to disk and renames the file over the target; the
    /// data stays readable through [`MappedNpy::view`].
    pub fn commit(&mut self) -> Result<(), CliError> {
        let Some(mut temporary) = self.temporary.take() else {
            return Ok(());
        };
        self.map.flush().map_err(|error| self.fail(&error))?;
        temporary.file_mut().sync_all().map_err(|error| self.fail(&error))?;
        temporary.persist(&self.path).map_err(|error| self.fail(&error))?;
        Ok(())
    }
}

/// The directory a file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Where `path` leads once every symbolic link in its last component is
/// followed (the path itself when it is not a link).
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As many as the operating system follows (Linux's MAXSYMLINKS).
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = parent(&current).join(target);
            }
            Ok(_) => return Ok(current),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

#[cfg(unix)]
fn is_char_device(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    metadata.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_: &fs::Metadata) -> bool {
    false
}

/// Why a path that is neither a regular file nor a character device is not
/// written.
fn refusal(metadata: &fs::Metadata) -> String {
    let what = if metadata.is_dir() {
        return "it is a directory".to_string();
    } else {
        crate::input_file::kind_of(&metadata.file_type())
    };
    format!("it is {what}; lossc writes regular files and character devices such as /dev/null")
}

/// Opens a character device for writing, without waiting (should it have
/// become a FIFO since it was looked at) and checking that it still is one.
#[cfg(unix)]
fn open_device(path: &Path) -> io::Result<fs::File> {
    use rustix::fs::{FileType, Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::CharacterDevice {
        return Err(io::Error::other("it is no longer a character device"));
    }
    // Written as usual from here: a terminal may need to wait.
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK)?;
    Ok(fs::File::from(fd))
}

#[cfg(not(unix))]
fn open_device(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new().write(true).open(path)
}

/// Why the space of a file could not be reserved.
#[cfg_attr(not(unix), allow(dead_code))]
enum Reserve {
    /// The file system has only `available` bytes free.
    Short {
        available: u64,
    },
    Io(io::Error),
}

/// Reserves the disk space of the first `length` bytes of `file` (whose
/// length it already is, sparse), so that writing through a memory map
/// cannot run out of space half-way.
#[cfg(unix)]
fn reserve(file: &fs::File, length: u64) -> Result<(), Reserve> {
    let available = || {
        rustix::fs::fstatvfs(file)
            .map(|stats| stats.f_bavail.saturating_mul(stats.f_frsize))
            .map_err(|error| Reserve::Io(error.into()))
    };
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, length) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::NOSPC) => {
            return Err(Reserve::Short {
                available: available()?,
            });
        }
        // A file system without `fallocate`: compare with the free space.
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => {}
        Err(error) => return Err(Reserve::Io(error.into())),
    }
    let available = available()?;
    if available < length {
        return Err(Reserve::Short { available });
    }
    Ok(())
}

#[cfg(not(unix))]
fn reserve(_: &fs::File, _: u64) -> Result<(), Reserve> {
    Ok(())
}

/// `40 GiB (42949672960 bytes)`.
fn size_text(bytes: usize) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let value = format!("{value:.1}");
    let value = value.strip_suffix(".0").unwrap_or(&value);
    format!("{value} {} ({bytes} bytes)", UNITS[unit])
}

/// The temporary files of this process that exist now, removed by the
/// signal handler.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary file beside an output's target: registered for removal on a
/// signal while it exists, removed when dropped unless persisted.
#[derive(Debug)]
struct Temporary {
    /// `None` once persisted.
    file: Option<NamedTempFile>,
}

impl Temporary {
    /// Creates `.lossc-<pid>-<random><suffix>` in `directory`, with the
    /// permissions (and owner) of `existing`, else 0644 less the umask; first
    /// removes the stale temporary files of dead processes there.
    fn create(directory: &Path, suffix: &str, existing: Option<&fs::Metadata>) -> io::Result<Temporary> {
        remove_stale(directory, STALE_AGE);
        install_signal_cleanup();
        let prefix = format!("{PREFIX}{}-", std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(suffix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // The umask applies to this mode; `keep_owner_and_mode` then sets
            // an existing file's mode exactly.
            let mode = existing.map_or(0o644, |metadata| metadata.mode() & 0o777);
            builder.permissions(fs::Permissions::from_mode(mode));
        }
        // Created and registered under the lock: a signal finds it listed.
        let mut live = live();
        let file = builder.tempfile_in(directory)?;
        live.push(file.path().to_path_buf());
        drop(live);
        let temporary = Temporary { file: Some(file) };
        if let Some(existing) = existing {
            keep_owner_and_mode(temporary.file(), existing)?;
        }
        Ok(temporary)
    }

    fn file(&self) -> &fs::File {
        self.file
            .as_ref()
            .expect("a temporary file is open until persisted")
            .as_file()
    }

    fn file_mut(&mut self) -> &mut fs::File {
        self.file
            .as_mut()
            .expect("a temporary file is open until persisted")
            .as_file_mut()
    }

    /// Renames the file over `target`, which must be a regular file or
    /// nothing (it is looked at again: it may have changed since it was
    /// resolved).
    fn persist(mut self, target: &Path) -> io::Result<()> {
        match fs::symlink_metadata(target) {
            Ok(metadata) if !metadata.is_file() => {
                return Err(io::Error::other(format!(
                    "`{}` is no longer a regular file",
                    target.display()
                )));
            }
            _ => {}
        }
        let file = self.file.take().expect("persisted once");
        let path = file.path().to_path_buf();
        // Under the lock: a signal now waits for the rename to finish.
        let mut live = live();
        let renamed = file.persist(target);
        live.retain(|p| *p != path);
        drop(live);
        renamed.map_err(|error| error.error)?;
        // The rename itself reaches the disk with its directory.
        if let Ok(directory) = fs::File::open(parent(target)) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let path = file.path().to_path_buf();
            // Removes the file.
            drop(file);
            live().retain(|p| *p != path);
        }
    }
}

/// Gives the new file the owner, group and mode of the one it replaces, as
/// far as the system allows (only root can give a file away; a group we are
/// a member of is kept). A set-user-ID or set-group-ID bit is kept only with
/// its owner or group.
#[cfg(unix)]
fn keep_owner_and_mode(file: &fs::File, existing: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
    let current = file.metadata()?;
    if (current.uid(), current.gid()) != (existing.uid(), existing.gid())
        && fchown(file, Some(existing.uid()), Some(existing.gid())).is_err()
    {
        let _ = fchown(file, None, Some(existing.gid()));
    }
    let now = file.metadata()?;
    let mut mode = existing.mode() & 0o7777;
    if now.uid() != existing.uid() {
        mode &= !0o4000;
    }
    if now.gid() != existing.gid() {
        mode &= !0o2000;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn keep_owner_and_mode(file: &fs::File, existing: &fs::Metadata) -> io::Result<()> {
    file.set_permissions(existing.permissions())
}

/// The process id in the name of one of lossc's temporary files,
/// `.lossc-<pid>-<random><suffix>.tmp`.
fn temporary_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    if !name.ends_with(".tmp") {
        return None;
    }
    let (pid, _) = rest.split_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes from `directory` the temporary files of processes that are no
/// longer running (left by `kill -9` or a crash) once they are `age` old.
/// Files it cannot remove are left alone.
pub fn remove_stale(directory: &Path, age: Duration) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_pid) else {
            continue;
        };
        if pid == own || is_running(pid) {
            continue;
        }
        // Not following links: only a regular file is ever removed.
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let old = metadata
            .modified()
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|elapsed| elapsed >= age);
        if metadata.is_file() && old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists (when that cannot be known, it is taken to).
#[cfg(unix)]
fn is_running(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return true;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(error) => error != rustix::io::Errno::SRCH,
    }
}

#[cfg(not(unix))]
fn is_running(_: u32) -> bool {
    true
}

/// Installs, once, a thread that on SIGINT, SIGTERM or SIGHUP removes the
/// live temporary files, then ends the process as the signal would have.
/// A signal the process ignores (SIGHUP under `nohup`, SIGINT in a
/// background job of a script) stays ignored.
#[cfg(unix)]
fn install_signal_cleanup() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let ignored = ignored_signals();
        let handled: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|&signal| !is_in(ignored, signal))
            .collect();
        // Without the handler, temporary files are still removed on every
        // other way out.
        let Ok(mut signals) = signal_hook::iterator::Signals::new(&handled) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("lossc-cleanup".to_string())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    // Held to the end: no temporary file is renamed into place
                    // or created meanwhile.
                    let live = live();
                    for path in live.iter() {
                        let _ = fs::remove_file(path);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    // Only if the default action could not be emulated.
                    #[allow(clippy::exit)]
                    std::process::exit(128 + signal);
                }
            });
    });
}

#[cfg(not(unix))]
fn install_signal_cleanup() {}

/// The set of signals this process ignores, as a mask (bit `n - 1` for
/// signal `n`): Linux's `SigIgn` line of `/proc/self/status`; empty where
/// that cannot be read.
#[cfg(unix)]
fn ignored_signals() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|line| line.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .unwrap_or(0)
}

/// Whether `signal` is in the mask.
#[cfg(unix)]
fn is_in(mask: u64, signal: i32) -> bool {
    (1..=64).contains(&signal) && (mask >> (signal - 1)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn temporary_names_carry_the_pid() {
        assert_eq!(temporary_pid(".lossc-4242-Xa3kq9.npy.tmp"), Some(4242));
        assert_eq!(temporary_pid(".lossc-4242-Xa3kq9.svg.tmp"), Some(4242));
        assert_eq!(
            temporary_pid(".lossc-Xa3kq9.npy.tmp"),
            None,
            "an older name, without a pid"
        );
        assert_eq!(temporary_pid(".lossc-4242-Xa3kq9.npy"), None);
        assert_eq!(temporary_pid("lossc-4242-x.tmp"), None);
        assert_eq!(temporary_pid(".lossc--x.tmp"), None);
        assert_eq!(temporary_pid(".lossc-+42-x.tmp"), None);
        assert_eq!(temporary_pid(".lossc-99999999999999999999-x.tmp"), None);
    }

    #[test]
    fn a_temporary_file_is_named_with_the_pid_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let temporary = Temporary::create(dir.path(), ".npy.tmp", None).unwrap();
        let name = names(dir.path()).remove(0);
        assert_eq!(temporary_pid(&name), Some(std::process::id()), "{name}");
        assert!(name.ends_with(".npy.tmp"), "{name}");
        assert!(
            live().iter().any(|p| p.ends_with(&name)),
            "registered for the signal handler"
        );
        drop(temporary);
        assert!(names(dir.path()).is_empty());
        assert!(!live().iter().any(|p| p.ends_with(&name)), "unregistered");
    }

    #[test]
    fn a_temporary_file_is_removed_when_a_panic_unwinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.svg");
        let outcome = std::panic::catch_unwind(|| {
            let _ = write_file(&path, ".svg.tmp", |_| panic!("a bug while writing"));
        });
        assert!(outcome.is_err());
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }

    #[cfg(unix)]
    #[test]
    fn ignored_signals_are_read_as_a_mask() {
        assert!(is_in(0b1, 1));
        assert!(is_in(1 << 14, 15));
        assert!(!is_in(1 << 14, 14));
        assert!(!is_in(u64::MAX, 0));
        assert!(!is_in(u64::MAX, 65));
        // The test harness ignores SIGPIPE (13), as every Rust program does.
        assert!(is_in(ignored_signals(), 13));
    }

    #[test]
    fn sizes_are_in_binary_units_with_the_exact_count() {
        assert_eq!(size_text(12), "12 bytes");
        assert_eq!(size_text(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(size_text(40 << 30), "40 GiB (42949672960 bytes)");
    }

    #[test]
    fn a_mapped_npy_is_written_in_place_and_renamed_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.npy");
        let output = Output::resolve(&path).unwrap();
        let mut npy = output.map_npy::<f32>(&[2, 3]).unwrap().expect("a file, not a device");
        assert!(!path.exists(), "nothing at the target before the commit");
        let data = npy.data_mut().unwrap();
        assert_eq!(data.len(), 6);
        for (i, value) in data.iter_mut().enumerate() {
            *value = i as f32 * 0.5;
        }
        npy.commit().unwrap();
        assert_eq!(npy.view().unwrap().shape(), &[2, 3]);
        drop(npy);
        let read: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&path).unwrap();
        assert_eq!(read.shape(), &[2, 3]);
        assert_eq!(read.as_slice().unwrap(), &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(names(dir.path()), ["g.npy"]);
    }

    #[test]
    fn an_uncommitted_mapped_npy_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.npy");
        let npy = Output::resolve(&path).unwrap().map_npy::<f64>(&[4]).unwrap();
        assert_eq!(names(dir.path()).len(), 1);
        drop(npy);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_gradient_larger_than_the_disk_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.npy");
        let output = Output::resolve(&path).unwrap();
        // 2^60 bytes: more than any file system here holds (or allows in one file).
        let error = output.map_npy::<f32>(&[1 << 58]).unwrap_err();
        let message = error.message();
        assert!(
            message.starts_with(&format!("cannot write `{}`: ", path.display())),
            "{message}"
        );
        assert!(message.contains("EiB"), "the size is named: {message}");
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
        let error = output.map_npy::<f64>(&[1 << 40, 1 << 40]).unwrap_err();
        assert!(error.message().contains("too large to address"), "{}", error.message());
    }
}
