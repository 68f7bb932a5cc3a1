//! Squashed files: `NNN_squashed.sql`, written by `migrate squash`, leads
//! with `-- migrate: squashes FROM-NNN` and replaces those versions.

use crate::diagnostic::Diagnostic;
use crate::folder::SourceMigration;

/// The build-time rules of a squashed file: its range ends at its own
/// version, and it is the folder's first file.
pub fn check(migrations: &[SourceMigration], shown: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let Some((from, through)) = m.file.squashes else {
            continue;
        };
        if through != m.version {
            problems.push(
                Diagnostic::error(
                    shown(&m.file_name),
                    format!(
                        "`-- migrate: squashes {from:03}-{through:03}` must end at the file's own version {:03}",
                        m.version
                    ),
                )
                .help(format!("write `-- migrate: squashes {from:03}-{:03}`", m.version)),
            );
        }
        if i > 0 {
            problems.push(
                Diagnostic::error(
                    shown(&m.file_name),
                    format!(
                        "a squashed file must be the first migration, but `{}` comes before it",
                        migrations[0].file_name
                    ),
                )
                .help("delete the files the squash replaced, or squash again through this version"),
            );
        }
    }
    problems
}
