//! `setting-not-null`: `SET NOT NULL` on a table that already exists scans
//! it under an ACCESS EXCLUSIVE lock, unless a validated `CHECK` proves it.

use super::altered_column;
use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    if cx.state.validated_tables.contains(&table) {
        return;
    }
    for clause in cx.alter_table_actions() {
        let Some(j) = altered_column(cx, &clause) else { continue };
        if cx.find_seq(&clause, j, &["SET", "NOT", "NULL"]) == Some(j) {
            let column = clause[j - 1].text(cx.src);
            found.push(Finding {
                lint: Lint::SettingNotNull,
                offset: clause[0].start,
                message: format!(
                    "`SET NOT NULL` on `{table}` scans the whole table under an ACCESS EXCLUSIVE lock: every query on it waits"
                ),
                help: format!(
                    "first `ALTER TABLE {table} ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID;`, then in a later file `ALTER TABLE {table} VALIDATE CONSTRAINT {column}_not_null;` followed by the `SET NOT NULL`, which then needs no scan"
                ),
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
            lints("ALTER TABLE t ALTER COLUMN a SET NOT NULL;"),
            vec!["setting-not-null"]
        );
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("ALTER TABLE t ADD CONSTRAINT a_not_null CHECK (a IS NOT NULL) NOT VALID;").is_empty());
        assert!(
            lints("ALTER TABLE t VALIDATE CONSTRAINT a_not_null;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;")
                .is_empty()
        );
        assert!(lints("CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n ALTER a SET NOT NULL;").is_empty());
        assert!(lints("ALTER TABLE t ALTER COLUMN a DROP NOT NULL;").is_empty());
    }
}
