//! Splunk Enterprise Security: each search as a correlation search.
//!
//! ES reads its content from `savedsearches.conf`: a search with
//! `action.correlationsearch.enabled = 1` is a correlation search, its `action.notable` raises
//! a notable event in Incident Review (title and description filled from each result's
//! `$field$` tokens, a drill-down search to the raw events), its `action.risk` adds risk to
//! the actor and the target (risk-based alerting) with the IP as a threat object, and its
//! annotations tag it with MITRE ATT&CK and the guide row it implements. Shipping them in the
//! app, rather than having an ES admin edit 21 stanzas by hand, keeps them across upgrades.
//! The keys and formats are those of Splunk's own ES content generator (contentctl) and the
//! ES correlation-search settings; AppInspect does not check them, so [`SETTINGS`] is the one
//! list the app check holds every `action.*` key of the ES flavour to.

use serde::Serialize;
use serde_json::json;

use crate::catalogue::Detection;
use crate::catalogue::attack;
use crate::catalogue::detection::{DEFAULT_TIER, Severity};
use crate::lang::{ColumnRole, OutputColumn, columns, spl};
use crate::targets::Artifacts;
use crate::targets::alert_text::{self, SPLUNK};

/// The ES settings of savedsearches.conf rulecast writes: correlation search, notable and risk
/// (Splunk ES documentation and contentctl's savedsearches template).
pub(crate) const SETTINGS: &[&str] = &[
    "action.correlationsearch.enabled",
    "action.correlationsearch.label",
    "action.correlationsearch.annotations",
    "action.notable",
    "action.notable.param.rule_title",
    "action.notable.param.rule_description",
    "action.notable.param.security_domain",
    "action.notable.param.severity",
    "action.notable.param.nes_fields",
    "action.notable.param.drilldown_searches",
    "action.risk",
    "action.risk.param._risk",
    "action.risk.param._risk_message",
    "action.risk.param._risk_score",
    "action.risk.param.verbose",
];

/// ES security domains (`action.notable.param.security_domain`).
pub(crate) const SECURITY_DOMAINS: &[&str] = &[
    "access", "endpoint", "network", "threat", "identity", "audit",
];

/// Characters of a correlation search's name that ES can still edit (ES renames a search it
/// edits to `<domain> - <name> - Rule`; contentctl's ES_MAX_STANZA_LENGTH).
pub(crate) const MAX_STANZA: usize = 99;

/// The custom annotation framework that names the guide rows a search implements.
pub(crate) const GUIDE_FRAMEWORK: &str = "entra_pim_guide";

/// The ES settings of one correlation search, each value as savedsearches.conf holds it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CorrelationSearch {
    pub label: String,
    pub annotations: String,
    pub story: String,
    pub rule_title: String,
    pub rule_description: String,
    pub security_domain: &'static str,
    pub severity: &'static str,
    pub nes_fields: String,
    pub drilldown_searches: String,
    pub risk: String,
    pub risk_message: String,
    /// SPL appended to the search when a tier raises the severity: each result's `severity`
    /// (which the notable takes) and, per tier, the risk objects scored at its severity.
    pub tier_evals: String,
}

/// The risk score of a detection's risk objects in a result of `tier` (`None` without a
/// threshold): the score of the tier's severity, or of the detection's.
fn tier_risk_score(detection: &Detection, tier: Option<&str>) -> u8 {
    risk_score(detection.meta.alert_severity(tier))
}

/// The field that holds a risk object's value in the results of one tier only, so that a
/// risk entry scored at the tier's severity applies to them alone.
fn tier_field(field: &str, tier: &str) -> String {
    format!("{field}_{tier}")
}

/// ES notable severity.
fn notable_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "informational",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    }
}

/// The risk score of a detection's risk objects, in ES's bands (0-20 informational, 21-40
/// low, 41-60 medium, 61-80 high, 81-100 critical): the middle of the band of its severity.
fn risk_score(severity: Severity) -> u8 {
    match severity {
        Severity::Informational => 10,
        Severity::Low => 30,
        Severity::Medium => 50,
        Severity::High => 70,
    }
}

/// The analytic story of a detection: its catalogue section.
pub(crate) fn story(app_label: &str, detection: &Detection) -> String {
    format!("{app_label}: {}", detection.section)
}

