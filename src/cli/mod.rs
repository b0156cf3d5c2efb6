//! The command-line interface: a thin layer over the library.
//!
//! Exit codes (also in `--help`):
//!   0  success
//!   1  the catalogue, the output or the tests are not right (findings were printed)
//!   2  the command line is wrong
//!   3  an I/O error stopped the command
//!   4  `scan` did not understand the log: no record was recognised, or (`--strict`) one was
//!      skipped

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::build;
use crate::catalogue::Catalogue;
use crate::diagnostic::{Diagnostics, display_path};
use crate::output;
use crate::render::Templates;
use crate::scan::output::{AlertWriter, ScanFormat};
use crate::schema::{self, SchemaKind};
use crate::targets::{Target, Targets};
use crate::testing;

mod annotations;
mod diff;
mod lock;
mod release;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  findings: invalid catalogue, generated/ out of date, failed tests, lock problems
  2  invalid command line
  3  I/O error
  4  scan: no record of the log was recognised, or (--strict) a record was skipped";

/// More scan workers than this only contend for the same cores (and a count in the millions
/// would exhaust the system's threads).
const MAX_SCAN_THREADS: i64 = 256;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "rulecast",
    version,
    about = "Compile one reviewed YAML catalogue of detections into Sentinel, Splunk, Sigma and Azure Monitor content",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The catalogue folder [default: from rulecast-project.yaml, else detections/ of the
    /// nearest folder, this one or a parent, that has detections/rulecast.yaml].
    #[arg(long = "catalogue", global = true, value_name = "DIR")]
    pub(crate) catalogue_arg: Option<PathBuf>,
    /// The catalogue folder the command uses.
    #[arg(skip)]
    pub(crate) catalogue: PathBuf,
    /// The project settings (rulecast-project.yaml), found from the current folder up.
    #[arg(skip)]
    pub(crate) project: crate::project::Project,
    /// The output folder [default: generated; for an environment, generated-NAME].
    #[arg(long = "output", global = true, value_name = "DIR")]
    pub(crate) output_arg: Option<PathBuf>,
    /// The output folder the command uses: `--output`, else the environment's default.
    #[arg(skip)]
    pub(crate) output: PathBuf,
    /// The environment of rulecast.yaml to build, check, test or release (its overrides applied);
    /// `base` is the catalogue as written.
    #[arg(long = "env", global = true, value_name = "NAME", env = "RULECAST_ENV")]
    pub(crate) env: Option<String>,
    /// A folder of templates that override the built-in ones by name (e.g. DIR/sentinel/rule.yaml.tera).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) templates: Option<PathBuf>,
    /// Do not print warnings.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug, Clone)]
pub(crate) enum Command {
    /// Render the catalogue into the output folder (atomically; stale files are removed).
    #[command(after_help = EXIT_CODES)]
    Build {
        #[command(flatten)]
        pack: crate::pack::Selection,
    },
    /// Validate the catalogue and the version lock, and fail when the output folder is not what
    /// the catalogue renders to. This is the gate a pull request runs. It never writes anything.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Bump the version of every changed detection by one and update the version lock.
    #[command(after_help = EXIT_CODES)]
    Lock(lock::LockArgs),
    /// Compare the catalogue with the one at a git ref: added, changed, deprecated and removed
    /// detections, version moves and risky changes, as Markdown for a pull-request comment.
    #[command(after_help = EXIT_CODES)]
    Diff(diff::DiffArgs),
    /// Write the release files of a content-pack version: Sentinel zip, Splunk app .tgz, Sigma
    /// zip, Azure Monitor template, manifest.json, CHANGELOG.md and SHA256SUMS (reproducible).
    #[command(after_help = EXIT_CODES)]
    Release(release::ReleaseArgs),
    /// Print a shell completion script: `rulecast completions bash > /etc/bash_completion.d/rulecast`,
    /// `rulecast completions zsh > ~/.zfunc/_rulecast`, `rulecast completions fish >
    /// ~/.config/fish/completions/rulecast.fish`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Check a generated tree on disk the way each platform reads it (Sentinel template rules,
    /// Splunk .conf and SPL structure, YAML and JSON syntax). Needs no catalogue.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The tree to check (default: the output folder).
        dir: Option<PathBuf>,
    },
    /// List the detections, their guide rows and targets.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the targets: what each writes, its release file, and which conformance checker
    /// judges which of its files (the JSON form is what conformance/run reads).
    Targets {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run every detection's test cases: events that must alert and near misses that must not.
    ///
    /// Each case runs as Log Analytics rows and as the diagnostic records Splunk receives; both
    /// must raise the same alerts. Fails when a case fails or a detection lacks either kind of
    /// case (deprecated detections are exempt).
    #[command(after_help = EXIT_CODES)]
    Test {
        /// Only this detection: its name (section/name or name) or id. Repeat for several.
        #[arg(long = "detection", value_name = "NAME_OR_ID")]
        detections: Vec<String>,
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
    },
    /// Run the detections over an exported log and print their alerts.
    ///
    /// Reads what people export: Log Analytics rows (JSON lines, arrays, {"value"}, the query
    /// API's {"tables"}, "Export to CSV"), diagnostic-setting records (one per line or Event
    /// Hub {"records"} batches), Microsoft Graph directoryAudits, the Entra admin center's CSV
    /// download and the Activity Log REST / az CLI shape; gzip-compressed or not; from a file,
    /// a pipe or standard input (`--logs -`). Each record is routed by its own fields; records
    /// of other categories or unknown shapes are counted and named. Events are expected oldest
    /// first. The exit code does not depend on finding alerts: 3 when the log cannot be read,
    /// 4 when nothing in it was recognised (or, with --strict, anything was skipped).
    #[command(after_help = EXIT_CODES)]
    Scan {
        /// The log file; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        logs: PathBuf,
        /// Only this detection: its name (section/name or name) or id. Repeat for several.
        #[arg(long = "detection", value_name = "NAME_OR_ID")]
        detections: Vec<String>,
        #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
        format: ScanFormat,
        /// Worker threads, 1 to 256 (default: one per CPU).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_SCAN_THREADS))]
        threads: Option<u16>,
        /// Exit with 4 when any record was skipped (unknown shape, other category, no time,
        /// unparseable time, not JSON), not only when none was recognised. Every record is
        /// then parsed, also those that hold none of the texts the detections require.
        #[arg(long)]
        strict: bool,
        /// Replay the file as this target's deployed rules would run over it (sentinel, splunk,
        /// azure-monitor): a run at every scheduled time, each over its look-back, reporting
        /// what is new and folding repeats as the platform does. Prints every alert the
        /// platform would raise with its run time, then a backtest table per detection.
        #[arg(long, value_name = "TARGET")]
        schedule: Option<String>,
        /// With --schedule: how long after its time each event reaches the SIEM, e.g. 20m
        /// (default: on time).
        #[arg(long, value_name = "DURATION", requires = "schedule")]
        ingestion_delay: Option<crate::catalogue::duration::Duration>,
    },
    /// Print the JSON Schema of a catalogue file format (committed under detections/).
    Schema {
        #[arg(long, value_enum, default_value_t = SchemaKind::Detection)]
        kind: SchemaKind,
        /// Write every schema to its committed place in the catalogue folder instead of printing.
        #[arg(long)]
        write: bool,
        /// Print the catalogue reference instead: every key of every file format and every
        /// modifier, in Markdown (docs/catalogue-reference.md).
        #[arg(long, conflicts_with = "write")]
        reference: bool,
    },
}

/// The options of `rulecast check`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub pack: crate::pack::Selection,
    /// The day exclusions are checked against (YYYY-MM-DD; default: SOURCE_DATE_EPOCH, else
    /// today in UTC): an expired one fails, one that expires within 14 days warns.
    #[arg(long, value_name = "DATE", value_parser = crate::lock::date::parse)]
    pub date: Option<String>,
    /// Do not run the detections' tests (by default `check` fails when a test case fails, as
    /// `rulecast test` would).
    #[arg(long)]
    pub no_tests: bool,
    /// Also write the findings to stdout as CI annotations: `github` (workflow commands, shown
    /// on the pull request's changed lines) or `sarif` (SARIF 2.1.0, for code scanning).
    #[arg(long, value_name = "FORMAT")]
    pub annotations: Option<annotations::Annotations>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestFormat {
    Text,
    Junit,
    Json,
}

/// Entry point of the binary: rulecast's own targets.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli, &Targets::builtin()) {
        Ok(code) => code,
        // The reader went away (`rulecast list | head -1`): what it wanted it has; stop quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

impl Cli {
    /// The command line with its defaults filled in: the output folder is `--output`, else
    /// `generated-NAME` for environment NAME, else `generated`.
    fn resolved(&self) -> Result<Cli, crate::diagnostic::Diagnostic> {
        let mut cli = self.clone();
        let here = std::env::current_dir().unwrap_or_default();
        let project = crate::project::Project::discover(&here)?;
        let settings = &project.file;
        if cli.env.is_none() {
            cli.env.clone_from(&settings.environment);
        }
        if cli.templates.is_none() {
            cli.templates = settings.templates.as_deref().map(|t| project.path(t));
        }
        cli.catalogue = match (&cli.catalogue_arg, &settings.catalogue) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => project.path(dir),
            (None, None) => project.path(Path::new("detections")),
        };
        let environment = cli.environment();
        cli.output = match (&cli.output_arg, &settings.output, environment) {
            (Some(dir), _, _) => dir.clone(),
            (None, Some(dir), None) => project.path(dir),
            (None, Some(dir), Some(name)) => {
                project.path(Path::new(&format!("{}-{name}", dir.display())))
            }
            (None, None, Some(name)) => project.path(Path::new(&format!("generated-{name}"))),
            (None, None, None) => project.path(Path::new("generated")),
        };
        cli.project = project;
        Ok(cli)
    }

    /// The environment chosen, unless it is the catalogue as written.
    pub(crate) fn environment(&self) -> Option<&str> {
        self.env
            .as_deref()
            .filter(|name| *name != crate::catalogue::environment::BASE)
    }
}

