//! A target is a plug-in. This test writes a small extra target here, outside the crate, with
//! nothing but rulecast's public API, registers it, and runs the whole workflow with it: the
//! catalogue carries the target's own sections, `lock` records it as added without moving any
//! detection's version, `build` writes its files and leaves every other file as it was,
//! `check` and `verify` pass, `release` packages it, its templates can be overridden by name,
//! and the committed schema describes its sections. That no file of the crate had to change
//! for any of this is what the test proves by compiling: the target lives in this file. Its
//! output is held to the same rules as the built-in targets' output: its templates' rendered
//! files are checked against what their encoding filters wrote, and a finding of its check is
//! pointed at the detection the file was rendered from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use rulecast::catalogue::{Catalogue, Detection};
use rulecast::cli::Cli;
use rulecast::diagnostic::{Diagnostic, Diagnostics};
use rulecast::render::Templates;
use rulecast::targets::{
    Artifacts, Conformance, DetectionView, RenderContext, Section, Stamp, Target, Targets,
    render_template,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::test::{copy_dir, repo, snapshot_tree};

/// The minimal catalogue with the inventory target's sections, in a new folder.
fn catalogue_with_inventory() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_dir(
        &repo().join("tests/fixtures/minimal"),
        &root.join("detections"),
    );
    add_inventory_sections(root);
    dir
}

/// Gives the catalogue in `root` the inventory target's sections.
fn add_inventory_sections(root: &Path) {
    append(
        &root.join("detections/logsources/entra_auditlogs.yaml"),
        "  inventory:\n    index: logs-azure.auditlogs-*\n",
    );
    append(
        &root.join("detections/rulecast.yaml"),
        "  inventory:\n    owner: Identity SOC\n",
    );
}

/// Renders the catalogue in `root` with the inventory target and the template `page` as its
/// override: the errors.
fn render_with_page(root: &Path, page: &str) -> Vec<Diagnostic> {
    let catalogue =
        Catalogue::load_with(&root.join("detections"), targets()).unwrap_or_else(|d| panic!("{d}"));
    let overrides = root.join("overrides");
    std::fs::create_dir_all(overrides.join("inventory")).unwrap();
    std::fs::write(overrides.join("inventory/page.md.tera"), page).unwrap();
    let templates =
        Templates::load(&catalogue.targets, Some(&overrides)).unwrap_or_else(|d| panic!("{d}"));
    let stamps = |_: &Detection| Stamp {
        version: 1,
        modified: "2026-01-01".to_owned(),
    };
    match rulecast::build::render(&catalogue, &templates, &stamps, "1.0.0") {
        Ok(_) => panic!("the page {page:?} renders"),
        Err(errors) => errors.into_vec(),
    }
}

/// A detection inventory for a wiki: one Markdown page per detection, saying where its data
/// is indexed and who owns it.
struct Inventory;

static INVENTORY: Inventory = Inventory;

/// Its entry in a log source: where the data is indexed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InventorySource {
    /// The index pattern, e.g. logs-azure.auditlogs-*.
    index: String,
}

/// Its settings in rulecast.yaml.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InventorySettings {
    /// Who answers for the detections.
    #[serde(default = "default_owner")]
    owner: String,
}

impl Default for InventorySettings {
    fn default() -> Self {
        InventorySettings {
            owner: default_owner(),
        }
    }
}

fn default_owner() -> String {
    "SOC".to_owned()
}

#[derive(Serialize)]
struct PageView<'a> {
    detection: DetectionView,
    index: &'a str,
    owner: &'a str,
}

const PAGE: &str = "# {{ detection.title | md }}\n\n\
    Index: {{ index | md }}\n\n\
    Owner: {{ owner | md }}\n\n\
    Version: {{ detection.semver | md }}\n";

