//! Repeatable files (`repeatable/NAME.sql`): after the pending versioned
//! files, each runs again in name order whenever its checksum differs from
//! its last successful run; here, which ones are due.

use super::AppliedRow;
use crate::{Migrations, Repeatable};

/// Whether a tracking row belongs to a repeatable file.
pub(crate) fn is_repeatable(file_name: &str) -> bool {
    file_name.starts_with("repeatable/")
}

/// How a repeatable file compares with its tracking row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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
