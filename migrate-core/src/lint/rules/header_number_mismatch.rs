//! `header-number-mismatch`: a `-- Migration NNN:` header whose number is
//! not the file's version (a header copied from another file).

use crate::lexer::{Token, TokenKind};
use crate::lint::{Finding, Lint};

/// The mismatching header among the comments before byte `before`.
pub fn header(src: &str, tokens: &[Token], before: usize, version: u64) -> Option<Finding> {
    tokens
        .iter()
        .take_while(|t| t.start < before)
        .filter(|t| t.kind == TokenKind::LineComment)
        .find_map(|t| {
            let body = t.text(src).trim_start_matches('-').trim_start();
            let rest = body
                .get(..9)
                .filter(|p| p.eq_ignore_ascii_case("migration"))
                .map(|_| body[9..].trim_start())?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let number: u64 = digits.parse().ok()?;
            (number != version).then(|| Finding {
                lint: Lint::HeaderNumberMismatch,
                offset: t.start,
                message: format!("the header says `Migration {digits}`, but the file's version is {version}"),
                help: format!("write `-- Migration {version:03}:` (was the header copied from another migration?)"),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split;

    #[test]
    fn header_numbers_must_match() {
        let sql = "-- ====\n-- Migration 004: copy\nSELECT 1;";
        let s = split(sql).unwrap();
        assert_eq!(
            header(sql, &s.tokens, s.statements[0].start, 3).map(|f| f.lint),
            Some(Lint::HeaderNumberMismatch)
        );
        assert_eq!(header(sql, &s.tokens, s.statements[0].start, 4), None);
    }
}
