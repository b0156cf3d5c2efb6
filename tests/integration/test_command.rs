//! `rulecast test`: the shipped catalogue passes, and a broken rule or a missing case fails
//! with a reason that points at the problem.

use crate::test::Test;
use crate::test_files::PIM_ALERT_CASES;

const PIM_ALERT_TESTS: &str = "detections/entra-roles/pim-alert-disabled.tests.yaml";

#[test]
fn the_shipped_catalogue_passes_every_case() {
    let (_t, out) = Test::shipped()
        .args(["test"])
        .stdout_contains("  ok    ")
        .stderr_lacks("error")
        .run();
    let summary = out.stdout.lines().last().unwrap();
    assert!(summary.starts_with("21 detections, "), "{summary}");
    assert!(
        summary
            .ends_with(" 0 failed; 0 detections lack a case that must alert or one that must not"),
        "{summary}"
    );
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
}

#[test]
fn a_rule_that_no_longer_fires_fails_with_the_field_and_value() {
    Test::shipped()
        .edit("detections/entra-roles/pim-alert-disabled.yaml", "ActivityDisplayName: Disable PIM alert", "ActivityDisplayName: Disable PIM alerts")
        .args(["test", "--detection", "pim-alert-disabled"])
        .status(1)
        .stdout_contains("  FAIL  an admin disables the \"MFA not required for activation\" alert\n")
        .stdout_contains("        at detections/entra-roles/pim-alert-disabled.tests.yaml:3:5\n")
        .stdout_contains("        no alert\n")
        .stdout_contains(
            "        event 1 (2025-03-04T14:21:07.553Z) did not match: selection_disabled: ActivityDisplayName was \"Disable PIM alert\", expected Disable PIM alerts; selection_setting: ActivityDisplayName was \"Disable PIM alert\", expected Update PIM alert setting; selection_by_hand: ActivityDisplayName was \"Disable PIM alert\", expected one of Deactivate PIM alert, Resolve PIM alert\n",
        )
        .stdout_contains("1 detection, 9 cases: 7 passed, 2 failed;")
        .run();
}

#[test]
fn a_rule_that_fires_on_a_near_miss_fails_with_what_matched() {
    Test::shipped()
        .edit("detections/pim-alerts/role-activated-repeatedly.yaml", "count: 3", "count: 2")
        .args(["test", "--detection", "pim-alerts/role-activated-repeatedly"])
        .status(1)
        .stdout_contains("  FAIL  two activations, one under the threshold\n")
        .stdout_contains("        raised 1 alert; this case must not alert\n")
        .stdout_contains(
            "        TargetUser=\"diego.siciliani@contoso.example\", RoleName=\"Global Administrator\": 2 events from 2025-03-24T08:02:19.512Z to 2025-03-24T11:47:03Z reached the default tier (2 within 1d)\n",
        )
        .run();
}

#[test]
fn a_detection_without_a_near_miss_fails() {
    let only_positive = PIM_ALERT_CASES
        .split("  - name: the same activity")
        .next()
        .unwrap();
    Test::minimal()
        .write(PIM_ALERT_TESTS, only_positive)
        .args(["test", "--detection", "pim-alert-disabled"])
        .status(1)
        .stdout_contains("  ok    an admin disables a PIM alert (1 alert)\n")
        .stdout_contains(
            "  FAIL  no case with expect_alert: false (a near miss that must not alert)\n",
        )
        .stdout_contains("1 detection lack a case")
        .run();
    Test::minimal()
        .args(["test", "--detection", "eligible-assignment-burst"])
        .status(1)
        .stdout_contains(
            "  FAIL  no case with expect_alert: true (events that must raise an alert)\n",
        )
        .run();
}

