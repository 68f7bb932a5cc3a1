//! Reverts: run applied versions' down SQL, newest first, each in one
//! transaction together with the deletion of its tracking row. The down SQL
//! comes from the embedded down file, or else from the tracking row, so a
//! binary older than a version can still revert it. Stored down SQL is
//! input like any file: it passes the build-time checks first, and when it
//! differs from the embedded down file it runs only when asked.

use crate::apply::{Record, Span, Unit};
use crate::lock::Locked;
use crate::plan::{AppliedRow, Plan};
use crate::session::history;
use crate::{Error, Runner};
use deadpool_postgres::Pool;
use migrate_core::FileTimeouts;
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::SimpleQueryMessage;

/// How far to revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevertScope {
    /// Keep every version up to this one applied.
    To(u64),
    /// Revert this many of the newest applied versions.
    Steps(usize),
}

/// One version a revert undid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reverted {
    /// The migration file whose row was deleted, e.g. `003_add_email.sql`.
    pub file_name: String,
    /// How long its down SQL and the row's deletion took.
    pub duration: Duration,
    /// Whether the down SQL came from the tracking row because this binary
    /// does not embed a down file for it.
    pub from_stored_sql: bool,
}

impl Runner {
    /// Reverts every applied version newer than `version`, newest first,
    /// each in one transaction with the deletion of its row; `0` reverts
    /// all. Takes the same lock as `run`. Validates the whole plan first and
    /// changes nothing when a version in range has no down SQL or is marked
    /// `-- migrate: irreversible`. Repeatable files are left as they are.
    pub async fn revert_to(&self, pool: &Pool, version: u64) -> Result<Vec<Reverted>, Error> {
        self.revert(pool, RevertScope::To(version)).await
    }

    /// Reverts the `steps` newest applied versions; see [`Runner::revert_to`].
    pub async fn revert_steps(&self, pool: &Pool, steps: usize) -> Result<Vec<Reverted>, Error> {
        self.revert(pool, RevertScope::Steps(steps)).await
    }

    /// What a revert of `scope` would run, newest first, without running
    /// it: for `down --dry-run`, and to compare stored down SQL with the
    /// embedded down file before passing [`Runner::use_stored_down_sql`].
    pub async fn revert_dry_run(&self, pool: &Pool, scope: RevertScope) -> Result<Vec<RevertStep>, Error> {
        self.lock(pool)
            .await?
            .hold(async |locked| self.revert_plan(locked, scope).await)
            .await
    }

    async fn revert(&self, pool: &Pool, scope: RevertScope) -> Result<Vec<Reverted>, Error> {
        self.lock(pool)
            .await?
            .hold(async |locked| {
                let steps = self.revert_plan(locked, scope).await?;
                let differing: Vec<String> = steps
                    .iter()
                    .filter(|s| s.stored_differs.is_some() && !s.from_stored_sql)
                    .map(|s| {
                        format!(
                            "{}: the down SQL stored in its tracking row differs from the embedded {}; \
                             someone changed the row, or the down file changed after the version was applied",
                            s.file_name,
                            down_name(&s.file_name)
                        )
                    })
                    .collect();
                if !differing.is_empty() {
                    return Err(Error::CannotRevert {
                        problems: differing,
                        fix: "compare them with `down --dry-run`; to run the stored SQL, pass --use-stored \
                              (`Runner::use_stored_down_sql(true)`), or correct the row"
                            .to_string(),
                    });
                }
                if steps.is_empty() {
                    tracing::info!("Nothing to revert");
                }
                let mut executor = self.executor(locked, pool);
                let mut reverted = Vec::new();
                for step in steps {
                    let unit = Unit {
                        name: down_name(&step.file_name),
                        sql: &step.sql,
                        statements: step.statements.clone(),
                        no_transaction: false,
                        timeouts: step.timeouts,
                        record: Record::Deleted(&step.file_name),
                    };
                    let duration = match executor.apply(&unit).await {
                        Ok(duration) => duration,
                        Err(e) => {
                            let source = if step.from_stored_sql {
                                " (down SQL stored in the history)"
                            } else {
                                ""
                            };
                            tracing::error!("Failed to revert {}{source}", step.file_name);
                            return Err(e);
                        }
                    };
                    tracing::info!("Reverted: {} ({} ms)", step.file_name, duration.as_millis());
                    reverted.push(Reverted {
                        file_name: step.file_name,
                        duration,
                        from_stored_sql: step.from_stored_sql,
                    });
                }
                Ok(reverted)
            })
            .await
    }

