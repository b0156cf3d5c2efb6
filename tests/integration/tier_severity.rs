//! A threshold tier that raises the severity (`tiers: [{..., severity: high}]`), as each target
//! writes it: Sentinel reads each alert's severity from a column, Splunk ES from each result's
//! `severity` field with the risk scored per tier, Sigma gives the tier's rules their own
//! level, and Azure Monitor and core Splunk, which hold one severity per rule, say so in the
//! artifact and warn. The near miss is the same fixture without the tier's severity.

use serde_json::Value;

use crate::test::Test;

const BURST: &str = "detections/entra-roles/eligible-assignment-burst.yaml";
const SENTINEL_YAML: &str = "generated/sentinel/rules/entra-roles/eligible-assignment-burst.yaml";
const SENTINEL_ARM: &str = "generated/sentinel/arm/eligible-assignment-burst.json";
const SAVED_SEARCHES: &str = "generated/splunk/test_pack/default/savedsearches.conf";
const SIGMA: &str =
    "generated/sigma/rules/entra-roles/correlation_azure_eligible_assignment_burst.yml";
const AZURE_MONITOR: &str = "generated/azure-monitor/eligible-assignment-burst.json";

/// The minimal fixture's burst at severity medium, its privileged tier at high.
fn raised() -> Test {
    Test::minimal()
        .edit(BURST, "severity: high", "severity: medium")
        .edit(
            BURST,
            "      count: 2\n",
            "      count: 2\n      severity: high\n",
        )
}

/// The value of `key` in the burst's stanza of savedsearches.conf.
fn stanza_value(conf: &str, key: &str) -> String {
    let stanza = conf
        .split("\n[")
        .find(|s| s.starts_with("Test pack - Burst of eligible assignments]"))
        .expect("the burst's stanza");
    // A value goes on over the next line when its line ends with a backslash.
    let mut lines = stanza.lines();
    let first = lines
        .by_ref()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key}"));
    let mut value = first.to_owned();
    while let Some(open) = value.strip_suffix('\\') {
        value = format!("{open}\n{}", lines.next().unwrap_or_default());
    }
    value
}

