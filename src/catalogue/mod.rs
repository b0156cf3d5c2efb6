//! The catalogue: everything under `detections/`, loaded and validated.
//!
//! Loading happens in stages, each collecting every problem it finds before the next runs:
//!
//! 1. parse each YAML file into a value with source positions ([`crate::yaml`]);
//! 2. check it against the format's JSON Schema ([`crate::schema`]): unknown keys, wrong types,
//!    missing keys, all at once and located;
//! 3. read it into the typed model with serde;
//! 4. check what a schema cannot: references between files, field names against the log
//!    source, the condition language, Sentinel's schedule limits, guide coverage
//!    ([`validate`]), and attach each `<slug>.tests.yaml` ([`test_file`]) to its detection.
//!
//! The result is a [`Catalogue`] every target can trust, or the full list of diagnostics.

pub mod attack;
pub mod config;
pub mod detection;
pub mod duration;
pub mod guide;
pub mod logsource;
pub mod names;
pub mod test_file;
mod validate;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::logic::{Condition, Selection};
use crate::schema::{self, SchemaKind};
use crate::yaml::{self, Document};

pub use config::CatalogueConfig;
pub use detection::DetectionFile;
pub use guide::GuideFile;
pub use logsource::LogSourceFile;
pub use test_file::{CaseSource, LoadedTestFile, TestFile};

/// File names with a fixed role in the catalogue folder.
pub const CONFIG_FILE: &str = "rulecast.yaml";
pub const GUIDE_FILE: &str = "guide.yaml";
pub const LOGSOURCE_DIR: &str = "logsources";

/// A loaded, validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub root: PathBuf,
    pub config: CatalogueConfig,
    /// The parsed `rulecast.yaml`, so a target can point at the setting a problem comes from.
    pub config_document: Document,
    pub guide: GuideFile,
    /// By id, in id order.
    pub logsources: IndexMap<String, LogSourceFile>,
    /// In (section, slug) order: the order of every generated listing.
    pub detections: Vec<Detection>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Diagnostics,
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
    /// The parsed source, for diagnostics found after loading (lock, tests).
    pub document: Document,
    /// The detection's `<slug>.tests.yaml`, when it has one.
    pub test_file: Option<LoadedTestFile>,
}

impl Detection {
    pub fn selection(&self, name: &str) -> Option<&Selection> {
        self.selections.iter().find(|s| s.name == name)
    }

    pub fn is_deprecated(&self) -> bool {
        self.meta.status == detection::Status::Deprecated
    }

    /// Every test case: inline ones first, then those of the test file.
    pub fn test_cases(&self) -> Vec<CaseSource<'_>> {
        let inline = self
            .meta
            .tests
            .iter()
            .enumerate()
            .map(|(index, case)| CaseSource {
                case,
                document: &self.document,
                index,
            });
        let from_file = self.test_file.iter().flat_map(|t| {
            t.file
                .tests
                .iter()
                .enumerate()
                .map(move |(index, case)| CaseSource {
                    case,
                    document: &t.document,
                    index,
                })
        });
        inline.chain(from_file).collect()
    }
}

impl Catalogue {
    pub fn logsource(&self, detection: &Detection) -> &LogSourceFile {
        // Validation guarantees every detection names a loaded log source.
        &self.logsources[&detection.meta.logsource]
    }

    pub fn detection_by_id(&self, id: &str) -> Option<&Detection> {
        self.detections
            .iter()
            .find(|d| d.meta.id.eq_ignore_ascii_case(id))
    }

    /// Loads and validates the catalogue in `root`.
    pub fn load(root: &Path) -> Result<Catalogue, Diagnostics> {
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

        let config: Option<(CatalogueConfig, Document)> = load_typed(
            root,
            Path::new(CONFIG_FILE),
            SchemaKind::Config,
            &mut diagnostics,
        );
        let guide: Option<(GuideFile, Document)> = load_typed(
            root,
            Path::new(GUIDE_FILE),
            SchemaKind::Guide,
            &mut diagnostics,
        );

        // Files are independent until validation, so they are read and checked in parallel.
        let files = catalogue_files(root, &mut diagnostics);
        let loaded = parallel_map(&files, |relative| {
            let mut local = Diagnostics::new();
            let file = if relative.starts_with(LOGSOURCE_DIR) {
                load_typed::<LogSourceFile>(root, relative, SchemaKind::Logsource, &mut local)
                    .map(|l| Loaded::LogSource(Box::new(l)))
            } else if test_file::is_test_file(relative) {
                load_typed::<TestFile>(root, relative, SchemaKind::Tests, &mut local).map(
                    |(file, document)| Loaded::Tests(Box::new(LoadedTestFile { file, document })),
                )
            } else {
                load_typed::<DetectionFile>(root, relative, SchemaKind::Detection, &mut local)
                    .map(|d| Loaded::Detection(Box::new(d)))
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

        let (Some((config, config_doc)), Some((guide, guide_doc))) = (config, guide) else {
            return Err(diagnostics.sorted());
        };
        let sources = validate::Sources {
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
        if diagnostics.has_errors() {
            return Err(diagnostics.sorted());
        }
        let mut catalogue = catalogue;
        catalogue.warnings = diagnostics.sorted();
        Ok(catalogue)
    }
}

enum Loaded {
    LogSource(Box<(LogSourceFile, Document)>),
    Detection(Box<(DetectionFile, Document)>),
    Tests(Box<LoadedTestFile>),
}

/// `f` over `items` on every core, results in input order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a loader thread panicked"))
            .collect()
    })
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
                let d = Diagnostic::error(format!("cannot read the catalogue folder: {e}"));
                diagnostics.push(match e.path() {
                    Some(path) => d.in_file(path),
                    None => d,
                });
                continue;
            }
        };
        match crate::files::FileKind::of(&entry.file_type()) {
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
pub fn display(root: &Path, relative: &Path) -> PathBuf {
    root.join(relative)
}

/// Parses, schema-checks and deserialises one file. Problems go to `diagnostics`.
fn load_typed<T: DeserializeOwned>(
    root: &Path,
    relative: &Path,
    kind: SchemaKind,
    diagnostics: &mut Diagnostics,
) -> Option<(T, Document)> {
    let shown = display(root, relative);
    let document = match yaml::load_file(&root.join(relative), &shown) {
        Ok(d) => d,
        Err(e) => {
            diagnostics.push(e);
            return None;
        }
    };
    let violations = schema::check(schema::schema(kind), &document.value);
    if !violations.is_empty() {
        for v in violations {
            let d = if v.at_key {
                document.error_at_key(&v.pointer, v.message)
            } else {
                document.error_at(&v.pointer, v.message)
            };
            diagnostics.push(match v.help {
                Some(help) => d.with_help(help),
                None => d,
            });
        }
        return None;
    }
    match serde_path_to_error::deserialize::<_, T>(&document.value) {
        Ok(value) => {
            // The typed model is what the rest of rulecast reads; keep positions, drop the tree.
            let mut document = document;
            document.value = serde_json::Value::Null;
            Some((value, document))
        }
        Err(e) => {
            let pointer = json_pointer(e.path());
            diagnostics.push(document.error_at(&pointer, e.into_inner().to_string()));
            None
        }
    }
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", yaml::pointer_segment(key))),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}
