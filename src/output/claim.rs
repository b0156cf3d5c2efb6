//! Which folder rulecast may replace, and the lock that makes it the only writer.
//!
//! A build replaces its output folder whole, so the folder it is pointed at must be one it owns:
//! absent, empty, or holding the marker file a previous build wrote. Anything else is refused
//! with the reason, before anything is written: the catalogue or a folder holding it, the
//! current folder, the repository root, `/`, a file, a symbolic link, a foreign non-empty folder.
//! A path that reaches the folder through symbolic links is resolved, and the resolution is
//! reported, so the folder replaced is the one named in the message.
//!
//! The claim holds an exclusive lock for as long as it lives. The lock is taken on the folder
//! that holds the output (on Unix; elsewhere on a lock file beside it) rather than on the output,
//! which the swap replaces: a second build of the same output waits, so it can neither delete the
//! first one's temporary folder nor swap in between its steps.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::diagnostic::{Diagnostic, display_path};
use crate::files::{FileKind, context};

/// The file a build leaves in its output folder, which makes the folder one rulecast may
/// replace.
pub(crate) const MARKER: &str = ".rulecast-output";
pub(super) const MARKER_TEXT: &str = "This folder is written by rulecast. Every build replaces all of its content:\nedit the catalogue, never these files.\n";

/// A folder the output must stay clear of.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    /// What it is, for messages: "the catalogue", "the templates folder".
    pub(crate) what: String,
    pub(crate) path: PathBuf,
    /// The path as the user gave it, for messages; `None` for the folders rulecast finds itself.
    shown: Option<PathBuf>,
    /// The output may be inside it (the working folder holds `generated/`), but never be it or
    /// hold it.
    pub(crate) may_hold_output: bool,
}

impl Protected {
    /// A folder the output may neither be, hold, nor sit inside (the catalogue: a build would
    /// read its own output as detections).
    pub(crate) fn apart(what: impl Into<String>, path: &Path) -> Protected {
        Protected {
            what: what.into(),
            path: path.to_path_buf(),
            shown: Some(path.to_path_buf()),
            may_hold_output: false,
        }
    }
}

/// Whether a folder's entries, (name, is a folder), are all an older rulecast wrote there.
pub(crate) type Adoptable<'a> = Box<dyn Fn(&[(String, bool)]) -> bool + 'a>;

/// What a claim checks.
pub(crate) struct Rules<'a> {
    /// "output folder" or "release folder", for messages.
    pub(crate) role: &'a str,
    /// Folders besides the working folder and its repository root that must not be replaced.
    pub(crate) protected: Vec<Protected>,
    /// Whether a folder without the marker holds only what an older rulecast wrote there (given
    /// its entries); such a folder is adopted, and said so.
    pub(crate) adoptable: Adoptable<'a>,
    /// Called once, before waiting, when another rulecast holds the lock.
    pub(crate) on_wait: &'a dyn Fn(&Path),
}

/// Why a folder is not rulecast's to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    FileSystemRoot,
    /// The output would be, or hold, a protected folder (shown as the user gave it).
    Holds {
        what: String,
        shown: Option<PathBuf>,
        same: bool,
    },
    /// The output would be inside a folder it must stay apart from.
    Inside {
        what: String,
        shown: Option<PathBuf>,
    },
    RepositoryRoot,
    Symlink {
        target: PathBuf,
    },
    /// A regular file.
    File,
    NotAFolder(FileKind),
    /// A non-empty folder without the marker; a few of its entries.
    Foreign {
        entries: Vec<String>,
    },
    /// `..` after a folder that does not exist.
    Unresolvable,
}

