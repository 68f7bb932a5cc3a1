//! One set of migrations applied to many targets: the schemas of one
//! database (each with its own `<schema>.schema_migrations`), or databases
//! by URL on one or many servers.
//!
//! At most [`Options::jobs`] targets run at once, and at most
//! [`Options::connections_per_server`] connections are open on one server.
//! A server that refuses a connection for lack of slots (SQLSTATE 53300)
//! makes that server's budget shrink by one, and the target waits and tries
//! again instead of failing; the budget grows back after clean connects.
//! Each target takes its own lock: the key derives from the qualified
//! tracking table, and advisory locks belong to one database.
//!
//! ```no_run
//! # async fn f(pool: deadpool_postgres::Pool, migrations: migrate_runtime::Migrations) {
//! use migrate_runtime::fanout::{self, Operation, Options};
//! let targets = fanout::schemas_like(&pool, "tenant\\_%").await.unwrap();
//! let summary = fanout::run(&migrations.runner(), &pool, targets, &Options::default(), Operation::Up, &|_| {}).await;
//! print!("{summary}");
//! # }
//! ```

mod budget;
mod targets;

pub use crate::error::{Counts, Outcome, Summary, Target, TargetReport};
use crate::{Error, Runner};
use budget::Budget;
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
#[cfg(feature = "cli")]
pub(crate) use targets::exact_schema;
pub use targets::{read_url_file, schemas_like};
use tracing::Instrument;

/// How many targets run at once and what happens on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Targets running at once (default 4).
    pub jobs: usize,
    /// Connections open on one server at once (default: `jobs`). Schemas
    /// share the pool given to [`run`], whose size caps this too.
    pub connections_per_server: Option<usize>,
    /// Start no further target after the first failure (default: every
    /// target runs).
    pub fail_fast: bool,
    /// Create a missing schema (default: a missing schema fails its target).
    pub create_schemas: bool,
    /// How long one target may be refused for too many connections
    /// (SQLSTATE 53300) before it fails (default 5 min).
    pub patience: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 4,
            connections_per_server: None,
            fail_fast: false,
            create_schemas: false,
            patience: Duration::from_secs(300),
        }
    }
}

/// What to do on each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// [`Runner::run`]: apply what is pending.
    Up,
    /// [`Runner::dry_run`]: count what `Up` would apply.
    DryRun,
    /// [`Runner::status`]: count applied and pending files.
    Status,
    /// [`Runner::verify`]: fail on changed or missing files.
    Verify,
}

impl Operation {
    async fn on(self, runner: &Runner, pool: &Pool) -> Result<Outcome, Error> {
        Ok(match self {
            Operation::Up => {
                let report = runner.run(pool).await?;
                match report.applied.len() + report.repeated.len() {
                    0 => Outcome::UpToDate,
                    n => Outcome::Applied(n),
                }
            }
            Operation::DryRun => match runner.dry_run(pool).await?.len() {
                0 => Outcome::UpToDate,
                n => Outcome::WouldApply(n),
            },
            Operation::Status => Outcome::Status(Counts::of(&runner.status(pool).await?)),
            Operation::Verify => Outcome::Verified(runner.verify(pool).await?.applied_and_embedded()),
        })
    }
}

/// Runs `operation` on every target with `runner`'s migrations and
/// options, `options.jobs` at once; schemas use `pool`, databases a
/// connection of their own. Calls `done` as each target finishes. Every
/// target is in the summary, in the order given.
#[inline(never)]
pub fn run<'a>(
    runner: &'a Runner,
    pool: &'a Pool,
    targets: Vec<Target>,
    options: &'a Options,
    operation: Operation,
    done: &'a (dyn Fn(&TargetReport) + Sync),
) -> impl Future<Output = Summary> + Send + 'a {
    crate::runner::boxed(run_here(runner, pool, targets, options, operation, done))
}

async fn run_here(
    runner: &Runner,
    pool: &Pool,
    targets: Vec<Target>,
    options: &Options,
    operation: Operation,
    done: &(dyn Fn(&TargetReport) + Sync),
) -> Summary {
    let jobs = options.jobs.max(1);
    let per_server = options.connections_per_server.unwrap_or(jobs).max(1);
    let mut budgets: HashMap<String, Budget> = HashMap::new();
    for target in &targets {
        let limit = match target {
            Target::Schema(_) => per_server.min(pool.status().max_size),
            Target::Database(_) => per_server,
        };
        budgets
            .entry(target.server())
            .or_insert_with(|| Budget::new(limit, options.patience));
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: std::sync::Mutex<Vec<Option<TargetReport>>> =
        std::sync::Mutex::new(targets.iter().map(|_| None).collect());
    let worker = || async {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(target) = targets.get(index) else { break };
            if stop.load(Ordering::Relaxed) {
                continue;
            }
            let budget = &budgets[&target.server()];
            // At error level, so that every event of the target names it.
            let span = tracing::error_span!("target", name = %target);
            let outcome = one(runner, pool, target, options, operation, budget)
                .instrument(span)
                .await;
            if matches!(outcome, Outcome::Failed(_)) && options.fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            let report = TargetReport {
                target: target.clone(),
                outcome,
            };
            done(&report);
            results.lock().expect("never poisoned")[index] = Some(report);
        }
    };
    futures_util::future::join_all((0..jobs.min(targets.len())).map(|_| worker())).await;
    let reports = results.into_inner().expect("never poisoned");
    Summary {
        targets: targets
            .into_iter()
            .zip(reports)
            .map(|(target, report)| {
                report.unwrap_or(TargetReport {
                    target,
                    outcome: Outcome::NotStarted,
                })
            })
            .collect(),
        refused: budgets.values().map(|b| b.refused()).sum(),
    }
}

/// One target: a connection admitted under its server's budget, then the
/// operation.
async fn one(
    runner: &Runner,
    shared: &Pool,
    target: &Target,
    options: &Options,
    operation: Operation,
    budget: &Budget,
) -> Outcome {
    let (runner, own) = match target {
        Target::Schema(schema) => (
            runner.clone().schema(schema).create_schema(options.create_schemas),
            None,
        ),
        Target::Database(url) => match crate::session::pool_from_url(url, 1) {
            Ok(pool) => (runner.clone(), Some(pool)),
            Err(e) => return Outcome::Failed(e),
        },
    };
    let pool = own.as_ref().unwrap_or(shared);
    let permit = match budget.admit(pool).await {
        Ok(permit) => permit,
        Err(e) => return Outcome::Failed(e),
    };
    let outcome = operation.on(&runner, pool).await.unwrap_or_else(Outcome::Failed);
    drop(permit);
    outcome
}
