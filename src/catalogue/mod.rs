//! The catalogue: everything under `detections/`, loaded and validated.
//!
//! Loading happens in stages, each collecting every problem it finds before the next runs:
//!
//! 1. parse each YAML file into a value whose source positions can be found ([`crate::yaml`]);
//! 2. check it against the format's JSON Schema ([`crate::schema`]): unknown keys, wrong types,
//!    missing keys, all at once and located;
//! 3. read it into the typed model with serde;
//! 4. check what a schema cannot: references between files, field names against the log
//!    source, the condition language, Sentinel's schedule limits, guide coverage
//!    ([`validate`]), and attach each `<slug>.tests.yaml` ([`test_file`]) to its detection.
//!
//! The result is a [`Catalogue`] every target can trust, or the full list of diagnostics.

pub(crate) mod attack;
pub mod config;
pub mod detection;
pub mod duration;
pub mod environment;
pub mod exclusion;
pub mod guide;
pub mod logsource;
pub mod sections;
pub mod shape;
pub mod test_file;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::logic::{Condition, Selection};
use crate::schema::{self, SchemaKind};
use crate::targets::{Section, Targets};
use crate::yaml::{self, Document};

pub use config::CatalogueConfig;
pub use detection::DetectionFile;
pub use guide::GuideFile;
pub use logsource::LogSourceFile;
pub(crate) use test_file::CaseSource;
pub use test_file::{LoadedTestFile, TestFile};

/// File names with a fixed role in the catalogue folder.
pub(crate) const CONFIG_FILE: &str = "rulecast.yaml";
pub(crate) const GUIDE_FILE: &str = "guide.yaml";
pub(crate) const LOGSOURCE_DIR: &str = "logsources";

/// A loaded, validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The targets it was validated for, and is rendered by.
    pub targets: Arc<Targets>,
    pub root: PathBuf,
    pub config: CatalogueConfig,
    pub guide: GuideFile,
    /// By id, in id order.
    pub logsources: IndexMap<String, LogSourceFile>,
    /// In (section, slug) order: the order of every generated listing.
    pub detections: Vec<Detection>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Diagnostics,
    /// The parsed sources of rulecast.yaml and the log sources (by id), for diagnostics found
    /// after loading.
    pub(crate) config_document: Document,
    pub(crate) logsource_documents: IndexMap<String, Document>,
}

/// One detection with its logic compiled.
#[derive(Debug, Clone)]
pub struct Detection {
    pub meta: DetectionFile,
    /// Path relative to the catalogue root.
    pub path: PathBuf,
    /// Guide section, the detection's folder.
    pub section: String,
    /// File stem: the name of every artifact generated for this detection.
    pub slug: String,
    pub selections: Vec<Selection>,
    /// The condition as written.
    pub condition: Condition,
    /// The condition with `1 of x*` patterns expanded to selection names.
    pub expanded: Condition,
    /// The exclusions that apply (its own and the catalogue's), each compiled to one of
    /// `selections`, which the conditions exclude.
    pub exclusions: Vec<exclusion::Applied>,
    /// The parsed source, for diagnostics found after loading (lock, tests).
    pub document: Document,
    /// The detection's `<slug>.tests.yaml`, when it has one.
    pub test_file: Option<LoadedTestFile>,
    /// The identifier fields of its entities, by entity slot, from the log source's
    /// `identifies:` (in slot order; only the entities whose field has some).
    pub identities: Vec<(&'static str, logsource::Identities)>,
}

impl Detection {
    pub fn selection(&self, name: &str) -> Option<&Selection> {
        self.selections.iter().find(|s| s.name == name)
    }

