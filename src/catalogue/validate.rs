//! Checks that need more than one file, or more than a schema: references between files,
//! fields against log sources, the condition language, Sentinel's limits, guide coverage.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::attack;
use super::detection::TestCase;
use super::detection::{DetectionFile, Severity, Status};
use super::duration::Duration;
use super::exclusion;
use super::logsource::{ColumnType, FieldValue, LogSourceFile};
use super::test_file::{self, LoadedTestFile};
use super::{Catalogue, CatalogueConfig, Detection, GuideFile, LOGSOURCE_DIR};
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::identifier::{is_identifier, is_slug};
use crate::logic::{self, condition};
use crate::targets::Targets;
use crate::targets::sentinel::limits::{
    LONG_PERIOD, LONG_PERIOD_MIN_FREQUENCY, MAX_CUSTOM_DETAIL_KEY, MAX_CUSTOM_DETAILS,
    MAX_GROUPING, MAX_SCHEDULE, MAX_SUPPRESSION, MIN_SCHEDULE,
};
use crate::yaml::{Document, pointer_segment};

/// Names the default threshold takes in every target's output, which a tier must not share:
/// alerts carry the tier as `default` when no tier matched, and Sigma names the default
/// correlation rule `<rule>_correlation`, where a tier's base rule is `<rule>_<tier>`.
pub(crate) const RESERVED_TIER_NAMES: [&str; 2] = [super::detection::DEFAULT_TIER, "correlation"];

/// The files of a catalogue that were parsed and schema-checked, ready for the checks across them.
pub(super) struct Sources {
    pub targets: Arc<Targets>,
    pub logsources: Vec<(LogSourceFile, Document)>,
    pub detections: Vec<(DetectionFile, Document)>,
    pub test_files: Vec<LoadedTestFile>,
}

pub(super) fn validate(
    root: &Path,
    config: CatalogueConfig,
    config_doc: Document,
    guide: GuideFile,
    guide_doc: Document,
    files: Sources,
    out: &mut Diagnostics,
) -> Catalogue {
    let Sources {
        targets,
        logsources,
        detections,
        test_files,
    } = files;
    check_guide(&guide, &guide_doc, out);
    check_config(&config, &config_doc, out);

    let mut sources: IndexMap<String, LogSourceFile> = IndexMap::new();
    let pairs: Vec<(&LogSourceFile, &Document)> = logsources.iter().map(|(s, d)| (s, d)).collect();
    super::shape::check_across(&pairs, out);
    let mut logsource_documents: IndexMap<String, Document> = IndexMap::new();
    for (source, doc) in logsources {
        check_logsource(&source, &doc, out);
        super::shape::check(&source, &doc, out);
        if sources.contains_key(&source.id) {
            out.push(doc.error_at(
                "/id",
                format!("log source `{}` is defined twice", source.id),
            ));
            continue;
        }
        logsource_documents.insert(source.id.clone(), doc);
        sources.insert(source.id.clone(), source);
    }
    sources.sort_keys();
    logsource_documents.sort_keys();

    check_unique(root, &detections, out);
    let context = Context {
        root,
        config: &config,
        guide: &guide,
        sources: &sources,
        earlier_errors: out.has_errors(),
    };
    // Each detection is checked on its own, so they are checked in parallel; their problems
    // are gathered in file order (and sorted at the end in any case).
    let checked = super::parallel_map_owned(detections, |(meta, doc)| {
        let mut local = Diagnostics::new();
        let relative = doc
            .path
            .strip_prefix(root)
            .unwrap_or(&doc.path)
            .to_path_buf();
        let detection = check_detection(meta, doc, &relative, &context, &mut local);
        (detection, local)
    });
    let mut compiled = Vec::with_capacity(checked.len());
    for (detection, local) in checked {
        out.extend(local);
        compiled.extend(detection);
    }
    compiled
        .sort_by(|a: &Detection, b: &Detection| (&a.section, &a.slug).cmp(&(&b.section, &b.slug)));
    attach_test_files(root, test_files, &mut compiled, &sources, out);

    check_replacements(&compiled, out);
    // Detections that did not load are left out, so a name of one is not reported twice.
    if !out.has_errors() {
        check_catalogue_exclusions(&config, &config_doc, &compiled, &sources, out);
    }
    // Coverage is only meaningful when every detection loaded; otherwise the missing ones would
    // be reported twice, once for their own error and once as an uncovered row.
    if !out.has_errors() {
        check_coverage(&guide, &guide_doc, &compiled, out);
    }

    Catalogue {
        targets,
        root: root.to_path_buf(),
        config,
        guide,
        logsources: sources,
        detections: compiled,
        warnings: Diagnostics::new(),
        config_document: config_doc,
        logsource_documents,
    }
}

/// What must be unique across detections: the file name (most targets name a detection's files
/// after it), the id and the title.
fn check_unique(root: &Path, detections: &[(DetectionFile, Document)], out: &mut Diagnostics) {
    // The first detection with each id, by index: the position of its id is looked up only
    // when another detection uses it too.
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut titles: HashMap<String, &Path> = HashMap::new();
    let mut names: HashMap<String, &Path> = HashMap::new();
    for (index, (meta, doc)) in detections.iter().enumerate() {
        let relative = doc.path.strip_prefix(root).unwrap_or(&doc.path);
        // Most targets name a detection's files after its file name alone (Splunk searches,
        // ARM templates, Sigma rules), so two detections with one name, in two sections or as
        // `.yaml` and `.yml` twins, would write one file and lose the other.
        let name = relative
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(first) = names.get(&name) {
            out.push(
                Diagnostic::error(format!(
                    "two detections are named `{name}`: this file and {}",
                    crate::diagnostic::display_path(first)
                ))
                .in_file(&doc.path)
                .with_help("rename one: every target names a detection's files after its file name, so one would overwrite the other"),
            );
        } else {
            names.insert(name, &doc.path);
        }
        let id_key = meta.id.to_ascii_lowercase();
        if let Some(&first) = ids.get(&id_key) {
            let first = &detections[first].1;
            let at = first
                .position("/id")
                .map(|p| format!(":{}:{}", p.line, p.column))
                .unwrap_or_default();
            out.push(doc.error_at("/id", format!("duplicate id `{}`", meta.id)).with_help(format!(
                "first used by {}{at}; every detection needs its own UUID (generate one with `uuidgen`)",
                crate::diagnostic::display_path(&first.path)
            )));
        } else {
            ids.insert(id_key, index);
        }
        let title_key = meta.title.to_lowercase();
        if let Some(first) = titles.get(&title_key) {
            out.push(
                doc.error_at(
                    "/title",
                    format!("the title `{}` is already used", meta.title),
                )
                .with_help(format!(
                    "first used by {}; titles name Splunk saved searches and must be unique",
                    crate::diagnostic::display_path(first)
                )),
            );
        } else {
            titles.insert(title_key, &doc.path);
        }
    }
}

