//! `rulecast diff <ref>`.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{self, Cli};
use crate::diff::base::{self, BaseError};
use crate::diff::{State, report};
use crate::git::Repo;
use crate::targets::Targets;

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DiffArgs {
    /// The git ref to compare the working tree with, e.g. origin/main (in a shallow CI clone,
    /// fetch it first: `git fetch --depth=1 origin main`).
    pub base: String,
    #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
    pub format: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DiffFormat {
    /// For a pull-request comment.
    Markdown,
    Json,
}

pub(super) fn run(cli: &Cli, targets: &Arc<Targets>, args: &DiffArgs) -> std::io::Result<ExitCode> {
    if let Err(code) = cli::refuse_environment(cli, "diff") {
        return Ok(code);
    }
    let (catalogue, templates) = match cli::load(cli, targets) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let loaded = Repo::discover(&cli.catalogue)
        .map_err(BaseError::from)
        .and_then(|repo| base::load(&repo, &args.base, &cli.catalogue, targets))
        .and_then(|b| b.state(&templates));
    let base_state = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let head_state = match crate::lock::fingerprint::fingerprints(&catalogue, &templates) {
        Ok(hashes) => State::new(&catalogue, &hashes),
        Err(d) => {
            cli::report(&d, false);
            return Ok(ExitCode::from(1));
        }
    };
    let diff = crate::diff::compare(&args.base, &base_state, &head_state);
    match args.format {
        DiffFormat::Markdown => write!(std::io::stdout(), "{}", report::markdown(&diff))?,
        DiffFormat::Json => writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&diff).expect("the report serialises")
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
