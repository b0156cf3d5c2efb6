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
use crate::eval::source::SourcePlan;
use crate::eval::{Members, Shape};

/// The source index and the located columns of an event.
pub type Routed<'a> = (usize, Vec<Option<&'a RawValue>>);

pub fn route<'a>(sources: &[SourcePlan], shape: Shape, members: &Members<'a>) -> Option<Routed<'a>> {
    if shape == Shape::LogAnalytics
        && let Some(table) = members.text("Type")
    {
        let source = sources.iter().position(|s| equal_ignoring_case(&s.table, &table))?;
        return Some((source, sources[source].locate(shape, members)));
    }
    let mut best: Option<(f64, Routed<'a>)> = None;
    for (index, source) in sources.iter().enumerate() {
        let columns = source.locate(shape, members);
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

    fn sources() -> Vec<SourcePlan> {
        let catalogue = Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        catalogue.logsources.values().map(SourcePlan::new).collect()
    }

    fn routed(sources: &[SourcePlan], text: &str) -> Option<String> {
        let members: Members = serde_json::from_str(text).unwrap();
        route(sources, Shape::of(&members), &members).map(|(s, _)| sources[s].id.clone())
    }

    #[test]
    fn rows_go_by_their_table_and_records_by_their_columns() {
        let sources = sources();
        let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["azure_activity", "entra_auditlogs"]);
        assert_eq!(routed(&sources, r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"AuditLogs"}"#).as_deref(), Some("entra_auditlogs"));
        assert_eq!(routed(&sources, r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"azureactivity"}"#).as_deref(), Some("azure_activity"));
        assert_eq!(routed(&sources, r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"SigninLogs"}"#), None);
        assert_eq!(
            routed(&sources, r#"{"TimeGenerated":"2025-01-01T00:00:00Z","OperationNameValue":"x","Caller":"a","CallerIpAddress":"b"}"#).as_deref(),
            Some("azure_activity")
        );
        let audit = r#"{"time":"2025-01-01T00:00:00Z","category":"AuditLogs","operationName":"Add member to role","identity":"MS-PIM","resourceId":"/tenants/x/providers/Microsoft.aadiam",
            "properties":{"category":"RoleManagement","activityDisplayName":"Add member to role","result":"success","loggedByService":"Core Directory","targetResources":[],"initiatedBy":{}}}"#;
        assert_eq!(routed(&sources, audit).as_deref(), Some("entra_auditlogs"));
        let activity = r#"{"time":"2025-01-01T00:00:00Z","category":"Administrative","operationName":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","resultType":"Success",
            "callerIpAddress":"192.0.2.1","resourceId":"/subscriptions/x","identity":{"authorization":{"scope":"/subscriptions/x"},"claims":{}},"properties":{}}"#;
        assert_eq!(routed(&sources, activity).as_deref(), Some("azure_activity"));
        assert_eq!(routed(&sources, r#"{"no":"time"}"#), None);
    }
}
