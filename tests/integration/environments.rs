//! Environments: one catalogue, several packs (tests/fixtures/environments/ over the shipped
//! catalogue), each overriding settings and detections generically.

use crate::test::{Test, repo};

/// The shipped catalogue with the fixture's two environments.
fn two_environments() -> Test {
    let fixture = std::fs::read_to_string(
        repo().join("tests/fixtures/environments/rulecast.environments.yaml"),
    )
    .unwrap();
    let t = Test::shipped();
    let config = t.root().join("detections/rulecast.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&fixture);
    std::fs::write(config, text).unwrap();
    t
}

const BURST_RULE: &str = "sentinel/rules/entra-roles/eligible-assignment-burst.yaml";

#[test]
fn each_environment_builds_its_own_pack_and_passes_check() {
    let (t, _) = two_environments().args(["build", "--quiet"]).run();
    let (t, _) = t
        .then()
        .args(["build", "--quiet", "--env", "test"])
        .stderr_contains("to generated-test")
        .run();
    let (t, out) = t.then().args(["build", "--quiet", "--env", "prod"]).run();
    let base = |f: &str| out.read(&format!("generated/{f}"));
    let test = |f: &str| out.read(&format!("generated-test/{f}"));
    let prod = |f: &str| out.read(&format!("generated-prod/{f}"));

    // test: its own Splunk app, watchlist alias, severity, no incidents, one detection fewer.
    assert!(
        out.path("generated-test/splunk/rulecast_pim_test/default/app.conf")
            .is_file()
    );
    assert!(!out.path("generated-test/splunk/rulecast_pim").exists());
    // The test search head reads its own index; the other log source keeps the base's.
    let test_macros = out.read("generated-test/splunk/rulecast_pim_test/default/macros.conf");
    assert!(
        test_macros.contains("definition = index=azure_test sourcetype=\"azure:monitor:aad\""),
        "{test_macros}"
    );
    assert!(test_macros.contains("definition = index=azure sourcetype=\"azure:monitor:activity\""));
    assert!(
        out.read("generated/splunk/rulecast_pim/default/macros.conf")
            .contains("definition = index=azure sourcetype=\"azure:monitor:aad\"")
    );
    assert!(
        base(BURST_RULE).contains("severity: High"),
        "{}",
        base(BURST_RULE)
    );
    assert!(
        test(BURST_RULE).contains("severity: Low"),
        "{}",
        test(BURST_RULE)
    );
    assert!(base(BURST_RULE).contains("_GetWatchlist(\"PrivilegedAccounts\")"));
    assert!(test(BURST_RULE).contains("_GetWatchlist(\"PrivilegedAccountsTest\")"));
    assert!(!test(BURST_RULE).contains("_GetWatchlist(\"PrivilegedAccounts\")"));
    assert!(
        out.path("generated/sentinel/rules/entra-roles/pim-alert-disabled.yaml")
            .is_file()
    );
    assert!(
        !out.path("generated-test/sentinel/rules/entra-roles/pim-alert-disabled.yaml")
            .exists()
    );

    // prod: the catalogue as written plus its exclusion, on the burst only.
    assert!(prod(BURST_RULE).contains("not(Actor =~ \"svc-onboarding@contoso.example\")"));
    assert!(!base(BURST_RULE).contains("svc-onboarding"));
    let single = "sentinel/rules/entra-roles/privileged-role-eligible-assignment.yaml";
    assert_eq!(prod(single), base(single));

    // Each pack is checked against its environment, with the one lock of the catalogue.
    let (t, _) = t
        .then()
        .args(["check", "--quiet", "--env", "test"])
        .stderr_contains("generated-test matches the catalogue")
        .run();
    let (t, _) = t.then().args(["check", "--quiet", "--env", "prod"]).run();
    let (t, _) = t.then().args(["check", "--quiet"]).run();
    // `base` is the catalogue as written.
    let (t, _) = t
        .then()
        .args(["check", "--quiet", "--env", "base"])
        .stderr_contains("generated matches")
        .run();
    t.then()
        .args([
            "check",
            "--quiet",
            "--env",
            "prod",
            "--output",
            "generated-test",
        ])
        .status(1)
        .stderr_contains("generated-test is not what the catalogue renders to")
        .run();
}

#[test]
fn an_override_is_checked_where_it_is_written() {
    let t = two_environments()
        .edit(
            "detections/rulecast.yaml",
            "severity: low",
            "severity: lowest",
        )
        .edit(
            "detections/rulecast.yaml",
            "disabled: [pim-alert-disabled]",
            "disabled: [pim-alert-disabld]",
        );
    let (t, _) = t
        .args(["build", "--env", "test"])
        .status(1)
        .stderr_contains(
            "error: `lowest` is not an allowed value\n   --> detections/rulecast.yaml:",
        )
        .run();
    let t = t.then().edit(
        "detections/rulecast.yaml",
        "severity: lowest",
        "severity: low",
    );
    let (t, _) = t
        .args(["build", "--env", "test"])
        .status(1)
        .stderr_contains("error: no detection is named `pim-alert-disabld`")
        .stderr_contains("did you mean `pim-alert-disabled`?")
        .run();
    assert!(
        !t.root().join("generated-test").exists(),
        "nothing is written"
    );
    // The catalogue as written does not read the environments' overrides.
    let (t, _) = t.then().args(["build", "--quiet"]).run();
    let (t, _) = t
        .then()
        .args(["build", "--env", "tset"])
        .status(1)
        .stderr_contains("error: no environment is named `tset`")
        .stderr_contains("did you mean `test`?")
        .run();
    let (t, _) = t
        .then()
        .edit("detections/rulecast.yaml", "      entra-roles/eligible-assignment-burst:\n        severity: low", "      entra-roles/eligible-assignment-burst:\n        id: 8dbbafc8-dd99-490e-bf01-b536916a6b0c")
        .edit("detections/rulecast.yaml", "disabled: [pim-alert-disabld]", "disabled: [pim-alert-disabled]")
        .args(["build", "--env", "test"])
        .status(1)
        .stderr_contains("error: an environment cannot override a detection's `id`")
        .run();
    // The lock is the catalogue's, not an environment's.
    t.then()
        .args(["lock", "--env", "prod"])
        .status(2)
        .stderr_contains(
            "`rulecast lock` works on the catalogue as written, not on environment `prod`",
        )
        .run();
}

/// The case tests/fixtures/environments/ appends for prod holds there and only there:
/// `rulecast test` honours an environment's exclusions, chosen by --env or RULECAST_ENV.
#[test]
fn test_honours_an_environments_exclusion() {
    let cases = std::fs::read_to_string(
        repo().join("tests/fixtures/environments/eligible-assignment-burst.tests.append.yaml"),
    )
    .unwrap();
    let t = two_environments();
    let tests = t
        .root()
        .join("detections/entra-roles/eligible-assignment-burst.tests.yaml");
    let mut text = std::fs::read_to_string(&tests).unwrap();
    text.push_str(&cases);
    std::fs::write(&tests, text).unwrap();
    let case = "the onboarding service's burst raises nothing where it is excluded (prod)";
    let (t, _) = t
        .args(["test", "--detection", "eligible-assignment-burst"])
        .status(1)
        .stdout_contains(&format!("FAIL  {case}"))
        .run();
    let (t, _) = t
        .then()
        .args([
            "test",
            "--env",
            "prod",
            "--detection",
            "eligible-assignment-burst",
        ])
        .stdout_contains(&format!("ok    {case} (no alert)"))
        .run();
    let out = std::process::Command::new(crate::test::BIN)
        .args(["test", "--detection", "eligible-assignment-burst"])
        .current_dir(t.root())
        .env("RULECAST_ENV", "prod")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
