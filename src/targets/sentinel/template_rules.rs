//! The rules Azure-Sentinel's CI applies to analytics-rule templates, checked on the YAML
//! rulecast rendered (so template overrides are held to them too). Users get them from
//! `rulecast check` without Node or Python.
//!
//! Source of the rules: the Azure-Sentinel repository's template validation (required fields,
//! enums, lengths, duration formats and ranges, cross-field rules, entity-mapping limits).

use serde_json::Value;

use super::limits::{
    LONG_PERIOD, LONG_PERIOD_MIN_FREQUENCY, MAX_CUSTOM_DETAIL_KEY, MAX_CUSTOM_DETAILS,
    MAX_DESCRIPTION, MAX_ENTITY_MAPPINGS, MAX_FIELD_MAPPINGS, MAX_NAME, MAX_QUERY, MAX_SCHEDULE,
    MAX_TRIGGER_THRESHOLD, MIN_SCHEDULE,
};
use crate::catalogue::attack;
use crate::catalogue::duration::Duration;

/// Identifiers Sentinel accepts per entity type (the ones rulecast can emit).
const IDENTIFIERS: &[(&str, &[&str])] = &[
    (
        "Account",
        &[
            "Name",
            "FullName",
            "NTDomain",
            "DnsDomain",
            "UPNSuffix",
            "Sid",
            "AadTenantId",
            "AadUserId",
            "PUID",
            "IsDomainJoined",
            "DisplayName",
            "ObjectGuid",
        ],
    ),
    ("IP", &["Address", "AddressScope"]),
    ("AzureResource", &["ResourceId"]),
    ("CloudApplication", &["AppId", "Name", "InstanceName"]),
    ("SecurityGroup", &["DistinguishedName", "SID", "ObjectGuid"]),
    (
        "Host",
        &[
            "DnsDomain",
            "NTDomain",
            "HostName",
            "FullName",
            "NetBiosName",
            "AzureID",
            "OMSAgentID",
            "OSFamily",
            "OSVersion",
            "IsDomainJoined",
        ],
    ),
];

fn duration(value: Option<&Value>) -> Option<Duration> {
    let text = value?.as_str()?;
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    text.parse().ok()
}

