//! Repeatable migrations: `repeatable/NAME.sql` files (views, functions,
//! grants) that run again whenever their content changes, after every
//! versioned file, in name order.

use crate::diagnostic::Diagnostic;
use crate::lint::{Finding, Lint};
use crate::name;
use crate::source::{check_as, CheckedFile};
use crate::statement::{StatementKind, Words};
use std::path::{Path, PathBuf};

/// The sub-folder of the migrations folder that holds repeatable files.
pub const FOLDER: &str = "repeatable";

/// A repeatable file that passed every check.
#[derive(Debug, Clone)]
pub struct SourceRepeatable {
    /// `repeatable/NAME.sql`, as recorded in the tracking table.
    pub file_name: String,
    pub path: PathBuf,
    pub file: CheckedFile,
}

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
        match check_as(&shown, None, &bytes, true) {
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

/// The idempotency lint: a `CREATE` that fails the second time the file
/// runs, neither `CREATE OR REPLACE`, nor `IF NOT EXISTS`, nor preceded by a
/// `DROP ... IF EXISTS` of the same name. `dropped` collects the names
/// dropped so far in the file.
pub(crate) fn lint(src: &str, w: &Words, dropped: &mut Vec<String>) -> Option<Finding> {
    let (first, _) = w.words.first()?;
    let name_after = |i: usize| -> Option<String> {
        let (_, token) = w.words.get(i)?;
        let rest = &src[token.start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ',' | ';'))
            .unwrap_or(rest.len());
        Some(rest[..end].to_ascii_lowercase())
    };
    if first.eq_ignore_ascii_case("DROP") {
        if let Some(at) = w.find("EXISTS").filter(|&i| i > 0 && w.is(i - 1, "IF")) {
            dropped.extend(name_after(at + 1));
        }
        return None;
    }
    if !first.eq_ignore_ascii_case("CREATE") || w.starts_with(&["CREATE", "OR", "REPLACE"]) {
        return None;
    }
    if w.find("EXISTS")
        .is_some_and(|i| i > 1 && w.is(i - 1, "NOT") && w.is(i - 2, "IF"))
    {
        return None;
    }
    let kind_at = (1..w.words.len()).find(|&i| {
        ![
            "UNIQUE",
            "TEMP",
            "TEMPORARY",
            "UNLOGGED",
            "MATERIALIZED",
            "RECURSIVE",
            "CONSTRAINT",
            "DEFAULT",
            "TRUSTED",
            "PROCEDURAL",
        ]
        .iter()
        .any(|m| w.is(i, m))
    })?;
    let materialized = if (1..kind_at).any(|i| w.is(i, "MATERIALIZED")) {
        "MATERIALIZED "
    } else {
        ""
    };
    let kind = format!("{materialized}{}", w.words[kind_at].0.to_ascii_uppercase());
    let name_at = if matches!(StatementKind::of(w), StatementKind::CreateIndexConcurrently { .. }) {
        kind_at + 2
    } else {
        kind_at + 1
    };
    if name_after(name_at).is_some_and(|n| dropped.contains(&n)) {
        return None;
    }
    let replaceable = [
        "VIEW",
        "FUNCTION",
        "PROCEDURE",
        "TRIGGER",
        "RULE",
        "AGGREGATE",
        "TRANSFORM",
        "LANGUAGE",
    ];
    let fix = if replaceable.contains(&kind.as_str()) {
        format!("write `CREATE OR REPLACE {kind} ...`")
    } else {
        format!("put `DROP {kind} IF EXISTS ...` before it")
    };
    Some(Finding {
        lint: Lint::NonIdempotent,
        offset: w.words[0].1.start,
        message: format!("`CREATE {kind}` in a repeatable file fails when the file runs again after a change"),
        help: fix,
    })
}

#[cfg(test)]
mod tests {
    use crate::source::check_as;

    fn lints(sql: &str) -> Vec<String> {
        check_as("m/repeatable/v.sql", None, sql.as_bytes(), true)
            .unwrap()
            .warnings
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn asks_for_idempotent_forms() {
        assert_eq!(lints("CREATE VIEW v AS SELECT 1;").len(), 1);
        assert!(lints("CREATE VIEW v AS SELECT 1;")[0].contains("CREATE OR REPLACE VIEW"));
        assert!(lints("CREATE OR REPLACE VIEW v AS SELECT 1;").is_empty());
        assert!(lints("DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT 1;").is_empty());
        assert!(
            lints("DROP MATERIALIZED VIEW IF EXISTS public.m;\nCREATE MATERIALIZED VIEW public.m AS SELECT 1;")
                .is_empty()
        );
        assert_eq!(lints("DROP VIEW IF EXISTS w;\nCREATE VIEW v AS SELECT 1;").len(), 1);
        assert!(lints("GRANT SELECT ON t TO PUBLIC;").is_empty());
        assert!(lints("-- migrate: allow(non-idempotent)\nCREATE VIEW v AS SELECT 1;").is_empty());
    }

    #[test]
    fn versioned_files_do_not_get_the_lint() {
        let file = crate::check_source("m/001_v.sql", None, b"CREATE VIEW v AS SELECT 1;").unwrap();
        assert!(
            file.warnings.iter().all(|w| !w.message.contains("non-idempotent")),
            "{:?}",
            file.warnings
        );
    }
}
