//! The command-line side of `rulecast release`: the refusals, then the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::manifest::TargetFile;
use super::{Files, archive, changelog};
use crate::cli::{self, Cli};
use crate::diagnostic::display_path;
use crate::git::Repo;
use crate::lock::{self, LOCK_FILE, Lock};
use crate::targets;

#[derive(clap::Args, Debug, Clone)]
pub struct ReleaseArgs {
    /// The release version (X.Y.Z); must be the lock's pack version.
    #[arg(long = "version", value_name = "X.Y.Z", value_parser = lock::command::parse_pack_version)]
    pub release_version: String,
    /// Folder to write the release files to.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub out: PathBuf,
    /// The previous release, for the changelog (default: the newest tag vX.Y.Z below --version).
    #[arg(long, value_name = "REF")]
    pub previous: Option<String>,
    #[command(flatten)]
    pub pack: crate::pack::Selection,
}

fn refuse(message: impl std::fmt::Display) -> std::io::Result<ExitCode> {
    eprintln!("error: {message}");
    eprintln!("rulecast: no release was written");
    Ok(ExitCode::from(1))
}

pub fn run(cli: &Cli, args: &ReleaseArgs) -> std::io::Result<ExitCode> {
    let version = &args.release_version;
    let repo = match Repo::discover(&cli.catalogue) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    // The release folder is claimed first: the dirty-tree check below leaves out exactly the
    // folder the release replaces, so that folder can hold nothing the check should have seen.
    let mut rules = cli::output_rules(cli, "release folder");
    rules.protected.push(crate::output::Protected::apart(
        "the output folder",
        &cli.output,
    ));
    rules.adoptable = |entries| {
        entries.iter().all(|(_, is_dir)| !is_dir)
            && ["SHA256SUMS", "manifest.json"]
                .iter()
                .all(|f| entries.iter().any(|(name, _)| name == f))
    };
    let claimed = match cli::claim_output(&args.out, &rules) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match uncommitted(&repo, claimed.path()) {
        Ok(paths) if paths.is_empty() => {}
        Ok(paths) => {
            return refuse(format!(
                "the working tree has uncommitted changes ({}); a release is made from a commit so it can be rebuilt from its tag",
                paths.join(", ")
            ));
        }
        Err(e) => return refuse(e),
    }
    let (catalogue, templates) = match cli::load(cli) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let lock_file = match cli::read_lock(cli) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    match lock::command::check(&catalogue, &templates, lock_file.as_ref()) {
        Ok(problems) if problems.has_errors() => {
            cli::report(&problems, false);
            return refuse(
                "the catalogue and its lock disagree (see above); fix them as `rulecast check` says",
            );
        }
        Ok(_) => {}
        Err(code) => return Ok(code),
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

    let selected = args.pack.apply(&catalogue);
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
    let files = match files(
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
        println!("{}", display_path(&args.out.join(name)));
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

/// Uncommitted paths, leaving out only what is inside the release folder (resolved), which may
/// sit in the tree. The claim has made sure that folder holds neither the catalogue nor the
/// working folder, so nothing a release is built from can hide in it.
fn uncommitted(repo: &Repo, out: &Path) -> Result<Vec<String>, String> {
    let top = repo.top.canonicalize().map_err(|e| e.to_string())?;
    Ok(repo
        .dirty()?
        .into_iter()
        .filter(|p| {
            let path = top.join(p.trim_end_matches('/'));
            path == out || !path.starts_with(out)
        })
        .map(|p| crate::diagnostic::escape_controls(&p).into_owned())
        .collect())
}

/// The previous release's version and lock, if there is one.
fn previous_lock(
    repo: &Repo,
    catalogue_dir: &Path,
    explicit: Option<&str>,
    version: &str,
) -> Result<Option<(String, Lock)>, String> {
    let reference = match explicit {
        Some(r) => r.to_owned(),
        None => match super::previous_tag(&repo.tags("v*")?, version) {
            Some(tag) => tag,
            None => return Ok(None),
        },
    };
    let path = format!("{}/{LOCK_FILE}", repo.relative(catalogue_dir)?);
    let text = repo.read(&reference, &path)?.ok_or_else(|| {
        format!("`{reference}` has no {path}; pass the previous release with --previous REF")
    })?;
    let text =
        String::from_utf8(text).map_err(|_| format!("{path} at `{reference}` is not UTF-8"))?;
    let lock = Lock::parse(&text, Path::new(&format!("{reference}:{path}")))
        .map_err(|d| d.to_string())?
        .lock;
    Ok(Some((lock.pack_version.clone(), lock)))
}

fn files(
    selected: &crate::catalogue::Catalogue,
    lock: &Lock,
    tree: &crate::output::Tree,
    version: &str,
    pack: &crate::pack::Selection,
    previous: Option<(&str, &Lock)>,
    catalogue: &crate::catalogue::Catalogue,
) -> Result<Files, String> {
    let name = &selected.config.name;
    let app = &selected.config.splunk.app_id;
    let io = |e: std::io::Error| format!("cannot build an archive: {e}");
    let mut files = Files::new();
    let mut targets_files = BTreeMap::new();
    let mut record = |target: &str, file: String| {
        let description = targets::by_name(target)
            .map(|t| t.description().to_owned())
            .unwrap_or_default();
        targets_files.insert(target.to_owned(), TargetFile { description, file });
    };

    let sentinel = super::subtree(tree, "sentinel", |p| {
        p.starts_with("rules/") || p == "azuredeploy.json"
    });
    let file = format!("{name}-{version}-sentinel.zip");
    files.insert(file.clone(), archive::zip(&sentinel).map_err(io)?);
    record("sentinel", file);

    let splunk = super::subtree(tree, "splunk", |_| true);
    let file = format!("{app}-{version}.tgz");
    files.insert(file.clone(), archive::tar_gz(&splunk).map_err(io)?);
    record("splunk", file);

    let sigma = super::subtree(tree, "sigma", |_| true);
    let file = format!("{name}-{version}-sigma.zip");
    files.insert(file.clone(), archive::zip(&sigma).map_err(io)?);
    record("sigma", file);

    let azure = super::subtree(tree, "azure-monitor", |p| p == "azuredeploy.json");
    let file = format!("{name}-{version}-azure-monitor.json");
    files.insert(
        file.clone(),
        azure
            .into_values()
            .next()
            .ok_or("the Azure Monitor combined template was not rendered")?,
    );
    record("azure-monitor", file);

    let manifest =
        super::manifest::manifest(selected, lock, version, &pack.describe(), targets_files);
    let mut json = serde_json::to_string_pretty(&manifest).expect("the manifest serialises");
    json.push('\n');
    files.insert("manifest.json".to_owned(), json.into_bytes());

    let included = |id: &str| selected.detections.iter().any(|d| d.meta.id == id);
    files.insert(
        "CHANGELOG.md".to_owned(),
        changelog::section(version, previous, lock, catalogue, &included).into_bytes(),
    );

    let sums = super::checksums(&files);
    files.insert("SHA256SUMS".to_owned(), sums.into_bytes());
    Ok(files)
}
