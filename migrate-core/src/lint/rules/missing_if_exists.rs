//! `missing-if-exists`: a `DROP` that fails when the migration runs again.

use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let w = &cx.words;
    if w.is(0, "DROP") && !w.is(1, "OWNED") {
        let mut k = 2;
        if ["MATERIALIZED", "FOREIGN", "ACCESS", "EVENT", "TEXT"]
            .iter()
            .any(|m| w.is(1, m))
        {
            k += 1;
        }
        if w.is(k - 1, "INDEX") && w.is(k, "CONCURRENTLY") {
            k += 1;
        }
        if !cx.if_exists(k) {
            let kind = w.words[1..k.min(w.words.len())]
                .iter()
                .map(|(s, _)| s.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(" ");
            found.push(unguarded(cx.at(0), &kind));
        }
    } else if w.starts_with(&["ALTER", "TABLE"]) {
        for clause in cx.alter_table_actions() {
            let word = |j: usize| clause.get(j).copied();
            let Some(action) = word(0).filter(|t| cx.is(t, "DROP")) else {
                continue;
            };
            let (what, j) = match word(1) {
                Some(t) if cx.is(t, "CONSTRAINT") => ("CONSTRAINT", 2),
                Some(t) if cx.is(t, "COLUMN") => ("COLUMN", 2),
                _ => ("COLUMN", 1),
            };
            let guarded = word(j).is_some_and(|t| cx.is(t, "IF")) && word(j + 1).is_some_and(|t| cx.is(t, "EXISTS"));
            if !guarded {
                found.push(unguarded(action.start, what));
            }
        }
    }
}

fn unguarded(offset: usize, kind: &str) -> Finding {
    Finding {
        lint: Lint::MissingIfExists,
        offset,
        message: format!("`DROP {kind}` without `IF EXISTS`: the migration fails if it runs again"),
        help: format!("write `DROP {kind} IF EXISTS ...` so the migration is idempotent"),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(lints("DROP INDEX CONCURRENTLY i;"), vec!["missing-if-exists"]);
        assert_eq!(lints("ALTER TABLE t DROP CONSTRAINT c;"), vec!["missing-if-exists"]);
        assert_eq!(lints("DROP TABLE t;"), vec!["missing-if-exists", "destructive-change"]);
    }

    #[test]
    fn guarded_forms_are_silent() {
        assert!(lints("DROP INDEX IF EXISTS i;").is_empty());
        assert!(lints("ALTER TABLE t DROP CONSTRAINT IF EXISTS c, ALTER COLUMN a DROP DEFAULT;").is_empty());
        assert!(lints("DROP OWNED BY someone;").is_empty());
    }
}
