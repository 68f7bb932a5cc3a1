//! `adding-required-column`: `ADD COLUMN ... NOT NULL` without a `DEFAULT`
//! fails on a table that already has rows.

use super::added_column;
use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    for clause in cx.alter_table_actions() {
        let Some(j) = added_column(cx, &clause) else { continue };
        let not_null = cx.find_seq(&clause, j, &["NOT", "NULL"]).is_some();
        let filled = cx.find_seq(&clause, j, &["DEFAULT"]).is_some()
            || cx.find_seq(&clause, j, &["GENERATED"]).is_some()
            || clause
                .get(j + 1)
                .is_some_and(|t| ["SERIAL", "BIGSERIAL", "SMALLSERIAL"].iter().any(|s| cx.is(t, s)));
        if not_null && !filled {
            found.push(Finding {
                lint: Lint::AddingRequiredColumn,
                offset: clause[0].start,
                message: format!(
                    "`ADD COLUMN ... NOT NULL` without a `DEFAULT` fails as soon as `{table}` has a row"
                ),
                help: "give it a constant `DEFAULT` (added without a rewrite), or add it nullable, fill it in batches, then set it NOT NULL through a validated `CHECK (col IS NOT NULL)` constraint".to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(
            lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL;"),
            vec!["adding-required-column"]
        );
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL DEFAULT 0;").is_empty());
        assert!(lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int;").is_empty());
        assert!(lints(
            "CREATE TABLE IF NOT EXISTS n (id int);\nALTER TABLE n ADD COLUMN IF NOT EXISTS a int NOT NULL;"
        )
        .is_empty());
        assert!(lints("ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;").is_empty());
    }
}
