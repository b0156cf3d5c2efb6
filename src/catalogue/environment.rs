//! Environments: one catalogue deployed to several places (a test and a production workspace,
//! several tenants), each with its own settings.
//!
//! An environment in `rulecast.yaml` overrides keys of `rulecast.yaml` (`settings:`) and of
//! detection files (`detections:`, by name or id) as a JSON merge patch (RFC 7386): a mapping
//! is merged key by key, `null` removes a key, any other value (a list included) replaces.
//! The overrides are applied to the parsed files before anything reads them, so every key is
//! overridable, including keys added later by a target or a new feature, with no code here:
//! the Splunk index and app id, the Sentinel watchlist aliases and workspace, list values,
//! severities, statuses, schedules, thresholds, exclusions. A problem with an overridden value
//! is reported where the override is written. An environment may also leave detections out
//! (`disabled:`) and add exclusions to the catalogue's (`exclusions:`).
//!
//! The catalogue as written is the environment [`BASE`]. Which environment a plain command
//! uses, and where each environment's pack is written, is the project's choice
//! ([`crate::project`]).

use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::exclusion::CatalogueExclusion;
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::yaml::{Document, pointer_segment};

/// The name of the catalogue as written, without any environment's overrides.
pub const BASE: &str = "base";

/// Keys of a detection file an environment may not override: the ones that identify it to the
/// lock and the SIEMs, the data it reads, and its evidence (which must hold in every
/// environment).
pub(crate) const FIXED_DETECTION_KEYS: [&str; 4] = ["id", "version", "logsource", "tests"];

/// One environment: where the catalogue is deployed, and what differs there.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// What the environment is, e.g. the production workspace of tenant A.
    #[schemars(length(min = 1))]
    pub description: String,
    /// Keys of rulecast.yaml to override, merged over it (a mapping key by key; `null` removes
    /// a key; any other value, a list included, replaces), e.g.
    /// `targets: { splunk: { app_id: rulecast_pim_test } }`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub settings: Map<String, Value>,
    /// Keys of detection files to override, by detection (its name, section/name or id),
    /// merged the same way, e.g. `eligible-assignment-burst: { severity: medium }`. The id,
    /// version, log source and tests stay as written.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub detections: IndexMap<String, Map<String, Value>>,
    /// Detections left out of this environment's pack (their name, section/name or id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<String>,
    /// Exclusions for this environment only, added to those of rulecast.yaml.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<CatalogueExclusion>,
}

/// An environment as read from rulecast.yaml before it is checked: enough to apply its
/// overrides to the files as they are parsed. Problems are reported when the overridden files
/// are checked.
#[derive(Debug, Clone)]
pub(crate) struct Overrides {
    pub name: String,
    /// rulecast.yaml as parsed, where the overrides are written.
    origin: Arc<Document>,
    /// The environment's entry, as written.
    entry: Value,
}

