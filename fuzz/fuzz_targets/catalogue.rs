//! A whole catalogue load and build, with the input as one more detection file beside the
//! minimal fixture's.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// The minimal fixture, embedded so the target runs from any folder.
const FIXTURE: [(&str, &str); 5] = [
    (
        "rulecast.yaml",
        include_str!("../../tests/fixtures/minimal/rulecast.yaml"),
    ),
    (
        "guide.yaml",
        include_str!("../../tests/fixtures/minimal/guide.yaml"),
    ),
    (
        "logsources/entra_auditlogs.yaml",
        include_str!("../../tests/fixtures/minimal/logsources/entra_auditlogs.yaml"),
    ),
    (
        "entra-roles/eligible-assignment-burst.yaml",
        include_str!("../../tests/fixtures/minimal/entra-roles/eligible-assignment-burst.yaml"),
    ),
    (
        "entra-roles/pim-alert-disabled.yaml",
        include_str!("../../tests/fixtures/minimal/entra-roles/pim-alert-disabled.yaml"),
    ),
];

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempfile::tempdir().expect("a temporary folder").keep();
        for (path, text) in FIXTURE {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulecast::fuzz::detection_in_catalogue(root(), data));