/// The ES settings of `detection`, whose search outputs `columns`. Text that cannot be written
/// with `$field$` tokens (a title holding `$`) falls back to the plain title, with a warning.
pub(crate) fn correlation_search(
    detection: &Detection,
    stanza: &str,
    app_label: &str,
    source_macro: &str,
    columns: &[OutputColumn],
    artifacts: &mut Artifacts,
) -> CorrelationSearch {
    let meta = &detection.meta;
    if stanza.chars().count() > MAX_STANZA {
        artifacts.limitation(
            "splunk",
            detection,
            &format!(
                "has a correlation search name of {} characters; ES cannot edit one longer than {MAX_STANZA} (shorten the title or the app label)",
                stanza.chars().count()
            ),
        );
    }
    let outputs: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    // A result of a threshold stands for many events: only the fields it groups by name
    // one principal (the others hold one event's value, picked at random).
    let shared = |field: &str| {
        meta.threshold
            .as_ref()
            .is_none_or(|t| t.group_by.iter().any(|g| g == field))
    };
    let entity = |slot: &'static str| {
        columns
            .iter()
            .find(|c| c.role == ColumnRole::Entity(slot) && shared(&c.name))
            .map(|c| c.name.as_str())
    };
    // ES fills any number of tokens; the texts are the ones Sentinel shows, in full.
    let mut text = |what: &str, text: alert_text::AlertText, plain: &str| {
        let rendered = match text.columns().into_iter().find(|c| !outputs.contains(c)) {
            Some(missing) => Err(format!("its search does not output `{missing}`")),
            None => text.render(SPLUNK),
        };
        rendered.unwrap_or_else(|why| {
            artifacts.limitation(
                "splunk",
                detection,
                &format!("has a notable {what} without result values: {why}"),
            );
            plain.replace('$', "")
        })
    };
    let rule_title = text(
        "title",
        alert_text::title(detection, usize::MAX),
        &meta.title,
    );
    let rule_description = text(
        "description",
        alert_text::description(detection, usize::MAX),
        &meta.title,
    );
    let story = story(app_label, detection);
    let mut techniques: Vec<String> = meta
        .attack
        .techniques
        .iter()
        .flat_map(|t| [attack::parent(t).to_owned(), t.clone()])
        .collect();
    techniques.sort();
    techniques.dedup();
    let annotations = json!({
        "analytic_story": [story],
        "mitre_attack": techniques,
        GUIDE_FRAMEWORK: meta.guide_rows,
    });
    // A risk object is scored once per result. When a tier raises the severity, its score
    // depends on the tier: ES's `_risk` entries have fixed scores, so each tier's results hold
    // the object in a field of that tier's own (`Actor_privileged`), scored at its severity,
    // and every result holds it in exactly one. ES adds risk to the object's value, so an
    // account collects the same risk whichever field named it.
    let tier_severities = meta.tier_severities();
    let tiers: Vec<&str> = match &meta.threshold {
        Some(t) if !tier_severities.is_empty() => t
            .tiers
            .iter()
            .map(|t| t.name.as_str())
            .chain([DEFAULT_TIER])
            .collect(),
        _ => Vec::new(),
    };
    let mut objects: Vec<(&str, &str)> = ["actor", "target_user"]
        .into_iter()
        .filter_map(entity)
        .map(|field| (field, "user"))
        .collect();
    // An Azure scope is no user or host; ES's `other` type carries it.
    objects.extend(entity("resource").map(|field| (field, "other")));
    let mut risk = Vec::new();
    let mut evals = Vec::new();
    for (field, kind) in objects {
        if tiers.is_empty() {
            risk.push(json!({
                "risk_object_field": field,
                "risk_object_type": kind,
                "risk_score": tier_risk_score(detection, None),
            }));
            continue;
        }
        for tier in &tiers {
            let per_tier = tier_field(field, tier);
            evals.push(format!(
                "{}=if({}=={}, {}, null())",
                spl::field(&per_tier),
                columns::TIER,
                spl::string(tier),
                spl::field(field)
            ));
            risk.push(json!({
                "risk_object_field": per_tier,
                "risk_object_type": kind,
                "risk_score": tier_risk_score(detection, Some(tier)),
            }));
        }
    }
    let mut tier_evals = String::new();
    if !tiers.is_empty() {
        // ES takes a notable's severity from the result's `severity` field when it has one
        // (ES's own content sets it with `eval severity=...`); the setting is the default.
        let mut cases: Vec<String> = tier_severities
            .iter()
            .map(|(tier, severity)| {
                format!(
                    "{}=={}, {}",
                    columns::TIER,
                    spl::string(&tier.name),
                    spl::string(notable_severity(*severity))
                )
            })
            .collect();
        cases.push(format!(
            "true(), {}",
            spl::string(notable_severity(meta.severity))
        ));
        evals.insert(0, format!("severity=case({})", cases.join(", ")));
        tier_evals = format!("\n| eval {}", evals.join(", "));
    }
    if let Some(ip) = entity("ip") {
        risk.push(json!({"threat_object_field": ip, "threat_object_type": "ip_address"}));
    }
    let nes_fields: Vec<&str> = ["actor", "target_user", "role", "ip", "resource"]
        .into_iter()
        .filter_map(entity)
        .collect();
    let drilldown = match entity("actor") {
        Some(actor) => json!([{
            "name": format!("Events of ${actor}$ in the search's window"),
            "search": format!("`{source_macro}` \"${actor}$\""),
            "earliest_offset": "$info_min_time$",
            "latest_offset": "$info_max_time$",
        }]),
        None => json!([{
            "name": "Events in the search's window",
            "search": format!("`{source_macro}`"),
            "earliest_offset": "$info_min_time$",
            "latest_offset": "$info_max_time$",
        }]),
    };
    CorrelationSearch {
        label: stanza.to_owned(),
        annotations: annotations.to_string(),
        story,
        risk_message: rule_title.clone(),
        rule_title,
        rule_description,
        security_domain: "identity",
        severity: notable_severity(meta.severity),
        nes_fields: nes_fields.join(","),
        drilldown_searches: drilldown.to_string(),
        risk: serde_json::Value::Array(risk).to_string(),
        tier_evals,
    }
}