/// Runs a parsed command line for `targets` (a program that registers its own targets runs
/// the CLI with them).
pub fn run(cli: &Cli, targets: &Arc<Targets>) -> std::io::Result<ExitCode> {
    let cli = &match cli.resolved() {
        Ok(cli) => cli,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::from(2));
        }
    };
    match &cli.command {
        Command::Build { pack } => build_command(cli, targets, pack),
        Command::Check(args) => check_command(cli, targets, args),
        Command::Lock(args) => lock::run(cli, targets, args),
        Command::Diff(args) => diff::run(cli, targets, args),
        Command::Release(args) => release::run(cli, targets, args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "rulecast", &mut script);
            std::io::stdout().lock().write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { dir } => verify_command(dir.as_deref().unwrap_or(&cli.output), targets),
        Command::List { format } => list_command(cli, targets, *format),
        Command::Targets { format } => targets_command(targets, *format),
        Command::Test { detections, format } => test_command(cli, targets, detections, *format),
        Command::Scan {
            logs,
            detections,
            format,
            threads,
            strict,
            schedule,
            ingestion_delay,
        } => scan_command(
            cli,
            targets,
            logs,
            detections,
            ScanOptions {
                format: *format,
                threads: threads.map(usize::from),
                strict: *strict,
                schedule: schedule.as_deref(),
                ingestion_delay: *ingestion_delay,
            },
        ),
        Command::Schema {
            kind,
            write,
            reference,
        } => {
            if *reference {
                write!(std::io::stdout(), "{}", crate::reference::markdown(targets))?;
                Ok(ExitCode::SUCCESS)
            } else {
                schema_command(cli, targets, *kind, *write)
            }
        }
    }
}

