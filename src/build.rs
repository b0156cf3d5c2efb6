//! The build pipeline: a validated catalogue rendered by every selected target into one tree.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::catalogue::{Catalogue, Detection};
use crate::diagnostic::Diagnostics;
use crate::output::{Collect, Sink, Tree};
use crate::render::Templates;
use crate::targets::stream::{Output, Stream};
use crate::targets::{RenderContext, Stamp, Target};

/// One target's output once checked and handed on: how many files, its fragments reduced to
/// digests, and its warnings.
struct Checked {
    files: usize,
    unread: usize,
    digests: BTreeMap<String, String>,
    warnings: Diagnostics,
}

/// SHA-256 of `bytes`, in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// `bytes` in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The result of rendering.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Path under the output folder (`<target>/...`) -> content; empty when the files were
    /// streamed to a folder instead ([`render_to`]).
    pub tree: Tree,
    /// How many files were rendered.
    pub files: usize,
    /// How many of them were checked on the values they were rendered from, and not read back.
    pub(crate) unread: usize,
    /// Target -> detection id -> SHA-256 (hex) of the detection's canonical text in that
    /// target (what the lock records; the text itself is not kept, it is as large as the output).
    pub digests: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// What targets could not express.
    pub warnings: Diagnostics,
}

/// Why rendering to a folder stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Problems with the catalogue, a template or a rendered file: nothing may be written.
    Findings(Diagnostics),
    /// A rendered file could not be written.
    Io(std::io::Error),
}

/// Renders the catalogue with every target it was loaded for, into one tree in memory.
pub fn render(
    catalogue: &Catalogue,
    templates: &Templates,
    stamps: &(dyn Fn(&Detection) -> Stamp + Sync),
    pack_version: &str,
) -> Result<Rendered, Diagnostics> {
    let threads = crate::catalogue::cores();
    render_on(catalogue, templates, stamps, pack_version, threads)
}

/// [`render`], each target rendering its detections on `threads` threads.
pub(crate) fn render_on(
    catalogue: &Catalogue,
    templates: &Templates,
    stamps: &(dyn Fn(&Detection) -> Stamp + Sync),
    pack_version: &str,
    threads: usize,
) -> Result<Rendered, Diagnostics> {
    let collect = Collect::default();
    match render_to(
        catalogue,
        templates,
        stamps,
        pack_version,
        threads,
        &collect,
    ) {
        Ok(mut rendered) => {
            rendered.tree = collect.into_tree();
            Ok(rendered)
        }
        Err(Failure::Findings(d)) => Err(d),
        Err(Failure::Io(e)) => unreachable!("collecting in memory cannot fail: {e}"),
    }
}

