//! `rulecast release`: the versioned, reproducible files a content-pack release publishes.
//!
//! A release is cut from a commit, never from a working tree: the command refuses uncommitted
//! changes and anything `check` would reject, and the version must be the one the lock records
//! (`rulecast lock --pack-version`), so the released archives are exactly what the committed
//! `generated/` holds. What it writes (file names start with the pack name):
//!
//! * `<name>-<version>-sentinel.zip`: the Sentinel YAML rule templates and the combined ARM
//!   template (`rules/<section>/<slug>.yaml`, `azuredeploy.json`);
//! * `<app>-<version>.tgz`: the Splunk app, app version set to the release version;
//! * `<name>-<version>-sigma.zip`: Sigma rules (correlations are in the rule files) and the
//!   pySigma pipelines;
//! * `<name>-<version>-azure-monitor.json`: the combined Azure Monitor ARM template;
//! * `manifest.json` ([`manifest`]), `CHANGELOG.md` (this release's section, [`changelog`]);
//! * `SHA256SUMS` over all of them.
//!
//! The previous release, for the changelog, is the newest tag `vX.Y.Z` below the version (or
//! `--previous REF`); its lock is read from git, so no release record has to be committed.

pub mod archive;
pub mod changelog;
pub mod command;
pub mod manifest;

use std::collections::BTreeMap;

use crate::output::Tree;

/// Release files: file name -> content, in the order they are listed.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The files of `tree` under `prefix/`, keyed by their path below it.
pub fn subtree(tree: &Tree, prefix: &str, keep: impl Fn(&str) -> bool) -> archive::Entries {
    tree.iter()
        .filter_map(|(path, content)| {
            let relative = path.strip_prefix(prefix).ok()?;
            let name = relative.to_string_lossy().replace('\\', "/");
            keep(&name).then(|| (name, content.as_bytes().to_vec()))
        })
        .collect()
}

/// `SHA256SUMS` of `files`, in the format `sha256sum -c` reads.
pub fn checksums(files: &Files) -> String {
    files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", crate::lock::fingerprint::sha256_hex(bytes)))
        .collect()
}

/// The newest tag `vX.Y.Z` whose version is below `version`.
pub fn previous_tag(tags: &[String], version: &str) -> Option<String> {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        let triple = (parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(triple)
    };
    let current = parse(version)?;
    tags.iter()
        .filter_map(|t| Some((parse(t.strip_prefix('v')?)?, t)))
        .filter(|(v, _)| *v < current)
        .max()
        .map(|(_, t)| t.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_release_is_the_newest_lower_tag() {
        let tags: Vec<String> = ["v1.0.0", "v1.10.0", "v1.2.0", "v2.0.0", "latest", "v1.9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            previous_tag(&tags, "2.0.0").as_deref(),
            Some("v1.10.0"),
            "numeric, not text, order"
        );
        assert_eq!(
            previous_tag(&tags, "1.2.0").as_deref(),
            Some("v1.0.0"),
            "the release's own tag is not its predecessor"
        );
        assert_eq!(previous_tag(&tags, "1.0.0"), None);
    }

    #[test]
    fn checksums_are_sha256sum_lines() {
        let files: Files = [
            ("b.zip".to_owned(), b"b".to_vec()),
            ("a.json".to_owned(), b"".to_vec()),
        ]
        .into();
        let sums = checksums(&files);
        assert_eq!(
            sums.lines().next(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.json")
        );
        assert_eq!(sums.lines().count(), 2);
    }
}
