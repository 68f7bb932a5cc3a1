//! A clap subcommand an application mounts, so that `myapp migrate status`
//! answers for the migrations `myapp` embedded:
//!
//! ```ignore
//! #[derive(clap::Parser)]
//! enum Cli {
//!     Serve,
//!     #[command(subcommand)]
//!     Migrate(migrate_runtime::cli::Command),
//! }
//! // ...
//! Cli::Migrate(command) => match command.run(MIGRATIONS.runner(), &pool).await {
//!     Ok(output) => { print!("{output}"); output.exit_code() }
//!     Err(e) => { eprintln!("error: {e}"); command.error_exit_code() }
//! },
//! ```
//!
//! `status`, `up` and `verify` also run on many targets: `--schemas PATTERN`
//! (schemas of the pool's database) or `--database-urls FILE`; see
//! [`TargetArgs`] and [`crate::fanout`].

use crate::fanout::{self, Operation, Summary, Target, TargetReport};
use crate::schema::{self, Change, CompareOptions, Difference, ReadOptions};
use crate::{
    DiffOptions, DiffReport, Error, LockMode, Plan, RepeatableState, RevertScope, RevertStep, Runner, Scratch,
};
use crate::{State, Timeouts};
use deadpool_postgres::Pool;
use migrate_core::directive::{parse_timeout, Timeout, DURATION_HELP};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The operations on a database: `status`, `up`, `verify`, `baseline`,
/// `down`, `forget`, `diff`, `schema`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Show every migration: applied, pending, changed, missing or future.
    Status {
        /// Many schemas or databases instead of one.
        #[command(flatten)]
        targets: TargetArgs,
    },
    /// Apply pending migrations.
    Up {
        /// Apply nothing newer than this version.
        #[arg(long, value_name = "NNN")]
        target: Option<u64>,
        /// Print what would be applied, and apply nothing.
        #[arg(long)]
        dry_run: bool,
        /// Lock and statement timeouts.
        #[command(flatten)]
        timeouts: TimeoutArgs,
        /// How concurrent instances take turns.
        #[command(flatten)]
        lock: LockArgs,
        /// Many schemas or databases instead of one.
        #[command(flatten)]
        targets: TargetArgs,
    },
    /// Exit non-zero when an applied migration changed or no longer exists.
    Verify {
        /// Many schemas or databases instead of one.
        #[command(flatten)]
        targets: TargetArgs,
    },
    /// Record the migrations up to a version as applied, without running them.
    Baseline {
        /// The newest version to record.
        #[arg(long, value_name = "NNN")]
        through: u64,
    },
    /// Revert applied migrations with their down SQL, newest first.
    Down {
        /// Keep this version and older ones applied (0 reverts everything).
        #[arg(
            long,
            value_name = "NNN",
            required_unless_present = "steps",
            conflicts_with = "steps"
        )]
        to: Option<u64>,
        /// Revert this many of the newest applied migrations.
        #[arg(long, value_name = "N")]
        steps: Option<usize>,
        /// Print the down SQL each version would run, and where it comes
        /// from, without running it.
        #[arg(long)]
        dry_run: bool,
        /// Run the down SQL stored in a tracking row even where it differs
        /// from the embedded down file (check it with --dry-run first).
        #[arg(long)]
        use_stored: bool,
    },
    /// Delete one tracking row, so that its file runs again.
    Forget {
        /// The exact file name, e.g. 004_add_feature.sql.
        file: String,
    },
    /// Compare the database's schema with the one the migrations build on a
    /// scratch database: exit 0 when they match, 1 when they differ, 2 on an
    /// error.
    Diff {
        /// An empty database to build the expected schema in, for machines
        /// without PostgreSQL server binaries [default: a throwaway cluster,
        /// kept in the temporary folder between runs]
        #[arg(long, value_name = "URL")]
        scratch_url: Option<ScratchUrl>,
        /// How to print the differences.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Count a difference in an extension's version.
        #[arg(long)]
        strict: bool,
        /// Compare owners and privileges too.
        #[arg(long)]
        privileges: bool,
    },
    /// Print the database's schema, normalised, to commit and review in pull
    /// requests; with --check FILE, exit 1 when the database differs from it.
    Schema {
        /// A file written by `schema` to compare the database with.
        #[arg(long, value_name = "FILE")]
        check: Option<PathBuf>,
        /// Print owners and privileges too (a --check FILE that has them
        /// compares them).
        #[arg(long)]
        privileges: bool,
    },
}

