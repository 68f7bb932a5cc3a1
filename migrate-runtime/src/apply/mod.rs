//! The one executor: every change to the schema or the history (a
//! versioned file, a repeatable file, down SQL, a squashed file's record,
//! `baseline`, `forget`, adopted checksums) is a [`Unit`] handed to
//! [`Executor`], and only the executor frames it: the lease's fence, the
//! engine's settings and mode, a schema target's `search_path`, lock and
//! statement timeouts with retries that name the blocker, the session
//! reset, and error positions. A lost lease stops every kind of write.
//!
//! A unit runs as one implicit transaction: guards, settings, its SQL,
//! its history change, the session reset. A `no-transaction` file (and
//! every unit on an engine whose DDL is not transactional) runs
//! statement by statement, each retried where that is safe, and is
//! recorded after its last statement, behind the fence.

mod failure;
mod pipeline;
mod retry;
mod unit;

use crate::error::MigrationError;
use crate::lock::Locked;
use crate::Error;
use deadpool_postgres::Pool;
use failure::{failure, run, Sent};
pub(crate) use retry::lock_timed_out;
pub use retry::Timeouts;
use retry::{drop_index, invalid_indexes, left_invalid, watched, Kind, Schedule, Tries, Watch};
use std::time::{Duration, Instant};
pub(crate) use unit::{Record, Span, Unit};

/// Milliseconds since the transaction began, computed by the server.
const SERVER_DURATION: &str = "(extract(epoch FROM clock_timestamp() - transaction_timestamp()) * 1000)::integer";

/// Ends a versioned file's transaction in a run: it commits without
/// waiting for its WAL to reach the disk. A crash can then lose the last
/// files applied, each with its tracking row (one transaction), so the
/// next run applies them again; [`Executor::make_durable`] waits once for
/// all of them. Last in the transaction, after the session reset's
/// `RESET ALL`.
const NO_FLUSH_WAIT: &str = "SET LOCAL synchronous_commit = off;";

/// Applies units on a connection that holds the migration lock.
pub(crate) struct Executor<'s> {
    session: &'s Locked,
    timeouts: Timeouts,
    watch: Watch<'s>,
}

/// A unit's transaction as sent: the text, and what comes before the
/// unit's own SQL, for error positions.
struct Transaction {
    sql: String,
    /// Statements before the unit's own.
    skipped: usize,
    /// Characters before the unit's own (all ASCII).
    prefix: usize,
}

impl<'s> Executor<'s> {
    /// An executor on `session`; `pool` lends a second connection that
    /// looks up who blocks a lock.
    pub(crate) fn new(session: &'s Locked, pool: &'s Pool, timeouts: Timeouts) -> Self {
        Executor {
            session,
            timeouts,
            watch: Watch::new(pool, session.stable_session()),
        }
    }

    /// Applies `unit` whole, retrying a lock timeout; how long it took.
    pub(crate) async fn apply(&mut self, unit: &Unit<'_>) -> Result<Duration, Error> {
        let started = Instant::now();
        let schedule = self.schedule(unit);
        if unit.no_transaction || self.session.engine().statementwise() {
            self.statementwise(unit, &schedule).await?;
            return Ok(started.elapsed());
        }
        let mut tries = Tries::new(&unit.name, &schedule);
        loop {
            self.session.check()?;
            let transaction = self.transaction(unit, &schedule, tries.attempt, None);
            let client = self.session.client();
            let (result, blockers) = watched(&mut self.watch, client, schedule.lock(tries.attempt), async {
                run(client, &transaction.sql)
                    .await
                    .map_err(|(e, done)| transaction.failure(unit, e, done))
            })
            .await;
            match result {
                Err(e) if lock_timed_out(&e) => {
                    let effect = match unit.sql {
                        "" => "its transaction rolled back",
                        _ => "the file's transaction rolled back",
                    };
                    tries.retry(e, blockers, effect).await?;
                }
                result => return result.map(|()| started.elapsed()),
            }
        }
    }