impl Refusal {
    fn help(&self, role: &str) -> String {
        match self {
            Refusal::Symlink { target } => format!(
                "pass the folder itself, `--output {}`, if it is the one to replace",
                display_path(target)
            ),
            Refusal::Foreign { .. } => format!(
                "rulecast replaces the whole {role}, so it writes only to an absent or empty folder, or one that holds its marker file {MARKER}; pick a new folder"
            ),
            Refusal::File | Refusal::NotAFolder(_) => format!("name a folder for the {role}"),
            _ => format!(
                "name a folder of its own for the {role}, such as `generated` beside the catalogue"
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::FileSystemRoot => f.write_str("it is the file-system root"),
            Refusal::Holds { what, same, .. } if *same => write!(f, "it is {what}"),
            Refusal::Holds { what, shown, .. } => {
                write!(f, "it holds {what}{}", in_brackets(shown.as_deref()))
            }
            Refusal::Inside { what, shown } => {
                write!(f, "it is inside {what}{}", in_brackets(shown.as_deref()))
            }
            Refusal::RepositoryRoot => f.write_str("it is the root of a git repository"),
            Refusal::Symlink { target } => write!(
                f,
                "it is a symbolic link (to {}); replacing it would leave the folder it points to stale",
                display_path(target)
            ),
            Refusal::File => f.write_str("it is a file, not a folder"),
            Refusal::NotAFolder(kind) => write!(f, "it is {kind}, not a folder"),
            Refusal::Foreign { entries } => write!(
                f,
                "it is a folder rulecast did not write (it holds {}, and no {MARKER})",
                entries
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Refusal::Unresolvable => {
                f.write_str("it climbs (`..`) out of a folder that does not exist")
            }
        }
    }
}

/// ` (path)`, or nothing.
fn in_brackets(path: Option<&Path>) -> String {
    path.map(|p| format!(" ({})", display_path(p)))
        .unwrap_or_default()
}

/// Why an output could not be written.
#[derive(Debug)]
pub(crate) enum OutputError {
    Refused {
        /// The path as given.
        path: PathBuf,
        role: String,
        refusal: Refusal,
    },
    /// An I/O error, naming its path and operation.
    Io(io::Error),
}

impl OutputError {
    /// The error as rulecast reports it.
    pub(crate) fn to_diagnostic(&self) -> Diagnostic {
        match self {
            OutputError::Refused {
                path,
                role,
                refusal,
            } => Diagnostic::error(format!(
                "refusing to write the {role} `{}`: {refusal}",
                display_path(path)
            ))
            .with_help(refusal.help(role)),
            OutputError::Io(e) => Diagnostic::error(e.to_string()),
        }
    }

    /// The exit code: 2 when the command line named a folder rulecast may not write, 3 for I/O.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            OutputError::Refused { .. } => 2,
            OutputError::Io(_) => 3,
        }
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_diagnostic().message())
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Io(e) => Some(e),
            OutputError::Refused { .. } => None,
        }
    }
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        OutputError::Io(e)
    }
}

