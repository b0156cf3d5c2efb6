//! Checks of the rendered Splunk app, read back the way Splunk reads it: every `.conf` file
//! parses, every saved search is structurally sound SPL whose macros and lookups exist, every
//! scheduled search has a schedule and an earliest time and is not real-time, the app's id is
//! consistent, and nothing is exported or disabled in other apps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::conf::{self, Conf};
use super::spl_check::{self, Definitions};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Checks the app under `app_dir` (relative to the target folder) in `files`.
pub(super) fn check(files: &BTreeMap<PathBuf, String>, app_dir: &Path) -> Diagnostics {
    let mut out = Diagnostics::new();
    let mut confs: BTreeMap<String, Conf> = BTreeMap::new();
    for (path, text) in files {
        if path.extension().and_then(|e| e.to_str()) != Some("conf")
            && path.extension().and_then(|e| e.to_str()) != Some("meta")
        {
            continue;
        }
        let shown = format!(
            "generated/splunk/{}",
            path.to_string_lossy().replace('\\', "/")
        );
        let (parsed, problems) = conf::parse(text);
        for p in problems {
            out.push(Diagnostic::error(format!(
                "splunk: {shown}:{}: {}",
                p.line, p.message
            )));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        confs.insert(name, parsed);
    }
    let empty = Conf::default();
    let saved = confs.get("savedsearches.conf").unwrap_or(&empty);
    let macros_conf = confs.get("macros.conf").unwrap_or(&empty);
    let transforms = confs.get("transforms.conf").unwrap_or(&empty);
    let app = confs.get("app.conf").unwrap_or(&empty);
    let meta = confs.get("default.meta").unwrap_or(&empty);

    let mut macros: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for stanza in &macros_conf.order {
        let (name, arity) = spl_check::macro_signature(stanza);
        macros.entry(name).or_default().insert(arity);
    }
    let mut lookups = BTreeSet::new();
    for (name, stanza) in &transforms.stanzas {
        if name.is_empty() {
            continue;
        }
        lookups.insert(name.clone());
        if let Some(file) = stanza.get("filename")
            && !files.contains_key(&app_dir.join("lookups").join(file))
        {
            out.push(Diagnostic::error(format!(
                "splunk: lookup [{name}] points to lookups/{file}, which the app does not contain"
            )));
        }
    }
    let definitions = Definitions {
        macros: &macros,
        lookups: &lookups,
    };

    for (name, stanza) in &saved.stanzas {
        if name.is_empty() {
            continue;
        }
        let at = |key: &str| {
            stanza
                .values
                .get(key)
                .map(|(_, l)| *l)
                .unwrap_or(stanza.line)
        };
        let problem = |line: usize, message: String| {
            Diagnostic::error(format!(
                "splunk: generated/splunk/{}/default/savedsearches.conf:{line}: [{name}] {message}",
                app_dir.display()
            ))
        };
        match stanza.get("search") {
            None => out.push(problem(stanza.line, "has no search".to_owned())),
            Some(search) => {
                for p in spl_check::check(search, &definitions) {
                    out.push(problem(at("search"), p));
                }
            }
        }
        for p in super::es::check_stanza(
            stanza
                .values
                .iter()
                .map(|(k, (v, _))| (k.as_str(), v.as_str())),
        ) {
            out.push(problem(stanza.line, p));
        }
        if stanza.get("enableSched") == Some("1") {
            if stanza.get("cron_schedule").is_none() {
                out.push(problem(
                    stanza.line,
                    "is scheduled but has no cron_schedule".to_owned(),
                ));
            }
            match stanza.get("dispatch.earliest_time") {
                None => out.push(problem(
                    stanza.line,
                    "is scheduled but has no dispatch.earliest_time".to_owned(),
                )),
                Some(t) if t.starts_with("rt") => out.push(problem(
                    at("dispatch.earliest_time"),
                    "is a real-time search".to_owned(),
                )),
                _ => {}
            }
        }
    }
    // A [default] stanza in an app's savedsearches.conf applies to every app unless the app
    // stops exporting it.
    if saved.stanzas.contains_key("default")
        && meta
            .stanzas
            .get("savedsearches/default")
            .and_then(|s| s.get("export"))
            != Some("none")
    {
        out.push(Diagnostic::error("splunk: savedsearches.conf has a [default] stanza that default.meta does not keep inside the app (export = none)"));
    }
    for (name, _) in macros_conf.stanzas.iter().filter(|(n, _)| !n.is_empty()) {
        if let Some(definition) = macros_conf.stanzas[name].get("definition") {
            for p in spl_check::check(definition, &definitions)
                .into_iter()
                .filter(|p| !p.starts_with("unknown command"))
            {
                out.push(Diagnostic::error(format!("splunk: macro [{name}]: {p}")));
            }
        }
    }
    let package_id = app.stanzas.get("package").and_then(|s| s.get("id"));
    let id_name = app.stanzas.get("id").and_then(|s| s.get("name"));
    if package_id.is_none() || package_id != id_name || package_id != app_dir.to_str() {
        out.push(Diagnostic::error(format!(
            "splunk: app.conf [package] id ({}) and [id] name ({}) must both equal the app folder {}",
            package_id.unwrap_or("missing"),
            id_name.unwrap_or("missing"),
            app_dir.display()
        )));
    }
    if app
        .stanzas
        .get("launcher")
        .and_then(|s| s.get("version"))
        .is_none()
    {
        out.push(Diagnostic::error(
            "splunk: app.conf has no [launcher] version",
        ));
    }
    out
}