pub(crate) fn report(diagnostics: &Diagnostics, quiet: bool) {
    for d in diagnostics.iter() {
        if quiet && !d.is_error() {
            continue;
        }
        // `eprintln!`, not a locked handle: a test that runs the CLI in its process then
        // captures the report like any other output.
        eprintln!("{d}");
    }
}

pub(crate) fn summary_line(diagnostics: &Diagnostics) -> String {
    let (e, w) = (diagnostics.error_count(), diagnostics.warning_count());
    format!(
        "{e} error{}, {w} warning{}",
        if e == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" }
    )
}

/// Loads the catalogue and templates, or prints why not.
pub(crate) fn load(cli: &Cli, targets: &Arc<Targets>) -> Result<(Catalogue, Templates), ExitCode> {
    load_collecting(cli, targets).map_err(|(code, _)| code)
}

/// [`load`], also giving back the problems it reported (for `check --annotations`).
fn load_collecting(
    cli: &Cli,
    targets: &Arc<Targets>,
) -> Result<(Catalogue, Templates), (ExitCode, Diagnostics)> {
    // The templates compile while the catalogue loads: neither reads the other.
    let (catalogue, templates) = std::thread::scope(|scope| {
        let templates = scope.spawn(|| Templates::load(targets, cli.templates.as_deref()));
        let catalogue =
            Catalogue::load_environment(&cli.catalogue, targets.clone(), cli.environment());
        (catalogue, joined(templates))
    });
    match (catalogue, templates) {
        (Ok(mut c), Ok(t)) => {
            c.warnings = cli.project.acknowledge(&c.warnings);
            report(&c.warnings, cli.quiet);
            Ok((c, t))
        }
        (c, t) => {
            let mut all = Diagnostics::new();
            if let Err(d) = c {
                all.extend(d);
            }
            if let Err(d) = t {
                all.extend(d);
            }
            report(&all, false);
            eprintln!(
                "rulecast: the catalogue has problems ({}); nothing was written",
                summary_line(&all)
            );
            Err((ExitCode::from(1), all))
        }
    }
}

/// Reads the version lock, or prints why not. A catalogue without one renders with its own
/// versions and creation dates (and `check` says to create it).
pub(crate) fn read_lock(cli: &Cli) -> Result<Option<crate::lock::LockFile>, ExitCode> {
    crate::lock::read(&cli.catalogue).map_err(|d| {
        eprintln!("{d}");
        ExitCode::from(1)
    })
}

/// Renders the selected detections, stamped from the lock, at `pack_version`.
pub(crate) fn render(
    cli: &Cli,
    catalogue: &Catalogue,
    templates: &Templates,
    lock: &crate::lock::Lock,
    pack_version: &str,
) -> Result<build::Rendered, ExitCode> {
    let stamps = |d: &crate::catalogue::Detection| lock.stamp(d);
    rendered(
        cli,
        build::render(catalogue, templates, &stamps, pack_version)
            .map_err(build::Failure::Findings),
    )
}

/// Reports the warnings of a rendering, or why it failed.
fn rendered(
    cli: &Cli,
    result: Result<build::Rendered, build::Failure>,
) -> Result<build::Rendered, ExitCode> {
    match result {
        Ok(mut r) => {
            r.warnings = cli.project.acknowledge(&r.warnings);
            report(&r.warnings, cli.quiet);
            Ok(r)
        }
        Err(build::Failure::Findings(d)) => {
            report(&d, false);
            eprintln!(
                "rulecast: rendering failed ({}); nothing was written",
                summary_line(&d)
            );
            Err(ExitCode::from(1))
        }
        Err(build::Failure::Io(e)) => Err(output_failed(&output::OutputError::Io(e))),
    }
}

