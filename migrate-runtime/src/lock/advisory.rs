//! The session-level advisory lock that makes concurrent runs take turns,
//! and the choice between it and the [lease](super::lease).

use crate::session::handover;
use crate::session::history::Expected;
use crate::session::query::{execute, first_value};
use crate::session::server::Engine;
use crate::session::trust::{self, Relation};
use crate::sql::TableName;
use crate::sql::PINNED;
use crate::Error;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};
use tokio_postgres::{Client, SimpleQueryMessage};

/// How concurrent runs take turns; see [`Runner::lock_mode`](crate::Runner::lock_mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// `Session` where a session lock is proven to hold on this
    /// connection, `Lease` otherwise (a transaction pooler, CockroachDB,
    /// YugabyteDB).
    #[default]
    Auto,
    /// A session-level advisory lock held by one connection for the whole
    /// run. Wrong behind a transaction pooler.
    Session,
    /// A fenced lease row in `<table>_lock`, renewed by a heartbeat; works
    /// through transaction poolers and on engines without advisory locks.
    Lease,
    /// No lock: only when a single instance ever migrates at a time.
    None,
}

impl std::str::FromStr for LockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(LockMode::Auto),
            "session" => Ok(LockMode::Session),
            "lease" => Ok(LockMode::Lease),
            "none" => Ok(LockMode::None),
            other => Err(format!("`{other}` is no lock mode; use auto, session, lease or none")),
        }
    }
}

/// Decides `Auto` before any lock is taken: a lease on engines without
/// session advisory locks, and where the connection's cancel key names
/// another backend than the server's (a pooler answered the start-up).
/// `None` keeps the session lock, to be proven when taken.
pub(crate) async fn pre_choose(client: &Client, engine: Engine, server_pid: i32) -> Option<String> {
    if let Some(why) = engine.no_session_lock() {
        return Some(why.to_string());
    }
    match key_pid(client).await {
        Some(pid) if pid != server_pid => Some(format!(
            "a connection pooler sits between this process and the server (the connection's cancel key names \
             backend {pid}, the server's backend is {server_pid}), so a session lock would belong to whichever \
             backend ran the statement"
        )),
        _ => None,
    }
}

/// The backend pid in the cancel key the connection got at start-up: the
/// server's own pid on a direct connection, a made-up one behind a pooler.
/// Read by sending the cancel request into memory, never to the server,
/// whatever the connection's `sslmode`: the in-memory end accepts TLS and
/// [`InMemory`] leaves the bytes as they are.
async fn key_pid(client: &Client) -> Option<i32> {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let token = client.cancel_token();
    let read = async move {
        let mut head = [0u8; 8];
        theirs.read_exact(&mut head).await.ok()?;
        if head[4..8] == 80877103u32.to_be_bytes() {
            theirs.write_all(b"S").await.ok()?;
            theirs.read_exact(&mut head).await.ok()?;
        }
        let mut rest = [0u8; 8];
        theirs.read_exact(&mut rest).await.ok()?;
        (head[..4] == 16u32.to_be_bytes() && head[4..8] == 80877102u32.to_be_bytes())
            .then(|| i32::from_be_bytes(rest[..4].try_into().expect("4 bytes")))
    };
    let (_, pid) = futures_util::future::join(token.cancel_query_raw(ours, InMemory), read).await;
    pid
}

/// The "TLS" of [`key_pid`]'s in-memory stream: none, the stream as it is.
struct InMemory;

impl TlsConnect<DuplexStream> for InMemory {
    type Stream = Clear;
    type Error = std::io::Error;
    type Future = std::future::Ready<std::io::Result<Clear>>;

    fn connect(self, stream: DuplexStream) -> Self::Future {
        std::future::ready(Ok(Clear(stream)))
    }
}

/// An in-memory stream that stands where a TLS stream would.
struct Clear(DuplexStream);

