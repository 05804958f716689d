//! Opening the files lossc reads (a `.loss` source, `.npy` and `.csv` data)
//! so that no path can block or flood a command: only regular files are
//! read. A FIFO would block the open until a writer comes (forever, in a
//! script), a device such as `/dev/zero` or `/dev/urandom` never ends, and
//! opening some devices has effects of its own; all are refused before they
//! are opened, and checked again on the opened file (the path may have been
//! swapped in between). A source file is also read only up to
//! [`MAX_SOURCE_BYTES`].

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

/// The largest `.loss` file lossc reads: 16 MiB, hundreds of times the
/// largest real loss, small enough that reading it is instant.
pub const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file could not be opened or read.
#[derive(Debug)]
pub enum OpenError {
    /// The operating system's error (missing file, no permission...).
    Io(io::Error),
    /// The path is not a regular file; the kind of file it is, e.g. `a FIFO`.
    NotRegular(&'static str),
    /// The file is longer than the limit given.
    TooLarge { limit: u64 },
}

impl OpenError {
    /// The reason as the end of a message, after the file's name:
    /// `` `x` is not a regular file (a named pipe) ``.
    pub fn describe(&self) -> String {
        match self {
            OpenError::Io(error) => format!("cannot be read: {error}"),
            OpenError::NotRegular(kind) => {
                format!("is not a regular file ({kind}); lossc reads only regular files")
            }
            OpenError::TooLarge { limit } => format!("is larger than {} (lossc's limit)", size_text(*limit)),
        }
    }
}

impl From<io::Error> for OpenError {
    fn from(error: io::Error) -> Self {
        OpenError::Io(error)
    }
}

/// Opens `path` for reading if it is a regular file (following symbolic
/// links), without ever blocking: the file, and its length.
pub fn open_regular(path: &Path) -> Result<(File, u64), OpenError> {
    let before = fs::metadata(path)?;
    if !before.is_file() {
        return Err(OpenError::NotRegular(kind_of(&before.file_type())));
    }
    let file = open_nonblocking(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(OpenError::NotRegular(kind_of(&metadata.file_type())));
    }
    Ok((file, metadata.len()))
}

/// Reads a regular file of at most `limit` bytes whole. A file that grows
/// past the limit while it is read (or whose length the system does not
/// report, as files under `/proc`) is refused when it reaches it.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, OpenError> {
    let (file, length) = open_regular(path)?;
    if length > limit {
        return Err(OpenError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(OpenError::TooLarge { limit });
    }
    Ok(bytes)
}

/// `16 MiB`, `512 KiB` or `100 bytes`.
pub fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // A FIFO swapped in after the check opens at once instead of waiting
    // for a writer; on a regular file O_NONBLOCK changes nothing.
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// What a path that is not a regular file is, for messages: `a directory`,
/// `a named pipe`, `a character device`, ... The one wording of every
/// reader and writer.
#[cfg(unix)]
pub fn kind_of(file_type: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// What a path that is not a regular file is, for messages.
#[cfg(not(unix))]
pub fn kind_of(file_type: &fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.loss");
        std::fs::write(&file, "loss = y_pred").unwrap();
        assert_eq!(open_regular(&file).unwrap().1, 13);
        assert!(matches!(
            open_regular(dir.path()),
            Err(OpenError::NotRegular("a directory"))
        ));
        assert!(matches!(
            open_regular(&dir.path().join("missing")),
            Err(OpenError::Io(_))
        ));
        #[cfg(unix)]
        assert!(matches!(
            open_regular(Path::new("/dev/zero")),
            Err(OpenError::NotRegular("a character device"))
        ));
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.loss");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap().len(), 10);
        assert!(matches!(read_regular(&file, 9), Err(OpenError::TooLarge { limit: 9 })));
        assert_eq!(size_text(MAX_SOURCE_BYTES), "16 MiB");
        assert_eq!(size_text(1536), "1536 bytes");
    }
}