impl Target for Inventory {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn description(&self) -> &'static str {
        "A Markdown page per detection: its index and owner"
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        &[("inventory/page.md", PAGE)]
    }

    fn logsource_section(&self) -> Option<Section> {
        Some(Section::required::<InventorySource>())
    }

    fn config_section(&self) -> Option<Section> {
        Some(Section::optional::<InventorySettings>())
    }

    // Its artifacts are made with `default()`: `build` hands its files on once it has
    // rendered them all (a target that streams them makes them with `context.artifacts()`).
    fn render<'c>(&self, context: &RenderContext<'c>) -> Result<Artifacts<'c>, Diagnostics> {
        let catalogue = context.catalogue;
        let settings: &InventorySettings = catalogue.config.targets.get("inventory").unwrap();
        let mut artifacts = Artifacts::default();
        let mut errors = Diagnostics::new();
        for detection in &catalogue.detections {
            let source: &InventorySource = catalogue
                .logsource(detection)
                .targets
                .get("inventory")
                .unwrap();
            let view = PageView {
                detection: DetectionView::new(
                    catalogue,
                    detection,
                    &(context.stamps)(detection),
                    &[],
                ),
                index: &source.index,
                owner: &settings.owner,
            };
            match render_template(
                context.templates,
                "inventory/page.md",
                &view,
                Some(detection),
            ) {
                Ok(text) => {
                    artifacts
                        .fragments
                        .insert(detection.meta.id.clone(), text.clone());
                    // A file of one detection: a second detection rendering to the same path is
                    // refused, and a finding of `check` about it points at the detection.
                    artifacts.add_detection_file(
                        self.name(),
                        detection,
                        format!("{}/{}.md", detection.section, detection.slug),
                        text,
                    );
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(artifacts)
    }

    fn check(&self, files: &BTreeMap<PathBuf, String>) -> Diagnostics {
        let mut out = Diagnostics::new();
        for (path, text) in files {
            if !text.starts_with("# ") {
                out.push(Diagnostic::error(format!(
                    "inventory: {} has no title",
                    path.display()
                )));
            }
        }
        out
    }

    fn conformance(&self) -> &'static [Conformance] {
        // Markdown has no checker in the suite; a target names only the formats it has.
        &[]
    }
}

fn targets() -> Arc<Targets> {
    Arc::new(Targets::builtin().with(&INVENTORY).unwrap())
}

/// Runs the CLI in this process with `targets`, in `root`, as `rulecast ARGS`.
fn run(root: &Path, targets: &Arc<Targets>, args: &[&str]) -> ExitCode {
    let catalogue = root.join("detections");
    let output = root.join("generated");
    let mut argv = vec![
        "rulecast".to_owned(),
        "--quiet".to_owned(),
        "--catalogue".to_owned(),
        catalogue.display().to_string(),
        "--output".to_owned(),
        output.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let cli = Cli::try_parse_from(argv).unwrap();
    rulecast::cli::run(&cli, targets).unwrap()
}

fn git(root: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

fn lock(root: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root.join("detections/rulecast.lock")).unwrap())
        .unwrap()
}

fn files_below(dir: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot_tree(dir)
}

