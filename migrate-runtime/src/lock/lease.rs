//! The lease: the migration lock where a session advisory lock cannot be
//! trusted (a transaction pooler, an engine whose advisory locks do
//! nothing). A row in a table beside the tracking table holds the owner, a
//! fencing token incremented at every acquisition, and an expiry on the
//! server's clock. A heartbeat on its own connection extends the expiry;
//! every file's transaction first checks, under a row lock, that the token
//! is still this holder's, so a holder that was paused and lost the lease
//! records nothing.
//!
//! Row locks: the fence takes `FOR KEY SHARE`, which a takeover (it changes
//! the `UNIQUE` token, so it locks the row `FOR UPDATE`) waits for, while
//! the heartbeat (it changes only the expiry, `FOR NO KEY UPDATE`) does
//! not: a long file keeps its lease alive, and no one takes it over until
//! that file's transaction ends.

use crate::session::history::Expected;
use crate::session::query::{execute, messages};
use crate::session::trust;
use crate::sql::{quote_literal, TableName};
use crate::Error;
use deadpool_postgres::Pool;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

/// The SQLSTATE the fence raises when the lease is no longer ours.
pub(crate) const LOST: &str = "MGL01";

/// The lease table of a (qualified) tracking table: `<table>_lock`.
pub(crate) fn table_of(tracking: &TableName) -> TableName {
    TableName {
        schema: tracking.schema.clone(),
        name: format!("{}_lock", tracking.name),
    }
}

/// Who holds a lease, for logs: host, process and a per-run nonce, so that
/// a restarted process is another owner and a reconnected run the same one.
pub(crate) fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".to_string());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{host} pid {} run {:08x}", std::process::id(), hasher.finish() as u32)
}

/// A held lease.
pub(crate) struct Lease {
    table: TableName,
    token: i64,
    lost: Arc<AtomicBool>,
    heartbeat: JoinHandle<()>,
}

/// How to wait for and take a lease.
pub(crate) struct Request<'a> {
    pub(crate) tracking: &'a TableName,
    pub(crate) owner: &'a str,
    pub(crate) length: Duration,
    pub(crate) poll_max: Duration,
    /// How long to wait at most; see [`Error::LockWait`].
    pub(crate) wait: Option<Duration>,
    /// The session advisory lock key, taken for the moment of the upsert
    /// so that a lease and a session lock exclude each other; `None` on
    /// engines without advisory locks.
    pub(crate) key: Option<i64>,
}

