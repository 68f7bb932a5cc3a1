//! Waiting for the server, `db_init.py`'s "PostgreSQL ready check".

use crate::Error;
use deadpool_postgres::{Object, Pool, PoolError};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

/// A connection from `pool`, retrying with backoff while the server is not
/// up yet, for at most `limit`. Failures that waiting cannot fix (wrong
/// password, missing database, bad configuration, TLS) return at once.
pub(crate) async fn connect(pool: &Pool, limit: Duration) -> Result<Object, Error> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    tracing::info!("Checking PostgreSQL connection...");
    loop {
        attempts += 1;
        let error = match pool.get().await {
            Ok(client) => {
                tracing::info!("PostgreSQL ready");
                return Ok(client);
            }
            Err(e) => e,
        };
        let last = match &error {
            PoolError::Backend(e) => match crate::connector::explain(e) {
                Some(tls) => return Err(Error::Tls(tls)),
                None if !retryable(e) => return Err(Error::Connect(crate::error::describe(e))),
                None => crate::error::describe(e),
            },
            other => other.to_string(),
        };
        let waited = started.elapsed();
        if waited + delay > limit {
            return Err(Error::Unavailable { waited, attempts, last });
        }
        tracing::warn!("PostgreSQL not ready ({last}); retrying in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Connection refused or reset, server starting up or shutting down, too
/// many clients: worth waiting for. Anything the server answered otherwise
/// is final.
fn retryable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => [
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
        ]
        .contains(code),
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) || e.is_closed(),
    }
}

/// Whether a run failed because its connection went away mid-run (the
/// server stopped, a failover, a demotion to standby): a new connection
/// may find a primary that can carry on.
pub(crate) fn lost(e: &Error) -> bool {
    let code_lost = |code: &str| {
        code.starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::READ_ONLY_SQL_TRANSACTION,
            ]
            .iter()
            .any(|c| c.code() == code)
    };
    match e {
        Error::Migration(m) => m.code.is_empty() || code_lost(&m.code),
        Error::Blocked(b) => lost(&b.cause),
        Error::Database { cause, .. } => match cause.code() {
            Some(code) => code_lost(code.code()),
            None => cause.is_closed() || std::error::Error::source(cause).is_some_and(|s| s.is::<std::io::Error>()),
        },
        _ => false,
    }
}
