//! The output folder is the only thing rulecast writes, and it is never left half-written: a
//! deployment pipeline pushes whatever is there.
//!
//! Catalogue names become file names, so hostile ones must be refused before anything is
//! written; a build killed at any moment leaves the previous output (or the new one) complete;
//! `check` writes nothing, whatever state it finds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::test::{BIN, FileTree, Test, copy_dir, repo, snapshot_tree};

/// Every file under `dir` except those under `dir/except`.
fn tree_outside(dir: &Path, except: &str) -> FileTree {
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
fn built_then_edited() -> (Test, FileTree) {
    let (t, out) = Test::minimal().args(["build"]).run();
    let old = snapshot_tree(&out.path("generated"));
    let t = t.then().edit(
        "detections/entra-roles/pim-alert-disabled.yaml",
        "title: PIM alert disabled",
        "title: PIM alert switched off",
    );
    (t, old)
}

fn build_output(t: &Test) -> FileTree {
    let mut fresh = Test::empty();
    copy_dir(
        &t.root().join("detections"),
        &fresh.root().join("detections"),
    );
    fresh = fresh.args(["build"]);
    let (_fresh, out) = fresh.run();
    snapshot_tree(&out.path("generated"))
}

/// The leftovers a crashed build left beside `generated/`, by kind (`tmp` or `old`).
fn leftovers(root: &Path, kind: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!(".rulecast-{kind}.generated.");
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Every step of the swap, in both of its forms: a build killed there leaves a complete output
/// (the old one before the exchange, the new one after it), and the next build recovers and
/// leaves nothing behind. The two-rename form, used where a file system cannot exchange, is the
/// only one with a moment without the folder; the previous output is then complete beside it.
/// Killed while the previous output is removed, after the swap, a build leaves the new output
/// in place and what remains of the previous one for the next build to remove.
#[test]
fn a_build_killed_at_each_step_of_the_swap_leaves_a_complete_output() {
    // (crash point, exchange available, what `generated/` holds after the crash)
    let steps: &[(&str, bool, &str)] = &[
        ("writing", true, "old"),
        ("written", true, "old"),
        ("exchanged", true, "new"),
        ("removing", true, "new"),
        ("writing", false, "old"),
        ("written", false, "old"),
        ("moved-aside", false, "aside"),
        ("moved-in", false, "new"),
        ("removing", false, "new"),
    ];
    for &(point, exchange, expected) in steps {
        let case = format!("{point} (exchange: {exchange})");
        let (t, old) = built_then_edited();
        let new = build_output(&t);
        let mut command = Command::new(BIN);
        command
            .arg("build")
            .current_dir(t.root())
            .env("RULECAST_TEST_CRASH_AT", point)
            .stderr(Stdio::null());
        if !exchange {
            command.env("RULECAST_TEST_NO_EXCHANGE", "1");
        }
        let status = command.status().unwrap();
        assert!(!status.success(), "{case}: the crash hook did not fire");
        let current = snapshot_tree(&t.root().join("generated"));
        if point == "removing" {
            // Killed part way through removing the previous output, which is beside it,
            // partly removed, until the next build.
            let kind = if exchange { "tmp" } else { "old" };
            let rest = leftovers(t.root(), kind);
            assert_eq!(rest.len(), 1, "{case}");
            let rest = snapshot_tree(&rest[0]);
            assert!(rest.len() < old.len(), "{case}: nothing was removed");
            assert!(rest.iter().all(|file| old.contains(file)), "{case}");
        }
        match expected {
            "old" => assert_eq!(current, old, "{case}"),
            "new" => assert_eq!(current, new, "{case}"),
            _ => {
                assert!(current.is_empty(), "{case}");
                let aside = leftovers(t.root(), "old");
                assert_eq!(aside.len(), 1, "{case}");
                assert_eq!(snapshot_tree(&aside[0]), old, "{case}");
            }
        }
        // The next build puts back what was moved aside, replaces it, and removes the rest.
        let (_t, out) = t.then().args(["build"]).run();
        assert_eq!(snapshot_tree(&out.path("generated")), new, "{case}");
        let mut names: Vec<String> = std::fs::read_dir(&out.root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["detections", "generated"],
            "{case}: leftovers remain"
        );
    }
}

/// A built folder with two catalogues, `detections` and `detections-b`, that render to
/// different outputs (each given, as a fresh build of it writes it).
fn two_catalogues() -> (Test, [FileTree; 2]) {
    let (t, _old) = built_then_edited();
    copy_dir(&t.root().join("detections"), &t.root().join("detections-b"));
    let t = t.edit(
        "detections-b/entra-roles/pim-alert-disabled.yaml",
        "title: PIM alert switched off",
        "title: PIM alert turned off",
    );
    let second = {
        let fresh = Test::empty();
        copy_dir(
            &t.root().join("detections-b"),
            &fresh.root().join("detections-b"),
        );
        let (_fresh, out) = fresh.args(["build", "--catalogue", "detections-b"]).run();
        snapshot_tree(&out.path("generated"))
    };
    let outputs = [build_output(&t), second];
    assert_ne!(outputs[0], outputs[1]);
    (t, outputs)
}

/// Two builds of one output with different catalogues, the second started while the first is
/// stopped just before its swap: the second waits for the first, deletes nothing of it, and the
/// output ends as the second's complete work.
#[test]
fn a_second_build_waits_for_the_first_and_spares_its_folder() {
    let (t, [first_output, second_output]) = two_catalogues();

    let signal = t.root().join("first-is-paused");
    let mut first = Command::new(BIN)
        .arg("build")
        .current_dir(t.root())
        .env(
            "RULECAST_TEST_PAUSE_AT",
            format!("written:{}", signal.display()),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !signal.exists() {
        assert!(first.try_wait().unwrap().is_none(), "the first build ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let first_tmp = leftovers(t.root(), "tmp");
    assert_eq!(first_tmp.len(), 1);
    let mut second = Command::new(BIN)
        .args(["build", "--catalogue", "detections-b"])
        .current_dir(t.root())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // However long the second build is given, it cannot finish while the first holds the lock.
    for _ in 0..25 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            second.try_wait().unwrap().is_none(),
            "the second build did not wait for the first"
        );
    }
    assert_eq!(
        snapshot_tree(&first_tmp[0]),
        first_output,
        "the first build's folder was touched"
    );
    std::fs::remove_file(&signal).unwrap();
    assert!(first.wait().unwrap().success());
    let second = second.wait_with_output().unwrap();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("waiting for another rulecast"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(snapshot_tree(&t.root().join("generated")), second_output);
    assert!(leftovers(t.root(), "tmp").is_empty());
}

/// Builds started together, over and over: each succeeds, and the output is always one of
/// them, complete.
#[test]
fn racing_builds_leave_one_complete_output() {
    let (t, outputs) = two_catalogues();
    for round in 0..4 {
        let children: Vec<_> = ["detections", "detections-b"]
            .iter()
            .map(|catalogue| {
                Command::new(BIN)
                    .args(["build", "--catalogue", catalogue])
                    .current_dir(t.root())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "round {round}");
        }
        let current = snapshot_tree(&t.root().join("generated"));
        assert!(
            outputs.contains(&current),
            "round {round}: the output is a mix"
        );
        assert!(leftovers(t.root(), "tmp").is_empty(), "round {round}");
    }
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
        // The exchange never leaves a moment without the folder.
        assert!(
            current == old || current == new,
            "round {round} ({delay:?}): the output is missing or a mix"
        );
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
            t.write(".rulecast-tmp.generated.1/half.txt", "x")
                .write(".rulecast-old.generated.2/old.txt", "y")
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
