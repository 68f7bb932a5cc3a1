//! Repeatable files (`repeatable/NAME.sql`): after the pending versioned
//! files, each runs again in name order whenever its checksum differs from
//! its last successful run, in one transaction with its tracking row.

use crate::plan::AppliedRow;
use crate::runner::{apply::SERVER_DURATION, script};
use crate::table::{quote_literal, TableName};
use crate::{Error, Migrations, Repeatable};
use tokio_postgres::Client;

/// Whether a tracking row belongs to a repeatable file.
pub(crate) fn is_repeatable(file_name: &str) -> bool {
    file_name.starts_with("repeatable/")
}

/// How a repeatable file compares with its tracking row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatableState {
    /// Its last successful run had this content.
    Current,
    /// It changed since its last successful run: it runs again.
    Outdated,
    /// It never ran: it runs.
    New,
}

/// One repeatable file and its tracking row.
#[derive(Debug, Clone)]
pub struct RepeatableEntry {
    /// The embedded file.
    pub repeatable: Repeatable,
    /// Its state.
    pub state: RepeatableState,
    /// Its tracking row, if it ran before.
    pub row: Option<AppliedRow>,
}

/// Every embedded repeatable file with its state, in name order.
pub(crate) fn entries(migrations: &Migrations, rows: &[AppliedRow]) -> Vec<RepeatableEntry> {
    migrations
        .repeatables()
        .map(|repeatable| {
            let row = rows.iter().find(|r| r.file_name == repeatable.file_name());
            let state = match row {
                None => RepeatableState::New,
                Some(r) if r.checksum.as_deref() == Some(repeatable.checksum_hex().as_str()) => {
                    RepeatableState::Current
                }
                Some(_) => RepeatableState::Outdated,
            };
            RepeatableEntry {
                repeatable,
                state,
                row: row.cloned(),
            }
        })
        .collect()
}

/// Runs `file` after `settings` and records its checksum, both or neither.
async fn apply(client: &Client, table: &TableName, settings: &str, file: Repeatable) -> Result<(), Error> {
    let record = format!(
        "INSERT INTO {table} (filename, checksum, duration_ms) VALUES ({}, {}, {SERVER_DURATION}) \
         ON CONFLICT (filename) DO UPDATE SET checksum = EXCLUDED.checksum, \
         applied_at = CURRENT_TIMESTAMP, duration_ms = EXCLUDED.duration_ms;",
        quote_literal(file.file_name()),
        quote_literal(&file.checksum_hex())
    );
    script::run_with(client, file.file_name(), settings, file.sql(), &record).await
}

/// Runs `due` in order, in the schema `search_path` when given, stopping at
/// the first failure.
pub(crate) async fn apply_all(
    client: &Client,
    table: &TableName,
    search_path: Option<&str>,
    due: &[Repeatable],
) -> Result<Vec<crate::Applied>, Error> {
    let settings = crate::fanout::search_path(search_path, true);
    let mut applied = Vec::new();
    for file in due {
        let started = std::time::Instant::now();
        if let Err(e) = apply(client, table, &settings, *file).await {
            tracing::error!("Failed to apply {}", file.file_name());
            return Err(e);
        }
        let duration = started.elapsed();
        tracing::info!("Applied: {} ({} ms)", file.file_name(), duration.as_millis());
        applied.push(crate::Applied {
            file_name: file.file_name().to_string(),
            duration,
        });
    }
    Ok(applied)
}
