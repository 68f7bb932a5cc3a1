//! Keeps a migration from stalling the application: each file runs under a
//! short `lock_timeout`, and when it cannot get a lock in time (SQLSTATE
//! 55P03) it is tried again with a longer one, after a pause with jitter,
//! until a total budget runs out. Who blocked is logged at each retry and
//! named in the final error.

use super::apply::{apply_statement, apply_transaction, record_statementwise};
use super::query::first_value;
use super::server::Engine;
use super::Locked;
use crate::error::{BlockedError, Blocker, MigrationError};
use crate::table::quote_literal;
use crate::{Error, Migration, Statement};
use deadpool_postgres::{Object, Pool};
use futures_util::future::{select, Either};
use migrate_core::checks::Words;
use migrate_core::directive::{self, Timeout};
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
struct Schedule {
    first_lock: Option<Duration>,
    statement: Option<Duration>,
    options: Timeouts,
    search_path: Option<String>,
}

impl Schedule {
    fn of(file: Migration, options: &Timeouts, search_path: Option<&str>) -> Schedule {
        let (lock, statement) = directive::timeouts(file.sql());
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
    fn lock(&self, attempt: u32) -> Option<Duration> {
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
    fn settings(&self, attempt: u32, local: bool) -> String {
        let scope = if local { "LOCAL " } else { "" };
        let mut sql = String::new();
        if let Some(lock) = self.lock(attempt) {
            write!(sql, "SET {scope}lock_timeout = '{}ms'; ", lock.as_millis()).expect("a String");
        }
        if let Some(statement) = self.statement {
            write!(sql, "SET {scope}statement_timeout = '{}ms'; ", statement.as_millis()).expect("a String");
        }
        sql.push_str(&crate::fanout::search_path(self.search_path.as_deref(), local));
        sql
    }
}

/// The settings of `file`'s first attempt in `session`, each ending in `;`.
pub(crate) fn first_settings(file: Migration, options: &Timeouts, session: &Locked) -> String {
    let schedule = Schedule::of(file, options, session.search_path());
    format!("{}{}", session.engine().settings(), schedule.settings(1, true))
}

/// Applies `file`: a normal file as a whole, retried as a whole; a
/// `no-transaction` file statement by statement, each retried where that
/// is safe.
/// An engine whose DDL is not transactional runs every file statement by
/// statement. Under a lease each transaction starts with its fence.
pub(crate) async fn apply(
    watch: &mut Watch<'_>,
    session: &Locked,
    file: Migration,
    options: &Timeouts,
) -> Result<(), Error> {
    let schedule = Schedule::of(file, options, session.search_path());
    if file.no_transaction() || session.engine().statementwise() {
        return apply_statementwise(watch, session, file, &schedule).await;
    }
    let (client, table) = (session.client(), &session.table);
    let fence = session.fence();
    let mut tries = Tries::new(file, &schedule);
    loop {
        let settings = format!(
            "{}{}",
            session.engine().settings(),
            schedule.settings(tries.attempt, true)
        );
        let (result, blockers) = watched(watch, client, schedule.lock(tries.attempt), async {
            apply_transaction(client, table, file, fence.as_deref(), &settings).await
        })
        .await;
        match result {
            Err(e) if lock_timed_out(&e) => tries.retry(e, blockers, "the file's transaction rolled back").await?,
            result => return result,
        }
    }
}

/// Each statement on its own. Where the session does not last (a lease,
/// maybe a transaction pooler), no session setting is made, and the lease
/// is checked before each statement; the row is recorded behind the fence.
async fn apply_statementwise(
    watch: &mut Watch<'_>,
    session: &Locked,
    file: Migration,
    schedule: &Schedule,
) -> Result<(), Error> {
    let (client, table) = (session.client(), &session.table);
    if let (false, Some(schema)) = (session.stable_session(), &schedule.search_path) {
        return Err(Error::Refused(format!(
            "{} runs outside a transaction, so it needs search_path set for the session, but under a lease \
             a session setting may not last (a transaction pooler may sit between): schema-qualify the names \
             in the file (`{schema}.table`), or migrate schema {schema} over a direct connection",
            file.file_name()
        )));
    }
    let fence = session.fence();
    let started = Instant::now();
    let mut in_force = String::new();
    for (index, statement) in file.statements().enumerate() {
        let kind = Kind::of(statement);
        let kind = match (schedule.first_lock, kind) {
            (None, Kind::ConcurrentIndex(name, index)) => Kind::ConcurrentIndex(name, index),
            (None, _) => Kind::Atomic,
            (Some(_), kind) => kind,
        };
        let mut tries = Tries::new(file, schedule);
        // The statement's own lock timeout, reported when giving up while
        // its INVALID index cannot be dropped either.
        let mut statement_failure = None;
        loop {
            if let Some(fence) = &fence {
                session.check()?;
                client.batch_execute(fence).await.map_err(|e| {
                    super::lease::stopped_by_fence(&e).unwrap_or_else(|| Error::db("checking the migration lease")(e))
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
                let (dropped, blockers) =
                    watched(watch, client, schedule.lock(tries.attempt), drop_index(client, &name)).await;
                match dropped {
                    Ok(()) => {
                        tracing::info!(
                            "{}: dropped the INVALID index {name} that the failed CREATE INDEX CONCURRENTLY left",
                            file.file_name()
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
            let (result, blockers) = watched(watch, client, schedule.lock(tries.attempt), async {
                apply_statement(client, file, index, statement).await
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
                        _ => {
                            let note = match &tries.invalid_index {
                                Some(name) => format!("it left the INVALID index {name}, dropped before the retry"),
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
    record_statementwise(client, table, file, fence.as_deref(), started).await
}

/// The attempts at one file (or one statement of a `no-transaction` file).
struct Tries<'s> {
    file: Migration,
    schedule: &'s Schedule,
    attempt: u32,
    started: Instant,
    invalid_index: Option<String>,
    not_retried: Option<&'static str>,
    /// The blockers last seen, by this attempt or an earlier one.
    blockers: Vec<Blocker>,
}

impl<'s> Tries<'s> {
    fn new(file: Migration, schedule: &'s Schedule) -> Self {
        Tries {
            file,
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
    async fn retry(&mut self, cause: Error, blockers: Vec<Blocker>, effect: &str) -> Result<(), Error> {
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
            self.file.file_name(),
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

    fn blocked(&mut self, cause: Error, blockers: Vec<Blocker>) -> Error {
        self.seen(blockers);
        Error::Blocked(Box::new(BlockedError {
            file_name: self.file.file_name().to_string(),
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
enum Kind {
    /// `CREATE INDEX CONCURRENTLY`, with the index name when given.
    ConcurrentIndex(Option<String>, Index),
    /// A statement that may commit part of its work before it fails.
    Partial(&'static str),
    /// One statement that either runs or has no effect.
    Atomic,
}

impl Kind {
    fn of(statement: Statement) -> Kind {
        let text = statement.text();
        let Ok(split) = migrate_core::split::split(text) else {
            return Kind::Atomic;
        };
        let Some(first) = split.statements.first() else {
            return Kind::Atomic;
        };
        let w = Words::of(text, &split.tokens, first);
        if w.is(0, "CALL") || w.is(0, "DO") {
            return Kind::Partial("a procedure or DO block may have committed part of its work");
        }
        if w.is(0, "REINDEX") && w.contains("CONCURRENTLY") {
            return Kind::Partial("a failed REINDEX CONCURRENTLY leaves `_ccnew` indexes behind; drop them by hand");
        }
        let unique = usize::from(w.is(1, "UNIQUE"));
        if !(w.is(0, "CREATE") && w.is(1 + unique, "INDEX") && w.is(2 + unique, "CONCURRENTLY")) {
            return Kind::Atomic;
        }
        let mut name = 3 + unique;
        if w.is(name, "IF") {
            name += 3;
        }
        let on = w.find("ON").map(|on| on + usize::from(w.is(on + 1, "ONLY")) + 1);
        let table = on
            .and_then(|t| w.words.get(t))
            .map(|(_, token)| qualified_name(&text[token.start..]));
        Kind::ConcurrentIndex(
            match w.words.get(name) {
                Some((word, _)) if !w.is(name, "ON") => Some(unquote(word)),
                _ => None,
            },
            Index { table },
        )
    }

    fn unsafe_to_retry(&self) -> Option<&'static str> {
        match self {
            Kind::Partial(why) => Some(why),
            _ => None,
        }
    }
}

/// Where a `CREATE INDEX CONCURRENTLY` builds its index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    /// The table as the statement names it (`t`, `s.t`, `"T"`), resolved
    /// through the file's search_path.
    table: Option<String>,
}

/// The possibly qualified name `text` starts with (`s . "T 1"` gives
/// `s."T 1"`), spelled as SQL reads it.
fn qualified_name(text: &str) -> String {
    let mut name = String::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let end = match rest.strip_prefix('"') {
            Some(quoted) => {
                let mut end = None;
                let mut chars = quoted.char_indices().peekable();
                while let Some((i, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, n)| n) == Some('"') {
                            chars.next();
                            continue;
                        }
                        end = Some(i + 2);
                        break;
                    }
                }
                end.unwrap_or(rest.len())
            }
            None => rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len()),
        };
        name.push_str(&rest[..end]);
        rest = rest[end..].trim_start();
        match rest.strip_prefix('.') {
            Some(after) => {
                name.push('.');
                rest = after;
            }
            None => return name,
        }
    }
}

/// An identifier as the catalog stores it.
fn unquote(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => word.to_lowercase(),
    }
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
async fn watched<T>(
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
    Ok(super::query::messages(watcher, &sql)
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
async fn invalid_indexes(
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
async fn left_invalid(
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

async fn drop_index(client: &Client, qualified: &str) -> Result<(), Error> {
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

    #[test]
    fn names_the_index_and_table_of_create_index_concurrently() {
        let name = |sql: &str| {
            let m = one_file(sql);
            let statement = m.iter().next().unwrap().statements().next().unwrap();
            match Kind::of(statement) {
                Kind::ConcurrentIndex(name, index) => Some((name, index.table)),
                _ => None,
            }
        };
        let both = |name: Option<&str>, table: &str| Some((name.map(String::from), Some(table.to_string())));
        assert_eq!(name("CREATE INDEX CONCURRENTLY i ON t (a);"), both(Some("i"), "t"));
        assert_eq!(
            name("create unique index concurrently if not exists \"Big\"\"i\" on only s . \"T 1\" using btree (a);"),
            both(Some("Big\"i"), "s.\"T 1\"")
        );
        assert_eq!(name("CREATE INDEX CONCURRENTLY ON t(a);"), both(None, "t"));
        assert_eq!(
            name("CREATE INDEX CONCURRENTLY IX ON public.t (a);"),
            both(Some("ix"), "public.t")
        );
        assert_eq!(name("VACUUM t;"), None);
    }

    /// A `no-transaction` file holding `sql`, read through a folder.
    fn one_file(sql: &str) -> crate::Migrations {
        let dir = std::env::temp_dir().join(format!("migrate-timeouts-{}-{}", std::process::id(), sql.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("001_x.sql"), format!("-- migrate: no-transaction\n{sql}")).unwrap();
        let m = crate::Migrations::from_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        m
    }
}