fn check_guide(guide: &GuideFile, doc: &Document, out: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for (si, section) in guide.sections.iter().enumerate() {
        for (ri, row) in section.rows.iter().enumerate() {
            if !seen.insert(row.key.as_str()) {
                out.push(doc.error_at(
                    &format!("/sections/{si}/rows/{ri}/key"),
                    format!("guide row key `{}` is used twice", row.key),
                ));
            }
        }
    }
}

fn check_config(config: &CatalogueConfig, doc: &Document, out: &mut Diagnostics) {
    for (name, list) in &config.lists {
        for (i, value) in list.inline.iter().enumerate() {
            if value.value().trim().is_empty() {
                out.push(doc.error_at(
                    &format!("/lists/{}/inline/{i}", pointer_segment(name)),
                    "an inline list value must not be empty",
                ));
            }
        }
    }
}

/// An `expand` match names a defined list with values for the targets that inline it (that a
/// list matched in part is inlined by every target is checked with the targets' list stores,
/// [`crate::targets::check_list_stores`]).
fn check_list_match(
    m: &logic::FieldMatch,
    config: &CatalogueConfig,
    doc: &Document,
    out: &mut Diagnostics,
) {
    for (i, matcher) in m.matchers.iter().enumerate() {
        let logic::Matcher::InList { list, .. } = matcher else {
            continue;
        };
        let pointer = m.value_pointer(i);
        let (base, names) = logic::list_reference(list);
        let Some(defined) = config.lists.get(base) else {
            let help = did_you_mean(base, config.lists.keys().map(String::as_str))
                .map(|c| format!("did you mean `%{c}%`?"))
                .unwrap_or_else(|| {
                    "define it under `lists:` in detections/rulecast.yaml".to_owned()
                });
            out.push(
                doc.error_at(&pointer, format!("unknown list `{base}`"))
                    .with_help(help),
            );
            continue;
        };
        if names && !defined.inline.iter().any(|v| v.name().is_some()) {
            out.push(
                doc.error_at(&pointer, format!("list `{base}` names none of its values"))
                    .with_help(format!("write its values as `{{ value, name }}` in detections/rulecast.yaml, or read its values with `%{base}%`")),
            );
        }
        if defined.inline.is_empty() {
            out.push(
                doc.error_at(&pointer, format!("list `{list}` has no inline values"))
                    .with_help("Azure Monitor, Sigma and `rulecast test` read a list's inline values: add them under `inline:` in detections/rulecast.yaml"),
            );
        }
    }
}

fn check_logsource(source: &LogSourceFile, doc: &Document, out: &mut Diagnostics) {
    let stem = doc
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != source.id {
        out.push(
            doc.error_at(
                "/id",
                format!(
                    "log source id `{}` does not match its file name `{stem}`",
                    source.id
                ),
            )
            .with_help(format!(
                "rename the file to {LOGSOURCE_DIR}/{}.yaml or change the id",
                source.id
            )),
        );
    }
    for (pointer, column) in [
        ("/time_column", Some(&source.time_column)),
        ("/event_id", source.event_id.as_ref()),
    ] {
        let Some(column) = column else { continue };
        if !source.columns.contains_key(column) {
            let help = did_you_mean(column, source.columns.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "declare it under `columns:`".to_owned());
            out.push(
                doc.error_at(pointer, format!("unknown column `{column}`"))
                    .with_help(help),
            );
        }
    }
    for (name, field) in &source.fields {
        let pointer = format!("/fields/{}", pointer_segment(name));
        if !is_identifier(name) {
            out.push(
                doc.error_at_key(
                    &pointer,
                    format!("field name `{name}` is not an identifier"),
                )
                .with_help("field names become KQL columns and SPL fields: letters, digits and _"),
            );
        }
        if let Some(column) = source.columns.get(name)
            && field.value.as_plain_column() != Some(name.as_str())
        {
            let _ = column;
            out.push(
                doc.error_at_key(
                    &pointer,
                    format!("field `{name}` has the name of a column but a different value"),
                )
                .with_help("give derived fields their own names so the column stays reachable"),
            );
        }
        check_field_value(source, &field.value, &format!("{pointer}/value"), doc, out);
        for (at, identifier) in field.identifies.iter().flat_map(|i| i.fields()) {
            let at = format!("{pointer}/identifies/{at}");
            match source.fields.get(identifier) {
                None => {
                    let help = did_you_mean(identifier, source.fields.keys().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| "name a field under `fields:`".to_owned());
                    out.push(
                        doc.error_at(&at, format!("`{identifier}` is not a field of this log source"))
                            .with_help(help),
                    );
                }
                // A field may be its own identifier (Caller holds the UPN itself).
                Some(f) if f.identifies.is_some() && identifier != name => out.push(
                    doc.error_at(
                        &at,
                        format!("`{identifier}` names a principal itself; an identifier is a plain value"),
                    )
                    .with_help("point at the field that holds the id or the name"),
                ),
                Some(_) => {}
            }
        }
    }
}

