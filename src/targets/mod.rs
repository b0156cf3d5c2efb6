//! Targets: the SIEM content rulecast writes, one module per target.
//!
//! A target turns the validated catalogue into files under `generated/<target>/`, through its
//! Tera templates, and records per detection the canonical text that represents the detection
//! in that target (its rule file, or its stanza of a shared file). Those fragments are what the
//! version lock hashes, so a detection's version moves only when its output does.
//!
//! A deprecated detection is never dropped from a full pack: deployments that had it must
//! receive the update that switches it off. Every target gets the deprecation date, reason and
//! replacement appended to the description, and:
//!
//! * Sentinel: name prefixed `[Deprecated] `, template `status: Deprecated`, ARM `enabled: false`;
//! * Splunk: `disabled = 1` (like every search) and `enableSched = 0`, which still applies where
//!   an admin enabled the search (Splunk Web writes only `disabled = 0` to local/);
//! * Sigma: `status: deprecated`;
//! * Azure Monitor: display name prefixed `[Deprecated] `, `enabled: false`.
//!
//! A target is a plug-in: it owns its templates, its sections of the log-source files and of
//! `rulecast.yaml`, its checks, its release file and its conformance hooks, all through the
//! [`Target`] trait. Adding one is its module, its templates, and its registration here: its
//! `mod` line and its entry in [`BUILTIN`] (or, from a program embedding rulecast,
//! [`Targets::with`]); see docs/architecture.md for the recipe.

pub mod conformance;
pub mod package;
pub mod registry;
pub mod section;

pub(crate) mod alert_text;
pub(crate) mod json_layout;
pub(crate) mod stream;

// The built-in targets: a module each, and an entry in BUILTIN.
pub(crate) mod azure_monitor;
pub(crate) mod sentinel;
pub(crate) mod sigma;
pub(crate) mod splunk;

/// rulecast's own targets, in output order.
pub const BUILTIN: &[&dyn Target] = &[
    &sentinel::Sentinel,
    &splunk::Splunk,
    &sigma::Sigma,
    &azure_monitor::AzureMonitor,
];

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::render::Templates;
use crate::schedule::RunModel;
use crate::yaml::pointer_segment;

pub use conformance::{Checker, Conformance};
pub use package::{PackageContext, PackageError, ReleaseFile};
pub use registry::Targets;
pub use section::Section;
pub use stream::FileCheck;

/// Everything a target needs to render.
pub struct RenderContext<'a> {
    pub catalogue: &'a Catalogue,
    pub templates: &'a Templates,
    /// What each detection is stamped with (the lock hashes output rendered with a neutral stamp
    /// so the hash does not depend on the version itself).
    pub stamps: &'a (dyn Fn(&Detection) -> Stamp + Sync),
    /// Content-pack version stamped on pack-level artifacts (app version, combined templates).
    pub pack_version: &'a str,
    /// How many threads [`RenderContext::each_detection`] renders on.
    pub threads: usize,
    /// Where `build` sends the files as they are rendered ([`RenderContext::artifacts`]);
    /// `None` when they are collected in the artifacts.
    pub(crate) output: Option<stream::Output<'a>>,
    /// The threads detections render on: a pool of `threads` threads, or `None` for the
    /// process's pool (one thread per core), which loading uses too.
    pub(crate) pool: Option<&'a rayon::ThreadPool>,
    /// What several targets render from the same detection, made once for all of them.
    pub(crate) shared: &'a Shared,
}

/// What several targets render from the same detection, made by whichever needs it first
/// and then shared: the target-independent stages of its KQL query, which Sentinel and Azure
/// Monitor both compile ([`RenderContext::kql_parts`]). One slot per detection of the
/// catalogue, in its order.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    kql: Vec<std::sync::OnceLock<crate::lang::kql::Parts>>,
}

impl Shared {
    pub(crate) fn new(catalogue: &Catalogue) -> Shared {
        Shared {
            kql: catalogue
                .detections
                .iter()
                .map(|_| std::sync::OnceLock::new())
                .collect(),
        }
    }
}

/// How many detections per thread are rendered before the results are added: two batches of
/// results per target (one being added, the next being rendered) are all that is held at once,
/// and a batch is large enough that handing it to the pool costs little.
const BATCH_PER_THREAD: usize = 64;