/// How `diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per difference, then a summary.
    Text,
    /// One JSON object: the differences with their fields.
    Json,
}

/// The URL of `--scratch-url`, which `Debug` shows without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScratchUrl(pub String);

impl From<String> for ScratchUrl {
    fn from(url: String) -> ScratchUrl {
        ScratchUrl(url)
    }
}

impl std::fmt::Debug for ScratchUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ScratchUrl").field(&crate::redact_url(&self.0)).finish()
    }
}

/// What a command prints on stdout, and the exit status it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The text to print.
    pub text: String,
    /// 0, or 1 when `diff` or `schema --check` found differences.
    pub status: u8,
}

impl Output {
    fn done(text: String) -> Output {
        Output { text, status: 0 }
    }

    /// [`Output::status`] as the process's exit code.
    pub fn exit_code(&self) -> std::process::ExitCode {
        std::process::ExitCode::from(self.status)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Command {
    /// Runs the command with `runner`'s migrations and options; returns the
    /// text to print and the exit status. On an error, exit with
    /// [`Command::error_exit_code`].
    #[inline(never)]
    pub fn run<'a>(
        &'a self,
        runner: Runner,
        pool: &'a Pool,
    ) -> impl std::future::Future<Output = Result<Output, Error>> + Send + 'a {
        crate::runner::boxed(self.run_here(runner, pool))
    }

    /// The exit code for an error: 2 for `diff` and `schema`, as for
    /// `diff(1)` (1 means "differs"), 1 for the others.
    pub fn error_exit_code(&self) -> std::process::ExitCode {
        match self {
            Command::Diff { .. } | Command::Schema { .. } => std::process::ExitCode::from(2),
            _ => std::process::ExitCode::FAILURE,
        }
    }

    /// The target flags, when the command runs on many targets: size the
    /// pool given to [`Command::run`] by [`TargetArgs::connections`].
    pub fn fan_out(&self) -> Option<&TargetArgs> {
        match self {
            Command::Status { targets } | Command::Up { targets, .. } | Command::Verify { targets } => {
                targets.selected().then_some(targets)
            }
            _ => None,
        }
    }

    async fn run_here(&self, runner: Runner, pool: &Pool) -> Result<Output, Error> {
        match self {
            Command::Diff {
                scratch_url,
                format,
                strict,
                privileges,
            } => {
                let scratch = match scratch_url {
                    Some(url) => Scratch::Url(url.0.clone()),
                    None => Scratch::Throwaway,
                };
                let options = DiffOptions::default().strict(*strict).privileges(*privileges);
                let report = runner.diff(pool, &scratch, options).await?;
                Ok(Output {
                    status: u8::from(!report.drift.is_empty()),
                    text: match format {
                        Format::Text => diff_text(&report),
                        Format::Json => diff_json(&report),
                    },
                })
            }
            Command::Schema {
                check: None,
                privileges,
            } => {
                let options = ReadOptions::default().privileges(*privileges);
                Ok(Output::done(runner.read_schema(pool, options).await?.to_string()))
            }
            Command::Schema {
                check: Some(file),
                privileges,
            } => {
                let shown = file.display().to_string();
                let bad = |why: String| Error::SchemaFile {
                    path: shown.clone(),
                    why,
                };
                let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
                let expected = schema::Schema::parse(&text).map_err(|e| bad(e.to_string()))?;
                let with_privileges = *privileges
                    || expected
                        .objects
                        .values()
                        .any(|a| a.contains_key("owner") || a.contains_key("privileges"));
                let options = ReadOptions::default().privileges(with_privileges);
                let live = runner.read_schema(pool, options).await?;
                let drift = schema::compare(&expected, &live, CompareOptions::default());
                let mut out: String = drift.differences.iter().map(|d| format!("{d}\n")).collect();
                out.push_str(&match drift.differences.len() {
                    0 => format!("The database matches {shown}\n"),
                    n => format!(
                        "{n} difference(s) from {shown}; `migrate schema > {shown}` records the database as it is\n"
                    ),
                });
                Ok(Output {
                    status: u8::from(!drift.is_empty()),
                    text: out,
                })
            }
            _ => self.operate(runner, pool).await.map(Output::done),
        }
    }

