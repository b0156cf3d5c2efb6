//! The project settings file, `rulecast-project.yaml`: the options a repository would
//! otherwise repeat on every command (the catalogue, output and templates folders, the default
//! environment) and the target limitations it has acknowledged.
//!
//! rulecast looks for it in the current folder, then in each parent, so every command works
//! from anywhere inside the repository; its paths are relative to its own folder. An option
//! on the command line wins over the file. Without a file, the catalogue is `detections/` of
//! the nearest folder (the current one or a parent) that has `detections/rulecast.yaml`.
//!
//! An acknowledged limitation is a warning the team has read and accepted (a target that
//! cannot express part of a detection, and says so in the artifact): it no longer prints on
//! every build, while a new limitation still does. An acknowledgement that matches no warning
//! any more is itself reported, so the list cannot rot.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Diagnostics};

/// The file's name.
pub(crate) const PROJECT_FILE: &str = "rulecast-project.yaml";

/// The settings as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectFile {
    /// The catalogue folder (default `detections`).
    #[serde(default)]
    pub catalogue: Option<PathBuf>,
    /// The output folder (default `generated`, or `generated-NAME` for environment NAME).
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// A folder of templates that override the built-in ones by name.
    #[serde(default)]
    pub templates: Option<PathBuf>,
    /// The environment commands use unless `--env` says otherwise.
    #[serde(default)]
    pub environment: Option<String>,
    /// Warnings the team has accepted, per detection.
    #[serde(default)]
    pub acknowledged: Vec<Acknowledgement>,
}

/// A warning about one detection that no longer prints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Acknowledgement {
    /// The detection's file name (without `.yaml`), e.g. `pim-alert-disabled`.
    pub detection: String,
    /// Text the warning contains, e.g. `sigma: ` and `cannot label which finding matched`.
    pub warning: String,
    /// Why it is acceptable, for the next reader.
    pub reason: String,
}

/// The project's settings, with the folder the file is in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Project {
    /// The folder of rulecast-project.yaml, or of the catalogue found without one.
    pub root: Option<PathBuf>,
    pub file: ProjectFile,
    /// Where the file is, for reporting its problems.
    pub path: Option<PathBuf>,
    /// The acknowledgements that matched a warning so far (by index), to report stale ones.
    matched: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<usize>>>,
}

impl Project {
    /// The settings of the nearest rulecast-project.yaml at or above `start`, or, without one,
    /// the nearest folder at or above `start` holding `detections/rulecast.yaml`.
    pub(crate) fn discover(start: &Path) -> Result<Project, Diagnostic> {
        for folder in start.ancestors() {
            let path = folder.join(PROJECT_FILE);
            if path.is_file() {
                let shown = relative_to(&path, start);
                let document = crate::yaml::load_file(&path, &shown)?;
                let file: ProjectFile = serde_json::from_value(document.value.clone())
                    .map_err(|e| {
                        document.error_at("", e.to_string()).with_help(
                            "its keys are catalogue, output, templates, environment and acknowledged (see docs/commands.md)",
                        )
                    })?;
                return Ok(Project {
                    root: Some(relative_to(folder, start)),
                    file,
                    path: Some(shown),
                    ..Project::default()
                });
            }
            if folder
                .join("detections")
                .join(crate::catalogue::CONFIG_FILE)
                .is_file()
            {
                return Ok(Project {
                    root: Some(relative_to(folder, start)),
                    ..Project::default()
                });
            }
        }
        Ok(Project::default())
    }

    /// `relative` (a path written in the file) as seen from the current folder.
    pub(crate) fn path(&self, relative: &Path) -> PathBuf {
        match &self.root {
            Some(root) if relative.is_relative() => join(root, relative),
            _ => relative.to_path_buf(),
        }
    }

    /// `warnings` without the acknowledged ones.
    pub(crate) fn acknowledge(&self, warnings: &Diagnostics) -> Diagnostics {
        let mut out = Diagnostics::new();
        for d in warnings.iter() {
            let stem = d.file().and_then(Path::file_stem).and_then(|s| s.to_str());
            let by = self.file.acknowledged.iter().position(|a| {
                stem == Some(a.detection.as_str()) && d.message().contains(&a.warning)
            });
            match by {
                Some(i) if !d.is_error() => {
                    self.matched
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(i);
                }
                _ => out.push(d.clone()),
            }
        }
        out
    }

    /// A warning for each acknowledgement that matched no warning so far (call it after a run
    /// over the whole catalogue: `check`).
    pub(crate) fn stale(&self) -> Diagnostics {
        let matched = self
            .matched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Diagnostics::new();
        for (i, a) in self.file.acknowledged.iter().enumerate() {
            if matched.contains(&i) {
                continue;
            }
            let mut d = Diagnostic::warning(format!(
                "the acknowledged warning \"{}\" of `{}` is no longer raised",
                a.warning, a.detection
            ))
            .with_help(format!(
                "remove it from `acknowledged:` (it was acknowledged because: {})",
                a.reason
            ));
            if let Some(path) = &self.path {
                d = d.in_file(path);
            }
            out.push(d);
        }
        out
    }
}

/// `path` as seen from `start` (both absolute or both relative to the same folder): `.` for
/// `start` itself, `..` for its parent, and so on, so messages show short paths.
fn relative_to(path: &Path, start: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix(start) {
        return if rest.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rest.to_path_buf()
        };
    }
    let mut up = PathBuf::new();
    for ancestor in start.ancestors().skip(1) {
        up.push("..");
        if let Ok(rest) = path.strip_prefix(ancestor) {
            return up.join(rest);
        }
    }
    path.to_path_buf()
}

/// `root/relative`, without a leading `./`.
fn join(root: &Path, relative: &Path) -> PathBuf {
    if root == Path::new(".") {
        relative.to_path_buf()
    } else {
        root.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_from_the_current_folder() {
        let start = Path::new("/repo/detections/entra-roles");
        assert_eq!(
            relative_to(Path::new("/repo"), start),
            PathBuf::from("../..")
        );
        assert_eq!(
            relative_to(Path::new("/repo/rulecast-project.yaml"), start),
            PathBuf::from("../../rulecast-project.yaml")
        );
        assert_eq!(relative_to(start, start), PathBuf::from("."));
        let project = Project {
            root: Some(PathBuf::from("../..")),
            ..Project::default()
        };
        assert_eq!(
            project.path(Path::new("generated")),
            PathBuf::from("../../generated")
        );
        let here = Project {
            root: Some(PathBuf::from(".")),
            ..Project::default()
        };
        assert_eq!(
            here.path(Path::new("generated")),
            PathBuf::from("generated")
        );
    }
}