impl<'a> RenderContext<'a> {
    /// The target-independent stages of `detection`'s KQL query, made once per build.
    pub(crate) fn kql_parts(
        &self,
        detection: &Detection,
    ) -> std::borrow::Cow<'_, crate::lang::kql::Parts> {
        let make = || crate::lang::kql::Parts::of(self.catalogue, detection);
        // The detection's slot is at its place in the catalogue, found from its address (a
        // detection from anywhere else has no slot).
        let detections = &self.catalogue.detections;
        let offset =
            (std::ptr::from_ref(detection) as usize).wrapping_sub(detections.as_ptr() as usize);
        let index = offset / std::mem::size_of::<Detection>().max(1);
        match self.shared.kql.get(index) {
            Some(slot) if std::ptr::eq(std::ptr::from_ref(&detections[index]), detection) => {
                std::borrow::Cow::Borrowed(slot.get_or_init(make))
            }
            _ => std::borrow::Cow::Owned(make()),
        }
    }

    /// The artifacts a target renders into: in `build`, each file is checked and handed on as
    /// it is added, and not kept.
    pub fn artifacts(&self) -> Artifacts<'a> {
        Artifacts {
            stream: self.output.map(stream::Stream::new),
            ..Artifacts::default()
        }
    }

    /// `render` of every detection, in catalogue order, run on `threads` threads. A target
    /// renders its detections through it and then adds the results to its artifacts in that
    /// order, so its output is the same whatever the number of threads.
    pub fn each_detection<'c, R: Send>(
        &'c self,
        render: impl Fn(&'c Detection) -> R + Sync,
    ) -> Vec<R> {
        let mut all = Vec::with_capacity(self.catalogue.detections.len());
        self.each_detection_into(render, |r| all.push(r));
        all
    }

    /// [`RenderContext::each_detection`], each result handed to `add` in catalogue order, a
    /// batch at a time, on the calling thread.
    ///
    /// While `add` takes one batch (checks, digests and writes, which only this thread may do,
    /// in order), the pool renders the next, so the cores do not wait for the target's thread;
    /// the pool's threads, shared by every target, take whichever target's detections are
    /// waiting, so the targets finish together. At most two batches of results are held.
    pub fn each_detection_into<'c, R: Send>(
        &'c self,
        render: impl Fn(&'c Detection) -> R + Sync,
        mut add: impl FnMut(R),
    ) {
        use rayon::prelude::*;
        let detections: Vec<&'c Detection> = detections(self.catalogue).collect();
        let mut batches = detections.chunks(self.threads.max(1) * BATCH_PER_THREAD);
        let render = &render;
        let mut rendered: Vec<R> = Vec::new();
        loop {
            let added = std::mem::take(&mut rendered);
            let next = batches.next();
            let mut next_rendered = None;
            self.in_place_scope(|scope| {
                if let Some(batch) = next {
                    let into = &mut next_rendered;
                    scope.spawn(move |_| {
                        *into = Some(batch.par_iter().map(|d| render(d)).collect::<Vec<R>>());
                    });
                }
                added.into_iter().for_each(&mut add);
            });
            match next_rendered {
                Some(batch) => rendered = batch,
                None => break,
            }
        }
    }

    /// A rayon scope on the calling thread whose spawned work runs on the render pool.
    fn in_place_scope<'s>(&self, op: impl FnOnce(&rayon::Scope<'s>)) {
        match self.pool {
            Some(pool) => pool.in_place_scope(op),
            None => rayon::in_place_scope(op),
        }
    }
}

/// The facts about a detection that its artifacts carry but its logic does not decide: the
/// version (in the detection file) and the date of the last content change (in the lock). They
/// are passed separately so the lock can hash the output without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: u32,
    /// YYYY-MM-DD.
    pub modified: String,
}

/// What a target produced. Made by [`RenderContext::artifacts`], its files are checked and
/// written as they are added (`build`); made with `default()`, they are kept in `files`.
#[derive(Debug, Default)]
pub struct Artifacts<'a> {
    /// Path relative to the target's folder -> content, of the files not handed on as they
    /// were added.
    pub files: BTreeMap<PathBuf, String>,
    /// Detection id -> canonical text of the detection in this target (or see
    /// [`Artifacts::add_fragment`], which keeps only its digest).
    pub fragments: BTreeMap<String, String>,
    /// Detection id -> SHA-256 (hex) of its canonical text, from [`Artifacts::add_fragment`].
    pub(crate) digests: BTreeMap<String, String>,
    /// What the target could not express, per detection, as warnings.
    pub warnings: Diagnostics,
    /// The detection file each per-detection file was rendered from.
    owners: std::collections::HashMap<PathBuf, PathBuf>,
    /// How a check's finding names a piece of output rendered from one detection (a file by
    /// its path below the target folder, a stanza as `[name]`), and that detection's file.
    sources: Vec<(String, PathBuf)>,
    /// Files two detections would both be written to: one would be lost.
    collisions: Diagnostics,
    /// Files rendered by built-in templates from values the target checked as it rendered
    /// them ([`Artifacts::checked_in_render`]), with the rule ids they declare: `build` does not
    /// read them back through [`Target::check`]; `rulecast verify` still does.
    pub(crate) checked: std::collections::HashMap<PathBuf, Vec<String>>,
    /// What the target's checks of typed values found ([`Artifacts::finding`]).
    found: Diagnostics,
    /// Where the files go as they are added, in `build`.
    pub(crate) stream: Option<stream::Stream<'a>>,
}

