//! Test files: `<section>/<slug>.tests.yaml` holds the test cases of `<section>/<slug>.yaml`.
//!
//! Test events are long (a realistic audit row is dozens of lines), so they live next to the
//! detection rather than inside it: the detection stays readable, and a change of its logic and
//! a change of its evidence show up as separate diffs in review. Cases may still be written
//! inline under the detection's own `tests:` key; both kinds run.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::detection::TestCase;
use crate::yaml::Document;

/// What a test file's name ends with.
pub const TEST_FILE_SUFFIX: &str = ".tests.yaml";

/// The test cases of one detection.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Events that must raise an alert (expect_alert: true) and near misses that must not.
    #[schemars(length(min = 1))]
    pub tests: Vec<TestCase>,
}

/// A test file with its source, for diagnostics that point into it.
#[derive(Debug, Clone)]
pub struct LoadedTestFile {
    pub file: TestFile,
    pub document: Document,
}

/// One case and where it was written: the document and the JSON pointer of the case in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CaseSource<'a> {
    pub case: &'a TestCase,
    pub document: &'a Document,
    pub index: usize,
}

impl CaseSource<'_> {
    pub(crate) fn pointer(&self) -> String {
        format!("/tests/{}", self.index)
    }
}

/// True for a path named like a test file.
pub(crate) fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(TEST_FILE_SUFFIX))
}

/// The detection a test file belongs to: `x.tests.yaml` tests `x.yaml` in the same folder.
pub(crate) fn detection_path(test_file: &Path) -> PathBuf {
    let name = test_file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name.strip_suffix(TEST_FILE_SUFFIX).unwrap_or(name);
    test_file.with_file_name(format!("{stem}.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_a_test_file_with_its_detection() {
        let path = Path::new("entra-roles/pim-alert-disabled.tests.yaml");
        assert!(is_test_file(path));
        assert!(!is_test_file(Path::new(
            "entra-roles/pim-alert-disabled.yaml"
        )));
        assert_eq!(
            detection_path(path),
            Path::new("entra-roles/pim-alert-disabled.yaml")
        );
    }
}
