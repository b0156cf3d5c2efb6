//! The versioning workflow end to end, in a real git repository: add, change and deprecate
//! detections, and at each step what `check`, `diff` and `lock` say; then releases. The minimal
//! catalogue has no test cases, so `check` and `release` run with `--no-tests` (tuning.rs tests
//! the gate).

use crate::test::{Test, git, repository};

const BURST: &str = "detections/entra-roles/eligible-assignment-burst.yaml";
const DISABLED: &str = "detections/entra-roles/pim-alert-disabled.yaml";
const NEW: &str = "detections/entra-roles/pim-alert-disabled-or-deleted.yaml";
const NEW_ID: &str = "5c0e7a3d-2b1f-4e8a-9d6c-7f4b3a2e1d0c";

fn commit(t: &Test, message: &str) {
    git(t.root(), &["add", "-A"]);
    git(t.root(), &["commit", "-q", "-m", message]);
}

/// Locks, rebuilds and checks: the three commands an author runs before committing.
fn settle(t: Test, extra: &[&str], lock_says: &str) -> Test {
    let args = ["lock", "--date", "2026-02-01"]
        .iter()
        .chain(extra)
        .copied();
    let (t, _) = t.then().args(args).stdout_contains(lock_says).run();
    let (t, _) = t.then().args(["build"]).run();
    let (t, _) = t
        .then()
        .args(["check", "--no-tests"])
        .stderr_contains("valid and locked")
        .run();
    t.then()
}

fn new_detection() -> String {
    let original = std::fs::read_to_string(
        crate::test::repo().join("tests/fixtures/minimal/entra-roles/pim-alert-disabled.yaml"),
    )
    .unwrap();
    original
        .replace("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", NEW_ID)
        .replace(
            "title: PIM alert disabled",
            "title: PIM alert disabled or deleted",
        )
        .replace(
            "ActivityDisplayName: Disable PIM alert",
            "ActivityDisplayName: [Disable PIM alert, Delete PIM alert]",
        )
        .replace("date: '2026-01-01'", "date: '2026-01-15'")
}

