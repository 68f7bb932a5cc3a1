//! Down files: `NNN_name.down.sql` beside `NNN_name.sql` reverts it.

use crate::diagnostic::Diagnostic;
use crate::files::{FileKind, SourceDown, SourceMigration};
use crate::source::check_as;
use std::path::PathBuf;

/// The suffix that marks a down file.
pub const SUFFIX: &str = ".down.sql";

/// Whether `file_name` names a down file.
pub fn is_down(file_name: &str) -> bool {
    file_name.to_ascii_lowercase().ends_with(SUFFIX)
}

/// Checks the down files `candidates` (name, path) against the valid
/// migrations `ups`; `shown` names a file in messages.
pub fn check(
    candidates: Vec<(String, PathBuf)>,
    ups: &[SourceMigration],
    shown: &dyn Fn(&str) -> String,
) -> (Vec<SourceDown>, Vec<Diagnostic>) {
    let (mut downs, mut problems) = (Vec::new(), Vec::new());
    let mut candidates = candidates;
    candidates.sort();
    for (file_name, path) in candidates {
        let up_name = format!("{}.sql", &file_name[..file_name.len() - SUFFIX.len()]);
        let Some(up) = ups.iter().find(|m| m.file_name == up_name) else {
            if path.with_file_name(&up_name).exists() {
                continue; // the up file has problems of its own, reported already
            }
            let version: String = file_name.chars().take_while(char::is_ascii_digit).collect();
            let same_version = ups
                .iter()
                .find(|m| version.parse::<u64>().is_ok_and(|v| v == m.version));
            problems.push(
                Diagnostic::error(
                    shown(&file_name),
                    format!("the down file `{file_name}` has no migration `{up_name}` to revert"),
                )
                .help(match same_version {
                    Some(m) => format!(
                        "rename it to `{}{SUFFIX}`, after the migration it reverts",
                        m.file_name.trim_end_matches(".sql")
                    ),
                    None => format!("add `{up_name}`, or delete the down file"),
                }),
            );
            continue;
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(Diagnostic::error(
                    shown(&file_name),
                    format!("cannot read the file: {e}"),
                ));
                continue;
            }
        };
        let file = match check_as(&shown(&file_name), None, &bytes, FileKind::Down) {
            Ok(file) => file,
            Err(found) => {
                problems.extend(found);
                continue;
            }
        };
        let before = problems.len();
        if up.file.irreversible {
            problems.push(
                Diagnostic::error(
                    shown(&file_name),
                    format!("`{up_name}` is marked `-- migrate: irreversible`, yet has a down file"),
                )
                .help(format!(
                    "delete `{file_name}`, or remove the directive from `{up_name}` if it can be reverted"
                )),
            );
        }
        for (set, directive) in [
            (file.no_transaction, "no-transaction"),
            (file.irreversible, "irreversible"),
            (file.squashes.is_some(), "squashes"),
        ] {
            if set {
                problems.push(
                    Diagnostic::error(
                        shown(&file_name),
                        format!("`-- migrate: {directive}` is not allowed in a down file"),
                    )
                    .help(
                        "remove it: a down file runs in one transaction together with the deletion of its tracking row",
                    ),
                );
            }
        }
        if problems.len() == before {
            downs.push(SourceDown {
                version: up.version,
                file_name,
                path,
                file,
            });
        }
    }
    downs.sort_by_key(|d| d.version);
    (downs, problems)
}