    async fn operate(&self, runner: Runner, pool: &Pool) -> Result<String, Error> {
        match self {
            Command::Status { targets } if targets.selected() => targets.run(runner, pool, Operation::Status).await,
            Command::Status { .. } => Ok(runner.status(pool).await?.render()),
            Command::Up {
                target,
                dry_run,
                timeouts,
                lock,
                targets,
            } => {
                let runner = match target {
                    Some(t) => runner.target(*t),
                    None => runner,
                };
                let runner = lock.over(runner);
                let runner = {
                    let in_force = runner.timeouts_in_force();
                    runner.timeouts(timeouts.over(in_force))
                };
                if targets.selected() {
                    let operation = if *dry_run { Operation::DryRun } else { Operation::Up };
                    return targets.run(runner, pool, operation).await;
                }
                if *dry_run {
                    let pending = runner.dry_run(pool).await?;
                    let repeatables = runner.status(pool).await?.repeatables_due(*target);
                    if pending.is_empty() && repeatables.is_empty() {
                        return Ok("Nothing to apply: the database is up to date\n".to_string());
                    }
                    let mut out = if repeatables.is_empty() {
                        format!("Would apply {} migration(s), in this order:\n", pending.len())
                    } else {
                        format!(
                            "Would apply {} migration(s) and {} repeatable file(s), in this order:\n",
                            pending.len(),
                            repeatables.len()
                        )
                    };
                    for m in pending {
                        let mode = if m.no_transaction() { " (no transaction)" } else { "" };
                        out.push_str(&format!("  {}{mode}\n", m.file_name()));
                    }
                    for r in repeatables {
                        out.push_str(&format!("  {} (repeatable)\n", r.file_name()));
                    }
                    return Ok(out);
                }
                let report = runner.run(pool).await?;
                Ok(if report.up_to_date() {
                    "Database is up to date\n".to_string()
                } else {
                    format!(
                        "Applied {} migration(s) and {} repeatable file(s)\n",
                        report.applied.len(),
                        report.repeated.len()
                    )
                })
            }
            Command::Verify { targets } if targets.selected() => targets.run(runner, pool, Operation::Verify).await,
            Command::Verify { .. } => {
                let applied = runner.verify(pool).await?.applied_and_embedded();
                Ok(format!("OK: {applied} applied migration(s) match their files\n"))
            }
            Command::Baseline { through } => {
                let recorded = runner.baseline(pool, *through).await?;
                Ok(if recorded.is_empty() {
                    format!("Nothing to record: every migration through {through:03} is already recorded\n")
                } else {
                    format!("Recorded as applied, without running them: {}\n", recorded.join(", "))
                })
            }
            Command::Down {
                to,
                steps,
                dry_run,
                use_stored,
            } => {
                let scope = match (to, steps) {
                    (Some(version), _) => RevertScope::To(*version),
                    (None, steps) => RevertScope::Steps(steps.unwrap_or(1)),
                };
                let runner = runner.use_stored_down_sql(*use_stored);
                if *dry_run {
                    return Ok(revert_preview(&runner.revert_dry_run(pool, scope).await?));
                }
                let reverted = match scope {
                    RevertScope::To(version) => runner.revert_to(pool, version).await?,
                    RevertScope::Steps(steps) => runner.revert_steps(pool, steps).await?,
                };
                if reverted.is_empty() {
                    return Ok("Nothing to revert\n".to_string());
                }
                let mut out = format!("Reverted {} migration(s):\n", reverted.len());
                for r in reverted {
                    let source = if r.from_stored_sql {
                        " (down SQL stored in the history)"
                    } else {
                        ""
                    };
                    out.push_str(&format!("  {}{source}\n", r.file_name));
                }
                Ok(out)
            }
            Command::Forget { file } => {
                let row = runner.forget(pool, file).await?;
                Ok(format!(
                    "Removed {file} (applied at {}) from the history; it runs again on the next `up`\n",
                    row.applied_at.as_deref().unwrap_or("an unknown time")
                ))
            }
            Command::Diff { .. } | Command::Schema { .. } => unreachable!("answered by run_here"),
        }
    }
}

