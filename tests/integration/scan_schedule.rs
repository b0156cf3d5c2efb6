//! `rulecast scan --schedule TARGET`: the shipped detections replayed as each target's deployed
//! rules run, one alert per incident.
//!
//! The events are rows of tests/fixtures/scan/sample.jsonl (Log Analytics AuditLogs rows in the
//! shape Entra writes them) moved to other times: an eligible Global Administrator assignment
//! by alex (line 7) and a Global Administrator activation by diego (line 24). Every scenario
//! runs against every scheduled target, and each has a near miss.

use serde_json::Value;

use crate::test::{Test, repo};

const TARGETS: [&str; 3] = ["sentinel", "splunk", "azure-monitor"];
const ASSIGNMENT_LINE: usize = 7;
const ACTIVATION_LINE: usize = 24;

/// Line `line` of the sample, at each of `times` (UTC, `2025-04-01T` implied), as JSON lines.
fn moved(line: usize, times: &[&str]) -> String {
    let sample = std::fs::read_to_string(repo().join("tests/fixtures/scan/sample.jsonl")).unwrap();
    let row: Value = serde_json::from_str(sample.lines().nth(line - 1).unwrap()).unwrap();
    times
        .iter()
        .enumerate()
        .map(|(i, time)| {
            let mut row = row.clone();
            let at = format!("2025-04-01T{time}:00Z");
            row["TimeGenerated"] = Value::from(at.clone());
            row["ActivityDateTime"] = Value::from(at);
            row["Id"] = Value::from(format!("moved-{line}-{i}"));
            row["CorrelationId"] = Value::from(format!("moved-{line}-{i}"));
            row.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The replayed alerts of `detection` on `events` for `target`: (run time, start, events).
fn replay(
    target: &str,
    detection: &str,
    events: &str,
    delay: Option<&str>,
) -> Vec<(String, String, u64)> {
    let mut args = vec![
        "scan".to_owned(),
        "--logs".to_owned(),
        "events.jsonl".to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        "--detection".to_owned(),
        detection.to_owned(),
        "--schedule".to_owned(),
        target.to_owned(),
    ];
    if let Some(delay) = delay {
        args.extend(["--ingestion-delay".to_owned(), delay.to_owned()]);
    }
    let (_t, out) = Test::shipped()
        .write("events.jsonl", events)
        .args(args)
        .run();
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let backtest = &report["summary"]["backtest"];
    assert_eq!(backtest["target"], target);
    let alerts: Vec<(String, String, u64)> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["run_time"].as_str().unwrap().to_owned(),
                a["start"].as_str().unwrap().to_owned(),
                a["event_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backtest["detections"][0]["alerts"].as_u64(),
        Some(alerts.len() as u64),
        "the backtest counts the alerts printed"
    );
    alerts
}

const BURST: &str = "eligible-assignment-burst";
const TIER0: &str = "privileged-role-eligible-assignment";
const REPEATED: &str = "role-activated-repeatedly";

#[test]
fn one_burst_is_one_alert_and_three_assignments_none() {
    let burst = moved(ASSIGNMENT_LINE, &["10:05", "10:15", "10:30", "10:45"]);
    let near_miss = moved(ASSIGNMENT_LINE, &["10:05", "10:15", "10:30"]);
    for target in TARGETS {
        let alerts = replay(target, BURST, &burst, None);
        assert_eq!(alerts.len(), 1, "{target}: {alerts:?}");
        assert_eq!(alerts[0].2, 4, "{target}");
        assert!(
            replay(target, BURST, &near_miss, None).is_empty(),
            "{target}"
        );
    }
}

#[test]
fn a_burst_across_run_boundaries_is_one_alert_and_one_spread_out_none() {
    // Eight assignments every 15 minutes over two hours: windows close in three hourly runs
    // (and eight quarter-hour ones), all one episode.
    let straddling = moved(
        ASSIGNMENT_LINE,
        &[
            "10:20", "10:35", "10:50", "11:05", "11:20", "11:35", "11:50", "12:05",
        ],
    );
    // Near miss: four assignments over 61 minutes never fit one 60-minute window.
    let spread = moved(ASSIGNMENT_LINE, &["10:50", "11:10", "11:30", "11:51"]);
    for target in TARGETS {
        let alerts = replay(target, BURST, &straddling, None);
        assert_eq!(alerts.len(), 1, "{target}: {alerts:?}");
        assert_eq!(alerts[0].1, "2025-04-01T10:20:00Z", "{target}");
        assert!(replay(target, BURST, &spread, None).is_empty(), "{target}");
    }
}

#[test]
fn events_arriving_late_within_the_margin_alert_once() {
    // 20 minutes late, within the default 30-minute ingestion delay: the burst and the single
    // Tier 0 assignment are each alerted once, by the run they arrived for.
    let burst = moved(ASSIGNMENT_LINE, &["10:05", "10:15", "10:30", "10:50"]);
    let single = moved(ASSIGNMENT_LINE, &["10:52"]);
    for target in TARGETS {
        let on_time = replay(target, BURST, &burst, None);
        let late = replay(target, BURST, &burst, Some("20m"));
        assert_eq!((on_time.len(), late.len()), (1, 1), "{target}: {late:?}");
        assert!(late[0].0 >= on_time[0].0, "{target}: never an earlier run");
        assert_eq!(late[0].2, 4, "{target}: the whole window is read");
        assert_eq!(
            replay(target, TIER0, &single, Some("20m")).len(),
            1,
            "{target}"
        );
    }
}

#[test]
fn events_later_than_the_margin_are_missed_by_the_burst() {
    // The near miss of the test above: 3 hours late is far beyond the look-back, so the
    // burst's first event has left every run's data by the time the last one arrives.
    let burst = moved(ASSIGNMENT_LINE, &["10:05", "10:15", "10:30", "10:50"]);
    for target in TARGETS {
        assert!(
            replay(target, BURST, &burst, Some("3h")).is_empty(),
            "{target}"
        );
    }
}

#[test]
fn a_single_tier0_assignment_is_one_alert_and_a_reader_none() {
    let single = moved(ASSIGNMENT_LINE, &["10:59"]);
    // Reader, by name and by its role template id.
    let reader = single
        .replace("\"Global Administrator\"", "\"Reader\"")
        .replace(
            "62e90394-69f5-4237-9190-012177145e10",
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        );
    assert_ne!(single, reader);
    for target in TARGETS {
        let alerts = replay(target, TIER0, &single, None);
        assert_eq!(alerts.len(), 1, "{target}: {alerts:?}");
        assert!(replay(target, TIER0, &reader, None).is_empty(), "{target}");
    }
}

#[test]
fn repeated_activations_are_one_alert_and_two_none() {
    // Five activations of one role over nine hours: one pattern, one alert, though windows
    // close in several hourly runs and the look-back is a day. The alert is raised by the run
    // its first window (the third activation) arrived for, and lists what that run read; the
    // later windows belong to the episode already alerted and are not reported again.
    let repeated = moved(
        ACTIVATION_LINE,
        &["08:10", "10:40", "13:05", "15:30", "17:15"],
    );
    let twice = moved(ACTIVATION_LINE, &["08:10", "17:15"]);
    for target in TARGETS {
        let alerts = replay(target, REPEATED, &repeated, None);
        assert_eq!(alerts.len(), 1, "{target}: {alerts:?}");
        assert_eq!(alerts[0].2, 3, "{target}");
        assert!(
            replay(target, REPEATED, &twice, None).is_empty(),
            "{target}"
        );
    }
}

#[test]
fn the_sample_replays_to_the_alerts_of_a_plain_scan() {
    let logs = repo().join("tests/fixtures/scan/sample.jsonl");
    for target in TARGETS {
        let (_t, out) = Test::shipped()
            .args([
                "scan",
                "--logs",
                logs.to_str().unwrap(),
                "--schedule",
                target,
            ])
            .stderr_contains(": 10 alerts")
            .stdout_contains(&format!(
                "backtest: {target}, ingestion delay none, over 1 day"
            ))
            .run();
        let runs = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("  run       2025-04-01T"))
            .count();
        assert_eq!(runs, 10, "{target}");
    }
}

#[test]
fn a_target_without_a_schedule_is_refused() {
    let logs = repo().join("tests/fixtures/scan/sample.jsonl");
    Test::shipped()
        .args([
            "scan",
            "--logs",
            logs.to_str().unwrap(),
            "--schedule",
            "sigma",
        ])
        .status(2)
        .stderr_contains("error: --schedule sigma: its rules have no schedule of their own")
        .run();
}

/// The rules a build renders carry the newest-window logic the replay models: each reads the
/// look-back and reports what arrived since the run before.
#[test]
fn the_generated_rules_report_only_what_is_new() {
    let (_t, t) = Test::shipped().args(["build"]).run();
    // Burst: window 1h, frequency 1h, ingestion delay 30m, so a look-back of 150m.
    let sentinel = t.read("generated/sentinel/rules/entra-roles/eligible-assignment-burst.yaml");
    for line in [
        "queryFrequency: \"1h\"",
        "queryPeriod: \"155m\"",
        "  | where TimeGenerated > ago(155m)",
        "  | where ingestion_time() <= ago(5m)",
        "  | extend _rc_ingested = ingestion_time()",
        "  | summarize _rc_first = min(_rc_start), _rc_last = max(TimeGenerated), _rc_arrived = min(_rc_ingested) by Actor, _rc_episode",
        "  | where _rc_arrived > ago(65m);",
        "      - Actor",
    ] {
        assert!(
            sentinel.contains(&format!("{line}\n")),
            "sentinel lacks {line:?}"
        );
    }
    // A single event: arrived in the frequency before the scheduled time (15m, 5m late).
    let single = t.read("generated/sentinel/rules/entra-roles/pim-alert-disabled.yaml");
    assert!(
        single.contains("  | where ingestion_time() > ago(20m) and ingestion_time() <= ago(5m)\n")
    );
    let monitor: Value =
        serde_json::from_str(&t.read("generated/azure-monitor/eligible-assignment-burst.json"))
            .unwrap();
    let properties = &monitor["resources"][0]["properties"];
    let query = properties["criteria"]["allOf"][0]["query"]
        .as_str()
        .unwrap();
    assert!(
        query.contains("\n| where TimeGenerated > ago(150m)\n"),
        "{query}"
    );
    assert!(
        query.contains("\n| where _rc_arrived > ago(1h);\n"),
        "{query}"
    );
    assert!(
        !query.contains("<= ago("),
        "Azure Monitor evaluates without a delay"
    );
    assert_eq!(properties["evaluationFrequency"], "PT1H");
    assert_eq!(properties["autoMitigate"], true);
    assert_eq!(
        properties["criteria"]["allOf"][0]["dimensions"][0]["name"],
        "Actor"
    );
    let splunk = t.read("generated/splunk/rulecast_pim/default/savedsearches.conf");
    let stanza = splunk
        .split("\n[")
        .find(|s| s.starts_with("rulecast PIM - Burst of role assignments by one account]"))
        .expect("the burst's stanza");
    for line in [
        "| addinfo\\",
        "| where _indextime<info_max_time\\",
        "dispatch.earliest_time = -155m@m",
        "dispatch.latest_time = -5m@m",
        "realtime_schedule = 0",
        "alert.suppress = 1",
        "alert.suppress.fields = Actor",
        "alert.suppress.period = 150m",
    ] {
        assert!(
            stanza.contains(&format!("\n{line}\n")),
            "splunk lacks {line:?}"
        );
    }
    assert!(
        stanza.contains("_rc_arrived>=info_max_time-3600"),
        "{stanza}"
    );
}
