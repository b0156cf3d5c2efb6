//! A Log Analytics row rewritten as the diagnostic record Splunk would receive for it.
//!
//! The mapping is the log source's own: each declared column moves to its `diagnostic` path
//! (`Category` to `properties.category`, `TargetResources` to `properties.targetResources`,
//! `Caller` to `identity.claims.<upn claim URI>`), creating the objects on the way. Dynamic
//! columns given as JSON text (as Log Analytics exports them) become JSON. Keys that are not
//! declared columns (`Type`, `TenantId`) are left out: no detection can read them.
//!
//! `rulecast test` evaluates every case in both shapes. Two columns sent to one path, or a path
//! running through another column's value, lose data here, and the verdicts then differ: that is
//! how a wrong `diagnostic:` mapping, which would make the Splunk searches read the wrong data,
//! is caught before it ships.

use serde_json::{Map, Value};

use super::source::SourcePlan;

pub(crate) fn to_diagnostic_record(plan: &SourcePlan, row: &Map<String, Value>) -> Value {
    let mut record = Map::new();
    for (column, name) in plan.columns().iter().enumerate() {
        let Some(value) = row.get(name) else { continue };
        let value = match value {
            Value::String(text) if text.trim_start().starts_with(['[', '{']) => {
                serde_json::from_str(text).unwrap_or_else(|_| value.clone())
            }
            _ => value.clone(),
        };
        place(&mut record, plan.diagnostic_path(column), value);
    }
    Value::Object(record)
}

/// Sets `keys` in `object`; a key already holding something other than an object is kept, and
/// the new value dropped.
fn place(object: &mut Map<String, Value>, keys: &[String], value: Value) {
    let [key, rest @ ..] = keys else { return };
    if rest.is_empty() {
        object.insert(key.clone(), value);
        return;
    }
    if let Value::Object(inner) = object
        .entry(key.clone())
        .or_insert_with(|| Value::Object(Map::new()))
    {
        place(inner, rest, value);
    }
}