    /// The identifier fields of the entity in `slot`, if its field has some.
    pub(crate) fn identities_of(&self, slot: &str) -> Option<&logsource::Identities> {
        self.identities
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, identities)| identities)
    }

    /// Every field match of every selection.
    pub(crate) fn field_matches(&self) -> impl Iterator<Item = &crate::logic::FieldMatch> {
        self.selections.iter().flat_map(Selection::fields)
    }

    pub fn is_deprecated(&self) -> bool {
        self.meta.status == detection::Status::Deprecated
    }

    /// Every test case: inline ones first, then those of the test file. Where each starts is
    /// not looked up here (that re-reads the files): see [`Detection::case_locations`].
    pub(crate) fn test_cases(&self) -> Vec<CaseSource<'_>> {
        let mut all = case_sources(&self.meta.tests, &self.document);
        if let Some(t) = &self.test_file {
            all.extend(case_sources(&t.file.tests, &t.document));
        }
        all
    }

    /// `file:line:column` of every case, in the order of [`Detection::test_cases`]. Each file
    /// is re-read once for all its cases, so a report asks for them only when it shows one.
    pub(crate) fn case_locations(&self) -> Vec<String> {
        let mut all = case_locations(&self.meta.tests, &self.document);
        if let Some(t) = &self.test_file {
            all.extend(case_locations(&t.file.tests, &t.document));
        }
        all
    }
}

fn case_sources<'a>(
    cases: &'a [detection::TestCase],
    document: &'a Document,
) -> Vec<CaseSource<'a>> {
    cases
        .iter()
        .enumerate()
        .map(|(index, case)| CaseSource {
            case,
            document,
            index,
        })
        .collect()
}

/// Where the cases of `document` start: one look-up for all, not one per case.
fn case_locations(cases: &[detection::TestCase], document: &Document) -> Vec<String> {
    if cases.is_empty() {
        return Vec::new();
    }
    let positions = document.item_positions("/tests");
    let file = crate::diagnostic::display_path(&document.path);
    (0..cases.len())
        .map(|index| match positions.get(index) {
            Some(p) => format!("{file}:{}:{}", p.line, p.column),
            None => file.clone(),
        })
        .collect()
}

impl Catalogue {
    pub fn logsource(&self, detection: &Detection) -> &LogSourceFile {
        // Validation guarantees every detection names a loaded log source.
        &self.logsources[&detection.meta.logsource]
    }

    /// rulecast.yaml as parsed, for diagnostics that point into it.
    pub fn config_document(&self) -> &Document {
        &self.config_document
    }

    /// A log source's file as parsed, for diagnostics that point into it.
    pub fn logsource_document(&self, id: &str) -> Option<&Document> {
        self.logsource_documents.get(id)
    }

    /// Loads and validates the catalogue in `root` for rulecast's own targets.
    pub fn load(root: &Path) -> Result<Catalogue, Diagnostics> {
        Catalogue::load_with(root, Targets::builtin())
    }

    /// Loads and validates the catalogue in `root` for `targets`: their sections of the
    /// catalogue files are read and checked, and so is everything a target checks itself.
    pub fn load_with(root: &Path, targets: Arc<Targets>) -> Result<Catalogue, Diagnostics> {
        Catalogue::load_environment(root, targets, None)
    }

    /// Loads the catalogue in `root` as environment `environment` deploys it: its overrides
    /// applied to rulecast.yaml and the detection files before anything reads them (so every
    /// problem is found as in the catalogue as written, and located where the override is
    /// written), its exclusions added and its disabled detections left out. `None` or
    /// [`environment::BASE`] is the catalogue as written.
    pub fn load_environment(
        root: &Path,
        targets: Arc<Targets>,
        environment: Option<&str>,
    ) -> Result<Catalogue, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        if !root.is_dir() {
            diagnostics.push(
                Diagnostic::error(format!(
                    "catalogue folder `{}` does not exist",
                    root.display()
                ))
                .with_help("run rulecast from the repository root, or pass --catalogue DIR"),
            );
            return Err(diagnostics);
        }

