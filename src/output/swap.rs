//! Replacing a claimed output folder with a new tree, atomically.
//!
//! The tree is written to a temporary folder beside the output, then exchanged with it in one
//! step (`renameat2(RENAME_EXCHANGE)` on Linux, `renamex_np(RENAME_SWAP)` on macOS), so there is
//! no moment without a complete output folder: a process killed before the exchange leaves the
//! previous output, one killed after it leaves the new one, and either way the next build
//! removes the leftover. Where the system or the file system cannot exchange, the output is
//! moved aside and the new tree moved in; a process killed between those two renames leaves the
//! previous output complete beside its place, and the next build puts it back before anything
//! else.
//!
//! Leftovers are named after the output and the process (`.rulecast-tmp.<output>.<pid>`).
//! Only the holder of the claim's lock touches them, so a build never deletes a folder that
//! another live build is writing.

use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::check_relative;
use super::claim::{Claimed, MARKER, MARKER_TEXT, OutputError};
use crate::files::context;

const TMP_PREFIX: &str = ".rulecast-tmp.";
const OLD_PREFIX: &str = ".rulecast-old.";
/// The names of earlier rulecast versions, `.rulecast-tmp-<output>-<pid>`, still cleaned up.
const LEGACY_TMP_PREFIX: &str = ".rulecast-tmp-";
const LEGACY_OLD_PREFIX: &str = ".rulecast-old-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Leftover {
    /// A tree being written, or a previous output exchanged out.
    Tmp,
    /// A previous output moved aside by the two-rename swap.
    Old,
}

impl Claimed {
    /// Replaces the folder with exactly `tree` (and the marker): paths relative to the folder,
    /// and their content.
    pub(crate) fn write<P: AsRef<Path>, C: AsRef<[u8]>>(
        &self,
        tree: &BTreeMap<P, C>,
    ) -> Result<(), OutputError> {
        for path in tree.keys() {
            check_path(path.as_ref())?;
        }
        let staging = self.stage()?;
        for (path, content) in tree {
            staging.add(path.as_ref(), content.as_ref())?;
        }
        staging.commit()
    }

    /// Starts writing a new tree for the folder: leftovers of interrupted builds are cleaned up
    /// and an empty temporary folder is created beside the output. Files go in with
    /// [`Staging::add`], from any thread, as they are rendered; [`Staging::commit`] swaps the
    /// folder in. Dropped uncommitted, the temporary folder is removed and the output is as it
    /// was.
    pub(crate) fn stage(&self) -> Result<Staging<'_>, OutputError> {
        self.recover()?;
        let tmp = self.sibling(TMP_PREFIX);
        fs::create_dir(&tmp).map_err(context("create the folder", &tmp))?;
        Ok(Staging {
            claimed: self,
            tmp,
            folders: Mutex::new(HashSet::new()),
            files: AtomicUsize::new(0),
            committed: false,
        })
    }

    /// `<parent>/<prefix><name>.<pid>`.
    fn sibling(&self, prefix: &str) -> PathBuf {
        let mut name = OsString::from(prefix);
        name.push(&self.name);
        name.push(format!(".{}", std::process::id()));
        self.parent.join(name)
    }

    fn swap_in(&self, tmp: &Path) -> io::Result<()> {
        let dest = &self.dest;
        if fs::symlink_metadata(dest).is_err() {
            rename_new(tmp, dest).map_err(context("move the new output to", dest))?;
            sync_folder(&self.parent);
            return Ok(());
        }
        match exchange(tmp, dest) {
            Ok(()) => {
                crash_point("exchanged");
                sync_folder(&self.parent);
                // `tmp` now holds the previous output. A failure to remove it, or a crash
                // while removing it, leaves a leftover the next build removes; the new output
                // is in place either way.
                let _ = remove_tree(tmp);
                Ok(())
            }
            Err(e) if exchange_unsupported(&e) => self.swap_by_renames(tmp),
            Err(e) => Err(context("exchange the new output with", dest)(e)),
        }
    }

    /// The swap where the file system cannot exchange two folders.
    fn swap_by_renames(&self, tmp: &Path) -> io::Result<()> {
        let dest = &self.dest;
        let old = self.sibling(OLD_PREFIX);
        fs::rename(dest, &old).map_err(context("move aside the previous output", dest))?;
        crash_point("moved-aside");
        if let Err(e) = fs::rename(tmp, dest) {
            // Put the previous output back before reporting.
            fs::rename(&old, dest).map_err(context("put back the previous output", dest))?;
            return Err(context("move the new output to", dest)(e));
        }
        crash_point("moved-in");
        sync_folder(&self.parent);
        let _ = remove_tree(&old);
        Ok(())
    }

    /// Cleans up after interrupted builds of this output: a previous output that was moved
    /// aside but never replaced goes back to its place; every other leftover is removed. Only
    /// the lock holder calls it, so every leftover belongs to a build that is no longer running.
    fn recover(&self) -> io::Result<()> {
        let entries = fs::read_dir(&self.parent).map_err(context("read", &self.parent))?;
        let mut leftovers: Vec<(Leftover, PathBuf)> = entries
            .flatten()
            .filter_map(|e| leftover_of(&e.file_name(), &self.name).map(|kind| (kind, e.path())))
            .collect();
        leftovers.sort();
        for (kind, path) in leftovers {
            if kind == Leftover::Old && fs::symlink_metadata(&self.dest).is_err() {
                fs::rename(&path, &self.dest)
                    .map_err(context("put back the previous output", &path))?;
            } else {
                let _ = remove_tree(&path);
            }
        }
        Ok(())
    }
}

