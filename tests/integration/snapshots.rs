//! Snapshots of the shipped catalogue: every detection in every target, and the committed
//! schemas. A change to generated content shows up in review as a snapshot diff.

use rulecast::catalogue::Catalogue;
use rulecast::render::Templates;
use rulecast::schema::{self, SchemaKind};

use crate::test::repo;

#[test]
fn every_detection_in_every_target() {
    let catalogue = Catalogue::load(&repo().join("detections")).unwrap_or_else(|d| panic!("{d}"));
    let templates = Templates::load(None).unwrap_or_else(|d| panic!("{d}"));
    let lock = rulecast::lock::read(&catalogue.root)
        .unwrap_or_else(|d| panic!("{d}"))
        .expect("the shipped catalogue is locked")
        .lock;
    let stamps = |d: &rulecast::catalogue::Detection| lock.stamp(d);
    // Each target's own fragments: the canonical text of every detection in that target.
    let rendered: Vec<(&str, std::collections::BTreeMap<String, String>)> =
        rulecast::targets::all()
            .into_iter()
            .map(|target| {
                let context = rulecast::targets::RenderContext {
                    catalogue: &catalogue,
                    templates: &templates,
                    stamps: &stamps,
                    pack_version: &lock.pack_version,
                };
                (
                    target.name(),
                    target
                        .render(&context)
                        .unwrap_or_else(|d| panic!("{d}"))
                        .fragments,
                )
            })
            .collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("../snapshots/detections");
    settings.bind(|| {
        for detection in &catalogue.detections {
            for (target, fragments) in &rendered {
                let fragment = fragments
                    .get(&detection.meta.id)
                    .unwrap_or_else(|| panic!("{target} did not render {}", detection.slug));
                insta::assert_snapshot!(format!("{target}__{}", detection.slug), fragment);
            }
        }
    });
}

#[test]
fn committed_schemas_are_current() {
    for kind in SchemaKind::ALL {
        let path = repo().join("detections").join(kind.committed_path());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            schema::schema_text(kind),
            "{} is stale: run `cargo run -- schema --write`",
            path.display()
        );
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("../snapshots");
    settings.bind(|| {
        insta::assert_snapshot!(
            "detection_schema",
            schema::schema_text(SchemaKind::Detection)
        )
    });
}
