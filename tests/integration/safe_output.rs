//! The output folder is the only thing rulecast writes, and it is never left half-written: a
//! deployment pipeline pushes whatever is there.
//!
//! Catalogue names become file names, so hostile ones must be refused before anything is
//! written; a build killed at any moment leaves the previous output (or the new one) complete;
//! `check` writes nothing, whatever state it finds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::test::{BIN, Test, copy_dir, repo, snapshot_tree};

/// Every file under `dir` except those under `dir/except`.
fn tree_outside(dir: &Path, except: &str) -> Vec<(String, Vec<u8>)> {
    snapshot_tree(dir)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(&format!("{except}/")))
        .collect()
}

#[test]
fn hostile_file_names_are_refused_and_nothing_is_written() {
    let detection = "detections/entra-roles/pim-alert-disabled.yaml";
    let cases: &[(&str, &str)] = &[
        (
            "detections/entra-roles/Evil Name.yaml",
            "file name `Evil Name` is not a valid detection name",
        ),
        (
            "detections/entra-roles/..yaml",
            "file name `.` is not a valid detection name",
        ),
        (
            "detections/entra-roles/-leading-dash.yaml",
            "file name `-leading-dash` is not a valid detection name",
        ),
        (
            "detections/entra-roles/dots.in.name.yaml",
            "file name `dots.in.name` is not a valid detection name",
        ),
        (
            "detections/entra-roles/new\nline.yaml",
            "is not a valid detection name",
        ),
        (
            "detections/entra-roles/ünïcode.yaml",
            "file name `ünïcode` is not a valid detection name",
        ),
        (
            "detections/Evil Section/x.yaml",
            "`Evil Section` is not a guide section",
        ),
        (
            "detections/entra-roles/nested/x.yaml",
            "a detection file must be directly inside its section folder",
        ),
    ];
    for (path, expected) in cases {
        let text = std::fs::read_to_string(
            repo().join("tests/fixtures/minimal/entra-roles/pim-alert-disabled.yaml"),
        )
        .unwrap();
        let t = Test::minimal().remove(detection).write(path, &text);
        let before = snapshot_tree(t.root());
        let (t, _) = t
            .args(["build"])
            .status(1)
            .stderr_contains(expected)
            .stderr_contains("nothing was written")
            .run();
        assert_eq!(
            before,
            snapshot_tree(t.root()),
            "{path:?}: files were written"
        );
    }
}