/// Which leftover of the output `name` the folder entry `entry` is, if it is one.
fn leftover_of(entry: &OsStr, name: &OsStr) -> Option<Leftover> {
    let entry = entry.as_encoded_bytes();
    let name = name.as_encoded_bytes();
    for (prefix, kind, separator) in [
        (TMP_PREFIX, Leftover::Tmp, b'.'),
        (OLD_PREFIX, Leftover::Old, b'.'),
        (LEGACY_TMP_PREFIX, Leftover::Tmp, b'-'),
        (LEGACY_OLD_PREFIX, Leftover::Old, b'-'),
    ] {
        let Some(rest) = entry.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        // The output's own name may hold the separator; the process id after the last one
        // never does, so `gen` and `gen.2` (or `gen-2`) never take each other's leftovers.
        let Some(at) = rest.iter().rposition(|b| *b == separator) else {
            continue;
        };
        let (stem, pid) = (&rest[..at], &rest[at + 1..]);
        if stem == name && !pid.is_empty() && pid.iter().all(u8::is_ascii_digit) {
            return Some(kind);
        }
    }
    None
}

/// Refuses a path outside the folder, and rulecast's own marker.
fn check_path(path: &Path) -> io::Result<()> {
    check_relative(path)?;
    if path == Path::new(MARKER) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{MARKER} is rulecast's own file; no target may write it"),
        ));
    }
    Ok(())
}

/// A new tree being written to the temporary folder beside a claimed output
/// ([`Claimed::stage`]). Files are written as they come, so the tree is never held whole in
/// memory; nothing reaches the output folder until [`Staging::commit`].
pub(crate) struct Staging<'a> {
    claimed: &'a Claimed,
    tmp: PathBuf,
    /// The folders below `tmp` created so far: each is created once, parents first, instead of
    /// a `create_dir_all` (one failing `mkdir` per level) for every file.
    folders: Mutex<HashSet<PathBuf>>,
    files: AtomicUsize,
    committed: bool,
}

impl Staging<'_> {
    /// Writes one file of the new tree, `path` relative to the output folder. A path written
    /// twice, or a file where a folder must go, is an error: nothing is overwritten.
    pub(crate) fn add(&self, path: &Path, content: &[u8]) -> io::Result<()> {
        let (mut file, full) = self.create(path)?;
        file.write_all(content).map_err(context("write", &full))
    }

    /// Creates one new file of the tree, for [`Staging::add`] or to be written piece by piece.
    fn create(&self, path: &Path) -> io::Result<(fs::File, PathBuf)> {
        check_path(path)?;
        if let Some(folder) = path.parent() {
            self.folder(folder)?;
        }
        let full = self.tmp.join(path);
        let file = fs::File::create_new(&full).map_err(context("write", &full))?;
        if self.files.fetch_add(1, Ordering::Relaxed) == 0 {
            crash_point("writing");
        }
        Ok((file, full))
    }

    /// How many files have been written.
    pub(crate) fn len(&self) -> usize {
        self.files.load(Ordering::Relaxed)
    }

    /// Creates `relative` below the temporary folder, and its parents, unless done already.
    fn folder(&self, relative: &Path) -> io::Result<()> {
        let mut made = self
            .folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if relative.as_os_str().is_empty() || made.contains(relative) {
            return Ok(());
        }
        let missing: Vec<&Path> = relative
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !made.contains(*a))
            .collect();
        for folder in missing.into_iter().rev() {
            let full = self.tmp.join(folder);
            fs::create_dir(&full).map_err(context("create the folder", &full))?;
            made.insert(folder.to_path_buf());
        }
        Ok(())
    }

    /// Writes the marker and swaps the new tree in for the output folder.
    pub(crate) fn commit(mut self) -> Result<(), OutputError> {
        let marker = self.tmp.join(MARKER);
        fs::write(&marker, MARKER_TEXT).map_err(context("write", &marker))?;
        crash_point("written");
        self.claimed.swap_in(&self.tmp)?;
        self.committed = true;
        self.claimed.written.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl super::Sink for Staging<'_> {
    fn file(&self, path: PathBuf, content: String) -> io::Result<()> {
        self.add(&path, content.as_bytes())
    }

    fn open(&self, path: PathBuf) -> io::Result<Box<dyn super::Pieces + '_>> {
        /// A file of the tree written piece by piece, through a buffer.
        struct Piecewise {
            file: io::BufWriter<fs::File>,
            full: PathBuf,
        }
        impl super::Pieces for Piecewise {
            fn push(&mut self, piece: &str) -> io::Result<()> {
                self.file
                    .write_all(piece.as_bytes())
                    .map_err(context("write", &self.full))
            }
            fn close(mut self: Box<Self>) -> io::Result<()> {
                self.file.flush().map_err(context("write", &self.full))
            }
        }
        let (file, full) = self.create(&path)?;
        Ok(Box::new(Piecewise {
            file: io::BufWriter::with_capacity(1 << 16, file),
            full,
        }))
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.tmp);
        }
    }
}