fn check_field_value(
    source: &LogSourceFile,
    value: &FieldValue,
    pointer: &str,
    doc: &Document,
    out: &mut Diagnostics,
) {
    let mut need = |column: &str, dynamic: bool, at: &str| match source.columns.get(column) {
        None => {
            let help = did_you_mean(column, source.columns.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "declare it under `columns:`".to_owned());
            out.push(
                doc.error_at(at, format!("unknown column `{column}`"))
                    .with_help(help),
            );
        }
        Some(c) if dynamic && c.kind != ColumnType::Dynamic => {
            out.push(doc.error_at(
                at,
                format!("column `{column}` is not dynamic, so it has no inner path or elements"),
            ));
        }
        _ => {}
    };
    match value {
        FieldValue::Column { column, path } => {
            need(column, path.is_some(), &format!("{pointer}/column"));
        }
        FieldValue::Element { element } => {
            need(&element.column, true, &format!("{pointer}/element/column"));
        }
        FieldValue::At { at } => need(&at.column, true, &format!("{pointer}/at/column")),
        FieldValue::ModifiedProperty { modified_property } => need(
            &modified_property.column,
            true,
            &format!("{pointer}/modified_property/column"),
        ),
        FieldValue::Text { text } => need(text, true, &format!("{pointer}/text")),
        FieldValue::FirstOf { first_of } => {
            if first_of.len() < 2 {
                out.push(doc.error_at(pointer, "first_of needs at least two values"));
            }
            for (i, v) in first_of.iter().enumerate() {
                if matches!(v, FieldValue::FirstOf { .. }) {
                    out.push(doc.error_at(
                        &format!("{pointer}/first_of/{i}"),
                        "first_of cannot nest another first_of; list the values in one",
                    ));
                }
                check_field_value(source, v, &format!("{pointer}/first_of/{i}"), doc, out);
            }
        }
    }
}

/// What a detection is checked against.
struct Context<'a> {
    root: &'a Path,
    config: &'a CatalogueConfig,
    guide: &'a GuideFile,
    sources: &'a IndexMap<String, LogSourceFile>,
    /// Whether the files were found to have errors before detections were checked (a log
    /// source that did not load has its own).
    earlier_errors: bool,
}

