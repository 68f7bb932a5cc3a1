//! `missing-if-not-exists`: a `CREATE` or `ADD COLUMN` that fails when the
//! migration runs again.

use super::created_kind;
use crate::files::FileKind;
use crate::lint::{Context, Finding, Lint};
use crate::statement::StatementKind;

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    // In a repeatable file `non-idempotent` asks for `IF NOT EXISTS` or
    // what replaces it (`OR REPLACE`, a `DROP`).
    if cx.file == FileKind::Repeatable {
        return;
    }
    if let Some((kind, k, materialized)) = created_kind(cx) {
        create(cx, &kind, k, materialized, found);
    } else if cx.words.starts_with(&["ALTER", "TABLE"]) {
        add_column(cx, found);
    }
}

fn create(cx: &Context, kind: &str, k: usize, materialized: bool, found: &mut Vec<Finding>) {
    let w = &cx.words;
    match kind {
        "TABLE" | "SEQUENCE" | "SCHEMA" | "EXTENSION" | "INDEX" => {
            let mut name_at = k + 1;
            if matches!(cx.kind, StatementKind::CreateIndexConcurrently { .. }) {
                name_at += 1;
            }
            if cx.if_not_exists(name_at) {
                return;
            }
            let shown = if materialized { "MATERIALIZED VIEW" } else { kind };
            let unnamed = kind == "INDEX" && w.is(name_at, "ON");
            found.push(Finding {
                lint: Lint::MissingIfNotExists,
                offset: cx.at(0),
                message: if unnamed {
                    "`CREATE INDEX` without a name: every run adds another copy of the index".to_string()
                } else {
                    format!("`CREATE {shown}` without `IF NOT EXISTS`: the migration fails if it runs again")
                },
                help: if unnamed {
                    "name the index and write `CREATE INDEX IF NOT EXISTS name ON ...`".to_string()
                } else {
                    format!("write `CREATE {shown} IF NOT EXISTS ...` so the migration is idempotent")
                },
            });
        }
        "VIEW" if materialized && !cx.if_not_exists(k + 1) => found.push(Finding {
            lint: Lint::MissingIfNotExists,
            offset: cx.at(0),
            message: "`CREATE MATERIALIZED VIEW` without `IF NOT EXISTS`: the migration fails if it runs again"
                .to_string(),
            help: "write `CREATE MATERIALIZED VIEW IF NOT EXISTS ...`".to_string(),
        }),
        "VIEW" if materialized => {}
        "VIEW" | "FUNCTION" | "PROCEDURE" | "TRIGGER" | "RULE" => found.push(Finding {
            lint: Lint::MissingIfNotExists,
            offset: cx.at(0),
            message: format!("`CREATE {kind}` without `OR REPLACE`: the migration fails if it runs again"),
            help: format!("write `CREATE OR REPLACE {kind} ...`"),
        }),
        _ => {}
    }
}

fn add_column(cx: &Context, found: &mut Vec<Finding>) {
    for clause in cx.alter_table_actions() {
        let word = |j: usize| clause.get(j).copied();
        let Some(action) = word(0) else { continue };
        if !cx.is(action, "ADD") {
            continue;
        }
        let j = if word(1).is_some_and(|t| cx.is(t, "COLUMN")) {
            2
        } else {
            1
        };
        let constraint_or_guarded = word(j).is_some_and(|t| {
            ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "IF"]
                .iter()
                .any(|k| cx.is(t, k))
        });
        if !constraint_or_guarded {
            found.push(Finding {
                lint: Lint::MissingIfNotExists,
                offset: action.start,
                message: "`ADD COLUMN` without `IF NOT EXISTS`: the migration fails if it runs again".to_string(),
                help: "write `ADD COLUMN IF NOT EXISTS ...` so the migration is idempotent".to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(lints("CREATE TABLE t (id int);"), vec!["missing-if-not-exists"]);
        assert_eq!(
            lints("CREATE UNIQUE INDEX i ON t (a);"),
            vec!["missing-if-not-exists", "blocking-index"]
        );
        assert_eq!(
            lints("ALTER TABLE t ADD COLUMN a int, ADD b int;"),
            vec!["missing-if-not-exists"; 2]
        );
        assert_eq!(lints("CREATE VIEW v AS SELECT 1;"), vec!["missing-if-not-exists"]);
        assert_eq!(
            lints("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;"),
            vec!["missing-if-not-exists"]
        );
    }

    #[test]
    fn guarded_forms_are_silent() {
        assert!(
            lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int, ADD CONSTRAINT c CHECK (a > 0) NOT VALID;").is_empty()
        );
        assert!(lints("CREATE MATERIALIZED VIEW IF NOT EXISTS mv AS SELECT 1;").is_empty());
    }
}
