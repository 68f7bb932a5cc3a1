//! A connection and what it knows: connecting with retries, what the
//! server is, the tracking table and whether it can be trusted, and the
//! runner's own queries.

pub(crate) mod connect;
pub(crate) mod handover;
pub(crate) mod history;
mod pool;
pub(crate) mod query;
pub(crate) mod server;
pub(crate) mod trust;

use crate::sql::quote_literal;
use crate::Error;
pub use pool::pool_from_url;
pub(crate) use query::pinned;

/// Fails unless `schema` exists, telling how to create it.
pub(crate) async fn require_schema(client: &tokio_postgres::Client, schema: &str) -> Result<(), Error> {
    let sql = format!(
        "SELECT count(*) FROM pg_namespace WHERE nspname = {}",
        quote_literal(schema)
    );
    let found = query::messages(client, &sql)
        .await
        .map_err(Error::db(format!("looking up the schema {schema}")))?
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("1")));
    if found {
        return Ok(());
    }
    Err(Error::NoSuchSchema {
        schema: schema.to_string(),
    })
}
