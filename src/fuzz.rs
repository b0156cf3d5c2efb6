//! Entry points for fuzzing, shared by the cargo-fuzz targets in `fuzz/` (which enable the
//! `fuzz` feature) and by a plain `cargo test` that replays the committed seeds, so the harness
//! cannot rot between fuzzing sessions and every crash once found stays fixed. Without the
//! feature the module is not compiled into the library or the binary.
//!
//! Each entry takes arbitrary bytes and drives one stage of the loader as a catalogue author
//! would: any input may be rejected with diagnostics, none may panic, hang or exhaust memory.

use std::path::Path;
use std::sync::OnceLock;

use crate::catalogue::{Catalogue, CatalogueConfig, DetectionFile, GuideFile, LogSourceFile};
use crate::logic::{self, condition};
use crate::render::Templates;
use crate::schema::{self, SchemaKind};
use crate::yaml;

/// One catalogue file: YAML with positions, every schema check (the input may be meant as any
/// of the formats), the typed read, the selections and condition of a detection, and every
/// diagnostic rendered with its snippet.
pub fn catalogue_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let document = match yaml::parse_str(text, Path::new("fuzz.yaml")) {
        Ok(d) => d,
        Err(diagnostic) => {
            let _ = diagnostic.to_string();
            return;
        }
    };
    let targets = crate::targets::Targets::builtin();
    for kind in SchemaKind::ALL {
        let violations = schema::check(targets.schema(kind), &document.value);
        for v in &violations {
            let d = if v.at_key {
                document.error_at_key(&v.pointer, &v.message)
            } else {
                document.error_at(&v.pointer, &v.message)
            };
            let _ = d.to_string();
        }
        if !violations.is_empty() {
            continue;
        }
        let value = document.value.clone();
        match kind {
            SchemaKind::Detection => {
                if let Ok(detection) = serde_json::from_value::<DetectionFile>(value) {
                    for (name, selection) in &detection.detection.selections {
                        let _ =
                            logic::parse_selection(name, selection, &format!("/detection/{name}"));
                    }
                    condition_text(&detection.detection.condition);
                }
            }
            SchemaKind::Logsource => drop(serde_json::from_value::<LogSourceFile>(value)),
            SchemaKind::Config => drop(serde_json::from_value::<CatalogueConfig>(value)),
            SchemaKind::Guide => drop(serde_json::from_value::<GuideFile>(value)),
            SchemaKind::Tests => drop(serde_json::from_value::<
                crate::catalogue::test_file::TestFile,
            >(value)),
        }
    }
}

/// A condition string: parsed, and when valid, printed and parsed back to the same tree.
pub fn condition(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        condition_text(text);
    }
}

fn condition_text(text: &str) {
    let Ok(parsed) = condition::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    let reparsed = condition::parse(&printed)
        .unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
    assert_eq!(reparsed, parsed, "{printed:?} parses back differently");
    let names: Vec<String> = parsed
        .references()
        .into_iter()
        .map(|(name, _)| name.to_owned())
        .collect();
    let _ = parsed.expand(&names);
}

/// A whole catalogue with `data` as one more detection file in `root` (a valid catalogue with an
/// `entra-roles` section): loaded, validated and, when valid, rendered by every target.
pub fn detection_in_catalogue(root: &Path, data: &[u8]) {
    let file = root.join("entra-roles").join("fuzzed.yaml");
    std::fs::write(&file, data).expect("the fuzzing folder is writable");
    if let Ok(catalogue) = Catalogue::load(root) {
        let stamps = |d: &crate::catalogue::Detection| crate::targets::Stamp {
            version: d.meta.version,
            modified: d.meta.date.clone(),
        };
        let _ = crate::build::render(
            &catalogue,
            templates(),
            &stamps,
            crate::PACK_VERSION_DEFAULT,
        );
    }
    let _ = std::fs::remove_file(file);
}

// Built once: parsing templates costs more than most inputs.
fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        Templates::load(&crate::targets::Targets::builtin(), None)
            .unwrap_or_else(|d| panic!("built-in templates load: {d}"))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds for {target}");
        seeds
    }

    // Every seed, and every crash ever found (they are added to the seeds), must pass.

    #[test]
    fn catalogue_file_seeds() {
        for (path, bytes) in seeds("catalogue_file") {
            eprintln!("seed {}", path.display());
            super::catalogue_file(&bytes);
        }
    }

    /// A seed named after a file of the repository (`tests_fixtures_minimal_rulecast.yaml` for
    /// tests/fixtures/minimal/rulecast.yaml) is a copy of it: a stale copy in a format the
    /// loader no longer reads would only fuzz the first error.
    #[test]
    fn seeds_named_after_a_file_are_copies_of_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let files: std::collections::BTreeMap<String, PathBuf> = ["detections", "tests"]
            .iter()
            .flat_map(|dir| walkdir::WalkDir::new(root.join(dir)))
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let relative = e.path().strip_prefix(root).unwrap().to_string_lossy();
                (relative.replace(['/', '\\'], "_"), e.path().to_owned())
            })
            .collect();
        let mut copies = 0;
        for (seed, bytes) in seeds("catalogue_file") {
            let name = seed.file_name().unwrap().to_string_lossy();
            if let Some(file) = files.get(name.as_ref()) {
                assert!(
                    std::fs::read(file).unwrap() == bytes,
                    "{} is not a copy of {}: copy the file again",
                    seed.display(),
                    file.display()
                );
                copies += 1;
            }
        }
        assert!(copies >= 10, "only {copies} seeds are named after a file");
    }

    #[test]
    fn condition_seeds() {
        for (path, bytes) in seeds("condition") {
            eprintln!("seed {}", path.display());
            super::condition(&bytes);
        }
    }

    #[test]
    fn catalogue_seeds() {
        let root = crate::test_support::minimal_fixture();
        for (path, bytes) in seeds("catalogue") {
            eprintln!("seed {}", path.display());
            super::detection_in_catalogue(root.path(), &bytes);
        }
    }
}
