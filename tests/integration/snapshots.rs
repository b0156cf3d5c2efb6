//! The committed copies of what rulecast renders: `generated/`, the schemas under
//! `detections/` and docs/catalogue-reference.md. Each is the one reviewed copy of its content, so these tests compare it with
//! what the code renders now rather than keeping a second copy (a snapshot) of it: a change to
//! the output shows up once in review, as a diff of the committed files.

use rulecast::schema::{self, SchemaKind};

use crate::test::{BIN, repo};

#[test]
fn the_committed_output_is_what_the_shipped_catalogue_renders() {
    // `check` compares without writing, and also proves the lock is current.
    let out = std::process::Command::new(BIN)
        .args(["check", "--quiet"])
        .current_dir(repo())
        .output()
        .expect("run rulecast");
    assert!(
        out.status.success(),
        "generated/ or the lock is stale: run `cargo run -- lock` and `cargo run -- build` and \
         commit the result\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn committed_schemas_are_current() {
    for kind in SchemaKind::ALL {
        let path = repo().join("detections").join(kind.committed_path());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            schema::schema_text(kind, &rulecast::targets::Targets::builtin()),
            "{} is stale: run `cargo run -- schema --write`",
            path.display()
        );
    }
}

#[test]
fn the_catalogue_reference_is_current() {
    let out = std::process::Command::new(BIN)
        .args(["schema", "--reference"])
        .output()
        .expect("run rulecast");
    assert!(out.status.success());
    let path = repo().join("docs/catalogue-reference.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == String::from_utf8_lossy(&out.stdout),
        "{} is stale: run `cargo run -- schema --reference > docs/catalogue-reference.md`",
        path.display()
    );
}
