//! Splunk: an installable app with one scheduled, disabled-by-default saved search per
//! detection, an overridable source macro per log source, a tuning macro per detection, and a
//! lookup for each catalogue list (privileged accounts).
//!
//! Nothing is scheduled until an admin enables it, and `metadata/default.meta` exports nothing,
//! so installing the app never changes searches in other apps.
//!
//! Its entry in a log source is the source macro; in `rulecast.yaml`, the app's id, label and
//! write roles and the lookup that holds each list.

mod app_check;
pub(crate) mod conf;
pub(crate) mod es;
mod schedule;
pub(crate) mod spl_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Artifacts, Checker, Conformance, DetectionView, ListStore, PackageContext, PackageError,
    ReleaseFile, RenderContext, Section, Target, package, render_template,
};
use crate::catalogue::detection::Severity;
use crate::catalogue::logsource::LogSourceFile;
use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::lang::spl;
use crate::render::encode::{conf_stanza, conf_value};
use crate::schedule::RunModel;

pub(crate) struct Splunk;

pub(crate) const NAME: &str = "splunk";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "splunk/app.conf",
        include_str!("../../../templates/splunk/app.conf.tera"),
    ),
    (
        "splunk/savedsearches.conf",
        include_str!("../../../templates/splunk/savedsearches.conf.tera"),
    ),
    (
        "splunk/_savedsearch.conf",
        include_str!("../../../templates/splunk/_savedsearch.conf.tera"),
    ),
    (
        "splunk/macros.conf",
        include_str!("../../../templates/splunk/macros.conf.tera"),
    ),
    (
        "splunk/transforms.conf",
        include_str!("../../../templates/splunk/transforms.conf.tera"),
    ),
    (
        "splunk/default.meta",
        include_str!("../../../templates/splunk/default.meta.tera"),
    ),
    (
        "splunk/lookup.csv",
        include_str!("../../../templates/splunk/lookup.csv.tera"),
    ),
    (
        "splunk/README.md",
        include_str!("../../../templates/splunk/README.md.tera"),
    ),
    (
        "splunk/analyticstories.conf",
        include_str!("../../../templates/splunk/analyticstories.conf.tera"),
    ),
    (
        "splunk/server.conf",
        include_str!("../../../templates/splunk/server.conf.tera"),
    ),
];

/// The Splunk entry of a log source.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SplunkSource")]
pub(crate) struct SourceSection {
    /// Name of the overridable source macro, e.g. rulecast_entra_auditlogs.
    #[schemars(regex(pattern = crate::identifier::LOWER_NAME))]
    pub macro_name: String,
    /// Default definition of the source macro, e.g. sourcetype="azure:monitor:aad"
    /// category=AuditLogs.
    pub search: String,
}

/// The Splunk app settings in `rulecast.yaml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SplunkSettings")]
pub(crate) struct ConfigSection {
    /// App id (folder name and [package] id).
    #[schemars(regex(pattern = crate::identifier::LOWER_NAME))]
    pub app_id: String,
    /// Label shown in Splunk Web.
    pub app_label: String,
    /// Roles allowed to write the app's objects.
    #[serde(default = "default_write_roles")]
    #[schemars(extend("items" = { "type": "string", "pattern": crate::identifier::SPLUNK_ROLE, "patternErrorMessage": crate::identifier::SPLUNK_ROLE_ADVICE }))]
    pub write_roles: Vec<String>,
    /// The lookup that holds each list of `lists:`, by the list's name.
    #[serde(default)]
    pub lookups: IndexMap<String, Lookup>,
    /// The Splunk the app is for: Enterprise Security (every search a correlation search
    /// with a notable, risk and MITRE annotations) or core Splunk (plain alerts).
    #[serde(default)]
    pub flavour: Flavour,
    /// The index each log source is searched in, by the log source's name (e.g.
    /// `entra_auditlogs: azure`): the source macro starts with `index=<name>`, so the search
    /// reads only that index's buckets. A log source without one searches the role's default
    /// indexes, which rarely hold add-on data; `build` warns.
    #[serde(default)]
    #[schemars(extend("additionalProperties" = { "type": "string", "pattern": crate::identifier::SPLUNK_INDEX, "patternErrorMessage": crate::identifier::SPLUNK_INDEX_ADVICE }))]
    pub indexes: IndexMap<String, String>,
}

