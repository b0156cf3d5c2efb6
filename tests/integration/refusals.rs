//! Every destructive path a careless or hostile command line can take: `build --output` and
//! `release --out` pointed at the catalogue, the current folder, its parent, the repository
//! root, `/`, a file, a symbolic link or someone else's folder. Each is refused, naming the path
//! and the reason, and the folder it was pointed at is left exactly as it was.

use std::path::Path;
use std::process::Command;

use crate::test::{BIN, Test, git, repository, snapshot_tree};

/// Runs `rulecast args` in `cwd` (under the test folder) and checks it is refused with
/// `reason`, exit 2, and that nothing under the test folder changed.
fn refused(t: &Test, cwd: &str, args: &[&str], reason: &str) {
    let before = snapshot_tree(t.root());
    let links_before = links(t.root());
    let out = Command::new(BIN)
        .args(args)
        .current_dir(t.root().join(cwd))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{stderr}");
    assert!(
        stderr.contains(reason),
        "{args:?}: no {reason:?} in\n{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{args:?}\n{stderr}");
    assert_eq!(before, snapshot_tree(t.root()), "{args:?} changed files");
    assert_eq!(links_before, links(t.root()), "{args:?} changed a link");
}

/// Every symbolic link under `dir` and where it points (`snapshot_tree` follows none).
fn links(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(walkdir::DirEntry::path_is_symlink)
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read_link(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A built catalogue with a few folders a build must never touch.
fn workspace() -> Test {
    let (t, _) = Test::minimal().args(["build"]).run();
    t.then()
        .write("notes/todo.txt", "my own notes\n")
        .write("README.md", "# mine\n")
        .write("work/keep.txt", "kept\n")
        .write("repo/.git/HEAD", "ref: refs/heads/main\n")
        .write("repo/src.txt", "source\n")
        .write("tpl/sentinel/rule.yaml.tera", "x: 1\n")
}

#[test]
fn build_refuses_every_folder_it_does_not_own() {
    let t = workspace();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            ".",
            &["build", "--output", "detections"],
            "it is the catalogue",
        ),
        (
            ".",
            &["build", "--output", "detections/entra-roles"],
            "it is inside the catalogue",
        ),
        (".", &["build", "--output", "."], "it is the current folder"),
        (
            "work",
            &["build", "--catalogue", "../detections", "--output", ".."],
            "it holds the current folder",
        ),
        (
            ".",
            &["build", "--output", "detections/.."],
            "it is the current folder",
        ),
        (
            ".",
            &["build", "--output", "/"],
            "it is the file-system root",
        ),
        (
            ".",
            &["build", "--output", "README.md"],
            "it is a file, not a folder",
        ),
        (
            ".",
            &["build", "--output", "notes"],
            "it is a folder rulecast did not write (it holds `todo.txt`",
        ),
        (
            ".",
            &["build", "--output", "repo"],
            "it is the root of a git repository",
        ),
        (
            ".",
            &["build", "--templates", "tpl", "--output", "tpl"],
            "it is the templates folder",
        ),
    ];
    for (cwd, args, reason) in cases {
        refused(&t, cwd, args, reason);
    }
}

#[cfg(unix)]
#[test]
fn build_refuses_a_symlinked_output_and_resolves_a_symlinked_parent() {
    let t = workspace();
    std::os::unix::fs::symlink(t.root().join("generated"), t.root().join("link")).unwrap();
    std::os::unix::fs::symlink(t.root().join("notes"), t.root().join("notes-link")).unwrap();
    refused(
        &t,
        ".",
        &["build", "--output", "link"],
        "it is a symbolic link (to ",
    );
    // The link's own folder is reached by its real name; a folder below a linked parent is
    // written where the link leads, and the message says so.
    let (t, out) = t
        .args(["build", "--output", "notes-link/out"])
        .stderr_contains("resolves to ")
        .stderr_contains("through a symbolic link")
        .run();
    assert_eq!(
        snapshot_tree(&out.path("notes/out")),
        snapshot_tree(&out.path("generated"))
    );
    assert_eq!(out.read("notes/todo.txt"), "my own notes\n");
    drop(t);
}