#[test]
fn a_build_writes_only_inside_its_output_folder() {
    let t = Test::empty();
    copy_dir(
        &repo().join("tests/fixtures/hostile"),
        &t.root().join("work/detections"),
    );
    let before = tree_outside(t.root(), "work/out");
    let out = Command::new(BIN)
        .args(["build", "--output", "out"])
        .current_dir(t.root().join("work"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        before,
        tree_outside(t.root(), "work/out"),
        "files outside the output folder changed"
    );
    assert!(!snapshot_tree(&t.root().join("work/out")).is_empty());
}

/// A catalogue whose first build is `old`, edited so the next build writes something else.
fn built_then_edited() -> (Test, Vec<(String, Vec<u8>)>) {
    let (t, out) = Test::minimal().args(["build"]).run();
    let old = snapshot_tree(&out.path("generated"));
    let t = t.then().edit(
        "detections/entra-roles/pim-alert-disabled.yaml",
        "title: PIM alert disabled",
        "title: PIM alert switched off",
    );
    (t, old)
}

fn build_output(t: &Test) -> Vec<(String, Vec<u8>)> {
    let mut fresh = Test::empty();
    copy_dir(
        &t.root().join("detections"),
        &fresh.root().join("detections"),
    );
    fresh = fresh.args(["build"]);
    let (_fresh, out) = fresh.run();
    snapshot_tree(&out.path("generated"))
}

#[test]
fn a_build_that_dies_while_writing_leaves_the_previous_output() {
    let (t, old) = built_then_edited();
    let status = Command::new(BIN)
        .arg("build")
        .current_dir(t.root())
        .env("RULECAST_TEST_CRASH_AT", "writing")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the crash hook did not fire");
    assert_eq!(snapshot_tree(&t.root().join("generated")), old);
    // The next build cleans up and writes the new output.
    let new = build_output(&t);
    let (_t, out) = t.args(["build"]).run();
    assert_eq!(snapshot_tree(&out.path("generated")), new);
    assert_eq!(
        std::fs::read_dir(out.root).unwrap().count(),
        2,
        "only detections/ and generated/ remain"
    );
}

#[test]
fn a_build_that_dies_between_the_renames_loses_nothing() {
    let (t, old) = built_then_edited();
    let status = Command::new(BIN)
        .arg("build")
        .current_dir(t.root())
        .env("RULECAST_TEST_CRASH_AT", "swapping")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the crash hook did not fire");
    // The previous output is complete, beside its place.
    let aside: Vec<_> = std::fs::read_dir(t.root())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".rulecast-old-generated-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(snapshot_tree(&aside[0].path()), old);
    // The next build puts it back, then replaces it, and leaves nothing else behind.
    let new = build_output(&t);
    let (_t, out) = t.then().args(["build"]).run();
    assert_eq!(snapshot_tree(&out.path("generated")), new);
    assert_eq!(
        std::fs::read_dir(out.root).unwrap().count(),
        2,
        "only detections/ and generated/ remain"
    );
}

/// Kills real builds at moments spread over a whole build: whenever it dies, the output folder
/// is the old output or the new one, never a mix, and the next build recovers.
#[test]
fn a_build_killed_at_any_moment_leaves_a_complete_output() {
    let (t, old) = built_then_edited();
    let file = t
        .root()
        .join("detections/entra-roles/pim-alert-disabled.yaml");
    let edited = std::fs::read_to_string(&file).unwrap();
    let original = edited.replace("title: PIM alert switched off", "title: PIM alert disabled");
    let new = build_output(&t);
    let started = Instant::now();
    let (t, _) = t.args(["build"]).run();
    let duration = started.elapsed();
    let rounds = 16;
    for round in 0..rounds {
        // Each round asks for the output that is not on disk, so a build that got far enough
        // would change it.
        let on_disk = snapshot_tree(&t.root().join("generated"));
        std::fs::write(&file, if on_disk == new { &original } else { &edited }).unwrap();
        let delay = duration.mul_f64(f64::from(round) / f64::from(rounds));
        let mut child = Command::new(BIN)
            .arg("build")
            .current_dir(t.root())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let current = snapshot_tree(&t.root().join("generated"));
        if current.is_empty() {
            let aside: Vec<_> = std::fs::read_dir(t.root())
                .unwrap()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".rulecast-old-generated-")
                })
                .collect();
            assert_eq!(
                aside.len(),
                1,
                "round {round}: the output is gone and nothing is aside"
            );
            let kept = snapshot_tree(&aside[0].path());
            assert!(
                kept == old || kept == new,
                "round {round}: the output set aside is incomplete"
            );
        } else {
            assert!(
                current == old || current == new,
                "round {round} ({delay:?}): the output is a mix"
            );
        }
    }
    std::fs::write(&file, &edited).unwrap();
    let (_t, out) = t.then().args(["build"]).run();
    assert_eq!(snapshot_tree(&out.path("generated")), new);
}

#[test]
fn check_never_writes() {
    type Setup = fn(Test) -> Test;
    let states: &[(&str, Setup)] = &[
        ("up to date", |t| t),
        ("catalogue edited", |t| {
            t.edit(
                "detections/entra-roles/pim-alert-disabled.yaml",
                "severity: high",
                "severity: low",
            )
        }),
        ("output edited", |t| {
            t.edit(
                "generated/sentinel/arm/pim-alert-disabled.json",
                "\"High\"",
                "\"Low\"",
            )
        }),
        ("output missing", |t| t.remove("generated")),
        ("catalogue broken", |t| {
            t.edit(
                "detections/entra-roles/pim-alert-disabled.yaml",
                "severity: high",
                "severty: high",
            )
        }),
        ("leftovers of a crashed build", |t| {
            t.write(".rulecast-tmp-generated-1/half.txt", "x")
                .write(".rulecast-old-generated-2/old.txt", "y")
        }),
        ("stale schema", |t| {
            t.write("detections/schema.json", "{}\n")
        }),
    ];
    for (name, setup) in states {
        let (t, _) = Test::minimal().args(["build"]).run();
        let t = setup(t.then());
        let before = snapshot_tree(t.root());
        let out = Command::new(BIN)
            .arg("check")
            .current_dir(t.root())
            .output()
            .unwrap();
        assert!(out.status.code().is_some(), "{name}: check crashed");
        assert_eq!(
            before,
            snapshot_tree(t.root()),
            "{name}: check changed files"
        );
    }
}
