//! Where a PL/pgSQL body fails. libpg_query reports such errors without a
//! position (the server maps the body's internal position back into the
//! statement, which the library does not), so the position is found by
//! compiling prefixes of the body: the error lies in the shortest prefix
//! that fails with the same message whatever follows it.

use super::ffi;
use crate::lexer::{tokenize, Token, TokenKind};
use std::ffi::CString;

/// The byte offset in `statement` (a `CREATE FUNCTION`, `CREATE PROCEDURE`
/// or `DO`) where its body fails with `message`: the token at which the
/// parser stops, or the end of the body when the body ends too soon (the
/// scanner's "unexpected end of function definition").
pub fn locate(statement: &str, message: &str) -> usize {
    let Ok(tokens) = tokenize(statement) else { return 0 };
    let Some(body) = Body::find(statement, &tokens) else {
        return 0;
    };
    if message.starts_with("unexpected end of function definition") {
        return body.closing;
    }
    let Ok(inner) = tokenize(&body.value) else {
        return body.literal.0;
    };
    let ends: Vec<(usize, usize)> = inner
        .iter()
        .filter(|t| !t.is_trivia())
        .map(|t| (t.start, t.end))
        .collect();
    // Two different endings: a prefix that holds the error fails the same
    // way after both; one that only ends too soon fails at the ending.
    let fails_within = |len: usize| {
        [" ;", " )"]
            .iter()
            .all(|ending| body.compile(statement, &format!("{}{ending}", &body.value[..len])) == message)
    };
    let first = ends.partition_point(|&(_, end)| !fails_within(end));
    if first == ends.len() {
        return body.closing;
    }
    // The scanner reads a token ahead: an error about the word before it
    // (`"m" is not a known variable`, found at `m :=`) is at that word.
    let named = quoted(message);
    let at = (first.saturating_sub(LOOKAHEAD)..=first)
        .rev()
        .find(|&i| named.is_some_and(|n| body.value[ends[i].0..ends[i].1].eq_ignore_ascii_case(n)))
        .unwrap_or(first);
    body.offset(ends[at].0)
}

/// How many tokens PL/pgSQL's scanner reads past the one it reports.
const LOOKAHEAD: usize = 2;

/// The first `"..."` a message quotes: the token or name it is about.
fn quoted(message: &str) -> Option<&str> {
    let rest = &message[message.find('"')? + 1..];
    rest.get(..rest.find('"')?)
}

/// A routine's body: the string literal after `AS` (or `DO`'s), its value,
/// and where each byte of the value sits in the statement.
struct Body {
    /// The literal's byte range in the statement.
    literal: (usize, usize),
    /// Where the closing quote starts: the end of the body.
    closing: usize,
    value: String,
    /// Statement offset of each byte of `value`, and of its end.
    offsets: Vec<usize>,
}

impl Body {
    fn find(statement: &str, tokens: &[Token]) -> Option<Body> {
        let words: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
        let is = |t: &Token, w: &str| t.kind == TokenKind::Word && t.text(statement).eq_ignore_ascii_case(w);
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

    fn offset(&self, in_value: usize) -> usize {
        self.offsets[in_value]
    }

    /// The message compiling `statement` with its body replaced by `body`
    /// raises; empty when it compiles.
    fn compile(&self, statement: &str, body: &str) -> String {
        let mut tag = String::from("$migrate_syntax$");
        while body.contains(&tag) {
            tag.insert(1, '_');
        }
        let sql = format!(
            "{}{tag}{body}{tag}{}",
            &statement[..self.literal.0],
            &statement[self.literal.1..]
        );
        let Ok(sql) = CString::new(sql) else {
            return String::new();
        };
        ffi::parse_plpgsql(&sql).err().map(|e| e.message).unwrap_or_default()
    }
}