impl Artifacts<'_> {
    /// Records the canonical text of detection `id` in this target, given as the pieces it is
    /// made of, in order. Only its digest is kept: the text is as large as the output.
    pub fn add_fragment(&mut self, id: &str, pieces: &[&str]) {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for piece in pieces {
            hasher.update(piece.as_bytes());
        }
        self.digests
            .insert(id.to_owned(), crate::build::hex(&hasher.finalize()));
    }

    pub fn add_file(&mut self, path: impl Into<PathBuf>, content: String) {
        let path = path.into();
        match &mut self.stream {
            Some(stream) => {
                let checked = self.checked.remove(&path);
                stream.add(path, content, checked);
            }
            None => {
                self.files.insert(path, content);
            }
        }
    }

    /// Adds a file rendered from `detection` alone; a second detection rendering to the same
    /// path is a collision, reported naming both detection files, never an overwrite.
    pub fn add_detection_file(
        &mut self,
        target: &str,
        detection: &Detection,
        path: impl Into<PathBuf>,
        content: String,
    ) {
        let path = path.into();
        if let Some(first) = self.owners.get(&path) {
            self.collisions.push(
                Diagnostic::error(format!(
                    "{target}: this detection and {} both render to {target}/{}",
                    crate::diagnostic::display_path(first),
                    crate::diagnostic::display_path(&path)
                ))
                .in_file(&detection.document.path)
                .with_help("rename one of the two detection files"),
            );
            return;
        }
        self.owners
            .insert(path.clone(), detection.document.path.clone());
        // However a check shows the file (`generated/<target>/<path>`, `<target>/<path>` or the
        // path alone), its message holds the path below the target folder.
        self.rendered_from(crate::diagnostic::display_path(&path), detection);
        self.add_file(path, content);
    }

    /// Records that the file at `path`, added next, needs no reading back in `build`: a
    /// built-in template (see [`Templates::is_builtin`]) rendered it from typed values, through
    /// the encoding filters, and what [`Target::check`] would find in its text was checked on
    /// those values ([`Artifacts::finding`] reports what that found). `ids` are the rule ids
    /// the file declares, which whole-tree checks still need. A file rendered by a user's
    /// override must always be read back.
    pub fn checked_in_render(&mut self, path: impl Into<PathBuf>, ids: Vec<String>) {
        self.checked.insert(path.into(), ids);
    }

    /// Reports what a check of typed values found in a file checked in render; it is pointed
    /// at the detection, as a finding of [`Target::check`] would be.
    pub fn finding(&mut self, finding: Diagnostic) {
        self.found.push(finding);
    }

    /// Records that the piece of output a check's finding names `name` (say a stanza,
    /// `[name]`, of a file that holds every detection) was rendered from `detection`.
    pub fn rendered_from(&mut self, name: impl Into<String>, detection: &Detection) {
        self.sources
            .push((name.into(), detection.document.path.clone()));
    }

    /// The collisions, then the findings of the target's check on these files, each pointed at
    /// the detection it is about.
    pub(crate) fn findings(&mut self, checked: Diagnostics) -> Diagnostics {
        let mut findings = std::mem::take(&mut self.collisions);
        let found = std::mem::take(&mut self.found);
        for finding in found.into_iter().chain(checked) {
            findings.push(self.blame(finding));
        }
        findings
    }

    /// Points a check's finding about one detection's output at that detection's file, which
    /// is where it has to be fixed; the message still names the generated file.
    fn blame(&self, finding: Diagnostic) -> Diagnostic {
        if finding.file().is_some() {
            return finding;
        }
        let source = self
            .sources
            .iter()
            .filter(|(name, _)| finding.message().contains(name.as_str()))
            .max_by_key(|(name, _)| name.len());
        match source {
            Some((_, file)) => finding
                .in_file(file)
                .with_help("the generated file is rendered from this detection and the templates: fix the cause there, never in the generated file"),
            None => finding,
        }
    }

    /// Records that `detection` cannot be fully expressed in `target`.
    pub fn limitation(&mut self, target: &str, detection: &Detection, what: &str) {
        self.warnings.push(
            Diagnostic::warning(format!("{target}: `{}` {what}", detection.slug))
                .in_file(&detection.document.path),
        );
    }
}

/// The tiers of `detection` that raise its alerts' severity, as a target's note names them
/// (`` `privileged` (high)``); `None` when no tier does.
pub(crate) fn raised_tiers(detection: &Detection) -> Option<String> {
    let tiers: Vec<String> = detection
        .meta
        .tier_severities()
        .iter()
        .map(|(tier, severity)| format!("`{}` ({})", tier.name, severity.as_str()))
        .collect();
    (!tiers.is_empty()).then(|| tiers.join(", "))
}

/// A content target.
///
/// Only [`name`](Target::name), [`description`](Target::description) and
/// [`render`](Target::render) are required; every other method has a default that
/// contributes nothing (no templates, no sections, no checks, a zip of the whole output as the
/// release file, no conformance hooks).
pub trait Target: Sync {
    /// Folder name under `generated/`, key of its `targets:` sections, and the name users
    /// select it by: lower-case letters, digits and `-`.
    fn name(&self) -> &'static str;
    /// One-line description for `rulecast targets` and the release manifest.
    fn description(&self) -> &'static str;

    /// The templates the target renders with, embedded in the binary: (name, source). Names
    /// start with `<name>/`; `--templates DIR` overrides them by name.
    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The target's entry under `targets:` of every log-source file (how it reaches the data).
    fn logsource_section(&self) -> Option<Section> {
        None
    }

    /// The target's entry under `targets:` of `rulecast.yaml` (its settings).
    fn config_section(&self) -> Option<Section> {
        None
    }

    /// The target's entry under `targets:` of a detection file (the detection's own settings
    /// in this target). It must be optional: a detection says nothing about most targets.
    fn detection_section(&self) -> Option<Section> {
        None
    }

    /// Checks of the catalogue only this target needs (its sections against the rest of the
    /// catalogue), located in the files. Run when the catalogue loads; an error stops it.
    fn validate(&self, catalogue: &Catalogue, out: &mut Diagnostics) {
        let _ = (catalogue, out);
    }