/// The rules for a folder rulecast replaces: never the catalogue or the templates, and a
/// folder without rulecast's marker only when it holds nothing but target folders (the output
/// of a rulecast from before the marker).
pub(crate) fn output_rules<'a>(
    cli: &'a Cli,
    targets: &'a Targets,
    role: &'a str,
) -> output::Rules<'a> {
    let mut protected = vec![output::Protected::apart("the catalogue", &cli.catalogue)];
    if let Some(templates) = &cli.templates {
        protected.push(output::Protected::apart("the templates folder", templates));
    }
    output::Rules {
        role,
        protected,
        adoptable: Box::new(|entries| {
            entries
                .iter()
                .all(|(name, is_dir)| *is_dir && targets.get(name).is_some())
        }),
        on_wait: &|path| {
            eprintln!(
                "rulecast: waiting for another rulecast to finish writing {}",
                display_path(path)
            );
        },
    }
}

/// Claims the folder a command writes, printing what the claim resolved; or reports why not.
pub(crate) fn claim_output(
    path: &std::path::Path,
    rules: &output::Rules,
) -> Result<output::Claimed, ExitCode> {
    match output::claim(path, rules) {
        Ok(claimed) => {
            for note in &claimed.notes {
                eprintln!("note: {note}");
            }
            Ok(claimed)
        }
        Err(e) => Err(output_failed(&e)),
    }
}

/// Reports an output that could not be written; the exit code says whether the command line or
/// the system is to blame.
pub(crate) fn output_failed(e: &output::OutputError) -> ExitCode {
    let mut all = Diagnostics::new();
    all.push(e.to_diagnostic());
    report(&all, false);
    eprintln!("rulecast: nothing was written");
    ExitCode::from(e.exit_code())
}

fn build_command(
    cli: &Cli,
    targets: &Arc<Targets>,
    pack: &crate::pack::Selection,
) -> std::io::Result<ExitCode> {
    // The claim is held for the whole build: another build of the same folder waits, so the
    // output is always the complete work of one build.
    let claimed = match claim_output(&cli.output, &output_rules(cli, targets, "output folder")) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let (catalogue, templates) = match load(cli, targets) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let lock = match read_lock(cli) {
        Ok(l) => l
            .map(|l| l.lock)
            .unwrap_or_else(|| crate::lock::Lock::new(crate::PACK_VERSION_DEFAULT)),
        Err(code) => return Ok(code),
    };
    let catalogue = pack.apply(catalogue);
    // Each target's files go to the temporary folder as soon as the target has rendered and
    // checked them; the folder is swapped in only when every target has.
    let staging = match claimed.stage() {
        Ok(s) => s,
        Err(e) => return Ok(output_failed(&e)),
    };
    let stamps = |d: &crate::catalogue::Detection| lock.stamp(d);
    let threads = crate::catalogue::cores();
    let result = build::render_to(
        &catalogue,
        &templates,
        &stamps,
        &lock.pack_version,
        threads,
        &staging,
    );
    let rendered = match rendered(cli, result) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let files = staging.len();
    if let Err(e) = staging.commit() {
        return Ok(output_failed(&e));
    }
    eprintln!(
        "rulecast: wrote {} files for {} detections to {}",
        files,
        catalogue.detections.len(),
        display_path(&cli.output)
    );
    // The claim is dropped as usual (it releases the lock); the rest is left to the exit.
    let _ = kept_until_exit((catalogue, templates, lock, rendered));
    Ok(ExitCode::SUCCESS)
}

/// The day `check` judges exclusions on: `--date`, else SOURCE_DATE_EPOCH, else the clock; or
/// the exit code after saying why not.
pub(crate) fn today(date: Option<&String>) -> Result<String, ExitCode> {
    match date {
        Some(d) => Ok(d.clone()),
        None => crate::lock::date::today().map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }),
    }
}

/// The catalogue as written when `catalogue` is an environment's (the lock records the
/// catalogue as written; an environment's pack is stamped with its versions); `None` when it
/// is the catalogue as written.
pub(crate) fn base_for_lock(
    cli: &Cli,
    targets: &Arc<Targets>,
) -> Result<Option<Catalogue>, ExitCode> {
    if cli.environment().is_none() {
        return Ok(None);
    }
    Catalogue::load_with(&cli.catalogue, targets.clone())
        .map(Some)
        .map_err(|d| {
            report(&d, false);
            eprintln!(
                "rulecast: the catalogue as written has problems ({})",
                summary_line(&d)
            );
            ExitCode::from(1)
        })
}

/// Refuses `--env` for a command that works on the catalogue as written.
pub(crate) fn refuse_environment(cli: &Cli, command: &str) -> Result<(), ExitCode> {
    match cli.environment() {
        None => Ok(()),
        Some(name) => {
            eprintln!(
                "error: `rulecast {command}` works on the catalogue as written, not on environment `{name}`\n  = help: run it without --env (and without RULECAST_ENV)"
            );
            Err(ExitCode::from(2))
        }
    }
}

/// Runs every detection's tests, as `rulecast test` would: the failures located at their cases,
/// and a summary (`170 of 174 test cases passed`). `check` and `release` gate on it.
pub(crate) fn test_gate(catalogue: &Catalogue) -> (Diagnostics, String) {
    let all: Vec<usize> = (0..catalogue.detections.len()).collect();
    let run = testing::run(catalogue, &all);
    let (cases, failures, _) = run.counts();
    (
        testing::diagnostics(&run, catalogue),
        format!("{} of {cases} test cases passed", cases - failures),
    )
}