/// An output folder rulecast may replace, locked against every other rulecast until dropped.
#[derive(Debug)]
pub(crate) struct Claimed {
    /// The folder, resolved to an absolute path without symbolic links.
    pub(super) dest: PathBuf,
    pub(super) parent: PathBuf,
    pub(super) name: OsString,
    /// What the claim resolved or adopted, for the user to read.
    pub(crate) notes: Vec<String>,
    /// Folders above the output the claim created, deepest first: removed again unless the
    /// output is written, so a refused or failed command leaves nothing behind.
    created: Vec<PathBuf>,
    pub(super) written: std::sync::atomic::AtomicBool,
    _lock: fs::File,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if !self.written.load(std::sync::atomic::Ordering::Relaxed) {
            for dir in &self.created {
                // Only an empty folder goes; one that someone else filled meanwhile stays.
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

impl Claimed {
    /// The folder, resolved.
    pub(crate) fn path(&self) -> &Path {
        &self.dest
    }
}

/// Checks that rulecast may replace the folder `path`, creates the folders above it, and locks
/// it for this process.
pub(crate) fn claim(path: &Path, rules: &Rules) -> Result<Claimed, OutputError> {
    let refused = |refusal| OutputError::Refused {
        path: path.to_path_buf(),
        role: rules.role.to_owned(),
        refusal,
    };
    let lift = |e: Resolved| match e {
        Resolved::Refused(r) => refused(r),
        Resolved::Io(e) => OutputError::Io(e),
    };
    let mut notes = Vec::new();
    let dest = resolve(path, &mut notes).map_err(lift)?;
    let parent = dest
        .parent()
        .ok_or_else(|| refused(Refusal::FileSystemRoot))?
        .to_path_buf();
    let name = dest
        .file_name()
        .ok_or_else(|| refused(Refusal::FileSystemRoot))?
        .to_owned();
    for protected in protected_folders(&rules.protected)? {
        if let Some(refusal) = overlap(&dest, &protected) {
            return Err(refused(refusal));
        }
    }
    // Checked before anything is created, then again under the lock, where it counts.
    ownership(&dest, rules, &mut Vec::new()).map_err(lift)?;
    let created: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|a| fs::symlink_metadata(a).is_err())
        .map(Path::to_path_buf)
        .collect();
    let remove_created = |e: OutputError| {
        for dir in &created {
            let _ = fs::remove_dir(dir);
        }
        e
    };
    fs::create_dir_all(&parent)
        .map_err(|e| remove_created(OutputError::Io(context("create the folder", &parent)(e))))?;
    let lock = lock(&parent, &name, true, rules.on_wait).map_err(remove_created)?;
    ownership(&dest, rules, &mut notes)
        .map_err(lift)
        .map_err(remove_created)?;
    Ok(Claimed {
        dest,
        parent,
        name,
        notes,
        created,
        written: std::sync::atomic::AtomicBool::new(false),
        _lock: lock,
    })
}

enum Resolved {
    Refused(Refusal),
    Io(io::Error),
}

/// `path` made absolute with every symbolic link above its last component resolved; the last
/// component must not be a link.
fn resolve(path: &Path, notes: &mut Vec<String>) -> Result<PathBuf, Resolved> {
    let absolute = std::path::absolute(if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    })
    .map_err(|e| Resolved::Io(context("resolve", path)(e)))?;
    if let Ok(meta) = fs::symlink_metadata(&absolute)
        && meta.file_type().is_symlink()
    {
        let target = fs::read_link(&absolute).unwrap_or_default();
        return Err(Resolved::Refused(Refusal::Symlink { target }));
    }
    // The longest part that exists is resolved by the file system; the rest is plain names.
    let mut existing = absolute.as_path();
    let mut rest: Vec<Component> = Vec::new();
    while fs::symlink_metadata(existing).is_err() {
        let Some(parent) = existing.parent() else {
            break;
        };
        rest.extend(existing.components().next_back());
        existing = parent;
    }
    let mut resolved = existing
        .canonicalize()
        .map_err(|e| Resolved::Io(context("resolve", existing)(e)))?;
    for component in rest.into_iter().rev() {
        match component {
            Component::Normal(name) => resolved.push(name),
            Component::CurDir => {}
            _ => return Err(Resolved::Refused(Refusal::Unresolvable)),
        }
    }
    if resolved != lexical(&absolute) {
        notes.push(format!(
            "`{}` resolves to {} through a symbolic link; writing there",
            display_path(path),
            display_path(&resolved)
        ));
    }
    Ok(resolved)
}

/// `.` and `..` removed by name alone, to tell whether resolving went through a link.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The protected folders, resolved: the given ones, the working folder and the root of the
/// repository holding it.
fn protected_folders(given: &[Protected]) -> Result<Vec<Protected>, OutputError> {
    let cwd = std::env::current_dir().map_err(context("read", Path::new(".")))?;
    let mut all = vec![Protected {
        what: "the current folder".to_owned(),
        path: cwd.clone(),
        shown: None,
        may_hold_output: true,
    }];
    if let Some(top) = cwd.ancestors().find(|a| a.join(".git").exists()) {
        all.push(Protected {
            what: "the repository root".to_owned(),
            path: top.to_path_buf(),
            shown: None,
            may_hold_output: true,
        });
    }
    all.extend(given.iter().cloned());
    Ok(all
        .into_iter()
        .filter_map(|p| {
            // A protected folder that does not exist cannot be harmed.
            let path = p.path.canonicalize().ok()?;
            Some(Protected { path, ..p })
        })
        .collect())
}

fn overlap(dest: &Path, protected: &Protected) -> Option<Refusal> {
    if protected.path.starts_with(dest) {
        return Some(Refusal::Holds {
            what: protected.what.clone(),
            shown: protected.shown.clone(),
            same: protected.path == dest,
        });
    }
    if !protected.may_hold_output && dest.starts_with(&protected.path) {
        return Some(Refusal::Inside {
            what: protected.what.clone(),
            shown: protected.shown.clone(),
        });
    }
    None
}

/// Whether the folder at `dest` (resolved) is rulecast's to replace.
fn ownership(dest: &Path, rules: &Rules, notes: &mut Vec<String>) -> Result<(), Resolved> {
    if dest.parent().is_none() {
        return Err(Resolved::Refused(Refusal::FileSystemRoot));
    }
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Resolved::Io(context("read", dest)(e))),
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(dest).unwrap_or_default();
        return Err(Resolved::Refused(Refusal::Symlink { target }));
    }
    if let Some(kind) = FileKind::of(meta.file_type())
        && kind != FileKind::Folder
    {
        return Err(Resolved::Refused(Refusal::NotAFolder(kind)));
    }
    if meta.is_file() {
        return Err(Resolved::Refused(Refusal::File));
    }
    if dest.join(".git").exists() {
        return Err(Resolved::Refused(Refusal::RepositoryRoot));
    }
    let mut entries: Vec<(String, bool)> = Vec::new();
    for entry in fs::read_dir(dest).map_err(|e| Resolved::Io(context("read", dest)(e)))? {
        let entry = entry.map_err(|e| Resolved::Io(context("read", dest)(e)))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        entries.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    entries.sort();
    let marked = fs::symlink_metadata(dest.join(MARKER)).is_ok_and(|m| m.is_file());
    if entries.is_empty() || marked {
        return Ok(());
    }
    if (rules.adoptable)(&entries) {
        notes.push(format!(
            "{} holds only what an older rulecast wrote; it now carries the marker {MARKER}",
            display_path(dest)
        ));
        return Ok(());
    }
    Err(Resolved::Refused(Refusal::Foreign {
        entries: entries.into_iter().take(3).map(|(n, _)| n).collect(),
    }))
}