    /// Where the target reads catalogue lists from outside the query text (a Sentinel
    /// watchlist, a Splunk lookup), if it can: the lists its section binds. A target without
    /// one compiles every list's inline values into its queries. The loader checks the stores
    /// together ([`check_list_stores`]).
    fn list_store<'c>(&self, catalogue: &'c Catalogue) -> Option<ListStore<'c>> {
        let _ = catalogue;
        None
    }

    /// Renders the catalogue into artifacts made by [`RenderContext::artifacts`].
    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics>;

    /// Checks rendered files (paths relative to the target folder) the way the target's
    /// platform would read them. It needs nothing but the files, so it also verifies a tree on
    /// disk (`rulecast verify`). `build` refuses to write, and `check` fails, on any finding.
    fn check(&self, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        let _ = files;
        Diagnostics::new()
    }

    /// The same check, one file at a time, so `build` can check each file as it is rendered
    /// and hand it on instead of holding the target's whole output. `None` (the default): the
    /// check needs the whole tree, and `build` holds the files it reads back until the end.
    fn file_check(&self) -> Option<Box<dyn FileCheck + '_>> {
        None
    }

    /// The release file of the target's output (`rulecast release`).
    fn package(&self, context: &PackageContext) -> Result<ReleaseFile, PackageError> {
        package::zip_all(self.name(), context)
    }

    /// Which conformance checkers judge which of its files (`rulecast targets --format json`).
    fn conformance(&self) -> &'static [Conformance] {
        &[]
    }

    /// How its deployed rule for `detection` runs: its cadence, what each run reads and
    /// reports, how the platform folds repeats. The target renders its files from this model
    /// and `rulecast scan --schedule <name>` replays it. `None` (the default) for a target
    /// whose rules their consumer schedules (Sigma).
    fn run_model(&self, catalogue: &Catalogue, detection: &Detection) -> Option<RunModel> {
        let _ = (catalogue, detection);
        None
    }
}

/// The lists a target reads from a store of its platform ([`Target::list_store`]).
pub struct ListStore<'c> {
    /// Where its entries are in rulecast.yaml, e.g. `targets.splunk.lookups`.
    pub key: &'static str,
    /// What one entry is, e.g. `Splunk lookup`.
    pub what: &'static str,
    /// An entry as the help shows it, e.g. `{ name: my_lookup, field: account }`.
    pub example: &'static str,
    /// The lists it binds, as written under `key`, each with the store's column that holds the
    /// list's values.
    pub lists: Vec<(&'c str, &'c str)>,
    /// The key of an entry that names that column, e.g. `field`.
    pub column_key: &'static str,
}

impl ListStore<'_> {
    fn binds(&self, list: &str) -> bool {
        self.lists.iter().any(|(name, _)| *name == list)
    }
}

/// Checks the targets' list stores together. A list is either bound in every store (the SOC
/// maintains it in each platform: a watchlist and a lookup) or in none (its inline values are
/// compiled into every query, as for constants such as role template ids). A list bound in some
/// stores only is refused: its edits would reach one platform and not the other, and it is
/// almost always a forgotten entry. An entry must name a list, and a list matched in part
/// (`contains|expand`) must be in no store, since a watchlist or lookup matches whole values.
pub(crate) fn check_list_stores(catalogue: &Catalogue, targets: &Targets, out: &mut Diagnostics) {
    let stores: Vec<ListStore> = targets
        .iter()
        .filter_map(|t| t.list_store(catalogue))
        .collect();
    let doc = catalogue.config_document();
    let lists = &catalogue.config.lists;
    for store in &stores {
        let entry =
            |name: &str| format!("/{}/{}", store.key.replace('.', "/"), pointer_segment(name));
        for (name, column) in &store.lists {
            let Some(list) = lists.get(*name) else {
                continue;
            };
            // The names of a list's values are written beside them, in a column of their own.
            if *column == crate::lang::LIST_NAME_COLUMN
                && list.inline.iter().any(|v| v.name().is_some())
            {
                out.push(
                    doc.error_at(
                        &format!("{}/{}", entry(name), store.column_key),
                        format!("the {} of list `{name}` holds its values in the column `{column}`, where rulecast writes their names", store.what),
                    )
                    .with_help(format!("give the values another column, e.g. {}: value", store.column_key)),
                );
            }
        }
        for (name, _) in store
            .lists
            .iter()
            .filter(|(name, _)| !lists.contains_key(*name))
        {
            let help = did_you_mean(name, lists.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "the entries of {} are named after the lists under `lists:`",
                        store.key
                    )
                });
            out.push(
                doc.error_at_key(
                    &entry(name),
                    format!("`{name}` is not a list of the catalogue"),
                )
                .with_help(help),
            );
        }
    }
    let in_stores =
        |list: &str| -> Vec<&ListStore> { stores.iter().filter(|s| s.binds(list)).collect() };
    for name in lists.keys() {
        let bound = in_stores(name);
        if bound.is_empty() {
            continue;
        }
        for missing in stores.iter().filter(|s| !s.binds(name)) {
            let has: Vec<&str> = bound.iter().map(|s| s.what).collect();
            out.push(
                doc.error_at_key(
                    &format!("/lists/{}", pointer_segment(name)),
                    format!("list `{name}` has a {} but no {}", has.join(" and a "), missing.what),
                )
                .with_help(format!(
                    "add it under {}, e.g. {name}: {}; or remove its {} so every target compiles its values into the query",
                    missing.key,
                    missing.example,
                    bound.iter().map(|s| format!("entry under {}", s.key)).collect::<Vec<_>>().join(" and ")
                )),
            );
        }
    }
    let part_of_stored_list = |m: &crate::logic::FieldMatch,
                               document: &crate::yaml::Document,
                               out: &mut Diagnostics| {
        for matcher in &m.matchers {
            let crate::logic::Matcher::InList { list, position } = matcher else {
                continue;
            };
            let base = crate::logic::list_reference(list).0;
            let bound = in_stores(base);
            if *position == crate::logic::ListPosition::Whole || bound.is_empty() {
                continue;
            }
            let what: Vec<&str> = bound.iter().map(|s| s.what).collect();
            let keys: Vec<&str> = bound.iter().map(|s| s.key).collect();
            out.push(
                document.error_at_key(
                    &m.pointer,
                    format!(
                        "list `{base}` is read from a {}, which can only match whole values",
                        what.join(" and a ")
                    ),
                )
                .with_help(format!(
                    "match the whole value (`{}|expand`), or remove `{base}` from {} so every target inlines its values",
                    m.field,
                    keys.join(" and ")
                )),
            );
        }
    };
    for detection in &catalogue.detections {
        // An exclusion of rulecast.yaml is checked once, in that file, below.
        let of_catalogue = |name: &str| {
            detection.exclusions.iter().any(|e| {
                e.selection == name
                    && matches!(e.origin, crate::catalogue::exclusion::Origin::Catalogue(_))
            })
        };
        for selection in detection
            .selections
            .iter()
            .filter(|s| !of_catalogue(&s.name))
        {
            for m in selection.fields() {
                part_of_stored_list(m, &detection.document, out);
            }
        }
    }
    for (i, e) in catalogue.config.exclusions.iter().enumerate() {
        let pointer = crate::catalogue::exclusion::Origin::Catalogue(i).pointer();
        if let Ok(m) = e.exclusion.field_match(&pointer) {
            part_of_stored_list(&m, doc, out);
        }
    }
}

