//! The same events in every export shape the log sources describe, scanned in process: every
//! shape and container must give the same alerts, and what Entra and Azure really write in
//! them (`<null>`, numeric results, REST statuses and operation names) reads as the Log Analytics
//! row would. `tests/integration/scan_shapes.rs` runs the binary on the real files, pipes and
//! standard input. Where a shape detail could not be checked against a real export, the test's
//! name says so.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::output::{AlertWriter, ScanFormat};
use super::{read, scan};
use crate::catalogue::Catalogue;
use crate::eval::Engine;
use crate::eval::convert::to_shape;

const SAMPLE: &str = "tests/fixtures/scan/sample.jsonl";
const REAL: &str = "tests/fixtures/scan/real";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `rulecast scan --format json` of the file at `path`, in process.
fn scan_report(engine: &Engine, path: &Path) -> Value {
    let input = read::open(path).unwrap();
    let mut out = Vec::new();
    let mut writer = AlertWriter::new(
        ScanFormat::Json,
        engine.catalogue,
        input.container,
        &mut out,
    );
    let summary = scan(engine, input, 2, &mut |alert| writer.alert(alert, None)).unwrap();
    writer.finish(&summary, None).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn what_entra_really_writes_is_normalised() {
    // The old record: `"result": 0` is success, `"callerIpAddress": "<null>"` no address.
    let path = repo()
        .join(REAL)
        .join("azuredocs-eventhub-records-mspim-update-policy.json");
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let text = std::fs::read_to_string(path).unwrap();
    let batch: Value = serde_json::from_str(&text).unwrap();
    let record = batch["records"][0].to_string();
    let found = engine.read(&record).unwrap();
    let source = catalogue
        .logsources
        .get_index_of("entra_auditlogs")
        .unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("diagnostic").unwrap();
    let read = engine.record(&found, shape, source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(field("Result").as_deref(), Some("success"));
    assert_eq!(field("Identity").as_deref(), Some("MS-PIM"));
    assert_eq!(field("Category").as_deref(), Some("Policy"));
    // Graph's "ipAddress": "<null>" is no value, so the next candidate is taken.
    let mut graph: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo()
                .join(REAL)
                .join("graph-docs-directoryaudit-list-ex1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let event = &mut graph["value"][0];
    event["initiatedBy"]["user"]["ipAddress"] = json!("<null>");
    event["additionalDetails"] = json!([{ "key": "ipaddr", "value": "198.51.100.7" }]);
    let text = event.to_string();
    let found = engine.read(&text).unwrap();
    let read = engine.record(&found, plan.declared_shape("graph").unwrap(), source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    assert_eq!(field("ActorIpAddress").as_deref(), Some("198.51.100.7"));
    assert_eq!(field("Actor").as_deref(), Some("bob@wingtiptoysonline.com"));
}

/// The sample as Log Analytics rows, times cut to milliseconds (what the CSV export keeps),
/// and its one diagnostic record turned back into the row it stands for.
fn sample_rows(catalogue: &Catalogue, engine: &Engine) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(repo().join(SAMPLE)).unwrap();
    text.lines()
        .map(|line| {
            let mut row: Map<String, Value> = serde_json::from_str(line).unwrap();
            if row.contains_key("properties") {
                let source = catalogue
                    .logsources
                    .get_index_of("entra_auditlogs")
                    .unwrap();
                let plan = &engine.sources[source];
                let mut back = Map::new();
                for (c, name) in plan.columns().iter().enumerate() {
                    let mut value = Value::Object(row.clone());
                    for key in plan.diagnostic_path(c) {
                        value = value.get(key).cloned().unwrap_or(Value::Null);
                    }
                    if !value.is_null() {
                        back.insert(name.clone(), value);
                    }
                }
                back.insert("Type".to_owned(), json!("AuditLogs"));
                row = back;
            }
            if let Some(Value::String(time)) = row.get_mut("TimeGenerated")
                && let Some((seconds, fraction)) = time.split_once('.')
            {
                let digits: String = fraction
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(3)
                    .collect();
                *time = format!("{seconds}.{digits}Z");
            }
            row
        })
        .collect()
}

/// An alert as every shape must give it: not where its events are in the file (which the
/// containers number differently), without event ids when `ids` is false, and without the
/// output fields a shape does not carry.
fn comparable(report: &Value, ids: bool, only: Option<&[String]>, absent: &[&str]) -> Vec<Value> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| only.is_none_or(|names| names.iter().any(|n| a["detection"]["name"] == **n)))
        .map(|a| {
            let mut a = a.clone();
            for field in absent {
                a["fields"].as_object_mut().unwrap().remove(*field);
            }
            for event in a["events"].as_array_mut().unwrap() {
                let event = event.as_object_mut().unwrap();
                for key in ["position", "line", "offset"] {
                    event.remove(key);
                }
                if !ids {
                    event.remove("id");
                }
            }
            a
        })
        .collect()
}

struct Shapes<'c> {
    engine: Engine<'c>,
    rows: Vec<Map<String, Value>>,
}

