//! The cache of compiled libraries: where it is, whether it is safe to use,
//! and its entries.
//!
//! Layout of the cache directory (nothing else in it is ever touched):
//!
//! ```text
//! lossc-<key>/                   one entry, renamed into place whole
//!     liblossc-<key>.so          the library (mode 0700)
//!     liblossc-<key>.so.sha256   its SHA-256, `sha256sum` format, written with it
//!     lossc-<key>.rs             the source it was compiled from
//! lossc-<key>.failed.rs          the source of a compilation that failed
//! .build-<key>-<pid>-<n>/        a compilation in progress (process <pid>)
//! liblossc-<key>.so, .rs         the flat layout of earlier versions: never
//!                                loaded, removed by eviction and `clean`
//! ```
//!
//! An entry is loaded only if the entry directory and the library are owned
//! by this user and writable by no one else, and the library's bytes hash to
//! the digest recorded for its own name; anything else is removed and
//! compiled again. The directories lossc owns (the cache directory, and
//! `lossc/` above `jit/` in the default places) are created 0700 and must be
//! owned by this user and writable by no one else, or the cache is not used.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::JitError;

/// Where the cache of compiled libraries is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLocation {
    /// The cache directory.
    pub dir: PathBuf,
    /// The outermost directory that is lossc's own: `dir` or an ancestor.
    /// Every directory from `root` down to `dir` is checked before use.
    pub root: PathBuf,
}

impl From<PathBuf> for CacheLocation {
    fn from(dir: PathBuf) -> Self {
        CacheLocation::new(dir)
    }
}

impl From<&Path> for CacheLocation {
    fn from(dir: &Path) -> Self {
        CacheLocation::new(dir)
    }
}

impl CacheLocation {
    /// The cache in `dir`, a directory that is lossc's own (only it is checked).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        CacheLocation { root: dir.clone(), dir }
    }

    /// The cache in `base/lossc/jit`: `lossc` and `jit` are lossc's own.
    pub fn under(base: &Path) -> Self {
        let root = base.join("lossc");
        CacheLocation {
            dir: root.join("jit"),
            root,
        }
    }

    /// From the environment: `LOSSC_JIT_CACHE`, else
    /// `$XDG_CACHE_HOME/lossc/jit` (an absolute `XDG_CACHE_HOME` only, as
    /// the XDG specification says), else `$HOME/.cache/lossc/jit`. `None`
    /// without any of them: there is no private place for the cache (and no
    /// shared one is used).
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = var("LOSSC_JIT_CACHE") {
            return Some(CacheLocation::new(dir));
        }
        if let Some(base) = var("XDG_CACHE_HOME").filter(|base| base.is_absolute()) {
            return Some(CacheLocation::under(&base));
        }
        var("HOME").map(|home| CacheLocation::under(&home.join(".cache")))
    }

    /// The directories that must be private, from `dir` up to `root`.
    fn private_dirs(&self) -> Vec<&Path> {
        let chain: Vec<&Path> = self.dir.ancestors().collect();
        match chain.iter().position(|dir| *dir == self.root) {
            Some(end) => chain[..=end].to_vec(),
            None => vec![self.dir.as_path()],
        }
    }

    /// Whether the cache may be used as it is now, without creating
    /// anything: every directory of lossc's that exists is owned by this
    /// user and writable by no one else.
    pub fn check(&self) -> Result<(), JitError> {
        for dir in self.private_dirs() {
            match fs::metadata(dir) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                _ => check_private_dir(dir)?,
            }
        }
        Ok(())
    }

    /// Everything lossc keeps in the cache directory (empty when it does
    /// not exist).
    pub fn entries(&self) -> Result<Vec<CacheEntry>, JitError> {
        entries(&self.dir)
    }

    /// Removes everything lossc keeps in the cache directory (never
    /// following a symbolic link, never touching a name that is not
    /// lossc's) and returns what it removed. The directory itself stays.
    pub fn clean(&self) -> Result<Vec<CacheEntry>, JitError> {
        let entries = self.entries()?;
        for entry in &entries {
            remove(&entry.path)?;
        }
        Ok(entries)
    }
}