/// A catalogue list as a CSV file (a Splunk lookup, a Sentinel watchlist): a value column of
/// lower-cased values, and a `name` column when the list names its values.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListFile {
    pub field: String,
    pub named: bool,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListRow {
    pub value: String,
    pub name: String,
}

impl ListFile {
    pub(crate) fn new(catalogue: &Catalogue, list: &str, field: &str) -> ListFile {
        let entries = crate::lang::list_entries(catalogue, list);
        ListFile {
            field: field.to_owned(),
            named: entries.iter().any(|(_, n)| n.is_some()),
            rows: entries
                .into_iter()
                .map(|(value, name)| ListRow {
                    value,
                    name: name.unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// The context template `name` renders with, from the view `context`.
pub(crate) fn template_context<T: Serialize>(
    name: &str,
    context: &T,
) -> Result<tera::Context, Diagnostic> {
    tera::Context::from_serialize(context)
        .map_err(|e| Diagnostic::error(format!("cannot build the context of `{name}`: {e}")))
}

/// Renders a template, attaching the detection to any error.
pub fn render_template<T: Serialize>(
    templates: &Templates,
    name: &str,
    context: &T,
    detection: Option<&Detection>,
) -> Result<String, Diagnostic> {
    render_in_context(
        templates,
        name,
        &template_context(name, context)?,
        detection,
    )
}

/// [`render_template`] with the context already built, for templates that render from one
/// view (it is built once).
pub(crate) fn render_in_context(
    templates: &Templates,
    name: &str,
    context: &tera::Context,
    detection: Option<&Detection>,
) -> Result<String, Diagnostic> {
    templates
        .render(name, context)
        .map_err(|d| match detection {
            // A problem the rendered-file check found is the template's (an override that
            // undoes an encoding filter): it stays at the template, which is what to fix.
            Some(det) if d.file().is_some() => {
                d.map_message(|m| format!("{m} (rendering `{}`)", det.slug))
            }
            Some(det) => d
                .map_message(|m| format!("{m} (rendering `{}`)", det.slug))
                .in_file(&det.document.path),
            None => d,
        })
}

/// Parses rendered JSON. A broken template override fails the build here instead of shipping
/// an undeployable file.
pub fn parse_json(path: &str, text: &str) -> Result<serde_json::Value, Diagnostic> {
    serde_json::from_str(text)
        .map_err(|e| Diagnostic::error(format!("template produced invalid JSON for {path}: {e}")))
}

/// JSON in one canonical layout: two-space indent, keys in template order, final newline.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("a parsed value serialises");
    out.push('\n');
    out
}

/// The `resources` list's items of a per-detection ARM template in the canonical layout
/// ([`pretty`]), as a combined template holds them: indented for its top-level list, joined by
/// `,` lines. They are read off the file's own text (the pretty printer puts the top-level
/// list's items between `\n  "resources": [\n` and the next `\n  ]`, and no JSON string holds a
/// raw line break), so nothing is serialised twice; a text in any other layout is parsed.
fn arm_resources_in(text: &str) -> std::borrow::Cow<'_, str> {
    const OPEN: &str = "\n  \"resources\": [\n";
    if let Some(start) = text.find(OPEN).map(|at| at + OPEN.len())
        && let Some(length) = text[start..].find("\n  ]")
    {
        return std::borrow::Cow::Borrowed(&text[start..start + length]);
    }
    let parsed: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let mut out = String::new();
    for (i, resource) in parsed
        .get("resources")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if i > 0 {
            out.push_str(",\n");
        }
        let text = serde_json::to_string_pretty(resource).expect("a parsed value serialises");
        for (j, line) in text.split('\n').enumerate() {
            if j > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(line);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A combined ARM template (`azuredeploy.json` of the target) being built as the
/// per-detection templates are rendered: the rendered skeleton (parameters, metadata, an empty
/// `resources` list) with the resources of every per-detection template appended, in order.
/// Resources come from the already rendered per-detection templates, so the combined file
/// deploys exactly what the single files do and nothing is rendered twice. They are spliced in
/// as text, which gives exactly the canonical layout of the whole template, and in `build` they
/// are written as they come: neither thousands of parsed resources nor a second copy of their
/// text is held.
pub(crate) struct CombinedArm<'a> {
    /// The skeleton in the canonical layout, and where its empty `resources` list is.
    skeleton: String,
    at: usize,
    file: PieceFile<'a>,
    any: bool,
    /// The rule ids of the resources spliced in.
    ids: Vec<String>,
}

/// A file of a target written piece by piece as it is rendered: to the sink in `build`, else
/// kept until [`PieceFile::finish`] adds it. It is checked in render: the target checks what
/// goes into it.
pub(crate) struct PieceFile<'a> {
    path: PathBuf,
    pieces: Option<Box<dyn stream::Pieces + 'a>>,
    text: String,
}

impl<'a> PieceFile<'a> {
    pub(crate) fn open(artifacts: &mut Artifacts<'a>, path: impl Into<PathBuf>) -> PieceFile<'a> {
        let path = path.into();
        let pieces = artifacts.stream.as_mut().and_then(|s| s.open(&path));
        PieceFile {
            path,
            pieces,
            text: String::new(),
        }
    }

    pub(crate) fn push(&mut self, artifacts: &mut Artifacts, piece: &str) {
        let Some(pieces) = &mut self.pieces else {
            if artifacts.stream.is_none() {
                self.text.push_str(piece);
            }
            return;
        };
        if let Err(e) = pieces.push(piece) {
            self.pieces = None;
            if let Some(stream) = &mut artifacts.stream {
                stream.failed_write(e);
            }
        }
    }

    /// Completes the file, which declares the rule ids `ids`.
    pub(crate) fn finish(mut self, artifacts: &mut Artifacts, ids: Vec<String>) {
        if let Some(stream) = &mut artifacts.stream {
            stream.checked(&self.path, &ids);
            if let Some(pieces) = self.pieces.take()
                && let Err(e) = pieces.close()
            {
                stream.failed_write(e);
            }
        } else {
            artifacts.checked_in_render(self.path.clone(), ids);
            artifacts.add_file(self.path, self.text);
        }
    }
}

/// The combined template's file, in every target that writes one.
pub(crate) const COMBINED_ARM: &str = "azuredeploy.json";

/// How the skeleton's empty `resources` list is written in the canonical layout.
const EMPTY_RESOURCES: &str = "\n  \"resources\": []";

impl<'a> CombinedArm<'a> {
    /// Renders the skeleton with `template`, before the per-detection templates.
    pub(crate) fn start(
        artifacts: &mut Artifacts<'a>,
        templates: &Templates,
        template: &str,
        pack_version: &str,
        api_version: &str,
    ) -> Result<CombinedArm<'a>, Diagnostic> {
        #[derive(Serialize)]
        struct CombinedView<'a> {
            api_version: &'a str,
            content_version: String,
        }
        let view = CombinedView {
            api_version,
            content_version: content_version(pack_version),
        };
        let rendered = render_template(templates, template, &view, None)?;
        let parsed = parse_json(COMBINED_ARM, &rendered)?;
        if parsed
            .get("resources")
            .and_then(serde_json::Value::as_array)
            .is_none_or(|r| !r.is_empty())
        {
            return Err(Diagnostic::error(format!(
                "the template of {COMBINED_ARM} must have an empty top-level `resources` list"
            )));
        }
        let skeleton = pretty(&parsed);
        let at = skeleton.find(EMPTY_RESOURCES).ok_or_else(|| {
            Diagnostic::error(format!(
                "the template of {COMBINED_ARM} must have a top-level `resources` list"
            ))
        })?;
        if let Some(stream) = &mut artifacts.stream {
            // The combined template is the skeleton's, with the resources it declares added.
            stream.read_back(std::path::Path::new(COMBINED_ARM), &skeleton);
        }
        Ok(CombinedArm {
            skeleton,
            at,
            file: PieceFile::open(artifacts, COMBINED_ARM),
            any: false,
            ids: Vec::new(),
        })
    }

    /// Appends the resources of the per-detection template `single` (its text in the
    /// canonical layout), which deploys the rule `id`.
    pub(crate) fn push(&mut self, artifacts: &mut Artifacts, single: &str, id: &str) {
        let resources = arm_resources_in(single);
        if resources.is_empty() {
            return;
        }
        self.ids.push(id.to_owned());
        if self.any {
            self.file.push(artifacts, ",\n");
        } else {
            self.file.push(artifacts, &self.skeleton[..self.at]);
            self.file.push(artifacts, "\n  \"resources\": [\n");
            self.any = true;
        }
        self.file.push(artifacts, &resources);
    }

    /// Completes the file and adds it to `artifacts`.
    pub(crate) fn finish(mut self, artifacts: &mut Artifacts) {
        if self.any {
            self.file.push(artifacts, "\n  ]");
            self.file
                .push(artifacts, &self.skeleton[self.at + EMPTY_RESOURCES.len()..]);
        } else {
            self.file.push(artifacts, &self.skeleton);
        }
        self.file.finish(artifacts, self.ids);
    }
}

/// ARM `contentVersion` of pack-level templates (four numeric parts).
pub(crate) fn content_version(pack_version: &str) -> String {
    let mut parts: Vec<&str> = pack_version.split(['.', '-', '+']).take(4).collect();
    while parts.len() < 4 {
        parts.push("0");
    }
    if parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        parts.join(".")
    } else {
        "1.0.0.0".to_owned()
    }
}

/// Checks that rendered YAML parses (every document of a multi-document file).
pub(crate) fn ensure_yaml(path: &str, text: &str) -> Result<(), Diagnostic> {
    crate::yaml::parse_documents(text)
        .map(|_| ())
        .map_err(|e| Diagnostic::error(format!("template produced invalid YAML for {path}: {e}")))
}

/// The `X.Y.Z` form of a detection version (Sentinel requires three parts).
pub(crate) fn semver(version: u32) -> String {
    format!("{version}.0.0")
}

/// Detections in output order.
pub(crate) fn detections(catalogue: &Catalogue) -> impl Iterator<Item = &Detection> {
    catalogue.detections.iter()
}

/// The detection facts every template may show, already in display form.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionView {
    pub id: String,
    pub slug: String,
    pub section: String,
    pub title: String,
    /// The description, followed by target-specific notes (limitations, deprecation).
    pub description: String,
    pub status: &'static str,
    pub severity: &'static str,
    pub risk: &'static str,
    pub version: u32,
    pub semver: String,
    pub guide_rows: Vec<String>,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub author: String,
    pub date: String,
    pub modified: String,
    /// The content changed after the detection was written (Sigma shows `modified` only then).
    pub modified_later: bool,
    pub references: Vec<String>,
    pub false_positives: Vec<String>,
    pub deprecated: bool,
    pub deprecation_reason: String,
    pub replaced_by: String,
    /// The fields that name the alert's entities, in slot order, with their identifiers.
    pub entities: Vec<EntityView>,
    /// The fields a threshold groups by (empty for a single-event detection).
    pub group_by: Vec<String>,
    /// The threshold's tiers.
    pub tiers: Vec<TierView>,
    /// The findings the alert labels: selection name and label.
    pub findings: Vec<FindingView>,
    /// How often the rule runs and how much each run reads (e.g. `1h`, `2h`).
    pub schedule: ScheduleView,
}

