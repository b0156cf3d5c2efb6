//! The build pipeline: a validated catalogue rendered by every selected target into one tree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::output::Tree;
use crate::render::Templates;
use crate::targets::{RenderContext, Stamp, Target};

/// One target's output once checked, with its fragments reduced to digests.
struct Checked {
    files: BTreeMap<PathBuf, String>,
    digests: BTreeMap<String, String>,
    findings: Diagnostics,
    warnings: Diagnostics,
}

/// SHA-256 of `bytes`, in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The result of rendering.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Path under the output folder (`<target>/...`) -> content.
    pub tree: Tree,
    /// Target -> detection id -> SHA-256 (hex) of the detection's canonical text in that
    /// target (what the lock records; the text itself is not kept, it is as large as the output).
    pub digests: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// What targets could not express.
    pub warnings: Diagnostics,
}

/// Renders the catalogue with every target it was loaded for (in parallel: they share nothing
/// but read-only inputs).
pub fn render(
    catalogue: &Catalogue,
    templates: &Templates,
    stamps: &(dyn Fn(&Detection) -> Stamp + Sync),
    pack_version: &str,
) -> Result<Rendered, Diagnostics> {
    let targets: Vec<&'static dyn Target> = catalogue.targets.iter().collect();
    // Each target renders, checks its own files and hashes its fragments on its own thread.
    let results: Vec<(&'static str, Result<Checked, Diagnostics>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let context = RenderContext {
                    catalogue,
                    templates,
                    stamps,
                    pack_version,
                };
                scope.spawn(move || {
                    let checked = target.render(&context).map(|mut artifacts| Checked {
                        findings: artifacts.findings(target.check(&artifacts.files)),
                        digests: artifacts
                            .fragments
                            .iter()
                            .map(|(id, text)| (id.clone(), sha256_hex(text.as_bytes())))
                            .collect(),
                        files: artifacts.files,
                        warnings: artifacts.warnings,
                    });
                    (target.name(), checked)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a target panicked"))
            .collect()
    });
    let mut rendered = Rendered::default();
    let mut errors = Diagnostics::new();
    for (name, result) in results {
        match result {
            Ok(checked) => {
                errors.extend(checked.findings);
                for (path, content) in checked.files {
                    rendered
                        .tree
                        .insert(PathBuf::from(name).join(path), content);
                }
                rendered.digests.insert(name, checked.digests);
                rendered.warnings.extend(checked.warnings);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.has_errors() {
        return Err(errors.sorted());
    }
    Ok(rendered)
}