fn check_detection(
    meta: DetectionFile,
    doc: Document,
    relative: &Path,
    context: &Context,
    out: &mut Diagnostics,
) -> Option<Detection> {
    let Context {
        root,
        config,
        guide,
        sources,
        earlier_errors,
    } = *context;
    let before = out.error_count();
    let slug = relative
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let section = relative
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let in_file = |d: Diagnostic| d.in_file(&doc.path);

    if !is_slug(&slug) {
        out.push(in_file(Diagnostic::error(format!("file name `{slug}` is not a valid detection name")))
            .with_help("use lower-case letters, digits and hyphens; the name becomes the name of every generated file"));
    }
    if relative.components().count() != 2 {
        out.push(in_file(Diagnostic::error(
            "a detection file must be directly inside its section folder",
        )));
    }
    let section_keys: Vec<&str> = guide.sections.iter().map(|s| s.key.as_str()).collect();
    if !section_keys.contains(&section.as_str()) {
        let help = did_you_mean(&section, section_keys.iter().copied())
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| format!("sections: {}", section_keys.join(", ")));
        out.push(
            in_file(Diagnostic::error(format!(
                "`{section}` is not a guide section"
            )))
            .with_help(help),
        );
    }

    match uuid::Uuid::parse_str(&meta.id) {
        Ok(u) if u.hyphenated().to_string() == meta.id => {}
        Ok(u) => out.push(doc.error_at(
            "/id",
            format!(
                "write the id in lower-case hyphenated form: {}",
                u.hyphenated()
            ),
        )),
        Err(_) => out.push(
            doc.error_at("/id", format!("`{}` is not a UUID", meta.id))
                .with_help(
                    "generate one with `uuidgen`, e.g. 0b3a6f2e-8a4e-4c1b-9f55-3f1c2d4e5a6b",
                ),
        ),
    }

    let mut seen_rows = HashSet::new();
    let mut unknown_rows = false;
    let mut in_section = false;
    let mut highest = None;
    for (i, key) in meta.guide_rows.iter().enumerate() {
        let pointer = format!("/guide_rows/{i}");
        if !seen_rows.insert(key) {
            out.push(doc.error_at(&pointer, format!("guide row `{key}` is listed twice")));
        }
        if let Some((s, row)) = guide.row(key) {
            in_section |= s.key == section;
            highest = highest.max(Some(row.risk));
        } else {
            unknown_rows = true;
            let help = did_you_mean(key, guide.rows().map(|(_, r)| r.key.as_str()))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "row keys are listed in detections/guide.yaml".to_owned());
            out.push(
                doc.error_at(&pointer, format!("`{key}` is not a row of the guide"))
                    .with_help(help),
            );
        }
    }
    if let Some(highest) = highest
        && highest != meta.risk
    {
        out.push(doc.warning_at("/risk", format!(
                "the guide rates the rows of this detection {} risk at most, this detection says {}",
                highest.as_str(),
                meta.risk.as_str()
            )));
    }
    // With a misspelt row, "no row in this section" would only repeat that error.
    if !in_section
        && !unknown_rows
        && section_keys.contains(&section.as_str())
        && !meta.guide_rows.is_empty()
    {
        out.push(in_file(Diagnostic::warning(format!(
            "none of this detection's guide rows is in the `{section}` section"
        ))));
    }

    check_attack(&meta, &doc, out);

    let Some(source) = sources.get(&meta.logsource) else {
        // A log source whose file exists but did not load has its own errors; repeating them as
        // "unknown log source" in every detection that reads it would bury them.
        let root = doc.path.ancestors().nth(relative.components().count());
        if root.is_some_and(|r| {
            r.join(LOGSOURCE_DIR)
                .join(format!("{}.yaml", meta.logsource))
                .is_file()
        }) && earlier_errors
        {
            return None;
        }
        let help = did_you_mean(&meta.logsource, sources.keys().map(String::as_str))
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| {
                if sources.is_empty() {
                    format!("no log source loaded; each is a file in detections/{LOGSOURCE_DIR}/")
                } else {
                    format!(
                        "log sources: {}",
                        sources.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            });
        out.push(
            doc.error_at(
                "/logsource",
                format!("unknown log source `{}`", meta.logsource),
            )
            .with_help(help),
        );
        return None;
    };
    let known_field = |name: &str, pointer: &str, key: bool, out: &mut Diagnostics| {
        if !source.fields.contains_key(name) {
            let help = did_you_mean(name, source.fields.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "fields of `{}`: {}",
                        source.id,
                        source.fields.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                });
            let message = format!("`{name}` is not a field of log source `{}`", source.id);
            let d = if key {
                doc.error_at_key(pointer, message)
            } else {
                doc.error_at(pointer, message)
            };
            out.push(d.with_help(help));
        }
    };

    // Selections.
    let mut selections = Vec::new();
    for (name, value) in &meta.detection.selections {
        let pointer = format!("/detection/{}", pointer_segment(name));
        match logic::parse_selection(name, value, &pointer) {
            Ok(sel) => {
                for m in sel.fields() {
                    known_field(&m.field, &m.pointer, true, out);
                    check_list_match(m, config, &doc, out);
                    check_regex_dialect(m, &doc, out);
                }
                selections.push(sel);
            }
            Err(errors) => report_logic_errors(&doc, errors, out),
        }
    }
    // YAML reads `1.50` as the number 1.5; matched as text, it would be `1.5`.
    for (pointer, written, read) in doc.renumbered() {
        if pointer.starts_with("/detection/") {
            out.push(
                doc.error_at(
                    pointer,
                    format!("`{written}` is a number to YAML, so it would be matched as `{read}`"),
                )
                .with_help(format!(
                    "quote it to match the text as written: '{written}'"
                )),
            );
        }
    }
    let names: Vec<String> = meta.detection.selections.keys().cloned().collect();
    for name in names
        .iter()
        .filter(|n| n.starts_with(exclusion::SELECTION_PREFIX))
    {
        out.push(
            doc.error_at_key(
                &format!("/detection/{}", pointer_segment(name)),
                format!("selection names starting with `{}` are kept for exclusions", exclusion::SELECTION_PREFIX),
            )
            .with_help("rename the selection, or write it as an entry under `exclusions:` with its reason, owner and expiry date"),
        );
    }

    // Exclusions: the detection's own, then those of rulecast.yaml that apply to it.
    let mut exclusions: Vec<(exclusion::Applied, logic::FieldMatch)> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let mut push_exclusion =
        |e: &exclusion::Exclusion, origin: exclusion::Origin, m: logic::FieldMatch| {
            let name = exclusion::selection_name(&e.field, &taken);
            taken.push(name.clone());
            exclusions.push((
                exclusion::Applied {
                    exclusion: e.clone(),
                    origin,
                    selection: name,
                },
                m,
            ));
        };
    for (i, e) in meta.exclusions.iter().enumerate() {
        let origin = exclusion::Origin::Detection(i);
        let pointer = origin.pointer();
        if crate::lock::date::parse(&e.expires).is_err() {
            out.push(doc.error_at(
                &format!("{pointer}/expires"),
                format!("`{}` is not a day of the calendar", e.expires),
            ));
        }
        match e.field_match(&pointer) {
            Ok(m) => {
                known_field(&m.field, &format!("{pointer}/field"), false, out);
                check_list_match(&m, config, &doc, out);
                push_exclusion(e, origin, m);
            }
            Err(errors) => report_logic_errors(&doc, errors, out),
        }
    }
    for (i, e) in config.exclusions.iter().enumerate() {
        let applies = if e.detections.is_empty() {
            source.fields.contains_key(e.exclusion.field_name())
        } else {
            // A named detection whose log source lacks the field is reported with the
            // catalogue's exclusions ([`check_catalogue_exclusions`]).
            e.names(&meta.id, &section, &slug)
                && source.fields.contains_key(e.exclusion.field_name())
        };
        // Problems of its modifiers or values are reported once, in rulecast.yaml.
        if let (true, Ok(m)) = (
            applies,
            e.exclusion
                .field_match(&exclusion::Origin::Catalogue(i).pointer()),
        ) {
            push_exclusion(&e.exclusion, exclusion::Origin::Catalogue(i), m);
        }
    }

    // Condition.
    let condition = match condition::parse(&meta.detection.condition) {
        Ok(c) => Some(c),
        Err(e) => {
            out.push(condition_error(
                &doc,
                &meta.detection.condition,
                e.offset,
                e.message,
            ));
            None
        }
    };
    let mut used = HashSet::new();
    if let Some(c) = &condition {
        for (reference, is_pattern) in c.references() {
            if is_pattern {
                let matched: Vec<&String> = names
                    .iter()
                    .filter(|n| condition::name_matches(reference, n))
                    .collect();
                if matched.is_empty() {
                    out.push(
                        doc.error_at(
                            "/detection/condition",
                            format!("`{reference}` matches no selection"),
                        )
                        .with_help(format!("selections: {}", names.join(", "))),
                    );
                }
                used.extend(matched.into_iter().cloned());
            } else if names.iter().any(|n| n == reference) {
                used.insert(reference.to_owned());
            } else {
                let help = did_you_mean(reference, names.iter().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("selections: {}", names.join(", ")));
                let offset = meta.detection.condition.find(reference).unwrap_or(0);
                out.push(
                    condition_error(
                        &doc,
                        &meta.detection.condition,
                        offset,
                        format!("the condition names `{reference}`, which is not a selection"),
                    )
                    .with_help(help),
                );
            }
        }
        used.extend(meta.findings.keys().cloned());
        for name in &names {
            if !used.contains(name) {
                out.push(doc.diagnostic_at(
                    Diagnostic::warning(format!("selection `{name}` is not used by the condition")),
                    &format!("/detection/{}", pointer_segment(name)),
                    true,
                ));
            }
        }
    }
    for name in meta.findings.keys() {
        if !names.contains(name) {
            let help = did_you_mean(name, names.iter().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"));
            let d = doc.error_at_key(
                &format!("/findings/{}", pointer_segment(name)),
                format!("finding `{name}` does not name a selection"),
            );
            out.push(match help {
                Some(h) => d.with_help(h),
                None => d,
            });
        }
    }

    // Schedule: the look-back is derived (window + frequency + ingestion delay) and held to
    // Sentinel's limits, so one catalogue deploys everywhere.
    let schedule = &meta.schedule;
    let delay = schedule
        .ingestion_delay
        .unwrap_or(config.schedule.ingestion_delay);
    let window = meta.threshold.as_ref().map(|t| t.window);
    let lookback = crate::schedule::lookback(window, schedule.frequency, delay);
    let derivation = match window {
        Some(w) => format!(
            "window {w} + frequency {} + ingestion delay {delay}",
            schedule.frequency
        ),
        None => format!("frequency {} + ingestion delay {delay}", schedule.frequency),
    };
    if schedule.frequency < MIN_SCHEDULE || schedule.frequency > MAX_SCHEDULE {
        out.push(doc.error_at("/schedule/frequency", format!("frequency {} is outside Sentinel's range of {MIN_SCHEDULE} to {MAX_SCHEDULE}", schedule.frequency))
            .with_help(format!("every target is held to Sentinel's limits so one catalogue deploys everywhere; use a value from {MIN_SCHEDULE} to {MAX_SCHEDULE}")));
    } else if lookback > MAX_SCHEDULE {
        out.push(doc.error_at("/schedule/frequency", format!("the look-back ({derivation} = {lookback}) is longer than Sentinel's longest query period, {MAX_SCHEDULE}"))
            .with_help("shorten the threshold window, the frequency or the ingestion delay"));
    }
    if lookback >= LONG_PERIOD && schedule.frequency < LONG_PERIOD_MIN_FREQUENCY {
        out.push(
            doc.error_at(
                "/schedule/frequency",
                format!("Sentinel requires a frequency of at least {LONG_PERIOD_MIN_FREQUENCY} when the look-back is {LONG_PERIOD} or more (here {derivation} = {lookback})"),
            )
            .with_help(format!("raise the frequency to {LONG_PERIOD_MIN_FREQUENCY} or more, or shorten the threshold window or the ingestion delay")),
        );
    }
    check_dedup(&meta, &doc, lookback, &known_field, out);
    if let Some(t) = &meta.threshold {
        for (i, f) in t.group_by.iter().enumerate() {
            known_field(f, &format!("/threshold/group_by/{i}"), false, out);
        }
        for (i, tier) in t.tiers.iter().enumerate() {
            let pointer = format!("/threshold/tiers/{i}");
            if RESERVED_TIER_NAMES.contains(&tier.name.as_str()) {
                out.push(
                    doc.error_at(
                        &format!("{pointer}/name"),
                        format!("a tier cannot be named `{}`", tier.name),
                    )
                    .with_help(format!(
                        "rulecast uses {} for the threshold without a tier (alerts report the tier as `default`, Sigma names its correlation rule `..._correlation`); name the tier after its list, e.g. privileged",
                        RESERVED_TIER_NAMES.map(|n| format!("`{n}`")).join(" and ")
                    )),
                );
            }
            if !t.group_by.contains(&tier.field) {
                out.push(
                    doc.error_at(
                        &format!("{pointer}/field"),
                        format!(
                            "tier field `{}` is not one of the group_by fields",
                            tier.field
                        ),
                    )
                    .with_help(format!(
                        "a tier lowers the count of a group, so its field must be one of: {}",
                        t.group_by.join(", ")
                    )),
                );
            }
            if !config.lists.contains_key(&tier.list) {
                let help = did_you_mean(&tier.list, config.lists.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        "define it under `lists:` in detections/rulecast.yaml".to_owned()
                    });
                out.push(
                    doc.error_at(
                        &format!("{pointer}/list"),
                        format!("unknown list `{}`", tier.list),
                    )
                    .with_help(help),
                );
            }
            if tier.count > t.count {
                out.push(doc.warning_at(
                    &format!("{pointer}/count"),
                    format!(
                        "tier `{}` needs more events ({}) than the default ({})",
                        tier.name, tier.count, t.count
                    ),
                ));
            }
            if let Some(severity) = tier.severity {
                let at = format!("{pointer}/severity");
                let own = meta.severity;
                if severity < own {
                    out.push(
                        doc.error_at(
                            &at,
                            format!(
                                "tier `{}` has severity {}, lower than the detection's own ({})",
                                tier.name,
                                severity.as_str(),
                                own.as_str()
                            ),
                        )
                        .with_help({
                            let higher: Vec<&str> = Severity::ALL
                                .into_iter()
                                .filter(|s| *s > own)
                                .map(Severity::as_str)
                                .collect();
                            if higher.is_empty() {
                                format!("a tier only raises the severity of its groups, and {} is the highest; remove the key", own.as_str())
                            } else {
                                format!("a tier only raises the severity of its groups: use {}, or remove the key", higher.join(" or "))
                            }
                        }),
                    );
                } else if severity == own {
                    out.push(
                        doc.warning_at(
                            &at,
                            format!(
                                "tier `{}` has the detection's own severity ({})",
                                tier.name,
                                severity.as_str()
                            ),
                        )
                        .with_help("a tier's severity matters only when it is higher than the detection's; remove the key"),
                    );
                }
            }
        }
        if t.tiers
            .iter()
            .map(|t| &t.name)
            .collect::<HashSet<_>>()
            .len()
            != t.tiers.len()
        {
            out.push(doc.error_at("/threshold/tiers", "tier names must be unique"));
        }
    }

    // Entities and custom details.
    let mut any_entity = false;
    for (slot, field) in meta.entities.slots() {
        if let Some(f) = field {
            any_entity = true;
            known_field(f, &format!("/entities/{slot}"), false, out);
        }
    }
    if !any_entity {
        out.push(
            doc.error_at("/entities", "name at least one entity field")
                .with_help("Sentinel needs at least one entity mapping, e.g. actor: Actor"),
        );
    }
    if meta.custom_details.len() > MAX_CUSTOM_DETAILS {
        out.push(doc.error_at(
            "/custom_details",
            format!(
                "{} custom details; Sentinel allows at most {MAX_CUSTOM_DETAILS}",
                meta.custom_details.len()
            ),
        ));
    }
    for (name, field) in &meta.custom_details {
        let pointer = format!("/custom_details/{}", pointer_segment(name));
        if !is_identifier(name) || name.len() > MAX_CUSTOM_DETAIL_KEY {
            out.push(doc.error_at_key(&pointer, format!("custom detail name `{name}` must be an identifier of at most {MAX_CUSTOM_DETAIL_KEY} characters"))
                .with_help("the name becomes a Sentinel custom-detail key: letters, digits and _, not starting with a digit, e.g. RoleName"));
        }
        known_field(field, &pointer, false, out);
    }

    // Dates: the schema checks the form, this the calendar.
    let deprecation_date = meta.deprecation.as_ref().map(|d| d.date.as_str());
    for (pointer, date) in [
        ("/date", Some(meta.date.as_str())),
        ("/deprecation/date", deprecation_date),
    ] {
        if let Some(date) = date
            && crate::lock::date::parse(date).is_err()
        {
            out.push(
                doc.error_at(pointer, format!("`{date}` is not a day of the calendar"))
                    .with_help("write a real date as YYYY-MM-DD, e.g. 2026-02-28"),
            );
        }
    }

    // Deprecation.
    match (meta.status, &meta.deprecation) {
        (Status::Deprecated, None) => out.push(
            doc.error_at(
                "/status",
                "a deprecated detection needs a `deprecation:` block",
            )
            .with_help("add deprecation: { reason: ..., date: YYYY-MM-DD, replaced_by: <id> }"),
        ),
        (status, Some(_)) if status != Status::Deprecated => out.push(
            doc.error_at_key(
                "/deprecation",
                "only a deprecated detection may have a `deprecation:` block",
            )
            .with_help("set status: deprecated, or remove the block"),
        ),
        _ => {}
    }

    check_test_cases(root, &meta.tests, &doc, source, out);

    if out.error_count() > before {
        return None;
    }
    let condition = condition?;
    let (applied, matches): (Vec<_>, Vec<_>) = exclusions.into_iter().unzip();
    let (condition, expanded) = exclusion::wrap(condition, &names, &applied);
    selections.extend(
        applied
            .iter()
            .zip(matches)
            .map(|(a, m)| exclusion::selection(a.selection.clone(), m)),
    );
    let identities = meta
        .entities
        .slots()
        .into_iter()
        .filter_map(|(slot, field)| {
            let identities = source.fields.get(field?)?.identifies.clone()?;
            Some((slot, identities))
        })
        .collect();
    Some(Detection {
        identities,
        meta,
        path: relative.to_path_buf(),
        section,
        slug,
        selections,
        condition,
        expanded,
        exclusions: applied,
        document: doc,
        test_file: None,
    })
}