/// The Splunk product the app is written for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Flavour {
    /// Splunk Enterprise Security: correlation searches that raise notables and risk.
    #[default]
    EnterpriseSecurity,
    /// Splunk Enterprise or Cloud without ES: scheduled alerts (Triggered Alerts).
    Core,
}

fn default_write_roles() -> Vec<String> {
    vec!["admin".to_owned(), "sc_admin".to_owned()]
}

/// A Splunk lookup.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Lookup {
    /// Lookup definition name (transforms.conf stanza); the CSV file is <name>.csv.
    #[schemars(regex(pattern = crate::identifier::LOWER_NAME))]
    pub name: String,
    /// CSV column holding the value.
    #[schemars(regex(pattern = crate::identifier::LOWER_NAME))]
    pub field: String,
}

fn config(catalogue: &Catalogue) -> &ConfigSection {
    catalogue
        .config
        .targets
        .get(NAME)
        .expect("the catalogue was loaded for the Splunk target")
}

/// The Splunk entry of a log source (the Sigma target's Splunk pipeline reads it too).
pub(crate) fn source_section(source: &LogSourceFile) -> Option<&SourceSection> {
    source.targets.get(NAME)
}

/// Name of the per-detection tuning macro that every search ends with.
fn filter_macro(catalogue: &Catalogue, detection: &Detection) -> String {
    format!(
        "{}_{}_filter",
        config(catalogue).app_id,
        detection.slug.replace('-', "_")
    )
}

#[derive(Serialize)]
struct SearchView {
    detection: DetectionView,
    stanza: String,
    search: String,
    cron: String,
    earliest: String,
    latest: String,
    /// `alert.suppress.fields` and `alert.suppress.period`: the results of one incident.
    throttle_fields: String,
    throttle_period: String,
    alert_severity: u8,
    filter_macro: String,
    enabled_by_default: bool,
    guide_rows: String,
    deprecated: bool,
    /// The Enterprise Security settings, for the ES flavour.
    es: Option<es::CorrelationSearch>,
}

/// A search as the app's files other than savedsearches.conf see it: the whole view, or, once
/// its stanza is written and the built-in templates render those files, only what they show
/// of it (the 5,000 views of a large catalogue are most of the app's context otherwise).
#[derive(Serialize)]
#[serde(untagged)]
enum AppSearch {
    Full(Box<SearchView>),
    Lean(LeanSearch),
}

#[derive(Serialize)]
struct LeanSearch {
    stanza: String,
    detection: LeanDetection,
    es: Option<LeanStory>,
}

#[derive(Serialize)]
struct LeanDetection {
    id: String,
    version: u32,
    severity: &'static str,
}

#[derive(Serialize)]
struct LeanStory {
    story: String,
}

impl LeanSearch {
    fn of(view: SearchView) -> LeanSearch {
        LeanSearch {
            stanza: view.stanza,
            detection: LeanDetection {
                id: view.detection.id,
                version: view.detection.version,
                severity: view.detection.severity,
            },
            es: view.es.map(|es| LeanStory { story: es.story }),
        }
    }
}

impl AppSearch {
    fn stanza(&self) -> &str {
        match self {
            AppSearch::Full(view) => &view.stanza,
            AppSearch::Lean(view) => &view.stanza,
        }
    }

    /// Its ES analytic story, for the ES flavour.
    fn story(&self) -> Option<&str> {
        match self {
            AppSearch::Full(view) => view.es.as_ref().map(|es| es.story.as_str()),
            AppSearch::Lean(view) => view.es.as_ref().map(|es| es.story.as_str()),
        }
    }
}