/// An exclusive (or shared) lock for the output `name` in `parent`.
fn lock(
    parent: &Path,
    name: &std::ffi::OsStr,
    exclusive: bool,
    on_wait: &dyn Fn(&Path),
) -> Result<fs::File, OutputError> {
    let file = lock_handle(parent, name)?;
    let attempt = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match attempt {
        Ok(()) => return Ok(file),
        Err(fs::TryLockError::WouldBlock) => on_wait(&parent.join(name)),
        Err(fs::TryLockError::Error(e)) => {
            return Err(OutputError::Io(context("lock", parent)(e)));
        }
    }
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
    .map_err(context("lock", parent))?;
    Ok(file)
}

/// What the lock is taken on. On Unix, the folder holding the output: nothing has to be created
/// for it, and it is never renamed.
#[cfg(unix)]
fn lock_handle(parent: &Path, _name: &std::ffi::OsStr) -> Result<fs::File, OutputError> {
    fs::File::open(parent).map_err(|e| OutputError::Io(context("open", parent)(e)))
}

/// Elsewhere a folder cannot be opened as a file, so the lock is a file beside the output.
#[cfg(not(unix))]
fn lock_handle(parent: &Path, name: &std::ffi::OsStr) -> Result<fs::File, OutputError> {
    let mut file_name = OsString::from(".rulecast-lock.");
    file_name.push(name);
    let path = parent.join(file_name);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| OutputError::Io(context("open", &path)(e)))
}

