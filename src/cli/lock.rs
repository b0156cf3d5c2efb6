//! The command-line side of the lock: `rulecast lock`, and the lock part of `rulecast check`.

use std::process::ExitCode;
use std::sync::Arc;

use crate::catalogue::Catalogue;
use crate::cli::{self, Cli};
use crate::diagnostic::{Diagnostics, display_path};
use crate::lock::{self as lock_file, date, fingerprint};
use crate::render::Templates;
use crate::targets::Targets;

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct LockArgs {
    /// Date recorded as the last content change of bumped detections (YYYY-MM-DD; default:
    /// SOURCE_DATE_EPOCH, else today in UTC).
    #[arg(long, value_name = "DATE", value_parser = date::parse)]
    pub date: Option<String>,
    /// Set the content-pack version (X.Y.Z) that `build` stamps and `release` must be given.
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_pack_version)]
    pub pack_version: Option<String>,
}

/// Text that is not a content-pack version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NotAVersion(pub String);

impl std::fmt::Display for NotAVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not a version of the form X.Y.Z, e.g. 1.4.0",
            self.0
        )
    }
}

impl std::error::Error for NotAVersion {}

/// A release version: three numbers.
pub(super) fn parse_pack_version(text: &str) -> Result<String, NotAVersion> {
    let parts: Vec<&str> = text.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(text.to_owned())
    } else {
        Err(NotAVersion(text.to_owned()))
    }
}

/// The lock problems of `catalogue`, for `check`.
pub(super) fn check(
    catalogue: &Catalogue,
    templates: &Templates,
    lock: Option<&lock_file::LockFile>,
) -> Result<Diagnostics, ExitCode> {
    let fingerprints = fingerprints(catalogue, templates)?;
    Ok(lock_file::verify::check(catalogue, lock, &fingerprints))
}

fn fingerprints(
    catalogue: &Catalogue,
    templates: &Templates,
) -> Result<fingerprint::Fingerprints, ExitCode> {
    fingerprint::fingerprints(catalogue, templates).map_err(|d| {
        cli::report(&d, false);
        eprintln!("rulecast: rendering failed ({})", cli::summary_line(&d));
        ExitCode::from(1)
    })
}

/// `rulecast lock`.
pub(super) fn run(cli: &Cli, targets: &Arc<Targets>, args: &LockArgs) -> std::io::Result<ExitCode> {
    let (catalogue, templates) = match cli::load(cli, targets) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let existing = match cli::read_lock(cli) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let today = match &args.date {
        Some(d) => d.clone(),
        None => match date::today() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let fingerprints = match fingerprints(&catalogue, &templates) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let pack_version = args
        .pack_version
        .clone()
        .or_else(|| existing.as_ref().map(|l| l.lock.pack_version.clone()))
        .unwrap_or_else(|| crate::PACK_VERSION_DEFAULT.to_owned());
    let update = match lock_file::update::update(
        &catalogue,
        existing.as_ref(),
        &fingerprints,
        &today,
        &pack_version,
    ) {
        Ok(u) => u,
        Err(problems) => {
            cli::report(&problems, false);
            eprintln!(
                "rulecast: the lock cannot be updated ({}); nothing was written",
                cli::summary_line(&problems)
            );
            return Ok(ExitCode::from(1));
        }
    };
    for (path, text) in &update.files {
        std::fs::write(path, text).map_err(crate::files::context("write", path))?;
    }
    let path = lock_file::path(&catalogue.root);
    let unchanged = existing.as_ref().is_some_and(|l| l.lock == update.lock);
    if !unchanged {
        lock_file::write(&catalogue.root, &update.lock)?;
    }
    for action in &update.actions {
        println!("{action}");
    }
    if existing
        .as_ref()
        .is_some_and(|l| l.lock.pack_version != update.lock.pack_version)
    {
        println!("pack version {}", update.lock.pack_version);
    }
    if unchanged {
        eprintln!("rulecast: {} is up to date", display_path(&path));
    } else {
        eprintln!(
            "rulecast: wrote {}; run `rulecast build` and commit the catalogue, the lock and {}",
            display_path(&path),
            display_path(&cli.output)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_versions() {
        assert!(parse_pack_version("1.4.0").is_ok());
        for bad in ["1.4", "1.4.0-rc1", "v1.4.0", "01.2.3", "1..3"] {
            assert!(parse_pack_version(bad).is_err(), "{bad}");
        }
    }
}