        let overrides = match environment.filter(|name| *name != environment::BASE) {
            Some(name) => {
                let config = yaml::load_file(
                    &root.join(CONFIG_FILE),
                    &display(root, Path::new(CONFIG_FILE)),
                );
                match config.map(|doc| environment::Overrides::find(&doc, name)) {
                    Ok(Ok(o)) => Some(o),
                    Ok(Err(e)) | Err(e) => {
                        diagnostics.push(e);
                        return Err(diagnostics);
                    }
                }
            }
            None => None,
        };
        let overrides = overrides.as_ref();
        let config: Option<(CatalogueConfig, Document)> = load_typed(
            &targets,
            root,
            Path::new(CONFIG_FILE),
            SchemaKind::Config,
            overrides,
            &mut diagnostics,
        );
        let guide: Option<(GuideFile, Document)> = load_typed(
            &targets,
            root,
            Path::new(GUIDE_FILE),
            SchemaKind::Guide,
            None,
            &mut diagnostics,
        );

        // Files are independent until validation, so they are read and checked in parallel.
        let files = catalogue_files(root, &mut diagnostics);
        let loaded = parallel_map(&files, |relative| {
            let mut local = Diagnostics::new();
            let targets = &*targets;
            let file = if relative.starts_with(LOGSOURCE_DIR) {
                load_typed::<LogSourceFile>(
                    targets,
                    root,
                    relative,
                    SchemaKind::Logsource,
                    None,
                    &mut local,
                )
                .and_then(|(mut source, document)| {
                    // A log source whose sections do not read is left out, like one that
                    // does not parse: every target can trust the ones it gets.
                    read_sections(
                        &mut source.targets,
                        targets
                            .iter()
                            .filter_map(|t| Some((t.name(), t.logsource_section()?))),
                        &document,
                        &mut local,
                    )
                    .then(|| Loaded::LogSource(Box::new((source, document))))
                })
            } else if test_file::is_test_file(relative) {
                load_typed::<TestFile>(targets, root, relative, SchemaKind::Tests, None, &mut local)
                    .map(|(file, document)| {
                        Loaded::Tests(Box::new(LoadedTestFile { file, document }))
                    })
            } else {
                load_typed::<DetectionFile>(
                    targets,
                    root,
                    relative,
                    SchemaKind::Detection,
                    overrides,
                    &mut local,
                )
                .and_then(|(mut detection, document)| {
                    read_sections(
                        &mut detection.targets,
                        targets
                            .iter()
                            .filter_map(|t| Some((t.name(), t.detection_section()?))),
                        &document,
                        &mut local,
                    )
                    .then(|| Loaded::Detection(Box::new((detection, document))))
                })
            };
            (file, local)
        });
        let mut logsources = Vec::new();
        let mut detections = Vec::new();
        let mut test_files = Vec::new();
        for (file, local) in loaded {
            diagnostics.extend(local);
            match file {
                Some(Loaded::LogSource(l)) => logsources.push(*l),
                Some(Loaded::Detection(d)) => detections.push(*d),
                Some(Loaded::Tests(t)) => test_files.push(*t),
                None => {}
            }
        }

        let config = config.and_then(|(mut config, document)| {
            read_sections(
                &mut config.targets,
                targets
                    .iter()
                    .filter_map(|t| Some((t.name(), t.config_section()?))),
                &document,
                &mut diagnostics,
            )
            .then_some((config, document))
        });
        let (Some((config, config_doc)), Some((guide, guide_doc))) = (config, guide) else {
            return Err(diagnostics.sorted());
        };
        let sources = validate::Sources {
            targets: targets.clone(),
            logsources,
            detections,
            test_files,
        };
        let catalogue = validate::validate(
            root,
            config,
            config_doc,
            guide,
            guide_doc,
            sources,
            &mut diagnostics,
        );
        let mut catalogue = catalogue;
        if let Some(overrides) = overrides {
            // A detection that did not load would be reported again as a name of nothing.
            if !diagnostics.has_errors() {
                overrides.check_names(&catalogue, &mut diagnostics);
            }
            catalogue
                .detections
                .retain(|d| !overrides.disables(&d.meta.id, &d.section, &d.slug));
        }
        // Every section of every file in the catalogue was read, so targets can check theirs.
        for target in targets.iter() {
            target.validate(&catalogue, &mut diagnostics);
        }
        crate::targets::check_list_stores(&catalogue, targets.as_ref(), &mut diagnostics);
        if diagnostics.has_errors() {
            return Err(diagnostics.sorted());
        }
        catalogue.warnings = diagnostics.sorted();
        Ok(catalogue)
    }
}

