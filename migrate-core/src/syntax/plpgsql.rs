//! Where a PL/pgSQL body fails. libpg_query reports such errors without a
//! position (the server maps the body's internal position back into the
//! statement, which the library does not), so the position is found by
//! compiling prefixes of the body: the error lies in the shortest prefix
//! that fails with the same message whatever follows it.

use super::body::Body;
use super::ffi;
use crate::lexer::tokenize;
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
            .all(|ending| compile(statement, &body, &format!("{}{ending}", &body.value[..len])) == message)
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

/// The message compiling `statement` with its body (`within`) replaced by
/// `body` raises; empty when it compiles.
fn compile(statement: &str, within: &Body, body: &str) -> String {
    let mut tag = String::from("$migrate_syntax$");
    while body.contains(&tag) {
        tag.insert(1, '_');
    }
    let sql = format!(
        "{}{tag}{body}{tag}{}",
        &statement[..within.literal.0],
        &statement[within.literal.1..]
    );
    let Ok(sql) = CString::new(sql) else {
        return String::new();
    };
    ffi::parse_plpgsql(&sql).err().map(|e| e.message).unwrap_or_default()
}
