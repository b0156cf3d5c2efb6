//! The evaluator against small catalogues: field values read from arrays and nested objects,
//! conditions with `not`, `1 of` and `all of`, and threshold windows at their edges.

use serde_json::{Value, json};

use super::convert::to_diagnostic_record;
use super::hit::EventRef;
use super::replay::{Replay, replay};
use super::window::{ThresholdPlan, ThresholdRun};
use super::{Engine, Hit, Shape};
use crate::catalogue::Catalogue;
use crate::timestamp::Timestamp;

/// The catalogue of tests/fixtures/minimal plus `extra` files, in a temporary folder.
fn catalogue(extra: &[(&str, &str)]) -> (tempfile::TempDir, Catalogue) {
    crate::test_support::catalogue(&[], extra)
}

/// A detection named `name` over the fixture's log source, with `logic` as its detection block.
fn detection(name: &str, logic: &str) -> String {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes());
    format!(
        "id: {id}\nversion: 1\ntitle: {name}\nstatus: test\ndescription: Logic under test.\n\
         guide_rows: [entra-role-add-eligible]\nrisk: high\nseverity: high\nattack: {{ tactics: [Persistence], techniques: [T1098] }}\n\
         logsource: entra_auditlogs\ndetection:\n{logic}\nschedule: {{ frequency: 1h }}\nentities: {{ actor: Actor, role: RoleName }}\n\
         false_positives: [None known]\nreferences: ['https://example.test']\nauthor: tests\ndate: '2026-01-01'\n"
    )
}

fn index(catalogue: &Catalogue, slug: &str) -> usize {
    catalogue
        .detections
        .iter()
        .position(|d| d.slug == slug)
        .unwrap()
}

fn run(catalogue: &Catalogue, slug: &str, events: &[Value]) -> Replay {
    let engine = Engine::new(catalogue, |_| true);
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    replay(
        &engine,
        index(catalogue, slug),
        Shape::LOG_ANALYTICS,
        &texts,
    )
    .unwrap()
}

/// A PIM "Add eligible member" row by `actor` at `time`.
fn eligible(time: &str, actor: &str) -> Value {
    json!({
        "TimeGenerated": time,
        "Category": "RoleManagement",
        "ActivityDisplayName": "Add eligible member to role in PIM completed (timebound)",
        "Result": "success",
        "InitiatedBy": { "user": { "userPrincipalName": actor, "ipAddress": "203.0.113.10" } },
        "TargetResources": [
            { "type": "Role", "displayName": "Global Administrator", "id": "62e90394-69f5-4237-9190-012177145e10" },
            { "type": "User", "displayName": "Alice", "userPrincipalName": "alice@contoso.example" }
        ]
    })
}

/// Field values of a row, by field name.
fn fields(catalogue: &Catalogue, row: &Value, shape: Shape) -> Vec<(String, Option<String>)> {
    let engine = Engine::new(catalogue, |_| true);
    let plan = &engine.sources[0];
    let text = match shape {
        Shape::LOG_ANALYTICS => row.to_string(),
        _ => to_diagnostic_record(plan, row.as_object().unwrap()).to_string(),
    };
    let found = engine.read(&text).unwrap();
    let record = engine.record(&found, shape, 0);
    (0..plan.field_count())
        .map(|i| {
            (
                plan.field_name(i).to_owned(),
                record.field(i).map(|v| v.as_str().to_owned()),
            )
        })
        .collect()
}

fn field<'a>(values: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_deref())
}

