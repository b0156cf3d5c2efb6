//! Which shape a record is in and which log source it belongs to, by the record's own fields.
//!
//! Each log source lists its shapes (`shapes:`), each with the keys that recognise it and the
//! key naming the record's category: a diagnostic record's `category` (`AuditLogs`,
//! `SignInLogs`, `Administrative`), a Log Analytics row's `Type` (its table). A record goes to
//! the first source whose shape recognises it and names its category. A record of a known
//! shape whose category no source reads (a sign-in in an Event Hub export) is counted under
//! that category and skipped, never read as something it is not. A row that names no table (a
//! projected export) goes to the source whose columns it has the largest share of, provided it
//! has that source's time column. Anything else is of an unknown shape.

use crate::catalogue::shape::InputKind;
use crate::eval::field::equal_ignoring_case;
use crate::eval::key_tree::RawJson;
use crate::eval::record::plain_text;
use crate::eval::{Engine, Found, Shape};

/// What a record is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route<'a> {
    /// An event of `source`, read as `shape`.
    Event {
        source: usize,
        shape: Shape,
    },
    /// A record of `shape` (of `source`) whose category no log source reads.
    OtherCategory {
        source: usize,
        shape: Shape,
        category: RawJson<'a>,
    },
    Unknown,
}

pub(crate) fn route<'a>(engine: &Engine, found: &Found<'a>, input: InputKind) -> Route<'a> {
    let tree = engine.tree(input);
    let mut other = None;
    let mut by_share: Option<(usize, usize, Shape)> = None;
    for (source, plan) in engine.sources.iter().enumerate() {
        for (index, shape) in plan.shapes().iter().enumerate().skip(Shape::FIRST_DECLARED) {
            if shape.input != input || !shape.recognises(tree, found) {
                continue;
            }
            let id = Shape(index);
            let Some((key, values)) = &shape.category else {
                return Route::Event { source, shape: id };
            };
            if let Some(raw) = key.find(tree, found) {
                // Category names are plain words: read them without a JSON parse when
                // they have no escapes, as on every record of a big export.
                let json = raw.get();
                let named = match json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
                    Some(plain) if !plain.contains('\\') => std::borrow::Cow::Borrowed(plain),
                    _ => plain_text(raw).unwrap_or_default(),
                };
                if values.iter().any(|v| equal_ignoring_case(v, &named)) {
                    return Route::Event { source, shape: id };
                }
                other.get_or_insert(Route::OtherCategory {
                    source,
                    shape: id,
                    category: raw,
                });
            } else {
                let located = shape.locate(tree, found);
                if !located.has(plan.time_column()) {
                    continue;
                }
                // Shares compared as fractions, without floating point.
                let (have, of) = (located.count(), shape.columns.len());
                let better = by_share.is_none_or(|(best_have, best_source, best_shape)| {
                    let best_of = engine.sources[best_source].shape(best_shape).columns.len();
                    have * best_of > best_have * of
                });
                if better {
                    by_share = Some((have, source, id));
                }
            }
        }
    }
    match (by_share, other) {
        (Some((_, source, shape)), _) => Route::Event { source, shape },
        (None, Some(other)) => other,
        (None, None) => Route::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use std::path::Path;

    fn routed(engine: &Engine, text: &str) -> String {
        let found = engine.read(text).unwrap();
        match route(engine, &found, InputKind::Json) {
            Route::Event { source, shape } => {
                let plan = &engine.sources[source];
                format!(
                    "{} {}",
                    engine.catalogue.logsources[source].id,
                    plan.shape(shape).name
                )
            }
            Route::OtherCategory {
                shape, category, ..
            } => format!("other {} {}", category.get(), shape.0),
            Route::Unknown => "unknown".to_owned(),
        }
    }

    #[test]
    fn records_go_by_their_own_category_and_shape() {
        let catalogue =
            Catalogue::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("detections")).unwrap();
        let engine = Engine::new(&catalogue, |_| true);
        assert_eq!(engine.sources.len(), catalogue.logsources.len());
        let ids: Vec<&str> = catalogue.logsources.keys().map(String::as_str).collect();
        assert_eq!(ids, ["azure_activity", "entra_auditlogs"]);
        let route = |text: &str| routed(&engine, text);
        assert_eq!(
            route(r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"AuditLogs"}"#),
            "entra_auditlogs log_analytics"
        );
        assert_eq!(
            route(r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"azureactivity"}"#),
            "azure_activity log_analytics"
        );
        assert!(
            route(r#"{"TimeGenerated":"2025-01-01T00:00:00Z","Type":"SigninLogs"}"#)
                .starts_with("other \"SigninLogs\"")
        );
        assert_eq!(
            route(
                r#"{"TimeGenerated":"2025-01-01T00:00:00Z","OperationNameValue":"x","Caller":"a","CallerIpAddress":"b"}"#
            ),
            "azure_activity log_analytics",
            "a projected row goes by its columns"
        );
        let audit = r#"{"time":"2025-01-01T00:00:00Z","category":"AuditLogs","operationName":"Add member to role","identity":"MS-PIM",
            "properties":{"category":"RoleManagement","activityDisplayName":"Add member to role","result":"success","targetResources":[],"initiatedBy":{}}}"#;
        assert_eq!(route(audit), "entra_auditlogs diagnostic");
        let activity = r#"{"time":"2025-01-01T00:00:00Z","category":"Administrative","operationName":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","resultType":"Success",
            "callerIpAddress":"192.0.2.1","identity":{"authorization":{"scope":"/subscriptions/x"},"claims":{}},"properties":{}}"#;
        assert_eq!(route(activity), "azure_activity diagnostic");
        let signin = r#"{"time":"2025-01-01T00:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"ipAddress":"192.0.2.1"}}"#;
        assert!(
            route(signin).starts_with("other \"SignInLogs\""),
            "a sign-in with its audit-like envelope is not an audit event: {}",
            route(signin)
        );
        assert_eq!(
            route(
                r#"{"activityDateTime":"2025-01-01T00:00:00Z","activityDisplayName":"Add member to role","category":"RoleManagement"}"#
            ),
            "entra_auditlogs graph"
        );
        assert_eq!(
            route(
                r#"{"eventTimestamp":"2025-01-01T00:00:00Z","operationName":{"value":"x"},"category":{"value":"Administrative"}}"#
            ),
            "azure_activity activity_rest"
        );
        assert_eq!(route(r#"{"no":"time"}"#), "unknown");
    }
}