impl Shapes<'_> {
    fn source_of(&self, row: &Map<String, Value>) -> Option<usize> {
        let table = row.get("Type")?.as_str()?;
        self.engine
            .catalogue
            .logsources
            .values()
            .position(|s| s.table == table)
    }

    /// Each row in the named shape of its source; rows of no source (the sign-in) are left out
    /// unless `other` writes them.
    fn written(
        &self,
        shapes: &[&str],
        other: &dyn Fn(&Map<String, Value>) -> Option<Value>,
    ) -> Vec<Value> {
        self.rows
            .iter()
            .filter_map(|row| match self.source_of(row) {
                Some(source) => {
                    let plan = &self.engine.sources[source];
                    let shape = shapes.iter().find_map(|s| plan.declared_shape(s))?;
                    Some(Value::Object(to_shape(plan, shape, row)))
                }
                None => other(row),
            })
            .collect()
    }
}

fn lines(values: &[Value]) -> String {
    values.iter().fold(String::new(), |mut text, v| {
        let _ = writeln!(text, "{v}");
        text
    })
}

fn csv_text(values: &[Value]) -> String {
    let mut headers: Vec<String> = Vec::new();
    for value in values {
        for key in value.as_object().unwrap().keys() {
            if !headers.contains(key) {
                headers.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for value in values {
        let object = value.as_object().unwrap();
        writer
            .write_record(headers.iter().map(|h| match object.get(h) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }))
            .unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn the_same_events_in_every_shape_give_the_same_alerts_portal_csv_times_unverified() {
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let rows = sample_rows(&catalogue, &engine);
    let shapes = Shapes { engine, rows };
    let rows: Vec<Value> = shapes.rows.iter().cloned().map(Value::Object).collect();
    let signin_record = |row: &Map<String, Value>| {
        Some(
            json!({ "time": row["TimeGenerated"], "category": "SignInLogs", "operationName": "Sign-in activity", "properties": { "ipAddress": "<null>" } }),
        )
    };
    let none = |_: &Map<String, Value>| None;

    let diagnostic = shapes.written(&["diagnostic"], &signin_record);
    let graph_or_rest = shapes.written(&["graph", "activity_rest"], &none);
    let la_csv = shapes.written(&["log_analytics_csv"], &|row| {
        let mut row = row.clone();
        let time = row.remove("TimeGenerated").unwrap();
        row.insert("TimeGenerated [UTC]".to_owned(), time);
        Some(Value::Object(row))
    });
    let portal = shapes.written(&["portal_csv"], &none);
    // The API's rows: one list of columns, dynamic values as JSON text.
    let mut columns: Vec<String> = Vec::new();
    for row in &shapes.rows {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let api_rows: Vec<Value> = shapes
        .rows
        .iter()
        .map(|row| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| match row.get(c) {
                        Some(v @ (Value::Object(_) | Value::Array(_))) => {
                            Value::String(v.to_string())
                        }
                        Some(v) => v.clone(),
                        None => Value::Null,
                    })
                    .collect(),
            )
        })
        .collect();
    let tables = json!({ "tables": [{ "name": "PrimaryResult", "columns": columns.iter().map(|c| json!({ "name": c, "type": "string" })).collect::<Vec<_>>(), "rows": api_rows }] });
    let pages = |values: &[Value], wrap: &dyn Fn(&[Value]) -> Value, pretty: bool| -> String {
        values
            .chunks(7)
            .map(|page| {
                let page = wrap(page);
                if pretty {
                    serde_json::to_string_pretty(&page).unwrap() + "\n"
                } else {
                    format!("{page}\n")
                }
            })
            .collect()
    };
    let as_array = |page: &[Value]| Value::Array(page.to_vec());
    let as_records = |page: &[Value]| json!({ "records": page });
    let as_value = |page: &[Value]| json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": page, "@odata.nextLink": "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?$skiptoken=x" });

    let files: Vec<(&str, Vec<u8>)> = vec![
        ("rows.jsonl", lines(&rows).into_bytes()),
        (
            "rows.json",
            serde_json::to_string_pretty(&rows).unwrap().into_bytes(),
        ),
        (
            "rows-value.json",
            serde_json::to_string_pretty(&json!({ "value": rows }))
                .unwrap()
                .into_bytes(),
        ),
        (
            "rows-tables.json",
            serde_json::to_string_pretty(&tables).unwrap().into_bytes(),
        ),
        (
            "rows-tables-one-line.json",
            format!("{tables}\n").into_bytes(),
        ),
        ("rows.csv", csv_text(&la_csv).into_bytes()),
        ("rows.jsonl.gz", gzip(&lines(&rows))),
        ("diagnostic.jsonl", lines(&diagnostic).into_bytes()),
        (
            "diagnostic-records.json",
            pages(&diagnostic, &as_records, true).into_bytes(),
        ),
        (
            "diagnostic-records-per-line.jsonl",
            pages(&diagnostic, &as_records, false).into_bytes(),
        ),
        (
            "graph-and-rest-pages.json",
            pages(&graph_or_rest, &as_array, true).into_bytes(),
        ),
        (
            "graph-and-rest-value-pages.json",
            pages(&graph_or_rest, &as_value, false).into_bytes(),
        ),
        ("graph-and-rest.jsonl", lines(&graph_or_rest).into_bytes()),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    std::fs::write(dir.path().join("portal.csv"), csv_text(&portal)).unwrap();
    let scanned = |name: &str| scan_report(&shapes.engine, &dir.path().join(name));
    let baseline = scanned("rows.jsonl");
    let expected = comparable(&baseline, true, None, &[]);
    assert_eq!(expected.len(), 10, "the sample's alerts");
    // Graph has no Identity: it stands in the initiating app's name (MS-PIM), never a user's.
    let without_identity = comparable(&baseline, true, None, &["Identity"]);
    for (name, _) in &files {
        let report = scanned(name);
        if name.starts_with("graph") {
            assert_eq!(
                comparable(&report, true, None, &["Identity"]),
                without_identity,
                "{name}"
            );
        } else {
            assert_eq!(comparable(&report, true, None, &[]), expected, "{name}");
        }
        assert_eq!(report["summary"]["unknown_shape"], 0, "{name}");
        assert_eq!(report["summary"]["unreadable"], 0, "{name}");
    }
    // The portal download holds the audit log only, with no record id; its targets are
    // rebuilt from flat columns, so their JSON text (TargetResourcesText) is spelled otherwise.
    let audit: Vec<String> = catalogue
        .detections
        .iter()
        .filter(|d| d.meta.logsource == "entra_auditlogs")
        .map(|d| format!("{}/{}", d.section, d.slug))
        .collect();
    let report = scanned("portal.csv");
    assert_eq!(
        comparable(
            &report,
            false,
            Some(&audit),
            &["Identity", "TargetResourcesText"]
        ),
        comparable(
            &baseline,
            false,
            Some(&audit),
            &["Identity", "TargetResourcesText"]
        ),
        "the Entra admin center CSV"
    );
    assert_eq!(report["summary"]["shapes"][0]["shape"], "portal_csv");
}

#[test]
fn activity_rest_status_reads_as_the_table_value_pairing_unverified() {
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let source = catalogue.logsources.get_index_of("azure_activity").unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("activity_rest").unwrap();
    let text = std::fs::read_to_string(
        repo()
            .join(REAL)
            .join("sekoia-azure-activity.restapi-shape.jsonl"),
    )
    .unwrap();
    let line = text.lines().next().unwrap();
    let found = engine.read(line).unwrap();
    let read = engine.record(&found, shape, source);
    let field = |name: &str| {
        read.field(plan.field_index(name).unwrap())
            .map(|v| v.as_str().to_owned())
    };
    // The record says "Succeeded"; AzureActivity says "Success" (Microsoft's schema mapping).
    assert_eq!(field("ActivityStatusValue").as_deref(), Some("Success"));
    assert_eq!(
        field("OperationNameValue").as_deref(),
        Some("Microsoft.Network/networkSecurityGroups/write")
    );
    assert_eq!(field("CategoryValue").as_deref(), Some("Administrative"));
    assert_eq!(field("Caller").as_deref(), Some("REDACTED"));
    assert_eq!(
        read.time().map(|t| t.to_string()).as_deref(),
        Some("2018-01-29T20:42:31.3810679Z")
    );
    // A status the map does not know is kept as written.
    let resolved = text.lines().nth(1).unwrap();
    let found = engine.read(resolved).unwrap();
    let read = engine.record(&found, shape, source);
    assert_eq!(
        read.field(plan.field_index("ActivityStatusValue").unwrap())
            .map(|v| v.as_str().to_owned())
            .as_deref(),
        Some("Resolved")
    );
}

#[test]
fn operation_names_written_as_rest_objects_in_diagnostic_records_are_read_by_value() {
    // Panther's elevate-access fixture writes `operationName` as {"value", "localizedValue"}.
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap();
    let engine = Engine::new(&catalogue, |_| true);
    let source = catalogue.logsources.get_index_of("azure_activity").unwrap();
    let plan = &engine.sources[source];
    let shape = plan.declared_shape("diagnostic").unwrap();
    let text = std::fs::read_to_string(
        repo()
            .join(REAL)
            .join("panther-activity-role-assignment.diagnostic.jsonl"),
    )
    .unwrap();
    let values: Vec<Option<String>> = text
        .lines()
        .map(|line| {
            let found = engine.read(line).unwrap();
            let read = engine.record(&found, shape, source);
            read.field(plan.field_index("OperationNameValue").unwrap())
                .map(|v| v.as_str().to_owned())
        })
        .collect();
    assert_eq!(
        values[0].as_deref(),
        Some("Microsoft.Authorization/roleAssignments/write")
    );
    assert_eq!(
        values[3].as_deref(),
        Some("Microsoft.Authorization/elevateAccess/action")
    );
}
