//! Compares what exists (the embedded migrations) with what is applied (the
//! tracking table's rows). Pure: no database access.

mod repeatable;

use crate::{Migration, Migrations, Repeatable};
pub use repeatable::{RepeatableEntry, RepeatableState};
use std::collections::HashMap;

/// A row of the tracking table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedRow {
    /// The `filename` column.
    pub file_name: String,
    /// `None` in rows written by an older tool (the `db_init.py` start-up script).
    pub checksum: Option<String>,
    /// When it was applied, as the server prints the timestamp.
    pub applied_at: Option<String>,
    /// How long it took, when this project applied it.
    pub duration_ms: Option<i64>,
}

/// What to do about one kind of mismatch between history and migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse to run.
    Fail,
    /// Go on, and report a warning.
    Warn,
    /// Go on silently.
    Ignore,
}

/// How validation treats each mismatch. The defaults follow `db_init.py` and
/// Flyway: edits and missing files stop the run; rows newer than every
/// file (an older binary in a rolling deploy) and late-merged files are
/// tolerated with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    /// An applied file whose content changed (or that was renamed).
    pub changed: Policy,
    /// An applied file that no longer exists, within the embedded versions.
    pub missing: Policy,
    /// Applied rows newer than every embedded file.
    pub future: Policy,
    /// A pending file older than the newest applied one; `Warn` and
    /// `Ignore` apply it.
    pub out_of_order: Policy,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            changed: Policy::Fail,
            missing: Policy::Fail,
            future: Policy::Warn,
            out_of_order: Policy::Warn,
        }
    }
}

/// The history does not match the migrations: each mismatch the policies
/// refuse, with the plan's state of its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the migration history does not match the migrations:{}",
    .problems.iter().map(|p| format!("\n  - {}", p.message)).collect::<String>()
)]
#[non_exhaustive]
pub struct Invalid {
    /// Every mismatch, in version order.
    pub problems: Vec<Mismatch>,
}

/// One mismatch between a file and its tracking row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The file or row.
    pub file_name: String,
    /// How they compare.
    pub state: State,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The state of one migration or history row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Applied, with the embedded checksum.
    Applied,
    /// Applied by a tool that stored no checksum; the checksum is adopted.
    Unrecorded,
    /// Applied, but the file changed since.
    Changed {
        /// The checksum in the tracking row.
        recorded: String,
    },
    /// Applied under another file name with the same version.
    Renamed {
        /// The file name in the tracking row.
        recorded_as: String,
    },
    /// Embedded, not yet applied.
    Pending,
    /// Recorded, but no file is embedded, within the embedded versions.
    Missing,
    /// Recorded, and newer than every embedded file.
    Future,
    /// Recorded before a squash: the embedded squashed file replaces it.
    Squashed,
}

/// One line of the comparison.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Entry {
    /// The file name, embedded or recorded.
    pub file_name: String,
    /// Its version, when the name has one.
    pub version: Option<u64>,
    /// How the file and its row compare.
    pub state: State,
    /// The embedded file, if there is one.
    pub migration: Option<Migration>,
    /// The tracking row, if there is one.
    pub row: Option<AppliedRow>,
}

/// The comparison of migrations and history, in version order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// One entry per file or row, in version order.
    pub entries: Vec<Entry>,
    /// The repeatable files, in name order.
    pub repeatables: Vec<RepeatableEntry>,
}

fn version_of(file_name: &str) -> Option<u64> {
    migrate_core::name::parse(file_name, 0).ok().map(|n| n.version)
}

