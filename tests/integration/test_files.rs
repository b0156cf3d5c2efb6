//! Loading `<slug>.tests.yaml`: schema-checked, attached to its detection, never a detection itself.

use crate::test::Test;

const PIM_ALERT_TESTS: &str = "detections/entra-roles/pim-alert-disabled.tests.yaml";

/// A test file with one case per verdict; the events share their fields through a merge key.
pub(crate) const PIM_ALERT_CASES: &str = r#"tests:
  - name: an admin disables a PIM alert
    expect_alert: true
    events:
      - &disable
        TimeGenerated: "2025-01-01T10:00:00Z"
        Category: RoleManagement
        ActivityDisplayName: Disable PIM alert
        Result: success
        InitiatedBy: { user: { userPrincipalName: admin@contoso.example, ipAddress: 203.0.113.10 } }
  - name: the same activity for an Azure resource
    expect_alert: false
    events:
      - <<: *disable
        Category: ResourceManagement
"#;

#[test]
fn a_test_file_is_loaded_with_its_detection_not_as_one() {
    Test::minimal()
        .write(PIM_ALERT_TESTS, PIM_ALERT_CASES)
        .args(["list"])
        .stdout_contains("guide rows covered: 2 of 2")
        .run();
    Test::minimal()
        .write(PIM_ALERT_TESTS, PIM_ALERT_CASES)
        .args(["build"])
        .stderr_contains("for 2 detections")
        .run();
}

#[test]
fn a_test_file_without_a_detection_is_reported() {
    Test::minimal()
        .write("detections/entra-roles/pim-alerts-disabled.tests.yaml", PIM_ALERT_CASES)
        .args(["check"])
        .status(1)
        .stderr_contains("this test file has no detection: `detections/entra-roles/pim-alerts-disabled.yaml` does not exist")
        .stderr_contains("--> detections/entra-roles/pim-alerts-disabled.tests.yaml")
        .stderr_contains("did you mean to name it after `pim-alert-disabled.yaml`?")
        .run();
}

#[test]
fn a_test_file_is_schema_checked_with_positions() {
    Test::minimal()
        .write(
            PIM_ALERT_TESTS,
            &PIM_ALERT_CASES.replace("    expect_alert: false", "    expect_alerts: false"),
        )
        .args(["check"])
        .status(1)
        .stderr_contains("unknown key `expect_alerts`")
        .stderr_contains("--> detections/entra-roles/pim-alert-disabled.tests.yaml:12:5")
        .stderr_contains("did you mean `expect_alert`?")
        .run();
}

#[test]
fn every_event_needs_a_time() {
    Test::minimal()
        .write(
            PIM_ALERT_TESTS,
            &PIM_ALERT_CASES.replace(
                r#"TimeGenerated: "2025-01-01T10:00:00Z""#,
                "TimeGenerated: yesterday",
            ),
        )
        .args(["check"])
        .status(1)
        .stderr_contains("`TimeGenerated` is not a date-time")
        .stderr_contains("--> detections/entra-roles/pim-alert-disabled.tests.yaml:6:24")
        .run();
    Test::minimal()
        .write(
            PIM_ALERT_TESTS,
            &PIM_ALERT_CASES.replace("TimeGenerated: \"2025-01-01T10:00:00Z\"\n        ", ""),
        )
        .args(["check"])
        .status(1)
        .stderr_contains("the event has no `TimeGenerated`")
        .run();
}

#[test]
fn a_case_needs_events_from_one_place() {
    Test::minimal()
        .write(
            PIM_ALERT_TESTS,
            "tests:\n  - name: nothing\n    expect_alert: true\n",
        )
        .args(["check"])
        .status(1)
        .stderr_contains("test `nothing` has no events")
        .stderr_contains("--> detections/entra-roles/pim-alert-disabled.tests.yaml:2:5")
        .run();
    Test::minimal()
        .write(PIM_ALERT_TESTS, "tests:\n  - name: missing file\n    expect_alert: true\n    events_file: nowhere.jsonl\n")
        .args(["check"])
        .status(1)
        .stderr_contains("`nowhere.jsonl` does not exist next to the detection")
        .run();
}