    /// Applies `units` in order: runs of units that are one transaction
    /// each are pipelined, the others (and a unit whose pipelined attempt
    /// hit `lock_timeout`) one at a time with retries. `applied` hears of
    /// each as it commits. Stops at the first failure.
    pub(crate) async fn apply_all(
        &mut self,
        units: &[Unit<'_>],
        mut applied: impl FnMut(&Unit<'_>, Duration),
    ) -> Result<(), Error> {
        let mut rest = units;
        while !rest.is_empty() {
            self.session.check()?;
            let run = if self.session.engine().statementwise() {
                0
            } else {
                rest.iter()
                    .take_while(|u| !u.no_transaction && matches!(u.record, Record::Applied { ran: true, .. }))
                    .count()
            };
            if run > 1 {
                match pipeline::apply(self, &rest[..run], &mut applied).await {
                    Ok(()) => {
                        rest = &rest[run..];
                        continue;
                    }
                    Err((failed, e)) => {
                        rest = &rest[failed..];
                        if !lock_timed_out(&e) {
                            tracing::error!("Failed to apply {}", rest[0].name);
                            return Err(e);
                        }
                    }
                }
            }
            match self.apply(&rest[0]).await {
                Ok(took) => applied(&rest[0], took),
                Err(e) => {
                    tracing::error!("Failed to apply {}", rest[0].name);
                    return Err(e);
                }
            }
            rest = &rest[1..];
        }
        Ok(())
    }

    /// Waits until the units committed without waiting for the disk are
    /// on disk, as the server's `synchronous_commit` asks: a commit that
    /// wrote WAL flushes all WAL before it, and this one rewrites the
    /// newest tracking row in place, behind the fence.
    pub(crate) async fn make_durable(&self) -> Result<(), Error> {
        let table = &self.session.table;
        let sql = format!(
            "{}{}UPDATE {table} SET applied_at = applied_at WHERE id = (SELECT max(id) FROM {table})",
            self.session.fence().unwrap_or_default(),
            crate::sql::PINNED
        );
        self.session.client().batch_execute(&sql).await.map_err(|e| {
            crate::lock::stopped_by_fence(&e)
                .unwrap_or_else(|| Error::db("waiting for the applied migrations to reach the disk")(e))
        })
    }

    /// The unit's timeouts: its directives over the runner's, in the
    /// target schema.
    fn schedule(&self, unit: &Unit<'_>) -> Schedule {
        Schedule::of(unit.timeouts, &self.timeouts, self.session.search_path())
    }

    /// `unit` as one implicit transaction, for attempt `attempt`, after
    /// the lease's fence and `chain` (the pipeline's guard): the engine's
    /// settings, the timeouts and search_path (`SET LOCAL`, ASCII, each
    /// ending in `;`), the SQL, the history change and the session reset.
    fn transaction(&self, unit: &Unit<'_>, schedule: &Schedule, attempt: u32, chain: Option<&str>) -> Transaction {
        let fence = self.session.fence();
        let guards: Vec<&str> = fence.iter().map(String::as_str).chain(chain).collect();
        let settings = format!(
            "{}{}",
            self.session.engine().settings(),
            schedule.settings(attempt, true)
        );
        let guards_text = guards.concat();
        // The newline ends a trailing `--` comment; the `;` ends a last
        // statement written without one.
        let body = match unit.sql {
            "" => String::new(),
            sql => format!("{sql}\n;\n"),
        };
        let flush = if unit.flushed_later() { NO_FLUSH_WAIT } else { "" };
        let sql = format!(
            "{guards_text}{settings}{body}{}{} {} {flush}",
            crate::sql::PINNED,
            unit.record.sql(&self.session.table, SERVER_DURATION),
            crate::sql::RESET_SESSION
        );
        Transaction {
            skipped: settings.matches(';').count() + guards.len(),
            prefix: guards_text.len() + settings.len(),
            sql,
        }
    }

    /// Each statement on its own, then the history change. Where the
    /// session does not last (a lease, maybe a transaction pooler), no
    /// session setting is made, and the lease is checked before each
    /// statement; the history change runs behind the fence.
    async fn statementwise(&mut self, unit: &Unit<'_>, schedule: &Schedule) -> Result<(), Error> {
        let session = self.session;
        let client = session.client();
        if let (false, Some(schema)) = (session.stable_session(), &schedule.search_path) {
            if !unit.statements.is_empty() {
                return Err(Error::NeedsSession {
                    file_name: unit.name.clone(),
                    schema: schema.clone(),
                });
            }
        }
        let fence = session.fence();
        let started = Instant::now();
        let mut in_force = String::new();
        for (index, statement) in unit.statements.iter().enumerate() {
            let kind = match (schedule.first_lock, Kind::of(&statement.kind)) {
                (None, Kind::ConcurrentIndex(name, index)) => Kind::ConcurrentIndex(name, index),
                (None, _) => Kind::Atomic,
                (Some(_), kind) => kind,
            };
            let mut tries = Tries::new(&unit.name, schedule);
            // The statement's own lock timeout, reported when giving up while
            // its INVALID index cannot be dropped either.
            let mut statement_failure = None;
            loop {
                if let Some(fence) = &fence {
                    session.check()?;
                    client.batch_execute(fence).await.map_err(|e| {
                        crate::lock::stopped_by_fence(&e)
                            .unwrap_or_else(|| Error::db("checking the migration lease")(e))
                    })?;
                }
                let settings = match session.stable_session() {
                    true => schedule.settings(tries.attempt, false),
                    false => String::new(),
                };
                if settings != in_force {
                    client
                        .batch_execute(&settings)
                        .await
                        .map_err(Error::db("setting lock_timeout and statement_timeout"))?;
                    in_force = settings;
                }
                if let Some(name) = tries.invalid_index.clone() {
                    let (dropped, blockers) = watched(
                        &mut self.watch,
                        client,
                        schedule.lock(tries.attempt),
                        drop_index(client, &name),
                    )
                    .await;
                    match dropped {
                        Ok(()) => {
                            tracing::info!(
                                "{}: dropped the INVALID index {name} that the failed CREATE INDEX CONCURRENTLY left",
                                unit.name
                            );
                            tries.invalid_index = None;
                        }
                        Err(e) if lock_timed_out(&e) => {
                            let cause = match &statement_failure {
                                Some(m) => Error::Migration(Box::new(MigrationError::clone(m))),
                                None => e,
                            };
                            tries.retry(cause, blockers, "the INVALID index is still there").await?;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let before = match &kind {
                    Kind::ConcurrentIndex(_, index) => invalid_indexes(client, index, session.engine()).await?,
                    _ => Vec::new(),
                };
                let text = &unit.sql[statement.start..statement.end];
                let (result, blockers) = watched(&mut self.watch, client, schedule.lock(tries.attempt), async {
                    run(client, text).await.map_err(|(e, _)| {
                        let sent = Sent {
                            index,
                            base: statement.start,
                            completed: Some(index),
                            prefix: 0,
                        };
                        failure(unit, sent, e)
                    })
                })
                .await;
                match result {
                    Err(e) if lock_timed_out(&e) => {
                        if let Kind::ConcurrentIndex(name, index) = &kind {
                            tries.invalid_index =
                                left_invalid(client, index, session.engine(), &before, name.as_deref()).await?;
                        }
                        if let Error::Migration(m) = &e {
                            statement_failure = Some(MigrationError::clone(m));
                        }
                        match kind.unsafe_to_retry() {
                            Some(why) => {
                                tries.not_retried = Some(why);
                                return Err(tries.blocked(e, blockers));
                            }
                            None => {
                                let note = match &tries.invalid_index {
                                    Some(name) => {
                                        format!("it left the INVALID index {name}, dropped before the retry")
                                    }
                                    None => "the statement had no effect".to_string(),
                                };
                                tries.retry(e, blockers, &note).await?;
                            }
                        }
                    }
                    Err(Error::Migration(mut m)) => {
                        if let Kind::ConcurrentIndex(name, index) = &kind {
                            m.invalid_index =
                                left_invalid(client, index, session.engine(), &before, name.as_deref()).await?;
                        }
                        return Err(Error::Migration(m));
                    }
                    result => {
                        result?;
                        break;
                    }
                }
            }
        }
        let millis = started.elapsed().as_millis().min(i32::MAX as u128);
        let sql = format!(
            "{}{}{} {}",
            fence.unwrap_or_default(),
            crate::sql::PINNED,
            unit.record.sql(&session.table, &millis.to_string()),
            crate::sql::RESET_SESSION
        );
        let total = unit.statements.len();
        run(client, &sql).await.map_err(|(e, _)| {
            let sent = Sent {
                index: total,
                base: 0,
                completed: Some(total),
                prefix: 0,
            };
            failure(unit, sent, e)
        })
    }
}

impl Transaction {
    /// The error for this transaction's failure after `done` statements.
    fn failure(&self, unit: &Unit<'_>, e: tokio_postgres::Error, done: usize) -> Error {
        let sent = Sent {
            index: done.saturating_sub(self.skipped),
            base: 0,
            completed: None,
            prefix: self.prefix,
        };
        failure(unit, sent, e)
    }
}