impl Request<'_> {
    /// Waits for the lease and takes it; `None` when the table holds the
    /// `done` history after a wait (the work got done meanwhile).
    pub(crate) async fn acquire(
        &self,
        client: &Client,
        pool: &Pool,
        done: Option<&Expected<'_>>,
    ) -> Result<Option<Lease>, Error> {
        let table = table_of(self.tracking);
        create(client, &table, self.key).await?;
        let mut pause = Duration::from_millis(20);
        let mut last_holder = None;
        let started = std::time::Instant::now();
        loop {
            let (holder, token) = self.attempt(client, &table).await?;
            if let Some(token) = token {
                match holder {
                    Some(h) if h.expired && h.owner != self.owner => tracing::warn!(
                        "Took over the migration lease (token {token}) from {}, whose lease expired {} ago",
                        h.owner,
                        h.since
                    ),
                    _ => tracing::info!(
                        "Took the migration lease (token {token}, {} s, renewed every {} ms)",
                        self.length.as_secs(),
                        (self.length / 3).as_millis()
                    ),
                }
                let lost = Arc::new(AtomicBool::new(false));
                return Ok(Some(Lease {
                    heartbeat: heartbeat(pool.clone(), table.clone(), token, self.length, lost.clone()),
                    lost,
                    table,
                    token,
                }));
            }
            let shown = holder.as_ref().map(|h| h.owner.clone());
            if shown != last_holder {
                match &holder {
                    Some(h) if h.expired => tracing::info!(
                        "Waiting for the migration lease, held by {} (expired {} ago; taking it over)",
                        h.owner,
                        h.since
                    ),
                    Some(h) => tracing::info!(
                        "Waiting for the migration lease, held by {} (expires in {})",
                        h.owner,
                        h.since
                    ),
                    None => tracing::info!("Waiting for the migration lock, held by a session advisory lock"),
                }
                last_holder = shown;
            }
            if self.wait.is_some_and(|wait| started.elapsed() >= wait) {
                return Err(Error::LockWait {
                    waited: started.elapsed(),
                    holder: Some(match holder {
                        Some(h) => format!("the lease owner {}", h.owner),
                        None => "a session advisory lock".to_string(),
                    }),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.poll_max);
            if let Some(done) = done {
                if done.current(client).await? {
                    return Ok(None);
                }
            }
        }
    }

    /// One try: the holder before it, and the token when taken.
    async fn attempt(&self, client: &Client, table: &TableName) -> Result<(Option<Holder>, Option<i64>), Error> {
        let gate = match self.key {
            Some(key) => format!("pg_try_advisory_xact_lock({key})"),
            None => "true".to_string(),
        };
        let sql = format!(
            "SELECT owner AS h_owner, expires_at < clock_timestamp() AS h_expired, \
             justify_interval(date_trunc('second', abs_interval)) AS h_since FROM \
             (SELECT owner, expires_at, CASE WHEN expires_at < clock_timestamp() THEN clock_timestamp() - expires_at \
             ELSE expires_at - clock_timestamp() END AS abs_interval FROM {table} WHERE id = 1 AND owner IS NOT NULL) h; \
             WITH gate AS (SELECT {gate} AS free) \
             INSERT INTO {table} AS l (id, owner, token, acquired_at, expires_at) \
             SELECT 1, {owner}, 1, clock_timestamp(), clock_timestamp() + interval '{ms} milliseconds' FROM gate WHERE free \
             ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, token = l.token + 1, \
             acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at \
             WHERE l.owner IS NULL OR l.expires_at < clock_timestamp() OR l.owner = EXCLUDED.owner \
             RETURNING l.token AS token",
            owner = quote_literal(self.owner),
            ms = self.length.as_millis()
        );
        let messages = messages(client, &sql)
            .await
            .map_err(Error::db(format!("taking the migration lease in {table}")))?;
        let (mut holder, mut token) = (None, None);
        for message in &messages {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let text = |name: &str| row.try_get(name).ok().flatten();
            if let Some(owner) = text("h_owner") {
                holder = Some(Holder {
                    owner: owner.to_string(),
                    expired: text("h_expired") == Some("t"),
                    since: text("h_since").unwrap_or_default().to_string(),
                });
            }
            token = token.or(text("token").and_then(|t| t.parse().ok()));
        }
        Ok((holder, token))
    }
}

/// The owner of a lease as seen before an attempt.
struct Holder {
    owner: String,
    expired: bool,
    /// How long until it expires, or since it expired.
    since: String,
}

impl Lease {
    /// The statement (a `DO $guard$` block) that starts each file's
    /// transaction: it raises
    /// [`LOST`] unless the lease is still ours, and keeps it ours until
    /// the transaction ends.
    pub(crate) fn fence(&self) -> String {
        crate::sql::do_block(&format!(
            " BEGIN PERFORM 1 FROM {} WHERE id OPERATOR(pg_catalog.=) 1 \
             AND token OPERATOR(pg_catalog.=) {} FOR KEY SHARE; \
             IF NOT FOUND THEN RAISE EXCEPTION 'this instance lost the migration lease (token {}): another instance took it over' \
             USING ERRCODE = '{LOST}'; END IF; END ",
            self.table, self.token, self.token
        ))
    }

    /// An error when the heartbeat found the lease taken over.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.lost.load(Ordering::Relaxed) {
            return Err(lost(self.token));
        }
        Ok(())
    }

    /// Frees the lease for the next instance, if it is still ours.
    pub(crate) async fn release(self, client: &Client) {
        self.heartbeat.abort();
        let sql = format!(
            "UPDATE {} SET owner = NULL, expires_at = NULL WHERE id = 1 AND token = {} RETURNING token",
            self.table, self.token
        );
        match messages(client, &sql).await {
            Ok(m) if m.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))) => {
                tracing::info!("Released the migration lease (token {})", self.token)
            }
            Ok(_) => tracing::warn!(
                "The migration lease (token {}) was no longer ours to release",
                self.token
            ),
            Err(e) => tracing::warn!(
                "releasing the migration lease (token {}): {e}; it expires by itself",
                self.token
            ),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// The error for a statement the fence stopped, if it was the fence.
