//! `constraint-without-not-valid`: `ADD CONSTRAINT ... FOREIGN KEY` or
//! `CHECK` on a table that already exists checks every row while holding a
//! lock that blocks writes; so does a `VALIDATE CONSTRAINT` in the same file
//! (the same transaction) as the `NOT VALID` constraint it validates.

use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let Some(table) = cx.existing_altered_table() else {
        return;
    };
    for clause in cx.alter_table_actions() {
        if let Some((kind, name)) = added_constraint(cx, &clause) {
            if cx.find_seq(&clause, 1, &["NOT", "VALID"]).is_none() {
                let name = name.unwrap_or_else(|| "c".to_string());
                found.push(Finding {
                    lint: Lint::ConstraintWithoutNotValid,
                    offset: clause[0].start,
                    message: format!(
                        "`ADD {kind}` on `{table}` checks every row while holding a lock that blocks writes"
                    ),
                    help: format!(
                        "add it with `NOT VALID` (only new rows are checked, no scan), then `ALTER TABLE {table} VALIDATE CONSTRAINT {name};` in a later file: validating takes a lock that lets reads and writes go on"
                    ),
                });
            }
        } else if let Some(name) = validated(cx, &clause) {
            if cx.state.not_valid_constraints.contains(&name) {
                found.push(Finding {
                    lint: Lint::ConstraintWithoutNotValid,
                    offset: clause[0].start,
                    message: format!(
                        "`VALIDATE CONSTRAINT {name}` in the file that added it `NOT VALID`: the scan runs while the transaction still holds the lock of the `ADD`, which blocks writes to `{table}`"
                    ),
                    help: "move the `VALIDATE CONSTRAINT` to a later migration file".to_string(),
                });
            }
        }
    }
}

/// `ADD [CONSTRAINT name] FOREIGN KEY|CHECK ...`: the kind and the name.
fn added_constraint(cx: &Context, clause: &[&crate::lexer::Token]) -> Option<(&'static str, Option<String>)> {
    if !clause.first().is_some_and(|t| cx.is(t, "ADD")) {
        return None;
    }
    let (name, k) = if clause.get(1).is_some_and(|t| cx.is(t, "CONSTRAINT")) {
        (clause.get(2).map(|t| cx.qualified_tail(t)), 3)
    } else {
        (None, 1)
    };
    let kind = clause.get(k)?;
    if cx.is(kind, "FOREIGN") {
        Some(("FOREIGN KEY", name))
    } else if cx.is(kind, "CHECK") {
        Some(("CHECK", name))
    } else {
        None
    }
}

/// `VALIDATE CONSTRAINT name`: the name.
fn validated(cx: &Context, clause: &[&crate::lexer::Token]) -> Option<String> {
    (cx.find_seq(clause, 0, &["VALIDATE", "CONSTRAINT"]) == Some(0))
        .then(|| clause.get(2).map(|t| cx.qualified_tail(t)))
        .flatten()
}

/// What the file state keeps from one statement.
pub(crate) struct Remembered {
    pub not_valid: Vec<String>,
    pub validated: Vec<String>,
}

/// The constraints a statement adds `NOT VALID`, and the table it validates.
pub(crate) fn remember(cx: &Context) -> Remembered {
    let mut out = Remembered {
        not_valid: Vec::new(),
        validated: Vec::new(),
    };
    let Some(table) = cx.existing_altered_table() else {
        return out;
    };
    for clause in cx.alter_table_actions() {
        if let Some((_, Some(name))) = added_constraint(cx, &clause) {
            if cx.find_seq(&clause, 1, &["NOT", "VALID"]).is_some() {
                out.not_valid.push(name);
            }
        } else if validated(cx, &clause).is_some() {
            out.validated.push(table.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires_on_an_existing_table() {
        assert_eq!(
            lints("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);"),
            vec!["constraint-without-not-valid"]
        );
        assert_eq!(
            lints("ALTER TABLE t ADD FOREIGN KEY (p) REFERENCES p(id) ON DELETE CASCADE;"),
            vec!["constraint-without-not-valid"]
        );
        assert_eq!(
            lints("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;"),
            vec!["constraint-without-not-valid"]
        );
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(
            lints("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p(id) ON DELETE CASCADE NOT VALID;")
                .is_empty()
        );
        assert!(lints("ALTER TABLE t VALIDATE CONSTRAINT fk;").is_empty());
        assert!(
            lints("CREATE TABLE IF NOT EXISTS n (a int);\nALTER TABLE n ADD CONSTRAINT c CHECK (a > 0);").is_empty()
        );
    }
}
