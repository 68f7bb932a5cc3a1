//! `blocking-maintenance`: `VACUUM FULL`, `CLUSTER` and `REINDEX` without
//! `CONCURRENTLY` hold a lock that stops the application while they run.

use crate::lint::{Context, Finding, Lint};
use crate::statement::StatementKind;

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let w = &cx.words;
    let any = |k: &str| cx.range().iter().any(|t| cx.is(t, k));
    let (what, help) = if w.is(0, "VACUUM") && any("FULL") {
        (
            "`VACUUM FULL` rewrites the table under an ACCESS EXCLUSIVE lock",
            "run a plain `VACUUM`, or compact the table outside a migration with `pg_repack`",
        )
    } else if w.is(0, "CLUSTER") {
        (
            "`CLUSTER` rewrites the table under an ACCESS EXCLUSIVE lock",
            "compact and reorder the table outside a migration with `pg_repack`",
        )
    } else if w.is(0, "REINDEX") && cx.kind != StatementKind::ReindexConcurrently {
        (
            "`REINDEX` without `CONCURRENTLY` blocks writes to the table, and reads that use the index",
            "write `REINDEX ... CONCURRENTLY` in a file that starts with `-- migrate: no-transaction`",
        )
    } else {
        return;
    };
    if !cx.names_a_created_table() {
        found.push(Finding {
            lint: Lint::BlockingMaintenance,
            offset: cx.at(0),
            message: format!("{what}: the application waits until it ends"),
            help: help.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(lints("VACUUM FULL t;"), vec!["blocking-maintenance"]);
        assert_eq!(lints("VACUUM (FULL, ANALYZE) t;"), vec!["blocking-maintenance"]);
        assert_eq!(lints("CLUSTER t USING t_pkey;"), vec!["blocking-maintenance"]);
        assert_eq!(lints("REINDEX INDEX i;"), vec!["blocking-maintenance"]);
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("REINDEX INDEX CONCURRENTLY i;").is_empty());
        assert!(lints("REINDEX (CONCURRENTLY) TABLE t;").is_empty());
        assert!(lints("REINDEX (VERBOSE) SCHEMA CONCURRENTLY s;").is_empty());
        assert!(lints("VACUUM (ANALYZE) t;").is_empty());
    }
}