/// Reads each target's entry of a `targets:` section into the target's type (a default for
/// an optional entry left out); whether every entry read. Problems are located in `document`.
fn read_sections(
    sections: &mut sections::TargetSections,
    described: impl Iterator<Item = (&'static str, Section)>,
    document: &Document,
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut all_read = true;
    for (target, section) in described {
        match section.read(sections.written().get(target)) {
            Some(Ok(read)) => sections.set_read(target, read),
            Some(Err(e)) => {
                all_read = false;
                diagnostics.push(document.error_at(
                    &format!("/targets/{}{}", yaml::pointer_segment(target), e.pointer),
                    e.message,
                ));
            }
            // A required entry that is missing: the schema check refused the file already.
            None => all_read = false,
        }
    }
    all_read
}

enum Loaded {
    LogSource(Box<(LogSourceFile, Document)>),
    Detection(Box<(DetectionFile, Document)>),
    Tests(Box<LoadedTestFile>),
}

/// `f` over `items` on every core, results in input order.
///
/// Every parallel step of loading and rendering runs on one pool of long-lived threads, rayon's
/// (one per core): its work stealing keeps each core busy until the last item, where threads
/// started per step with a fixed share each waited for the slowest, and it spares the start and
/// the allocator's warm-up of a new thread for every step.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(&f).collect()
}

/// `f` over `items`, taken by value, on every core; results in input order.
pub(crate) fn parallel_map_owned<T: Send, R: Send>(
    items: Vec<T>,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    use rayon::prelude::*;
    items.into_par_iter().map(&f).collect()
}

/// The number of threads of the pool [`parallel_map`] runs on: one per core unless
/// `RAYON_NUM_THREADS` says otherwise.
pub(crate) fn cores() -> usize {
    rayon::current_num_threads()
}