/// `value` (a loaded catalogue, or what a build made from it), never freed: the command ends
/// the process soon after, which hands its memory back at once, while freeing it (millions of
/// allocations for a large catalogue) takes a tenth of a second on one core, after the
/// command's work is done.
fn kept_until_exit<T>(value: T) -> std::mem::ManuallyDrop<T> {
    std::mem::ManuallyDrop::new(value)
}

/// What a part of a command run on a thread of its own returned.
fn joined<T>(part: std::thread::ScopedJoinHandle<'_, T>) -> T {
    part.join().expect("a part of the command panicked")
}

/// The pack rendered in memory (its findings not yet reported) and how `generated/` differs from it.
fn render_and_compare(
    cli: &Cli,
    catalogue: &Catalogue,
    templates: &Templates,
    lock: &crate::lock::Lock,
) -> (
    Result<build::Rendered, Diagnostics>,
    std::io::Result<output::Drift>,
) {
    let stamps = |d: &crate::catalogue::Detection| lock.stamp(d);
    let rendered = build::render(catalogue, templates, &stamps, &lock.pack_version);
    let drift = match &rendered {
        Ok(r) => {
            // A build swapping the folder in the middle of the reading would look like drift.
            let _shared = output::read_lock(&cli.output);
            output::compare(&cli.output, &r.tree)
        }
        Err(_) => Ok(output::Drift::default()),
    };
    (rendered, drift)
}

/// The committed schemas (optional in a catalogue) that are not current, or do not read.
fn committed_schemas(cli: &Cli, targets: &Targets) -> Diagnostics {
    let mut out = Diagnostics::new();
    for kind in SchemaKind::ALL {
        let path = cli.catalogue.join(kind.committed_path());
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        match crate::yaml::read_text(&path, &path) {
            Err(d) => out.push(d),
            Ok(current) if current != schema::schema_text(kind, targets) => out.push(
                crate::diagnostic::Diagnostic::error(format!(
                    "{} is not the current schema",
                    display_path(&path)
                ))
                .in_file(&path)
                .with_help("run `rulecast schema --write`"),
            ),
            Ok(_) => {}
        }
    }
    out
}

fn check_command(cli: &Cli, targets: &Arc<Targets>, args: &CheckArgs) -> std::io::Result<ExitCode> {
    let mut findings = Diagnostics::new();
    let code = check_findings(cli, targets, args, &mut findings)?;
    if let Some(format) = args.annotations {
        std::io::stdout()
            .lock()
            .write_all(annotations::render(format, &findings.sorted()).as_bytes())?;
    }
    Ok(code)
}

/// Reports `problems` (warnings unless `quiet`) and keeps them in `findings`; whether one is an
/// error.
fn found(findings: &mut Diagnostics, problems: Diagnostics, quiet: bool) -> bool {
    report(&problems, quiet);
    let failed = problems.has_errors();
    findings.extend(problems);
    failed
}

