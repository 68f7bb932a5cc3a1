//! `renaming`: renaming a column or a table that already exists breaks the
//! release still running during a deploy, which uses the old name.

use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    for clause in cx.alter_table_actions() {
        if !clause.first().is_some_and(|t| cx.is(t, "RENAME")) || clause.get(1).is_some_and(|t| cx.is(t, "CONSTRAINT"))
        {
            continue;
        }
        let (what, help) = if clause.get(1).is_some_and(|t| cx.is(t, "TO")) {
            (
                format!("renaming the table `{table}`"),
                format!("rename it and, in the same file, `CREATE VIEW {table} AS SELECT * FROM new_name;` so the running release keeps working; drop the view in a later release"),
            )
        } else {
            (
                format!("renaming a column of `{table}`"),
                "add the new column, write both from the code, fill it in batches, switch the reads, then drop the old column in a later release".to_string(),
            )
        };
        found.push(Finding {
            lint: Lint::Renaming,
            offset: clause[0].start,
            message: format!("{what} breaks the release still running during a deploy, which uses the old name"),
            help,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(lints("ALTER TABLE t RENAME COLUMN a TO b;"), vec!["renaming"]);
        assert_eq!(lints("ALTER TABLE t RENAME a TO b;"), vec!["renaming"]);
        assert_eq!(lints("ALTER TABLE IF EXISTS t RENAME TO u;"), vec!["renaming"]);
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("ALTER TABLE t ADD COLUMN IF NOT EXISTS b int;\nUPDATE t SET b = a WHERE b IS NULL;").is_empty());
        assert!(lints("ALTER TABLE t RENAME CONSTRAINT c TO d;").is_empty());
        assert!(lints("CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n RENAME a TO b;").is_empty());
    }
}
