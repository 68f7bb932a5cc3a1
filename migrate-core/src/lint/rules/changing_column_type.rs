//! `changing-column-type`: `ALTER COLUMN ... TYPE` on a table that already
//! exists rewrites it, and its indexes, under an ACCESS EXCLUSIVE lock.

use super::altered_column;
use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    for clause in cx.alter_table_actions() {
        let Some(j) = altered_column(cx, &clause) else { continue };
        let retype = cx.find_seq(&clause, j, &["TYPE"]) == Some(j)
            || cx.find_seq(&clause, j, &["SET", "DATA", "TYPE"]) == Some(j);
        if retype {
            found.push(Finding {
                lint: Lint::ChangingColumnType,
                offset: clause[0].start,
                message: format!(
                    "`ALTER COLUMN ... TYPE` on `{table}` rewrites the table and its indexes under an ACCESS EXCLUSIVE lock: every query on it waits"
                ),
                help: "add a column of the new type, fill it in batches, switch the code to it, then drop the old column in a later release; a change PostgreSQL makes without a rewrite (`varchar(n)` to a larger `n` or to `text`) can be kept".to_string(),
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
            lints("ALTER TABLE t ALTER COLUMN a TYPE bigint;"),
            vec!["changing-column-type"]
        );
        assert_eq!(
            lints("ALTER TABLE t ALTER a SET DATA TYPE text USING a::text;"),
            vec!["changing-column-type"]
        );
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(
            lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS a_new bigint;\nUPDATE t SET a_new = a WHERE id < 1000;")
                .is_empty()
        );
        assert!(lints("CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n ALTER COLUMN a TYPE bigint;").is_empty());
        assert!(lints("ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;").is_empty());
    }
}