/// An entity of a detection, for templates: `slot` (actor, target_user, role, ip, resource),
/// the `field` that names it, and the fields that identify it (`identifies:` of its log
/// source), each with what it is (`user/upn`, `user/object_id`, `group/object_id`, ...).
#[derive(Debug, Clone, Serialize)]
pub struct EntityView {
    pub slot: &'static str,
    pub field: String,
    pub identifiers: Vec<IdentifierView>,
}

/// One identifier field of an entity.
#[derive(Debug, Clone, Serialize)]
pub struct IdentifierView {
    pub of: &'static str,
    pub field: String,
}

/// A threshold tier, for templates.
#[derive(Debug, Clone, Serialize)]
pub struct TierView {
    pub name: String,
    pub field: String,
    pub list: String,
    pub count: u32,
    /// The severity of the tier's alerts: its own, else the detection's.
    pub severity: &'static str,
}

/// A finding, for templates.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub selection: String,
    pub label: String,
}

/// A detection's schedule, for templates.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    pub frequency: String,
    pub ingestion_delay: String,
    /// The derived look-back: threshold window + frequency + ingestion delay.
    pub lookback: String,
}

impl DetectionView {
    pub fn new(
        catalogue: &Catalogue,
        detection: &Detection,
        stamp: &Stamp,
        notes: &[String],
    ) -> DetectionView {
        let version = stamp.version;
        let meta = &detection.meta;
        // Only the line break a YAML block scalar adds is dropped: other whitespace is the
        // author's, and a target that cannot hold it fails rather than trims it.
        let mut description = meta.description.trim_end_matches('\n').to_owned();
        let deprecation = meta.deprecation.as_ref();
        if let Some(dep) = deprecation {
            description.push_str(&format!(
                "\n\nDeprecated on {}: {}",
                dep.date,
                dep.reason.trim_end_matches('\n')
            ));
            if let Some(r) = &dep.replaced_by {
                description.push_str(&format!(" Replaced by {r}."));
            }
        }
        for note in notes {
            description.push_str("\n\n");
            description.push_str(note);
        }
        DetectionView {
            id: meta.id.clone(),
            slug: detection.slug.clone(),
            section: detection.section.clone(),
            title: if deprecation.is_some() {
                format!("[Deprecated] {}", meta.title)
            } else {
                meta.title.clone()
            },
            description,
            status: meta.status.as_str(),
            severity: meta.severity.as_str(),
            risk: meta.risk.as_str(),
            version,
            semver: semver(version),
            guide_rows: meta.guide_rows.clone(),
            tactics: meta.attack.tactics.clone(),
            techniques: meta.attack.techniques.clone(),
            author: meta.author.clone(),
            date: meta.date.clone(),
            modified_later: stamp.modified > meta.date,
            modified: stamp.modified.clone(),
            references: meta.references.clone(),
            false_positives: meta.false_positives.clone(),
            deprecated: deprecation.is_some(),
            deprecation_reason: deprecation.map(|d| d.reason.clone()).unwrap_or_default(),
            replaced_by: deprecation
                .and_then(|d| d.replaced_by.clone())
                .unwrap_or_default(),
            entities: meta
                .entities
                .slots()
                .into_iter()
                .filter_map(|(slot, field)| {
                    Some(EntityView {
                        slot,
                        field: field?.to_owned(),
                        identifiers: detection
                            .identities_of(slot)
                            .map(|i| i.fields())
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(of, field)| IdentifierView {
                                of,
                                field: field.to_owned(),
                            })
                            .collect(),
                    })
                })
                .collect(),
            group_by: meta
                .threshold
                .as_ref()
                .map(|t| t.group_by.clone())
                .unwrap_or_default(),
            tiers: meta
                .threshold
                .iter()
                .flat_map(|t| &t.tiers)
                .map(|t| TierView {
                    name: t.name.clone(),
                    field: t.field.clone(),
                    list: t.list.clone(),
                    count: t.count,
                    severity: meta.alert_severity(Some(&t.name)).as_str(),
                })
                .collect(),
            findings: meta
                .findings
                .iter()
                .map(|(selection, label)| FindingView {
                    selection: selection.clone(),
                    label: label.clone(),
                })
                .collect(),
            schedule: {
                let plan = crate::schedule::plan(catalogue, detection);
                ScheduleView {
                    frequency: plan.frequency.short(),
                    ingestion_delay: plan.ingestion_delay.short(),
                    lookback: plan.lookback.short(),
                }
            },
        }
    }
}

