//! Escaping by construction: the hostile catalogue (`tests/fixtures/hostile`) puts quotes,
//! backslashes, pipes, backticks, wildcards, line breaks, template syntax, `=`, `[x]`,
//! non-ASCII, empty, 10 kB and space-padded values into every kind of catalogue value. After a
//! real build, each value is read back out of every file it lands in, with the target's own
//! reading rules (`decode`), and must be exactly the value that went in.
//!
//! Values a target cannot hold at all must fail the build with a message, never be altered:
//! that is the last test here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rulecast::logic::pattern::{Pattern, Shape};
use serde_json::Value;

use crate::decode::{arm, conf, csv, kql, sigma, spl};
use crate::test::{Test, copy_dir, repo, snapshot_tree};

const DETECTIONS: [&str; 3] = ["hostile-text", "hostile-brackets", "hostile-list"];

/// The hostile catalogue, built once per test run into the target folder.
fn generated() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile");
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(
            &repo().join("tests/fixtures/hostile"),
            &dir.join("detections"),
        );
        let out = std::process::Command::new(crate::test::BIN)
            .arg("build")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the hostile catalogue does not build:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("generated")
    })
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(generated().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A catalogue file as any YAML reader sees it: the values that were meant.
fn source(relative: &str) -> Value {
    yaml(&std::fs::read_to_string(repo().join("tests/fixtures/hostile").join(relative)).unwrap())
}

fn detection(slug: &str) -> Value {
    source(&format!("hostile/{slug}.yaml"))
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not text: {value}"))
}

/// What the targets print for a description: the text without the final line break a YAML
/// block scalar adds.
fn description(d: &Value) -> String {
    text(&d["description"]).trim_end_matches('\n').to_owned()
}

fn inline_values() -> Vec<String> {
    let config = source("rulecast.yaml");
    let mut values: Vec<String> = config["lists"]["hostile_accounts"]["inline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| text(v).to_lowercase())
        .collect();
    values.sort();
    values.dedup();
    values
}

/// One `Field|modifiers: value` of a selection, with the value as a Sigma pattern.
struct Entry {
    modifiers: Vec<String>,
    raw: String,
    pattern: Pattern,
}

fn entries(d: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    for (name, selection) in d["detection"].as_object().unwrap() {
        if name == "condition" {
            continue;
        }
        for (key, values) in selection.as_object().unwrap() {
            let modifiers: Vec<String> = key.split('|').skip(1).map(str::to_owned).collect();
            let values = match values {
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            for v in values {
                let raw = text(&v).to_owned();
                let mut pattern = sigma::pattern(&raw);
                for m in &modifiers {
                    pattern = match m.as_str() {
                        "contains" => pattern.wrap(true, true),
                        "startswith" => pattern.wrap(false, true),
                        "endswith" => pattern.wrap(true, false),
                        _ => pattern,
                    };
                }
                out.push(Entry {
                    modifiers: modifiers.clone(),
                    raw,
                    pattern,
                });
            }
        }
    }
    out
}

/// The KQL literal a value must appear as (none for a test with no literal, like `isempty`).
fn kql_literal(e: &Entry) -> Option<String> {
    if e.modifiers.iter().any(|m| m == "re") {
        return Some(e.raw.clone());
    }
    match e.pattern.shape() {
        Shape::Exact(s) | Shape::Contains(s) | Shape::StartsWith(s) | Shape::EndsWith(s)
            if !s.is_empty() =>
        {
            Some(s)
        }
        Shape::Complex => Some(format!("(?i){}", e.pattern.to_regex())),
        _ => None,
    }
}

fn spl_literal(e: &Entry) -> Option<String> {
    if e.modifiers.iter().any(|m| m == "re") {
        return Some(e.raw.clone());
    }
    match e.pattern.shape() {
        Shape::Exact(s) if !s.is_empty() => Some(s),
        Shape::Contains(s) => Some(format!("(?i){}", regex::escape(&s))),
        Shape::StartsWith(_) | Shape::EndsWith(_) | Shape::Complex => {
            Some(format!("(?i){}", e.pattern.to_regex()))
        }
        _ => None,
    }
}

fn assert_has_literals(what: &str, found: &[String], expected: impl IntoIterator<Item = String>) {
    for literal in expected {
        assert!(
            found.contains(&literal),
            "{what}: no literal {literal:?}\nfound: {found:#?}"
        );
    }
}

#[test]
fn sentinel_yaml_says_exactly_each_value() {
    for slug in DETECTIONS {
        let d = detection(slug);
        let rule = yaml(&read(&format!("sentinel/rules/hostile/{slug}.yaml")));
        assert_eq!(rule["name"], d["title"], "{slug}");
        assert_eq!(text(&rule["description"]), description(&d), "{slug}");
        let literals = kql::literals(text(&rule["query"]));
        assert_has_literals(slug, &literals, entries(&d).iter().filter_map(kql_literal));
    }
}

#[test]
fn sentinel_arm_says_exactly_each_value() {
    let combined: Value = serde_json::from_str(&read("sentinel/azuredeploy.json")).unwrap();
    for slug in DETECTIONS {
        let d = detection(slug);
        let yaml_query =
            text(&yaml(&read(&format!("sentinel/rules/hostile/{slug}.yaml")))["query"]).to_owned();
        let single: Value =
            serde_json::from_str(&read(&format!("sentinel/arm/{slug}.json"))).unwrap();
        let id = text(&d["id"]);
        let in_combined = combined["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| text(&r["name"]).ends_with(&format!("/Microsoft.SecurityInsights/{id}')]")))
            .expect("in azuredeploy.json");
        for resource in [&single["resources"][0], in_combined] {
            let p = &resource["properties"];
            assert_eq!(arm::literal(&p["displayName"]), text(&d["title"]), "{slug}");
            assert_eq!(arm::literal(&p["description"]), description(&d), "{slug}");
            assert_eq!(
                arm::literal(&p["query"]),
                yaml_query,
                "{slug}: ARM and YAML deploy different queries"
            );
            // The alert name starts with the title, unless the title holds `{{`, which
            // Sentinel would read as a placeholder: then the default name is kept.
            let title = text(&d["title"]);
            match p["alertDetailsOverride"]["alertDisplayNameFormat"].as_str() {
                Some(_) => assert!(
                    arm::literal(&p["alertDetailsOverride"]["alertDisplayNameFormat"])
                        .starts_with(title),
                    "{slug}"
                ),
                None => assert!(title.contains("{{"), "{slug}: no alert name format"),
            }
        }
        assert_eq!(
            arm::literal(&single["metadata"]["description"]),
            text(&d["title"])
        );
    }
    assert!(
        read("sentinel/arm/hostile-brackets.json").contains("\"[[concat('pwned'"),
        "the ARM-shaped description is escaped"
    );
}

#[test]
fn azure_monitor_says_exactly_each_value() {
    for slug in DETECTIONS {
        let d = detection(slug);
        let alert: Value =
            serde_json::from_str(&read(&format!("azure-monitor/{slug}.json"))).unwrap();
        let p = &alert["resources"][0]["properties"];
        assert_eq!(arm::literal(&p["displayName"]), text(&d["title"]), "{slug}");
        // The responder's description: the detection's, then what each alert is for and what
        // to rule out (cut to Azure Monitor's 4096 characters).
        let said = arm::literal(&p["description"]);
        assert!(said.starts_with(&description(&d)), "{slug}: {said}");
        assert!(said.chars().count() <= 4096, "{slug}");
        let literals = kql::literals(&arm::literal(&p["criteria"]["allOf"][0]["query"]));
        assert_has_literals(slug, &literals, entries(&d).iter().filter_map(kql_literal));
        if slug == "hostile-list" {
            // Azure Monitor cannot read a watchlist: the list's values are compiled in.
            assert_has_literals(slug, &literals, inline_values());
        }
    }
}

#[test]
fn splunk_conf_says_exactly_each_value() {
    let config = source("rulecast.yaml");
    let saved = conf::parse(&read("splunk/hostile_pack/default/savedsearches.conf"));
    let macros = conf::parse(&read("splunk/hostile_pack/default/macros.conf"));
    for slug in DETECTIONS {
        let d = detection(slug);
        let stanza = format!("Hostile pack - {}", text(&d["title"]));
        assert_eq!(
            conf::get(&saved, &stanza, "description"),
            description(&d),
            "{slug}"
        );
        let literals = spl::literals(conf::get(&saved, &stanza, "search"));
        assert_has_literals(slug, &literals, entries(&d).iter().filter_map(spl_literal));
        let filter = format!("hostile_pack_{}_filter", slug.replace('-', "_"));
        let about = conf::get(&macros, &filter, "description");
        assert!(
            about.contains(&format!("\"{}\"", text(&d["title"]))),
            "{about}"
        );
    }
    let app = conf::parse(&read("splunk/hostile_pack/default/app.conf"));
    assert_eq!(
        conf::get(&app, "launcher", "description"),
        text(&config["title"])
    );
    assert_eq!(
        conf::get(&app, "launcher", "author"),
        text(&config["publisher"])
    );
}

#[test]
fn splunk_lookup_holds_exactly_the_list() {
    let records = csv::parse(&read("splunk/hostile_pack/lookups/hostile_accounts.csv"));
    assert_eq!(records[0], vec!["account".to_owned()]);
    let values: Vec<String> = records[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 1, "one column: {r:?}");
            r[0].clone()
        })
        .collect();
    assert_eq!(values, inline_values());
}

#[test]
fn sigma_says_exactly_each_value() {
    for slug in DETECTIONS {
        let d = detection(slug);
        // A threshold detection's file also holds correlation rules, hence SigmaHQ's prefix.
        let name = format!("azure_{}.yml", slug.replace('-', "_"));
        let prefix = if d.get("threshold").is_some() {
            "correlation_"
        } else {
            ""
        };
        let file = read(&format!("sigma/rules/hostile/{prefix}{name}"));
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&file).unwrap();
        let rule = &docs[0];
        // SigmaHQ wants Title Case (a unit test of the Sigma target checks the capitals);
        // everything else about the title is kept exactly.
        assert_eq!(
            text(&rule["title"]).to_lowercase(),
            text(&d["title"]).to_lowercase(),
            "{slug}"
        );
        assert_eq!(rule["falsepositives"], d["false_positives"], "{slug}");
        let sigma_description = text(&rule["description"]);
        assert!(
            sigma_description.starts_with(&format!("{}\n\n", description(&d))),
            "{slug}: {sigma_description:?}"
        );
        // Catalogue values are Sigma values: the same text, and so the same pattern.
        for (name, selection) in d["detection"].as_object().unwrap() {
            if name == "condition" {
                continue;
            }
            let written = &rule["detection"][name];
            for (key, values) in selection.as_object().unwrap() {
                let values_written = &written[key];
                // A plain "" means "no value" (missing, null or empty): Sigma says it as '' or null.
                let mut expected = values.clone();
                if !key.contains('|') && as_list(values).iter().any(|v| v.as_str() == Some("")) {
                    let mut list = as_list(values);
                    list.push(Value::Null);
                    expected = Value::Array(list);
                }
                assert_eq!(values_written, &expected, "{slug}: {name}.{key}");
                for (meant, got) in as_list(values).iter().zip(as_list(values_written)) {
                    assert_eq!(sigma::pattern(text(&got)), sigma::pattern(text(meant)));
                }
            }
        }
    }
    // A list's values are literal text: every wildcard character in them is escaped, and they
    // keep the catalogue's spelling (Sigma compares case-insensitively; SQLite folds ASCII only).
    let file = read("sigma/rules/hostile/correlation_azure_hostile_list.yml");
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&file).unwrap();
    let tier = docs
        .iter()
        .find_map(|doc| doc["detection"].get("rulecast_tier_hostile"))
        .expect("a tier selection");
    let decoded: Vec<Pattern> = as_list(&tier["Actor"])
        .iter()
        .map(|v| sigma::pattern(text(v)))
        .collect();
    let config = source("rulecast.yaml");
    let mut written: Vec<String> = config["lists"]["hostile_accounts"]["inline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| text(v).to_owned())
        .collect();
    written.sort_by_cached_key(|v| (v.to_lowercase(), v.clone()));
    written.dedup_by(|a, b| a.to_lowercase() == b.to_lowercase());
    let meant: Vec<Pattern> = written.iter().map(|v| Pattern::literal(v)).collect();
    assert_eq!(decoded, meant);
    assert!(
        as_list(&tier["Actor"])
            .iter()
            .any(|v| text(v).starts_with('É')),
        "the list keeps its spelling: {tier:?}"
    );
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    }
}