#[derive(Clone, Serialize)]
struct MacroView {
    name: String,
    definition: String,
    description: String,
}

#[derive(Serialize)]
struct LookupView {
    name: String,
    file: String,
    /// The file's columns and rows (`field`, `named`, `rows` in the templates).
    #[serde(flatten)]
    list: super::ListFile,
    description: String,
}

#[derive(Serialize)]
struct AppView<'a> {
    app_id: &'a str,
    label: &'a str,
    publisher: &'a str,
    version: &'a str,
    description: String,
    searches: Vec<AppSearch>,
    /// Every macro: the source macros first, then one filter per detection.
    macros: Vec<MacroView>,
    source_macros: Vec<MacroView>,
    lookups: Vec<LookupView>,
    write_roles: String,
    /// Enterprise Security's analytic stories (empty for core Splunk).
    stories: Vec<StoryView>,
}

/// An ES analytic story: one catalogue section and the correlation searches in it.
#[derive(Serialize)]
struct StoryView {
    name: String,
    description: String,
    /// The stanza names of its searches, as a JSON list.
    searches: String,
}

impl Target for Splunk {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run_model(&self, catalogue: &Catalogue, detection: &Detection) -> Option<RunModel> {
        Some(schedule::run_model(catalogue, detection))
    }

    fn description(&self) -> &'static str {
        "Splunk app: scheduled searches over azure:monitor:aad, macros and lookups"
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn logsource_section(&self) -> Option<Section> {
        Some(Section::required::<SourceSection>())
    }

    fn config_section(&self) -> Option<Section> {
        Some(Section::required::<ConfigSection>())
    }

