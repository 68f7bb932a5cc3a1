//! `adding-volatile-default`: `ADD COLUMN` whose value differs per row (a
//! volatile default, a serial, an identity or a stored generated column)
//! rewrites a table that already exists under an ACCESS EXCLUSIVE lock.
//! Functions of the user's own are not recognised.

use super::added_column;
use crate::lexer::TokenKind;
use crate::lint::{Context, Finding, Lint};

/// Built-in volatile functions seen in column defaults.
const VOLATILE: &[&str] = &[
    "random",
    "random_normal",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "nextval",
];

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    let clauses = cx.alter_table_actions();
    for (i, clause) in clauses.iter().enumerate() {
        let Some(j) = added_column(cx, clause) else { continue };
        let tokens = cx.clause_tokens(&clauses, i);
        let called = tokens
            .iter()
            .filter(|t| !t.is_trivia())
            .collect::<Vec<_>>()
            .windows(2)
            .find(|p| p[1].kind == TokenKind::OpenParen && VOLATILE.iter().any(|f| cx.is(p[0], f)))
            .map(|p| format!("the volatile default `{}()`", p[0].text(cx.src)));
        let serial = clause
            .get(j + 1)
            .filter(|t| ["SERIAL", "BIGSERIAL", "SMALLSERIAL"].iter().any(|s| cx.is(t, s)))
            .map(|t| format!("the type `{}`", t.text(cx.src)));
        let generated = cx.find_seq(clause, j, &["GENERATED"]).map(|g| {
            if cx.find_seq(clause, g, &["IDENTITY"]).is_some() {
                "an identity column".to_string()
            } else {
                "a stored generated column".to_string()
            }
        });
        if let Some(what) = called.or(serial).or(generated) {
            found.push(Finding {
                lint: Lint::AddingVolatileDefault,
                offset: clause[0].start,
                message: format!(
                    "`ADD COLUMN` with {what} gives each row its own value, so it rewrites `{table}` under an ACCESS EXCLUSIVE lock: every query on it waits"
                ),
                help: "add the column without a default (or with a constant one), fill it in batches, then `ALTER COLUMN ... SET DEFAULT ...` for new rows".to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires_on_an_existing_table() {
        for sql in [
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS r float DEFAULT random();",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS at timestamptz DEFAULT (clock_timestamp() + interval '1 day');",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS u uuid DEFAULT public.gen_random_uuid();",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS id bigserial;",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS d int GENERATED ALWAYS AS (a * 2) STORED;",
        ] {
            assert_eq!(lints(sql), vec!["adding-volatile-default"], "{sql}");
        }
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS u uuid;\nALTER TABLE t ALTER COLUMN u SET DEFAULT gen_random_uuid();"
        )
        .is_empty());
        assert!(lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS at timestamptz NOT NULL DEFAULT now();").is_empty());
        assert!(lints(
            "CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n ADD COLUMN IF NOT EXISTS r float DEFAULT random();"
        )
        .is_empty());
    }
}
