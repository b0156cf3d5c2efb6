//! The build pipeline: a validated catalogue rendered by every selected target into one tree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::output::Tree;
use crate::render::Templates;
use crate::targets::{Artifacts, RenderContext, Stamp, Target};

/// The result of rendering.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Path under the output folder (`<target>/...`) -> content.
    pub tree: Tree,
    /// Target -> detection id -> canonical text of the detection in that target.
    pub fragments: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// What targets could not express.
    pub warnings: Diagnostics,
}

/// Renders `targets` (in parallel: they share nothing but read-only inputs).
pub fn render(
    catalogue: &Catalogue,
    templates: &Templates,
    targets: &[&'static dyn Target],
    stamps: &(dyn Fn(&Detection) -> Stamp + Sync),
    pack_version: &str,
) -> Result<Rendered, Diagnostics> {
    let results: Vec<(&'static str, Result<Artifacts, Diagnostics>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let context = RenderContext { catalogue, templates, stamps, pack_version };
                scope.spawn(move || (target.name(), target.render(&context)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a target panicked")).collect()
    });
    let by_name: BTreeMap<&str, &&'static dyn Target> = targets.iter().map(|t| (t.name(), t)).collect();
    let mut rendered = Rendered::default();
    let mut errors = Diagnostics::new();
    for (name, result) in results {
        match result {
            Ok(artifacts) => {
                errors.extend(by_name[name].check(&artifacts.files));
                for (path, content) in artifacts.files {
                    rendered.tree.insert(PathBuf::from(name).join(path), content);
                }
                rendered.fragments.insert(name, artifacts.fragments);
                rendered.warnings.extend(artifacts.warnings);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.has_errors() {
        return Err(errors.sorted());
    }
    Ok(rendered)
}
