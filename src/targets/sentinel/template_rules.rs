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

fn duration(text: Option<&str>) -> Option<Duration> {
    let text = text?;
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    text.parse().ok()
}

/// What the rules read of an analytics-rule template: read off a rendered template
/// ([`Rule::of_template`]), or taken from the values the built-in template renders
/// ([`super::rule_facts`]), so that one set of rules judges both.
#[derive(Debug, Default)]
pub(crate) struct Rule<'a> {
    /// Required keys the template does not have.
    pub missing: Vec<&'static str>,
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub query: Option<&'a str>,
    pub severity: Option<&'a str>,
    /// Whether each `requiredDataConnectors` entry has a connectorId and dataTypes; `None`
    /// when it is not a list.
    pub connectors: Option<Vec<bool>>,
    pub kind: &'a str,
    pub query_frequency: Option<&'a str>,
    pub query_period: Option<&'a str>,
    pub trigger_operator: Option<&'a str>,
    pub trigger_threshold: Option<i64>,
    pub tactics: Vec<&'a str>,
    pub techniques: Vec<&'a str>,
    pub entity_mappings: Vec<EntityMapping<'a>>,
    pub alert_display_name_format: Option<&'a str>,
    pub alert_description_format: Option<&'a str>,
    /// The `alertProperty` of each `alertDynamicProperties` entry.
    pub dynamic_properties: Vec<Option<&'a str>>,
    /// The keys of `customDetails`, when it is a mapping.
    pub custom_detail_keys: Vec<&'a str>,
    pub version: Option<&'a str>,
}

/// An entity mapping: the entity type and each field mapping's identifier and column.
#[derive(Debug, Default)]
pub(crate) struct EntityMapping<'a> {
    pub entity_type: &'a str,
    pub fields: Vec<(&'a str, &'a str)>,
}

/// The keys every template must have.
const REQUIRED: [&str; 8] = [
    "id",
    "name",
    "description",
    "severity",
    "requiredDataConnectors",
    "query",
    "kind",
    "version",
];