#[test]
fn sentinel_reads_each_alerts_severity_from_the_tier() {
    let (_t, out) = raised().args(["build"]).run();
    let yaml = out.read(SENTINEL_YAML);
    let case = r#"| extend AlertSeverity = case(Tier == "privileged", "High", "Medium")"#;
    assert!(yaml.contains(case), "{yaml}");
    assert!(
        yaml.contains("  alertSeverityColumnName: AlertSeverity\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("severity: Medium\n"),
        "the rule's own severity stays the default"
    );
    let arm: Value = serde_json::from_str(&out.read(SENTINEL_ARM)).unwrap();
    let p = &arm["resources"][0]["properties"];
    assert!(p["query"].as_str().unwrap().contains(case));
    assert_eq!(
        p["alertDetailsOverride"]["alertSeverityColumnName"],
        "AlertSeverity"
    );
    assert_eq!(p["severity"], "Medium");

    // Near miss: a tier without a severity leaves every alert at the rule's severity.
    let (_t, out) = Test::minimal().args(["build"]).run();
    let yaml = out.read(SENTINEL_YAML);
    assert!(!yaml.contains("AlertSeverity"), "{yaml}");
}

#[test]
fn sentinel_alerts_carry_what_to_check_as_remediation_steps() {
    let (_t, out) = Test::minimal().args(["build"]).run();
    let arm: Value = serde_json::from_str(&out.read(SENTINEL_ARM)).unwrap();
    let p = &arm["resources"][0]["properties"];
    assert_eq!(
        p["alertDetailsOverride"]["alertDynamicProperties"],
        serde_json::json!([{ "alertProperty": "RemediationSteps", "value": "RemediationSteps" }])
    );
    assert!(p["query"].as_str().unwrap().ends_with(
        "\n| extend RemediationSteps = \"What to check before closing it as benign: Bulk onboarding.\""
    ));

    // A false positive that holds quotes and a backslash stays one KQL string literal.
    let (_t, out) = Test::minimal()
        .edit(
            BURST,
            "  - Bulk onboarding.\n",
            "  - Bulk \"onboarding\" from C:\\temp.\n",
        )
        .args(["build"])
        .run();
    let arm: Value = serde_json::from_str(&out.read(SENTINEL_ARM)).unwrap();
    let query = arm["resources"][0]["properties"]["query"].as_str().unwrap();
    assert!(
        query.ends_with(
            "\n| extend RemediationSteps = @\"What to check before closing it as benign: Bulk \"\"onboarding\"\" from C:\\temp.\""
        ),
        "{query}"
    );
}

#[test]
fn splunk_es_takes_severity_and_risk_from_the_tier() {
    let (_t, out) = raised().args(["build"]).run();
    let conf = out.read(SAVED_SEARCHES);
    let search = stanza_value(&conf, "search");
    assert!(
        search.ends_with(r#"| eval severity=case(Tier=="privileged", "high", true(), "medium"), Actor_privileged=if(Tier=="privileged", Actor, null()), Actor_default=if(Tier=="default", Actor, null())"#),
        "{search}"
    );
    assert_eq!(
        stanza_value(&conf, "action.notable.param.severity"),
        "medium"
    );
    let risk: Value =
        serde_json::from_str(&stanza_value(&conf, "action.risk.param._risk")).unwrap();
    assert_eq!(
        risk,
        serde_json::json!([
            { "risk_object_field": "Actor_privileged", "risk_object_type": "user", "risk_score": 70 },
            { "risk_object_field": "Actor_default", "risk_object_type": "user", "risk_score": 50 },
        ])
    );

    // Near miss: without a tier severity the search sets no severity and scores the actor once.
    let (_t, out) = Test::minimal().args(["build"]).run();
    let conf = out.read(SAVED_SEARCHES);
    assert!(!stanza_value(&conf, "search").contains("severity="));
    let risk: Value =
        serde_json::from_str(&stanza_value(&conf, "action.risk.param._risk")).unwrap();
    assert_eq!(
        risk,
        serde_json::json!([{ "risk_object_field": "Actor", "risk_object_type": "user", "risk_score": 70 }])
    );
}

#[test]
fn core_splunk_and_azure_monitor_say_they_keep_one_severity() {
    let (_t, out) = raised()
        .edit("detections/rulecast.yaml", "    app_id: test_pack\n", "    app_id: test_pack\n    flavour: core\n")
        .args(["build"])
        .stderr_contains("warning: splunk: `eligible-assignment-burst` gives every alert the detection's severity: core Splunk cannot vary it with the tier `privileged` (high)")
        .stderr_contains("warning: azure-monitor: `eligible-assignment-burst` gives every alert the detection's severity: a log alert rule cannot vary it with the tier `privileged` (high)")
        .run();
    let description = stanza_value(&out.read(SAVED_SEARCHES), "description");
    assert!(description.contains("Splunk limitation: a plain alert has one severity (alert.severity), the detection's (medium); the higher severity of the tier `privileged` (high) is not expressed"), "{description}");
    let alert: Value = serde_json::from_str(&out.read(AZURE_MONITOR)).unwrap();
    let text = alert.to_string();
    assert!(
        text.contains(
            "Azure Monitor limitation: a log alert rule has one severity, the detection's (medium)"
        ),
        "{text}"
    );

    // Near miss: with the tier at the rule's severity, there is nothing to warn about.
    Test::minimal()
        .edit(
            "detections/rulecast.yaml",
            "    app_id: test_pack\n",
            "    app_id: test_pack\n    flavour: core\n",
        )
        .args(["build"])
        .stderr_lacks("cannot vary it with the tier")
        .run();
}

#[test]
fn sigma_gives_the_tiers_rules_their_own_level() {
    let (_t, out) = raised().args(["build"]).run();
    let sigma = out.read(SIGMA);
    let levels: Vec<(&str, &str)> = sigma
        .split("\n---\n")
        .map(|doc| {
            let name = doc
                .lines()
                .find_map(|l| l.strip_prefix("name: "))
                .unwrap_or("?");
            let level = doc
                .lines()
                .find_map(|l| l.strip_prefix("level: "))
                .unwrap_or("?");
            (name, level)
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("eligible_assignment_burst", "medium"),
            ("eligible_assignment_burst_correlation", "medium"),
            ("eligible_assignment_burst_privileged", "high"),
            ("eligible_assignment_burst_privileged_correlation", "high"),
        ],
        "{sigma}"
    );
}

#[test]
fn templates_receive_the_tiers_severity() {
    let template = format!(
        "{}\nxTiers: {{{{ rule.detection.tiers | json }}}}\n",
        include_str!("../../templates/sentinel/rule.yaml.tera").trim_end()
    );
    let (_t, out) = raised()
        .write("my-templates/sentinel/rule.yaml.tera", &template)
        .args(["build", "--templates", "my-templates"])
        .run();
    let rule: Value = serde_saphyr::from_str(&out.read(SENTINEL_YAML)).unwrap();
    assert_eq!(rule["xTiers"][0]["severity"], "high");
    assert_eq!(rule["severity"], "Medium");
}
