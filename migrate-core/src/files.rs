//! The files of a migrations folder once checked: what loading produces
//! and what gets embedded.

use crate::diagnostic::Diagnostic;
use crate::directive::Timeout;
use crate::statement::StatementKind;
use std::path::PathBuf;

/// What a file is for; some lints apply to one kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `NNN_name.sql`.
    Versioned,
    /// `NNN_name.down.sql`.
    Down,
    /// `repeatable/NAME.sql`.
    Repeatable,
}

/// A statement of a checked file: its byte range in the text (BOM
/// dropped), and its kind. `position::line_col` gives its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementSpan {
    pub start: usize,
    pub end: usize,
    pub kind: StatementKind,
}

/// A file that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    /// The file's text with a leading BOM dropped, otherwise byte for byte.
    pub text: String,
    /// Whether the file started with a UTF-8 BOM (3 bytes).
    pub bom: bool,
    pub checksum: [u8; 32],
    pub no_transaction: bool,
    /// `-- migrate: irreversible`: `down` refuses to revert it.
    pub irreversible: bool,
    /// `-- migrate: allow(syntax)`: the syntax check (feature `syntax-check`)
    /// skips the file.
    pub allow_syntax: bool,
    /// `-- migrate: squashes FROM-THROUGH`: the versions this file replaces.
    pub squashes: Option<(u64, u64)>,
    /// `-- migrate: replaces FILE` lines: the files a squashed file replaces.
    pub replaces: Vec<String>,
    /// `-- migrate: lock-timeout` and `-- migrate: statement-timeout`.
    pub timeouts: FileTimeouts,
    pub statements: Vec<StatementSpan>,
    /// Lint findings that no `allow` silenced.
    pub warnings: Vec<Diagnostic>,
}

/// The timeouts a file's directives set; `None` leaves the runner's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileTimeouts {
    pub lock: Option<Timeout>,
    pub statement: Option<Timeout>,
}

/// A migration file that passed every check.
#[derive(Debug, Clone)]
pub struct SourceMigration {
    pub version: u64,
    pub file_name: String,
    pub path: PathBuf,
    pub file: CheckedFile,
}

/// A down file that passed every check, for the migration of `version`.
#[derive(Debug, Clone)]
pub struct SourceDown {
    pub version: u64,
    /// `NNN_name.down.sql`.
    pub file_name: String,
    pub path: PathBuf,
    pub file: CheckedFile,
}

/// A repeatable file that passed every check.
#[derive(Debug, Clone)]
pub struct SourceRepeatable {
    /// `repeatable/NAME.sql`, as recorded in the tracking table.
    pub file_name: String,
    pub path: PathBuf,
    pub file: CheckedFile,
}
