//! The runner's own SQL, apart from the migration files: small helpers
//! over simple queries (no prepared statements: the session reset
//! deallocates them, and they cost a round trip each), and the setting that
//! keeps other roles' look-alike functions, operators, relations and types
//! out of that SQL.

use tokio_postgres::{Client, SimpleQueryMessage};

/// Starts every statement list of the runner's own (first in its implicit
/// transaction, or after the migration file it records): for the rest of
/// the transaction, names resolve in `pg_catalog` only, so a function,
/// operator, catalog view or type another role planted on the
/// search_path (CVE-2018-1058) cannot run as the migrating role. The
/// runner's tables are always schema-qualified. The few statements that
/// must resolve through the caller's search_path (finding the tracking
/// table, the guards that run before a file) spell out `pg_catalog.`
/// and `OPERATOR(pg_catalog.=)` instead.
pub(crate) const PINNED: &str = "SET LOCAL search_path = pg_catalog, pg_temp; ";

/// `sql` after [`PINNED`].
pub(crate) fn pinned(sql: &str) -> String {
    format!("{PINNED}{sql}")
}

/// Runs `sql` (statements of the runner's own) after [`PINNED`].
pub(crate) async fn execute(client: &Client, sql: &str) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(&pinned(sql)).await
}

/// The messages of `sql` (the runner's own) run after [`PINNED`].
pub(crate) async fn messages(client: &Client, sql: &str) -> Result<Vec<SimpleQueryMessage>, tokio_postgres::Error> {
    client.simple_query(&pinned(sql)).await
}

/// The first row of `sql` (the runner's own, run after [`PINNED`]), as text.
pub(crate) async fn first_row(client: &Client, sql: &str) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    Ok(messages(client, sql)
        .await?
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .unwrap_or_default())
}

/// The first column of [`first_row`].
pub(crate) async fn first_value(client: &Client, sql: &str) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(first_row(client, sql).await?.into_iter().next().flatten())
}
