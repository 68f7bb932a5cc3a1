//! What a statement is, decided once at build time: its words, and the
//! kind that tells the runner how it may run and retry it.

use crate::lexer::{Token, TokenKind};
use crate::split::Statement;

/// The words of a statement outside parentheses. Keywords compare
/// without regard to case; quoted identifiers keep their quotes, so they
/// never match a keyword.
pub struct Words<'a> {
    pub words: Vec<(&'a str, &'a Token)>,
    src: &'a str,
    /// Every token of the statement, parenthesised ones included.
    tokens: &'a [Token],
}

impl<'a> Words<'a> {
    pub fn of(src: &'a str, tokens: &'a [Token], statement: &Statement) -> Self {
        let tokens = &tokens[statement.tokens.clone()];
        let mut depth = 0usize;
        let mut words = Vec::new();
        for token in tokens {
            match token.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => depth = depth.saturating_sub(1),
                TokenKind::Word | TokenKind::QuotedIdent if depth == 0 => words.push((token.text(src), token)),
                _ => {}
            }
        }
        Words { words, src, tokens }
    }

    /// Whether word `i` is `keyword` (given in uppercase).
    pub fn is(&self, i: usize, keyword: &str) -> bool {
        self.words.get(i).is_some_and(|(w, _)| w.eq_ignore_ascii_case(keyword))
    }

    pub fn starts_with(&self, keywords: &[&str]) -> bool {
        keywords.iter().enumerate().all(|(i, k)| self.is(i, k))
    }

    pub fn contains(&self, keyword: &str) -> bool {
        self.find(keyword).is_some()
    }

    /// Position of `keyword` among the words, if present.
    pub fn find(&self, keyword: &str) -> Option<usize> {
        self.words.iter().position(|(w, _)| w.eq_ignore_ascii_case(keyword))
    }

    /// Whether the parenthesised options after the first word turn
    /// `CONCURRENTLY` on: `REINDEX (VERBOSE, CONCURRENTLY) TABLE t`.
    fn concurrently_option(&self) -> bool {
        let mut rest = self.tokens.iter().filter(|t| !t.is_trivia()).skip(1);
        if rest.next().is_none_or(|t| t.kind != TokenKind::OpenParen) {
            return false;
        }
        let mut option: Vec<&str> = Vec::new();
        for token in rest {
            let text = token.text(self.src);
            if token.kind == TokenKind::CloseParen || text == "," {
                let on = match option[..] {
                    [name] => name.eq_ignore_ascii_case("CONCURRENTLY"),
                    [name, value] => {
                        let value = value.trim_matches('\'');
                        name.eq_ignore_ascii_case("CONCURRENTLY")
                            && !["FALSE", "OFF", "0"].iter().any(|off| value.eq_ignore_ascii_case(off))
                    }
                    _ => false,
                };
                if on {
                    return true;
                }
                if token.kind == TokenKind::CloseParen {
                    return false;
                }
                option.clear();
            } else {
                option.push(text);
            }
        }
        false
    }
}