#[test]
fn fields_come_from_elements_by_type_not_position() {
    let (_dir, catalogue) = catalogue(&[]);
    let row = json!({
        "TimeGenerated": "2025-01-01T10:00:00Z",
        "InitiatedBy": { "user": { "userPrincipalName": "admin@contoso.example", "ipAddress": null } },
        "AdditionalDetails": [{ "key": "RequestId", "value": "r-1" }, { "key": "IPADDR", "value": "198.51.100.7" }],
        "TargetResources": [
            { "type": "Request", "id": "r-1" },
            { "type": "user", "displayName": "Alice", "userPrincipalName": "" },
            { "type": "ROLE", "displayName": "Security Administrator", "id": "194ae4cb-b126-40b2-bd5b-6091b380977d" }
        ]
    });
    let values = fields(&catalogue, &row, Shape::LOG_ANALYTICS);
    assert_eq!(
        field(&values, "RoleName"),
        Some("Security Administrator"),
        "element where type =~ Role"
    );
    assert_eq!(
        field(&values, "RoleId"),
        Some("194ae4cb-b126-40b2-bd5b-6091b380977d")
    );
    assert_eq!(
        field(&values, "TargetUser"),
        Some("Alice"),
        "an empty UPN falls through to the display name"
    );
    assert_eq!(
        field(&values, "ActorIpAddress"),
        Some("198.51.100.7"),
        "null ipAddress falls through to the ipaddr detail"
    );
    assert_eq!(
        field(&values, "PrimaryTargetName"),
        None,
        "element 0 has no displayName"
    );
    assert_eq!(field(&values, "Actor"), Some("admin@contoso.example"));
    assert_eq!(field(&values, "ActorApp"), None);
    assert!(
        field(&values, "TargetResourcesText")
            .unwrap()
            .starts_with(r#"[{"type":"Request","id":"r-1"},{"type":"user""#),
        "compact JSON in source order"
    );
}

#[test]
fn core_directory_roles_come_from_modified_properties() {
    let (_dir, catalogue) = catalogue(&[]);
    let add = json!({
        "TimeGenerated": "2025-01-01T10:00:00Z",
        "InitiatedBy": { "app": { "displayName": "MS-PIM", "servicePrincipalId": "bdefcbb6-0000-0000-0000-000000000000" } },
        "TargetResources": [{
            "type": "User", "userPrincipalName": "bob@contoso.example",
            "modifiedProperties": [
                { "displayName": "Role.ObjectID", "oldValue": null, "newValue": "\"40a84a16-0000-0000-0000-000000000000\"" },
                { "displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Global Administrator\"" },
                { "displayName": "Role.TemplateId", "oldValue": null, "newValue": "\"62e90394-69f5-4237-9190-012177145e10\"" }
            ]
        }]
    });
    let values = fields(&catalogue, &add, Shape::LOG_ANALYTICS);
    assert_eq!(field(&values, "RoleName"), Some("Global Administrator"));
    assert_eq!(
        field(&values, "RoleId"),
        Some("62e90394-69f5-4237-9190-012177145e10")
    );
    assert_eq!(
        field(&values, "Actor"),
        Some("MS-PIM"),
        "an app initiator when there is no user"
    );
    assert_eq!(field(&values, "TargetUser"), Some("bob@contoso.example"));
    // A removal has the role in oldValue and a null newValue; dynamic columns exported as JSON text.
    let remove = json!({
        "TimeGenerated": "2025-01-01T10:00:00Z",
        "TargetResources": r#"[{"type":"User","modifiedProperties":[{"displayName":"role.displayname","oldValue":"\"User Administrator\"","newValue":null}]}]"#
    });
    assert_eq!(
        field(
            &fields(&catalogue, &remove, Shape::LOG_ANALYTICS),
            "RoleName"
        ),
        Some("User Administrator")
    );
}

#[test]
fn both_shapes_read_the_same_values() {
    let (_dir, catalogue) = catalogue(&[]);
    let mut row = eligible("2025-01-01T10:00:00Z", "admin@contoso.example");
    row["AdditionalDetails"] = json!([{ "key": "ipaddr", "value": "203.0.113.10" }]);
    row["Type"] = json!("AuditLogs");
    let diagnostic = to_diagnostic_record(
        &Engine::new(&catalogue, |_| true).sources[0],
        row.as_object().unwrap(),
    );
    assert_eq!(diagnostic["properties"]["category"], "RoleManagement");
    assert_eq!(diagnostic["time"], "2025-01-01T10:00:00Z");
    assert!(
        diagnostic.get("Type").is_none(),
        "only declared columns move"
    );
    assert_eq!(
        fields(&catalogue, &row, Shape::LOG_ANALYTICS),
        fields(&catalogue, &row, Shape::DIAGNOSTIC)
    );
}

#[test]
fn not_one_of_and_all_of() {
    let one_of = detection(
        "one of",
        "  sel_role: { RoleName: [Global Administrator, Privileged Role Administrator] }\n  sel_activity: { ActivityDisplayName|contains: outside of PIM }\n  filter_pim: { ActorApp: MS-PIM }\n  condition: 1 of sel_* and not filter_pim",
    );
    let all_of = detection(
        "all of",
        "  sel_role: { RoleName: Global Administrator }\n  sel_result: { Result: success }\n  condition: all of sel_*",
    );
    let (_dir, catalogue) = catalogue(&[
        ("entra-roles/one-of.yaml", &one_of),
        ("entra-roles/all-of.yaml", &all_of),
    ]);
    let admin = eligible("2025-01-01T10:00:00Z", "admin@contoso.example");
    let mut by_pim = admin.clone();
    by_pim["InitiatedBy"] = json!({ "app": { "displayName": "ms-pim" } });
    let mut other_role = admin.clone();
    other_role["TargetResources"][0]["displayName"] = json!("Security Reader");
    let mut outside = other_role.clone();
    outside["ActivityDisplayName"] = json!("Add member to role outside of PIM (permanent)");
    let mut failed = admin.clone();
    failed["Result"] = json!("failure");

    assert_eq!(
        run(&catalogue, "one-of", std::slice::from_ref(&admin))
            .alerts
            .len(),
        1,
        "sel_role"
    );
    assert_eq!(
        run(&catalogue, "one-of", &[outside]).alerts.len(),
        1,
        "sel_activity alone is enough"
    );
    assert_eq!(
        run(&catalogue, "one-of", &[other_role.clone()])
            .alerts
            .len(),
        0,
        "neither selection"
    );
    assert_eq!(
        run(&catalogue, "one-of", &[by_pim]).alerts.len(),
        0,
        "the filter matches case-insensitively"
    );
    assert_eq!(run(&catalogue, "all-of", &[admin]).alerts.len(), 1);
    assert_eq!(run(&catalogue, "all-of", &[failed]).alerts.len(), 0);
    assert_eq!(run(&catalogue, "all-of", &[other_role]).alerts.len(), 0);
}

#[test]
fn explanations_name_the_selection_field_and_value() {
    let logic = detection(
        "explained",
        "  selection_role: { RoleName: [Global Administrator, Privileged Role Administrator] }\n  filter_pim: { ActorApp: MS-PIM }\n  condition: selection_role and not filter_pim",
    );
    let (_dir, catalogue) = catalogue(&[("entra-roles/explained.yaml", &logic)]);
    let engine = Engine::new(&catalogue, |_| true);
    let compiled = engine.compiled(index(&catalogue, "explained")).unwrap();
    let explain = |row: &Value, matched: bool| {
        let text = row.to_string();
        let found = engine.read(&text).unwrap();
        let record = engine.record(&found, Shape::LOG_ANALYTICS, compiled.source);
        assert_eq!(compiled.matches(&record), matched);
        if matched {
            super::explain::why(compiled, &record)
        } else {
            super::explain::why_not(compiled, &record)
        }
    };
    let mut reader = eligible("2025-01-01T10:00:00Z", "admin@contoso.example");
    reader["TargetResources"][0]["displayName"] = json!("Security Reader");
    assert_eq!(
        explain(&reader, false),
        r#"selection_role: RoleName was "Security Reader", expected one of Global Administrator, Privileged Role Administrator"#
    );
    let mut by_pim = eligible("2025-01-01T10:00:00Z", "admin@contoso.example");
    by_pim["InitiatedBy"] = json!({ "app": { "displayName": "MS-PIM" } });
    assert_eq!(
        explain(&by_pim, false),
        r#"not filter_pim matched (ActorApp was "MS-PIM")"#
    );
    assert_eq!(
        explain(
            &eligible("2025-01-01T10:00:00Z", "admin@contoso.example"),
            true
        ),
        r#"selection_role matched (RoleName was "Global Administrator"); not (filter_pim: ActorApp was empty, expected MS-PIM)"#
    );
}

const BURST: &str = "eligible-assignment-burst";

fn burst(times: &[&str], actor: &str) -> Vec<Value> {
    times.iter().map(|t| eligible(t, actor)).collect()
}

#[test]
fn a_window_of_exactly_the_threshold_length_counts() {
    let (_dir, catalogue) = catalogue(&[]);
    let on_the_boundary = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:20:00Z",
            "2025-01-01T10:40:00Z",
            "2025-01-01T11:00:00Z",
        ],
        "ops@contoso.example",
    );
    let replay = run(&catalogue, BURST, &on_the_boundary);
    assert_eq!(replay.alerts.len(), 1);
    let alert = &replay.alerts[0];
    assert_eq!(
        (
            alert.start.to_string(),
            alert.end.to_string(),
            alert.event_count
        ),
        (
            "2025-01-01T10:00:00Z".into(),
            "2025-01-01T11:00:00Z".into(),
            4
        )
    );
    assert_eq!(alert.tier, Some(("default".into(), 4)));
    assert_eq!(
        alert.group,
        [("Actor".to_owned(), "ops@contoso.example".to_owned())]
    );
    let one_second_over = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:20:00Z",
            "2025-01-01T10:40:00Z",
            "2025-01-01T11:00:01Z",
        ],
        "ops@contoso.example",
    );
    assert!(run(&catalogue, BURST, &one_second_over).alerts.is_empty());
}

