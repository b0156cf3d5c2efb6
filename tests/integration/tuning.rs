//! Exclusions: site tuning written once, reaching every target, `test` and `scan`, and held to
//! its expiry date by `check`.

use serde_json::Value;

use crate::test::{Test, repo};
use crate::test::{commit_everything, git};

const BURST: &str = "detections/entra-roles/eligible-assignment-burst.yaml";

/// The exclusion, for the actor of the burst in tests/fixtures/scan/sample.jsonl.
fn exclusion(actor: &str, expires: &str) -> String {
    format!(
        "exclusions:
  - field: Actor
    values: [{actor}]
    reason: The onboarding service assigns roles in bulk during onboarding weeks.
    owner: identity-team@contoso.example
    expires: {expires}
"
    )
}

fn append(t: Test, relative: &str, text: &str) -> Test {
    let path = t.root().join(relative);
    let mut content = std::fs::read_to_string(&path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
    t
}

/// The alerts of a scan of the sample, as (detection name, actor).
fn scanned(t: Test) -> (Test, Vec<(String, String)>) {
    let logs = repo().join("tests/fixtures/scan/sample.jsonl");
    let (t, out) = t
        .then()
        .args(["scan", "--logs", logs.to_str().unwrap(), "--format", "json"])
        .run();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let alerts = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let actor = a["group"]
                .get("Actor")
                .or_else(|| a["fields"].get("Actor"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (a["detection"]["name"].as_str().unwrap().to_owned(), actor)
        })
        .collect();
    (t, alerts)
}

const ALEX: &str = "alex.wilber@contoso.example";

#[test]
fn an_excluded_actors_burst_raises_nothing_in_scan_and_only_where_excluded() {
    let burst = (
        "entra-roles/eligible-assignment-burst".to_owned(),
        ALEX.to_owned(),
    );
    let single = "entra-roles/privileged-role-eligible-assignment";
    let (_, before) = scanned(Test::shipped());
    assert!(
        before.contains(&burst),
        "the sample has alex's burst: {before:?}"
    );
    assert!(before.iter().any(|(d, a)| d == single && a == ALEX));

    // The detection's own exclusion silences its alert and no other detection's.
    let t = append(
        Test::shipped(),
        BURST,
        &exclusion("Alex.Wilber@contoso.example", "2099-12-31"),
    );
    let (_, after) = scanned(t);
    assert!(
        !after.contains(&burst),
        "the excluded burst still alerts: {after:?}"
    );
    assert!(
        after.iter().any(|(d, a)| d == single && a == ALEX),
        "{after:?}"
    );
    assert_eq!(after.len(), before.len() - 1, "{after:?}");

    // A catalogue-wide one silences every detection whose log source has the field.
    let t = append(
        Test::shipped(),
        "detections/rulecast.yaml",
        &exclusion(ALEX, "2099-12-31"),
    );
    let (_, wide) = scanned(t);
    assert!(wide.iter().all(|(_, a)| a != ALEX), "{wide:?}");
    assert!(!wide.is_empty(), "other actors still alert");
}

#[test]
fn the_exclusion_reaches_every_target() {
    let t = append(
        Test::shipped(),
        BURST,
        &exclusion("svc-onboarding@contoso.example", "2099-12-31"),
    );
    let (_t, out) = t.args(["build", "--quiet"]).run();
    let kql = "not(Actor =~ \"svc-onboarding@contoso.example\")";
    for file in [
        "generated/sentinel/rules/entra-roles/eligible-assignment-burst.yaml",
        "generated/sentinel/arm/eligible-assignment-burst.json",
        "generated/azure-monitor/eligible-assignment-burst.json",
    ] {
        let text = out.read(file).replace("\\\"", "\"");
        assert_eq!(text.matches(kql).count(), 1, "{file}:\n{text}");
    }
    let conf = out.read("generated/splunk/rulecast_pim/default/savedsearches.conf");
    let spl = "AND NOT (lower(Actor)==lower(\"svc-onboarding@contoso.example\"))";
    assert_eq!(
        conf.matches(spl).count(),
        1,
        "one search excludes it:\n{conf}"
    );
    let sigma = out
        .read("generated/sigma/rules/entra-roles/correlation_azure_eligible_assignment_burst.yml");
    assert!(
        sigma.contains("    filter_optional_exclusion_actor:\n        Actor:\n            - svc-onboarding@contoso.example\n"),
        "{sigma}"
    );
    assert!(
        sigma.contains("and not 1 of filter_optional_exclusion_*"),
        "{sigma}"
    );
    // Only where it was written.
    let other =
        out.read("generated/sentinel/rules/entra-roles/privileged-role-eligible-assignment.yaml");
    assert!(!other.contains("svc-onboarding"));
}

#[test]
fn test_honours_the_exclusion_and_says_why_a_case_no_longer_alerts() {
    let t = append(Test::shipped(), BURST, &exclusion(ALEX, "2099-12-31"));
    t.args(["test", "--detection", "eligible-assignment-burst"])
        .status(1)
        .stdout_contains("FAIL  four eligible assignments by one admin within 40 minutes")
        .stdout_contains(
            "did not match: excluded by filter_optional_exclusion_actor matched (Actor was \"alex.wilber@contoso.example\")",
        )
        .run();
}

/// An exclusion, locked and built, with `check` on three days.
#[test]
fn check_fails_on_an_expired_exclusion_and_warns_two_weeks_ahead() {
    let t = append(
        Test::minimal(),
        "detections/entra-roles/eligible-assignment-burst.yaml",
        &exclusion("svc-onboarding@contoso.example", "2027-03-31"),
    );
    let (t, _) = t.args(["lock", "--date", "2027-01-01"]).run();
    let (t, _) = t.then().args(["build", "--quiet"]).run();
    let (t, out) = t
        .then()
        .args(["check", "--no-tests", "--date", "2027-03-01"])
        .run();
    assert!(!out.stderr.contains("exclusion"), "{}", out.stderr);
    let (t, _) = t
        .then()
        .args(["check", "--no-tests", "--date", "2027-03-20"])
        .stderr_contains("warning: `entra-roles/eligible-assignment-burst`: the exclusion of Actor = svc-onboarding@contoso.example expires on 2027-03-31 (in 11 days; owner identity-team@contoso.example)")
        .run();
    let (t, _) = t
        .then()
        .args(["check", "--no-tests", "--date", "2027-04-02"])
        .status(1)
        .stderr_contains("error: `entra-roles/eligible-assignment-burst`: the exclusion of Actor = svc-onboarding@contoso.example expired on 2027-03-31 (2 days ago; owner identity-team@contoso.example)")
        .stderr_contains("--> detections/entra-roles/eligible-assignment-burst.yaml:")
        .run();
    // The same finding as a GitHub annotation and in SARIF, on the line of `expires:`.
    let (t, out) = t
        .then()
        .args([
            "check",
            "--no-tests",
            "--date",
            "2027-04-02",
            "--annotations",
            "github",
        ])
        .status(1)
        .run();
    let expires_line = out
        .read(BURST)
        .lines()
        .position(|l| l.contains("expires: 2027-03-31"))
        .unwrap()
        + 1;
    assert!(
        out.stdout.starts_with(&format!("::error title=rulecast check,file={BURST},line={expires_line},col=14::`entra-roles/eligible-assignment-burst`: the exclusion of Actor = svc-onboarding@contoso.example expired on 2027-03-31 (2 days ago; owner identity-team@contoso.example)%0Ahelp: ask identity-team@contoso.example")),
        "{}",
        out.stdout
    );
    let (t, out) = t
        .then()
        .args([
            "check",
            "--no-tests",
            "--date",
            "2027-04-02",
            "--annotations",
            "sarif",
        ])
        .status(1)
        .run();
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        BURST
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        expires_line
    );
    // SOURCE_DATE_EPOCH pins the day as `lock` reads it: 2027-04-02.
    let out = std::process::Command::new(crate::test::BIN)
        .args(["check", "--no-tests"])
        .current_dir(t.root())
        .env("SOURCE_DATE_EPOCH", "1806624000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired on 2027-03-31"));
}

