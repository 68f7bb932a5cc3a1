//! Tokenizer that agrees with psql (`psqlscan.l`) on where literals,
//! comments, identifiers and meta-commands begin and end.
//!
//! Assumes `standard_conforming_strings = on` (the server default since
//! PostgreSQL 9.1): a backslash in a plain `'...'` literal is an ordinary
//! character, and only `E'...'` literals treat it as an escape.

/// What a token is, as far as statement boundaries and checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Whitespace,
    /// `-- ...` up to, not including, the end of the line.
    LineComment,
    /// `/* ... */`, nesting.
    BlockComment,
    /// An unquoted identifier or keyword.
    Word,
    /// `"..."` or `U&"..."`.
    QuotedIdent,
    /// `'...'`, `E'...'`, `U&'...'`, `B'...'`, `X'...'`, `N'...'`.
    String,
    /// `$$...$$` or `$tag$...$tag$`.
    DollarString,
    /// `$1`, a positional parameter.
    Param,
    Number,
    Semicolon,
    OpenParen,
    CloseParen,
    /// A backslash outside any literal: the start of a psql meta-command.
    /// The token covers the backslash and the command name.
    Backslash,
    /// Any other character (operators, punctuation).
    Other,
}

/// A token: its kind and its byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// Whitespace and comments: they never start a statement.
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }
}

/// A literal, identifier or comment that the file never closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    UnterminatedString { start: usize, escapes: bool },
    UnterminatedQuotedIdent { start: usize },
    UnterminatedComment { start: usize },
    UnterminatedDollar { start: usize, tag: String },
}

impl LexError {
    /// Byte offset where the unterminated construct opens.
    pub fn start(&self) -> usize {
        match self {
            LexError::UnterminatedString { start, .. }
            | LexError::UnterminatedQuotedIdent { start }
            | LexError::UnterminatedComment { start }
            | LexError::UnterminatedDollar { start, .. } => *start,
        }
    }
}

/// Splits `src` into tokens that cover it completely and in order.
pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut tokens = Vec::with_capacity(src.len() / 4);
    let mut i = 0;
    while i < b.len() {
        let (kind, end) = next_token(b, i)?;
        tokens.push(Token { kind, start: i, end });
        i = end;
    }
    Ok(tokens)
}

fn next_token(b: &[u8], i: usize) -> Result<(TokenKind, usize), LexError> {
    let at = |k: usize| b.get(k).copied();
    let c = b[i];
    Ok(match c {
        _ if is_space(c) => {
            let mut j = i + 1;
            while j < b.len() && is_space(b[j]) {
                j += 1;
            }
            (TokenKind::Whitespace, j)
        }
        b'-' if at(i + 1) == Some(b'-') => (TokenKind::LineComment, line_end(b, i)),
        b'/' if at(i + 1) == Some(b'*') => (TokenKind::BlockComment, block_comment(b, i)?),
        b'\'' => (TokenKind::String, quoted_string(b, i, i + 1, false)?),
        b'"' => (TokenKind::QuotedIdent, quoted_ident(b, i, i + 1)?),
        b'$' => {
            if at(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                (TokenKind::Param, j)
            } else if let Some(delim_end) = dollar_delimiter(b, i) {
                (TokenKind::DollarString, dollar_body(b, i, delim_end)?)
            } else {
                (TokenKind::Other, i + 1)
            }
        }
        b';' => (TokenKind::Semicolon, i + 1),
        b'(' => (TokenKind::OpenParen, i + 1),
        b')' => (TokenKind::CloseParen, i + 1),
        b'\\' => {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            if j == i + 1 && j < b.len() && b[j].is_ascii_graphic() {
                j += 1;
            }
            (TokenKind::Backslash, j)
        }
        b'0'..=b'9' => (TokenKind::Number, number(b, i)),
        b'.' if at(i + 1).is_some_and(|d| d.is_ascii_digit()) => (TokenKind::Number, number(b, i)),
        _ if is_ident_start(c) => {
            let next = at(i + 1);
            let after = at(i + 2);
            match (c.to_ascii_lowercase(), next, after) {
                (b'e', Some(b'\''), _) => (TokenKind::String, quoted_string(b, i, i + 2, true)?),
                (b'b' | b'x' | b'n', Some(b'\''), _) => (TokenKind::String, quoted_string(b, i, i + 2, false)?),
                (b'u', Some(b'&'), Some(b'\'')) => (TokenKind::String, quoted_string(b, i, i + 3, false)?),
                (b'u', Some(b'&'), Some(b'"')) => (TokenKind::QuotedIdent, quoted_ident(b, i, i + 3)?),
                _ => {
                    let mut j = i + 1;
                    while j < b.len() && is_ident_cont(b[j]) {
                        j += 1;
                    }
                    (TokenKind::Word, j)
                }
            }
        }
        _ => (TokenKind::Other, i + 1),
    })
}

