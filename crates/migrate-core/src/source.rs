//! Checks one migration file's content and describes what to embed.

use crate::checks::{self, Words};
use crate::checksum::checksum;
use crate::diagnostic::Diagnostic;
use crate::directive::{self, Directive};
use crate::lexer::{LexError, TokenKind};
use crate::position::line_col;
use crate::split::split;

/// A statement of a checked file: its byte range in the text (BOM
/// dropped). `position::line_col` gives its line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementSpan {
    pub start: usize,
    pub end: usize,
}

/// A file that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    /// The file's text with a leading BOM dropped, otherwise byte for byte.
    pub text: String,
    /// Whether the file started with a UTF-8 BOM (3 bytes).
    pub bom: bool,
    pub checksum: [u8; 32],
    pub no_transaction: bool,
    pub statements: Vec<StatementSpan>,
}

const BOM: &str = "\u{feff}";

/// Checks `bytes`, the content of the file shown to the user as `file`.
/// Returns every problem found, not only the first.
pub fn check_source(file: &str, bytes: &[u8]) -> Result<CheckedFile, Vec<Diagnostic>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.valid_up_to();
            let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
            return Err(vec![Diagnostic::error(
                file,
                format!(
                    "the file is not valid UTF-8: byte {:#04x} at byte offset {offset}",
                    bytes[offset]
                ),
            )
            .at(line_col(valid, offset))
            .help("save the file as UTF-8 (for example `iconv -f latin1 -t utf-8 FILE`)")]);
        }
    };
    let bom = text.starts_with(BOM);
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let at = |offset: usize| line_col(text, offset);

    let split = match split(text) {
        Ok(split) => split,
        Err(e) => return Err(vec![unterminated(file, &e, at(e.start()))]),
    };
    let mut errors = Vec::new();
    let first_statement = split.statements.first().map_or(text.len(), |s| s.start);

    let mut no_transaction = false;
    for token in &split.tokens {
        match token.kind {
            TokenKind::Backslash => {
                let command = token.text(text);
                errors.push(
                    Diagnostic::error(
                        file,
                        format!("psql meta-command `{command}` is not SQL; the server cannot run it"),
                    )
                    .at(at(token.start))
                    .help(checks::meta_command_fix(command)),
                );
            }
            TokenKind::LineComment => match directive::parse(token.text(text)) {
                None => {}
                Some(Ok(Directive::NoTransaction)) if token.start < first_statement => no_transaction = true,
                Some(Ok(Directive::NoTransaction)) => errors.push(
                    Diagnostic::error(
                        file,
                        "`-- migrate: no-transaction` must come before the first statement",
                    )
                    .at(at(token.start))
                    .help("move this line to the comments at the top of the file"),
                ),
                Some(Err(unknown)) => errors.push(
                    Diagnostic::error(file, format!("unknown directive `-- migrate: {unknown}`"))
                        .at(at(token.start))
                        .help(directive::suggest(&unknown)),
                ),
            },
            _ => {}
        }
    }

    if split.statements.is_empty() {
        errors.push(
            Diagnostic::error(
                file,
                "the file contains no SQL statement; it would be recorded as applied without doing anything",
            )
            .at((1, 1))
            .help("write the migration's SQL, or `SELECT 1;` to keep the version number as a deliberate placeholder"),
        );
    }

    for statement in &split.statements {
        let words = Words::of(text, &split.tokens, statement);
        let position = at(statement.start);
        if let Some(command) = checks::transaction_control(&words) {
            errors.push(
                Diagnostic::error(file, format!("transaction control `{command}` is not allowed in a migration"))
                    .at(position)
                    .help("remove it: the runner wraps each file in its own transaction (or, with `-- migrate: no-transaction`, runs each statement on its own)"),
            );
        }
        if let Some(command) = checks::copy_stream(&words) {
            errors.push(
                Diagnostic::error(
                    file,
                    format!("`{command}` needs psql's data stream, which a migration does not have"),
                )
                .at(position)
                .help("load the rows with `INSERT ... VALUES`, or `COPY ... FROM '/path/on/the/server'`"),
            );
        }
        if let Some(command) = checks::needs_no_transaction(&words) {
            if !no_transaction {
                errors.push(
                    Diagnostic::error(
                        file,
                        format!("`{command}` cannot run inside a transaction block, and this file runs in one"),
                    )
                    .at(position)
                    .help(
                        "put it in a migration file of its own whose first lines contain `-- migrate: no-transaction`",
                    ),
                );
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let statements = split
        .statements
        .iter()
        .map(|s| StatementSpan {
            start: s.start,
            end: s.end,
        })
        .collect();
    Ok(CheckedFile {
        text: text.to_string(),
        bom,
        checksum: checksum(text),
        no_transaction,
        statements,
    })
}

fn unterminated(file: &str, e: &LexError, position: (u32, u32)) -> Diagnostic {
    let (what, help) = match e {
        LexError::UnterminatedString { escapes: true, .. } => (
            "unterminated string literal `E'...'`".to_string(),
            "close it with `'`; inside `E'...'` a backslash escapes the next character, so write `\\\\` for a backslash".to_string(),
        ),
        LexError::UnterminatedString { .. } => (
            "unterminated string literal".to_string(),
            "close it with `'`; write `''` for a quote inside the literal".to_string(),
        ),
        LexError::UnterminatedQuotedIdent { .. } => (
            "unterminated quoted identifier".to_string(),
            "close it with `\"`; write `\"\"` for a double quote inside it".to_string(),
        ),
        LexError::UnterminatedComment { .. } => (
            "unterminated block comment".to_string(),
            "close it with `*/`; block comments nest, so every `/*` needs its own `*/`".to_string(),
        ),
        LexError::UnterminatedDollar { tag, .. } => (
            format!("unterminated dollar-quoted string opened by `{tag}`"),
            format!("close it with `{tag}`"),
        ),
    };
    Diagnostic::error(file, format!("{what} starts here and runs to the end of the file"))
        .at(position)
        .help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(sql: &str) -> Vec<String> {
        check_source("m/001_x.sql", sql.as_bytes())
            .err()
            .unwrap_or_default()
            .iter()
            .map(|d| format!("{}:{}", d.location(), d.message))
            .collect()
    }

    #[test]
    fn meta_commands_are_errors_at_their_position() {
        let e = errors("SELECT 1;\n  \\echo hello\nSELECT 2;");
        assert_eq!(
            e,
            vec!["m/001_x.sql:2:3:psql meta-command `\\echo` is not SQL; the server cannot run it"]
        );
    }

    #[test]
    fn backslashes_inside_literals_are_fine() {
        assert!(errors("SELECT 'C:\\dir', E'\\n', $$ \\echo $$; -- \\set\n/* \\i x */").is_empty());
    }

    #[test]
    fn transaction_control_is_an_error_per_statement() {
        let e = errors("BEGIN;\nCREATE TABLE IF NOT EXISTS t ();\nCOMMIT;");
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("m/001_x.sql:1:1:transaction control `BEGIN`"));
        assert!(e[1].starts_with("m/001_x.sql:3:1:transaction control `COMMIT`"));
    }

    #[test]
    fn commit_inside_bodies_is_not_transaction_control() {
        assert!(errors(
            "DO $$ BEGIN COMMIT; END $$;\nCREATE PROCEDURE p() LANGUAGE plpgsql AS $b$ BEGIN COMMIT; END $b$;"
        )
        .is_empty());
        assert!(errors("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;").is_empty());
    }

    #[test]
    fn no_transaction_statements_need_the_directive() {
        let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);";
        assert!(errors(sql)[0].contains("cannot run inside a transaction block"));
        let ok = check_source("f", format!("-- migrate: no-transaction\n{sql}").as_bytes()).unwrap();
        assert!(ok.no_transaction);
        let late = errors(&format!("{sql}\n-- migrate: no-transaction\n"));
        assert!(
            late.iter().any(|e| e.contains("must come before the first statement")),
            "{late:?}"
        );
    }

    #[test]
    fn unknown_directives_are_errors() {
        let e = errors("-- migrate: no-transactions\nSELECT 1;");
        assert_eq!(
            e,
            vec!["m/001_x.sql:1:1:unknown directive `-- migrate: no-transactions`"]
        );
    }

    #[test]
    fn empty_files_are_errors() {
        assert!(errors("-- nothing yet\n")[0].contains("no SQL statement"));
        assert!(errors("SELECT 1;").is_empty());
    }

    #[test]
    fn invalid_utf8_names_the_byte_offset() {
        let e = check_source("f", b"SELECT 1;\nSELECT '\xe9';").unwrap_err();
        assert_eq!(e[0].message, "the file is not valid UTF-8: byte 0xe9 at byte offset 18");
        assert_eq!(e[0].position, Some((2, 9)));
    }

    #[test]
    fn unterminated_literals_point_at_their_start() {
        let e = errors("SELECT 1;\nSELECT $body$ x;");
        assert_eq!(e, vec!["m/001_x.sql:2:8:unterminated dollar-quoted string opened by `$body$` starts here and runs to the end of the file"]);
    }

    #[test]
    fn bom_is_dropped_and_crlf_kept() {
        let file = check_source("f", "\u{feff}SELECT 1;\r\nSELECT 2;\r\n".as_bytes()).unwrap();
        assert!(file.bom);
        assert_eq!(file.text, "SELECT 1;\r\nSELECT 2;\r\n");
        assert_eq!(file.checksum, checksum("SELECT 1;\nSELECT 2;\n"));
        assert_eq!(line_col(&file.text, file.statements[1].start), (2, 1));
    }
}
