//! The tracking table: compatible with `db_init.py`'s, plus nullable columns.

use super::query::execute;
use super::server::{self, Server};
use super::trust::{self, Relation};
use crate::plan::AppliedRow;
use crate::sql::{quote_ident, quote_literal, TableName, PINNED, RESET_SESSION};
use crate::Error;
use futures_util::StreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

/// The history, oldest first; `None` when the table (or a column this
/// project added) does not exist yet. One statement.
pub(crate) async fn read(client: &Client, table: &TableName) -> Result<Option<Vec<AppliedRow>>, Error> {
    let read = query(client, table, &rows_statement(table))
        .await
        .map_err(|e| e.into_error(format!("reading the migration history from {table}")))?;
    Ok(read.map(|read| read.rows))
}

/// What [`Expected::read`] found.
pub(crate) struct Read {
    /// The server it was read from.
    pub(crate) server: Server,
    /// The table (and every column this project added) exists.
    pub(crate) exists: bool,
    /// The table digests to the expected history: every file applied, in
    /// order, with its checksum, and nothing else. `rows` is then empty.
    pub(crate) current: bool,
    /// The history, oldest first, when not `current`.
    pub(crate) rows: Vec<AppliedRow>,
}

/// The history a table holds once every embedded migration is applied.
pub(crate) struct Expected<'a> {
    /// The tracking table.
    pub(crate) table: &'a TableName,
    /// How many rows it holds.
    pub(crate) count: usize,
    /// Their `migrate_core::history_digest`; `None` when the set has
    /// repeatable files, whose rows are no fixed list: the rows are read.
    pub(crate) digest: Option<i64>,
}

impl Expected<'_> {
    /// One statement, which also asks the server what it is
    /// ([`Server`]), and whose reply stays the same size whatever the
    /// history's length: the server compares the table's digest with the
    /// expected one. Only when they differ does a second statement read the
    /// rows. Without a digest, or on an engine without `hashtextextended`,
    /// the one statement reads the rows. When the table does not exist yet,
    /// a second statement asks the server.
    pub(crate) async fn read(&self, client: &Client) -> Result<Read, Error> {
        let table = self.table;
        let context = || format!("reading the migration history from {table}");
        if let Some(digest) = self.digest {
            match query(client, table, &self.digest_statement(digest)).await {
                Ok(Some(read)) if read.current => return Ok(read),
                Ok(Some(digested)) => {
                    return Ok(Read {
                        rows: read(client, table).await?.unwrap_or_default(),
                        ..digested
                    })
                }
                Ok(None) => return missing(client).await,
                Err(Failure::Server(e)) if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) => {
                    tracing::debug!("The server cannot digest the history ({e}); reading its rows");
                }
                Err(e) => return Err(e.into_error(context())),
            }
        }
        let sql = format!(
            "SELECT s.*, r.filename, r.checksum, r.applied_at::pg_catalog.text AS applied_at, r.duration_ms \
             FROM (SELECT {}) s LEFT JOIN (SELECT id, filename, checksum, applied_at, duration_ms FROM {}) r \
             ON true ORDER BY r.id",
            server::COLUMNS,
            located(table)
        );
        match query(client, table, &sql).await.map_err(|e| e.into_error(context()))? {
            Some(read) => Ok(read),
            None => missing(client).await,
        }
    }

    /// The server's columns and whether the table digests to `digest`,
    /// in one row whatever the history's length.
    fn digest_statement(&self, digest: i64) -> String {
        format!(
            "SELECT {}, pg_catalog.count(*) OPERATOR(pg_catalog.=) {} \
             AND {} OPERATOR(pg_catalog.=) '{digest}'::bigint AS current FROM {}",
            server::COLUMNS,
            self.count,
            migrate_core::history_digest::SERVER_EXPRESSION,
            located(self.table)
        )
    }

    /// Whether the table holds the expected history.
    pub(crate) async fn current(&self, client: &Client) -> Result<bool, Error> {
        let read = self.read(client).await?;
        Ok(read.exists && read.current)
    }
}

/// The rows, oldest first.
fn rows_statement(table: &TableName) -> String {
    format!(
        "SELECT filename, checksum, applied_at::pg_catalog.text AS applied_at, duration_ms FROM {} ORDER BY id",
        located(table)
    )
}

/// How a read names the tracking table: unqualified, found through the
/// search_path that [`locate`] set.
fn located(table: &TableName) -> String {
    quote_ident(&table.name)
}

/// The statement before every read of the tracking table: it finds the
/// table as `to_regclass` does (through the search_path when `table` is
/// unqualified), describes it ([`Relation`]), and sets the search_path
/// for the rest of the transaction to `pg_catalog` and the table's schema
/// when reading it runs no one else's code ([`trust::READABLE`]), to
/// `pg_catalog` alone (the read then finds no table) when not. The read
/// after it spells out every other name. Its triggers are checked before
/// the first write ([`ensure`]).
fn locate(table: &TableName) -> String {
    format!(
        "SELECT r.*, pg_catalog.set_config('search_path', CASE WHEN {} \
         THEN pg_catalog.concat('pg_catalog, ', r.r_schema, ', pg_temp') \
         ELSE 'pg_catalog, pg_temp' END, true) AS r_path FROM (SELECT {} FROM {}) r; ",
        trust::READABLE,
        trust::columns(),
        trust::from(&trust::regclass(table))
    )
}

