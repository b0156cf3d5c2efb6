//! Which log source an event belongs to, so each detection only sees events of its table.
//!
//! A Log Analytics row usually says: its `Type` column is the table (`AuditLogs`,
//! `AzureActivity`). When it does not (a projected export, a diagnostic record), the event
//! goes to the log source whose columns it has the largest share of, in its shape: an audit
//! record has `properties.activityDisplayName` and `properties.targetResources`, an activity
//! record has `resultType` and `identity.authorization`. An event with no time for the source
//! it fits, or that fits no source at all, is counted and skipped.

use serde_json::value::RawValue;

use crate::eval::field::equal_ignoring_case;
use crate::eval::{Engine, Found, Shape};

/// The source index and the located columns of an event.
pub(crate) type Routed<'a> = (usize, Vec<Option<&'a RawValue>>);

pub(crate) fn route<'a>(engine: &Engine, found: &Found<'a>, shape: Shape) -> Option<Routed<'a>> {
    if shape == Shape::LogAnalytics
        && let Some(table) = engine.table(found)
    {
        let source = engine
            .sources
            .iter()
            .position(|s| equal_ignoring_case(&s.table, &table))?;
        return Some((source, engine.locate(found, shape, source)));
    }
    let mut best: Option<(f64, Routed<'a>)> = None;
    for (index, source) in engine.sources.iter().enumerate() {
        let columns = engine.locate(found, shape, index);
        if columns[source.time_column()].is_none() {
            continue;
        }
        let share = columns.iter().filter(|c| c.is_some()).count() as f64 / columns.len() as f64;
        if best.as_ref().is_none_or(|(b, _)| share > *b) {
            best = Some((share, (index, columns)));
        }
    }
    best.map(|(_, routed)| routed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use std::path::Path;

    fn routed(engine: &Engine, text: &str) -> Option<String> {
        let found = engine.read(text).unwrap();
        route(engine, &found, engine.shape(&found))
            .map(|(s, _)| engine.catalogue.logsources[s].id.clone())
    }

    #[test]
    fn rows_go_by_their_table_and_records_by_their_columns() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let engine = Engine::new(&catalogue, |_| true);
        assert_eq!(engine.sources.len(), catalogue.logsources.len());
        let ids: Vec<&str> = catalogue.logsources.keys().map(String::as_str).collect();
        assert_eq!(ids, ["azure_activity", "entra_auditlogs"]);
        assert_eq!(
            routed(
                &engine,
                r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"AuditLogs"}"#
            )
            .as_deref(),
            Some("entra_auditlogs")
        );
        assert_eq!(
            routed(
                &engine,
                r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"azureactivity"}"#
            )
            .as_deref(),
            Some("azure_activity")
        );
        assert_eq!(
            routed(
                &engine,
                r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"SigninLogs"}"#
            ),
            None
        );
        assert_eq!(
            routed(&engine, r#"{"TimeGenerated":"2025-01-01T00:00:00Z","OperationNameValue":"x","Caller":"a","CallerIpAddress":"b"}"#).as_deref(),
            Some("azure_activity")
        );
        let audit = r#"{"time":"2025-01-01T00:00:00Z","category":"AuditLogs","operationName":"Add member to role","identity":"MS-PIM","resourceId":"/tenants/x/providers/Microsoft.aadiam",
            "properties":{"category":"RoleManagement","activityDisplayName":"Add member to role","result":"success","loggedByService":"Core Directory","targetResources":[],"initiatedBy":{}}}"#;
        assert_eq!(routed(&engine, audit).as_deref(), Some("entra_auditlogs"));
        let activity = r#"{"time":"2025-01-01T00:00:00Z","category":"Administrative","operationName":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","resultType":"Success",
            "callerIpAddress":"192.0.2.1","resourceId":"/subscriptions/x","identity":{"authorization":{"scope":"/subscriptions/x"},"claims":{}},"properties":{}}"#;
        assert_eq!(routed(&engine, activity).as_deref(), Some("azure_activity"));
        assert_eq!(routed(&engine, r#"{"no":"time"}"#), None);
    }
}
