//! Running SQL text that is not an embedded versioned file (down SQL, which
//! may come from the tracking table, and repeatable files) in one implicit
//! transaction together with the statement that records it.

use super::apply::run;
use super::history::RESET_SESSION;
use super::query::PINNED;
use crate::error::MigrationError;
use crate::Error;
use migrate_core::position::{char_to_byte, first_line, line_col};
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::Client;

/// Runs `settings` (ASCII `SET LOCAL` statements, each ending in `;`), then
/// `sql`, then `record` (the history change, after [`PINNED`]), then resets the session, all
/// in one implicit transaction: all of it commits, or none. Failures name
/// `file_name` and the failing statement's line and column in `sql`.
pub(crate) async fn run_with(
    client: &Client,
    file_name: &str,
    settings: &str,
    sql: &str,
    record: &str,
) -> Result<(), Error> {
    let batch = format!("{settings}{sql}\n;\n{PINNED}{record} {RESET_SESSION}");
    let skipped = settings.matches(';').count();
    run(client, &batch)
        .await
        .map_err(|(e, done)| failure(file_name, sql, done.saturating_sub(skipped), e, settings.len()))
}

/// The error for `sql` sent after `prefix` ASCII characters of settings.
fn failure(file_name: &str, sql: &str, completed: usize, e: tokio_postgres::Error, prefix: usize) -> Error {
    let statements: Vec<(usize, usize)> = migrate_core::split::split(sql)
        .map(|s| s.statements.iter().map(|s| (s.start, s.end)).collect())
        .unwrap_or_default();
    let db = e.as_db_error();
    let position = db
        .and_then(|d| match d.position() {
            Some(ErrorPosition::Original(p)) => (*p as usize).checked_sub(prefix).map(|p| char_to_byte(sql, p)),
            _ => None,
        })
        .filter(|&offset| offset < sql.len());
    let index = match position {
        Some(offset) => statements.iter().rposition(|s| s.0 <= offset).unwrap_or(0),
        None => completed,
    };
    let Some(&(start, end)) = statements.get(index) else {
        return Error::Database {
            context: format!(
                "{file_name}: every statement ran, but updating the history failed, so none of it was committed"
            ),
            cause: e,
        };
    };
    let (line, column) = line_col(sql, position.filter(|&p| p >= start).unwrap_or(start));
    let (code, message) = match db {
        Some(d) => (d.code().code().to_string(), d.message().to_string()),
        None => (String::new(), format!("the connection failed: {e}")),
    };
    Error::Migration(Box::new(MigrationError {
        file_name: file_name.to_string(),
        line,
        column,
        statement: index + 1,
        statements: statements.len(),
        statement_start: first_line(&sql[start..end]).to_string(),
        code,
        message,
        detail: db.and_then(|d| d.detail()).map(str::to_string),
        hint: db.and_then(|d| d.hint()).map(str::to_string),
        completed: None,
        invalid_index: None,
    }))
}