    fn list_store<'c>(&self, catalogue: &'c Catalogue) -> Option<ListStore<'c>> {
        Some(ListStore {
            key: "targets.splunk.lookups",
            what: "Splunk lookup",
            example: "{ name: my_lookup, field: account }",
            lists: config(catalogue)
                .lookups
                .iter()
                .map(|(list, l)| (list.as_str(), l.field.as_str()))
                .collect(),
            column_key: "field",
        })
    }

    fn package(&self, context: &PackageContext) -> Result<ReleaseFile, PackageError> {
        let app = context
            .config
            .targets
            .get::<ConfigSection>(NAME)
            .map(|c| c.app_id.as_str())
            .ok_or_else(|| PackageError::Missing("the Splunk app settings".to_owned()))?;
        // The app is installed from this file, so it is a .tgz of the app folder.
        Ok(ReleaseFile {
            name: format!("{app}-{}.tgz", context.version),
            bytes: package::tar_gz(context.files)?,
        })
    }

    fn conformance(&self) -> &'static [Conformance] {
        &[
            Conformance {
                checker: Checker::SplunkApp,
                files: "*/",
            },
            Conformance {
                checker: Checker::SplunkConf,
                files: "**/*.conf",
            },
            Conformance {
                checker: Checker::SplunkConf,
                files: "**/*.meta",
            },
        ]
    }

    fn check(&self, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        // The app is the one folder of the target; its name must match the app's id.
        let apps: std::collections::BTreeSet<&Path> = files
            .keys()
            .filter_map(|p| p.iter().next().map(Path::new))
            .collect();
        let mut out = Diagnostics::new();
        match apps.len() {
            1 => out.extend(app_check::check(
                files,
                apps.into_iter().next().expect("one app"),
            )),
            n => out.push(crate::diagnostic::Diagnostic::error(format!(
                "splunk: expected one app folder, found {n}"
            ))),
        }
        out
    }

    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics> {
        let catalogue = context.catalogue;
        let config = config(catalogue);
        let mut artifacts = context.artifacts();
        let mut errors = Diagnostics::new();

        // A catalogue setting that Splunk cannot hold is reported once, at its line in
        // rulecast.yaml, rather than as a problem of every search that carries it.
        let settings = catalogue.config_document();
        let label_fits = conf_stanza(&config.app_label).is_ok();
        for (pointer, value, stanza) in [
            ("/targets/splunk/app_label", &config.app_label, true),
            ("/publisher", &catalogue.config.publisher, false),
            ("/title", &catalogue.config.title, false),
        ] {
            let problem = conf_value(value)
                .err()
                .or_else(|| stanza.then(|| conf_stanza(value).err()).flatten());
            if let Some(e) = problem {
                errors.push(
                    settings
                        .error_at(pointer, format!("splunk: this setting cannot be written to the app's .conf files: {e}"))
                        .with_help(if stanza {
                            "the app label begins every saved-search name: no brackets, control characters or surrounding spaces"
                        } else {
                            "rulecast never changes a value to make it fit; reword it so every target can hold it exactly"
                        }),
                );
            }
        }

        let mut searches = Vec::new();
        let mut macros = Vec::new();
        let mut source_macros = Vec::new();
        for source in catalogue.logsources.values() {
            let Some(section) = source_section(source) else {
                continue;
            };
            let (definition, description) = if let Some(index) = config.indexes.get(&source.id) {
                (
                    format!("index={index} {}", section.search),
                    format!(
                        "Where {} live (targets.splunk.indexes in rulecast.yaml). Override it in local/macros.conf if they move.",
                        source.title
                    ),
                )
            } else {
                artifacts.warnings.push(
                        settings
                            .warning_at(
                                "/targets/splunk",
                                format!("splunk: log source `{}` has no index in targets.splunk.indexes, so its searches read the role's default indexes", source.id),
                            )
                            .with_help(format!("add `indexes: {{ {}: <your index> }}` under targets.splunk", source.id)),
                    );
                (
                    section.search.clone(),
                    format!(
                        "Where {} live. Set targets.splunk.indexes in rulecast.yaml, or override it in local/macros.conf, to add your index, e.g. index=azure {}",
                        source.title, section.search
                    ),
                )
            };
            source_macros.push(MacroView {
                name: section.macro_name.clone(),
                definition,
                description,
            });
        }
        for name in config.indexes.keys() {
            if !catalogue.logsources.contains_key(name) {
                let known: Vec<&str> = catalogue.logsources.keys().map(String::as_str).collect();
                errors.push(
                    settings
                        .error_at_key(
                            &format!("/targets/splunk/indexes/{name}"),
                            format!("splunk: no log source is named `{name}`"),
                        )
                        .with_help(format!("name one of: {}", known.join(", "))),
                );
            }
        }
        let lookup = |list: &str| {
            let lookup = config.lookups.get(list)?;
            Some((lookup.name.as_str(), lookup.field.as_str()))
        };
        macros.extend(source_macros.iter().cloned());
        // savedsearches.conf, rendered by the built-in templates, is rendered a stanza at a time
        // on every core and written as it comes; it is checked on the searches it is rendered
        // from, against the macros and lookups the built-in templates define, and not read
        // back (the rest of the app is small, and read back).
        let typed = context.templates.are_builtin(&TYPED_TEMPLATES);
        // And once a stanza is written, the other built-in templates need little of its search.
        let lean = typed && context.templates.are_builtin(&LEAN_TEMPLATES);
        let saved_path = format!("{}/default/savedsearches.conf", config.app_id);
        let mut saved = None;
        if typed {
            #[derive(Serialize)]
            struct Header {
                searches: [(); 0],
            }
            match render_template(
                context.templates,
                "splunk/savedsearches.conf",
                &Header { searches: [] },
                None,
            ) {
                Ok(header) => {
                    let mut file = super::PieceFile::open(&mut artifacts, &saved_path);
                    file.push(&mut artifacts, &header);
                    saved = Some(file);
                }
                Err(e) => errors.push(e),
            }
        }
        let mut defined: BTreeMap<String, std::collections::BTreeSet<usize>> = BTreeMap::new();
        for name in source_macros.iter().map(|m| m.name.clone()).chain(
            catalogue
                .detections
                .iter()
                .map(|d| filter_macro(catalogue, d)),
        ) {
            let (name, arity) = spl_check::macro_signature(&name);
            defined.entry(name).or_default().insert(arity);
        }
        let lookups: std::collections::BTreeSet<String> =
            config.lookups.values().map(|l| l.name.clone()).collect();
        let definitions = spl_check::Definitions {
            macros: &defined,
            lookups: &lookups,
        };
        // Each detection's search, compiled (and its stanza rendered) on every core, its
        // limitations and problems kept apart with it; added in catalogue order, a batch at a
        // time.
        let mut stanzas = std::collections::HashSet::new();
        let settings_fit = !errors.has_errors();
        context.each_detection_into(|detection| {
            let mut own = Artifacts::default();
            let mut problems = Vec::new();
            let stamp = (context.stamps)(detection);
            let filter_macro = filter_macro(catalogue, detection);
            let source = source_section(catalogue.logsource(detection))
                .expect("the catalogue was loaded for the Splunk target");
            let binding = spl::Binding {
                source_macro: &source.macro_name,
                filter_macro: &filter_macro,
                lookup: &lookup,
            };
            let model = schedule::run_model(catalogue, detection);
            let search = spl::compile(catalogue, detection, &binding, spl::Recency::of(&model));
            let frequency = detection.meta.schedule.frequency;
            let cron = schedule::Cron::new(frequency, &detection.meta.id);
            let mut notes = Vec::new();
            if !cron.is_exact(frequency) {
                notes.push(format!(
                    "Splunk note: cron cannot run exactly every {frequency}; the search runs at {}, every {}, and each run reports what was indexed since the run before.",
                    cron.spec, cron.period
                ));
                own.limitation(
                    "splunk",
                    detection,
                    &format!(
                        "runs on `{}` because cron cannot express every {frequency}",
                        cron.spec
                    ),
                );
            }
            if detection.is_deprecated() {
                // Enabling a search in Splunk Web writes only `disabled = 0` to local/, so the
                // shipped `enableSched = 0` still stops a deprecated search that was enabled.
                notes.push("Splunk note: deprecated, so this search is not scheduled (enableSched = 0) even where it was enabled; it stays in the app so upgrades switch it off.".to_owned());
            }
            let tuning = MacroView {
                name: filter_macro.clone(),
                definition: "search *".to_owned(),
                description: format!("Tuning filter for \"{}\": override in local/macros.conf to exclude known, approved activity.", detection.meta.title),
            };
            if let Some(tiers) = super::raised_tiers(detection)
                && config.flavour != Flavour::EnterpriseSecurity
            {
                notes.push(format!(
                    "Splunk limitation: a plain alert has one severity (alert.severity), the detection's ({}); the higher severity of the tier {} is not expressed: the Tier field of each result names the tier.",
                    detection.meta.severity.as_str(),
                    tiers
                ));
                own.limitation(
                    "splunk",
                    detection,
                    &format!(
                        "gives every alert the detection's severity: core Splunk cannot vary it with the tier {tiers}"
                    ),
                );
            }
            let es = (config.flavour == Flavour::EnterpriseSecurity).then(|| {
                es::correlation_search(
                    detection,
                    &stanza_name(catalogue, detection),
                    &config.app_label,
                    &source.macro_name,
                    &search.columns,
                    &mut own,
                )
            });
            let mut search_text = search.text;
            if let Some(es) = &es {
                search_text.push_str(&es.tier_evals);
            }
            let view = SearchView {
                es,
                detection: DetectionView::new(catalogue, detection, &stamp, &notes),
                stanza: stanza_name(catalogue, detection),
                search: search_text,
                cron: cron.spec,
                earliest: format!(
                    "{}@m",
                    model.lookback.plus(model.ends_before).splunk_relative()
                ),
                latest: format!("{}@m", model.ends_before.splunk_relative()),
                throttle_fields: model.folding.fields().join(","),
                throttle_period: match &model.folding {
                    crate::schedule::Folding::Throttle { period, .. } => {
                        format!("{}m", period.minutes())
                    }
                    _ => String::new(),
                },
                alert_severity: alert_severity(detection.meta.severity),
                filter_macro,
                enabled_by_default: false,
                guide_rows: detection.meta.guide_rows.join(","),
                deprecated: detection.is_deprecated(),
            };
            // A value Splunk cannot hold is reported at the detection's own line, instead of as
            // an anonymous failure of the shared savedsearches.conf template.
            if let Err(e) = conf_stanza(&view.stanza)
                && label_fits
            {
                problems.push(detection.document.error_at("/title", format!("splunk: the title cannot name a saved search: {e}"))
                    .with_help("a Splunk stanza name cannot hold brackets, control characters or surrounding spaces"));
            }
            if let Err(e) = conf_value(&view.detection.description) {
                problems.push(detection.document.error_at("/description", format!("splunk: the description cannot be written to savedsearches.conf: {e}"))
                    .with_help("rulecast never changes a value to make it fit; reword it so every target can hold it exactly"));
            }
            // A value the stanza cannot hold is reported above, at its line, once: the
            // template is not run into it too.
            let (found, stanza) = if typed && settings_fit && problems.is_empty() {
                #[derive(Serialize)]
                struct Stanza<'a> {
                    s: &'a SearchView,
                }
                (
                    saved_search_problems(&view, &definitions),
                    Some(render_template(
                        context.templates,
                        "splunk/_savedsearch.conf",
                        &Stanza { s: &view },
                        Some(detection),
                    )),
                )
            } else {
                (Vec::new(), None)
            };
            (detection, own.warnings, tuning, view, problems, found, stanza)
        }, |(detection, warnings, tuning, view, problems, mut found, stanza)| {
            artifacts.warnings.extend(warnings);
            macros.push(tuning);
            for e in problems {
                errors.push(e);
            }
            if typed && !stanzas.insert(view.stanza.clone()) {
                found.push("appears twice".to_owned());
            }
            for problem in found {
                artifacts.finding(crate::diagnostic::Diagnostic::error(format!(
                    "splunk: generated/splunk/{saved_path}: [{}] {problem}",
                    view.stanza
                )));
            }
            match stanza {
                Some(Ok(text)) => {
                    let header = format!("[{}]", view.stanza);
                    artifacts.rendered_from(&header, detection);
                    add_stanza_fragment(&mut artifacts, detection, &text);
                    if let Some(file) = &mut saved {
                        file.push(&mut artifacts, &text);
                    }
                }
                Some(Err(e)) => errors.push(e),
                None => {}
            }
            searches.push(if lean {
                AppSearch::Lean(LeanSearch::of(view))
            } else {
                AppSearch::Full(Box::new(view))
            });
        });
        if let Some(file) = saved {
            file.finish(&mut artifacts, Vec::new());
        }
        if errors.has_errors() {
            return Err(errors);
        }

        let mut lookups = Vec::new();
        for (name, list) in &catalogue.config.lists {
            let Some(lookup) = config.lookups.get(name) else {
                continue;
            };
            lookups.push(LookupView {
                name: lookup.name.clone(),
                file: format!("{}.csv", lookup.name),
                list: super::ListFile::new(catalogue, name, &lookup.field),
                description: list.description.clone(),
            });
        }

        // One story per catalogue section, its searches in catalogue order.
        let mut by_story: IndexMap<&str, Vec<&str>> = IndexMap::new();
        for view in &searches {
            if let Some(story) = view.story() {
                by_story.entry(story).or_default().push(view.stanza());
            }
        }
        let stories: Vec<StoryView> = by_story
            .into_iter()
            .map(|(name, stanzas)| StoryView {
                name: name.to_owned(),
                description: format!(
                    "{}: the detections of the catalogue section `{}`.",
                    catalogue.config.title,
                    name.rsplit(": ").next().unwrap_or(name)
                ),
                searches: serde_json::to_string(&stanzas).expect("strings serialise"),
            })
            .collect();
        let app = AppView {
            stories,
            app_id: &config.app_id,
            label: &config.app_label,
            publisher: &catalogue.config.publisher,
            version: context.pack_version,
            description: catalogue.config.title.clone(),
            searches,
            macros,
            source_macros,
            lookups,
            write_roles: config.write_roles.join(", "),
        };

        let root = config.app_id.clone();
        let mut files: Vec<(&str, String)> = vec![
            ("splunk/app.conf", format!("{root}/default/app.conf")),
            (
                "splunk/savedsearches.conf",
                format!("{root}/default/savedsearches.conf"),
            ),
            ("splunk/macros.conf", format!("{root}/default/macros.conf")),
            (
                "splunk/transforms.conf",
                format!("{root}/default/transforms.conf"),
            ),
            (
                "splunk/default.meta",
                format!("{root}/metadata/default.meta"),
            ),
            ("splunk/README.md", format!("{root}/README.md")),
        ];
        if !app.stories.is_empty() {
            files.push((
                "splunk/analyticstories.conf",
                format!("{root}/default/analyticstories.conf"),
            ));
            files.push(("splunk/server.conf", format!("{root}/default/server.conf")));
        }
        // Every file of the app renders from the same view, which holds every search: it is
        // turned into the templates' context once, not once per file.
        match super::template_context("splunk/savedsearches.conf", &app) {
            Ok(app_context) => {
                for (template, path) in files {
                    // Written a stanza at a time already, when the built-in templates render it.
                    if typed && template == "splunk/savedsearches.conf" {
                        continue;
                    }
                    match context.templates.render(template, &app_context) {
                        Ok(text) => {
                            if template == "splunk/savedsearches.conf" {
                                add_search_fragments(&mut artifacts, catalogue, &app, &text);
                            }
                            artifacts.add_file(path, text);
                        }
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        for lookup in &app.lookups {
            match render_template(context.templates, "splunk/lookup.csv", lookup, None) {
                Ok(text) => artifacts.add_file(format!("{root}/lookups/{}", lookup.file), text),
                Err(e) => errors.push(e),
            }
        }
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(artifacts)
    }
}

/// The templates whose output the typed check of savedsearches.conf stands for: the file
/// itself, and the files that define what its searches reference.
const TYPED_TEMPLATES: [&str; 4] = [
    "splunk/savedsearches.conf",
    "splunk/_savedsearch.conf",
    "splunk/macros.conf",
    "splunk/transforms.conf",
];

/// The other templates of the app's files; the built-in ones show of each search only what
/// [`LeanSearch`] keeps.
const LEAN_TEMPLATES: [&str; 5] = [
    "splunk/app.conf",
    "splunk/default.meta",
    "splunk/README.md",
    "splunk/analyticstories.conf",
    "splunk/server.conf",
];

/// What the app check ([`app_check::check`]) would find in the stanza the built-in
/// savedsearches.conf renders from `view`, found on the view: the search's SPL against what
/// the app defines, its Enterprise Security settings, and a real-time schedule. (Its `.conf`
/// form is right by construction: every value goes through the `conf` filter, which checks
/// that it reads back exactly.)
fn saved_search_problems(view: &SearchView, definitions: &spl_check::Definitions) -> Vec<String> {
    let mut problems = spl_check::check(&view.search, definitions);
    if let Some(es) = &view.es {
        let values = [
            ("search", view.search.as_str()),
            ("action.correlationsearch.enabled", "1"),
            ("action.correlationsearch.label", &es.label),
            ("action.correlationsearch.annotations", &es.annotations),
            ("action.notable", "1"),
            ("action.notable.param.rule_title", &es.rule_title),
            (
                "action.notable.param.rule_description",
                &es.rule_description,
            ),
            ("action.notable.param.security_domain", es.security_domain),
            ("action.notable.param.severity", es.severity),
            ("action.notable.param.nes_fields", &es.nes_fields),
            (
                "action.notable.param.drilldown_searches",
                &es.drilldown_searches,
            ),
            ("action.risk", "1"),
            ("action.risk.param._risk", &es.risk),
            ("action.risk.param._risk_message", &es.risk_message),
            ("action.risk.param._risk_score", "0"),
            ("action.risk.param.verbose", "0"),
        ];
        problems.extend(es::check_stanza(values.into_iter()));
    }
    if !view.deprecated && view.earliest.starts_with("rt") {
        problems.push("is a real-time search".to_owned());
    }
    if view.stanza == "default" {
        problems.push("is a [default] stanza, which applies to every app".to_owned());
    }
    problems
}

/// The canonical Splunk content of `detection` from its stanza as the built-in template
/// renders it (blank lines before it, then the stanza): the text [`split_stanzas`] gives it.
fn add_stanza_fragment(artifacts: &mut Artifacts, detection: &Detection, rendered: &str) {
    let text = rendered.trim_start_matches('\n').trim_end_matches('\n');
    if text.is_empty() {
        artifacts.add_fragment(&detection.meta.id, &[""]);
    } else {
        artifacts.add_fragment(&detection.meta.id, &[text, "\n"]);
    }
}

/// A detection's canonical Splunk content is its stanza of `saved` (savedsearches.conf).
fn add_search_fragments(
    artifacts: &mut Artifacts,
    catalogue: &Catalogue,
    app: &AppView,
    saved: &str,
) {
    let stanzas = split_stanzas(saved);
    for (detection, view) in catalogue.detections.iter().zip(&app.searches) {
        let header = format!("[{}]", view.stanza());
        artifacts.rendered_from(&header, detection);
        let text = stanzas.get(header.as_str()).copied().unwrap_or_default();
        if text.is_empty() {
            artifacts.add_fragment(&detection.meta.id, &[""]);
        } else {
            artifacts.add_fragment(&detection.meta.id, &[text, "\n"]);
        }
    }
}

/// Saved-search name: the pack name and the title, unique because titles are.
fn stanza_name(catalogue: &Catalogue, detection: &Detection) -> String {
    format!("{} - {}", config(catalogue).app_label, detection.meta.title)
}

/// Splunk alert severity: 1 debug, 2 info, 3 warning, 4 error, 5 severe.
fn alert_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Informational => 2,
        Severity::Low => 3,
        Severity::Medium => 4,
        Severity::High => 5,
    }
}