/// `check`: reports every finding as it goes (to stderr) and collects it in `findings`.
fn check_findings(
    cli: &Cli,
    targets: &Arc<Targets>,
    args: &CheckArgs,
    findings: &mut Diagnostics,
) -> std::io::Result<ExitCode> {
    let pack = &args.pack;
    let today = match today(args.date.as_ref()) {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let (catalogue, templates) = match load_collecting(cli, targets) {
        Ok(x) => x,
        Err((code, problems)) => {
            findings.extend(problems);
            return Ok(code);
        }
    };
    if !cli.quiet {
        findings.extend(catalogue.warnings.clone());
    }
    let lock_file = match read_lock(cli) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    // The lock covers the whole catalogue as written, whatever pack or environment is checked.
    let base = match base_for_lock(cli, targets) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let default_lock;
    let lock = if let Some(l) = &lock_file {
        &l.lock
    } else {
        default_lock = crate::lock::Lock::new(crate::PACK_VERSION_DEFAULT);
        &default_lock
    };
    // The tests gate the whole catalogue, whatever pack is being checked, while the pack is
    // rendered and compared; when it is the whole catalogue (the usual case), that happens at
    // once, next to the lock's fingerprints (a render of their own) and the checks of the
    // committed schemas: the parts share nothing but read-only inputs. The findings are
    // reported afterwards in the order of the parts.
    let whole_pack = catalogue.detections.iter().all(|d| pack.includes(d));
    let (locked, expired, tested, committed, rendering) = std::thread::scope(|scope| {
        let catalogue = &catalogue;
        let templates = &templates;
        let tests = (!args.no_tests).then(|| scope.spawn(|| test_gate(catalogue)));
        let rendering =
            whole_pack.then(|| scope.spawn(|| render_and_compare(cli, catalogue, templates, lock)));
        let locked = lock::check(
            base.as_ref().unwrap_or(catalogue),
            templates,
            lock_file.as_ref(),
        );
        let expired = crate::catalogue::exclusion::expiry(catalogue, &today);
        let committed = committed_schemas(cli, targets);
        (
            locked,
            expired,
            tests.map(joined),
            committed,
            rendering.map(joined),
        )
    });
    let mut failed = match locked {
        Ok(problems) => found(findings, problems, false),
        Err(code) => return Ok(code),
    };
    failed |= found(findings, expired, cli.quiet);
    let tested = match tested {
        Some((problems, summary)) => {
            failed |= found(findings, problems, false);
            format!("; {summary}")
        }
        None => String::new(),
    };
    let all_detections = catalogue.detections.len();
    let catalogue = kept_until_exit(if whole_pack {
        catalogue
    } else {
        pack.apply(catalogue)
    });
    // Committed schemas (optional in a catalogue) must be current, or editors validate against
    // a stale format.
    if !committed.is_empty() {
        failed = true;
        found(findings, committed, false);
    }
    let (rendering, drift) = match rendering {
        Some(done) => done,
        None => render_and_compare(cli, &catalogue, &templates, lock),
    };
    if let Err(code) = rendered(cli, rendering.map_err(build::Failure::Findings)) {
        return Ok(code);
    }
    let drift = drift?;
    if !drift.is_clean() {
        eprint!("{}", drift.summary(&cli.output, 12));
        found(
            findings,
            Diagnostics::from(
                crate::diagnostic::Diagnostic::error(format!(
                    "{} is not what the catalogue renders to",
                    display_path(&cli.output)
                ))
                .with_help("run `rulecast build` and commit the result; never edit generated files by hand"),
            ),
            false,
        );
        failed = true;
    }
    // Only a render of every detection raises every warning an acknowledgement may match.
    if catalogue.detections.len() == all_detections {
        found(findings, cli.project.stale(), cli.quiet);
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    eprintln!(
        "rulecast: {} detections valid and locked; {} matches the catalogue{tested}",
        catalogue.detections.len(),
        display_path(&cli.output)
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_command(dir: &std::path::Path, targets: &Targets) -> std::io::Result<ExitCode> {
    let tree = output::read_tree(dir)?;
    let targets: Vec<&dyn Target> = targets.iter().collect();
    let mut findings = Diagnostics::new();
    let mut checked = Vec::new();
    for target in &targets {
        let files: std::collections::BTreeMap<PathBuf, String> = tree
            .iter()
            .filter_map(|(path, text)| {
                path.strip_prefix(target.name())
                    .ok()
                    .map(|rel| (rel.to_path_buf(), text.clone()))
            })
            .collect();
        if files.is_empty() {
            continue;
        }
        checked.push(format!("{} ({} files)", target.name(), files.len()));
        findings.extend(target.check(&files));
    }
    for path in tree.keys() {
        if !targets.iter().any(|t| path.starts_with(t.name())) {
            findings.push(crate::diagnostic::Diagnostic::error(format!(
                "{} belongs to no rulecast target",
                display_path(&dir.join(path))
            )));
        }
    }
    report(&findings, false);
    if checked.is_empty() {
        eprintln!("rulecast: {} holds no generated content", display_path(dir));
        return Ok(ExitCode::from(1));
    }
    if findings.has_errors() {
        eprintln!(
            "rulecast: {} has problems ({})",
            display_path(dir),
            summary_line(&findings)
        );
        return Ok(ExitCode::from(1));
    }
    eprintln!("rulecast: verified {}", checked.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn list_command(cli: &Cli, targets: &Arc<Targets>, format: Format) -> std::io::Result<ExitCode> {
    let catalogue =
        match Catalogue::load_environment(&cli.catalogue, targets.clone(), cli.environment()) {
            Ok(c) => kept_until_exit(c),
            Err(d) => {
                report(&d, false);
                return Ok(ExitCode::from(1));
            }
        };
    let target_names: Vec<&str> = targets.iter().map(Target::name).collect();
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = catalogue
                .detections
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "id": d.meta.id,
                        "title": d.meta.title,
                        "version": d.meta.version,
                        "status": d.meta.status.as_str(),
                        "severity": d.meta.severity.as_str(),
                        "section": d.section,
                        "name": d.slug,
                        "path": display_path(&catalogue.root.join(&d.path)),
                        "guide_rows": d.meta.guide_rows,
                        "logsource": d.meta.logsource,
                        "threshold": d.meta.threshold.is_some(),
                        "targets": target_names,
                    })
                })
                .collect();
            let rows: Vec<serde_json::Value> = catalogue
                .guide
                .rows()
                .map(|(section, row)| {
                    let by: Vec<&str> = catalogue.detections.iter().filter(|d| d.meta.guide_rows.contains(&row.key)).map(|d| d.slug.as_str()).collect();
                    serde_json::json!({ "key": row.key, "section": section.key, "title": row.title, "risk": row.risk.as_str(), "detections": by })
                })
                .collect();
            let doc = serde_json::json!({ "detections": items, "guide_rows": rows });
            print_json(&mut stdout, &doc)?;
        }
        Format::Table => {
            let header = ["DETECTION", "STATUS", "SEVERITY", "VERSION", "GUIDE ROWS"];
            let rows: Vec<[String; 5]> = catalogue
                .detections
                .iter()
                .map(|d| {
                    [
                        format!("{}/{}", d.section, d.slug),
                        d.meta.status.as_str().to_owned(),
                        d.meta.severity.as_str().to_owned(),
                        d.meta.version.to_string(),
                        d.meta.guide_rows.join(", "),
                    ]
                })
                .collect();
            let mut widths = header.map(str::len);
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i + 1 == cells.len() {
                            c.clone()
                        } else {
                            format!("{c:<w$}", w = widths[i])
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            writeln!(stdout, "{}", line(&header.map(str::to_owned)))?;
            for r in &rows {
                writeln!(stdout, "{}", line(r))?;
            }
            writeln!(stdout)?;
            writeln!(
                stdout,
                "{} detections; every one renders to: {}",
                rows.len(),
                target_names.join(", ")
            )?;
            let uncovered: Vec<&str> = catalogue
                .guide
                .rows()
                .filter(|(_, r)| {
                    !catalogue
                        .detections
                        .iter()
                        .any(|d| d.meta.guide_rows.contains(&r.key))
                })
                .map(|(_, r)| r.key.as_str())
                .collect();
            let total = catalogue.guide.rows().count();
            writeln!(
                stdout,
                "guide rows covered: {} of {total}",
                total - uncovered.len()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(out: &mut impl std::io::Write, doc: &serde_json::Value) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(doc).unwrap_or_default()
    )
}

fn targets_command(targets: &Targets, format: Format) -> std::io::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = targets
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name(),
                        "description": t.description(),
                        "folder": t.name(),
                        "templates": t.templates().iter().map(|(n, _)| n).collect::<Vec<_>>(),
                        "conformance": t.conformance(),
                    })
                })
                .collect();
            let doc = serde_json::json!({ "targets": items });
            print_json(&mut stdout, &doc)?;
        }
        Format::Table => {
            let width = targets.iter().map(|t| t.name().len()).max().unwrap_or(0);
            for t in targets.iter() {
                writeln!(stdout, "{:<width$}  {}", t.name(), t.description())?;
                for hook in t.conformance() {
                    let checker = serde_json::to_value(hook.checker)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    writeln!(
                        stdout,
                        "{:<width$}    {}/{}: {checker}",
                        "",
                        t.name(),
                        hook.files
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `--detection` that names no detection of the catalogue.
#[derive(Debug)]
struct UnknownDetection {
    name: String,
    /// A detection of a similar name.
    close: Option<String>,
}

impl std::fmt::Display for UnknownDetection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "error: no detection is named `{}`",
            crate::diagnostic::escape_controls(&self.name)
        )?;
        match &self.close {
            Some(close) => write!(f, "  = help: did you mean `{close}`?"),
            None => write!(f, "  = help: `rulecast list` shows every detection"),
        }
    }
}

impl std::error::Error for UnknownDetection {}

/// The catalogue indexes of the detections named on the command line (all when none are), or
/// the first unknown name.
fn select_detections(
    catalogue: &Catalogue,
    names: &[String],
) -> Result<Vec<usize>, UnknownDetection> {
    if names.is_empty() {
        return Ok((0..catalogue.detections.len()).collect());
    }
    let mut selected = Vec::new();
    for name in names {
        let found = catalogue.detections.iter().position(|d| {
            d.meta.id.eq_ignore_ascii_case(name)
                || d.slug == *name
                || format!("{}/{}", d.section, d.slug) == *name
        });
        match found {
            Some(index) if !selected.contains(&index) => selected.push(index),
            Some(_) => {}
            None => {
                let close = crate::diagnostic::did_you_mean(
                    name,
                    catalogue.detections.iter().map(|d| d.slug.as_str()),
                )
                .map(str::to_owned);
                return Err(UnknownDetection {
                    name: name.clone(),
                    close,
                });
            }
        }
    }
    Ok(selected)
}

/// The catalogue and the detections named on the command line (all when none are), or the
/// exit code after reporting why not. `nothing_done` ends the message about a broken catalogue.
fn load_selected(
    cli: &Cli,
    targets: &Arc<Targets>,
    names: &[String],
    nothing_done: &str,
) -> Result<(Catalogue, Vec<usize>), ExitCode> {
    let catalogue =
        match Catalogue::load_environment(&cli.catalogue, targets.clone(), cli.environment()) {
            Ok(c) => c,
            Err(d) => {
                report(&d, false);
                eprintln!(
                    "rulecast: the catalogue has problems ({}); {nothing_done}",
                    summary_line(&d)
                );
                return Err(ExitCode::from(1));
            }
        };
    report(&catalogue.warnings, true);
    match select_detections(&catalogue, names) {
        Ok(selected) => Ok((catalogue, selected)),
        Err(message) => {
            eprintln!("{message}");
            Err(ExitCode::from(2))
        }
    }
}

fn test_command(
    cli: &Cli,
    targets: &Arc<Targets>,
    names: &[String],
    format: TestFormat,
) -> std::io::Result<ExitCode> {
    let (catalogue, selected) = match load_selected(cli, targets, names, "no test was run") {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let catalogue = kept_until_exit(catalogue);
    let run = testing::run(&catalogue, &selected);
    let mut stdout = std::io::stdout().lock();
    match format {
        TestFormat::Text => testing::text_report::write(&run, &catalogue, &mut stdout)?,
        TestFormat::Junit => testing::junit::write(&run, &catalogue, &mut stdout)?,
        TestFormat::Json => testing::json_report::write(&run, &catalogue, &mut stdout)?,
    }
    Ok(if run.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

struct ScanOptions<'a> {
    format: ScanFormat,
    threads: Option<usize>,
    strict: bool,
    /// The target whose deployed schedule is replayed.
    schedule: Option<&'a str>,
    ingestion_delay: Option<crate::catalogue::duration::Duration>,
}

fn scan_command(
    cli: &Cli,
    targets: &Arc<Targets>,
    logs: &std::path::Path,
    names: &[String],
    options: ScanOptions,
) -> std::io::Result<ExitCode> {
    use crate::scan::ScanError;
    use crate::scan::output::{count_of, summary_lines};
    let schedule = options.schedule.map(|name| (name, targets.get(name)));
    if let Some((name, None)) = schedule {
        let known: Vec<&str> = targets.iter().map(Target::name).collect();
        eprintln!(
            "error: --schedule {name}: no such target\n  = help: use one of {}",
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let schedule = schedule.and_then(|(_, target)| target);
    let (catalogue, selected) = match load_selected(cli, targets, names, "nothing was scanned") {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let catalogue = kept_until_exit(catalogue);
    let engine = kept_until_exit(crate::eval::Engine::new(&catalogue, |i| {
        selected.contains(&i)
    }));
    if let Some(target) = schedule
        && selected.iter().all(|i| {
            target
                .run_model(&catalogue, &catalogue.detections[*i])
                .is_none()
        })
    {
        eprintln!(
            "error: --schedule {}: its rules have no schedule of their own (whoever deploys them schedules them)\n  = help: replay a target that runs its rules, such as sentinel, splunk or azure-monitor",
            target.name()
        );
        return Ok(ExitCode::from(2));
    }
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let shown = if logs.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        display_path(logs)
    };
    let input = match crate::scan::read::open(logs) {
        Ok(input) => input,
        Err(e) => {
            eprintln!("error: cannot scan {shown}: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    let mut writer = AlertWriter::new(options.format, &catalogue, input.container, &mut out);
    // --strict makes every skipped record an error, so every record must be classified.
    let reading = if options.strict {
        crate::scan::Reading::EveryRecord
    } else {
        crate::scan::Reading::Prefiltered
    };
    let scanned = match schedule {
        None => crate::scan::scan_reading(&engine, input, threads, reading, &mut |alert| {
            writer.alert(alert, None)
        })
        .and_then(|summary| {
            writer
                .finish(&summary, None)
                .map(|()| summary)
                .map_err(ScanError::Write)
        }),
        Some(target) => crate::scan::scan_hits(&engine, input, threads, reading).and_then(
            |(mut summary, hits)| {
                use crate::scan::schedule;
                let model_of = |i: usize| target.run_model(&catalogue, &catalogue.detections[i]);
                let outcome = schedule::replay(&engine, &model_of, hits, options.ingestion_delay);
                summary.alerts = outcome.alerts.len() as u64;
                let name = |i: usize| {
                    let d = &catalogue.detections[i];
                    format!("{}/{}", d.section, d.slug)
                };
                let backtest = (
                    schedule::backtest_json(
                        &outcome,
                        &name,
                        target.name(),
                        options.ingestion_delay,
                    ),
                    schedule::backtest_lines(
                        &outcome,
                        &name,
                        target.name(),
                        options.ingestion_delay,
                    ),
                );
                outcome
                    .alerts
                    .iter()
                    .try_for_each(|a| writer.alert(&a.alert, Some(a.run)))
                    .and_then(|()| writer.finish(&summary, Some(backtest)))
                    .map(|()| summary)
                    .map_err(ScanError::Write)
            },
        ),
    };
    let summary =
        match scanned.and_then(|summary| out.flush().map(|()| summary).map_err(ScanError::Write)) {
            Ok(summary) => summary,
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            Err(ScanError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => {
                eprintln!("error: cannot scan {shown}: {e}");
                return Ok(ExitCode::from(3));
            }
        };
    let counts = &summary.counts;
    if !cli.quiet {
        let seconds = summary.elapsed.as_secs_f64();
        let megabytes = summary.bytes as f64 / 1e6;
        eprintln!(
            "rulecast: scanned {} of {shown} ({}{}, {megabytes:.1} MB) in {seconds:.2} s ({:.0} MB/s) with {}: {}",
            count_of(counts.records, "record"),
            if summary.gzip { "gzip, " } else { "" },
            summary.container.name(),
            megabytes / seconds.max(1e-9),
            count_of(engine.detections.len() as u64, "detection"),
            count_of(summary.alerts, "alert"),
        );
        for line in summary_lines(&summary, &catalogue) {
            eprintln!("{line}");
        }
    }
    if counts.recognised() == 0 {
        let reasons = crate::scan::output::skip_reasons(counts);
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join(", "))
        };
        eprintln!(
            "error: no record of {shown} was recognised ({} read{reasons}); the catalogue reads {}",
            count_of(counts.records, "record"),
            summary.expected
        );
        return Ok(ExitCode::from(4));
    }
    if options.strict && counts.skipped() > 0 {
        eprintln!(
            "error: {} of {shown} skipped, and --strict is set",
            count_of(counts.skipped(), "record")
        );
        return Ok(ExitCode::from(4));
    }
    Ok(ExitCode::SUCCESS)
}

fn schema_command(
    cli: &Cli,
    targets: &Targets,
    kind: SchemaKind,
    write: bool,
) -> std::io::Result<ExitCode> {
    if write {
        for kind in SchemaKind::ALL {
            let path = cli.catalogue.join(kind.committed_path());
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(crate::files::context("create the folder", dir))?;
            }
            std::fs::write(&path, schema::schema_text(kind, targets))
                .map_err(crate::files::context("write", &path))?;
            eprintln!("wrote {}", display_path(&path));
        }
        return Ok(ExitCode::SUCCESS);
    }
    write!(std::io::stdout(), "{}", schema::schema_text(kind, targets))?;
    Ok(ExitCode::SUCCESS)
}