#[test]
fn windows_slide_across_clock_hours() {
    let (_dir, catalogue) = catalogue(&[]);
    let straddling = burst(
        &[
            "2025-01-01T10:45:00Z",
            "2025-01-01T10:55:00Z",
            "2025-01-01T11:05:00Z",
            "2025-01-01T11:15:00Z",
        ],
        "ops@contoso.example",
    );
    assert_eq!(
        run(&catalogue, BURST, &straddling).alerts.len(),
        1,
        "no fixed hourly buckets"
    );
    let spread = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:25:00Z",
            "2025-01-01T10:50:00Z",
            "2025-01-01T11:15:00Z",
        ],
        "ops@contoso.example",
    );
    assert!(
        run(&catalogue, BURST, &spread).alerts.is_empty(),
        "four events over 75 minutes"
    );
    let under = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:01:00Z",
            "2025-01-01T10:02:00Z",
        ],
        "ops@contoso.example",
    );
    let replay = run(&catalogue, BURST, &under);
    assert!(replay.alerts.is_empty(), "one under the threshold");
    assert_eq!(replay.hits.len(), 3);
}

#[test]
fn the_alert_spans_every_window_of_the_group() {
    let (_dir, catalogue) = catalogue(&[]);
    // Out of order on purpose: events are sorted by time first. Windows close at 10:30 (from
    // 10:00) and 11:16 (from 10:20); 11:15 closes none but is inside the span; 13:00 is after it.
    let mut events = burst(
        &[
            "2025-01-01T10:30:00Z",
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:10:00Z",
            "2025-01-01T10:20:00Z",
            "2025-01-01T11:15:00Z",
            "2025-01-01T11:16:00Z",
            "2025-01-01T13:00:00Z",
        ],
        "ops@contoso.example",
    );
    events.extend(burst(
        &["2025-01-01T10:00:00Z", "2025-01-01T10:01:00Z"],
        "other@contoso.example",
    ));
    let alerts = run(&catalogue, BURST, &events).alerts;
    assert_eq!(alerts.len(), 1, "the other actor has two events");
    assert_eq!(
        (alerts[0].start.to_string(), alerts[0].end.to_string()),
        ("2025-01-01T10:00:00Z".into(), "2025-01-01T11:16:00Z".into())
    );
    assert_eq!(alerts[0].event_count, 6);
    let positions: Vec<u64> = alerts[0].events.iter().map(|e| e.position).collect();
    assert_eq!(positions, [2, 3, 4, 1, 5, 6], "in time order");
}

