//! The session-level advisory lock that makes concurrent runs take turns.

use super::handover;
use super::history::Expected;
use super::query::first_value;
use crate::table::TableName;
use crate::Error;
use std::time::Duration;
use tokio_postgres::Client;

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
pub(crate) async fn acquire(
    client: &Client,
    key: i64,
    poll_max: Duration,
    done: Option<&Expected<'_>>,
) -> Result<bool, Error> {
    if try_lock(client, key, "").await? {
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
        let prefix = std::mem::take(&mut listen);
        if pause
            .attempt(async || try_lock(client, key, &prefix).await.map(|got| got.then_some(())))
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

/// `pg_try_advisory_lock`, after the statements in `prefix`.
async fn try_lock(client: &Client, key: i64, prefix: &str) -> Result<bool, Error> {
    let got = first_value(client, &format!("{prefix}SELECT pg_try_advisory_lock({key})"))
        .await
        .map_err(Error::db("taking the migration lock"))?;
    Ok(got.as_deref() == Some("t"))
}

async fn holder(client: &Client, key: i64) -> Result<Option<String>, tokio_postgres::Error> {
    let (classid, objid) = ((key as u64 >> 32) as u32, key as u64 as u32);
    let sql = format!(
        "SELECT 'pid ' || a.pid || ' (application_name ' || quote_literal(a.application_name) \
         || ', connected since ' || a.backend_start::timestamp(0) || ')' \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {classid}::oid \
         AND l.objid = {objid}::oid AND l.objsubid = 1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    first_value(client, &sql).await
}