#[test]
fn an_exclusion_is_checked_like_a_selection() {
    let bad = "exclusions:
  - field: Actr|contians
    values: []
    reason: short
    owner: ''
    expires: 2027-02-30
";
    Test::minimal()
        .write(
            "detections/entra-roles/eligible-assignment-burst.yaml",
            &format!(
                "{}{bad}",
                std::fs::read_to_string(
                    repo()
                        .join("tests/fixtures/minimal/entra-roles/eligible-assignment-burst.yaml")
                )
                .unwrap()
            ),
        )
        .args(["check"])
        .status(1)
        .stderr_contains("error: must not be an empty list")
        .stderr_contains("error: must be at least 8 characters long")
        .stderr_contains("error: must not be empty")
        .run();
    let misspelt = exclusion("x@contoso.example", "2027-02-30")
        .replace("field: Actor", "field: Actr|contians");
    append(
        Test::minimal(),
        "detections/entra-roles/eligible-assignment-burst.yaml",
        &misspelt,
    )
    .args(["check"])
    .status(1)
    .stderr_contains("error: unknown modifier `contians`")
    .stderr_contains("error: `2027-02-30` is not a day of the calendar")
    .run();
    // The field is checked once the modifiers are right.
    append(
        Test::minimal(),
        "detections/entra-roles/eligible-assignment-burst.yaml",
        &exclusion("x@contoso.example", "2027-03-01").replace("field: Actor", "field: Actr"),
    )
    .args(["check"])
    .status(1)
    .stderr_contains("error: `Actr` is not a field of log source `entra_auditlogs`")
    .stderr_contains("did you mean `Actor`?")
    .run();
    // A selection may not take the exclusions' names.
    Test::minimal()
        .edit(
            "detections/entra-roles/pim-alert-disabled.yaml",
            "  selection:\n",
            "  filter_optional_exclusion_x:\n    Result: failure\n  selection:\n",
        )
        .args(["check"])
        .status(1)
        .stderr_contains(
            "selection names starting with `filter_optional_exclusion_` are kept for exclusions",
        )
        .run();
}