pub(crate) fn stopped_by_fence(e: &tokio_postgres::Error) -> Option<Error> {
    let db = e.as_db_error().filter(|d| d.code().code() == LOST)?;
    Some(Error::LeaseLost(format!(
        "{}; nothing more was recorded by this instance, and the new holder carries on",
        db.message()
    )))
}

/// The error of a holder that lost its lease.
pub(crate) fn lost(token: i64) -> Error {
    Error::LeaseLost(format!(
        "this instance lost the migration lease (token {token}): its heartbeat stalled past the lease's expiry \
         (the process was paused, or the server unreachable) and another instance took it over; nothing more was \
         recorded by this instance, and the new holder carries on"
    ))
}

/// Creates the lease table if missing. On PostgreSQL, under a transaction
/// advisory lock, since concurrent `CREATE TABLE IF NOT EXISTS` collide;
/// elsewhere a collision is retried once.
async fn create(client: &Client, table: &TableName, key: Option<i64>) -> Result<(), Error> {
    if let Some(relation) = trust::relation(client, table)
        .await
        .map_err(Error::db(format!("looking for {table}")))?
    {
        return relation.check(table);
    }
    let schema = table.schema.as_deref().expect("qualified table");
    let gate = match key {
        Some(key) => format!("SELECT pg_advisory_xact_lock({});", key ^ 1),
        None => String::new(),
    };
    let sql = format!(
        "{gate} CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {table} (\
         id integer PRIMARY KEY CHECK (id = 1), owner text, token bigint NOT NULL UNIQUE, \
         acquired_at timestamptz, expires_at timestamptz)",
        crate::sql::quote_ident(schema)
    );
    for attempt in 0..2 {
        match execute(client, &sql).await {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt == 0
                    && [SqlState::UNIQUE_VIOLATION, SqlState::DUPLICATE_TABLE]
                        .iter()
                        .any(|c| e.code() == Some(c)) => {}
            Err(e) => return Err(Error::db(format!("creating the migration lease table {table}"))(e)),
        }
    }
    Ok(())
}

/// Extends the lease every third of its length on a connection of its
/// own, made outside the pool's limit; sets `lost` and stops when the
/// token is no longer ours.
fn heartbeat(pool: Pool, table: TableName, token: i64, length: Duration, lost: Arc<AtomicBool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let sql = format!(
            "UPDATE {table} SET expires_at = clock_timestamp() + interval '{} milliseconds' \
             WHERE id = 1 AND token = {token} RETURNING token",
            length.as_millis()
        );
        let mut connection = None;
        loop {
            tokio::time::sleep(length / 3).await;
            if connection
                .as_ref()
                .is_none_or(|c: &deadpool_postgres::ClientWrapper| c.is_closed())
            {
                use deadpool::managed::Manager as _;
                connection = match pool.manager().create().await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!("migration lease heartbeat: cannot connect ({e}); trying again");
                        continue;
                    }
                };
            }
            let client = connection.as_ref().expect("connected above");
            match messages(client, &sql).await {
                Ok(messages) if messages.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))) => {
                    tracing::debug!("renewed the migration lease (token {token})");
                }
                Ok(_) => {
                    lost.store(true, Ordering::Relaxed);
                    tracing::error!("{}", self::lost(token));
                    return;
                }
                Err(e) => {
                    tracing::warn!("migration lease heartbeat: {e}; trying again");
                    connection = None;
                }
            }
        }
    })
}