/// psql's `space`: `[ \t\n\r\f\v]`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// psql's `ident_start`: letters, `_` and every byte of a non-ASCII character.
fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// psql's `ident_cont`: `ident_start`, digits and `$`.
fn is_ident_cont(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |p| i + p)
}

fn block_comment(b: &[u8], start: usize) -> Result<usize, LexError> {
    let mut depth = 0usize;
    let mut j = start;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return Ok(j);
                }
            }
            _ => j += 1,
        }
    }
    Err(LexError::UnterminatedComment { start })
}

/// Scans a `'...'` literal whose content begins at `content`. `escapes`
/// makes a backslash escape the next byte (`E'...'`). Adjacent literals
/// separated by whitespace that holds a newline continue the same literal,
/// as in the SQL standard and psql.
fn quoted_string(b: &[u8], start: usize, content: usize, escapes: bool) -> Result<usize, LexError> {
    let mut j = content;
    loop {
        match b.get(j) {
            None => return Err(LexError::UnterminatedString { start, escapes }),
            Some(b'\\') if escapes => j += 2,
            Some(b'\'') if b.get(j + 1) == Some(&b'\'') => j += 2,
            Some(b'\'') => match continuation(b, j + 1) {
                Some(quote) => j = quote + 1,
                None => return Ok(j + 1),
            },
            Some(_) => j += 1,
        }
    }
}

/// psql's `quotecontinue`: horizontal whitespace or comments, a newline,
/// any whitespace or comment lines, then a quote. Returns the quote's offset.
fn continuation(b: &[u8], mut k: usize) -> Option<usize> {
    let comment_at = |k: usize| b.get(k) == Some(&b'-') && b.get(k + 1) == Some(&b'-');
    loop {
        match b.get(k) {
            Some(b' ' | b'\t' | 0x0c) => k += 1,
            Some(b'-') if comment_at(k) => k = line_end(b, k),
            _ => break,
        }
    }
    if !matches!(b.get(k), Some(b'\n' | b'\r')) {
        return None;
    }
    loop {
        match b.get(k) {
            Some(&c) if is_space(c) => k += 1,
            Some(b'-') if comment_at(k) => {
                k = line_end(b, k);
                if k == b.len() {
                    return None;
                }
            }
            _ => break,
        }
    }
    (b.get(k) == Some(&b'\'')).then_some(k)
}

fn quoted_ident(b: &[u8], start: usize, content: usize) -> Result<usize, LexError> {
    let mut j = content;
    loop {
        match b.get(j) {
            None => return Err(LexError::UnterminatedQuotedIdent { start }),
            Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
            Some(b'"') => return Ok(j + 1),
            Some(_) => j += 1,
        }
    }
}

