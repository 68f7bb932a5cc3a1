//! Keeps a write from stalling the application: each file runs under a
//! short `lock_timeout`, and when it cannot get a lock in time (SQLSTATE
//! 55P03) it is tried again with a longer one, after a pause with jitter,
//! until a total budget runs out. Who blocked is logged at each retry and
//! named in the final error.

use crate::error::{BlockedError, Blocker};
use crate::session::query::first_value;
use crate::session::server::Engine;
use crate::sql::quote_literal;
use crate::Error;
use deadpool_postgres::{Object, Pool};
use futures_util::future::{select, Either};
use migrate_core::directive::Timeout;
use migrate_core::statement::StatementKind;
use migrate_core::FileTimeouts;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::pin::pin;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

/// How long a migration may wait for locks and run; see
/// [`Runner::timeouts`](crate::Runner::timeouts). The file directives
/// `-- migrate: lock-timeout 5s` and `-- migrate: statement-timeout 10min`
/// override `lock_timeout` and `statement_timeout` for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `lock_timeout` of a file's first attempt (default 250 ms); `None`
    /// waits for locks without limit and never retries.
    pub lock_timeout: Option<Duration>,
    /// Each retry doubles the lock timeout up to this (default 1 s). It
    /// bounds how long a blocked migration makes other queries on its
    /// tables wait.
    pub lock_timeout_max: Duration,
    /// The pause before the first retry (default 100 ms); it doubles with
    /// each retry, with jitter, up to `retry_pause_max` (default 2 s).
    pub retry_pause: Duration,
    /// The longest pause between two attempts.
    pub retry_pause_max: Duration,
    /// Give up on a file once its attempts have taken this long (default
    /// 3 min).
    pub budget: Duration,
    /// `statement_timeout` for each statement (default `None`: no limit).
    pub statement_timeout: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            lock_timeout: Some(Duration::from_millis(250)),
            lock_timeout_max: Duration::from_secs(1),
            retry_pause: Duration::from_millis(100),
            retry_pause_max: Duration::from_secs(2),
            budget: Duration::from_secs(180),
            statement_timeout: None,
        }
    }
}

/// What applying the files of one run shares: the pool for a second
/// connection that looks up blockers, and the migrating session's pid.
pub(crate) struct Watch<'a> {
    pool: &'a Pool,
    watcher: Option<Object>,
    pid: Option<i32>,
    stable: bool,
}

impl<'a> Watch<'a> {
    /// Blockers are looked up only where the session is `stable`: behind a
    /// transaction pooler the backend, and so its pid, changes.
    pub(crate) fn new(pool: &'a Pool, stable: bool) -> Self {
        Watch {
            pool,
            watcher: None,
            pid: None,
            stable,
        }
    }

    /// The migrating session's pid, asked once per run.
    async fn pid(&mut self, client: &Client) -> Option<i32> {
        if !self.stable {
            return None;
        }
        if self.pid.is_none() {
            self.pid = first_value(client, "SELECT pg_backend_pid()")
                .await
                .ok()
                .flatten()
                .and_then(|p| p.parse().ok());
        }
        self.pid
    }

    /// The watching connection, taken from the pool when first needed, and
    /// only when the pool has one to spare.
    async fn watcher(&mut self) -> Option<&Client> {
        if self.watcher.is_none() {
            let status = self.pool.status();
            if status.available == 0 && status.size >= status.max_size {
                tracing::debug!("no spare connection in the pool to look up lock blockers with");
                return None;
            }
            self.watcher = tokio::time::timeout(Duration::from_millis(500), self.pool.get())
                .await
                .ok()
                .and_then(Result::ok);
        }
        self.watcher.as_deref().map(|w| &**w)
    }
}

/// The settings of one file: directives over the runner's defaults, and
/// the schema a [`Runner::schema`](crate::Runner::schema) target migrates.
pub(super) struct Schedule {
    pub(super) first_lock: Option<Duration>,
    statement: Option<Duration>,
    options: Timeouts,
    pub(super) search_path: Option<String>,
}