/// Renders the catalogue with every target it was loaded for (in parallel: they share nothing
/// but read-only inputs), handing each file to `sink` as soon as its target has rendered and
/// checked it, so the output is never held whole. The caller keeps what `sink` received out
/// of use unless this returns `Ok`: a whole-tree check, or another target, may still fail.
pub(crate) fn render_to(
    catalogue: &Catalogue,
    templates: &Templates,
    stamps: &(dyn Fn(&Detection) -> Stamp + Sync),
    pack_version: &str,
    threads: usize,
    sink: &dyn Sink,
) -> Result<Rendered, Failure> {
    let targets: Vec<&'static dyn Target> = catalogue.targets.iter().collect();
    // Set when a target fails, so the others stop handing on files that will not be used.
    let failed = AtomicBool::new(false);
    // The detections render on the process's pool, one thread per core, unless another number
    // of threads is asked for (the tests' 1 and 64).
    let threads = threads.max(1);
    let pool = if threads == crate::catalogue::cores() {
        None
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Failure::Io(std::io::Error::other(e)))?;
        Some(pool)
    };
    let shared = crate::targets::Shared::new(catalogue);
    // Each target checks and hands on its files, in catalogue order, on its own thread, while
    // the pool renders its next detections (see `RenderContext::each_detection_into`).
    let results: Vec<Result<Checked, Failure>> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let context = RenderContext {
                    catalogue,
                    templates,
                    stamps,
                    pack_version,
                    threads,
                    output: Some(Output {
                        target: *target,
                        sink,
                        failed: &failed,
                    }),
                    pool: pool.as_ref(),
                    shared: &shared,
                };
                let failed = &failed;
                scope.spawn(move || {
                    let result = render_target(*target, &context);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    result
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
    for (target, result) in targets.iter().zip(results) {
        match result {
            Ok(checked) => {
                rendered.files += checked.files;
                rendered.unread += checked.unread;
                rendered.digests.insert(target.name(), checked.digests);
                rendered.warnings.extend(checked.warnings);
            }
            Err(Failure::Findings(e)) => errors.extend(e),
            Err(io @ Failure::Io(_)) => return Err(io),
        }
    }
    if errors.has_errors() {
        return Err(Failure::Findings(errors.sorted()));
    }
    Ok(rendered)
}

/// One target rendered, its files checked and handed on as they were rendered, the
/// whole-tree checks run, and its fragments reduced to digests.
fn render_target(target: &dyn Target, context: &RenderContext) -> Result<Checked, Failure> {
    let mut artifacts = target.render(context).map_err(Failure::Findings)?;
    // A target that made its artifacts with `default()` hands its files on only now.
    let mut stream = match artifacts.stream.take() {
        Some(stream) => stream,
        None => Stream::new(context.output.expect("rendering to a sink")),
    };
    for (path, content) in std::mem::take(&mut artifacts.files) {
        let checked = artifacts.checked.remove(&path);
        stream.add(path, content, checked);
    }
    let finished = stream.finish();
    let findings = artifacts.findings(finished.findings);
    if findings.has_errors() {
        return Err(Failure::Findings(findings));
    }
    if let Some(e) = finished.error {
        return Err(Failure::Io(e));
    }
    let mut digests = std::mem::take(&mut artifacts.digests);
    for (id, text) in std::mem::take(&mut artifacts.fragments) {
        digests.insert(id, sha256_hex(text.as_bytes()));
    }
    Ok(Checked {
        files: finished.files,
        unread: finished.unread,
        digests,
        warnings: artifacts.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Targets render their detections on several threads and add them in catalogue order:
    /// the files, their bytes, the lock's digests and the warnings are the same whatever the
    /// number of threads (one, fewer than the detections, more than the cores).
    #[test]
    fn output_is_the_same_whatever_the_number_of_threads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detections");
        let catalogue = Catalogue::load(&root).unwrap_or_else(|d| panic!("{d}"));
        assert!(catalogue.detections.len() > 7, "enough detections to split");
        let templates = Templates::load(&catalogue.targets, None).unwrap_or_else(|d| panic!("{d}"));
        let stamp = crate::lock::fingerprint::neutral_stamp;
        let on = |threads| {
            render_on(&catalogue, &templates, &stamp, "1.0.0", threads)
                .unwrap_or_else(|d| panic!("{d}"))
        };
        let alone = on(1);
        assert!(alone.tree.len() > 4 * catalogue.detections.len() / 2);
        assert_eq!(alone.files, alone.tree.len());
        for threads in [2, 7, 64] {
            let parallel = on(threads);
            assert!(
                parallel.tree == alone.tree,
                "{threads} threads: the files differ"
            );
            assert_eq!(parallel.digests, alone.digests, "{threads} threads");
            assert_eq!(
                parallel.warnings.to_string(),
                alone.warnings.to_string(),
                "{threads} threads"
            );
        }
    }

    /// Renders `root` with the built-in templates and reads back, with each target's full
    /// check (what `rulecast verify` runs), every file it rendered, those checked on their
    /// values in render included: a built-in template that stops producing what its typed
    /// check stands for fails here.
    fn read_back_everything(root: &std::path::Path) -> usize {
        let catalogue = Catalogue::load(root).unwrap_or_else(|d| panic!("{d}"));
        let templates = Templates::load(&catalogue.targets, None).unwrap_or_else(|d| panic!("{d}"));
        let stamp = crate::lock::fingerprint::neutral_stamp;
        let rendered =
            render(&catalogue, &templates, &stamp, "1.0.0").unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(rendered.files, rendered.tree.len());
        for target in catalogue.targets.iter() {
            let files: BTreeMap<std::path::PathBuf, String> = rendered
                .tree
                .iter()
                .filter_map(|(path, text)| {
                    let below = path.strip_prefix(target.name()).ok()?;
                    Some((below.to_path_buf(), text.clone()))
                })
                .collect();
            assert!(!files.is_empty(), "{}", target.name());
            let findings = target.check(&files);
            assert!(!findings.has_errors(), "{}: {}", target.name(), findings);
        }
        rendered.unread
    }

    #[test]
    fn every_file_checked_in_render_passes_the_full_read_back() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for root in [
            manifest.join("detections"),
            manifest.join("tests/fixtures/hostile"),
        ] {
            let catalogue = Catalogue::load(&root).unwrap_or_else(|d| panic!("{d}"));
            let unread = read_back_everything(&root);
            // Sentinel's two files, Sigma's rule and Splunk's savedsearches.conf and
            // Azure Monitor's combined template, at least, were not read back in render.
            assert!(
                unread > 3 * catalogue.detections.len(),
                "{}: {unread} files checked in render",
                root.display()
            );
        }
    }

    /// An override's files are always read back: a template that writes what Sentinel or
    /// Splunk refuses fails the build, with the finding at the generated file.
    #[test]
    fn a_broken_override_fails_the_build() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detections");
        let catalogue = Catalogue::load(&root).unwrap_or_else(|d| panic!("{d}"));
        let stamp = crate::lock::fingerprint::neutral_stamp;
        let builtin = |name: &str| {
            crate::targets::BUILTIN
                .iter()
                .flat_map(|t| t.templates())
                .find(|(n, _)| *n == name)
                .map(|(_, source)| (*source).to_owned())
                .unwrap()
        };
        let cases = [
            (
                "sentinel/rule.yaml",
                builtin("sentinel/rule.yaml")
                    .replace("severity: {{ rule.severity | yaml }}", "severity: Severe"),
                "severity `Severe` is not Informational, Low, Medium or High",
            ),
            (
                "sentinel/rule.arm.json",
                builtin("sentinel/rule.arm.json")
                    .replace(r#""workspace": {"#, r#""workspaceName": {"#),
                "no `workspace` parameter",
            ),
            (
                "splunk/_savedsearch.conf",
                builtin("splunk/_savedsearch.conf").replace(
                    "search = {{ s.search | conf }}",
                    "search = {{ s.search | conf }} | nosuchcommand",
                ),
                "unknown command `nosuchcommand`",
            ),
            (
                "splunk/savedsearches.conf",
                format!("{}\n[broken\n", builtin("splunk/savedsearches.conf")),
                "stanza header without a closing `]`",
            ),
        ];
        for (name, source, expected) in cases {
            assert_ne!(source, builtin(name), "{name}: the override changes it");
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(format!("{name}.tera"));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, source).unwrap();
            let templates = Templates::load(&catalogue.targets, Some(dir.path()))
                .unwrap_or_else(|d| panic!("{d}"));
            assert!(!templates.is_builtin(name));
            let failed = render(&catalogue, &templates, &stamp, "1.0.0")
                .expect_err(&format!("{name}: the build must fail"));
            assert!(
                failed.iter().any(|d| d.message().contains(expected)),
                "{name}: {failed}"
            );
        }
    }
}
