//! The runner's own SQL, apart from the migration files: small helpers
//! over simple queries (no prepared statements: the session reset
//! deallocates them, and they cost a round trip each), each after
//! [`PINNED`], which keeps other roles' look-alike functions, operators,
//! relations and types out of that SQL.

use crate::sql::PINNED;
use tokio_postgres::{Client, SimpleQueryMessage};

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