/// A value a target cannot hold exactly fails the build, at the value, saying why; nothing is
/// written and the value is never trimmed or rewritten to fit.
#[test]
fn unrepresentable_values_fail_the_build() {
    let file = "detections/entra-roles/pim-alert-disabled.yaml";
    let cases: &[(&str, &str, &str)] = &[
        (
            "title: PIM alert disabled",
            "title: 'PIM alert disabled '",
            ":3:8",
        ),
        (
            "title: PIM alert disabled",
            "title: \"PIM [alert] disabled\"",
            ":3:8",
        ),
        (
            "title: PIM alert disabled",
            "title: \"PIM alert\\ndisabled\"",
            ":3:8",
        ),
        (
            "description: Someone disabled a PIM alert.",
            "description: \"Someone disabled a PIM alert.\\t\"",
            ":5:14",
        ),
        (
            "description: Someone disabled a PIM alert.",
            "description: \"Someone\\rdisabled\"",
            ":5:14",
        ),
        (
            "description: Someone disabled a PIM alert.",
            "description: \"Someone disabled\\u0007 a PIM alert.\"",
            ":5:14",
        ),
    ];
    for (from, to, at) in cases {
        let t = Test::minimal().edit(file, from, to);
        eprintln!("case: {to}");
        let before = snapshot_tree(t.root());
        let (t, out) = t
            .args(["build"])
            .status(1)
            .stderr_contains("splunk: the")
            .stderr_contains("nothing was written")
            .run();
        assert!(
            out.stderr.contains(&format!("{file}{at}")),
            "{to}: not located at {at}\n{}",
            out.stderr
        );
        assert_eq!(before, snapshot_tree(t.root()), "{to}: files were written");
    }
}

#[test]
fn sentinel_remediation_steps_say_exactly_what_to_check() {
    // hostile-text's false positives would push its query past Sentinel's 10,000 characters,
    // so it has none (and a build warning); the others carry every hostile false positive.
    let mut carried = 0;
    for slug in DETECTIONS {
        let d = detection(slug);
        let rule = yaml(&read(&format!("sentinel/rules/hostile/{slug}.yaml")));
        let query = text(&rule["query"]);
        let Some(line) = query
            .lines()
            .find_map(|l| l.strip_prefix("| extend RemediationSteps = "))
        else {
            assert_eq!(
                slug, "hostile-text",
                "{slug} has no RemediationSteps column"
            );
            assert!(rule["alertDetailsOverride"]["alertDynamicProperties"].is_null());
            continue;
        };
        let false_positives: Vec<&str> = d["false_positives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            kql::decode(line),
            format!(
                "What to check before closing it as benign: {}",
                false_positives.join(" ")
            ),
            "{slug}"
        );
        assert_eq!(
            rule["alertDetailsOverride"]["alertDynamicProperties"][0]["value"],
            "RemediationSteps"
        );
        carried += 1;
    }
    assert_eq!(carried, 2);
}
