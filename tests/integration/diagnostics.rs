//! The diagnostics corpus: broken catalogues, written as data, and the exact message each gets.
//!
//! A message is the product for a catalogue author: it has to name the file, line and column,
//! show the line, and say how to fix it. Each case in `tests/diagnostics/<case>/` starts from
//! the minimal fixture and breaks it in one way (`case.yaml` says how: edits, removals, grown
//! files, symbolic links, FIFOs and raw bytes; files under `root/` are copied over the test
//! folder), then runs the real CLI (`check` unless the case says otherwise, such as a `build
//! --output` rulecast must refuse) and snapshots everything it printed, so a reworded, misplaced
//! or lost message shows up as a snapshot diff in review. Whatever the command, the folder must
//! be exactly as it was afterwards.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::test::{Test, copy_dir, repo, snapshot_tree};

/// One case, as written in `case.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What is broken, in a sentence; it heads the snapshot so a reviewer knows what to expect.
    about: String,
    /// Command line (default `check`).
    #[serde(default = "default_args")]
    args: Vec<String>,
    /// Expected exit status (default 1: findings).
    #[serde(default = "default_status")]
    status: i32,
    #[serde(default)]
    edit: Vec<Edit>,
    #[serde(default)]
    remove: Vec<String>,
    /// Text appended to a file many times: for limits no one should commit a file to test.
    #[serde(default)]
    grow: Vec<Grow>,
    /// Symbolic links to create (Unix only: the case is skipped elsewhere).
    #[serde(default)]
    symlink: Vec<Symlink>,
    /// FIFOs to create (Unix only).
    #[serde(default)]
    fifo: Vec<String>,
    /// Text replaced by raw bytes, for what a YAML case file cannot hold (invalid UTF-8).
    #[serde(default)]
    bytes: Vec<Bytes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Symlink {
    file: String,
    /// Where the link points, as written into it (relative to the link's folder, or absolute).
    to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bytes {
    file: String,
    replace: String,
    /// The bytes, in hex.
    with_hex: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    file: String,
    replace: String,
    with: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Grow {
    file: String,
    text: String,
    times: usize,
}

fn default_args() -> Vec<String> {
    vec!["check".to_owned()]
}

fn default_status() -> i32 {
    1
}

fn corpus() -> PathBuf {
    repo().join("tests/diagnostics")
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(corpus())
        .expect("tests/diagnostics exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    cases.sort();
    cases
}

fn load_case(dir: &Path) -> Case {
    let text = std::fs::read_to_string(dir.join("case.yaml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}/case.yaml: {e}", dir.display()))
}

/// Builds the case's folder and runs it; returns what the CLI printed.
fn run_case(dir: &Path, case: &Case) -> crate::test::Output {
    let mut t = Test::minimal();
    if dir.join("root").is_dir() {
        copy_dir(&dir.join("root"), t.root());
    }
    for e in &case.edit {
        t = t.edit(&e.file, &e.replace, &e.with);
    }
    for r in &case.remove {
        t = t.remove(r);
    }
    for g in &case.grow {
        let path = t.root().join(&g.file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&g.text.repeat(g.times));
        std::fs::write(path, text).unwrap();
    }
    for b in &case.bytes {
        let path = t.root().join(&b.file);
        let text = std::fs::read(&path).unwrap();
        let at = text
            .windows(b.replace.len())
            .position(|w| w == b.replace.as_bytes())
            .unwrap_or_else(|| panic!("{} does not contain {:?}", b.file, b.replace));
        let bytes: Vec<u8> = (0..b.with_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&b.with_hex[i..i + 2], 16).unwrap())
            .collect();
        let mut out = text[..at].to_vec();
        out.extend(bytes);
        out.extend(&text[at + b.replace.len()..]);
        std::fs::write(path, out).unwrap();
    }
    #[cfg(unix)]
    for link in &case.symlink {
        let path = t.root().join(&link.file);
        if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&link.to, &path).unwrap();
    }
    #[cfg(unix)]
    for fifo in &case.fifo {
        let path = t.root().join(fifo);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {fifo}");
    }
    let before = snapshot_tree(t.root());
    let (t, out) = t.args(case.args.clone()).status(case.status).run();
    // A broken catalogue never changes the folder, whatever the command.
    assert_eq!(
        before,
        snapshot_tree(t.root()),
        "{}: the failed run wrote files",
        dir.display()
    );
    out
}

#[test]
fn every_case_reports_its_exact_message() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "the corpus shrank to {} cases",
        cases.len()
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (name, dir) in cases {
        let case = load_case(&dir);
        if cfg!(not(unix)) && !(case.symlink.is_empty() && case.fifo.is_empty()) {
            continue;
        }
        let out = run_case(&dir, &case);
        assert!(
            !out.stderr.contains("panicked"),
            "{name}: rulecast panicked\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("error: "),
            "{name}: no error was reported\n{}",
            out.stderr
        );
        settings.set_snapshot_path(&dir);
        settings.set_description(case.about.trim());
        settings.bind(|| insta::assert_snapshot!("stderr", out.stderr));
    }
}

/// Loading never stops at the first broken file: every file's problem is in the one report.
#[test]
fn every_broken_file_of_a_run_is_reported() {
    let dir = corpus().join("several-broken-files");
    let out = run_case(&dir, &load_case(&dir));
    for location in [
        "--> detections/entra-roles/eligible-assignment-burst.yaml:",
        "--> detections/entra-roles/pim-alert-disabled.yaml:",
        "--> detections/logsources/entra_auditlogs.yaml:",
        "--> detections/rulecast.yaml:",
        "--> detections/guide.yaml:",
    ] {
        assert!(
            out.stderr.contains(location),
            "no error at {location}\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("(5 errors, 0 warnings)"),
        "{}",
        out.stderr
    );
}