/// Sentinel's capitalised severity.
pub(crate) fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Diagnostic;
    use crate::lock::fingerprint::neutral_stamp;
    use crate::render::Templates;

    /// The entries of `privileged_accounts` in the minimal fixture's stores.
    const WATCHLIST: &str = "    watchlists:\n      privileged_accounts: { alias: PrivilegedAccounts, column: SearchKey }\n";
    const LOOKUP: &str = "    lookups:\n      privileged_accounts: { name: test_privileged_accounts, field: account }\n";

    #[test]
    fn a_list_in_no_store_is_compiled_into_every_query() {
        let (_dir, catalogue) = crate::test_support::catalogue(
            &[
                ("rulecast.yaml", WATCHLIST, "    create_incident: true\n"),
                ("rulecast.yaml", LOOKUP, ""),
            ],
            &[],
        );
        let templates = Templates::load(&catalogue.targets, None).unwrap();
        let rendered = crate::build::render(&catalogue, &templates, &neutral_stamp, "1.0.0")
            .unwrap_or_else(|d| panic!("{d}"));
        let file = |path: &str| rendered.tree[std::path::Path::new(path)].as_str();
        let kql = file("sentinel/rules/entra-roles/eligible-assignment-burst.yaml");
        assert!(
            kql.contains(
                r#"let _rc_list_privileged_accounts = dynamic(["admin@contoso.example"]);"#
            ),
            "{kql}"
        );
        assert!(!kql.contains("_GetWatchlist"), "{kql}");
        let spl = file("splunk/test_pack/default/savedsearches.conf");
        assert!(
            spl.contains(r#"| eval _rc_on_privileged_accounts=if(in(lower(Actor), "admin@contoso.example"), 1, null())"#),
            "{spl}"
        );
        assert!(!spl.contains("| lookup"), "{spl}");
        let written: Vec<&str> = rendered
            .tree
            .keys()
            .filter_map(|p| p.to_str())
            .filter(|p| p.contains("watchlists/") || p.contains("/lookups/"))
            .collect();
        assert!(
            written.is_empty(),
            "no watchlist or lookup file: {written:?}"
        );
    }

    #[test]
    fn each_detection_s_kql_parts_are_made_once_and_shared() {
        let dir = crate::test_support::minimal_fixture();
        let catalogue = crate::catalogue::Catalogue::load(dir.path()).unwrap();
        let templates = Templates::load(&catalogue.targets, None).unwrap();
        let shared = super::Shared::new(&catalogue);
        let context = super::RenderContext {
            catalogue: &catalogue,
            templates: &templates,
            stamps: &neutral_stamp,
            pack_version: "1.0.0",
            threads: 1,
            output: None,
            pool: None,
            shared: &shared,
        };
        assert!(catalogue.detections.len() > 1);
        for detection in &catalogue.detections {
            let first = context.kql_parts(detection);
            let again = context.kql_parts(detection);
            assert!(matches!(first, std::borrow::Cow::Borrowed(_)));
            assert!(
                std::ptr::eq(std::ptr::from_ref(&*first), std::ptr::from_ref(&*again)),
                "one slot per detection"
            );
            let alone = crate::lang::kql::Parts::of(&catalogue, detection);
            assert_eq!(format!("{first:?}"), format!("{alone:?}"));
        }
        // A detection that is not the catalogue's own (a copy) has no slot: its parts are
        // made for it.
        let copy = catalogue.detections[1].clone();
        assert!(matches!(
            context.kql_parts(&copy),
            std::borrow::Cow::Owned(_)
        ));
        let first = context.kql_parts(&catalogue.detections[0]);
        let second = context.kql_parts(&catalogue.detections[1]);
        assert!(!std::ptr::eq(
            std::ptr::from_ref(&*first),
            std::ptr::from_ref(&*second)
        ));
    }

    #[test]
    fn a_list_bound_in_one_store_only_is_refused() {
        let dir = crate::test_support::minimal_fixture();
        let path = dir.path().join("rulecast.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen(LOOKUP, "", 1)).unwrap();
        let errors = crate::catalogue::Catalogue::load(dir.path()).unwrap_err();
        let messages: Vec<&str> = errors.iter().map(Diagnostic::message).collect();
        assert_eq!(
            messages,
            ["list `privileged_accounts` has a Sentinel watchlist but no Splunk lookup"]
        );
    }
}
