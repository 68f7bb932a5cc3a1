//! `explicit-lock`: `LOCK TABLE` holds its lock until the file's
//! transaction ends, so every later statement extends the stall.

use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    if cx.words.is(0, "LOCK") && !cx.names_a_created_table() {
        found.push(Finding {
            lint: Lint::ExplicitLock,
            offset: cx.at(0),
            message: "`LOCK TABLE` holds its lock until the file's transaction ends: every query on the table waits for the rest of the file".to_string(),
            help: "remove it and let each statement take the lock it needs, or keep the file to the statements that need the lock".to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(lints("LOCK TABLE t IN ACCESS EXCLUSIVE MODE;"), vec!["explicit-lock"]);
        assert_eq!(lints("LOCK t;"), vec!["explicit-lock"]);
    }

    #[test]
    fn the_safe_recipe_is_silent() {
        assert!(lints("UPDATE t SET a = 1 WHERE id = 2;").is_empty());
        assert!(lints("CREATE TABLE IF NOT EXISTS n (a int);\nLOCK TABLE n;").is_empty());
    }
}
