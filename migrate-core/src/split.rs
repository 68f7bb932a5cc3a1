//! Statement splitter: finds the statements psql would send, one per `;`
//! at parenthesis depth 0 and outside `BEGIN ATOMIC ... END` bodies.

use crate::lexer::{tokenize, LexError, Token, TokenKind};
use std::ops::Range;

/// One statement: from its first non-comment token to its `;` (inclusive),
/// or to its last token when the file ends without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub start: usize,
    pub end: usize,
    /// Indices of the statement's tokens in [`Split::tokens`].
    pub tokens: Range<usize>,
}

impl Statement {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }
}

/// A source cut into tokens and statements.
#[derive(Debug, Clone)]
pub struct Split {
    pub tokens: Vec<Token>,
    pub statements: Vec<Statement>,
}

/// psql's heuristic for SQL-standard function bodies: inside a statement
/// that starts `CREATE [OR REPLACE] {FUNCTION|PROCEDURE}`, `BEGIN` opens a
/// block, `CASE` nests inside one, and `END` closes one; a `;` ends the
/// statement only outside such blocks (and outside parentheses).
#[derive(Default)]
struct BlockTracker {
    paren_depth: usize,
    begin_depth: usize,
    word_count: usize,
    leading: [u8; 4],
}

impl BlockTracker {
    fn word(&mut self, word: &str) {
        let is = |k: &str| word.eq_ignore_ascii_case(k);
        if ["create", "function", "procedure", "or", "replace"]
            .iter()
            .any(|k| is(k))
            && self.word_count < self.leading.len()
        {
            self.leading[self.word_count] = word.as_bytes()[0].to_ascii_lowercase();
        }
        self.word_count += 1;
        let l = self.leading;
        let routine = l[0] == b'c'
            && (l[1] == b'f' || l[1] == b'p' || (l[1] == b'o' && l[2] == b'r' && (l[3] == b'f' || l[3] == b'p')));
        if routine && self.paren_depth == 0 {
            // CASE also ends with END, but only matters inside a BEGIN block.
            if is("begin") || (is("case") && self.begin_depth >= 1) {
                self.begin_depth += 1;
            } else if is("end") && self.begin_depth > 0 {
                self.begin_depth -= 1;
            }
        }
    }

    fn ends_statement(&self) -> bool {
        self.paren_depth == 0 && self.begin_depth == 0
    }
}

/// Tokenizes `src` and groups the tokens into statements.
pub fn split(src: &str) -> Result<Split, LexError> {
    let tokens = tokenize(src)?;
    let mut statements = Vec::new();
    let mut first: Option<usize> = None;
    let mut last = 0;
    let mut state = BlockTracker::default();
    // A psql meta-command takes the rest of its line as arguments; the
    // next line starts afresh, as psql reads it.
    let mut meta_command_until = 0;
    for (idx, token) in tokens.iter().enumerate() {
        if token.is_trivia() || token.start < meta_command_until {
            continue;
        }
        if token.kind == TokenKind::Backslash {
            meta_command_until = src[token.end..].find('\n').map_or(src.len(), |n| token.end + n);
            continue;
        }
        match token.kind {
            TokenKind::Semicolon if state.ends_statement() => {
                if let Some(f) = first.take() {
                    statements.push(Statement {
                        start: tokens[f].start,
                        end: token.end,
                        tokens: f..idx + 1,
                    });
                }
                state = BlockTracker::default();
                continue;
            }
            TokenKind::OpenParen => state.paren_depth += 1,
            TokenKind::CloseParen => state.paren_depth = state.paren_depth.saturating_sub(1),
            TokenKind::Word => state.word(token.text(src)),
            _ => {}
        }
        first.get_or_insert(idx);
        last = idx;
    }
    if let Some(f) = first {
        statements.push(Statement {
            start: tokens[f].start,
            end: tokens[last].end,
            tokens: f..last + 1,
        });
    }
    Ok(Split { tokens, statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        split(src).unwrap().statements.iter().map(|s| s.text(src)).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        assert_eq!(texts("SELECT 1; SELECT 2;"), vec!["SELECT 1;", "SELECT 2;"]);
    }

    #[test]
    fn last_statement_may_lack_a_semicolon() {
        assert_eq!(texts("SELECT 1;\nSELECT 2 -- tail"), vec!["SELECT 1;", "SELECT 2"]);
    }

    #[test]
    fn leading_comments_are_not_part_of_the_statement() {
        assert_eq!(texts("-- header\n/* c */ SELECT 1;"), vec!["SELECT 1;"]);
    }

    #[test]
    fn empty_statements_are_dropped() {
        assert_eq!(texts(";; SELECT 1;;"), vec!["SELECT 1;"]);
        assert!(texts("-- only a comment\n").is_empty());
    }

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        assert_eq!(
            texts("CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);"),
            vec!["CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);"]
        );
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        assert_eq!(texts(sql), vec![&sql[..sql.len() - 10], "SELECT 3;"]);
        let sql = "create or replace procedure p() begin atomic insert into t values (1); end; commit;";
        assert_eq!(texts(sql).len(), 2);
    }

    #[test]
    fn begin_outside_routines_is_an_ordinary_word() {
        assert_eq!(
            texts("BEGIN; SELECT 1; COMMIT;"),
            vec!["BEGIN;", "SELECT 1;", "COMMIT;"]
        );
    }

    #[test]
    fn a_meta_command_line_is_not_part_of_the_next_statement() {
        assert_eq!(texts("\\echo starting\nBEGIN;\nSELECT 1;"), vec!["BEGIN;", "SELECT 1;"]);
        assert_eq!(texts("SELECT 1;\n\\set x 1\n"), vec!["SELECT 1;"]);
    }

    #[test]
    fn dollar_bodies_hide_their_semicolons() {
        assert_eq!(
            texts("DO $$ BEGIN PERFORM 1; COMMIT; END $$; SELECT 1"),
            vec!["DO $$ BEGIN PERFORM 1; COMMIT; END $$;", "SELECT 1"]
        );
    }
}
