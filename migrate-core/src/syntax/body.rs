//! The body of a routine or `DO` block, as a string inside the statement:
//! its value, where each of its bytes sits, and the routine's language.

use crate::lexer::{Token, TokenKind};

/// A routine's body: the string literal after `AS` (or `DO`'s), its value,
/// and where each byte of the value sits in the statement.
pub struct Body {
    /// The literal's byte range in the statement.
    pub literal: (usize, usize),
    /// Where the closing quote starts: the end of the body.
    pub closing: usize,
    pub value: String,
    /// Statement offset of each byte of `value`, and of its end.
    offsets: Vec<usize>,
}

impl Body {
    /// The body of `statement`, a routine or `DO` cut into `tokens`.
    pub fn find(statement: &str, tokens: &[Token]) -> Option<Body> {
        let words: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
        let is = |t: &Token, w: &str| is_word(statement, t, w);
        let is_do = words.first().is_some_and(|t| is(t, "do"));
        let literal = words.iter().enumerate().find_map(|(i, t)| {
            let string = matches!(t.kind, TokenKind::String | TokenKind::DollarString);
            let previous = i.checked_sub(1).map(|p| words[p]);
            let after = |w| previous.is_some_and(|p| is(p, w));
            (string && if is_do { !after("language") } else { after("as") }).then_some(**t)
        })?;
        Body::decode(statement, literal)
    }

    /// The value of a dollar-quoted or plain `'...'` literal.
    fn decode(statement: &str, literal: Token) -> Option<Body> {
        let text = literal.text(statement);
        let (open, close) = if literal.kind == TokenKind::DollarString {
            let tag = &text[..text[1..].find('$')? + 2];
            (tag.len(), tag.len())
        } else if text.starts_with('\'') {
            (1, 1)
        } else {
            return None;
        };
        let start = literal.start + open;
        let closing = literal.end - close;
        let mut value = String::new();
        let mut offsets = Vec::new();
        let raw = &statement[start..closing];
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if literal.kind == TokenKind::String && c == '\'' {
                chars.next();
            }
            value.push(c);
            offsets.extend((0..c.len_utf8()).map(|k| start + i + k));
        }
        offsets.push(closing);
        Some(Body {
            literal: (literal.start, literal.end),
            closing,
            value,
            offsets,
        })
    }

    /// The statement offset of byte `in_value` of the value.
    pub fn offset(&self, in_value: usize) -> usize {
        self.offsets[in_value]
    }
}

/// Whether `token` is the word `word`, in any case.
fn is_word(statement: &str, token: &Token, word: &str) -> bool {
    token.kind == TokenKind::Word && token.text(statement).eq_ignore_ascii_case(word)
}

/// Whether `statement` is `CREATE [OR REPLACE] FUNCTION|PROCEDURE` whose
/// `LANGUAGE` is `language` (a word or a string, in any case).
pub fn is_routine_in(statement: &str, tokens: &[Token], language: &str) -> bool {
    let words: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let is = |i: usize, w: &str| words.get(i).is_some_and(|t| is_word(statement, t, w));
    let routine = is(0, "create")
        && (is(1, "function") || is(1, "procedure") || (is(1, "or") && (is(3, "function") || is(3, "procedure"))));
    routine
        && words.windows(2).any(|pair| {
            let named = pair[1].text(statement).trim_matches('\'');
            is_word(statement, pair[0], "language") && named.eq_ignore_ascii_case(language)
        })
}
