//! The session-level advisory lock that makes concurrent runs take turns.

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
/// `poll_max`. A waiter never sits inside a statement or a transaction: a
/// waiting statement's snapshot would block a `CREATE INDEX CONCURRENTLY`
/// in the instance holding the lock, which then waits for the waiter.
pub(crate) async fn acquire(client: &Client, key: i64, poll_max: Duration) -> Result<(), Error> {
    let mut delay = Duration::from_millis(20);
    let mut last_holder = None;
    loop {
        let got = first_value(client, &format!("SELECT pg_try_advisory_lock({key})"))
            .await
            .map_err(Error::db("taking the migration lock"))?;
        if got.as_deref() == Some("t") {
            return Ok(());
        }
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
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(poll_max);
    }
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
