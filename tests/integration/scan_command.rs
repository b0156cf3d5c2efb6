//! `rulecast scan` over tests/fixtures/scan/sample.jsonl: two hours of a tenant's AuditLogs and
//! AzureActivity rows with seven attacks among routine activity.
//!
//! The attacks: a burst of four eligible assignments by alex (lines 7-10, two of them Global
//! Administrator), a Global Administrator assigned directly in the directory (12), Owner
//! assigned through ARM (15 Start, 16 Success of one operation: one alert for the pair), MFA on
//! activation disabled for Global Administrator (18; the Tier 0 drift detection reports it, with
//! what was weakened, and the any-role detection stays quiet), elevate access (21), PIM's
//! stale-accounts alert written as a diagnostic record (22), a PIM alert resolved by a person
//! (23), and one Global Administrator activated three times (24, 26, 28). The routine activity
//! must raise nothing: PIM's own directory writes (no application id, PIM's service principal),
//! a Security Reader made eligible, a Reader assignment, a hardening of role settings, a
//! SigninLogs row.

use serde_json::Value;

use crate::test::{Test, repo};

const SAMPLE: &str = "tests/fixtures/scan/sample.jsonl";

/// (detection, first event time, event count, positions of the events, the actor or group).
fn alerts(report: &Value) -> Vec<(String, String, u64, Vec<u64>, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let who = match a.get("group") {
                Some(group) => group
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|v| v.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(" / "),
                None => a["fields"]
                    .get("Actor")
                    .or_else(|| a["fields"].get("Caller"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            (
                a["detection"]["name"].as_str().unwrap().to_owned(),
                a["start"].as_str().unwrap().to_owned(),
                a["event_count"].as_u64().unwrap(),
                a["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["position"].as_u64().unwrap())
                    .collect(),
                who,
            )
        })
        .collect()
}

fn expected() -> Vec<(String, String, u64, Vec<u64>, String)> {
    let alert = |name: &str, start: &str, count: u64, positions: &[u64], who: &str| {
        (
            name.to_owned(),
            start.to_owned(),
            count,
            positions.to_vec(),
            who.to_owned(),
        )
    };
    vec![
        alert(
            "entra-roles/privileged-role-eligible-assignment",
            "2025-04-01T08:10:00.007919Z",
            1,
            &[7],
            "alex.wilber@contoso.example",
        ),
        alert(
            "entra-roles/privileged-role-eligible-assignment",
            "2025-04-01T08:31:14.0245503Z",
            1,
            &[9],
            "alex.wilber@contoso.example",
        ),
        alert(
            "pim-alerts/roles-assigned-outside-pim",
            "2025-04-01T09:02:03.0490981Z",
            1,
            &[12],
            "lynne.robbins@contoso.example",
        ),
        alert(
            "baselines/entra-role-settings-drift",
            "2025-04-01T09:28:44.0696916Z",
            1,
            &[18],
            "alex.wilber@contoso.example",
        ),
        alert(
            "elevated-access/global-admin-elevated-access",
            "2025-04-01T09:50:30.087112Z",
            1,
            &[21],
            "lynne.robbins@contoso.example",
        ),
        alert(
            "pim-alerts/stale-accounts-alert",
            "2025-04-01T10:00:41.0950321Z",
            1,
            &[22],
            "MS-PIM",
        ),
        alert(
            "entra-roles/pim-alert-disabled",
            "2025-04-01T10:05:00.0989875Z",
            1,
            &[23],
            "adele.vance@contoso.example",
        ),
        alert(
            "entra-roles/eligible-assignment-burst",
            "2025-04-01T08:10:00.007919Z",
            4,
            &[7, 8, 9, 10],
            "alex.wilber@contoso.example",
        ),
        alert(
            "pim-alerts/azure-owner-assigned-outside-pim",
            "2025-04-01T09:10:01.0554331Z",
            2,
            &[15, 16],
            "256752e9-81c3-5c38-b418-dfc2f5b9aa4e / /SUBSCRIPTIONS/4F1B7C2E-9D3A-4C58-8E61-0A2B3C4D5E6F/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/E0D1D4A7-0F1B-534F-8137-2C513084E8F0",
        ),
        alert(
            "pim-alerts/role-activated-repeatedly",
            "2025-04-01T10:10:00.102947Z",
            3,
            &[24, 26, 28],
            "diego.siciliani@contoso.example / Global Administrator",
        ),
    ]
}

#[test]
fn the_sample_raises_exactly_the_expected_alerts() {
    let logs = repo().join(SAMPLE);
    let (_t, out) = Test::shipped()
        .args(["scan", "--logs", logs.to_str().unwrap(), "--format", "json"])
        .stderr_contains("warning: 1 record of category SigninLogs (Log Analytics row) skipped: no log source of the catalogue reads it")
        .stderr_contains("  Log Analytics row: 28 records, 27 recognised (5 azure_activity, 22 entra_auditlogs), 1 skipped\n")
        .stderr_contains("  diagnostic-setting record: 1 record, 1 recognised (1 entra_auditlogs)\n")
        .stderr_contains("scanned 29 records of ")
        .stderr_contains(": 10 alerts")
        .run();
    let report: Value =
        serde_json::from_str(&out.stdout).expect("scan --format json prints one JSON document");
    assert_eq!(alerts(&report), expected());
    let summary = &report["summary"];
    assert_eq!(summary["records"], 29);
    assert_eq!(
        (summary["recognised"].as_u64(), summary["skipped"].as_u64()),
        (Some(28), Some(1))
    );
    assert_eq!(
        summary["shapes"][0]["skipped"]["other_category"]["SigninLogs"],
        1
    );
    assert_eq!(report["alerts"][0]["events"][0]["line"], 7);
    assert_eq!(report["alerts"][0]["events"][0]["offset"], lines_before(7));
    let weakened = &report["alerts"][3];
    assert_eq!(
        weakened["findings"],
        serde_json::json!([
            "MFA no longer required",
            "maximum activation raised above 8 hours"
        ])
    );
    assert_eq!(
        weakened["fields"]["ResultReason"],
        "Setting changes in this session: MFA on activation requirement disabled. Maximum activation duration updated to 24:00:00."
    );
}

#[test]
fn the_text_report_names_who_what_and_which_events() {
    let logs = repo().join(SAMPLE);
    Test::shipped()
        .args(["scan", "--logs", logs.to_str().unwrap(), "--detection", "eligible-assignment-burst"])
        .stdout(
            "high  entra-roles/eligible-assignment-burst: Burst of role assignments by one account
  when      2025-04-01T08:10:00.007919Z .. 2025-04-01T08:46:21.0364295Z, 4 events (default tier: 4 within 1h)
  actor     alex.wilber@contoso.example
  target    diego.siciliani@contoso.example (+3 more)
  role      Helpdesk Administrator (+2 more)
  ip        198.51.100.45
  events    line 7 PIM_0b2d0028-928f-5360-b406-97409ca53574 at 2025-04-01T08:10:00.007919Z
            line 8 PIM_a7500e50-dbb8-58d4-bb0c-315a1980b07d at 2025-04-01T08:18:07.0142549Z
            line 9 PIM_16b099f3-ef65-5905-a978-09d782332247 at 2025-04-01T08:31:14.0245503Z
            line 10 PIM_e0b09b74-c87e-507c-923c-ae39779efa7d at 2025-04-01T08:46:21.0364295Z

",
        )
        .run();
}

#[test]
fn arrays_and_portal_exports_give_the_same_alerts() {
    let lines = std::fs::read_to_string(repo().join(SAMPLE)).unwrap();
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let array = serde_json::to_string_pretty(&events).unwrap();
    let export = serde_json::to_string_pretty(&serde_json::json!({ "@odata.context": "https://api.loganalytics.io/v1/$metadata", "value": events })).unwrap();
    let t = Test::shipped()
        .write("events.json", &array)
        .write("export.json", &export);
    let (t, out) = t
        .args(["scan", "--logs", "events.json", "--format", "json"])
        .run();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        alerts(&report),
        expected(),
        "a JSON array: positions are element numbers"
    );
    let (_t, out) = t
        .then()
        .args([
            "scan",
            "--logs",
            "export.json",
            "--format",
            "json",
            "--threads",
            "1",
        ])
        .run();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(alerts(&report), expected(), "an object with a value array");
}

/// The byte offset of line `n` of the sample.
fn lines_before(n: usize) -> u64 {
    let sample = std::fs::read_to_string(repo().join(SAMPLE)).unwrap();
    sample.lines().take(n - 1).map(|l| l.len() as u64 + 1).sum()
}

#[test]
fn unreadable_input_is_reported() {
    Test::shipped()
        .write("log.jsonl", "{\"TimeGenerated\":\"2025-01-01T00:00:00Z\",\"Type\":\"AuditLogs\"}\nnot json\n\n[1]\n")
        .args(["scan", "--logs", "log.jsonl"])
        .stderr_contains("warning: 2 records not a JSON object, skipped (first: line 2, byte 60: not a JSON object: expected ident at line 1 column 2)")
        .stderr_contains("scanned 3 records of log.jsonl (")
        .stdout("")
        .run();
    Test::shipped()
        .write("log.csv", "TimeGenerated,Category\n")
        .args(["scan", "--logs", "log.csv"])
        .status(4)
        .stderr_contains("error: no record of log.csv was recognised (0 records read); the catalogue reads Log Analytics row (keys TimeGenerated or Type); Log Analytics \"Export to CSV\" (CSV columns TimeGenerated [UTC] or TimeGenerated or Type); diagnostic-setting record (keys time and category)")
        .run();
    Test::shipped()
        .write("log.txt", "just some words\n")
        .args(["scan", "--logs", "log.txt"])
        .status(3)
        .stderr_contains("error: cannot scan log.txt: the input is neither JSON (lines, arrays, {\"value\"}, {\"records\"} or {\"tables\"} objects) nor CSV with a header row; it starts with `just some words\\n`")
        .run();
    Test::shipped()
        .write("broken.json", "[\n{\"TimeGenerated\":\"2025-01-01T00:00:00Z\",\"Type\":\"AuditLogs\"}\n{\"Type\":\"AuditLogs\"}]")
        .args(["scan", "--logs", "broken.json"])
        .status(3)
        .stderr_contains("error: cannot scan broken.json: line 3 (byte 62): expected `,` or `]` after an element of the array, found `{`")
        .run();
    Test::shipped()
        .args(["scan", "--logs", "missing.jsonl"])
        .status(3)
        .stderr_contains("error: cannot scan missing.jsonl:")
        .run();
}