/// What an item of the cache directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A compiled library with its hash and source (`lossc-<key>/`).
    Library,
    /// The source of a compilation that failed (`lossc-<key>.failed.rs`).
    FailedSource,
    /// A compilation's scratch directory (`.build-...`): in progress, or
    /// left by one that was killed.
    Build,
    /// A file of the flat layout of earlier versions (never loaded).
    Legacy,
}

/// One item of the cache directory.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Bytes of its files.
    pub bytes: u64,
    /// When it was last used (a library) or written.
    pub last_used: SystemTime,
}

/// The entry directory of `key`.
fn entry_name(key: &str) -> String {
    format!("lossc-{key}")
}

/// The library's file name in its entry.
pub(crate) fn library_name(key: &str) -> String {
    format!(
        "{}lossc-{key}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The file that records the library's SHA-256.
fn digest_name(key: &str) -> String {
    format!("{}.sha256", library_name(key))
}

/// Where the source of a failed compilation of `key` is kept.
pub(crate) fn failed_source(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("lossc-{key}.failed.rs"))
}

/// A compilation's scratch directory: named by the process and a counter
/// so that a later run can tell an abandoned one (see [`is_abandoned`]).
pub(crate) fn build_dir(dir: &Path, key: &str, counter: usize) -> PathBuf {
    dir.join(format!(".build-{key}-{}-{counter}", std::process::id()))
}

/// Creates the cache directory (and the missing directories above it) with
/// mode 0700, checks every directory lossc owns, and removes the build
/// directories of compilations that were killed.
pub(crate) fn open(location: &CacheLocation, build_limit: Duration) -> Result<(), JitError> {
    if let Err(error) = create_private_dir(&location.dir) {
        // A file where the directory should be says so, not "file exists".
        return Err(match fs::metadata(&location.dir) {
            Ok(metadata) if !metadata.is_dir() => unsafe_cache(&location.dir, "it is not a directory".into()),
            _ => error,
        });
    }
    for dir in location.private_dirs() {
        check_private_dir(dir)?;
    }
    remove_abandoned_builds(&location.dir, build_limit);
    Ok(())
}

/// Creates `dir` (and its missing parents) readable and writable by its
/// owner only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), JitError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

/// Checks that `dir` is a directory owned by this user that no one else
/// may write to.
fn check_private_dir(dir: &Path) -> Result<(), JitError> {
    let metadata = fs::metadata(dir).map_err(io_error(dir))?;
    if !metadata.is_dir() {
        return Err(unsafe_cache(dir, "it is not a directory".into()));
    }
    owned_and_private(&metadata).map_err(|why| {
        let fix = if why.starts_with("it is owned") {
            "set LOSSC_JIT_CACHE to a directory of your own".to_string()
        } else {
            format!("`chmod go-w {}` makes it private", dir.display())
        };
        unsafe_cache(dir, format!("{why}; {fix}"))
    })
}

/// `Ok` if `metadata` is of a file owned by this user (the effective uid)
/// that neither its group nor others may write to; else why not.
fn owned_and_private(metadata: &fs::Metadata) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if metadata.uid() != me {
            return Err(format!(
                "it is owned by uid {}, not by this user (uid {me})",
                metadata.uid()
            ));
        }
        let mode = metadata.mode() & 0o7777;
        if mode & 0o022 != 0 {
            let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "its group and others",
                (true, false) => "its group",
                _ => "others",
            };
            return Err(format!("{who} may write to it (mode {mode:04o}); only its owner may"));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    Ok(())
}

fn unsafe_cache(path: &Path, why: String) -> JitError {
    JitError::UnsafeCache {
        path: path.to_path_buf(),
        why,
    }
}

/// Maps an IO error on `path` to a [`JitError::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JitError + use<> {
    let path = path.to_path_buf();
    move |source| JitError::Io {
        path,
        source: Arc::new(source),
    }
}