/// If a dollar-quote delimiter (`$$` or `$tag$`) starts at `i`, its end.
fn dollar_delimiter(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < b.len() && is_ident_start(b[j]) {
        j += 1;
        while j < b.len() && (is_ident_start(b[j]) || b[j].is_ascii_digit()) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

fn dollar_body(b: &[u8], start: usize, delim_end: usize) -> Result<usize, LexError> {
    let delim = &b[start..delim_end];
    b[delim_end..]
        .windows(delim.len())
        .position(|w| w == delim)
        .map(|p| delim_end + p + delim.len())
        .ok_or_else(|| LexError::UnterminatedDollar {
            start,
            tag: String::from_utf8_lossy(delim).into_owned(),
        })
}

fn number(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') && b.get(j + 1) != Some(&b'.') {
        j = digits(j + 1);
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if b.get(k).is_some_and(|d| d.is_ascii_digit()) {
            j = digits(k);
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind != Whitespace)
            .map(|t| (t.kind, t.text(src)))
            .collect()
    }

    #[test]
    fn doubled_quotes_stay_inside_the_literal() {
        assert_eq!(kinds("'it''s';"), vec![(String, "'it''s'"), (Semicolon, ";")]);
    }

    #[test]
    fn backslash_is_literal_in_standard_strings() {
        assert_eq!(kinds(r"'C:\'"), vec![(String, r"'C:\'")]);
    }

    #[test]
    fn escape_strings_honour_backslash_quote() {
        assert_eq!(kinds(r"E'Avañe\'ẽ' x"), vec![(String, r"E'Avañe\'ẽ'"), (Word, "x")]);
        assert_eq!(kinds(r"e'\''"), vec![(String, r"e'\''")]);
        assert_eq!(kinds(r"E'\\' y"), vec![(String, r"E'\\'"), (Word, "y")]);
    }

    #[test]
    fn prefixed_literals() {
        assert_eq!(
            kinds("U&'d\\0061t' B'01' X'ff' N'x' u&\"i\""),
            vec![
                (String, "U&'d\\0061t'"),
                (String, "B'01'"),
                (String, "X'ff'"),
                (String, "N'x'"),
                (QuotedIdent, "u&\"i\""),
            ]
        );
    }

    #[test]
    fn a_word_ending_in_e_is_not_an_escape_string() {
        assert_eq!(kinds("some'x'"), vec![(Word, "some"), (String, "'x'")]);
    }

    #[test]
    fn literals_continue_across_newlines() {
        assert_eq!(
            kinds("E'a\\'' -- c\n  'b\\'';"),
            vec![(String, "E'a\\'' -- c\n  'b\\''"), (Semicolon, ";")]
        );
        assert_eq!(kinds("'a' 'b'"), vec![(String, "'a'"), (String, "'b'")]);
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        assert_eq!(kinds("$$a;b$$;"), vec![(DollarString, "$$a;b$$"), (Semicolon, ";")]);
        assert_eq!(kinds("$fn$ $$ ; $fn$"), vec![(DollarString, "$fn$ $$ ; $fn$")]);
        assert_eq!(kinds("$a$ $b$ $a$"), vec![(DollarString, "$a$ $b$ $a$")]);
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(kinds("$1;$2"), vec![(Param, "$1"), (Semicolon, ";"), (Param, "$2")]);
    }

    #[test]
    fn dollar_inside_an_identifier_is_part_of_it() {
        assert_eq!(kinds("a$b$ c"), vec![(Word, "a$b$"), (Word, "c")]);
    }

    #[test]
    fn nested_block_comments() {
        assert_eq!(
            kinds("/* a /* b */ ; */ x"),
            vec![(BlockComment, "/* a /* b */ ; */"), (Word, "x")]
        );
    }

    #[test]
    fn line_comments_end_at_the_newline() {
        assert_eq!(kinds("-- a ; b\nc"), vec![(LineComment, "-- a ; b"), (Word, "c")]);
        assert_eq!(kinds("1--x"), vec![(Number, "1"), (LineComment, "--x")]);
    }

    #[test]
    fn quoted_identifiers_double_their_quotes() {
        assert_eq!(kinds("\"a\"\"b;\""), vec![(QuotedIdent, "\"a\"\"b;\"")]);
    }

    #[test]
    fn backslash_names_the_meta_command() {
        assert_eq!(kinds("\\echo hi"), vec![(Backslash, "\\echo"), (Word, "hi")]);
        assert_eq!(kinds("\\! ls"), vec![(Backslash, "\\!"), (Word, "ls")]);
    }

    #[test]
    fn unterminated_constructs_report_where_they_open() {
        assert_eq!(
            tokenize("x 'abc").unwrap_err(),
            LexError::UnterminatedString {
                start: 2,
                escapes: false
            }
        );
        assert_eq!(
            tokenize("E'\\'").unwrap_err(),
            LexError::UnterminatedString {
                start: 0,
                escapes: true
            }
        );
        assert_eq!(
            tokenize("/* /* */").unwrap_err(),
            LexError::UnterminatedComment { start: 0 }
        );
        assert_eq!(
            tokenize("\"x").unwrap_err(),
            LexError::UnterminatedQuotedIdent { start: 0 }
        );
        assert_eq!(
            tokenize("$f$ body $g$").unwrap_err(),
            LexError::UnterminatedDollar {
                start: 0,
                tag: "$f$".into()
            }
        );
    }
}