#[test]
fn bursts_more_than_a_window_apart_are_two_alerts_without_the_events_between() {
    let (_dir, catalogue) = catalogue(&[]);
    // Windows close at 10:30 and at 12:31 (from 12:00): 2h01 apart, more than the 1h window.
    // 11:15 closes no window (the third event before it, 10:10, is 65 minutes older), nor does
    // 12:20 (11:15 is); it belongs to neither alert.
    let events = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:10:00Z",
            "2025-01-01T10:20:00Z",
            "2025-01-01T10:30:00Z",
            "2025-01-01T11:15:00Z",
            "2025-01-01T12:00:00Z",
            "2025-01-01T12:10:00Z",
            "2025-01-01T12:20:00Z",
            "2025-01-01T12:31:00Z",
        ],
        "ops@contoso.example",
    );
    let alerts = run(&catalogue, BURST, &events).alerts;
    let spans: Vec<(String, String, u64)> = alerts
        .iter()
        .map(|a| (a.start.to_string(), a.end.to_string(), a.event_count))
        .collect();
    assert_eq!(
        spans,
        [
            (
                "2025-01-01T10:00:00Z".into(),
                "2025-01-01T10:30:00Z".into(),
                4
            ),
            (
                "2025-01-01T12:00:00Z".into(),
                "2025-01-01T12:31:00Z".into(),
                4
            ),
        ]
    );
}