impl Schedule {
    pub(super) fn of(directives: FileTimeouts, options: &Timeouts, search_path: Option<&str>) -> Schedule {
        let FileTimeouts { lock, statement } = directives;
        let pick = |directive: Option<Timeout>, default: Option<Duration>| match directive {
            Some(Timeout::Off) => None,
            Some(Timeout::After(d)) => Some(d),
            None => default,
        };
        Schedule {
            first_lock: pick(lock, options.lock_timeout),
            statement: pick(statement, options.statement_timeout),
            options: *options,
            search_path: search_path.map(str::to_string),
        }
    }

    /// The lock timeout of attempt `attempt` (1-based): doubling from the
    /// first, up to the maximum (or the first, when a directive set more).
    pub(super) fn lock(&self, attempt: u32) -> Option<Duration> {
        let first = self.first_lock?;
        let grown = first.saturating_mul(1 << (attempt - 1).min(16));
        let postgres_max = Duration::from_millis(i32::MAX as u64);
        Some(grown.min(self.options.lock_timeout_max.max(first)).min(postgres_max))
    }

    /// The pause after failed attempt `attempt`: exponential, with jitter
    /// in its upper half so that instances do not retry in step.
    fn pause(&self, attempt: u32) -> Duration {
        let full = self
            .options
            .retry_pause
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.options.retry_pause_max);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(attempt);
        let fraction = (hasher.finish() % 1000) as u32;
        full / 2 + full / 2 * fraction / 1000
    }

    /// `SET` statements for attempt `attempt`, each ending in `;`.
    pub(super) fn settings(&self, attempt: u32, local: bool) -> String {
        let scope = if local { "LOCAL " } else { "" };
        let mut sql = String::new();
        if let Some(lock) = self.lock(attempt) {
            write!(sql, "SET {scope}lock_timeout = '{}ms'; ", lock.as_millis()).expect("a String");
        }
        if let Some(statement) = self.statement {
            write!(sql, "SET {scope}statement_timeout = '{}ms'; ", statement.as_millis()).expect("a String");
        }
        sql.push_str(&crate::sql::search_path(self.search_path.as_deref(), local));
        sql
    }
}

/// The attempts at one file (or one statement of a `no-transaction` file).
pub(super) struct Tries<'s> {
    name: &'s str,
    schedule: &'s Schedule,
    pub(super) attempt: u32,
    started: Instant,
    pub(super) invalid_index: Option<String>,
    pub(super) not_retried: Option<&'static str>,
    /// The blockers last seen, by this attempt or an earlier one.
    blockers: Vec<Blocker>,
}

impl<'s> Tries<'s> {
    pub(super) fn new(name: &'s str, schedule: &'s Schedule) -> Self {
        Tries {
            name,
            schedule,
            attempt: 1,
            started: Instant::now(),
            invalid_index: None,
            not_retried: None,
            blockers: Vec::new(),
        }
    }

    /// After a lock timeout: logs who blocked and pauses, or gives up when
    /// timeouts are off or the next attempt would overrun the budget.
    pub(super) async fn retry(&mut self, cause: Error, blockers: Vec<Blocker>, effect: &str) -> Result<(), Error> {
        if self.schedule.first_lock.is_none() {
            return Err(cause);
        }
        self.seen(blockers);
        let pause = self.schedule.pause(self.attempt);
        let next = self.schedule.lock(self.attempt + 1);
        if self.started.elapsed() + pause > self.schedule.options.budget {
            return Err(self.blocked(cause, Vec::new()));
        }
        tracing::warn!(
            "{}: lock_timeout ({} ms) ran out on attempt {} ({effect}); {}; retrying in {} ms with lock_timeout {} ms",
            self.name,
            self.schedule.lock(self.attempt).unwrap_or_default().as_millis(),
            self.attempt,
            crate::error::blocked_by(&self.blockers),
            pause.as_millis(),
            next.unwrap_or_default().as_millis()
        );
        tokio::time::sleep(pause).await;
        self.attempt += 1;
        Ok(())
    }

