//! `blocking-index`: `CREATE INDEX` without `CONCURRENTLY` on a table the
//! file did not create blocks writes while the index builds.

use super::created_kind;
use crate::lint::{Context, Finding, Lint};
use crate::statement::StatementKind;

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some((kind, _, _)) = created_kind(cx) else { return };
    let w = &cx.words;
    if kind != "INDEX" || matches!(cx.kind, StatementKind::CreateIndexConcurrently { .. }) {
        return;
    }
    let Some(on) = w.find("ON") else { return };
    let table_at = if w.is(on + 1, "ONLY") { on + 2 } else { on + 1 };
    let Some((_, token)) = w.words.get(table_at) else {
        return;
    };
    let table = cx.qualified_tail(token);
    if !cx.created_here(&table) {
        found.push(Finding {
            lint: Lint::BlockingIndex,
            offset: cx.at(0),
            message: format!(
                "`CREATE INDEX` on `{table}`, a table this file did not create, blocks writes to it until the index is built"
            ),
            help: "build it with `CREATE INDEX CONCURRENTLY` in a file of its own that starts with `-- migrate: no-transaction`".to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn indexes_on_tables_created_in_the_same_file_do_not_block() {
        assert!(
            lints("CREATE TABLE IF NOT EXISTS n (a int);\nCREATE INDEX IF NOT EXISTS i ON public.n (a);").is_empty()
        );
        assert_eq!(
            lints("CREATE INDEX IF NOT EXISTS i ON public.profiles (a);"),
            vec!["blocking-index"]
        );
    }

    #[test]
    fn concurrently_is_silent() {
        assert!(lints("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON existing (a);").is_empty());
    }
}
