//! `constraint-without-index`: `ADD ... UNIQUE` or `PRIMARY KEY` without
//! `USING INDEX` builds the index on a table that already exists while
//! holding an ACCESS EXCLUSIVE lock.

use super::added_column;
use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    for clause in cx.alter_table_actions() {
        if !clause.first().is_some_and(|t| cx.is(t, "ADD")) {
            continue;
        }
        let from = added_column(cx, &clause).unwrap_or(1);
        let kind = if cx.find_seq(&clause, from, &["PRIMARY", "KEY"]).is_some() {
            "PRIMARY KEY"
        } else if cx.find_seq(&clause, from, &["UNIQUE"]).is_some() {
            "UNIQUE"
        } else {
            continue;
        };
        if cx.find_seq(&clause, from, &["USING", "INDEX"]).is_none() {
            found.push(Finding {
                lint: Lint::ConstraintWithoutIndex,
                offset: clause[0].start,
                message: format!(
                    "`{kind}` on `{table}` builds its index under an ACCESS EXCLUSIVE lock: every query on the table waits"
                ),
                help: format!(
                    "build the index first with `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS name ON {table} (...)` in a `-- migrate: no-transaction` file, then `ALTER TABLE {table} ADD CONSTRAINT name {kind} USING INDEX name;`"
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
            lints("ALTER TABLE t ADD CONSTRAINT u UNIQUE (email);"),
            vec!["constraint-without-index"]
        );
        assert_eq!(
            lints("ALTER TABLE t ADD PRIMARY KEY (id);"),
            vec!["constraint-without-index"]
        );
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u;").is_empty());
        assert!(lints("ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY USING INDEX pk;").is_empty());
        assert!(lints("CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n ADD CONSTRAINT u UNIQUE (a);").is_empty());
    }
}