/// `[stanza]` header -> the stanza's text, from a rendered .conf file, without its final line
/// breaks (a stanza's canonical text is that and one line break). Blank lines between stanzas
/// belong to none of them, so a stanza's text (and the lock's hash of it) does not depend on
/// whether another stanza follows it.
fn split_stanzas(text: &str) -> std::collections::HashMap<&str, &str> {
    let mut out = std::collections::HashMap::new();
    // The current stanza: its header, and where its text starts.
    let mut current: Option<(&str, usize)> = None;
    let mut at = 0;
    // Whether the previous line continues on this one (a value ending in `\`).
    let mut continued = false;
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        if bare.starts_with('[') && !(current.is_some() && continued) {
            if let Some((header, start)) = current.take() {
                out.insert(header, text[start..at].trim_end_matches('\n'));
            }
            current = Some((bare, at));
        }
        continued = bare.ends_with('\\');
        at += line.len();
    }
    if let Some((header, start)) = current {
        out.insert(header, text[start..].trim_end_matches('\n'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stanza_is_the_same_last_or_not() {
        let alone = split_stanzas("# header\n\n[a]\nx = 1 \\\n[not a header]\n");
        let followed = split_stanzas("# header\n\n[a]\nx = 1 \\\n[not a header]\n\n[b]\ny = 2\n");
        assert_eq!(alone["[a]"], followed["[a]"]);
        assert_eq!(alone["[a]"], "[a]\nx = 1 \\\n[not a header]");
        assert_eq!(followed["[b]"], "[b]\ny = 2");
    }
}