/// Every way a saved search's ES settings break what ES reads: a key of the correlation,
/// notable or risk settings that ES does not have (a typo ES ignores without a word), and,
/// for a correlation search, a missing notable or risk action, annotations without MITRE
/// ATT&CK, a security domain or severity ES does not know, risk objects or drill-downs
/// not in ES's shape. `values` are the stanza's keys and values.
pub(crate) fn check_stanza<'a>(values: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let values: Vec<(&str, &str)> = values.collect();
    let get = |key: &str| values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let mut problems = Vec::new();
    for (key, _) in &values {
        let es = ["action.correlationsearch", "action.notable", "action.risk"]
            .iter()
            .any(|prefix| key.starts_with(prefix));
        if es && !SETTINGS.contains(key) {
            problems.push(format!("`{key}` is not an ES correlation-search setting"));
        }
    }
    if get("action.correlationsearch.enabled") != Some("1") {
        return problems;
    }
    let json = |key: &str| -> Option<serde_json::Value> { serde_json::from_str(get(key)?).ok() };
    for (key, wanted) in [("action.notable", "1"), ("action.risk", "1")] {
        if get(key) != Some(wanted) {
            problems.push(format!("a correlation search needs `{key} = {wanted}`"));
        }
    }
    for key in [
        "action.correlationsearch.label",
        "action.notable.param.rule_title",
    ] {
        if get(key).is_none_or(str::is_empty) {
            problems.push(format!("`{key}` is missing"));
        }
    }
    match json("action.correlationsearch.annotations") {
        Some(a) if a["mitre_attack"].as_array().is_some_and(|t| !t.is_empty()) => {
            for t in a["mitre_attack"].as_array().into_iter().flatten() {
                if !t.as_str().is_some_and(attack::is_technique_id) {
                    problems.push(format!("annotation mitre_attack {t} is not a technique id"));
                }
            }
        }
        _ => problems.push(
            "`action.correlationsearch.annotations` is not a JSON object with mitre_attack ids"
                .to_owned(),
        ),
    }
    match get("action.notable.param.security_domain") {
        Some(d) if SECURITY_DOMAINS.contains(&d) => {}
        other => problems.push(format!(
            "security domain {other:?} is not one of {}",
            SECURITY_DOMAINS.join(", ")
        )),
    }
    match get("action.notable.param.severity") {
        Some("informational" | "low" | "medium" | "high" | "critical") => {}
        other => problems.push(format!("notable severity {other:?} is not an ES severity")),
    }
    match json("action.risk.param._risk") {
        Some(serde_json::Value::Array(objects))
            if objects.iter().any(|o| o.get("risk_object_field").is_some()) =>
        {
            for o in &objects {
                if o.get("risk_object_field").is_some() {
                    let typed = matches!(
                        o["risk_object_type"].as_str(),
                        Some("user" | "system" | "other")
                    );
                    let scored = o["risk_score"]
                        .as_u64()
                        .is_some_and(|s| (1..=100).contains(&s));
                    if !typed || !scored {
                        problems.push(format!(
                            "risk object {o} needs a risk_object_type of user, system or other and a risk_score from 1 to 100"
                        ));
                    }
                } else if o["threat_object_field"].as_str().is_none()
                    || o["threat_object_type"].as_str().is_none()
                {
                    problems.push(format!(
                        "risk entry {o} is neither a risk nor a threat object"
                    ));
                }
            }
        }
        _ => problems
            .push("`action.risk.param._risk` is not a JSON list with a risk object".to_owned()),
    }
    let search = get("search").unwrap_or_default();
    if let Some(objects) = json("action.risk.param._risk").and_then(|v| v.as_array().cloned()) {
        for o in &objects {
            let field = o["risk_object_field"]
                .as_str()
                .or_else(|| o["threat_object_field"].as_str());
            if let Some(field) = field
                && !mentions(search, field)
            {
                problems.push(format!(
                    "risk entry {o} names `{field}`, which the search never mentions"
                ));
            }
        }
    }
    for value in severity_values(search) {
        if !matches!(
            value.as_str(),
            "\"informational\"" | "\"low\"" | "\"medium\"" | "\"high\"" | "\"critical\""
        ) {
            problems.push(format!(
                "the search sets severity to {value}, which is not an ES severity"
            ));
        }
    }
    match json("action.notable.param.drilldown_searches") {
        Some(serde_json::Value::Array(searches))
            if searches
                .iter()
                .all(|s| s["name"].is_string() && s["search"].is_string()) => {}
        _ => problems.push(
            "`action.notable.param.drilldown_searches` is not a JSON list of {name, search}"
                .to_owned(),
        ),
    }
    problems
}