#[test]
fn windows_an_hour_apart_touch_and_are_one_alert() {
    let (_dir, catalogue) = catalogue(&[]);
    // The near miss of the test above: the second burst's first window closes at 11:30, one
    // window (1h) after 10:30, so the windows touch and the episode goes on.
    let events = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:10:00Z",
            "2025-01-01T10:20:00Z",
            "2025-01-01T10:30:00Z",
            "2025-01-01T11:00:00Z",
            "2025-01-01T11:10:00Z",
            "2025-01-01T11:20:00Z",
            "2025-01-01T11:30:00Z",
        ],
        "ops@contoso.example",
    );
    let alerts = run(&catalogue, BURST, &events).alerts;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event_count, 8);
}

#[test]
fn privileged_accounts_reach_the_lower_tier() {
    let (_dir, catalogue) = catalogue(&[]);
    let two = ["2025-01-01T10:00:00Z", "2025-01-01T10:30:00Z"];
    let alerts = run(&catalogue, BURST, &burst(&two, "ADMIN@contoso.example")).alerts;
    assert_eq!(alerts.len(), 1, "the list is compared case-insensitively");
    assert_eq!(alerts[0].tier, Some(("privileged".into(), 2)));
    assert!(
        run(&catalogue, BURST, &burst(&two, "ops@contoso.example"))
            .alerts
            .is_empty(),
        "two is below the default tier"
    );
    let mut nobody = burst(
        &[
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:01:00Z",
            "2025-01-01T10:02:00Z",
            "2025-01-01T10:03:00Z",
        ],
        "",
    );
    nobody[0]["InitiatedBy"] = json!({});
    let replay = run(&catalogue, BURST, &nobody);
    assert!(
        replay.alerts.is_empty() && replay.hits.is_empty(),
        "events without an actor never count"
    );
}

fn hit(seconds: i64, group: &str) -> Hit {
    let time = Timestamp::from_seconds(seconds);
    Hit {
        detection: 0,
        event: EventRef {
            position: seconds as u64,
            line: seconds as u64,
            offset: 0,
            id: None,
            time,
        },
        group: vec![group.to_owned()],
        values: Vec::new(),
        findings: Vec::new(),
    }
}

fn plan(count: u32, window_seconds: u64) -> ThresholdPlan {
    ThresholdPlan {
        count,
        window_seconds,
        group_by: vec![0],
        group_names: vec!["Actor".into()],
        tiers: Vec::new(),
    }
}

#[test]
fn events_more_than_a_window_out_of_order_are_reported_late() {
    let mut run = ThresholdRun::new(0, plan(2, 3600));
    // 100 is older than 5000 but arrives while 5000 is still buffered: put back in order.
    // 4000 arrives after 9000 released 5000: too late to count.
    for seconds in [5000, 100, 9000, 4000, 9500] {
        run.push(hit(seconds, "a"));
    }
    assert_eq!(run.late(), 1);
    let alerts = run.finish(&[]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].start, alerts[0].end, alerts[0].event_count),
        (
            Timestamp::from_seconds(9000),
            Timestamp::from_seconds(9500),
            2
        )
    );
}

#[test]
fn memory_follows_the_windows_not_the_input() {
    let mut run = ThresholdRun::new(0, plan(3, 600));
    // A hundred thousand actors, each with one event, ten seconds apart: none can ever alert.
    for i in 0..100_000 {
        run.push(hit(i * 10, &format!("actor-{i}")));
    }
    let (groups, events) = run.held();
    assert!(
        groups < 5_000 && events < 5_000,
        "held {groups} groups and {events} events"
    );
    assert!(run.finish(&[]).is_empty());
}