#[test]
fn a_catalogue_wide_exclusion_names_real_detections() {
    let wide = format!(
        "{}    detections: [eligible-assignment-burts]\n",
        exclusion("x@contoso.example", "2099-01-01")
    );
    append(Test::minimal(), "detections/rulecast.yaml", &wide)
        .args(["check"])
        .status(1)
        .stderr_contains("error: no detection is named `eligible-assignment-burts`")
        .stderr_contains("did you mean `eligible-assignment-burst`?")
        .stderr_contains("--> detections/rulecast.yaml:")
        .run();
    append(
        Test::minimal(),
        "detections/rulecast.yaml",
        &exclusion("x@contoso.example", "2099-01-01").replace("field: Actor", "field: Caller"),
    )
    .args(["check"])
    .status(1)
    .stderr_contains("no log source has a field `Caller`, so the exclusion applies to no detection")
    .run();
}

/// The threshold raised from 4 to 40, locked and built: only the tests can tell.
#[test]
fn check_and_release_gate_on_the_tests() {
    let t =
        Test::shipped()
            .write(".gitignore", "dist/\n")
            .edit(BURST, "  count: 4\n", "  count: 40\n");
    let (t, _) = t.args(["lock", "--date", "2027-01-01"]).run();
    let (t, _) = t.then().args(["build", "--quiet"]).run();
    let (t, _) = t
        .then()
        .args(["check", "--quiet"])
        .status(1)
        .stderr_contains("error: test case \"four eligible assignments by one admin within 40 minutes\" of `entra-roles/eligible-assignment-burst` failed: no alert; Actor=\"alex.wilber@contoso.example\": 4 matching events, at most 4 within 1h; the default tier needs 40")
        .stderr_contains("--> detections/entra-roles/eligible-assignment-burst.tests.yaml:3:")
        .stderr_contains("`rulecast test --detection eligible-assignment-burst` shows every case and why")
        .run();
    let (t, _) = t
        .then()
        .args(["check", "--quiet", "--no-tests"])
        .stderr_contains("valid and locked; generated matches the catalogue\n")
        .run();
    commit_everything(t.root());
    let version = std::fs::read_to_string(t.root().join("detections/rulecast.lock")).unwrap();
    let version: Value = serde_json::from_str(&version).unwrap();
    let version = version["pack_version"].as_str().unwrap().to_owned();
    let (t, out) = t
        .then()
        .args(["release", "--quiet", "--version", &version])
        .status(1)
        .stderr_contains("error: the detections' tests fail (")
        .stderr_contains("rulecast: no release was written")
        .run();
    assert!(!out.path("dist").exists());
    t.then()
        .args(["release", "--quiet", "--version", &version, "--no-tests"])
        .stderr_contains("rulecast: released")
        .run();
}

/// An exclusion added in a pull request: `diff` calls it risky, and the release notes list it.
#[test]
fn diff_calls_a_new_exclusion_risky_and_the_release_notes_list_it() {
    let t = append(
        crate::test::repository(),
        BURST,
        &exclusion("svc-onboarding@contoso.example", "2099-12-31"),
    );
    let (t, _) = t.args(["lock", "--date", "2027-01-01"]).run();
    let (t, _) = t.then().args(["build", "--quiet"]).run();
    let (t, _) = t
        .then()
        .args(["diff", "main"])
        // The comment breaks `@` with a word joiner, so GitHub mentions no one.
        .stdout_contains(&"exclusion added: events with Actor = svc-onboarding@contoso.example no longer alert (owner identity-team@contoso.example, until 2099-12-31: The onboarding service assigns roles in bulk during onboarding weeks.)".replace('@', "@\u{2060}"))
        .run();
    git(t.root(), &["add", "-A"]);
    git(t.root(), &["commit", "-q", "-m", "exclusion"]);
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(t.root().join("detections/rulecast.lock")).unwrap(),
    )
    .unwrap();
    let version = lock["pack_version"].as_str().unwrap().to_owned();
    let (_t, out) = t
        .then()
        .args(["release", "--quiet", "--no-tests", "--version", &version])
        .run();
    let notes = out.read("dist/CHANGELOG.md");
    assert!(notes.contains("### Active exclusions\n\n- "), "{notes}");
    assert!(
        notes.contains("(`eligible-assignment-burst`): Actor = svc-onboarding@contoso.example, until 2099-12-31 (owner identity-team@contoso.example): The onboarding service assigns roles in bulk during onboarding weeks."),
        "{notes}"
    );
}