/// The `dedup:` block: its fields are the log source's (a threshold's are its group), each
/// once, and its durations fit the platforms that fold on them.
fn check_dedup(
    meta: &DetectionFile,
    doc: &Document,
    lookback: Duration,
    known_field: &dyn Fn(&str, &str, bool, &mut Diagnostics),
    out: &mut Diagnostics,
) {
    let dedup = &meta.dedup;
    for (i, field) in dedup.by.iter().flatten().enumerate() {
        let pointer = format!("/dedup/by/{i}");
        known_field(field, &pointer, false, out);
        if dedup.by.iter().flatten().take(i).any(|f| f == field) {
            out.push(doc.error_at(&pointer, format!("`{field}` is listed twice")));
        }
        if field.len() > MAX_CUSTOM_DETAIL_KEY
            && !meta.custom_details.values().any(|column| column == field)
        {
            out.push(doc.error_at(&pointer, format!("`{field}` is longer than {MAX_CUSTOM_DETAIL_KEY} characters, so Sentinel cannot group incidents on it as a custom detail"))
                .with_help(format!("add a custom detail of a shorter name for it, e.g. `custom_details: {{ {}: {field} }}`", &field[..MAX_CUSTOM_DETAIL_KEY.min(field.len())])));
        }
        if let Some(t) = &meta.threshold
            && !t.group_by.contains(field)
        {
            out.push(doc.error_at(&pointer, format!("`{field}` is not one of the threshold's group_by fields"))
                .with_help(format!("a threshold alert is one group's episode, so it is the same incident as another only through its group: use some of {}", t.group_by.join(", "))));
        }
    }
    if let Some(period) = dedup.period
        && period > MAX_GROUPING
    {
        out.push(doc.error_at("/dedup/period", format!("period {period} is longer than Sentinel's longest incident grouping, {MAX_GROUPING}"))
            .with_help(format!("use at most {MAX_GROUPING}; the default is the look-back, {lookback}")));
    }
    if let Some(pause) = dedup.sentinel_suppression
        && !(MIN_SCHEDULE..=MAX_SUPPRESSION).contains(&pause)
    {
        out.push(doc.error_at("/dedup/sentinel_suppression", format!("Sentinel suppresses a rule for {MIN_SCHEDULE} to {MAX_SUPPRESSION}, not {pause}"))
            .with_help(format!("use a value from {MIN_SCHEDULE} to {MAX_SUPPRESSION}, or leave it out: incident grouping folds repeats without silencing other entities")));
    }
}