impl Plan {
    /// How many applied rows have their embedded file.
    pub fn applied_and_embedded(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.row.is_some() && e.migration.is_some())
            .count()
    }

    /// Compares `migrations` with the tracking table's `rows`.
    pub fn new(migrations: &Migrations, rows: &[AppliedRow]) -> Plan {
        let by_name: HashMap<&str, &AppliedRow> = rows.iter().map(|r| (r.file_name.as_str(), r)).collect();
        let by_version: HashMap<u64, &AppliedRow> = rows
            .iter()
            .filter_map(|r| Some((version_of(&r.file_name)?, r)))
            .collect();
        let newest = migrations.iter().last().map(|m| m.version());
        let squash = migrations.squashes();
        let squashed_file = squash.and(migrations.iter().next()).map(|m| m.file_name());
        let mut entries: Vec<Entry> = migrations
            .iter()
            .map(|m| {
                let row = by_name.get(m.file_name()).copied();
                let state = match row {
                    Some(r) => match &r.checksum {
                        None => State::Unrecorded,
                        Some(c) if *c == m.checksum_hex() => State::Applied,
                        Some(c) => State::Changed { recorded: c.clone() },
                    },
                    None => match by_version
                        .get(&m.version())
                        .filter(|_| squashed_file != Some(m.file_name()))
                    {
                        Some(r) => State::Renamed {
                            recorded_as: r.file_name.clone(),
                        },
                        None => State::Pending,
                    },
                };
                Entry {
                    file_name: m.file_name().to_string(),
                    version: Some(m.version()),
                    state,
                    migration: Some(m),
                    row: row.cloned(),
                }
            })
            .collect();
        for row in rows {
            if migrations.find(&row.file_name).is_some() || repeatable::is_repeatable(&row.file_name) {
                continue;
            }
            let version = version_of(&row.file_name);
            if let Some(v) = version.filter(|v| squash.is_some_and(|(from, through)| (from..=through).contains(v))) {
                entries.push(Entry {
                    file_name: row.file_name.clone(),
                    version: Some(v),
                    state: State::Squashed,
                    migration: None,
                    row: Some(row.clone()),
                });
                continue;
            }
            let embedded_same_version = version.is_some_and(|v| migrations.iter().any(|m| m.version() == v));
            if embedded_same_version {
                continue;
            }
            let state = match (version, newest) {
                (Some(v), Some(newest)) if v > newest => State::Future,
                (Some(_), None) => State::Future,
                _ => State::Missing,
            };
            entries.push(Entry {
                file_name: row.file_name.clone(),
                version,
                state,
                migration: None,
                row: Some(row.clone()),
            });
        }
        entries.sort_by(|a, b| (a.version, &a.file_name).cmp(&(b.version, &b.file_name)));
        Plan {
            entries,
            repeatables: repeatable::entries(migrations, rows),
        }
    }

    /// Repeatable files that are new or changed, in name order; none when
    /// `target` stops short of the newest versioned file, since they may
    /// use what a later version creates.
    pub fn repeatables_due(&self, target: Option<u64>) -> Vec<Repeatable> {
        let newest = self
            .entries
            .iter()
            .filter(|e| e.migration.is_some())
            .filter_map(|e| e.version)
            .max();
        if target.is_some_and(|t| newest.is_some_and(|n| t < n)) {
            return Vec::new();
        }
        self.repeatables
            .iter()
            .filter(|r| r.state != RepeatableState::Current)
            .map(|r| r.repeatable)
            .collect()
    }

    /// Pending migrations up to `target` (inclusive), in version order.
    pub fn pending(&self, target: Option<u64>) -> Vec<Migration> {
        self.entries
            .iter()
            .filter(|e| e.state == State::Pending)
            .filter_map(|e| e.migration)
            .filter(|m| target.is_none_or(|t| m.version() <= t))
            .collect()
    }

    /// Applied migrations recorded without a checksum.
    pub fn unrecorded(&self) -> Vec<Migration> {
        self.entries
            .iter()
            .filter(|e| e.state == State::Unrecorded)
            .filter_map(|e| e.migration)
            .collect()
    }

    /// Whether `e` is a squashed file whose replaced versions were applied
    /// (it is recorded, not run, so it is not applied out of order).
    fn replaces_applied(&self, e: &Entry) -> bool {
        e.migration.is_some_and(|m| m.squashes().is_some()) && self.entries.iter().any(|x| x.state == State::Squashed)
    }

    fn newest_applied(&self) -> Option<u64> {
        self.entries
            .iter()
            .filter(|e| e.row.is_some())
            .filter_map(|e| e.version)
            .max()
    }

    /// Applies the policies: the warnings to report, or the errors.
    pub fn validate(&self, policies: &Policies, target: Option<u64>) -> Result<Vec<String>, Invalid> {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let mut judge = |policy: Policy, e: &Entry, message: String| match policy {
            Policy::Fail => errors.push(Mismatch {
                file_name: e.file_name.clone(),
                state: e.state.clone(),
                message,
            }),
            Policy::Warn => warnings.push(message),
            Policy::Ignore => {}
        };
        let newest_applied = self.newest_applied();
        for e in &self.entries {
            match &e.state {
                State::Changed { recorded } => judge(
                    policies.changed,
                    e,
                    format!(
                        "{} was edited after it was applied: recorded checksum {recorded}, the file's is {}; \
                         restore the applied content and put the change in a new migration",
                        e.file_name,
                        e.migration.map(|m| m.checksum_hex()).unwrap_or_default()
                    ),
                ),
                State::Renamed { recorded_as } => judge(
                    policies.changed,
                    e,
                    format!(
                        "{} has the version of the applied {recorded_as}: a renamed file would run twice; \
                         restore its name, or record the new name with `forget {recorded_as}` and `baseline`",
                        e.file_name
                    ),
                ),
                State::Missing => judge(
                    policies.missing,
                    e,
                    format!(
                        "{} is recorded as applied but no such migration exists; restore the file, \
                         or remove the row with `forget {}` if it was never meant to run",
                        e.file_name, e.file_name
                    ),
                ),
                State::Future => judge(
                    policies.future,
                    e,
                    format!(
                        "{} is applied but newer than every migration this binary has (a newer release applied it)",
                        e.file_name
                    ),
                ),
                State::Pending
                    if newest_applied.is_some_and(|n| e.version.is_some_and(|v| v < n))
                        && !self.replaces_applied(e)
                        && target.is_none_or(|t| e.version.is_some_and(|v| v <= t)) =>
                {
                    judge(
                        policies.out_of_order,
                        e,
                        format!(
                            "{} is older than the newest applied migration (version {}) and is applied out of order",
                            e.file_name,
                            newest_applied.unwrap_or_default()
                        ),
                    )
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(warnings)
        } else {
            Err(Invalid { problems: errors })
        }
    }
}