/// Removes the folder `path` and everything in it, the entries of each folder on every core
/// (rayon's pool). Removing a previous output is most of what a build does after its swap, and
/// most of that is the kernel freeing each file's pages, which it does outside the folder's
/// lock: two threads take half the time of `fs::remove_dir_all`'s one. Like it, every folder
/// is opened relative to its parent without following links, so a link put in place of a folder
/// meanwhile is removed, never followed out of the tree. What this cannot remove is left to
/// `fs::remove_dir_all`, whose error is returned.
fn remove_tree(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use rustix::fs::{AtFlags, CWD, Mode, openat, unlinkat};
        if let Ok(folder) = openat(CWD, path, FOLDER, Mode::empty()) {
            empty_folder(&folder);
            drop(folder);
            if unlinkat(CWD, path, AtFlags::REMOVEDIR).is_ok() {
                return Ok(());
            }
        }
    }
    fs::remove_dir_all(path)
}

/// How [`remove_tree`] opens a folder: to read its entries, and only if it is a folder.
#[cfg(unix)]
const FOLDER: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::DIRECTORY)
    .union(rustix::fs::OFlags::NOFOLLOW)
    .union(rustix::fs::OFlags::CLOEXEC);

/// Removes what the open folder `folder` holds, its entries on every core.
#[cfg(unix)]
fn empty_folder(folder: &rustix::fd::OwnedFd) {
    use rayon::prelude::*;
    use rustix::fs::{AtFlags, Dir, FileType, Mode, openat, unlinkat};
    let Ok(entries) = Dir::read_from(folder) else {
        return;
    };
    let entries: Vec<(std::ffi::CString, FileType)> = entries
        .map_while(Result::ok)
        .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
        .map(|e| (e.file_name().to_owned(), e.file_type()))
        .collect();
    entries.par_iter().for_each(|(name, kind)| {
        if *kind != FileType::Directory && unlinkat(folder, name, AtFlags::empty()).is_ok() {
            return;
        }
        // A folder, or an entry of a type the file system does not tell that was no file.
        if let Ok(inner) = openat(folder, name, FOLDER, Mode::empty()) {
            empty_folder(&inner);
            drop(inner);
            let _ = unlinkat(folder, name, AtFlags::REMOVEDIR);
            crash_point("removing");
        }
    });
}

/// Renames `from` to `to`, failing if `to` appeared meanwhile.
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if !exchange_unsupported(&e.into()) => return Err(e.into()),
            Err(_) => {}
        }
    }
    fs::rename(from, to)
}

/// Exchanges two folders in one step.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    if cfg!(debug_assertions) && std::env::var_os("RULECAST_TEST_NO_EXCHANGE").is_some() {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (a, b);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The kernel or the file system has no atomic exchange (old kernels, some network and FUSE
/// file systems): the two-rename swap is used instead.
fn exchange_unsupported(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::Unsupported {
        return true;
    }
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let errno = e.raw_os_error().map(Errno::from_raw_os_error);
        matches!(errno, Some(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Makes the renames durable; a failure only weakens durability after a power loss.
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Test builds die here, like a killed process (no cleanup), when `RULECAST_TEST_CRASH_AT`
/// names the point: the only way to reach the moments between two file-system calls reliably.
/// When `RULECAST_TEST_PAUSE_AT` is `<point>:<file>`, they create the file at that point and
/// wait until it is removed, so a test can run a second build in the middle of the first.
/// Release builds have no such hooks.
fn crash_point(point: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var("RULECAST_TEST_CRASH_AT").is_ok_and(|p| p == point) {
        std::process::abort();
    }
    if let Ok(pause) = std::env::var("RULECAST_TEST_PAUSE_AT")
        && let Some((at, file)) = pause.split_once(':')
        && at == point
    {
        let _ = fs::write(file, std::process::id().to_string());
        while Path::new(file).exists() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_told_apart_by_the_whole_output_name() {
        let of = |entry: &str, name: &str| leftover_of(OsStr::new(entry), OsStr::new(name));
        assert_eq!(of(".rulecast-tmp.gen.12", "gen"), Some(Leftover::Tmp));
        assert_eq!(of(".rulecast-old.gen.12", "gen"), Some(Leftover::Old));
        assert_eq!(of(".rulecast-tmp.gen.2.12", "gen"), None);
        assert_eq!(of(".rulecast-tmp.gen.2.12", "gen.2"), Some(Leftover::Tmp));
        assert_eq!(of(".rulecast-tmp-gen-2-12", "gen"), None);
        assert_eq!(of(".rulecast-tmp-gen-12", "gen"), Some(Leftover::Tmp));
        assert_eq!(of(".rulecast-tmp.gen.x", "gen"), None);
        assert_eq!(of("gen", "gen"), None);
    }
}
