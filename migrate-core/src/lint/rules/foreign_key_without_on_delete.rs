//! `foreign-key-without-on-delete`: `REFERENCES` whose column or constraint
//! definition says nothing about deletes.

use crate::lexer::TokenKind;
use crate::lint::{Context, Finding, Lint};

pub(crate) fn check(cx: &Context, found: &mut Vec<Finding>) {
    let w = &cx.words;
    if !((w.is(0, "CREATE") && w.contains("TABLE")) || w.starts_with(&["ALTER", "TABLE"])) {
        return;
    }
    let range = cx.range();
    let mut depth = 0usize;
    for (i, t) in range.iter().enumerate() {
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth = depth.saturating_sub(1),
            _ if cx.is(t, "REFERENCES") => {
                let mut d = depth;
                let mut on_delete = false;
                let mut previous = None;
                for u in &range[i + 1..] {
                    match u.kind {
                        TokenKind::OpenParen => d += 1,
                        TokenKind::CloseParen if d == depth => break,
                        TokenKind::CloseParen => d -= 1,
                        TokenKind::Other if d == depth && u.text(cx.src) == "," => break,
                        TokenKind::Word
                            if d == depth && cx.is(u, "DELETE") && previous.is_some_and(|p| cx.is(p, "ON")) =>
                        {
                            on_delete = true;
                        }
                        _ => {}
                    }
                    if !u.is_trivia() {
                        previous = Some(u);
                    }
                }
                if !on_delete {
                    found.push(Finding {
                        lint: Lint::ForeignKeyWithoutOnDelete,
                        offset: t.start,
                        message: "foreign key without `ON DELETE`: deleting the referenced row will fail".to_string(),
                        help: "say what happens to this row: `ON DELETE CASCADE`, `ON DELETE SET NULL` or `ON DELETE RESTRICT`".to_string(),
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::tests::lints;

    #[test]
    fn fires() {
        assert_eq!(
            lints("CREATE TABLE IF NOT EXISTS c (p int REFERENCES p(id), q int REFERENCES q(id) ON DELETE CASCADE);"),
            vec!["foreign-key-without-on-delete"]
        );
        assert_eq!(
            lints("ALTER TABLE s ADD CONSTRAINT fk FOREIGN KEY (profile_id) REFERENCES profiles(id) NOT VALID;"),
            vec!["foreign-key-without-on-delete"]
        );
    }

    #[test]
    fn on_delete_is_silent() {
        assert!(lints("CREATE TABLE IF NOT EXISTS c (p int REFERENCES p(id) ON DELETE CASCADE, q int, FOREIGN KEY (q) REFERENCES q(id) ON UPDATE CASCADE ON DELETE SET NULL);").is_empty());
        assert!(lints("GRANT REFERENCES ON t TO someone;").is_empty());
    }
}