/// Whether `search` mentions `field` as a whole word (a field name ends where a character
/// that cannot be part of one begins).
fn mentions(search: &str, field: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    search.match_indices(field).any(|(at, _)| {
        let before = search[..at].chars().next_back();
        let after = search[at + field.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The values a search's `severity=case(...)` can give (every second argument, as written).
fn severity_values(search: &str) -> Vec<String> {
    let Some(start) = search.find("severity=case(") else {
        return Vec::new();
    };
    let mut args = vec![String::new()];
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in search[start + "severity=case(".len()..].chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth == 0 => break,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                args.push(String::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("never empty").push(c);
    }
    args.iter()
        .skip(1)
        .step_by(2)
        .map(|a| a.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "search",
                "`src` | table Actor Ip Tier\n| eval severity=case(Tier==\"privileged\", \"high\", true(), \"medium\")",
            ),
            ("action.correlationsearch.enabled", "1"),
            ("action.correlationsearch.label", "pack - title"),
            (
                "action.correlationsearch.annotations",
                r#"{"mitre_attack": ["T1098", "T1098.003"]}"#,
            ),
            ("action.notable", "1"),
            ("action.notable.param.rule_title", "Title by $Actor$"),
            ("action.notable.param.security_domain", "identity"),
            ("action.notable.param.severity", "high"),
            (
                "action.notable.param.drilldown_searches",
                r#"[{"name": "n", "search": "s"}]"#,
            ),
            ("action.risk", "1"),
            (
                "action.risk.param._risk",
                r#"[{"risk_object_field": "Actor", "risk_object_type": "user", "risk_score": 70},
                    {"threat_object_field": "Ip", "threat_object_type": "ip_address"}]"#,
            ),
        ]
    }

    #[test]
    fn a_valid_correlation_search_passes() {
        assert_eq!(check_stanza(valid().into_iter()), Vec::<String>::new());
    }

    #[test]
    fn each_es_rule_can_fail() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "action.notable.param.rule_tilte",
                "x",
                "is not an ES correlation-search setting",
            ),
            ("action.notable", "0", "needs `action.notable = 1`"),
            ("action.risk", "0", "needs `action.risk = 1`"),
            (
                "action.correlationsearch.annotations",
                r#"{"mitre_attack": []}"#,
                "with mitre_attack",
            ),
            (
                "action.correlationsearch.annotations",
                r#"{"mitre_attack": ["T98"]}"#,
                "not a technique id",
            ),
            (
                "action.notable.param.security_domain",
                "Identity",
                "is not one of",
            ),
            (
                "action.notable.param.severity",
                "severe",
                "not an ES severity",
            ),
            (
                "action.risk.param._risk",
                r#"[{"risk_object_field": "Actor", "risk_object_type": "account", "risk_score": 70}]"#,
                "risk_object_type of user",
            ),
            (
                "action.risk.param._risk",
                r#"[{"risk_object_field": "Actor", "risk_object_type": "user", "risk_score": 0}]"#,
                "risk_score from 1 to 100",
            ),
            (
                "action.risk.param._risk",
                r#"{"risk_object_field": "Actor"}"#,
                "is not a JSON list",
            ),
            (
                "action.notable.param.drilldown_searches",
                r#"[{"name": "n"}]"#,
                "list of {name, search}",
            ),
            ("action.notable.param.rule_title", "", "is missing"),
            (
                "action.risk.param._risk",
                r#"[{"risk_object_field": "Actor_privileged", "risk_object_type": "user", "risk_score": 70}]"#,
                "`Actor_privileged`, which the search never mentions",
            ),
            (
                "search",
                "`src` | table Actor Ip Tier\n| eval severity=case(Tier==\"privileged\", \"severe\", true(), \"medium\")",
                "sets severity to \"severe\", which is not an ES severity",
            ),
        ];
        for (key, value, expected) in cases {
            let mut stanza: Vec<(&str, &str)> =
                valid().into_iter().filter(|(k, _)| k != key).collect();
            stanza.push((key, value));
            let problems = check_stanza(stanza.into_iter());
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{key}={value}: {problems:?}"
            );
        }
    }
}