fn report_logic_errors(doc: &Document, errors: Vec<logic::LogicError>, out: &mut Diagnostics) {
    for e in errors {
        out.push(doc.error_with_help(&e.pointer, e.at_key, e.message, e.help));
    }
}

/// The exclusions of rulecast.yaml: each is a valid field match, names detections that exist
/// and whose log source has its field, and applies to at least one detection.
fn check_catalogue_exclusions(
    config: &CatalogueConfig,
    doc: &Document,
    detections: &[Detection],
    sources: &IndexMap<String, LogSourceFile>,
    out: &mut Diagnostics,
) {
    for (i, e) in config.exclusions.iter().enumerate() {
        let pointer = exclusion::Origin::Catalogue(i).pointer();
        if crate::lock::date::parse(&e.exclusion.expires).is_err() {
            out.push(doc.error_at(
                &format!("{pointer}/expires"),
                format!("`{}` is not a day of the calendar", e.exclusion.expires),
            ));
        }
        match e.exclusion.field_match(&pointer) {
            Ok(m) => check_list_match(&m, config, doc, out),
            Err(errors) => {
                report_logic_errors(doc, errors, out);
                continue;
            }
        }
        let field = e.exclusion.field_name();
        for (j, name) in e.detections.iter().enumerate() {
            let at = format!("{pointer}/detections/{j}");
            let named = detections
                .iter()
                .find(|d| super::names_detection(name, &d.meta.id, &d.section, &d.slug));
            match named {
                None => {
                    let help = did_you_mean(name, detections.iter().map(|d| d.slug.as_str()))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| "`rulecast list` shows every detection".to_owned());
                    out.push(
                        doc.error_at(&at, format!("no detection is named `{name}`"))
                            .with_help(help),
                    );
                }
                Some(d)
                    if !sources
                        .get(&d.meta.logsource)
                        .is_some_and(|s| s.fields.contains_key(field)) =>
                {
                    out.push(doc.error_at(
                        &at,
                        format!(
                            "`{name}` reads log source `{}`, which has no field `{field}`",
                            d.meta.logsource
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if e.detections.is_empty() && !sources.values().any(|s| s.fields.contains_key(field)) {
            let help = did_you_mean(
                field,
                sources
                    .values()
                    .flat_map(|s| s.fields.keys().map(String::as_str)),
            )
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| {
                "an exclusion applies to the detections whose log source has its field".to_owned()
            });
            out.push(
                doc.error_at(&format!("{pointer}/field"), format!("no log source has a field `{field}`, so the exclusion applies to no detection"))
                    .with_help(help),
            );
        }
    }
}

/// Refuses regular expressions outside the dialect every engine reads alike, pointing at the
/// construct, and warns about those that PCRE (Splunk) and Python backtrack through for an
/// exponentially long time on a near miss.
fn check_regex_dialect(m: &logic::FieldMatch, doc: &Document, out: &mut Diagnostics) {
    for (i, matcher) in m.matchers.iter().enumerate() {
        let logic::Matcher::Regex { regex, .. } = matcher else {
            continue;
        };
        let pointer = m.value_pointer(i);
        if let Err(e) = logic::regex_dialect::check(regex) {
            let d = Diagnostic::error(format!("in the regular expression, {e}"))
                .in_file(&doc.path)
                .with_help(format!("{}; rulecast accepts only what Rust, RE2 (KQL), PCRE (Splunk) and Python's re (pySigma) read alike", e.instead));
            out.push(doc.at_character(d, &pointer, regex, e.offset));
            continue;
        }
        for risk in logic::regex_dialect::backtracking_risks(regex) {
            let d = Diagnostic::warning(format!(
                "the nested quantifier `{}` can backtrack catastrophically: Splunk (PCRE) and pySigma (Python) may take exponential time on text that almost matches",
                risk.construct
            ))
            .in_file(&doc.path)
            .with_help("repeat the inner part once, e.g. `(a+)+` as `a+`, or make the repeated text unambiguous");
            out.push(doc.at_character(d, &pointer, regex, risk.offset));
        }
    }
}

/// Gives each detection its test file, and reports test files that test nothing.
fn attach_test_files(
    root: &Path,
    test_files: Vec<LoadedTestFile>,
    detections: &mut [Detection],
    sources: &IndexMap<String, LogSourceFile>,
    out: &mut Diagnostics,
) {
    for loaded in test_files {
        let relative = loaded
            .document
            .path
            .strip_prefix(root)
            .unwrap_or(&loaded.document.path)
            .to_path_buf();
        let tested = test_file::detection_path(&relative);
        match detections.iter_mut().find(|d| d.path == tested) {
            Some(detection) => {
                if let Some(source) = sources.get(&detection.meta.logsource) {
                    check_test_cases(root, &loaded.file.tests, &loaded.document, source, out);
                }
                detection.test_file = Some(loaded);
            }
            // A detection that exists but failed to load has already been reported.
            None if root.join(&tested).is_file() => {}
            None => {
                let folder = tested
                    .parent()
                    .map(|p| root.join(p))
                    .unwrap_or_else(|| root.to_path_buf());
                let siblings: Vec<String> = std::fs::read_dir(&folder)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .filter(|n| {
                        Path::new(n).extension().is_some_and(|e| e == "yaml")
                            && !n.ends_with(test_file::TEST_FILE_SUFFIX)
                    })
                    .collect();
                let expected = tested
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let help = match did_you_mean(&expected, siblings.iter().map(String::as_str)) {
                    Some(close) => format!(
                        "did you mean to name it after `{close}`? A test file is named <detection>{}",
                        test_file::TEST_FILE_SUFFIX
                    ),
                    None => format!(
                        "a test file is named after the detection it tests: <detection>{}, in the same folder",
                        test_file::TEST_FILE_SUFFIX
                    ),
                };
                out.push(
                    Diagnostic::error(format!(
                        "this test file has no detection: `{}` does not exist",
                        crate::diagnostic::display_path(&root.join(&tested))
                    ))
                    .in_file(&loaded.document.path)
                    .with_help(help),
                );
            }
        }
    }
}

/// Checks the cases of a detection (inline or in its test file): each has events, from one
/// place, and every inline event has a time the threshold windows can order it by.
fn check_test_cases(
    root: &Path,
    cases: &[TestCase],
    doc: &Document,
    source: &LogSourceFile,
    out: &mut Diagnostics,
) {
    let time_column = &source.time_column;
    for (i, case) in cases.iter().enumerate() {
        let pointer = format!("/tests/{i}");
        match (&case.events_file, case.events.is_empty()) {
            (None, true) => out.push(
                doc.error_at(&pointer, format!("test `{}` has no events", case.name))
                    .with_help("give `events:` inline or an `events_file:` next to the detection"),
            ),
            (Some(_), false) => out.push(doc.error_at(
                &pointer,
                format!("test `{}` has both `events` and `events_file`", case.name),
            )),
            (Some(file), true) => {
                let bad =
                    file.contains("..") || Path::new(file).is_absolute() || file.contains('\\');
                let full = doc.path.parent().map(|p| p.join(file));
                if bad {
                    out.push(doc.error_at(
                        &format!("{pointer}/events_file"),
                        "events_file must be a plain path next to the detection",
                    ));
                } else if let Some(kind) = full
                    .as_ref()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .and_then(|m| crate::files::FileKind::of(m.file_type()))
                {
                    out.push(
                        doc.error_at(
                            &format!("{pointer}/events_file"),
                            format!("`{file}` is {kind}, not a regular file"),
                        )
                        .with_help("test events are read from a regular JSON-lines file"),
                    );
                } else if !full.as_ref().is_some_and(|p| p.is_file()) {
                    out.push(doc.error_at(
                        &format!("{pointer}/events_file"),
                        format!("`{file}` does not exist next to the detection"),
                    ));
                } else if !full
                    .as_ref()
                    .is_some_and(|p| crate::files::resolves_inside(p, root))
                {
                    out.push(
                        doc.error_at(
                            &format!("{pointer}/events_file"),
                            format!("`{file}` is a symbolic link that leads out of the catalogue"),
                        )
                        .with_help(
                            "test events are read from the catalogue only; copy the file in",
                        ),
                    );
                }
            }
            _ => {}
        }
        if case.alerts.is_some() && !case.expect_alert {
            out.push(doc.error_at(&format!("{pointer}/alerts"), "`alerts` counts the alerts a positive case raises; a case with expect_alert: false raises none"));
        }
        for (e, event) in case.events.iter().enumerate() {
            let event_pointer = format!("{pointer}/events/{e}");
            match event.get(time_column) {
                None => out.push(
                    doc.error_at(&event_pointer, format!("the event has no `{time_column}`"))
                        .with_help("every event needs its time, so threshold windows can order it"),
                ),
                Some(serde_json::Value::String(text))
                    if crate::timestamp::Timestamp::parse(text).is_some() => {}
                Some(_) => out.push(
                    doc.error_at(
                        &format!("{event_pointer}/{}", pointer_segment(time_column)),
                        format!("`{time_column}` is not a date-time"),
                    )
                    .with_help("write it as Log Analytics does, e.g. 2025-01-01T10:00:00Z"),
                ),
            }
        }
    }
}

fn check_attack(meta: &DetectionFile, doc: &Document, out: &mut Diagnostics) {
    let mut tactics = Vec::new();
    for (i, tactic) in meta.attack.tactics.iter().enumerate() {
        if attack::is_tactic(tactic) {
            tactics.push(tactic.as_str());
        } else {
            let help = did_you_mean(tactic, attack::TACTICS.iter().map(|(t, _)| *t))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "tactics: {}",
                        attack::TACTICS
                            .iter()
                            .map(|(t, _)| *t)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            out.push(
                doc.error_at(
                    &format!("/attack/tactics/{i}"),
                    format!("`{tactic}` is not an ATT&CK tactic"),
                )
                .with_help(help),
            );
        }
    }
    for (i, technique) in meta.attack.techniques.iter().enumerate() {
        let pointer = format!("/attack/techniques/{i}");
        if !attack::is_technique_id(technique) {
            out.push(
                doc.error_at(
                    &pointer,
                    format!("`{technique}` is not an ATT&CK technique id"),
                )
                .with_help("write T1234 or T1234.001"),
            );
            continue;
        }
        match attack::tactics_of(technique) {
            Some(of) if !of.iter().any(|t| tactics.contains(t)) && tactics.len() == meta.attack.tactics.len() => {
                out.push(doc.error_at(&pointer, format!("{technique} belongs to none of the listed tactics"))
                    .with_help(format!("{} belongs to: {}; Sentinel rejects a technique outside the rule's tactics", attack::parent(technique), of.join(", "))));
            }
            None => out.push(doc.warning_at(&pointer, format!("{technique} is not in rulecast's ATT&CK table, so its tactics cannot be checked"))),
            _ => {}
        }
    }
}

/// An error inside the condition string, placed on the offending character when the string is a
/// single-line scalar.
fn condition_error(doc: &Document, text: &str, offset: usize, message: String) -> Diagnostic {
    let d = Diagnostic::error(format!("invalid condition: {message}"))
        .in_file(&doc.path)
        .with_help("a condition combines selection names with and, or, not and parentheses, or quantifies them: `1 of selection_*`, `all of them`");
    doc.at_character(d, "/detection/condition", text, offset)
}

fn check_replacements(detections: &[Detection], out: &mut Diagnostics) {
    let ids: HashSet<String> = detections
        .iter()
        .map(|d| d.meta.id.to_ascii_lowercase())
        .collect();
    for d in detections {
        if let Some(replacement) = d
            .meta
            .deprecation
            .as_ref()
            .and_then(|x| x.replaced_by.as_ref())
        {
            if replacement.eq_ignore_ascii_case(&d.meta.id) {
                out.push(d.document.error_at(
                    "/deprecation/replaced_by",
                    "a detection cannot replace itself",
                ));
            } else if !ids.contains(&replacement.to_ascii_lowercase()) {
                out.push(d.document.error_at(
                    "/deprecation/replaced_by",
                    format!("no detection has the id `{replacement}`"),
                ));
            }
        }
    }
}

fn check_coverage(
    guide: &GuideFile,
    guide_doc: &Document,
    detections: &[Detection],
    out: &mut Diagnostics,
) {
    let mut covered: BTreeMap<&str, usize> = BTreeMap::new();
    for d in detections.iter().filter(|d| !d.is_deprecated()) {
        for row in &d.meta.guide_rows {
            *covered.entry(row.as_str()).or_default() += 1;
        }
    }
    for (si, section) in guide.sections.iter().enumerate() {
        for (ri, row) in section.rows.iter().enumerate() {
            if !covered.contains_key(row.key.as_str()) {
                out.push(
                    guide_doc
                        .error_at(
                            &format!("/sections/{si}/rows/{ri}/key"),
                            format!(
                                "guide row `{}` is not implemented by any active detection",
                                row.key
                            ),
                        )
                        .with_help("add a detection that lists this key under guide_rows"),
                );
            }
        }
    }
}
