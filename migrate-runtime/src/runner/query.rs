//! Small helpers over simple queries (no prepared statements: the session
//! reset deallocates them, and they cost a round trip each).

use tokio_postgres::{Client, SimpleQueryMessage};

/// The first row of the last result of a simple query, as text.
pub(crate) async fn first_row(client: &Client, sql: &str) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    Ok(client
        .simple_query(sql)
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