    fn seen(&mut self, blockers: Vec<Blocker>) {
        if !blockers.is_empty() {
            self.blockers = blockers;
        }
    }

    pub(super) fn blocked(&mut self, cause: Error, blockers: Vec<Blocker>) -> Error {
        self.seen(blockers);
        Error::Blocked(Box::new(BlockedError {
            file_name: self.name.to_string(),
            attempts: self.attempt,
            waited: self.started.elapsed(),
            blockers: std::mem::take(&mut self.blockers),
            invalid_index: self.invalid_index.take(),
            not_retried: self.not_retried.map(str::to_string),
            cause,
        }))
    }
}

/// What a statement of a `no-transaction` file is, for retrying it.
pub(super) enum Kind {
    /// `CREATE INDEX CONCURRENTLY`, with the index name when given.
    ConcurrentIndex(Option<String>, Index),
    /// A statement that may commit part of its work before it fails.
    Partial(&'static str),
    /// One statement that either runs or has no effect.
    Atomic,
}

impl Kind {
    pub(super) fn of(kind: &StatementKind) -> Kind {
        match kind {
            StatementKind::Procedural => Kind::Partial("a procedure or DO block may have committed part of its work"),
            StatementKind::ReindexConcurrently => {
                Kind::Partial("a failed REINDEX CONCURRENTLY leaves `_ccnew` indexes behind; drop them by hand")
            }
            StatementKind::CreateIndexConcurrently { index, table } => {
                Kind::ConcurrentIndex(index.clone(), Index { table: table.clone() })
            }
            _ => Kind::Atomic,
        }
    }

    pub(super) fn unsafe_to_retry(&self) -> Option<&'static str> {
        match self {
            Kind::Partial(why) => Some(why),
            _ => None,
        }
    }
}

/// Where a `CREATE INDEX CONCURRENTLY` builds its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Index {
    /// The table as the statement names it (`t`, `s.t`, `"T"`), resolved
    /// through the file's search_path.
    table: Option<String>,
}

pub(crate) fn lock_timed_out(e: &Error) -> bool {
    match e {
        Error::Migration(m) => m.code == SqlState::LOCK_NOT_AVAILABLE.code(),
        Error::Database { cause, .. } => cause.code() == Some(&SqlState::LOCK_NOT_AVAILABLE),
        _ => false,
    }
}

/// Runs `work` while a second connection looks, every quarter lock timeout,
/// for the sessions blocking the migrating one; returns the last seen.
pub(super) async fn watched<T>(
    watch: &mut Watch<'_>,
    client: &Client,
    lock: Option<Duration>,
    work: impl std::future::Future<Output = T>,
) -> (T, Vec<Blocker>) {
    let Some(lock) = lock else {
        return (work.await, Vec::new());
    };
    let Some(pid) = watch.pid(client).await else {
        return (work.await, Vec::new());
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let every = (lock / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
    let poll = async {
        loop {
            tokio::time::sleep(every).await;
            let Some(watcher) = watch.watcher().await else {
                continue;
            };
            match blockers(watcher, pid).await {
                Ok(found) if !found.is_empty() => *seen.lock().expect("never poisoned") = found,
                Ok(_) => {}
                Err(e) => tracing::debug!("looking up lock blockers: {e}"),
            }
        }
    };
    let result = match select(pin!(work), pin!(poll)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), work)) => work.await,
    };
    (result, seen.into_inner().expect("never poisoned"))
}

