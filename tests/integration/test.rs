//! A fluent builder for CLI tests.
//!
//! ```ignore
//! Test::minimal()                                  // a copy of tests/fixtures/minimal
//!     .write("detections/entra-roles/x.yaml", "…")  // change or add a file
//!     .args(["check"])
//!     .status(1)
//!     .stderr_contains("unknown key `severty`")
//!     .run();
//! ```
//!
//! Every test gets its own temporary folder with `detections/` (and `generated/` once built), and
//! runs the compiled `rulecast` binary in it, so it exercises exactly what users run.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_rulecast");

/// The repository root (for the shipped catalogue and fixtures).
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) struct Test {
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    expected_status: i32,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    stderr_lacks: Vec<String>,
    stdout_equals: Option<String>,
}

/// What a run produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub root: PathBuf,
}

impl Output {
    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
    pub(crate) fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(from).unwrap();
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Test {
    /// An empty folder.
    pub(crate) fn empty() -> Test {
        Test {
            dir: tempfile::tempdir().unwrap(),
            args: Vec::new(),
            expected_status: 0,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            stderr_lacks: Vec::new(),
            stdout_equals: None,
        }
    }

    /// A copy of the small catalogue in tests/fixtures/minimal, as `detections/`.
    pub(crate) fn minimal() -> Test {
        let t = Test::empty();
        copy_dir(
            &repo().join("tests/fixtures/minimal"),
            &t.dir.path().join("detections"),
        );
        t
    }

    /// A copy of the shipped catalogue, as `detections/`.
    pub(crate) fn shipped() -> Test {
        let t = Test::empty();
        copy_dir(&repo().join("detections"), &t.dir.path().join("detections"));
        t
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (relative to the test folder), creating folders.
    pub(crate) fn write(self, relative: &str, content: &str) -> Test {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    /// Replaces `from` by `to` in an existing file; panics when `from` is absent, so a fixture
    /// change cannot silently turn a test into a no-op.
    pub(crate) fn edit(self, relative: &str, from: &str, to: &str) -> Test {
        let path = self.dir.path().join(relative);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {relative}: {e}"));
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
        self
    }

    pub(crate) fn remove(self, relative: &str) -> Test {
        let path = self.dir.path().join(relative);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Test {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn status(mut self, status: i32) -> Test {
        self.expected_status = status;
        self
    }

    pub(crate) fn stdout_contains(mut self, text: &str) -> Test {
        self.stdout_contains.push(text.to_owned());
        self
    }

    pub(crate) fn stdout(mut self, text: &str) -> Test {
        self.stdout_equals = Some(text.to_owned());
        self
    }

    pub(crate) fn stderr_contains(mut self, text: &str) -> Test {
        self.stderr_contains.push(text.to_owned());
        self
    }

    pub(crate) fn stderr_lacks(mut self, text: &str) -> Test {
        self.stderr_lacks.push(text.to_owned());
        self
    }

    /// Runs the command and checks every expectation. The test folder stays alive while the
    /// returned [`Test`] does, for follow-up runs.
    pub(crate) fn run(self) -> (Test, Output) {
        let output = self.exec();
        assert_eq!(
            output.status,
            self.expected_status,
            "`rulecast {}` exited {}, expected {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            output.status,
            self.expected_status,
            output.stdout,
            output.stderr
        );
        for text in &self.stdout_contains {
            assert!(
                output.stdout.contains(text),
                "stdout lacks {text:?}\n--- stdout\n{}",
                output.stdout
            );
        }
        for text in &self.stderr_contains {
            assert!(
                output.stderr.contains(text),
                "stderr lacks {text:?}\n--- stderr\n{}",
                output.stderr
            );
        }
        for text in &self.stderr_lacks {
            assert!(
                !output.stderr.contains(text),
                "stderr has {text:?}\n--- stderr\n{}",
                output.stderr
            );
        }
        if let Some(expected) = &self.stdout_equals {
            assert_eq!(&output.stdout, expected);
        }
        (self, output)
    }

    fn exec(&self) -> Output {
        let out = Command::new(BIN)
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run rulecast");
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            root: self.dir.path().to_path_buf(),
        }
    }

    /// Resets expectations for another run in the same folder.
    pub(crate) fn then(mut self) -> Test {
        self.args.clear();
        self.expected_status = 0;
        self.stdout_contains.clear();
        self.stderr_contains.clear();
        self.stderr_lacks.clear();
        self.stdout_equals = None;
        self
    }
}

/// Files with their content, by path (forward slashes) below the folder they were read from.
pub(crate) type FileTree = Vec<(String, Vec<u8>)>;

/// Every file under `dir` with its content, for byte-for-byte comparisons.
pub(crate) fn snapshot_tree(dir: &Path) -> FileTree {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

/// Runs git in `root`, failing the test when it fails; its standard output.
pub(crate) fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes `root` a git repository on `main` with everything in it committed.
pub(crate) fn commit_everything(root: &Path) {
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.name", "rulecast tests"]);
    git(root, &["config", "user.email", "tests@rulecast.invalid"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "catalogue"]);
}

/// The minimal catalogue, built, in a fresh git repository with everything committed (and
/// `dist/`, the release folder, ignored).
pub(crate) fn repository() -> Test {
    let t = Test::minimal().write(".gitignore", "dist/\n");
    let (t, _) = t.args(["build"]).run();
    commit_everything(t.root());
    t.then()
}
