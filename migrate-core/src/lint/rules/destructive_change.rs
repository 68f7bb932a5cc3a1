//! `destructive-change`: `DROP TABLE`, `DROP COLUMN`, `TRUNCATE`.

use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let w = &cx.words;
    if w.starts_with(&["DROP", "TABLE"]) {
        found.push(destructive(cx.at(0), "`DROP TABLE` destroys the table and its data"));
    } else if w.is(0, "TRUNCATE") {
        found.push(destructive(cx.at(0), "`TRUNCATE` deletes every row"));
    } else if w.starts_with(&["ALTER", "TABLE"]) {
        for clause in cx.alter_table_actions() {
            let drop = clause.first().filter(|t| cx.is(t, "DROP"));
            let constraint = clause.get(1).is_some_and(|t| cx.is(t, "CONSTRAINT"));
            if let (Some(action), false) = (drop, constraint) {
                found.push(destructive(
                    action.start,
                    "`DROP COLUMN` destroys the column and its data",
                ));
            }
        }
    }
}

fn destructive(offset: usize, what: &str) -> Finding {
    Finding {
        lint: Lint::DestructiveChange,
        offset,
        message: format!("{what}; the release still running during a deploy may need it"),
        help: "remove data only in a release after the code that uses it is gone everywhere".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(lints("DROP TABLE IF EXISTS t;"), vec!["destructive-change"]);
        assert_eq!(
            lints("ALTER TABLE t DROP COLUMN IF EXISTS a;"),
            vec!["destructive-change"]
        );
        assert_eq!(lints("TRUNCATE t;"), vec!["destructive-change"]);
    }

    #[test]
    fn other_drops_are_not_destructive() {
        assert!(lints("DROP INDEX IF EXISTS i;").is_empty());
        assert!(lints("ALTER TABLE t DROP CONSTRAINT IF EXISTS c;").is_empty());
    }
}
