//! The catalogue reference (`rulecast schema --reference`, committed as
//! docs/catalogue-reference.md): every key of every catalogue file, and every modifier, in
//! Markdown, made from the JSON Schemas and the modifier table.
//!
//! The schemas come from the Rust types, whose doc comments are their descriptions, and each
//! target contributes its own sections; so the reference is the format itself, written out,
//! and a test fails when the committed copy differs from what this prints.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::logic::modifier::{Language, Lowering, MODIFIERS};
use crate::schema::SchemaKind;
use crate::targets::Targets;

/// The reference for `targets`.
pub(crate) fn markdown(targets: &Targets) -> String {
    let mut out = String::from(
        "# Catalogue reference\n\n\
         Every key of every catalogue file, generated from the formats' JSON Schemas (the doc\n\
         comments of rulecast's types, and each target's own sections) by\n\
         `rulecast schema --reference`; `cargo test` fails when this file is not what it prints.\n\
         [catalogue.md](catalogue.md) explains the catalogue; the committed schemas\n\
         (`detections/*.schema.json`) give editors the same rules.\n",
    );
    for kind in SchemaKind::ALL {
        section(&mut out, kind, targets.schema(kind));
    }
    modifiers(&mut out);
    out
}

fn section(out: &mut String, kind: SchemaKind, schema: &Value) {
    let (title, file) = match kind {
        SchemaKind::Detection => ("Detections", "detections/<section>/<name>.yaml"),
        SchemaKind::Logsource => ("Log sources", "detections/logsources/<id>.yaml"),
        SchemaKind::Config => ("Catalogue settings", "detections/rulecast.yaml"),
        SchemaKind::Guide => ("The guide", "detections/guide.yaml"),
        SchemaKind::Tests => ("Test files", "detections/<section>/<name>.tests.yaml"),
    };
    let _ = write!(
        out,
        "\n## {title}: `{file}`\n\nSchema: `detections/{}`.\n",
        kind.committed_path()
    );
    if let Some(d) = description(schema) {
        let _ = write!(out, "\n{d}\n");
    }
    if let Some(map) = schema.as_object() {
        keys(out, map);
    }
    let Some(Value::Object(definitions)) = schema.get("$defs") else {
        return;
    };
    for (name, definition) in definitions {
        let _ = write!(out, "\n### {name}\n");
        if let Some(d) = description(definition) {
            let _ = write!(out, "\n{d}\n");
        }
        let Some(map) = definition.as_object() else {
            continue;
        };
        if let Some(Value::Array(values)) = map.get("enum") {
            let names: Vec<String> = values.iter().map(|v| format!("`{}`", scalar(v))).collect();
            let _ = write!(out, "\nOne of {}.\n", names.join(", "));
        } else if let Some(Value::Array(forms)) = map.get("anyOf") {
            out.push_str("\nOne of these forms:\n");
            for form in forms {
                let _ = write!(
                    out,
                    "\n- {}",
                    description(form).unwrap_or_else(|| type_of(form))
                );
                if let Some(form) = form.as_object() {
                    let written: Vec<String> = form
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
                        .unwrap_or_default();
                    if !written.is_empty() {
                        let _ = write!(out, " Keys: {}.", written.join(", "));
                    }
                }
            }
            out.push('\n');
        } else if map.contains_key("properties") || map.contains_key("additionalProperties") {
            keys(out, map);
        } else {
            let _ = write!(out, "\nA {}.{}\n", type_of(definition), constraints(map));
        }
    }
}

/// The table of a mapping's keys.
fn keys(out: &mut String, map: &Map<String, Value>) {
    let required: Vec<&str> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (key, property) in properties {
            rows.push(row(
                &format!("`{key}`"),
                property,
                required.contains(&key.as_str()),
            ));
        }
    }
    if let Some(extra @ Value::Object(_)) = map.get("additionalProperties") {
        let name = map
            .get("propertyNames")
            .and_then(|p| p.get("pattern"))
            .and_then(Value::as_str)
            .map_or_else(|| "any name".to_owned(), |p| format!("a name (`{p}`)"));
        rows.push(row(&name, extra, false));
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("\n| key | type | required | what it is |\n| --- | --- | --- | --- |\n");
    for r in rows {
        out.push_str(&r);
    }
}

fn row(key: &str, property: &Value, required: bool) -> String {
    let mut what = description(property).unwrap_or_default();
    if let Some(map) = property.as_object() {
        what.push_str(&constraints(map));
    }
    format!(
        "| {key} | {} | {} | {} |\n",
        cell(&type_of(property)),
        if required { "yes" } else { "no" },
        cell(what.trim())
    )
}