    /// Every step of the revert, newest first, or every reason it cannot
    /// run at all.
    async fn revert_plan(&self, locked: &Locked, scope: RevertScope) -> Result<Vec<RevertStep>, Error> {
        let client = locked.client();
        let rows = history::read(client, &locked.table).await?.unwrap_or_default();
        let plan = Plan::new(self.migrations(), &rows);
        plan.validate(&self.policies_in_force(), None)?
            .iter()
            .for_each(|w| tracing::warn!("{w}"));
        let stored = stored_down_sql(locked).await?;

        let mut applied: Vec<(u64, &AppliedRow)> = plan
            .entries
            .iter()
            .filter_map(|e| Some((e.version?, e.row.as_ref()?)))
            .collect();
        applied.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        let selected: Vec<(u64, &AppliedRow)> = match scope {
            RevertScope::To(version) => applied.into_iter().take_while(|(v, _)| *v > version).collect(),
            RevertScope::Steps(n) => applied.into_iter().take(n).collect(),
        };

        let (mut steps, mut refusals) = (Vec::new(), Vec::new());
        for (_, row) in selected {
            let embedded = self.migrations().find(&row.file_name);
            if embedded.is_some_and(|m| m.irreversible()) {
                refusals.push(format!("{} is marked `-- migrate: irreversible`", row.file_name));
                continue;
            }
            let stored_sql = stored.get(&row.file_name);
            let stored_differs = match (embedded.and_then(|m| m.down_sql()), stored_sql) {
                (Some(embedded), Some(stored)) if embedded != stored => Some(stored.clone()),
                _ => None,
            };
            let use_stored = stored_differs.is_some() && self.uses_stored_down_sql();
            let (sql, from_stored_sql) = match (embedded.and_then(|m| m.down_sql()), stored_sql) {
                (Some(_), Some(stored)) if use_stored => (stored.clone(), true),
                (Some(sql), _) => (sql.to_string(), false),
                (None, Some(sql)) => (sql.clone(), true),
                (None, None) => {
                    refusals.push(format!(
                        "{} has no down SQL: no `{}` is embedded and its tracking row stores none \
                         (applied without a down file, or by an older tool)",
                        row.file_name,
                        down_name(&row.file_name)
                    ));
                    continue;
                }
            };
            let (statements, timeouts) = if from_stored_sql {
                let version = migrate_core::name::parse(&row.file_name, 0).ok().map(|n| n.version);
                match migrate_core::source::check_source(
                    &format!("{} (stored in its tracking row)", down_name(&row.file_name)),
                    version,
                    sql.as_bytes(),
                ) {
                    Ok(checked) => (
                        checked.statements.into_iter().map(Span::from).collect(),
                        checked.timeouts,
                    ),
                    Err(problems) => {
                        refusals.extend(
                            problems
                                .iter()
                                .map(|p| format!("the stored down SQL fails the checks: {p}")),
                        );
                        continue;
                    }
                }
            } else {
                let down = embedded
                    .and_then(|m| m.down())
                    .expect("the embedded down SQL was chosen");
                (down.statements().map(Span::from).collect(), down.timeouts())
            };
            steps.push(RevertStep {
                file_name: row.file_name.clone(),
                sql,
                from_stored_sql,
                stored_differs,
                statements,
                timeouts,
            });
        }
        if refusals.is_empty() {
            Ok(steps)
        } else {
            Err(Error::CannotRevert {
                problems: refusals,
                fix: "the revert needs down SQL for every version in range: revert to a later version, or add \
                      the missing down files and redeploy"
                    .to_string(),
            })
        }
    }
}

/// `NNN_name.down.sql` for `NNN_name.sql`.
fn down_name(file_name: &str) -> String {
    format!("{}.down.sql", file_name.trim_end_matches(".sql"))
}

/// One version a revert would undo.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevertStep {
    /// The migration file whose row would be deleted.
    pub file_name: String,
    /// The down SQL that would run.
    pub sql: String,
    /// Whether `sql` is the down SQL stored in the tracking row (no down
    /// file is embedded, or [`Runner::use_stored_down_sql`] chose it).
    pub from_stored_sql: bool,
    /// The stored down SQL, when it differs from the embedded down file.
    pub stored_differs: Option<String>,
    pub(crate) statements: Vec<Span>,
    pub(crate) timeouts: FileTimeouts,
}

/// The down SQL stored in the tracking rows, by file name.
async fn stored_down_sql(locked: &Locked) -> Result<HashMap<String, String>, Error> {
    let sql = format!(
        "SELECT filename, down_sql FROM {} WHERE down_sql IS NOT NULL",
        locked.table
    );
    let messages = crate::session::query::messages(locked.client(), &sql)
        .await
        .map_err(Error::db(format!("reading the stored down SQL from {}", locked.table)))?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some((row.get(0)?.to_string(), row.get(1)?.to_string())),
            _ => None,
        })
        .collect())
}
