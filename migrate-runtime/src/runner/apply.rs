//! Applying one file: one round trip for a normal file (its settings, SQL,
//! tracking row and the session reset, as one implicit transaction), one per
//! statement plus one for the row for a `no-transaction` file. The loop
//! over attempts and statements is in `timeouts`. Normal files commit
//! without waiting for the disk; one wait at the end covers them all.

use super::history::{record, RESET_SESSION};
use super::query::PINNED;
use crate::error::MigrationError;
use crate::table::TableName;
use crate::{Error, Migration, Statement};
use futures_util::StreamExt;
use migrate_core::position::{char_to_byte, first_line, line_col};
use std::time::Instant;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Milliseconds since the transaction began, computed by the server.
pub(crate) const SERVER_DURATION: &str =
    "(extract(epoch FROM clock_timestamp() - transaction_timestamp()) * 1000)::integer";

/// Ends a file's transaction: it commits without waiting for its WAL to
/// reach the disk. A crash can then lose the last files applied, each with
/// its tracking row (one transaction), so the next run applies them again;
/// [`make_durable`] waits once for all of them before `run` returns. Last
/// in the transaction, after the session reset's `RESET ALL`.
const NO_FLUSH_WAIT: &str = "SET LOCAL synchronous_commit = off;";

/// Waits until the files applied on this connection are on disk, as the
/// server's `synchronous_commit` asks: a commit that wrote WAL flushes all
/// WAL before it, and this one rewrites the newest tracking row in place.
pub(crate) async fn make_durable(client: &Client, table: &TableName) -> Result<(), Error> {
    super::query::execute(
        client,
        &format!("UPDATE {table} SET applied_at = applied_at WHERE id = (SELECT max(id) FROM {table})"),
    )
    .await
    .map_err(Error::db("waiting for the applied migrations to reach the disk"))
}

/// A normal file as one implicit transaction: `guards` (each one
/// statement: the lease's fence, the pipeline's chain), then `settings`
/// (`SET LOCAL` statements, each ending in `;`, on one line), the file,
/// its tracking row and the session reset.
pub(crate) struct Transaction {
    pub(crate) file: Migration,
    pub(crate) sql: String,
    /// Statements before the file's own.
    skipped: usize,
    /// Characters before the file's own (all ASCII).
    prefix: usize,
}

impl Transaction {
    pub(crate) fn new(table: &TableName, file: Migration, guards: &[&str], settings: &str) -> Transaction {
        let skipped = settings.matches(';').count() + guards.len();
        let guards = guards.concat();
        // The newline ends a trailing `--` comment; the `;` ends a last
        // statement written without one.
        let sql = format!(
            "{guards}{settings}{}\n;\n{PINNED}{} {RESET_SESSION} {NO_FLUSH_WAIT}",
            file.sql(),
            record(table, &file, SERVER_DURATION)
        );
        Transaction {
            file,
            skipped,
            prefix: guards.len() + settings.len(),
            sql,
        }
    }

    /// The error for this transaction's failure after `done` statements.
    pub(crate) fn failure(&self, e: tokio_postgres::Error, done: usize) -> Error {
        super::lease::stopped_by_fence(&e)
            .unwrap_or_else(|| failure(self.file, done.saturating_sub(self.skipped), 0, e, None, self.prefix))
    }
}

/// Applies a normal file in one implicit transaction, after the lease's
/// `fence` and `settings` (see [`Transaction`]).
pub(crate) async fn apply_transaction(
    client: &Client,
    table: &TableName,
    file: Migration,
    fence: Option<&str>,
    settings: &str,
) -> Result<(), Error> {
    let transaction = Transaction::new(table, file, fence.as_slice(), settings);
    run(client, &transaction.sql)
        .await
        .map_err(|(e, done)| transaction.failure(e, done))
}

/// Runs statement `index` of a `no-transaction` file on its own.
pub(crate) async fn apply_statement(
    client: &Client,
    file: Migration,
    index: usize,
    statement: Statement,
) -> Result<(), Error> {
    run(client, statement.text())
        .await
        .map_err(|(e, _)| failure(file, index, statement.offset(), e, Some(index), 0))
}

/// Records a `no-transaction` file whose statements all ran since
/// `started`, after the lease's `fence`.
pub(crate) async fn record_statementwise(
    client: &Client,
    table: &TableName,
    file: Migration,
    fence: Option<&str>,
    started: Instant,
) -> Result<(), Error> {
    let millis = started.elapsed().as_millis().min(i32::MAX as u128);
    let sql = format!(
        "{}{PINNED}{} {RESET_SESSION}",
        fence.unwrap_or_default(),
        record(table, &file, &millis.to_string())
    );
    let total = file.statements().len();
    run(client, &sql).await.map_err(|(e, _)| {
        super::lease::stopped_by_fence(&e).unwrap_or_else(|| failure(file, total, 0, e, Some(total), 0))
    })
}

/// Runs a simple query; on failure, also how many statements completed.
pub(super) async fn run(client: &Client, sql: &str) -> Result<(), (tokio_postgres::Error, usize)> {
    let mut stream = Box::pin(client.simple_query_raw(sql).await.map_err(|e| (e, 0))?);
    let mut completed = 0;
    while let Some(message) = stream.next().await {
        match message {
            Ok(SimpleQueryMessage::CommandComplete(_)) => completed += 1,
            Ok(_) => {}
            Err(e) => return Err((e, completed)),
        }
    }
    Ok(())
}

/// The error for statement `index` (0-based) of `file`, whose SQL was sent
/// starting at byte `base` of the file, after `prefix` ASCII characters of
/// settings. `index` past the last statement means recording the file failed.
fn failure(
    file: Migration,
    index: usize,
    base: usize,
    e: tokio_postgres::Error,
    completed: Option<usize>,
    prefix: usize,
) -> Error {
    let statements: Vec<_> = file.statements().collect();
    let db = e.as_db_error();
    // A parse error fails the whole query before any statement completes:
    // its position, when it lies in the file, names the statement.
    let position = db
        .and_then(|d| match d.position() {
            Some(ErrorPosition::Original(p)) => (*p as usize)
                .checked_sub(prefix)
                .map(|p| base + char_to_byte(&file.sql()[base..], p)),
            _ => None,
        })
        .filter(|&offset| offset < file.sql().len());
    let index = match (position, completed) {
        (Some(offset), None) => statements.iter().rposition(|s| s.offset() <= offset).unwrap_or(index),
        _ => index,
    };
    let Some(statement) = statements.get(index) else {
        return Error::Database {
            context: match completed {
                Some(_) => format!(
                    "{}: every statement ran, but recording it as applied failed",
                    file.file_name()
                ),
                None => format!(
                    "{}: recording it as applied failed, so none of it was committed",
                    file.file_name()
                ),
            },
            cause: e,
        };
    };
    let (line, column) = match position {
        Some(offset) if offset >= statement.offset() => line_col(file.sql(), offset),
        _ => statement.line_col(),
    };
    let (code, message) = match db {
        Some(d) => (d.code().code().to_string(), d.message().to_string()),
        None => (String::new(), format!("the connection failed: {e}")),
    };
    Error::Migration(Box::new(MigrationError {
        file_name: file.file_name().to_string(),
        line,
        column,
        statement: index + 1,
        statements: statements.len(),
        statement_start: first_line(statement.text()).to_string(),
        code,
        message,
        detail: db.and_then(|d| d.detail()).map(str::to_string),
        hint: db.and_then(|d| d.hint()).map(str::to_string),
        completed,
        invalid_index: None,
    }))
}