/// What a schema accepts, in words.
fn type_of(schema: &Value) -> String {
    let Some(map) = schema.as_object() else {
        return "anything".to_owned();
    };
    if let Some(title) = map.get("title").and_then(Value::as_str) {
        return title.to_owned();
    }
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(Value::Array(branches)) = map.get("anyOf").or_else(|| map.get("oneOf")) {
        let types: Vec<String> = branches
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .map(type_of)
            .collect();
        return types.join(" or ");
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        let names: Vec<String> = values.iter().map(|v| format!("`{}`", scalar(v))).collect();
        return format!("one of {}", names.join(", "));
    }
    let names: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    };
    let words: Vec<String> = names
        .iter()
        .map(|t| match *t {
            "string" => "text".to_owned(),
            "integer" => "whole number".to_owned(),
            "boolean" => "true or false".to_owned(),
            "array" => format!(
                "list of {}",
                map.get("items")
                    .map_or_else(|| "anything".to_owned(), type_of)
            ),
            "object" => match (map.get("properties"), map.get("additionalProperties")) {
                (None, Some(extra @ Value::Object(_))) => format!("map to {}", type_of(extra)),
                (Some(Value::Object(properties)), _) if !properties.is_empty() => {
                    let entries: Vec<String> = properties
                        .iter()
                        .map(|(key, value)| format!("`{key}`: {}", type_of(value)))
                        .collect();
                    format!("mapping of {}", entries.join(", "))
                }
                _ => "mapping".to_owned(),
            },
            other => other.to_owned(),
        })
        .collect();
    if words.is_empty() {
        "anything".to_owned()
    } else {
        words.join(", ")
    }
}

/// The limits of a value, as a sentence to append to its description.
fn constraints(map: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    let number = |key: &str| map.get(key).and_then(Value::as_u64);
    match (number("minLength"), number("maxLength")) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max} characters")),
        (Some(min), None) if min > 1 => parts.push(format!("at least {min} characters")),
        (Some(_), None) => parts.push("not empty".to_owned()),
        (None, Some(max)) => parts.push(format!("at most {max} characters")),
        (None, None) => {}
    }
    match (number("minItems"), number("maxItems")) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max} items")),
        (Some(min), None) => parts.push(format!("at least {min} item{}", plural(min))),
        (None, Some(max)) => parts.push(format!("at most {max} items")),
        (None, None) => {}
    }
    match (map.get("minimum"), map.get("maximum")) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max}")),
        (Some(min), None) if min.as_u64() != Some(0) => parts.push(format!("at least {min}")),
        (None, Some(max)) => parts.push(format!("at most {max}")),
        _ => {}
    }
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
        parts.push(format!("form `{pattern}`"));
    }
    // The forms of the names and values inside a list or mapping (list keys, column names,
    // Splunk roles, Sigma field names).
    for (key, what) in [
        ("propertyNames", "names"),
        ("items", "items"),
        ("additionalProperties", "values"),
    ] {
        if let Some(pattern) = map
            .get(key)
            .and_then(|s| s.get("pattern"))
            .and_then(Value::as_str)
        {
            parts.push(format!("{what} of form `{pattern}`"));
        }
    }
    if let Some(default) = map.get("default")
        && !default.as_object().is_some_and(Map::is_empty)
        && !default.as_array().is_some_and(Vec::is_empty)
    {
        parts.push(format!("default `{}`", scalar(default)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A description on one line (doc comments are wrapped).
fn description(schema: &Value) -> Option<String> {
    let text = schema.get("description")?.as_str()?;
    Some(
        text.split("\n\n")
            .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Text for a table cell: `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn modifiers(out: &mut String) {
    out.push_str(
        "\n## Modifiers\n\n\
         A field key is `Field` or `Field|modifier|...`. Each modifier means the same in every\n\
         language rulecast compiles to (the meaning is what `rulecast test` and `rulecast scan`\n\
         evaluate); how each language says it is in its column: natively, through a documented\n\
         fallback, or not at all (a refusal: a detection that uses it does not load).\n\n",
    );
    out.push_str("| modifier | meaning |");
    for language in Language::ALL {
        let _ = write!(out, " {} |", language.name());
    }
    out.push_str("\n| --- | --- |");
    for _ in Language::ALL {
        out.push_str(" --- |");
    }
    out.push('\n');
    for spec in &MODIFIERS {
        let _ = write!(out, "| `{}` | {} |", spec.name, cell(spec.meaning));
        for language in Language::ALL {
            let how = match spec.lowering(language) {
                Lowering::Native(how) => how.to_owned(),
                Lowering::Fallback(how) => format!("fallback: {how}"),
                Lowering::Refused(why) => format!("refused: {why}"),
            };
            let _ = write!(out, " {} |", cell(&how));
        }
        out.push('\n');
    }
}
