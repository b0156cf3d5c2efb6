//! Unit-test support: small catalogues in temporary folders, built from tests/fixtures/minimal.

use std::path::Path;

use crate::catalogue::Catalogue;

/// A copy of tests/fixtures/minimal with `edits` applied ((file, from, to): replace the first
/// `from`, which must be there) and `extra` files written, loaded.
pub(crate) fn catalogue(
    edits: &[(&str, &str, &str)],
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, Catalogue) {
    let dir = minimal_fixture();
    for (file, from, to) in edits {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
    for (path, text) in extra {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    let catalogue = Catalogue::load(dir.path()).unwrap_or_else(|d| panic!("{d}"));
    (dir, catalogue)
}

/// A fresh copy of tests/fixtures/minimal in a temporary folder, not yet loaded.
pub(crate) fn minimal_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal");
    for entry in walkdir::WalkDir::new(&fixture) {
        let entry = entry.unwrap();
        let target = dir
            .path()
            .join(entry.path().strip_prefix(&fixture).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    dir
}