/// How a statement behaves when it fails, which decides whether the runner
/// may retry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// Runs whole or has no effect.
    Atomic,
    /// `CALL` or `DO`: may commit part of its work before it fails.
    Procedural,
    /// `REINDEX ... CONCURRENTLY`: a failure leaves `_ccnew` indexes behind.
    ReindexConcurrently,
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY`: a failure leaves an INVALID index.
    CreateIndexConcurrently {
        /// The index's name as the catalog stores it, when the statement
        /// names it.
        index: Option<String>,
        /// The table as the statement spells it (`t`, `s."T 1"`), to be
        /// resolved through the search_path.
        table: Option<String>,
    },
}

impl StatementKind {
    /// The kind of the statement whose words are `w`. `REINDEX` is
    /// concurrent when `CONCURRENTLY` is among its first three words, or
    /// among its parenthesised options.
    pub fn of(w: &Words) -> StatementKind {
        if w.is(0, "CALL") || w.is(0, "DO") {
            return StatementKind::Procedural;
        }
        if w.is(0, "REINDEX") && (w.find("CONCURRENTLY").is_some_and(|p| p <= 2) || w.concurrently_option()) {
            return StatementKind::ReindexConcurrently;
        }
        let unique = usize::from(w.is(1, "UNIQUE"));
        if !(w.is(0, "CREATE") && w.is(1 + unique, "INDEX") && w.is(2 + unique, "CONCURRENTLY")) {
            return StatementKind::Atomic;
        }
        let mut name = 3 + unique;
        if w.is(name, "IF") {
            name += 3;
        }
        let end = w.tokens.last().map_or(0, |t| t.end);
        let on = w.find("ON").map(|on| on + usize::from(w.is(on + 1, "ONLY")) + 1);
        let table = on
            .and_then(|t| w.words.get(t))
            .map(|(_, token)| qualified_name(&w.src[token.start..end]));
        let index = match w.words.get(name) {
            Some((word, _)) if !w.is(name, "ON") => Some(unquote(word)),
            _ => None,
        };
        StatementKind::CreateIndexConcurrently { index, table }
    }
}

/// The possibly qualified name `text` starts with (`s . "T 1"` gives
/// `s."T 1"`), spelled as SQL reads it.
fn qualified_name(text: &str) -> String {
    let mut name = String::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let end = match rest.strip_prefix('"') {
            Some(quoted) => {
                let mut end = None;
                let mut chars = quoted.char_indices().peekable();
                while let Some((i, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, n)| n) == Some('"') {
                            chars.next();
                            continue;
                        }
                        end = Some(i + 2);
                        break;
                    }
                }
                end.unwrap_or(rest.len())
            }
            None => rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len()),
        };
        name.push_str(&rest[..end]);
        rest = rest[end..].trim_start();
        match rest.strip_prefix('.') {
            Some(after) => {
                name.push('.');
                rest = after;
            }
            None => return name,
        }
    }
}

/// An identifier as the catalog stores it.
fn unquote(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => word.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split;

    fn kind(sql: &str) -> StatementKind {
        let s = split(sql).unwrap();
        StatementKind::of(&Words::of(sql, &s.tokens, &s.statements[0]))
    }

    #[test]
    fn names_the_index_and_table_of_create_index_concurrently() {
        let both = |index: Option<&str>, table: &str| StatementKind::CreateIndexConcurrently {
            index: index.map(String::from),
            table: Some(table.to_string()),
        };
        assert_eq!(kind("CREATE INDEX CONCURRENTLY i ON t (a);"), both(Some("i"), "t"));
        assert_eq!(
            kind("create unique index concurrently if not exists \"Big\"\"i\" on only s . \"T 1\" using btree (a);"),
            both(Some("Big\"i"), "s.\"T 1\"")
        );
        assert_eq!(kind("CREATE INDEX CONCURRENTLY ON t(a);"), both(None, "t"));
        assert_eq!(
            kind("CREATE INDEX CONCURRENTLY IX ON public.t (a);"),
            both(Some("ix"), "public.t")
        );
        assert_eq!(
            kind("CREATE INDEX CONCURRENTLY i ON t"),
            both(Some("i"), "t"),
            "the last statement, without `;`"
        );
        assert_eq!(kind("VACUUM t;"), StatementKind::Atomic);
        assert_eq!(kind("CREATE INDEX i ON t (a);"), StatementKind::Atomic);
        assert_eq!(kind("CREATE INDEX concurrently_named ON t (a);"), StatementKind::Atomic);
    }

    #[test]
    fn reindex_is_concurrent_within_its_first_three_words_or_options() {
        for sql in [
            "REINDEX INDEX CONCURRENTLY i;",
            "reindex table concurrently t;",
            "REINDEX (VERBOSE) TABLE CONCURRENTLY t;",
            "REINDEX (CONCURRENTLY) TABLE t;",
            "REINDEX (VERBOSE, CONCURRENTLY true) SCHEMA s;",
            "REINDEX DATABASE CONCURRENTLY d;",
        ] {
            assert_eq!(kind(sql), StatementKind::ReindexConcurrently, "{sql}");
        }
        for sql in [
            "REINDEX TABLE t;",
            "REINDEX (CONCURRENTLY false) TABLE t;",
            "REINDEX (VERBOSE) TABLE t;",
            "REINDEX TABLE \"concurrently\";",
            "SELECT 'REINDEX TABLE CONCURRENTLY t';",
        ] {
            assert_eq!(kind(sql), StatementKind::Atomic, "{sql}");
        }
    }

    #[test]
    fn call_and_do_are_procedural() {
        assert_eq!(kind("CALL p();"), StatementKind::Procedural);
        assert_eq!(kind("do $$ BEGIN COMMIT; END $$;"), StatementKind::Procedural);
        assert_eq!(kind("SELECT do_it();"), StatementKind::Atomic);
    }
}