/// `diff`'s text: a line per difference, then where the expected schema
/// was built.
fn diff_text(report: &DiffReport) -> String {
    let mut out: String = report.drift.differences.iter().map(|d| format!("{d}\n")).collect();
    for d in &report.drift.not_counted {
        out.push_str(&format!("{d} (not counted; --strict counts it)\n"));
    }
    out.push_str(&match report.drift.differences.len() {
        0 => format!(
            "No differences from the schema the migrations build on {}\n",
            report.scratch
        ),
        n => format!(
            "{n} difference(s) from the schema the migrations build on {}\n",
            report.scratch
        ),
    });
    if let Some(note) = report.version_note() {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// `diff --format json`: the same, as one object.
fn diff_json(report: &DiffReport) -> String {
    use serde_json::{json, Value};
    let item = |d: &Difference| {
        let mut v = json!({
            "kind": d.object.kind.word(),
            "name": d.object.name,
            "message": d.to_string(),
        });
        match &d.change {
            Change::Missing => v["change"] = json!("missing"),
            Change::Unexpected => v["change"] = json!("unexpected"),
            Change::Differs {
                attribute,
                live,
                expected,
            } => {
                v["change"] = json!("differs");
                v["attribute"] = json!(attribute);
                v["live"] = json!(live);
                v["expected"] = json!(expected);
            }
        }
        v
    };
    let list = |ds: &[Difference]| Value::Array(ds.iter().map(item).collect());
    let out = json!({
        "differences": list(&report.drift.differences),
        "not_counted": list(&report.drift.not_counted),
        "scratch": report.scratch,
        "scratch_version": report.scratch_version,
        "live_version": report.live_version,
        "notes": report.version_note().into_iter().collect::<Vec<_>>(),
    });
    format!("{out}\n")
}

/// What `down --dry-run` prints: each version, where its down SQL comes
/// from, and the SQL, with the stored SQL too where it differs.
fn revert_preview(steps: &[RevertStep]) -> String {
    if steps.is_empty() {
        return "Nothing to revert\n".to_string();
    }
    let indent = |sql: &str| sql.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let mut out = format!("Would revert {} migration(s), newest first:\n", steps.len());
    for step in steps {
        let source = match step.from_stored_sql {
            true => "the down SQL stored in its tracking row".to_string(),
            false => format!("{}.down.sql", step.file_name.trim_end_matches(".sql")),
        };
        out.push_str(&format!("  {} runs {source}:\n{}", step.file_name, indent(&step.sql)));
        if let (Some(stored), false) = (&step.stored_differs, step.from_stored_sql) {
            out.push_str(&format!(
                "  the SQL stored in its tracking row differs (it runs only with --use-stored):\n{}",
                indent(stored)
            ));
        }
    }
    out
}

/// Flags of `up` that choose how concurrent instances take turns.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LockArgs {
    /// auto (a session advisory lock where it is proven to hold, else a
    /// lease), session, lease (through transaction poolers such as
    /// PgBouncer, and on CockroachDB or YugabyteDB) or none [default: auto]
    #[arg(long, value_name = "MODE")]
    pub lock_mode: Option<LockMode>,
    /// How long a lease lasts without its heartbeat: a crashed holder
    /// delays the others by at most this long [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lease: Option<Timeout>,
    /// Give up when another session holds the lock (or lease) this long,
    /// naming it [default: wait as long as it takes]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lock_wait: Option<Timeout>,
}

impl LockArgs {
    /// `runner` with the flags given applied over it.
    pub fn over(&self, mut runner: Runner) -> Runner {
        if let Some(mode) = self.lock_mode {
            runner = runner.lock_mode(mode);
        }
        if let Some(Timeout::After(length)) = self.lease {
            runner = runner.lease(length);
        }
        if let Some(Timeout::After(limit)) = self.lock_wait {
            runner = runner.lock_wait(limit);
        }
        runner
    }
}

/// The flags that run `status`, `up` and `verify` on many targets.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct TargetArgs {
    /// Every schema of the database whose name matches this SQL LIKE
    /// pattern (`tenant\_%`), each with its own `<schema>.schema_migrations`
    /// and its files run with search_path set to it
    #[arg(long, value_name = "PATTERN", conflicts_with = "database_urls")]
    pub schemas: Option<String>,
    /// Create the schema --schemas names (one exact name, no `%`) if missing
    #[arg(long, requires = "schemas")]
    pub create_schemas: bool,
    /// Migrate schemas owned by ROLE too (repeatable); by default a schema
    /// must belong to the migrating role, a role it belongs to, or a
    /// superuser, since its owner's functions would run as the migrating role
    #[arg(long = "trust-owner", value_name = "ROLE", requires = "schemas")]
    pub trust_owners: Vec<String>,
    /// Every database in FILE: one URL a line; empty lines and lines
    /// starting with `#` are skipped
    #[arg(long, value_name = "FILE")]
    pub database_urls: Option<PathBuf>,
    /// How many targets run at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = at_least_one)]
    pub jobs: usize,
    /// Connections open on one server at once [default: --jobs]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub connections_per_server: Option<usize>,
    /// Start no further target after the first failure
    #[arg(long)]
    pub fail_fast: bool,
}

