//! Reading files the catalogue names, and I/O errors that say which file and what for.
//!
//! A catalogue is edited by many people and checked out by CI, so a path in it may be a FIFO
//! (`check` would wait forever for a writer), a link to `/dev/zero` (a size taken from the
//! file's metadata says 0, and the read never ends) or a link out of the repository. Every read
//! of a catalogue file goes through [`read_regular`]: it opens without blocking, checks the open
//! file (not the path, which can change in between) is a regular file, and stops after the
//! limit, counting the bytes it actually read.
//!
//! An operating-system error alone ("No space left on device", "File name too long") does not
//! say what to fix. [`context`] wraps one with the operation and the path, keeping its kind.

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, display_path};

/// An I/O error with the operation and the path it concerned.
#[derive(Debug)]
pub(crate) struct PathError {
    /// What rulecast was doing, as a verb phrase: "write", "create the folder", "rename".
    pub(crate) operation: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) source: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.operation,
            display_path(&self.path),
            self.source
        )
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Adds the operation and the path to an I/O error, keeping its kind:
/// `fs::write(&p, text).map_err(context("write", &p))`.
pub(crate) fn context<'a>(
    operation: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |source| {
        // An error that already names its path keeps it: the innermost operation is the cause.
        if let Some(inner) = source.get_ref()
            && inner.is::<PathError>()
        {
            return source;
        }
        io::Error::new(
            source.kind(),
            PathError {
                operation,
                path: path.to_path_buf(),
                source,
            },
        )
    }
}

/// A walk of a folder that failed on the way (a loop of links, a folder that cannot be read),
/// at the path it failed on.
pub(crate) fn walk_error(folder: &str, e: &walkdir::Error) -> Diagnostic {
    let d = Diagnostic::error(format!("cannot read the {folder}: {e}"));
    match e.path() {
        Some(path) => d.in_file(path),
        None => d,
    }
}

/// What a path is, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Folder,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Symlink,
    Other,
}

impl FileKind {
    /// The kind of anything that is not a regular file; `None` for a regular file.
    pub(crate) fn of(file_type: fs::FileType) -> Option<FileKind> {
        if file_type.is_file() {
            return None;
        }
        if file_type.is_dir() {
            return Some(FileKind::Folder);
        }
        if file_type.is_symlink() {
            return Some(FileKind::Symlink);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt as _;
            if file_type.is_fifo() {
                return Some(FileKind::Fifo);
            }
            if file_type.is_socket() {
                return Some(FileKind::Socket);
            }
            if file_type.is_char_device() {
                return Some(FileKind::CharDevice);
            }
            if file_type.is_block_device() {
                return Some(FileKind::BlockDevice);
            }
        }
        Some(FileKind::Other)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Folder => "a folder",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Symlink => "a symbolic link",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Missing,
    NotAFile(FileKind),
    /// More than `limit` bytes were read.
    TooLarge {
        limit: u64,
    },
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Missing => f.write_str("the file does not exist"),
            ReadError::NotAFile(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadError::TooLarge { limit } => write!(f, "the file is larger than {limit} bytes"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes; without blocking it returns at
    // once, and the check below refuses it. On a regular file the flag changes nothing.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::Missing,
        _ => ReadError::Io(e),
    })?;
    let metadata = file.metadata().map_err(ReadError::Io)?;
    if let Some(kind) = FileKind::of(metadata.file_type()) {
        return Err(ReadError::NotAFile(kind));
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(limit) as usize);
    // One byte past the limit tells a file of exactly `limit` bytes from a longer one, whatever
    // its metadata claims.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Whether `path`, with every symbolic link resolved, is inside the folder `root` (itself
/// resolved). A path that cannot be resolved is not inside.
pub(crate) fn resolves_inside(path: &Path, root: &Path) -> bool {
    match (path.canonicalize(), root.canonicalize()) {
        (Ok(path), Ok(root)) => path.starts_with(root),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_by_the_bytes_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"12345").unwrap();
        assert_eq!(read_regular(&path, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular(&path, 4),
            Err(ReadError::TooLarge { limit: 4 })
        ));
        assert!(matches!(
            read_regular(&dir.path().join("none"), 4),
            Err(ReadError::Missing)
        ));
        assert!(matches!(
            read_regular(dir.path(), 4),
            Err(ReadError::NotAFile(FileKind::Folder))
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        // /dev/zero reports a size of 0 and never ends.
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 1 << 20),
            Err(ReadError::NotAFile(FileKind::CharDevice))
        ));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR).unwrap();
        assert!(matches!(
            read_regular(&fifo, 1 << 20),
            Err(ReadError::NotAFile(FileKind::Fifo))
        ));
    }

    #[test]
    fn errors_name_their_path_and_operation_once() {
        let path = Path::new("out/x.txt");
        let e = context("write", path)(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        let e = context("build", Path::new("out"))(e);
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(e.to_string(), "cannot write out/x.txt: disk full");
    }
}