/// A shared lock on the output at `dest`, to hold while it is read, so a build cannot swap it
/// in the middle of the reading; `None` when there is nothing to lock. A process that holds a
/// claim in the same folder must not take it: the two locks are on the same folder.
pub(crate) fn read_lock(dest: &Path) -> Option<fs::File> {
    let absolute = std::path::absolute(dest).ok()?;
    let parent = absolute.parent()?;
    let name = absolute.file_name()?;
    if !parent.is_dir() {
        return None;
    }
    lock(parent, name, false, &|_| {}).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(protected: Vec<Protected>) -> Rules<'static> {
        Rules {
            role: "output folder",
            protected,
            adoptable: Box::new(|entries| entries.iter().all(|(n, dir)| *dir && n == "sigma")),
            on_wait: &|_| {},
        }
    }

    fn refusal(path: &Path, protected: Vec<Protected>) -> Refusal {
        match claim(path, &rules(protected)) {
            Err(OutputError::Refused { refusal, .. }) => refusal,
            other => panic!("{} was not refused: {other:?}", path.display()),
        }
    }

    #[test]
    fn refuses_what_rulecast_does_not_own() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let catalogue = root.join("detections");
        fs::create_dir_all(catalogue.join("s")).unwrap();
        let keep = || vec![Protected::apart("the catalogue", &catalogue)];
        assert!(matches!(
            refusal(&catalogue, keep()),
            Refusal::Holds { same: true, .. }
        ));
        assert!(matches!(
            refusal(&root, keep()),
            Refusal::Holds { same: false, .. }
        ));
        assert!(matches!(
            refusal(&catalogue.join("s/out"), keep()),
            Refusal::Inside { .. }
        ));
        assert!(matches!(
            refusal(&root.join("detections/s/.."), keep()),
            Refusal::Holds { same: true, .. }
        ));
        assert!(matches!(
            refusal(Path::new("/"), vec![]),
            Refusal::FileSystemRoot | Refusal::Holds { .. }
        ));
        fs::write(root.join("file"), "x").unwrap();
        assert_eq!(refusal(&root.join("file"), vec![]), Refusal::File);
        fs::create_dir_all(root.join("mine/notes")).unwrap();
        assert!(matches!(
            refusal(&root.join("mine"), vec![]),
            Refusal::Foreign { .. }
        ));
        fs::create_dir_all(root.join("repo/.git")).unwrap();
        assert_eq!(refusal(&root.join("repo"), vec![]), Refusal::RepositoryRoot);
        assert_eq!(
            refusal(&root.join("missing/../x"), vec![]),
            Refusal::Unresolvable
        );
    }

    #[test]
    fn claims_absent_empty_marked_and_adoptable_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for (name, setup) in [
            ("absent/deeper", None),
            ("empty", Some(vec![])),
            ("marked", Some(vec![MARKER, "x/y"])),
            ("old", Some(vec!["sigma/a.yml"])),
        ] {
            let path = root.join(name);
            for file in setup.iter().flatten() {
                let full = path.join(file);
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(full, "").unwrap();
            }
            if setup.is_some() {
                fs::create_dir_all(&path).unwrap();
            }
            let claimed = claim(&path, &rules(vec![])).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(claimed.path(), path);
            assert_eq!(claimed.notes.len(), usize::from(name == "old"), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_and_a_linked_parent_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        assert!(matches!(
            refusal(&root.join("link"), vec![]),
            Refusal::Symlink { .. }
        ));
        let claimed = claim(&root.join("link/out"), &rules(vec![])).unwrap();
        assert_eq!(claimed.path(), root.join("real/out"));
        assert!(claimed.notes[0].contains("through a symbolic link"));
    }
}