impl TargetArgs {
    /// Whether `--schemas` or `--database-urls` was given.
    pub fn selected(&self) -> bool {
        self.schemas.is_some() || self.database_urls.is_some()
    }

    /// Connections the fan-out uses on one server: the size to give the
    /// pool that `--schemas` uses.
    pub fn connections(&self) -> usize {
        self.connections_per_server.unwrap_or(self.jobs)
    }

    async fn targets(&self, pool: &Pool) -> Result<Vec<Target>, Error> {
        match (&self.schemas, &self.database_urls) {
            (Some(pattern), _) if self.create_schemas => Ok(vec![fanout::exact_schema(pattern)?]),
            (Some(pattern), _) => fanout::schemas_like(pool, pattern).await,
            (None, Some(file)) => fanout::read_url_file(file),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// Runs `operation` on every target, showing progress on stderr; the
    /// summary when every target succeeded, else [`Error::Fanout`].
    async fn run(&self, runner: Runner, pool: &Pool, operation: Operation) -> Result<String, Error> {
        let targets = self.targets(pool).await?;
        let options = fanout::Options {
            jobs: self.jobs,
            connections_per_server: self.connections_per_server,
            fail_fast: self.fail_fast,
            create_schemas: self.create_schemas,
            ..fanout::Options::default()
        };
        let runner = self
            .trust_owners
            .iter()
            .fold(runner, |runner, role| runner.trust_owner(role));
        let progress = Progress::new(targets.len());
        let summary = fanout::run(&runner, pool, targets, &options, operation, &|r| progress.done(r)).await;
        progress.finish();
        finished(summary)
    }
}

fn finished(summary: Summary) -> Result<String, Error> {
    if summary.failed().next().is_some() {
        return Err(Error::Fanout(Box::new(summary)));
    }
    Ok(format!("{summary}\n"))
}

/// A bar on a terminal; otherwise a line per finished target. Both on stderr.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines { total: usize, done: AtomicUsize },
}

impl Progress {
    fn new(total: usize) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                total,
                done: AtomicUsize::new(0),
            };
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} targets, {elapsed} {msg}")
            .expect("a valid template");
        bar.set_style(style);
        Progress::Bar(bar)
    }

    fn done(&self, report: &TargetReport) {
        match self {
            Progress::Bar(bar) => {
                if matches!(report.outcome, fanout::Outcome::Failed(_)) {
                    bar.println(report.to_string());
                }
                bar.set_message(report.target.to_string());
                bar.inc(1);
            }
            Progress::Lines { total, done } => {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!("[{n}/{total}] {report}");
            }
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{text}` is not a count; give a whole number of at least 1")),
        Ok(n) => Ok(n),
    }
}

/// Flags of `up` that override the runner's [`Timeouts`]. A duration is
/// written as in PostgreSQL (`500ms`, `5s`, `10min`) or `off`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct TimeoutArgs {
    /// lock_timeout of each file's first attempt; retries double it
    /// [default: 250ms]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lock_timeout: Option<Timeout>,
    /// The longest lock_timeout a retry uses [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lock_timeout_max: Option<Timeout>,
    /// Give up on a file whose attempts took this long [default: 3min]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lock_retry_budget: Option<Timeout>,
    /// statement_timeout of each statement [default: off]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub statement_timeout: Option<Timeout>,
}

impl TimeoutArgs {
    /// `timeouts` with the flags given applied over it.
    pub fn over(&self, mut timeouts: Timeouts) -> Timeouts {
        let limit = |t: Timeout| match t {
            Timeout::Off => None,
            Timeout::After(d) => Some(d),
        };
        if let Some(t) = self.lock_timeout {
            timeouts.lock_timeout = limit(t);
        }
        if let Some(t) = self.lock_timeout_max {
            timeouts.lock_timeout_max = limit(t).unwrap_or(Duration::MAX);
        }
        if let Some(t) = self.lock_retry_budget {
            timeouts.budget = limit(t).unwrap_or(Duration::MAX);
        }
        if let Some(t) = self.statement_timeout {
            timeouts.statement_timeout = limit(t);
        }
        timeouts
    }
}

fn duration(text: &str) -> Result<Timeout, String> {
    parse_timeout(text).map_err(|e| format!("{e}; {DURATION_HELP}"))
}

impl Plan {
    /// The `status` table: version, file, state, applied at, duration.
    pub fn render(&self) -> String {
        let mut lines = vec![[
            "VERSION".into(),
            "FILE".into(),
            "STATE".into(),
            "APPLIED AT".into(),
            "DURATION".into(),
        ]];
        for e in &self.entries {
            let state = match &e.state {
                State::Applied => "applied",
                State::Unrecorded => "applied (no checksum yet)",
                State::Changed { .. } => "changed",
                State::Renamed { .. } => "renamed",
                State::Pending => "pending",
                State::Missing => "missing",
                State::Future => "future",
                State::Squashed => "applied (squashed)",
            };
            let row = e.row.as_ref();
            lines.push([
                e.version.map(|v| format!("{v:03}")).unwrap_or_else(|| "?".into()),
                e.file_name.clone(),
                state.to_string(),
                row.and_then(|r| r.applied_at.clone()).unwrap_or_default(),
                row.and_then(|r| r.duration_ms)
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_default(),
            ]);
        }
        for r in &self.repeatables {
            let row = r.row.as_ref();
            lines.push([
                "R".into(),
                r.repeatable.file_name().to_string(),
                match r.state {
                    RepeatableState::Current => "current",
                    RepeatableState::Outdated => "outdated",
                    RepeatableState::New => "new",
                }
                .into(),
                row.and_then(|r| r.applied_at.clone()).unwrap_or_default(),
                row.and_then(|r| r.duration_ms)
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_default(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
            .collect();
        lines
            .iter()
            .map(|l| {
                let cells: Vec<String> = l.iter().zip(&widths).map(|(cell, w)| format!("{cell:w$}")).collect();
                cells.join("  ").trim_end().to_string() + "\n"
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct App {
        #[command(subcommand)]
        command: Command,
    }

    fn up(args: &[&str]) -> Result<Timeouts, String> {
        let app = App::try_parse_from(["app", "up"].iter().chain(args)).map_err(|e| e.to_string())?;
        match app.command {
            Command::Up { timeouts, .. } => Ok(timeouts.over(Timeouts::default())),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn status_up_and_verify_take_the_target_flags() {
        let parse = |args: &[&str]| App::try_parse_from(args).map(|a| a.command).map_err(|e| e.to_string());
        let command = parse(&["app", "up", "--schemas", "tenant_%", "--jobs", "8", "--fail-fast"]).unwrap();
        let targets = command.fan_out().unwrap();
        assert_eq!(
            (
                targets.schemas.as_deref(),
                targets.jobs,
                targets.fail_fast,
                targets.connections()
            ),
            (Some("tenant_%"), 8, true, 8)
        );
        let command = parse(&["app", "verify", "--database-urls", "urls.txt"]).unwrap();
        assert_eq!(command.fan_out().unwrap().jobs, 4);
        assert!(parse(&["app", "status"]).unwrap().fan_out().is_none());
        let e = parse(&["app", "status", "--schemas", "a", "--database-urls", "f"]).unwrap_err();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = parse(&["app", "up", "--create-schemas"]).unwrap_err();
        assert!(e.contains("--schemas <PATTERN>"), "{e}");
        let e = parse(&["app", "up", "--schemas", "x", "--jobs", "0"]).unwrap_err();
        assert!(e.contains("`0` is not a count"), "{e}");
    }

    #[test]
    fn up_takes_timeout_flags_as_durations() {
        assert_eq!(up(&[]), Ok(Timeouts::default()));
        let t = up(&[
            "--lock-timeout",
            "2s",
            "--lock-retry-budget",
            "off",
            "--statement-timeout",
            "10min",
        ])
        .unwrap();
        assert_eq!(t.lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(t.budget, Duration::MAX);
        assert_eq!(t.statement_timeout, Some(Duration::from_secs(600)));
        assert_eq!(up(&["--lock-timeout", "off"]).unwrap().lock_timeout, None);
        let e = up(&["--lock-timeout", "5"]).unwrap_err();
        assert!(e.contains("`5` has no unit; write a whole number and a unit"), "{e}");
    }

    #[test]
    fn up_takes_a_lock_wait_and_schemas_take_owners_to_trust() {
        let parse = |args: &[&str]| App::try_parse_from(args).map(|a| a.command).map_err(|e| e.to_string());
        let args = [
            "app",
            "up",
            "--lock-wait",
            "90s",
            "--schemas",
            "t_%",
            "--trust-owner",
            "a",
            "--trust-owner",
            "b",
        ];
        let Command::Up { lock, targets, .. } = parse(&args).unwrap() else {
            panic!("not up")
        };
        assert_eq!(lock.lock_wait, Some(Timeout::After(Duration::from_secs(90))));
        assert_eq!(targets.trust_owners, ["a", "b"]);
        let e = parse(&["app", "up", "--trust-owner", "a"]).unwrap_err();
        assert!(e.contains("--schemas <PATTERN>"), "{e}");
        let Command::Down {
            dry_run, use_stored, ..
        } = parse(&["app", "down", "--steps", "1", "--dry-run", "--use-stored"]).unwrap()
        else {
            panic!("not down")
        };
        assert!(dry_run && use_stored);
    }

    #[test]
    fn down_dry_run_shows_each_sql_and_where_it_comes_from() {
        let step = |file_name: &str, sql: &str, from_stored_sql, stored_differs: Option<&str>| RevertStep {
            file_name: file_name.into(),
            sql: sql.into(),
            from_stored_sql,
            stored_differs: stored_differs.map(String::from),
            statements: Vec::new(),
            timeouts: Default::default(),
        };
        let shown = revert_preview(&[
            step(
                "002_b.sql",
                "DROP TABLE b;\n",
                false,
                Some("DROP TABLE b;\nDROP TABLE x;"),
            ),
            step("001_a.sql", "DROP TABLE a;", true, None),
        ]);
        assert_eq!(
            shown,
            "Would revert 2 migration(s), newest first:\n  \
             002_b.sql runs 002_b.down.sql:\n    DROP TABLE b;\n  \
             the SQL stored in its tracking row differs (it runs only with --use-stored):\n    \
             DROP TABLE b;\n    DROP TABLE x;\n  \
             001_a.sql runs the down SQL stored in its tracking row:\n    DROP TABLE a;\n"
        );
        assert_eq!(revert_preview(&[]), "Nothing to revert\n");
    }
}