impl TlsStream for Clear {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for Clear {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Clear {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The lock key: derived from the qualified table name, so runners of
/// different tables (tenants) never wait for each other.
pub(crate) fn key(table: &TableName) -> i64 {
    let name = format!("{}.{}", table.schema.as_deref().unwrap_or(""), table.name);
    let sum = migrate_core::checksum(&name);
    i64::from_be_bytes(sum[..8].try_into().expect("8 bytes"))
}

/// Takes the lock, polling `pg_try_advisory_lock` with backoff up to
/// `poll_max`, and at once when the holder announces its release
/// ([`handover`]). A waiter never sits inside a statement or a transaction:
/// a waiting statement's snapshot would block a `CREATE INDEX CONCURRENTLY`
/// in the instance holding the lock, which then waits for the waiter.
/// After each wait, a table found holding the `done` history ends the
/// wait without the lock (the work got done meanwhile): `Ok(false)`.
/// A session lock and a lease exclude each other: a live lease in `lease`
/// makes the lock count as held. With `wait`, gives up once that long has
/// passed (checked between attempts) with [`Error::LockWait`].
pub(crate) async fn acquire(
    client: &Client,
    key: i64,
    lease: &TableName,
    poll_max: Duration,
    wait: Option<Duration>,
    done: Option<&Expected<'_>>,
) -> Result<bool, Error> {
    let started = std::time::Instant::now();
    if try_lock(client, key, lease, "").await? {
        return Ok(true);
    }
    let mut pause = handover::Pause::new(key, poll_max);
    let mut listen = handover::listen(key);
    let mut last_holder = None;
    loop {
        let holder = holder(client, key)
            .await
            .map_err(Error::db("looking up the migration lock's holder"))?;
        if holder != last_holder {
            match &holder {
                Some(h) => tracing::info!("Waiting for the migration lock, held by {h}"),
                None => tracing::info!("Waiting for the migration lock"),
            }
            last_holder = holder;
        }
        if wait.is_some_and(|wait| started.elapsed() >= wait) {
            return Err(Error::LockWait {
                waited: started.elapsed(),
                holder: last_holder,
            });
        }
        let prefix = std::mem::take(&mut listen);
        if pause
            .attempt(async || try_lock(client, key, lease, &prefix).await.map(|got| got.then_some(())))
            .await?
            .is_some()
        {
            return Ok(true);
        }
        if let Some(done) = done {
            if done.current(client).await? {
                return Ok(false);
            }
        }
    }
}

/// `pg_try_advisory_lock`, after the statements in `prefix`; given back
/// at once when a lease is live in `lease`.
async fn try_lock(client: &Client, key: i64, lease: &TableName, prefix: &str) -> Result<bool, Error> {
    let messages = client
        .simple_query(&format!(
            "{prefix}{PINNED}SELECT pg_try_advisory_lock({key}) AS locked, {}, {} FROM {}",
            trust::columns(),
            trust::TRIGGERS,
            trust::from(&trust::regclass(lease))
        ))
        .await
        .map_err(Error::db("taking the migration lock"))?;
    let Some(row) = messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    }) else {
        return Ok(false);
    };
    if row.get("locked") != Some("t") {
        return Ok(false);
    }
    let Some(relation) = Relation::from_row(row) else {
        return Ok(true);
    };
    if let Err(e) = relation.check(lease) {
        release(client, key).await;
        return Err(e);
    }
    let live = first_value(
        client,
        &format!("SELECT owner FROM {lease} WHERE id = 1 AND owner IS NOT NULL AND expires_at > clock_timestamp()"),
    )
    .await
    .map_err(Error::db(format!("reading the migration lease in {lease}")))?;
    let Some(owner) = live else {
        return Ok(true);
    };
    tracing::info!("Waiting for the migration lease, held by {owner}");
    release(client, key).await;
    Ok(false)
}

/// Gives the session lock back; best effort, closing the connection
/// releases it too.
pub(crate) async fn release(client: &Client, key: i64) {
    if let Err(e) = execute(client, &format!("SELECT pg_advisory_unlock({key})")).await {
        tracing::debug!("releasing the migration lock: {e}; closing the connection releases it");
    }
}

/// Whether the session lock just taken is proven to hold: `pg_locks`
/// shows it held by this connection's backend, the same backend (`pid`)
/// that answered the history statement, in a later transaction.
pub(crate) async fn proven(client: &Client, key: i64, pid: i32) -> Result<bool, Error> {
    let (classid, objid) = ((key as u64 >> 32) as u32, key as u64 as u32);
    let held = first_value(
        client,
        &format!(
            "SELECT pg_backend_pid() = {pid} AND EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND pid = pg_backend_pid() AND classid = {classid}::oid AND objid = {objid}::oid \
             AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        ),
    )
    .await
    .map_err(Error::db("checking that the migration lock holds"))?;
    Ok(held.as_deref() == Some("t"))
}

async fn holder(client: &Client, key: i64) -> Result<Option<String>, tokio_postgres::Error> {
    let (classid, objid) = ((key as u64 >> 32) as u32, key as u64 as u32);
    let sql = format!(
        "SELECT format('pid %s (application_name %L, connected since %s)', a.pid, a.application_name, \
         a.backend_start::timestamp(0)) \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {classid}::oid \
         AND l.objid = {objid}::oid AND l.objsubid = 1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    first_value(client, &sql).await
}