/// The sessions `pid` waits for, as `pg_stat_activity` shows them.
async fn blockers(watcher: &Client, pid: i32) -> Result<Vec<Blocker>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT pid, coalesce(application_name, ''), coalesce(state, ''), \
         (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::bigint, \
         left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 80) \
         FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids({pid})) ORDER BY xact_start"
    );
    Ok(crate::session::query::messages(watcher, &sql)
        .await?
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(Blocker {
                pid: r.get(0)?.parse().ok()?,
                application_name: r.get(1).unwrap_or_default().to_string(),
                state: r.get(2).unwrap_or_default().to_string(),
                transaction_open: r.get(3).and_then(|ms| ms.parse().ok()).map(Duration::from_millis),
                query: r.get(4).unwrap_or_default().to_string(),
            }),
            _ => None,
        })
        .collect())
}

/// The INVALID indexes on the table `index` names, as the file's
/// search_path resolves it: `(oid, relname, qualified name)`. Indexes
/// another session is still building are left out (on PostgreSQL, which
/// reports builds in progress), so a retry never drops one of them.
pub(super) async fn invalid_indexes(
    client: &Client,
    index: &Index,
    engine: Engine,
) -> Result<Vec<(String, String, String)>, Error> {
    let Some(table) = &index.table else {
        return Ok(Vec::new());
    };
    let in_progress = match engine {
        Engine::PostgreSql | Engine::Citus => {
            " AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_progress_create_index p \
             WHERE p.index_relid OPERATOR(pg_catalog.=) i.indexrelid)"
        }
        Engine::CockroachDb | Engine::YugabyteDb => "",
    };
    let sql = format!(
        "SELECT i.indexrelid::pg_catalog.text, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         WHERE NOT i.indisvalid AND i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass({}){in_progress}",
        quote_literal(table)
    );
    Ok(client
        .simple_query(&sql)
        .await
        .map_err(Error::db("looking for INVALID indexes"))?
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((r.get(0)?.to_string(), r.get(1)?.to_string(), r.get(2)?.to_string())),
            _ => None,
        })
        .collect())
}

/// The INVALID index a failed `CREATE INDEX CONCURRENTLY` left: new since
/// `before`, and named `name` when the statement names it.
pub(super) async fn left_invalid(
    client: &Client,
    index: &Index,
    engine: Engine,
    before: &[(String, String, String)],
    name: Option<&str>,
) -> Result<Option<String>, Error> {
    Ok(invalid_indexes(client, index, engine)
        .await?
        .into_iter()
        .find(|(oid, relname, _)| !before.iter().any(|b| &b.0 == oid) && name.is_none_or(|n| n == relname))
        .map(|(_, _, qualified)| qualified))
}

pub(super) async fn drop_index(client: &Client, qualified: &str) -> Result<(), Error> {
    client
        .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"))
        .await
        .map_err(Error::db(format!(
            "dropping the INVALID index {qualified} that a failed CREATE INDEX CONCURRENTLY left"
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeouts_grow_to_the_maximum_and_pauses_have_jitter() {
        let options = Timeouts::default();
        let schedule = Schedule {
            first_lock: options.lock_timeout,
            statement: None,
            options,
            search_path: None,
        };
        let ms = |a| schedule.lock(a).unwrap().as_millis();
        assert_eq!((ms(1), ms(2), ms(3), ms(4), ms(30)), (250, 500, 1000, 1000, 1000));
        for attempt in 1..40 {
            let full = (100u128 << (attempt - 1).min(16)).min(2000);
            let pause = schedule.pause(attempt).as_millis();
            assert!(pause >= full / 2 && pause <= full, "{attempt}: {pause}");
        }
        assert_eq!(schedule.settings(1, true), "SET LOCAL lock_timeout = '250ms'; ");
    }

    #[test]
    fn a_directive_above_the_maximum_is_kept() {
        let schedule = Schedule {
            first_lock: Some(Duration::from_secs(5)),
            statement: Some(Duration::from_secs(600)),
            options: Timeouts::default(),
            search_path: Some("tenant;1".into()),
        };
        assert_eq!(schedule.lock(3), Some(Duration::from_secs(5)));
        assert_eq!(
            schedule.settings(1, false),
            "SET lock_timeout = '5000ms'; SET statement_timeout = '600000ms'; SET search_path = U&\"tenant\\003B1\"; "
        );
    }
}