/// The library of `key` if its entry passes every check (it is then marked
/// as just used); `None` if there is none. An entry that fails a check is
/// removed, so the caller compiles it again.
#[cfg(test)]
pub(crate) fn find(dir: &Path, key: &str) -> Result<Option<PathBuf>, JitError> {
    find_noting(dir, key, &mut None)
}

/// [`find`], also saying in `rejected` why an entry that was there was
/// removed (its check failed), so that the caller can tell the user.
pub(crate) fn find_noting(dir: &Path, key: &str, rejected: &mut Option<String>) -> Result<Option<PathBuf>, JitError> {
    let entry = dir.join(entry_name(key));
    match fs::symlink_metadata(&entry) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(&entry)(error)),
        Ok(_) => {}
    }
    match verify(&entry, key) {
        Ok(library) => {
            mark_used(&library);
            Ok(Some(library))
        }
        Err(why) => {
            remove(&entry)?;
            *rejected = Some(why);
            Ok(None)
        }
    }
}

/// The library of the entry `entry` of `key` if it may be loaded; else why not.
pub(crate) fn verify(entry: &Path, key: &str) -> Result<PathBuf, String> {
    let metadata = fs::symlink_metadata(entry).map_err(|error| error.to_string())?;
    if !metadata.is_dir() {
        return Err("the entry is not a directory".into());
    }
    owned_and_private(&metadata)?;
    let name = library_name(key);
    let library = entry.join(&name);
    let metadata = fs::symlink_metadata(&library).map_err(|error| format!("{name}: {error}"))?;
    if !metadata.is_file() {
        return Err(format!("{name} is not a regular file"));
    }
    owned_and_private(&metadata).map_err(|why| format!("{name}: {why}"))?;
    let recorded = recorded_digest(&entry.join(digest_name(key)), &name)?;
    let bytes = fs::read(&library).map_err(|error| format!("{name}: {error}"))?;
    if sha256_hex(&bytes) != recorded {
        return Err(format!(
            "{name}: its bytes do not match the SHA-256 recorded when it was written"
        ));
    }
    Ok(library)
}

/// The digest a `.sha256` file records for the file `name`
/// (`<64 hex digits>  <name>`, as `sha256sum` writes it).
fn recorded_digest(path: &Path, name: &str) -> Result<String, String> {
    const MAX_BYTES: u64 = 4096;
    let metadata = fs::symlink_metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if !metadata.is_file() || metadata.len() > MAX_BYTES {
        return Err(format!("{} is not a hash record", path.display()));
    }
    owned_and_private(&metadata)?;
    let text = fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let (digest, file) = text
        .trim_end_matches('\n')
        .split_once("  ")
        .ok_or_else(|| format!("{} is not a hash record", path.display()))?;
    let is_digest = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !is_digest || file != name {
        return Err(format!("{} does not record the hash of {name}", path.display()));
    }
    Ok(digest.to_string())
}