impl Overrides {
    /// The overrides of environment `name` in rulecast.yaml, or why there are none.
    pub(crate) fn find(config: &Document, name: &str) -> Result<Overrides, Diagnostic> {
        let defined = config.value.get("environments").and_then(Value::as_object);
        if let Some(entry) = defined.and_then(|d| d.get(name)) {
            return Ok(Overrides {
                name: name.to_owned(),
                origin: Arc::new(config.clone()),
                entry: entry.clone(),
            });
        }
        let names: Vec<&str> = defined
            .map(|d| d.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let help = match did_you_mean(name, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if names.is_empty() => {
                "rulecast.yaml defines no environment; add one under `environments:`".to_owned()
            }
            None => format!(
                "the environments are {} (and `{BASE}`, the catalogue as written)",
                names.join(", ")
            ),
        };
        Err(config
            .error_at_key("/environments", format!("no environment is named `{name}`"))
            .with_help(help))
    }

    fn pointer(&self) -> String {
        format!("/environments/{}", pointer_segment(&self.name))
    }

    /// Applies the environment to rulecast.yaml: its settings over the file, its exclusions
    /// after the file's.
    pub(crate) fn apply_to_config(&self, config: &mut Document, out: &mut Diagnostics) {
        let at = self.pointer();
        if let Some(Value::Object(settings)) = self.entry.get("settings") {
            if settings.contains_key("environments") {
                out.push(self.origin.error_at_key(
                    &format!("{at}/settings/environments"),
                    "an environment cannot override the environments",
                ));
            }
            let mut settings = settings.clone();
            settings.remove("environments");
            config.overlay(
                "",
                &Value::Object(settings),
                &format!("{at}/settings"),
                &self.origin,
            );
        }
        if let Some(Value::Array(items)) = self.entry.get("exclusions") {
            config.append(
                "/exclusions",
                items,
                &format!("{at}/exclusions"),
                &self.origin,
            );
        }
    }

    /// The key of `detections:` that names the detection with this id, section and file name.
    fn detection_key(&self, id: Option<&str>, section: &str, slug: &str) -> Option<&str> {
        self.entry
            .get("detections")
            .and_then(Value::as_object)?
            .keys()
            .find(|k| super::names_detection(k, id.unwrap_or_default(), section, slug))
            .map(String::as_str)
    }

    /// Applies the environment's overrides of one detection file (at `section/slug`); the key
    /// of `detections:` that named it, if one did.
    pub(crate) fn apply_to_detection(
        &self,
        detection: &mut Document,
        section: &str,
        slug: &str,
        out: &mut Diagnostics,
    ) -> Option<String> {
        let id = detection.value.get("id").and_then(Value::as_str);
        let key = self.detection_key(id, section, slug)?.to_owned();
        let at = format!("{}/detections/{}", self.pointer(), pointer_segment(&key));
        let Some(Value::Object(patch)) = self.entry["detections"].get(&key) else {
            return Some(key);
        };
        let mut patch = patch.clone();
        for fixed in FIXED_DETECTION_KEYS {
            if patch.remove(fixed).is_some() {
                out.push(
                    self.origin
                        .error_at_key(
                            &format!("{at}/{fixed}"),
                            format!("an environment cannot override a detection's `{fixed}`"),
                        )
                        .with_help(
                            "the id, version, log source and tests of a detection are the same in every environment",
                        ),
                );
            }
        }
        detection.overlay("", &Value::Object(patch), &at, &self.origin);
        Some(key)
    }

    /// Reports every name under `detections:` and `disabled:` that names no detection.
    pub(crate) fn check_names(&self, catalogue: &super::Catalogue, out: &mut Diagnostics) {
        for (name, pointer) in self.named_detections() {
            let found = catalogue
                .detections
                .iter()
                .any(|d| super::names_detection(&name, &d.meta.id, &d.section, &d.slug));
            if found {
                continue;
            }
            let help = did_you_mean(&name, catalogue.detections.iter().map(|d| d.slug.as_str()))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "`rulecast list` shows every detection".to_owned());
            let at_key = !pointer.contains("/disabled/");
            out.push(self.origin.error_with_help(
                &pointer,
                at_key,
                format!("no detection is named `{name}`"),
                Some(help),
            ));
        }
    }

    /// The names under `detections:` and `disabled:`, with where each is written.
    fn named_detections(&self) -> Vec<(String, String)> {
        let at = self.pointer();
        let mut out: Vec<(String, String)> = self
            .entry
            .get("detections")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|d| d.keys())
            .map(|k| (k.clone(), format!("{at}/detections/{}", pointer_segment(k))))
            .collect();
        if let Some(Value::Array(disabled)) = self.entry.get("disabled") {
            out.extend(
                disabled.iter().enumerate().filter_map(|(i, v)| {
                    Some((v.as_str()?.to_owned(), format!("{at}/disabled/{i}")))
                }),
            );
        }
        out
    }

    /// Whether the environment leaves out the detection with this id, section and file name.
    pub(crate) fn disables(&self, id: &str, section: &str, slug: &str) -> bool {
        let Some(Value::Array(disabled)) = self.entry.get("disabled") else {
            return false;
        };
        disabled
            .iter()
            .filter_map(Value::as_str)
            .any(|name| super::names_detection(name, id, section, slug))
    }
}