/// YAML files of the catalogue (detections, their test files and log sources), relative to
/// `root`, sorted.
///
/// Nothing in the folder is passed over without a word: a symbolic link is followed when it
/// stays inside the catalogue and refused when it leads out of it (a checkout must not read, or
/// publish, a file from elsewhere on the machine), and a FIFO, socket or device is refused.
fn catalogue_files(root: &Path, diagnostics: &mut Diagnostics) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut refused: Vec<Diagnostic> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            // Other files are read only when a catalogue file names them (test events), and
            // are checked there, where the error can point at the name.
            if !entry.path_is_symlink() || entry.depth() == 0 || !(entry.file_type().is_dir() || is_yaml(entry.path())) {
                return true;
            }
            match entry.path().canonicalize() {
                Ok(target) if target.starts_with(&real_root) => true,
                resolved => {
                    let shown = resolved
                        .map(|t| crate::diagnostic::display_path(&t))
                        .unwrap_or_else(|e| format!("nothing ({e})"));
                    refused.push(
                        Diagnostic::error(format!(
                            "this symbolic link leads out of the catalogue, to {shown}"
                        ))
                        .in_file(entry.path())
                        .with_help("a catalogue reads only its own files: copy the file in, or link to one inside the catalogue"),
                    );
                    false
                }
            }
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                diagnostics.push(crate::files::walk_error("catalogue folder", &e));
                continue;
            }
        };
        match crate::files::FileKind::of(entry.file_type()) {
            None => {}
            Some(crate::files::FileKind::Folder) => continue,
            Some(kind) => {
                diagnostics.push(
                    Diagnostic::error(format!("this is {kind}, not a regular file"))
                        .in_file(entry.path())
                        .with_help("a catalogue holds regular files and folders only; remove it"),
                );
                continue;
            }
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        if !is_yaml(relative) {
            continue;
        }
        if relative == Path::new(CONFIG_FILE) || relative == Path::new(GUIDE_FILE) {
            continue;
        }
        if relative.components().count() == 1 {
            diagnostics.push(
                Diagnostic::error("a detection file must be in the folder of its guide section")
                    .in_file(crate::catalogue::display(root, relative))
                    .with_help("move it to detections/<section>/, where <section> is a section key of detections/guide.yaml"),
            );
            continue;
        }
        files.push(relative.to_path_buf());
    }
    for d in refused {
        diagnostics.push(d);
    }
    files
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// How a catalogue path is shown: relative to the working directory when possible.
/// Whether `name`, as a user writes it in rulecast.yaml (a detection's file name, its
/// section/name, or its id in any case), names the detection with this id, section and slug.
pub(crate) fn names_detection(name: &str, id: &str, section: &str, slug: &str) -> bool {
    (!id.is_empty() && name.eq_ignore_ascii_case(id))
        || name == slug
        || name.strip_prefix(section).and_then(|r| r.strip_prefix('/')) == Some(slug)
}

pub(crate) fn display(root: &Path, relative: &Path) -> PathBuf {
    root.join(relative)
}

/// Parses, schema-checks and deserialises one file. Problems go to `diagnostics`.
fn load_typed<T: DeserializeOwned>(
    targets: &Targets,
    root: &Path,
    relative: &Path,
    kind: SchemaKind,
    overrides: Option<&environment::Overrides>,
    diagnostics: &mut Diagnostics,
) -> Option<(T, Document)> {
    let shown = display(root, relative);
    let mut document = match yaml::load_file(&root.join(relative), &shown) {
        Ok(d) => d,
        Err(e) => {
            diagnostics.push(e);
            return None;
        }
    };
    if let Some(overrides) = overrides {
        match kind {
            SchemaKind::Config => overrides.apply_to_config(&mut document, diagnostics),
            SchemaKind::Detection => {
                let section = relative
                    .parent()
                    .and_then(Path::file_name)
                    .and_then(|s| s.to_str());
                let slug = relative.file_stem().and_then(|s| s.to_str());
                if let (Some(section), Some(slug)) = (section, slug) {
                    overrides.apply_to_detection(&mut document, section, slug, diagnostics);
                }
            }
            _ => {}
        }
    }
    let violations = schema::check(targets.schema(kind), &document.value);
    if !violations.is_empty() {
        for v in violations {
            diagnostics.push(document.error_with_help(&v.pointer, v.at_key, v.message, v.help));
        }
        return None;
    }
    // The path of a failure is tracked only once there is one: a file that passed the schema
    // check rarely fails here, and tracking every field of every file costs.
    let read = match T::deserialize(&document.value) {
        Ok(value) => Ok(value),
        Err(_) => serde_path_to_error::deserialize::<_, T>(&document.value),
    };
    match read {
        Ok(value) => {
            // The typed model is what the rest of rulecast reads: drop the tree, and the text of
            // the many files the catalogue can have (read again to report a problem).
            let mut document = document;
            document.value = serde_json::Value::Null;
            if kind != SchemaKind::Config {
                document.release_text(&root.join(relative));
            }
            Some((value, document))
        }
        Err(e) => {
            let pointer = json_pointer(e.path());
            diagnostics.push(document.error_at(&pointer, e.into_inner().to_string()));
            None
        }
    }
}

pub(crate) fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", yaml::pointer_segment(key))),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}