/// What [`Expected::read`] gives when the table does not exist.
async fn missing(client: &Client) -> Result<Read, Error> {
    Ok(Read {
        server: Server::probe(client).await?,
        exists: false,
        current: false,
        rows: Vec::new(),
    })
}

/// Why a history query failed.
enum Failure {
    /// The table is there but not one to trust.
    Untrusted(Error),
    /// The server refused the query.
    Server(tokio_postgres::Error),
}

impl Failure {
    fn into_error(self, context: String) -> Error {
        match self {
            Failure::Untrusted(e) => e,
            Failure::Server(e) => Error::Database { context, cause: e },
        }
    }
}

/// Runs a history query after [`locate`]; a row without a `filename` (the
/// digest statement's, or an empty table's) carries only the server's
/// columns and `current`. `None` when the table (or a column this project
/// added) does not exist.
async fn query(client: &Client, table: &TableName, sql: &str) -> Result<Option<Read>, Failure> {
    let batch = format!("{}{sql}", locate(table));
    let mut messages = Box::pin(client.simple_query_raw(&batch).await.map_err(Failure::Server)?);
    let mut read = Read {
        server: Server::default(),
        exists: true,
        current: false,
        rows: Vec::new(),
    };
    let mut failure = None;
    while let Some(message) = messages.next().await {
        let row = match message {
            Ok(SimpleQueryMessage::Row(row)) => row,
            Ok(_) => continue,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if let Some(relation) = Relation::from_row(&row) {
            relation.check(table).map_err(Failure::Untrusted)?;
        }
        if let Some(server) = Server::from_row(&row) {
            read.server = server;
        }
        read.current |= row.try_get("current").ok().flatten() == Some("t");
        if let Ok(Some(file_name)) = row.try_get("filename") {
            read.rows.push(AppliedRow {
                file_name: file_name.to_string(),
                checksum: row.get("checksum").map(str::to_string),
                applied_at: row.get("applied_at").map(str::to_string),
                duration_ms: row.get("duration_ms").and_then(|d| d.parse().ok()),
            });
        }
    }
    match failure {
        Some(e)
            if [
                SqlState::UNDEFINED_TABLE,
                SqlState::UNDEFINED_COLUMN,
                SqlState::INVALID_SCHEMA_NAME,
            ]
            .iter()
            .any(|c| e.code() == Some(c)) =>
        {
            Ok(None)
        }
        Some(e) => Err(Failure::Server(e)),
        None => Ok(Some(read)),
    }
}

/// The table with its schema spelled out: an unqualified name resolves
/// through the connection's `search_path` once, before any migration can
/// change it.
pub(crate) async fn qualify(client: &Client, table: &TableName) -> Result<TableName, Error> {
    if table.schema.is_some() {
        return Ok(table.clone());
    }
    let sql = format!(
        "SELECT coalesce(c.relnamespace::pg_catalog.regnamespace::pg_catalog.text, \
         pg_catalog.quote_ident(pg_catalog.current_schema())) FROM {}",
        trust::from(&trust::regclass(table))
    );
    let schema = client
        .simple_query(&sql)
        .await
        .map_err(Error::db("resolving the tracking table's schema"))?
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| Error::NoSchemaOnPath {
            table: table.name.clone(),
        })?;
    Ok(table.in_schema(&trust::unquote(&schema)))
}

/// Creates the schema, the table or the added columns if missing, and
/// resets the session. One round trip when everything exists.
pub(crate) async fn ensure(client: &Client, table: &TableName) -> Result<(), Error> {
    let schema = table.schema.as_deref().expect("qualified table");
    let probe = format!(
        "{RESET_SESSION} {PINNED}SELECT to_regnamespace({}) IS NOT NULL AS schema_exists, \
         (SELECT count(*) FROM pg_attribute WHERE attrelid = x.oid \
          AND attname IN ('checksum', 'duration_ms', 'down_sql') AND NOT attisdropped) AS added, {}, {} FROM {}",
        quote_literal(&quote_ident(schema)),
        trust::columns(),
        trust::TRIGGERS,
        trust::from(&trust::regclass(table))
    );
    let messages = client
        .simple_query(&probe)
        .await
        .map_err(Error::db(format!("inspecting {table}")))?;
    let Some(row) = messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    }) else {
        return Err(Error::UnexpectedReply {
            context: format!("inspecting {table}: the server returned no row"),
        });
    };
    let relation = Relation::from_row(row);
    if let Some(relation) = &relation {
        relation.check(table)?;
    }
    let mut ddl = String::new();
    if row.get("schema_exists") != Some("t") {
        ddl.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {};\n", quote_ident(schema)));
    }
    if relation.is_none() {
        ddl.push_str(&create_table(table));
    } else if row.get("added") != Some("3") {
        ddl.push_str(&format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS checksum TEXT, ADD COLUMN IF NOT EXISTS duration_ms INTEGER, \
             ADD COLUMN IF NOT EXISTS down_sql TEXT;\n"
        ));
    }
    if ddl.is_empty() {
        return Ok(());
    }
    execute(client, &ddl)
        .await
        .map_err(Error::db(format!("creating {table}")))
}

fn create_table(table: &TableName) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n    id SERIAL PRIMARY KEY,\n    filename VARCHAR(255) UNIQUE NOT NULL,\n    \
         applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n    checksum TEXT,\n    duration_ms INTEGER,\n    \
         down_sql TEXT\n);\n"
    )
}