/// Every rule `template` breaks.
pub(crate) fn check(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |key: &str| template.get(key).and_then(Value::as_str);
    let require = |key: &str, problems: &mut Vec<String>| {
        if template.get(key).is_none() {
            problems.push(format!("`{key}` is required"));
        }
    };
    for key in [
        "id",
        "name",
        "description",
        "severity",
        "requiredDataConnectors",
        "query",
        "kind",
        "version",
    ] {
        require(key, &mut problems);
    }
    if let Some(id) = text("id")
        && uuid::Uuid::parse_str(id).is_err()
    {
        problems.push(format!("id `{id}` is not a GUID"));
    }
    for (key, max) in [
        ("name", MAX_NAME),
        ("description", MAX_DESCRIPTION),
        ("query", MAX_QUERY),
    ] {
        if let Some(v) = text(key)
            && v.chars().count() > max
        {
            problems.push(format!(
                "`{key}` is {} characters long; the limit is {max}",
                v.chars().count()
            ));
        }
    }
    if let Some(s) = text("severity")
        && !["Informational", "Low", "Medium", "High"].contains(&s)
    {
        problems.push(format!(
            "severity `{s}` is not Informational, Low, Medium or High"
        ));
    }
    match template
        .get("requiredDataConnectors")
        .and_then(Value::as_array)
    {
        Some(connectors) if !connectors.is_empty() => {
            for c in connectors {
                if c.get("connectorId").and_then(Value::as_str).is_none()
                    || c.get("dataTypes")
                        .and_then(Value::as_array)
                        .is_none_or(std::vec::Vec::is_empty)
                {
                    problems.push(
                        "every requiredDataConnectors entry needs a connectorId and dataTypes"
                            .to_owned(),
                    );
                }
            }
        }
        _ => problems.push("requiredDataConnectors must list at least one connector".to_owned()),
    }
    let kind = text("kind").unwrap_or_default();
    if !["Scheduled", "NRT"].contains(&kind) {
        problems.push(format!("kind `{kind}` is not Scheduled or NRT"));
    }
    if kind == "Scheduled" {
        let frequency = duration(template.get("queryFrequency"));
        let period = duration(template.get("queryPeriod"));
        for (key, value) in [("queryFrequency", frequency), ("queryPeriod", period)] {
            match value {
                None => problems.push(format!(
                    "`{key}` must be a lower-case duration such as 5m, 1h or 14d"
                )),
                Some(d) if d < MIN_SCHEDULE || d > MAX_SCHEDULE => {
                    problems.push(format!(
                        "`{key}` {d} is outside {MIN_SCHEDULE}..{MAX_SCHEDULE}"
                    ));
                }
                _ => {}
            }
        }
        if let (Some(f), Some(p)) = (frequency, period) {
            if p < f {
                problems.push(format!(
                    "queryPeriod {p} is shorter than queryFrequency {f}"
                ));
            }
            if p >= LONG_PERIOD && f < LONG_PERIOD_MIN_FREQUENCY {
                problems.push(format!(
                    "a queryPeriod of {LONG_PERIOD} or more needs a queryFrequency of at least \
                     {LONG_PERIOD_MIN_FREQUENCY}"
                ));
            }
        }
        match text("triggerOperator") {
            Some("gt" | "lt" | "eq" | "ne") => {}
            other => problems.push(format!(
                "triggerOperator `{}` is not gt, lt, eq or ne",
                other.unwrap_or("missing")
            )),
        }
        match template.get("triggerThreshold").and_then(Value::as_i64) {
            Some(t) if (0..=MAX_TRIGGER_THRESHOLD).contains(&t) => {}
            _ => problems.push(format!(
                "triggerThreshold must be a number from 0 to {MAX_TRIGGER_THRESHOLD}"
            )),
        }
    }
    let tactics: Vec<&str> = template
        .get("tactics")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for tactic in &tactics {
        if !attack::is_tactic(tactic) {
            problems.push(format!("`{tactic}` is not a tactic"));
        }
    }
    for technique in template
        .get("relevantTechniques")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !attack::is_technique_id(technique) {
            problems.push(format!("`{technique}` is not a technique id"));
        } else if let Some(of) = attack::tactics_of(technique)
            && !of.iter().any(|t| tactics.contains(t))
        {
            problems.push(format!(
                "technique {technique} belongs to none of the tactics {}",
                tactics.join(", ")
            ));
        }
    }
    let mappings = template
        .get("entityMappings")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if mappings.is_empty() || mappings.len() > MAX_ENTITY_MAPPINGS {
        problems.push(format!(
            "{} entity mappings; Sentinel allows 1 to {MAX_ENTITY_MAPPINGS}",
            mappings.len()
        ));
    }
    for mapping in mappings {
        let entity = mapping
            .get("entityType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let fields = mapping
            .get("fieldMappings")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if fields.is_empty() || fields.len() > MAX_FIELD_MAPPINGS {
            problems.push(format!(
                "{entity} mapping has {} field mappings; Sentinel allows 1 to {MAX_FIELD_MAPPINGS}",
                fields.len()
            ));
        }
        match IDENTIFIERS.iter().find(|(t, _)| *t == entity) {
            None => problems.push(format!("entity type `{entity}` is not one rulecast knows")),
            Some((_, allowed)) => {
                for f in fields {
                    let identifier = f
                        .get("identifier")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !allowed.contains(&identifier) {
                        problems.push(format!("`{identifier}` is not an identifier of {entity}"));
                    }
                    if f.get("columnName")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        problems.push(format!("a {entity} field mapping has no columnName"));
                    }
                }
            }
        }
    }
    let formats = template.get("alertDetailsOverride");
    for (key, max) in [
        ("alertDisplayNameFormat", MAX_NAME),
        ("alertDescriptionFormat", MAX_DESCRIPTION),
    ] {
        let Some(format) = formats.and_then(|f| f.get(key)).and_then(Value::as_str) else {
            continue;
        };
        if format.is_empty() || format.chars().count() > max {
            problems.push(format!(
                "alertDetailsOverride.{key} is {} characters long; Sentinel allows 1 to {max}",
                format.chars().count()
            ));
        }
        let placeholders = format.matches("{{").count();
        if placeholders > super::MAX_ALERT_PLACEHOLDERS {
            problems.push(format!(
                "alertDetailsOverride.{key} has {placeholders} {{{{Column}}}} placeholders; \
                 Sentinel allows {}",
                super::MAX_ALERT_PLACEHOLDERS
            ));
        }
    }
    for property in formats
        .and_then(|f| f.get("alertDynamicProperties"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = property.get("alertProperty").and_then(Value::as_str);
        if !name.is_some_and(|n| super::DYNAMIC_PROPERTIES.contains(&n)) {
            problems.push(format!(
                "alertDetailsOverride.alertDynamicProperties names {}, not one of {}",
                name.unwrap_or("no alertProperty"),
                super::DYNAMIC_PROPERTIES.join(", ")
            ));
        }
    }
    if let Some(details) = template.get("customDetails").and_then(Value::as_object) {
        if details.len() > MAX_CUSTOM_DETAILS {
            problems.push(format!(
                "{} custom details; Sentinel allows {MAX_CUSTOM_DETAILS}",
                details.len()
            ));
        }
        for key in details.keys() {
            if key.len() > MAX_CUSTOM_DETAIL_KEY
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                problems.push(format!(
                    "custom detail key `{key}` must be at most {MAX_CUSTOM_DETAIL_KEY} letters, digits or _"
                ));
            }
        }
    }
    match text("version") {
        Some(v)
            if v.split('.').count() == 3
                && v.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) => {}
        other => problems.push(format!(
            "version `{}` is not X.Y.Z",
            other.unwrap_or("missing")
        )),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "id": "0b3a6f2e-8a4e-4c1b-9f55-3f1c2d4e5a6b", "name": "n", "description": "d", "severity": "High",
            "requiredDataConnectors": [{"connectorId": "AzureActiveDirectory", "dataTypes": ["AuditLogs"]}],
            "queryFrequency": "1h", "queryPeriod": "2h", "triggerOperator": "gt", "triggerThreshold": 0,
            "tactics": ["Persistence"], "relevantTechniques": ["T1098.003"], "query": "AuditLogs",
            "entityMappings": [{"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "columnName": "Actor"}]}],
            "version": "1.0.0", "kind": "Scheduled"
        })
    }

    #[test]
    fn a_valid_template_passes() {
        assert_eq!(check(&valid()), Vec::<String>::new());
    }

    #[test]
    fn each_rule_can_fail() {
        let cases: &[(&str, Value, &str)] = &[
            ("queryFrequency", json!("5 minutes"), "lower-case duration"),
            ("queryFrequency", json!("1H"), "lower-case duration"),
            ("queryPeriod", json!("30m"), "shorter than queryFrequency"),
            ("queryPeriod", json!("15d"), "outside 5m..14d"),
            ("severity", json!("Critical"), "not Informational"),
            (
                "relevantTechniques",
                json!(["T1562"]),
                "belongs to none of the tactics",
            ),
            (
                "tactics",
                json!(["Privilege Escalation"]),
                "is not a tactic",
            ),
            ("entityMappings", json!([]), "0 entity mappings"),
            (
                "entityMappings",
                json!([{"entityType": "IP", "fieldMappings": [{"identifier": "FullName", "columnName": "x"}]}]),
                "not an identifier of IP",
            ),
            ("version", json!("1.0"), "is not X.Y.Z"),
            (
                "alertDetailsOverride",
                json!({"alertDisplayNameFormat": "{{A}} {{B}} {{C}} {{D}}"}),
                "has 4 {{Column}} placeholders",
            ),
            (
                "alertDetailsOverride",
                json!({"alertDescriptionFormat": ""}),
                "allows 1 to 5000",
            ),
            (
                "alertDetailsOverride",
                json!({"alertDynamicProperties": [{"alertProperty": "Remediation", "value": "x"}]}),
                "names Remediation, not one of",
            ),
            ("triggerOperator", json!("GreaterThan"), "is not gt"),
            ("id", json!("not-a-guid"), "is not a GUID"),
            (
                "customDetails",
                json!({"Way too long custom detail": "x"}),
                "at most 20",
            ),
        ];
        for (key, value, expected) in cases {
            let mut t = valid();
            t[*key] = value.clone();
            let problems = check(&t);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{key}={value}: {problems:?}"
            );
        }
        let mut t = valid();
        t["queryPeriod"] = json!("2d");
        t["queryFrequency"] = json!("30m");
        assert!(check(&t).iter().any(|p| p.contains("at least 1h")));
    }
}