#[test]
fn an_extra_target_plugs_in_without_moving_a_version() {
    let builtin = Targets::builtin();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_dir(
        &repo().join("tests/fixtures/minimal"),
        &root.join("detections"),
    );
    assert_eq!(run(root, &builtin, &["build"]), ExitCode::SUCCESS);
    let lock_before = lock(root);
    let detection_files: Vec<(String, Vec<u8>)> = files_below(&root.join("detections"))
        .into_iter()
        .filter(|(path, _)| path.starts_with("entra-roles/"))
        .collect();
    let generated_before = files_below(&root.join("generated"));

    // Registering the target: its sections in the catalogue files, and the registry.
    add_inventory_sections(root);
    let targets = targets();
    assert_eq!(
        run(root, &builtin, &["check", "--no-tests"]),
        ExitCode::from(1),
        "without the target, its sections are unknown keys"
    );
    assert_eq!(
        run(root, &targets, &["check", "--no-tests"]),
        ExitCode::from(1),
        "the lock has no record of the new target yet"
    );

    // `lock` records the target as added: no version moves, no detection file is rewritten.
    assert_eq!(run(root, &targets, &["lock"]), ExitCode::SUCCESS);
    let lock_after = lock(root);
    for (id, before) in lock_before["detections"].as_object().unwrap() {
        let after = &lock_after["detections"][id];
        assert_eq!(after["version"], before["version"], "{id}");
        assert_eq!(after["modified"], before["modified"], "{id}");
        for (target, hash) in before["sha256"].as_object().unwrap() {
            assert_eq!(&after["sha256"][target], hash, "{id} {target}");
        }
        assert!(after["sha256"]["inventory"].is_string(), "{id}");
    }
    let detection_files_after: Vec<(String, Vec<u8>)> = files_below(&root.join("detections"))
        .into_iter()
        .filter(|(path, _)| path.starts_with("entra-roles/"))
        .collect();
    assert_eq!(detection_files_after, detection_files);

    // `build` adds the target's folder and leaves every other file as it was.
    assert_eq!(run(root, &targets, &["build"]), ExitCode::SUCCESS);
    let generated_after = files_below(&root.join("generated"));
    let (added, kept): (Vec<_>, Vec<_>) = generated_after
        .into_iter()
        .partition(|(path, _)| path.starts_with("inventory/"));
    assert_eq!(kept, generated_before);
    let page = added
        .iter()
        .find(|(path, _)| path == "inventory/entra-roles/pim-alert-disabled.md")
        .map(|(_, bytes)| String::from_utf8(bytes.clone()).unwrap())
        .expect("a page per detection");
    assert!(page.contains("logs-azure.auditlogs-\\*"), "{page}");
    assert!(page.contains("Owner: Identity SOC"), "{page}");
    assert_eq!(
        run(root, &targets, &["check", "--no-tests"]),
        ExitCode::SUCCESS
    );
    let generated = root.join("generated");
    let generated = generated.to_str().unwrap();
    assert_eq!(
        run(root, &targets, &["verify", generated]),
        ExitCode::SUCCESS
    );

    // `release` packages it, with the default packaging, and lists it in the manifest.
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "catalogue"]);
    let dist = root.join("dist");
    assert_eq!(
        run(
            root,
            &targets,
            &[
                "release",
                "--version",
                "1.0.0",
                "--out",
                dist.to_str().unwrap(),
                "--no-tests"
            ]
        ),
        ExitCode::SUCCESS
    );
    assert!(dist.join("test-pack-1.0.0-inventory.zip").is_file());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["targets"]["inventory"]["file"],
        "test-pack-1.0.0-inventory.zip"
    );
    assert!(
        dist.join("test_pack-1.0.0.tgz").is_file(),
        "the others still"
    );

    // Its template is overridden by name, like a built-in one.
    let overrides = root.join("overrides/inventory");
    std::fs::create_dir_all(&overrides).unwrap();
    std::fs::write(
        overrides.join("page.md.tera"),
        "# {{ detection.title | md }}\n\nAsk {{ owner | md }}.\n",
    )
    .unwrap();
    assert_eq!(
        run(
            root,
            &targets,
            &[
                "--templates",
                root.join("overrides").to_str().unwrap(),
                "build"
            ]
        ),
        ExitCode::SUCCESS
    );
    let overridden =
        std::fs::read_to_string(root.join("generated/inventory/entra-roles/pim-alert-disabled.md"))
            .unwrap();
    assert!(overridden.ends_with("Ask Identity SOC.\n"), "{overridden}");

    // The schemas describe its sections, for editors.
    let schema = targets.schema(rulecast::schema::SchemaKind::Logsource);
    assert_eq!(
        schema["properties"]["targets"]["required"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "inventory"
    );
    assert_eq!(
        schema["$defs"]["InventorySource"]["properties"]["index"]["description"],
        "The index pattern, e.g. logs-azure.auditlogs-*."
    );
}

#[test]
fn an_extra_targets_output_is_checked_like_a_builtin_ones() {
    let dir = catalogue_with_inventory();
    let root = dir.path();

    // A page without its title fails the target's own check, which names the generated file;
    // the finding points at the detection the page was rendered from.
    let errors = render_with_page(root, "Owner: {{ owner | md }}\n");
    let detection = root.join("detections/entra-roles/pim-alert-disabled.yaml");
    let finding = errors
        .iter()
        .find(|d| {
            d.message()
                .contains("entra-roles/pim-alert-disabled.md has no title")
        })
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert_eq!(finding.file(), Some(detection.as_path()), "{finding}");
    assert!(
        finding
            .help()
            .is_some_and(|h| h.contains("fix the cause there")),
        "{finding}"
    );
    assert_eq!(
        errors.len(),
        catalogue_detections(root),
        "one finding per page: {errors:?}"
    );

    // An override that changes a value after its encoding filter is refused, for a plug-in's
    // template as for a built-in one: `md` escaped the `*` of the index pattern.
    let errors = render_with_page(
        root,
        "# {{ detection.title | md }}\n\n{% filter replace(from=\"*\", to=\"\") %}Index: {{ index | md }}{% endfilter %}\n",
    );
    assert!(
        errors.iter().any(|d| d.message().starts_with(
            "template `inventory/page.md` changes a value after its `md` filter encoded it"
        ) && d.file()
            == Some(root.join("overrides/inventory/page.md.tera").as_path())),
        "{errors:?}"
    );

    // A value encoded for another format is refused too: a Markdown page is not YAML.
    let errors = render_with_page(root, "# {{ detection.title | yaml }}\n");
    assert!(
        errors.iter().any(|d| d
            .message()
            .contains("encodes a value with `yaml`, which does not make it safe")),
        "{errors:?}"
    );
}

/// How many detections the catalogue in `root` has.
fn catalogue_detections(root: &Path) -> usize {
    Catalogue::load_with(&root.join("detections"), targets())
        .unwrap_or_else(|d| panic!("{d}"))
        .detections
        .len()
}