/// The KQL query's algorithm, written out directly: sort, `prev(time, k-1)`, windows whose
/// closing events are at most a window apart are one episode (`row_cumsum`), and each episode
/// spans from its earliest window start to its latest window end, with every event of the
/// group inside it.
fn as_the_query_computes(times: &[i64], k: usize, window: i64) -> Vec<(i64, i64, usize)> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let closing: Vec<(i64, i64)> = (k - 1..sorted.len())
        .map(|n| (sorted[n - (k - 1)], sorted[n]))
        .filter(|(start, end)| end - start <= window)
        .collect();
    let mut episodes: Vec<(i64, i64)> = Vec::new();
    for (start, end) in closing {
        match episodes.last_mut() {
            Some((_, last)) if end - *last <= window => *last = end,
            _ => episodes.push((start, end)),
        }
    }
    episodes
        .into_iter()
        .map(|(first, last)| {
            let inside = sorted.iter().filter(|t| (first..=last).contains(t)).count();
            (first, last, inside)
        })
        .collect()
}

/// Numbers below a bound from a small linear congruential generator seeded with `seed`:
/// deterministic, no dependency.
fn random_below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |bound| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    }
}

#[test]
fn streaming_windows_equal_the_query_on_random_bursts() {
    let mut next = random_below(0x2545_f491_4f6c_dd1d);
    for _ in 0..2_000 {
        let k = 2 + next(4) as usize;
        let window = 60 * (1 + next(90) as i64);
        // Coarse times so that ties and exact boundaries are common.
        let times: Vec<i64> = (0..next(16)).map(|_| 60 * next(480) as i64).collect();
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let mut run = ThresholdRun::new(0, plan(k as u32, window as u64));
        for t in &sorted {
            run.push(hit(*t, "g"));
        }
        let streamed: Vec<(i64, i64, usize)> = run
            .finish(&[])
            .iter()
            .map(|a| {
                (
                    a.start.0 / 1_000_000_000,
                    a.end.0 / 1_000_000_000,
                    a.event_count as usize,
                )
            })
            .collect();
        assert_eq!(
            streamed,
            as_the_query_computes(&times, k, window),
            "times {times:?}, count {k}, window {window}s"
        );
    }
}

/// Hits that arrive out of order by less than a window are released exactly as the same hits
/// in time order (ties in their order of arrival): same episodes, counts, events and latest
/// values, whether they sit in the in-order queue or among the stragglers.
#[test]
fn disorder_within_a_window_gives_the_alerts_of_time_order() {
    let mut next = random_below(0x853c_49e6_748f_ea9b);
    let names = ["Where".to_owned()];
    for _ in 0..500 {
        let window = 60 * (5 + next(30));
        let k = 2 + next(3) as u32;
        // Coarse times over three groups, so ties and shared windows are common.
        let mut hits: Vec<Hit> = (0..next(40))
            .map(|i| {
                let mut h = hit(60 * next(200) as i64, ["a", "b", "c"][next(3) as usize]);
                h.event.position = i;
                h.values = vec![Some(format!("arrived {i}"))];
                h
            })
            .collect();
        hits.sort_by_key(Hit::time);
        // Each hit moves back among the hits less than half a window older than it.
        let mut shuffled = hits.clone();
        for i in (1..shuffled.len()).rev() {
            let j = i - next(4).min(i as u64) as usize;
            if shuffled[i].time().0 - shuffled[j].time().0 < window as i64 * 500_000_000 {
                shuffled.swap(i, j);
            }
        }
        // The time order the run must restore: by time, then arrival in the shuffled order.
        let mut expected = shuffled.clone();
        expected.sort_by_key(Hit::time);
        let alerts = |hits: &[Hit]| {
            let mut run = ThresholdRun::new(0, plan(k, window));
            for h in hits {
                run.push(h.clone());
            }
            assert_eq!(run.late(), 0);
            run.finish(&names)
        };
        assert_eq!(
            alerts(&shuffled),
            alerts(&expected),
            "window {window}s, count {k}"
        );
    }
}
