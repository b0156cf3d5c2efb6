//! The command-line side of `rulecast release`: the refusals, then the files.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{self, Cli};
use crate::diagnostic::display_path;
use crate::git::Repo;
use crate::lock::LOCK_FILE;
use crate::release::{self, previous_lock, uncommitted};
use crate::targets::Targets;

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ReleaseArgs {
    /// The release version (X.Y.Z); must be the lock's pack version.
    #[arg(long = "version", value_name = "X.Y.Z", value_parser = cli::lock::parse_pack_version)]
    pub release_version: String,
    /// Folder to write the release files to.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub out: PathBuf,
    /// The previous release, for the changelog (default: the newest tag vX.Y.Z below --version).
    #[arg(long, value_name = "REF")]
    pub previous: Option<String>,
    #[command(flatten)]
    pub pack: crate::pack::Selection,
    /// Release without running the detections' tests (by default a release is refused when a
    /// test case fails, as `rulecast check` would fail).
    #[arg(long)]
    pub no_tests: bool,
}

fn refuse(message: impl std::fmt::Display) -> std::io::Result<ExitCode> {
    eprintln!("error: {message}");
    eprintln!("rulecast: no release was written");
    Ok(ExitCode::from(1))
}

pub(super) fn run(
    cli: &Cli,
    targets: &Arc<Targets>,
    args: &ReleaseArgs,
) -> std::io::Result<ExitCode> {
    let version = &args.release_version;
    let repo = match Repo::discover(&cli.catalogue) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    // The release folder is claimed first: the dirty-tree check below leaves out exactly the
    // folder the release replaces, so that folder can hold nothing the check should have seen.
    let mut rules = cli::output_rules(cli, targets, "release folder");
    rules.protected.push(crate::output::Protected::apart(
        "the output folder",
        &cli.output,
    ));
    // A folder without the marker is taken over only when it holds nothing but the files of an
    // earlier release (from a rulecast before the marker).
    rules.adoptable = Box::new(|entries| {
        entries.iter().all(|(_, is_dir)| !is_dir)
            && [release::CHECKSUMS, release::MANIFEST]
                .iter()
                .all(|f| entries.iter().any(|(name, _)| name == f))
    });
    let claimed = match cli::claim_output(&args.out, &rules) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match uncommitted(&repo, claimed.path()) {
        Ok(paths) if paths.is_empty() => {}
        Ok(paths) => {
            let paths: Vec<_> = paths
                .iter()
                .map(|p| crate::diagnostic::escape_controls(p))
                .collect();
            return refuse(format!(
                "the working tree has uncommitted changes ({}); a release is made from a commit so it can be rebuilt from its tag",
                paths.join(", ")
            ));
        }
        Err(e) => return refuse(e),
    }
    let (catalogue, templates) = match cli::load(cli, targets) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let lock_file = match cli::read_lock(cli) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let base = match cli::base_for_lock(cli, targets) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    match cli::lock::check(
        base.as_ref().unwrap_or(&catalogue),
        &templates,
        lock_file.as_ref(),
    ) {
        Ok(problems) if problems.has_errors() => {
            cli::report(&problems, false);
            return refuse(
                "the catalogue and its lock disagree (see above); fix them as `rulecast check` says",
            );
        }
        Ok(_) => {}
        Err(code) => return Ok(code),
    }
    // What `check` gates on gates a release too: the tests, and exclusions past their date.
    let today = match cli::today(None) {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let expiry = crate::catalogue::exclusion::expiry(&catalogue, &today);
    cli::report(&expiry, cli.quiet);
    if expiry.has_errors() {
        return refuse("an exclusion has expired (see above); renew or remove it");
    }
    if !args.no_tests {
        let (problems, summary) = cli::test_gate(&catalogue);
        if problems.has_errors() {
            cli::report(&problems, false);
            return refuse(format!(
                "the detections' tests fail ({summary}); fix them, as `rulecast test` shows"
            ));
        }
    }
    let lock = lock_file.expect("check fails without a lock").lock;
    if &lock.pack_version != version {
        return refuse(format!(
            "{LOCK_FILE} says the pack version is {}; run `rulecast lock --pack-version {version}` and `rulecast build`, commit, then release",
            lock.pack_version
        ));
    }
    // The committed output must be what is released, or deployments from generated/ and from
    // the release would differ.
    let full = match cli::render(cli, &catalogue, &templates, &lock, version) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let drift = crate::output::compare(&cli.output, &full.tree)?;
    if !drift.is_clean() {
        eprint!("{}", drift.summary(&cli.output, 6));
        return refuse(format!(
            "{} is not what the catalogue renders to; run `rulecast build` and commit",
            display_path(&cli.output)
        ));
    }

    let selected = args.pack.apply(catalogue.clone());
    if selected.detections.is_empty() {
        return refuse(format!(
            "no detection is selected ({})",
            args.pack.describe()
        ));
    }
    let rendered = match cli::render(cli, &selected, &templates, &lock, version) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let previous = match previous_lock(&repo, &cli.catalogue, args.previous.as_deref(), version) {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    let files = match release::files(
        &selected,
        &lock,
        &rendered.tree,
        version,
        &args.pack,
        previous.as_ref().map(|(v, l)| (v.as_str(), l)),
        &catalogue,
    ) {
        Ok(f) => f,
        Err(e) => return refuse(e),
    };
    if let Err(e) = claimed.write(&files) {
        return Ok(cli::output_failed(&e));
    }
    for name in files.keys() {
        writeln!(std::io::stdout(), "{}", display_path(&args.out.join(name)))?;
    }
    eprintln!(
        "rulecast: released {} {version} ({}, {} detections) to {}",
        catalogue.config.name,
        args.pack.describe(),
        selected.detections.len(),
        display_path(&args.out)
    );
    Ok(ExitCode::SUCCESS)
}
