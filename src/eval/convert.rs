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
#[cfg(test)]
use {
    super::shape::{ColumnRead, Shape},
    crate::catalogue::shape::InputKind,
    crate::timestamp::Timestamp,
};

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

/// A Log Analytics row written in `shape` of `plan`'s log source, the inverse of reading it:
/// each column at the first key the shape reads it from (a column whose key lies inside
/// another column's value that the row fills, such as Graph's `Identity`, is left to that
/// column), values the
/// shape maps written back in its own spelling, times in its format, and the category key
/// the shape recognises its records by. JSON shapes give a nested object; CSV shapes a flat
/// one keyed by header. For tests that feed the same events through every shape.
#[cfg(test)]
pub(crate) fn to_shape(
    plan: &SourcePlan,
    shape: Shape,
    row: &Map<String, Value>,
) -> Map<String, Value> {
    let spec = plan.shape(shape);
    let mut record = Map::new();
    let flat = spec.input == InputKind::Csv;
    let put = |record: &mut Map<String, Value>, keys: &[String], value: Value| {
        if flat {
            record.entry(keys.join(".")).or_insert(value);
        } else if !occupied(record, keys) {
            place(record, keys, value);
        }
    };
    if let Some((key, values)) = &spec.category {
        put(&mut record, &key.keys, Value::String(values[0].clone()));
    }
    // Only columns the row fills: an empty Claims_d leaves Caller's claim to Caller.
    let first_keys: Vec<Option<&[String]>> = spec
        .columns
        .iter()
        .zip(plan.columns())
        .map(|(read, name)| match read {
            ColumnRead::At { keys, .. } if row.contains_key(name) => {
                keys.first().map(|k| k.keys.as_slice())
            }
            _ => None,
        })
        .collect();
    let inside_another = |keys: &[String]| {
        first_keys
            .iter()
            .flatten()
            .any(|other| other.len() < keys.len() && keys.starts_with(other))
    };
    for (column, name) in plan.columns().iter().enumerate() {
        let Some(value) = row.get(name) else { continue };
        let value = match value {
            Value::String(text) if !flat && text.trim_start().starts_with(['[', '{']) => {
                serde_json::from_str(text).unwrap_or_else(|_| value.clone())
            }
            _ => value.clone(),
        };
        match &spec.columns[column] {
            ColumnRead::Absent => {}
            ColumnRead::At { keys, values } => {
                let Some(first) = keys.first() else { continue };
                if !flat && inside_another(&first.keys) {
                    continue;
                }
                let mut value = value;
                if column == plan.time_column()
                    && let Some(text) = value.as_str()
                    && let Some(time) = Timestamp::parse(text)
                {
                    value = Value::String(time.format_as(spec.time_format));
                }
                if let (Some(values), Some(text)) = (values, value.as_str())
                    && let Some(from) = values
                        .iter()
                        .find(|(_, to)| to.as_str() == text)
                        .map(|(from, _)| from)
                {
                    value = Value::String(from.clone());
                }
                if flat {
                    value = match value {
                        Value::String(text) => Value::String(text),
                        other => Value::String(other.to_string()),
                    };
                }
                put(&mut record, &first.keys, value);
            }
            ColumnRead::Built(built) => {
                let mut columns = Vec::new();
                built.flatten(&value, &mut columns);
                for (header, text) in columns {
                    record.entry(header).or_insert(Value::String(text));
                }
            }
        }
    }
    record
}

/// Whether `keys` already hold a value in `object`, or run through a value that is not an
/// object (a column written inside another column's value).
#[cfg(test)]
fn occupied(object: &Map<String, Value>, keys: &[String]) -> bool {
    let [key, rest @ ..] = keys else { return true };
    match object.get(key) {
        None => false,
        Some(Value::Object(inner)) if !rest.is_empty() => occupied(inner, rest),
        Some(_) => true,
    }
}