#[test]
fn an_older_output_is_adopted_and_marked() {
    let (t, out) = Test::minimal().args(["build"]).run();
    let built = snapshot_tree(&out.path("generated"));
    // An output written before the marker existed holds only target folders.
    let t = t.then().remove("generated/.rulecast-output");
    let (t, _) = t
        .args(["build"])
        .stderr_contains("holds only what an older rulecast wrote")
        .run();
    assert_eq!(snapshot_tree(&t.root().join("generated")), built);
    // One foreign file is enough to refuse it.
    let t = t
        .then()
        .remove("generated/.rulecast-output")
        .write("generated/mine.txt", "x");
    refused(&t, ".", &["build"], "it is a folder rulecast did not write");
}

#[test]
fn release_refuses_every_folder_it_does_not_own() {
    let t = repository().write("notes/todo.txt", "mine\n");
    let release = |out: &str| ["release", "--version", "1.0.0", "--out", out].map(String::from);
    for (out, reason) in [
        (".", "it is the current folder"),
        ("detections", "it is the catalogue"),
        ("generated", "it is the output folder"),
        ("generated/dist", "it is inside the output folder"),
        ("notes", "it is a folder rulecast did not write"),
        ("..", "it holds the current folder"),
    ] {
        let args = release(out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&t, ".", &args, reason);
    }
}

#[test]
fn the_dirty_tree_check_sees_everything_outside_the_release_folder() {
    // An edit in the catalogue and an untracked file under a folder named like the release
    // folder, but outside it.
    let t = repository()
        .edit(
            "detections/entra-roles/pim-alert-disabled.yaml",
            "severity: high",
            "severity: low",
        )
        .write("distribution/x.txt", "x");
    let (t, _) = t
        .args(["release", "--version", "1.0.0", "--out", "dist"])
        .status(1)
        .stderr_contains("uncommitted changes (detections/entra-roles/pim-alert-disabled.yaml, distribution/x.txt)")
        .run();
    assert!(!t.root().join("dist").exists());
}

#[cfg(unix)]
#[test]
fn a_release_never_writes_through_a_link_in_its_folder() {
    let (t, out) = repository().args(["release", "--version", "1.0.0"]).run();
    let released = snapshot_tree(&out.path("dist"));
    // Someone replaces a release file with a link to a file outside the folder.
    let t = t.then().write("victim.txt", "precious\n");
    std::fs::remove_file(t.root().join("dist/manifest.json")).unwrap();
    std::os::unix::fs::symlink(
        t.root().join("victim.txt"),
        t.root().join("dist/manifest.json"),
    )
    .unwrap();
    git(t.root(), &["add", "victim.txt"]);
    git(t.root(), &["commit", "-q", "-m", "victim"]);
    let (_t, out) = t.args(["release", "--version", "1.0.0"]).run();
    assert_eq!(out.read("victim.txt"), "precious\n");
    assert_eq!(snapshot_tree(&out.path("dist")), released);
    assert!(
        !out.path("dist/manifest.json").is_symlink(),
        "the link was replaced by the release file"
    );
}

/// An operating-system error names the path and what rulecast was doing with it.
#[cfg(unix)]
#[test]
fn an_io_error_names_its_path_and_operation() {
    let t = workspace();
    let long = "x".repeat(300);
    let before = snapshot_tree(t.root());
    let (t, out) = t
        .args(["build", "--output", &format!("out/{long}")])
        .status(3)
        .stderr_contains(&format!("out/{long}: "))
        .stderr_contains("nothing was written")
        .run();
    assert!(out.stderr.contains("error: cannot "), "{}", out.stderr);
    assert_eq!(before, snapshot_tree(t.root()));
    assert!(
        !out.path("out").exists(),
        "the folder made for the output stays"
    );
}

/// A command that fails after claiming its folder removes the folders it made for it.
#[test]
fn a_failed_build_leaves_no_folder_behind() {
    let (_t, out) = Test::minimal()
        .edit(
            "detections/entra-roles/pim-alert-disabled.yaml",
            "severity: high",
            "severity: urgent",
        )
        .args(["build", "--output", "new/deeper/generated"])
        .status(1)
        .run();
    assert!(!out.path("new").exists());
}