impl<'a> Rule<'a> {
    /// What the rules read of a parsed template.
    pub(crate) fn of_template(template: &'a Value) -> Rule<'a> {
        let text = |key: &str| template.get(key).and_then(Value::as_str);
        let list = |value: Option<&'a Value>| -> &'a [Value] {
            value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
        };
        let strings = |value: Option<&'a Value>| -> Vec<&'a str> {
            list(value).iter().filter_map(Value::as_str).collect()
        };
        let formats = template.get("alertDetailsOverride");
        let format = |key: &str| formats.and_then(|f| f.get(key)).and_then(Value::as_str);
        Rule {
            missing: REQUIRED
                .into_iter()
                .filter(|key| template.get(key).is_none())
                .collect(),
            id: text("id"),
            name: text("name"),
            description: text("description"),
            query: text("query"),
            severity: text("severity"),
            connectors: template
                .get("requiredDataConnectors")
                .and_then(Value::as_array)
                .map(|connectors| {
                    connectors
                        .iter()
                        .map(|c| {
                            c.get("connectorId").and_then(Value::as_str).is_some()
                                && !list(c.get("dataTypes")).is_empty()
                        })
                        .collect()
                }),
            kind: text("kind").unwrap_or_default(),
            query_frequency: text("queryFrequency"),
            query_period: text("queryPeriod"),
            trigger_operator: text("triggerOperator"),
            trigger_threshold: template.get("triggerThreshold").and_then(Value::as_i64),
            tactics: strings(template.get("tactics")),
            techniques: strings(template.get("relevantTechniques")),
            entity_mappings: list(template.get("entityMappings"))
                .iter()
                .map(|mapping| EntityMapping {
                    entity_type: mapping
                        .get("entityType")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    fields: list(mapping.get("fieldMappings"))
                        .iter()
                        .map(|f| {
                            let get =
                                |key: &str| f.get(key).and_then(Value::as_str).unwrap_or_default();
                            (get("identifier"), get("columnName"))
                        })
                        .collect(),
                })
                .collect(),
            alert_display_name_format: format("alertDisplayNameFormat"),
            alert_description_format: format("alertDescriptionFormat"),
            dynamic_properties: list(formats.and_then(|f| f.get("alertDynamicProperties")))
                .iter()
                .map(|p| p.get("alertProperty").and_then(Value::as_str))
                .collect(),
            custom_detail_keys: template
                .get("customDetails")
                .and_then(Value::as_object)
                .map(|details| details.keys().map(String::as_str).collect())
                .unwrap_or_default(),
            version: text("version"),
        }
    }
}

/// Every rule `template` breaks.
pub(crate) fn check(template: &Value) -> Vec<String> {
    check_rule(&Rule::of_template(template))
}

/// Every rule `rule` breaks.
pub(crate) fn check_rule(rule: &Rule) -> Vec<String> {
    let mut problems: Vec<String> = rule
        .missing
        .iter()
        .map(|key| format!("`{key}` is required"))
        .collect();
    if let Some(id) = rule.id
        && uuid::Uuid::parse_str(id).is_err()
    {
        problems.push(format!("id `{id}` is not a GUID"));
    }
    for (key, value, max) in [
        ("name", rule.name, MAX_NAME),
        ("description", rule.description, MAX_DESCRIPTION),
        ("query", rule.query, MAX_QUERY),
    ] {
        if let Some(v) = value
            && v.chars().count() > max
        {
            problems.push(format!(
                "`{key}` is {} characters long; the limit is {max}",
                v.chars().count()
            ));
        }
    }
    if let Some(s) = rule.severity
        && !["Informational", "Low", "Medium", "High"].contains(&s)
    {
        problems.push(format!(
            "severity `{s}` is not Informational, Low, Medium or High"
        ));
    }
    match &rule.connectors {
        Some(connectors) if !connectors.is_empty() => {
            for complete in connectors {
                if !complete {
                    problems.push(
                        "every requiredDataConnectors entry needs a connectorId and dataTypes"
                            .to_owned(),
                    );
                }
            }
        }
        _ => problems.push("requiredDataConnectors must list at least one connector".to_owned()),
    }
    let kind = rule.kind;
    if !["Scheduled", "NRT"].contains(&kind) {
        problems.push(format!("kind `{kind}` is not Scheduled or NRT"));
    }
    if kind == "Scheduled" {
        let frequency = duration(rule.query_frequency);
        let period = duration(rule.query_period);
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
        match rule.trigger_operator {
            Some("gt" | "lt" | "eq" | "ne") => {}
            other => problems.push(format!(
                "triggerOperator `{}` is not gt, lt, eq or ne",
                other.unwrap_or("missing")
            )),
        }
        match rule.trigger_threshold {
            Some(t) if (0..=MAX_TRIGGER_THRESHOLD).contains(&t) => {}
            _ => problems.push(format!(
                "triggerThreshold must be a number from 0 to {MAX_TRIGGER_THRESHOLD}"
            )),
        }
    }
    let tactics = &rule.tactics;
    for tactic in tactics {
        if !attack::is_tactic(tactic) {
            problems.push(format!("`{tactic}` is not a tactic"));
        }
    }
    for technique in &rule.techniques {
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
    let mappings = &rule.entity_mappings;
    if mappings.is_empty() || mappings.len() > MAX_ENTITY_MAPPINGS {
        problems.push(format!(
            "{} entity mappings; Sentinel allows 1 to {MAX_ENTITY_MAPPINGS}",
            mappings.len()
        ));
    }
    for mapping in mappings {
        let entity = mapping.entity_type;
        let fields = &mapping.fields;
        if fields.is_empty() || fields.len() > MAX_FIELD_MAPPINGS {
            problems.push(format!(
                "{entity} mapping has {} field mappings; Sentinel allows 1 to {MAX_FIELD_MAPPINGS}",
                fields.len()
            ));
        }
        match IDENTIFIERS.iter().find(|(t, _)| *t == entity) {
            None => problems.push(format!("entity type `{entity}` is not one rulecast knows")),
            Some((_, allowed)) => {
                for (identifier, column) in fields {
                    if !allowed.contains(identifier) {
                        problems.push(format!("`{identifier}` is not an identifier of {entity}"));
                    }
                    if column.is_empty() {
                        problems.push(format!("a {entity} field mapping has no columnName"));
                    }
                }
            }
        }
    }
    for (key, format, max) in [
        (
            "alertDisplayNameFormat",
            rule.alert_display_name_format,
            MAX_NAME,
        ),
        (
            "alertDescriptionFormat",
            rule.alert_description_format,
            MAX_DESCRIPTION,
        ),
    ] {
        let Some(format) = format else {
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
    for name in &rule.dynamic_properties {
        if !name.is_some_and(|n| super::DYNAMIC_PROPERTIES.contains(&n)) {
            problems.push(format!(
                "alertDetailsOverride.alertDynamicProperties names {}, not one of {}",
                name.unwrap_or("no alertProperty"),
                super::DYNAMIC_PROPERTIES.join(", ")
            ));
        }
    }
    let keys = &rule.custom_detail_keys;
    if keys.len() > MAX_CUSTOM_DETAILS {
        problems.push(format!(
            "{} custom details; Sentinel allows {MAX_CUSTOM_DETAILS}",
            keys.len()
        ));
    }
    for key in keys {
        if key.len() > MAX_CUSTOM_DETAIL_KEY
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push(format!(
                "custom detail key `{key}` must be at most {MAX_CUSTOM_DETAIL_KEY} letters, digits or _"
            ));
        }
    }
    match rule.version {
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