#[test]
fn add_change_deprecate_and_release() {
    let t = repository();

    // A first release, twice: the same tree gives the same bytes.
    let (t, out) = t
        .then()
        .args(["release", "--version", "1.0.0", "--no-tests"])
        .stdout_contains("dist/test_pack-1.0.0.tgz")
        .run();
    let sums = out.read("dist/SHA256SUMS");
    assert_eq!(sums.lines().count(), 6, "{sums}");
    assert!(out.read("dist/CHANGELOG.md").contains("First release."));
    // The Sentinel zip holds what each way of deploying reads: the per-rule ARM templates and
    // sentinel-deployment.config (Repositories), the combined template (the Azure CLI), the
    // watchlists the rules read and the Azure-Sentinel YAML templates.
    let sentinel = std::fs::File::open(out.path("dist/test-pack-1.0.0-sentinel.zip")).unwrap();
    let sentinel = zip::ZipArchive::new(sentinel).unwrap();
    let names: Vec<String> = sentinel
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    assert!(has("watchlists/PrivilegedAccounts.csv"), "{names:?}");
    assert!(has("azuredeploy.json"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("rules/")), "{names:?}");
    assert!(has("arm/pim-alert-disabled.json"), "{names:?}");
    assert!(has("sentinel-deployment.config"), "{names:?}");
    std::fs::remove_dir_all(out.path("dist")).unwrap();
    let (t, out) = t
        .then()
        .args(["release", "--version", "1.0.0", "--no-tests"])
        .run();
    assert_eq!(
        out.read("dist/SHA256SUMS"),
        sums,
        "two releases of the same tree differ"
    );
    git(t.root(), &["tag", "v1.0.0"]);

    // 1. Add a detection.
    let t = t.then().write(NEW, &new_detection());
    let (t, _) = t
        .args(["check", "--no-tests"])
        .status(1)
        .stderr_contains("`entra-roles/pim-alert-disabled-or-deleted` is not in the lock")
        .stderr_contains("run `rulecast lock`")
        .run();
    let (t, out) = t
        .then()
        .args(["diff", "HEAD"])
        .stdout_contains("1 added, 0 changed, 0 deprecated, 0 removed.")
        .stdout_contains("#### Added")
        .run();
    assert!(
        out.stdout.contains(
            "**entra-roles/pim-alert-disabled-or-deleted** PIM alert disabled or deleted | 1 |"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Risky"), "{}", out.stdout);
    let t = settle(
        t,
        &[],
        "added   entra-roles/pim-alert-disabled-or-deleted at version 1",
    );
    commit(&t, "add a detection");

    // 2. Change one, and forget the version: check fails at the version line.
    let before = std::fs::read_to_string(t.root().join(BURST)).unwrap();
    let t = t.edit(BURST, "  count: 4", "  count: 6");
    let (t, _) = t
        .args(["check", "--no-tests"])
        .status(1)
        .stderr_contains("the content of `entra-roles/eligible-assignment-burst` changed (azure-monitor, sentinel, sigma, splunk) but its version is still 1")
        .stderr_contains("--> detections/entra-roles/eligible-assignment-burst.yaml:2:10")
        .stderr_contains("it sets `version: 2`")
        .run();
    let (t, out) = t
        .then()
        .args(["diff", "HEAD"])
        .stdout_contains("0 added, 1 changed, 0 deprecated, 0 removed.")
        .stdout_contains("threshold loosened: count raised from 4 to 6")
        .run();
    assert!(
        out.stdout.contains(
            "| 1 (not bumped) | `threshold.count` | azure-monitor, sentinel, sigma, splunk |"
        ),
        "{}",
        out.stdout
    );
    // Bumping by hand by two is refused as well.
    let (t, _) = t
        .then()
        .edit(BURST, "version: 1", "version: 3")
        .args(["check", "--no-tests"])
        .status(1)
        .stderr_contains("jumped from 1 to 3")
        .run();
    let t = t.then().edit(BURST, "version: 3", "version: 1");
    let t = settle(
        t,
        &[],
        "bumped  entra-roles/eligible-assignment-burst 1 -> 2 (changed: azure-monitor, sentinel, sigma, splunk)",
    );
    let after = std::fs::read_to_string(t.root().join(BURST)).unwrap();
    assert_eq!(
        after,
        before
            .replacen("  count: 4", "  count: 6", 1)
            .replacen("version: 1", "version: 2", 1),
        "lock touched more than the version"
    );
    let (t, out) = t.args(["diff", "HEAD", "--format", "json"]).run();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["changed"][0]["old_version"], 1);
    assert_eq!(report["changed"][0]["new_version"], 2);
    assert_eq!(
        report["changed"][0]["fields"],
        serde_json::json!(["threshold.count"])
    );
    let t = t.then();
    commit(&t, "raise the burst threshold");

    // 3. Deprecate one, replaced by the new detection.
    let t = t.edit(DISABLED, "status: stable", &format!("status: deprecated\ndeprecation:\n  reason: Superseded.\n  date: '2026-02-01'\n  replaced_by: {NEW_ID}"));
    let (t, _) = t
        .args(["check", "--no-tests"])
        .status(1)
        .stderr_contains("the content of `entra-roles/pim-alert-disabled` changed")
        .run();
    let (t, _) = t
        .then()
        .args(["diff", "HEAD"])
        .stdout_contains("0 added, 0 changed, 1 deprecated, 0 removed.")
        .stdout_contains("#### Deprecated")
        .stdout_contains("deprecated: the detection is switched off in every target")
        .run();
    let t = settle(t, &[], "bumped  entra-roles/pim-alert-disabled 1 -> 2");
    let root = t.root().to_path_buf();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert!(
        read("generated/sentinel/rules/entra-roles/pim-alert-disabled.yaml")
            .contains("status: Deprecated")
    );
    assert!(
        read("generated/sigma/rules/entra-roles/azure_pim_alert_disabled.yml")
            .contains("status: deprecated")
    );
    let sigma = read("generated/sigma/rules/entra-roles/azure_pim_alert_disabled.yml");
    assert!(
        sigma.contains("modified: \"2026-02-01\"") && sigma.contains("version 2;"),
        "{sigma}"
    );
    let splunk = read("generated/splunk/test_pack/default/savedsearches.conf");
    let stanza = &splunk[splunk.find("PIM alert disabled]").unwrap()..];
    assert!(
        stanza.contains("enableSched = 0")
            && stanza.contains("disabled = 1")
            && stanza.contains("not scheduled"),
        "{stanza}"
    );
    commit(&t, "deprecate");

    // A deprecated detection is frozen; a removed one is refused.
    let t = t.edit(
        DISABLED,
        "description: Someone disabled a PIM alert.",
        "description: Someone disabled a PIM alert (edited).",
    );
    let (t, _) = t
        .args(["lock"])
        .status(1)
        .stderr_contains("was locked as deprecated at version 2 and can no longer change")
        .stderr_contains("nothing was written")
        .run();
    git(t.root(), &["checkout", "--", DISABLED]);
    let (t, _) = t
        .then()
        .remove(DISABLED)
        .args(["check", "--no-tests"])
        .status(1)
        .stderr_contains("`entra-roles/pim-alert-disabled` (3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b) is in the lock but no longer in the catalogue")
        .stderr_contains("detections/rulecast.lock:")
        .run();
    git(t.root(), &["checkout", "--", DISABLED]);

    // Release 1.1.0: refused while the tree is dirty or the lock says otherwise.
    let (t, _) = t
        .then()
        .args(["release", "--version", "1.1.0", "--no-tests"])
        .status(1)
        .stderr_contains("lock --pack-version 1.1.0")
        .run();
    let t = settle(t.then(), &["--pack-version", "1.1.0"], "pack version 1.1.0");
    let (t, _) = t
        .args(["release", "--version", "1.1.0", "--no-tests"])
        .status(1)
        .stderr_contains("uncommitted changes")
        .run();
    commit(&t, "release 1.1.0");
    let (_t, out) = t
        .then()
        .args(["release", "--version", "1.1.0", "--no-tests"])
        .run();
    let changelog = out.read("dist/CHANGELOG.md");
    for expected in [
        "## 1.1.0",
        "Changes since 1.0.0.",
        "### Added\n\n#### Microsoft Entra roles assignment\n\n- PIM alert disabled or deleted (`pim-alert-disabled-or-deleted`), version 1",
        "### Changed\n\n#### Microsoft Entra roles assignment\n\n- Burst of eligible assignments (`eligible-assignment-burst`): version 1 -> 2",
        "### Deprecated\n\n#### Microsoft Entra roles assignment\n\n- PIM alert disabled (`pim-alert-disabled`), version 2: Superseded. Replaced by PIM alert disabled or deleted (`pim-alert-disabled-or-deleted`).",
    ] {
        assert!(
            changelog.contains(expected),
            "missing {expected:?} in\n{changelog}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&out.read("dist/manifest.json")).unwrap();
    assert_eq!(manifest["version"], "1.1.0");
    assert_eq!(manifest["detections"].as_array().unwrap().len(), 3);
}