/// The SHA-256 of `bytes` in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Records a use of a library: its modification time is the entry's last
/// use, which eviction reads. Best effort: a library that cannot be marked
/// is merely evicted earlier.
fn mark_used(library: &Path) {
    if let Ok(file) = fs::File::open(library) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Moves the library `built` (and its `source`) into the cache as the entry
/// of `key`: staged in `work` (a directory of the cache's file system), with
/// its SHA-256 recorded beside it, then renamed into place in one step, so
/// another process sees the whole entry or none. When another process
/// stored the same key first, its entry stays. Returns the entry.
pub(crate) fn store(dir: &Path, key: &str, work: &Path, built: &Path, source: &str) -> Result<PathBuf, JitError> {
    let staged = work.join("entry");
    create_private_dir(&staged)?;
    let name = library_name(key);
    let library = staged.join(&name);
    fs::rename(built, &library).map_err(io_error(&library))?;
    set_mode(&library, 0o700)?;
    let bytes = fs::read(&library).map_err(io_error(&library))?;
    write_private(
        &staged.join(digest_name(key)),
        &format!("{}  {name}\n", sha256_hex(&bytes)),
    )?;
    write_private(&staged.join(format!("lossc-{key}.rs")), source)?;
    let entry = dir.join(entry_name(key));
    if let Err(error) = fs::rename(&staged, &entry) {
        // Renaming a directory onto a non-empty one fails: another process
        // stored this key meanwhile. Keep its entry if it passes the checks.
        let theirs = fs::symlink_metadata(&entry).is_ok() && verify(&entry, key).is_ok();
        if !theirs {
            if fs::symlink_metadata(&entry).is_ok() {
                remove(&entry)?;
            }
            fs::rename(&staged, &entry).map_err(|_| io_error(&entry)(error))?;
        }
    }
    Ok(entry)
}

/// Writes `text` to a new file `path` that only its owner may read or write.
fn write_private(path: &Path, text: &str) -> Result<(), JitError> {
    fs::write(path, text).map_err(io_error(path))?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), JitError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error(path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Removes `path`: a directory with everything in it, or a file or
/// symbolic link (never what a link points to). Already gone is fine.
pub(crate) fn remove(path: &Path) -> Result<(), JitError> {
    let result = match fs::symlink_metadata(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => Err(error),
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    match result {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(io_error(path)(error)),
        _ => Ok(()),
    }
}

/// Everything lossc keeps in `dir`, by name (see the module's layout).
fn entries(dir: &Path) -> Result<Vec<CacheEntry>, JitError> {
    let listing = match fs::read_dir(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        listing => listing.map_err(io_error(dir))?,
    };
    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(io_error(dir))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        // Gone since the listing: another process removed it.
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        let is_dir = metadata.is_dir();
        let kind = if name.starts_with(".build-") {
            EntryKind::Build
        } else if name.starts_with("lossc-") && name.ends_with(".failed.rs") && !is_dir {
            EntryKind::FailedSource
        } else if name.starts_with("lossc-") && is_dir {
            EntryKind::Library
        } else if name.starts_with("lossc-") || name.starts_with("liblossc-") {
            EntryKind::Legacy
        } else {
            continue;
        };
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let last_used = match kind {
            EntryKind::Library => fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|file| {
                    file.file_name()
                        .to_string_lossy()
                        .ends_with(std::env::consts::DLL_SUFFIX)
                })
                .filter_map(|file| file.metadata().ok()?.modified().ok())
                .max()
                .unwrap_or(modified),
            _ => modified,
        };
        entries.push(CacheEntry {
            bytes: size(&path, &metadata, 0),
            path,
            kind,
            last_used,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// The bytes of the files under `path` (links not followed; a few levels).
fn size(path: &Path, metadata: &fs::Metadata, depth: usize) -> u64 {
    if !metadata.is_dir() {
        return metadata.len();
    }
    if depth >= 4 {
        return 0;
    }
    fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|item| {
            let path = item.path();
            let metadata = fs::symlink_metadata(&path).ok()?;
            Some(size(&path, &metadata, depth + 1))
        })
        .sum()
}

/// Removes the least recently used entries until the cache holds at most
/// `max_bytes` (compilations in progress are not counted; `keep`, the entry
/// just stored, is never removed). Best effort: an entry that cannot be
/// removed is skipped.
pub(crate) fn evict(dir: &Path, max_bytes: u64, keep: &Path) -> Result<Vec<CacheEntry>, JitError> {
    let mut candidates: Vec<CacheEntry> = entries(dir)?
        .into_iter()
        .filter(|entry| entry.kind != EntryKind::Build)
        .collect();
    let mut total: u64 = candidates.iter().map(|entry| entry.bytes).sum();
    candidates.retain(|entry| entry.path != keep);
    candidates.sort_by_key(|entry| entry.last_used);
    let mut removed = Vec::new();
    for entry in candidates {
        if total <= max_bytes {
            break;
        }
        if remove(&entry.path).is_ok() {
            total = total.saturating_sub(entry.bytes);
            removed.push(entry);
        }
    }
    Ok(removed)
}

/// Removes the build directories that compilations killed earlier left
/// behind (best effort).
fn remove_abandoned_builds(dir: &Path, build_limit: Duration) {
    let Ok(entries) = entries(dir) else {
        return;
    };
    for entry in entries {
        let name = entry.path.file_name().map(|name| name.to_string_lossy().into_owned());
        if entry.kind == EntryKind::Build && name.is_some_and(|name| is_abandoned(&name, entry.last_used, build_limit))
        {
            let _ = remove(&entry.path);
        }
    }
}

/// Whether the build directory `name` (`.build-<key>-<pid>-<n>`), last
/// written at `modified`, belongs to no running compilation: its process is
/// gone, or it is older than any compilation may take.
pub(crate) fn is_abandoned(name: &str, modified: SystemTime, build_limit: Duration) -> bool {
    const SLACK: Duration = Duration::from_secs(60);
    let age = modified.elapsed().unwrap_or(Duration::ZERO);
    if age > build_limit.saturating_add(SLACK) {
        return true;
    }
    let pid = name.rsplit('-').nth(1).and_then(|pid| pid.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => !process_runs(pid),
        None => true,
    }
}

/// Whether a process `pid` runs on this machine.
fn process_runs(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            return false;
        };
        // Signal 0 only checks: "no such process" is the one answer that
        // says it is gone (not being allowed to signal it means it runs).
        !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid entry of `key` in `dir` whose library is `bytes`, last used
    /// `age` ago.
    fn entry(dir: &Path, key: &str, bytes: &[u8], age: Duration) -> PathBuf {
        let work = dir.join(format!(".build-{key}-{}-0", std::process::id()));
        create_private_dir(&work).unwrap();
        let built = work.join("built");
        fs::write(&built, bytes).unwrap();
        let entry = store(dir, key, &work, &built, "// source").unwrap();
        remove(&work).unwrap();
        let library = entry.join(library_name(key));
        fs::File::open(&library)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
        entry
    }

    fn hours(n: u64) -> Duration {
        Duration::from_secs(3600 * n)
    }

    #[test]
    fn a_stored_entry_is_found_with_its_hash_recorded() {
        let dir = tempfile::tempdir().unwrap();
        entry(dir.path(), "a1", b"library a", hours(1));
        let library = find(dir.path(), "a1").unwrap().expect("the entry just stored");
        let record = fs::read_to_string(dir.path().join("lossc-a1").join(digest_name("a1"))).unwrap();
        assert_eq!(
            record,
            format!("{}  {}\n", sha256_hex(b"library a"), library_name("a1"))
        );
        // Found means used: its time is now.
        let used = fs::metadata(&library).unwrap().modified().unwrap();
        assert!(used.elapsed().unwrap() < Duration::from_secs(60));
    }

    #[test]
    fn a_library_copied_over_another_is_removed_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let a = entry(dir.path(), "a1", b"library a", hours(1));
        let b = entry(dir.path(), "b2", b"library b", hours(1));
        fs::copy(a.join(library_name("a1")), b.join(library_name("b2"))).unwrap();
        assert_eq!(find(dir.path(), "b2").unwrap(), None);
        assert!(!b.exists(), "the entry that failed its hash is removed");
        assert!(find(dir.path(), "a1").unwrap().is_some());
    }

    #[test]
    fn a_hash_record_for_another_name_or_garbage_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let a = entry(dir.path(), "a1", b"library a", hours(1));
        let b = entry(dir.path(), "b2", b"library a", hours(1));
        // The same bytes under another name: its record names the other file.
        fs::copy(a.join(digest_name("a1")), b.join(digest_name("b2"))).unwrap();
        assert_eq!(find(dir.path(), "b2").unwrap(), None);
        fs::write(a.join(digest_name("a1")), "not a hash\n").unwrap();
        assert_eq!(find(dir.path(), "a1").unwrap(), None);
        assert!(dir.path().read_dir().unwrap().next().is_none(), "both removed");
    }

    #[cfg(unix)]
    #[test]
    fn a_library_others_may_write_to_is_not_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = entry(dir.path(), "a1", b"library a", hours(1));
        let library = a.join(library_name("a1"));
        fs::set_permissions(&library, fs::Permissions::from_mode(0o722)).unwrap();
        let why = verify(&a, "a1").unwrap_err();
        assert!(
            why.contains("its group and others may write to it (mode 0722)"),
            "{why}"
        );
        assert_eq!(find(dir.path(), "a1").unwrap(), None);
        // A symbolic link in place of the library is not followed.
        let b = entry(dir.path(), "b2", b"library b", hours(1));
        let target = dir.path().join("elsewhere.so");
        fs::write(&target, b"library b").unwrap();
        fs::remove_file(b.join(library_name("b2"))).unwrap();
        std::os::unix::fs::symlink(&target, b.join(library_name("b2"))).unwrap();
        assert!(verify(&b, "b2").unwrap_err().contains("not a regular file"));
    }

    #[test]
    fn eviction_removes_the_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let kilobyte = vec![7u8; 1000];
        let a = entry(dir.path(), "a1", &kilobyte, hours(3));
        let b = entry(dir.path(), "b2", &kilobyte, hours(2));
        let c = entry(dir.path(), "c3", &kilobyte, hours(1));
        // A use of the oldest makes it the newest.
        find(dir.path(), "a1").unwrap().unwrap();
        let per_entry = entries(dir.path()).unwrap()[0].bytes;
        let removed = evict(dir.path(), 2 * per_entry, &c).unwrap();
        assert_eq!(
            removed.iter().map(|e| e.path.clone()).collect::<Vec<_>>(),
            vec![b.clone()]
        );
        assert!(a.exists() && !b.exists() && c.exists());
        // The entry just stored stays even when it alone is over the size.
        evict(dir.path(), 0, &c).unwrap();
        assert!(!a.exists() && c.exists());
    }

    #[test]
    fn clean_removes_lossc_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        entry(dir.path(), "a1", b"library a", hours(1));
        fs::write(dir.path().join("liblossc-0123.so"), b"old layout").unwrap();
        fs::write(failed_source(dir.path(), "b2"), "fn f(").unwrap();
        fs::create_dir(dir.path().join(".build-c3-1-0")).unwrap();
        fs::write(dir.path().join("notes.txt"), "the user's").unwrap();
        let location = CacheLocation::new(dir.path());
        let removed = location.clean().unwrap();
        let kinds: Vec<EntryKind> = removed.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 4, "{removed:?}");
        for kind in [
            EntryKind::Library,
            EntryKind::Legacy,
            EntryKind::FailedSource,
            EntryKind::Build,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} not removed: {removed:?}");
        }
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    }

    #[test]
    fn a_build_directory_is_abandoned_when_its_process_is_gone_or_it_is_too_old() {
        let now = SystemTime::now();
        let limit = Duration::from_secs(120);
        let ours = format!(".build-k-{}-3", std::process::id());
        assert!(!is_abandoned(&ours, now, limit));
        assert!(is_abandoned(&ours, now - hours(1), limit));
        // A process that has exited (and been waited for).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        assert!(is_abandoned(&format!(".build-k-{}-0", child.id()), now, limit));
        assert!(is_abandoned(".build-no-pid", now, limit));
    }

    #[cfg(unix)]
    #[test]
    fn the_private_directories_are_checked_from_the_cache_up_to_lossc_s_own() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let location = CacheLocation::under(base.path());
        open(&location, Duration::from_secs(1)).unwrap();
        for dir in [&location.root, &location.dir] {
            assert_eq!(
                fs::metadata(dir).unwrap().permissions().mode() & 0o777,
                0o700,
                "{dir:?}"
            );
        }
        fs::set_permissions(&location.root, fs::Permissions::from_mode(0o775)).unwrap();
        let error = open(&location, Duration::from_secs(1)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "the cache of generated code {0} is not safe to use: its group may write to it (mode 0775); only its owner \
                 may; `chmod go-w {0}` makes it private",
                location.root.display()
            )
        );
        assert!(location.check().is_err());
        // The base directory above lossc's own is not lossc's business.
        fs::set_permissions(&location.root, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(base.path(), fs::Permissions::from_mode(0o777)).unwrap();
        open(&location, Duration::from_secs(1)).unwrap();
    }
}
