//! Sending a unit's SQL, and the error that names where it failed: the
//! file, the statement, its line and column, and the server's words.

use super::unit::Unit;
use crate::error::MigrationError;
use crate::Error;
use futures_util::StreamExt;
use migrate_core::position::{char_to_byte, first_line, line_col};
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, SimpleQueryMessage};

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

/// Where a failure happened in what was sent.
pub(super) struct Sent {
    /// The statement that failed (0-based) unless the error's position
    /// says otherwise; past the last one, the history change failed.
    pub(super) index: usize,
    /// The byte of the unit's SQL where the sent text started.
    pub(super) base: usize,
    /// For a `no-transaction` file: how many statements ran and stay.
    pub(super) completed: Option<usize>,
    /// ASCII characters sent before the unit's SQL (settings, guards).
    pub(super) prefix: usize,
}

/// The error for `unit` failing with `e` after it was `sent`.
pub(super) fn failure(unit: &Unit<'_>, sent: Sent, e: tokio_postgres::Error) -> Error {
    if let Some(lost) = crate::lock::stopped_by_fence(&e) {
        return lost;
    }
    let Sent {
        index,
        base,
        completed,
        prefix,
    } = sent;
    let sql = unit.sql;
    let db = e.as_db_error();
    // A parse error fails the whole query before any statement completes:
    // its position, when it lies in the unit's SQL, names the statement.
    let position = db
        .and_then(|d| match d.position() {
            Some(ErrorPosition::Original(p)) => (*p as usize)
                .checked_sub(prefix)
                .map(|p| base + char_to_byte(&sql[base..], p)),
            _ => None,
        })
        .filter(|&offset| offset < sql.len());
    let index = match (position, completed) {
        (Some(offset), None) => unit.statements.iter().rposition(|s| s.start <= offset).unwrap_or(index),
        _ => index,
    };
    let Some(statement) = unit.statements.get(index) else {
        let failed = unit.record.failed();
        let context = match completed {
            Some(_) if !unit.sql.is_empty() => format!("{}: every statement ran, but {failed}", unit.name),
            _ if unit.sql.is_empty() => format!("{}: {failed}", unit.name),
            _ => format!("{}: {failed}, so none of it was committed", unit.name),
        };
        return Error::Database { context, cause: e };
    };
    let (line, column) = match position {
        Some(offset) if offset >= statement.start => line_col(sql, offset),
        _ => line_col(sql, statement.start),
    };
    let (code, message) = match db {
        Some(d) => (d.code().code().to_string(), d.message().to_string()),
        None => (String::new(), format!("the connection failed: {e}")),
    };
    Error::Migration(Box::new(MigrationError {
        file_name: unit.name.clone(),
        line,
        column,
        statement: index + 1,
        statements: unit.statements.len(),
        statement_start: first_line(&sql[statement.start..statement.end]).to_string(),
        code,
        message,
        detail: db.and_then(|d| d.detail()).map(str::to_string),
        hint: db.and_then(|d| d.hint()).map(str::to_string),
        completed,
        invalid_index: None,
    }))
}
