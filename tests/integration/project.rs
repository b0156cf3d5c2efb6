//! rulecast-project.yaml: options written once, found from any folder of the repository.

use std::process::Command;

use crate::test::{BIN, Test};

fn rulecast(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_settings_file_is_found_from_a_subfolder_and_its_options_apply() {
    let t = Test::shipped().write(
        "rulecast-project.yaml",
        "output: site-pack
acknowledged:
  - detection: pim-alert-disabled
    warning: cannot label which finding matched
    reason: The Sigma rule matches the same events; the label is only in the other targets.
",
    );
    let root = t.root().to_path_buf();
    let sub = root.join("detections/entra-roles");
    let (code, _, stderr) = rulecast(&sub, &["build"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(root.join("site-pack/sentinel").is_dir(), "{stderr}");
    assert!(!root.join("detections/entra-roles/generated").exists());
    assert!(stderr.contains("to ../../site-pack"), "{stderr}");
    // The acknowledged warning is quiet; the other detections' same limitation is not.
    assert!(
        !stderr.contains("`pim-alert-disabled` cannot label"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`pim-role-setting-weakened` cannot label"),
        "{stderr}"
    );
    let (code, _, stderr) = rulecast(&sub, &["check", "--no-tests"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("../../site-pack matches the catalogue"),
        "{stderr}"
    );
    // An acknowledgement that matches nothing any more says so.
    let settings = root.join("rulecast-project.yaml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("pim-alert-disabled", "pim-alert-disabled-old"),
    )
    .unwrap();
    let (code, _, stderr) = rulecast(&root, &["check", "--no-tests"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: the acknowledged warning \"cannot label which finding matched\" of `pim-alert-disabled-old` is no longer raised"),
        "{stderr}"
    );
    // A key the file does not have is an error, located in it.
    std::fs::write(&settings, "outptu: x\n").unwrap();
    let (code, _, stderr) = rulecast(&sub, &["list"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown field `outptu`") && stderr.contains("../../rulecast-project.yaml"),
        "{stderr}"
    );
}

#[test]
fn without_a_settings_file_the_catalogue_is_found_from_a_subfolder() {
    let t = Test::shipped();
    let (t, _) = t.args(["build", "--quiet"]).run();
    let sub = t.root().join("detections/baselines");
    let (code, stdout, stderr) = rulecast(&sub, &["list", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("eligible-assignment-burst"));
    let (code, _, stderr) = rulecast(&sub, &["check", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("../../generated matches the catalogue"),
        "{stderr}"
    );
}
