//! Repeatable migrations: `repeatable/NAME.sql` files (views, functions,
//! grants) that run again whenever their content changes, after every
//! versioned file, in name order.

use crate::diagnostic::Diagnostic;
use crate::files::{FileKind, SourceRepeatable};
use crate::name;
use crate::source::check_as;
use std::path::{Path, PathBuf};

/// The sub-folder of the migrations folder that holds repeatable files.
pub const FOLDER: &str = "repeatable";

/// Loads `dir/repeatable/*.sql` in name order; no folder means no files.
/// Other files and sub-folders are ignored, as in the migrations folder.
pub fn load(dir: &Path, shown_as: &str) -> (Vec<SourceRepeatable>, Vec<Diagnostic>) {
    let (mut files, mut problems) = (Vec::new(), Vec::new());
    let folder = dir.join(FOLDER);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return (files, problems);
    };
    let mut candidates: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.') && n.to_ascii_lowercase().ends_with(".sql"))
        .collect();
    candidates.sort();
    for (file_name, path) in candidates {
        let shown = format!("{shown_as}/{FOLDER}/{file_name}");
        let stem = &file_name[..file_name.len() - 4];
        let valid = file_name.ends_with(".sql")
            && !stem.is_empty()
            && stem
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !valid {
            let mut suggestion = name::normalize(stem);
            if suggestion.is_empty() {
                suggestion = "describe_the_object".to_string();
            }
            problems.push(
                Diagnostic::error(
                    &shown,
                    format!("`{file_name}` is not a valid repeatable file name"),
                )
                .help(format!(
                    "rename it to `{suggestion}.sql` (repeatable files are named `NAME.sql`: lowercase letters, digits and `_`)"
                )),
            );
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(Diagnostic::error(&shown, format!("cannot read the file: {e}")));
                continue;
            }
        };
        match check_as(&shown, None, &bytes, FileKind::Repeatable) {
            Ok(file) => {
                let before = problems.len();
                for (set, directive) in [
                    (file.no_transaction, "no-transaction"),
                    (file.irreversible, "irreversible"),
                    (file.squashes.is_some(), "squashes"),
                ] {
                    if set {
                        problems.push(
                            Diagnostic::error(&shown, format!("`-- migrate: {directive}` has no meaning in a repeatable file"))
                                .help("remove it: a repeatable file runs in one transaction with its tracking row, and is never reverted or squashed"),
                        );
                    }
                }
                if problems.len() == before {
                    files.push(SourceRepeatable {
                        file_name: format!("{FOLDER}/{file_name}"),
                        path,
                        file,
                    });
                }
            }
            Err(found) => problems.extend(found),
        }
    }
    (files, problems)
}