#[test]
fn cases_may_be_inline_or_read_from_json_lines() {
    let inline = "tests:\n  - name: inline positive\n    expect_alert: true\n    events:\n      - { TimeGenerated: \"2025-01-01T10:00:00Z\", Category: RoleManagement, ActivityDisplayName: Disable PIM alert }\n  - name: from a file\n    expect_alert: false\n    events_file: near-misses.jsonl\n";
    let rows = "{\"TimeGenerated\":\"2025-01-01T10:00:00Z\",\"Category\":\"ResourceManagement\",\"ActivityDisplayName\":\"Disable PIM alert\"}\n\n{\"TimeGenerated\":\"2025-01-01T10:05:00Z\",\"Category\":\"RoleManagement\",\"ActivityDisplayName\":\"Enable PIM alert\"}\n";
    let (t, _) = Test::minimal()
        .edit(
            "detections/entra-roles/pim-alert-disabled.yaml",
            "author: tests\n",
            &format!("author: tests\n{inline}"),
        )
        .write("detections/entra-roles/near-misses.jsonl", rows)
        .args(["test", "--detection", "pim-alert-disabled"])
        .stdout_contains("  ok    inline positive (1 alert)\n")
        .stdout_contains("  ok    from a file (no alert)\n")
        .run();
    t.then()
        .write("detections/entra-roles/near-misses.jsonl", "{\"TimeGenerated\":\"2025-01-01T10:00:00Z\"}\n{\"broken\":\n")
        .args(["test", "--detection", "pim-alert-disabled"])
        .status(1)
        .stdout_contains("  FAIL  from a file\n")
        .stdout_contains("detections/entra-roles/near-misses.jsonl:2:10: invalid JSON: EOF while parsing a value\n")
        .run();
}

#[test]
fn deprecated_detections_are_exempt_and_say_so() {
    let burst = std::fs::read_to_string(
        crate::test::repo()
            .join("tests/fixtures/minimal/entra-roles/eligible-assignment-burst.yaml"),
    )
    .unwrap();
    let retired = burst
        .replace("id: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "id: 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b")
        .replace("title: Burst of eligible assignments", "title: Old burst of eligible assignments")
        .replace("status: test", "status: deprecated\ndeprecation: { reason: Replaced by a tiered threshold., date: '2026-01-02', replaced_by: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d }");
    Test::minimal()
        .write("detections/entra-roles/old-burst.yaml", &retired)
        .args(["test", "--detection", "old-burst"])
        .stdout_contains("  note  no case with expect_alert: true")
        .stdout_contains("        deprecated: exempt from needing a case that must alert and one that must not\n")
        .stdout_contains("0 detections lack a case")
        .run();
}

#[test]
fn junit_and_json_reports_carry_the_failures() {
    let t = Test::shipped().edit(
        "detections/entra-roles/pim-alert-disabled.yaml",
        "ActivityDisplayName: Disable PIM alert",
        "ActivityDisplayName: Disable PIM <alerts>",
    );
    let (t, out) = t
        .args([
            "test",
            "--format",
            "junit",
            "--detection",
            "pim-alert-disabled",
        ])
        .status(1)
        .run();
    assert!(out.stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rulecast\" tests=\"9\" failures=\"2\">"), "{}", out.stdout);
    assert!(
        out.stdout.contains("<failure message=\"no alert\">"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ActivityDisplayName was &quot;Disable PIM alert&quot;, expected Disable PIM &lt;alerts&gt;"), "{}", out.stdout);
    let (_t, out) = t
        .then()
        .args([
            "test",
            "--format",
            "json",
            "--detection",
            "pim-alert-disabled",
        ])
        .status(1)
        .run();
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("--format json prints JSON");
    assert_eq!(report["passed"], false);
    assert_eq!(report["summary"]["failed"], 2);
    let case = &report["detections"][0]["cases"][2];
    assert_eq!(
        case["name"],
        "the same activity for Azure resources (ResourceManagement) belongs to another detection"
    );
    assert_eq!(case["passed"], true);
    assert_eq!(
        report["detections"][0]["cases"][0]["failures"][0],
        "no alert"
    );
}

#[test]
fn alerts_are_reported_with_their_events() {
    let (_t, out) = Test::shipped()
        .args([
            "test",
            "--format",
            "json",
            "--detection",
            "eligible-assignment-burst",
        ])
        .run();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let alert = &report["detections"][0]["cases"][0]["alerts"][0];
    assert_eq!(alert["group"]["Actor"], "alex.wilber@contoso.example");
    assert_eq!(
        alert["tier"],
        serde_json::json!({ "name": "default", "required": 4 })
    );
    assert_eq!(alert["event_count"], 4);
    assert_eq!(
        alert["events"][0]["id"],
        "PIM_b7af2505-3459-4e50-b81b-88316b897168"
    );
    assert_eq!(alert["fields"]["RoleName"], "Global Administrator");
}

#[test]
fn an_unknown_detection_is_a_usage_error() {
    Test::shipped()
        .args(["test", "--detection", "pim-alert-disabld"])
        .status(2)
        .stderr_contains("no detection is named `pim-alert-disabld`")
        .stderr_contains("did you mean `pim-alert-disabled`?")
        .run();
}
