//! What the executor applies: SQL with its statements (maybe none), and
//! the change to the history that commits with it.

use crate::sql::{quote_literal, TableName};
use crate::{Migration, Repeatable, Statement};
use migrate_core::statement::StatementKind;
use migrate_core::FileTimeouts;

/// One change to the schema or the history, applied whole or not at all
/// (statement by statement for a `no-transaction` file).
pub(crate) struct Unit<'a> {
    /// The file as messages and errors name it: `002_x.sql`,
    /// `repeatable/v.sql`, `002_x.down.sql`.
    pub(crate) name: String,
    /// The SQL to run; empty when only the history changes.
    pub(crate) sql: &'a str,
    /// Its statements, as the build-time checks split them.
    pub(crate) statements: Vec<Span>,
    /// Run statement by statement, outside a transaction.
    pub(crate) no_transaction: bool,
    /// Its timeout directives.
    pub(crate) timeouts: FileTimeouts,
    /// The history change.
    pub(crate) record: Record<'a>,
}

/// One statement of a unit's SQL: its byte range and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: StatementKind,
}

impl From<Statement> for Span {
    fn from(statement: Statement) -> Span {
        Span {
            start: statement.offset(),
            end: statement.offset() + statement.text().len(),
            kind: statement.kind(),
        }
    }
}

impl From<migrate_core::StatementSpan> for Span {
    fn from(statement: migrate_core::StatementSpan) -> Span {
        Span {
            start: statement.start,
            end: statement.end,
            kind: statement.kind,
        }
    }
}

/// How a unit changes the history.
pub(crate) enum Record<'a> {
    /// A versioned file's row, with its checksum and down SQL; `ran` is
    /// false when it is recorded without running (a squashed file).
    Applied { file: Migration, ran: bool },
    /// A repeatable file's row, inserted or updated.
    Repeated(Repeatable),
    /// A file's row deleted: a revert, or `forget`.
    Deleted(&'a str),
    /// Rows of files recorded as applied without running (`baseline`).
    Baseline(&'a [Migration]),
    /// Checksums stored in rows an older tool wrote without one.
    Adopted(&'a [Migration]),
}

impl<'a> Unit<'a> {
    /// A versioned file, recorded as applied.
    pub(crate) fn file(file: Migration) -> Unit<'a> {
        Unit {
            name: file.file_name().to_string(),
            sql: file.sql(),
            statements: file.statements().map(Span::from).collect(),
            no_transaction: file.no_transaction(),
            timeouts: file.timeouts(),
            record: Record::Applied { file, ran: true },
        }
    }

    /// A repeatable file, its row inserted or updated.
    pub(crate) fn repeatable(file: Repeatable) -> Unit<'a> {
        Unit {
            name: file.file_name().to_string(),
            sql: file.sql(),
            statements: file.statements().map(Span::from).collect(),
            no_transaction: false,
            timeouts: file.timeouts(),
            record: Record::Repeated(file),
        }
    }

    /// A change to the history alone, named `what` in messages.
    pub(crate) fn history(what: impl Into<String>, record: Record<'a>) -> Unit<'a> {
        Unit {
            name: what.into(),
            sql: "",
            statements: Vec::new(),
            no_transaction: false,
            timeouts: FileTimeouts::default(),
            record,
        }
    }

    /// Whether the unit commits without waiting for the disk: a versioned
    /// file applied by a run, which waits once at its end.
    pub(crate) fn flushed_later(&self) -> bool {
        matches!(self.record, Record::Applied { ran: true, .. }) && !self.no_transaction
    }
}

impl Record<'_> {
    /// The statements (each ending in `;`) that change `table`; `duration`
    /// is a SQL expression for the milliseconds the unit took.
    pub(crate) fn sql(&self, table: &TableName, duration: &str) -> String {
        match self {
            Record::Applied { file, ran } => insert(table, file, if *ran { duration } else { "NULL" }),
            Record::Repeated(file) => format!(
                "INSERT INTO {table} (filename, checksum, duration_ms) VALUES ({}, {}, {duration}) \
                 ON CONFLICT (filename) DO UPDATE SET checksum = EXCLUDED.checksum, \
                 applied_at = CURRENT_TIMESTAMP, duration_ms = EXCLUDED.duration_ms;",
                quote_literal(file.file_name()),
                quote_literal(&file.checksum_hex())
            ),
            Record::Deleted(file_name) => {
                format!("DELETE FROM {table} WHERE filename = {};", quote_literal(file_name))
            }
            Record::Baseline(files) => files.iter().map(|m| insert(table, m, "NULL")).collect(),
            Record::Adopted(files) => {
                let cases: String = files
                    .iter()
                    .map(|m| {
                        format!(
                            " WHEN {} THEN {}",
                            quote_literal(m.file_name()),
                            quote_literal(&m.checksum_hex())
                        )
                    })
                    .collect();
                let names: Vec<String> = files.iter().map(|m| quote_literal(m.file_name())).collect();
                format!(
                    "UPDATE {table} SET checksum = CASE filename{cases} END \
                     WHERE checksum IS NULL AND filename IN ({});",
                    names.join(", ")
                )
            }
        }
    }

    /// What failed when this statement failed, for messages.
    pub(crate) fn failed(&self) -> &'static str {
        match self {
            Record::Applied { .. } | Record::Repeated(_) => "recording it as applied failed",
            Record::Deleted(_) => "deleting its row from the history failed",
            Record::Baseline(_) => "recording the baseline failed",
            Record::Adopted(_) => "storing the adopted checksums failed",
        }
    }
}

/// The statement that records `file` as applied, with its down SQL so
/// that a binary without the file can still revert it.
fn insert(table: &TableName, file: &Migration, duration: &str) -> String {
    format!(
        "INSERT INTO {table} (filename, checksum, duration_ms, down_sql) VALUES ({}, {}, {duration}, {});",
        quote_literal(file.file_name()),
        quote_literal(&file.checksum_hex()),
        file.down_sql().map_or("NULL".to_string(), quote_literal)
    )
}
