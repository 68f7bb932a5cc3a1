//! `non-idempotent`: in a repeatable file, a `CREATE` that fails the second
//! time the file runs: neither `CREATE OR REPLACE`, nor `IF NOT EXISTS`, nor
//! preceded by a `DROP ... IF EXISTS` of the same name.

use crate::files::FileKind;
use crate::lint::{Context, Finding, Lint};
use crate::statement::StatementKind;

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let w = &cx.words;
    if cx.file != FileKind::Repeatable || !w.is(0, "CREATE") || w.starts_with(&["CREATE", "OR", "REPLACE"]) {
        return;
    }
    if w.find("EXISTS")
        .is_some_and(|i| i > 1 && w.is(i - 1, "NOT") && w.is(i - 2, "IF"))
    {
        return;
    }
    let Some(kind_at) = (1..w.words.len()).find(|&i| {
        ![
            "UNIQUE",
            "TEMP",
            "TEMPORARY",
            "UNLOGGED",
            "MATERIALIZED",
            "RECURSIVE",
            "CONSTRAINT",
            "DEFAULT",
            "TRUSTED",
            "PROCEDURAL",
        ]
        .iter()
        .any(|m| w.is(i, m))
    }) else {
        return;
    };
    let materialized = if (1..kind_at).any(|i| w.is(i, "MATERIALIZED")) {
        "MATERIALIZED "
    } else {
        ""
    };
    let kind = format!("{materialized}{}", w.words[kind_at].0.to_ascii_uppercase());
    let name_at = if matches!(cx.kind, StatementKind::CreateIndexConcurrently { .. }) {
        kind_at + 2
    } else {
        kind_at + 1
    };
    if name_after(cx, name_at).is_some_and(|n| cx.state.dropped.contains(&n)) {
        return;
    }
    let replaceable = [
        "VIEW",
        "FUNCTION",
        "PROCEDURE",
        "TRIGGER",
        "RULE",
        "AGGREGATE",
        "TRANSFORM",
        "LANGUAGE",
    ];
    let fix = if replaceable.contains(&kind.as_str()) {
        format!("write `CREATE OR REPLACE {kind} ...`")
    } else {
        format!("put `DROP {kind} IF EXISTS ...` before it")
    };
    found.push(Finding {
        lint: Lint::NonIdempotent,
        offset: cx.at(0),
        message: format!("`CREATE {kind}` in a repeatable file fails when the file runs again after a change"),
        help: fix,
    });
}

/// The name a `DROP ... IF EXISTS` in a repeatable file drops: a later
/// `CREATE` of it runs again without failing.
pub(crate) fn dropped(cx: &Context) -> Option<String> {
    let w = &cx.words;
    if cx.file != FileKind::Repeatable || !w.is(0, "DROP") {
        return None;
    }
    let at = w.find("EXISTS").filter(|&i| i > 0 && w.is(i - 1, "IF"))?;
    name_after(cx, at + 1)
}

/// The lowercase name at word `i`, up to a space, `(`, `,` or `;`.
fn name_after(cx: &Context, i: usize) -> Option<String> {
    let (_, token) = cx.words.words.get(i)?;
    let rest = &cx.src[token.start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '(' | ',' | ';'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use crate::files::FileKind;
    use crate::source::check_as;

    fn lints(sql: &str) -> Vec<String> {
        check_as("m/repeatable/v.sql", None, sql.as_bytes(), FileKind::Repeatable)
            .unwrap()
            .warnings
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn asks_for_idempotent_forms() {
        assert_eq!(lints("CREATE VIEW v AS SELECT 1;").len(), 1);
        assert!(lints("CREATE VIEW v AS SELECT 1;")[0].contains("CREATE OR REPLACE VIEW"));
        assert!(lints("CREATE OR REPLACE VIEW v AS SELECT 1;").is_empty());
        assert!(lints("DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT 1;").is_empty());
        assert!(
            lints("DROP MATERIALIZED VIEW IF EXISTS public.m;\nCREATE MATERIALIZED VIEW public.m AS SELECT 1;")
                .is_empty()
        );
        assert_eq!(lints("DROP VIEW IF EXISTS w;\nCREATE VIEW v AS SELECT 1;").len(), 1);
        assert!(lints("GRANT SELECT ON t TO PUBLIC;").is_empty());
        assert!(lints("-- migrate: allow(non-idempotent)\nCREATE VIEW v AS SELECT 1;").is_empty());
    }

    #[test]
    fn a_dropped_concurrent_index_may_be_created_again() {
        let sql = |before: &str| format!("-- migrate: no-transaction\n{before}CREATE INDEX CONCURRENTLY i ON t (a);");
        assert_eq!(lints(&sql("")).len(), 1);
        assert!(lints(&sql("DROP INDEX IF EXISTS i;\n")).is_empty());
    }

    #[test]
    fn only_repeatable_files_get_the_lint() {
        for kind in [FileKind::Versioned, FileKind::Down] {
            let file = check_as("m/001_v.sql", None, b"CREATE VIEW v AS SELECT 1;", kind).unwrap();
            assert!(
                file.warnings.iter().all(|w| !w.message.contains("non-idempotent")),
                "{:?}",
                file.warnings
            );
        }
    }
}
