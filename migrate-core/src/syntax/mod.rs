//! PostgreSQL's own grammar over a migration file (feature `syntax-check`):
//! libpg_query, the server's parser (PostgreSQL 18) built as a library,
//! finds the first syntax error with the server's wording and position.

mod body;
mod ffi;
mod plpgsql;

use crate::diagnostic::Diagnostic;
use crate::files::CheckedFile;
use crate::lexer::tokenize;
use crate::position::{char_to_byte, line_col};
use crate::split::split;
use std::ffi::CString;

/// The first syntax error in a file: PostgreSQL's message, and the byte
/// offset where the server would report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
    pub place: Place,
}

/// What holds a syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The statement itself.
    Statement,
    /// The PL/pgSQL body of this function or procedure.
    Routine(String),
    /// The body of a `DO` block.
    DoBlock,
    /// The body of a `LANGUAGE sql` function or procedure.
    SqlBody,
}

/// Parses `text`, a whole file, as the server parses it, then compiles the
/// bodies of its PL/pgSQL functions, procedures and `DO` blocks as the
/// server's validator does.
pub fn check(text: &str) -> Result<(), SyntaxError> {
    let sql = CString::new(text).map_err(|e| SyntaxError {
        offset: e.nul_position(),
        message: "the file contains a NUL byte, which PostgreSQL cannot receive".to_string(),
        place: Place::Statement,
    })?;
    if let Err(e) = ffi::parse(&sql) {
        return Err(SyntaxError {
            offset: offset_of(text, e.cursorpos),
            message: e.message,
            place: Place::Statement,
        });
    }
    let bodies = Bodies::of(text);
    let in_sql_body = if bodies.sql { sql_body_error(text) } else { None };
    let in_plpgsql = if bodies.plpgsql {
        ffi::parse_plpgsql(&sql).err().map(|e| plpgsql_error(text, e))
    } else {
        None
    };
    // The server stops at the first statement that fails.
    match in_sql_body.into_iter().chain(in_plpgsql).min_by_key(|e| e.offset) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The byte offset of the server's error `position` (1-based characters)
/// in `text`. The end of input (one past the last character) is just after
/// the last non-blank character, where psql shows it; the `\n` of a `\r\n`
/// is its `\r`, the end of the line.
pub fn offset_of(text: &str, position: usize) -> usize {
    let offset = char_to_byte(text, position).min(text.trim_end().len());
    if offset > 0 && text[offset..].starts_with('\n') && text[..offset].ends_with('\r') {
        offset - 1
    } else {
        offset
    }
}

/// Which body passes a file may need, from its words alone: `plpgsql` or
/// `do` (PL/pgSQL is `DO`'s default), and `language sql`. One pass over the
/// bytes: the macro runs unoptimised, where this is most of the cost of a
/// file without bodies.
#[derive(Default)]
struct Bodies {
    plpgsql: bool,
    sql: bool,
}

impl Bodies {
    fn of(text: &str) -> Bodies {
        let bytes = text.as_bytes();
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut bodies = Bodies::default();
        let mut after_language = false;
        let mut i = 0;
        while i < bytes.len() {
            if !is_word(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            let word = &bytes[start..i];
            let is = |w: &[u8]| word.len() == w.len() && word.eq_ignore_ascii_case(w);
            bodies.plpgsql |= is(b"do") || is(b"plpgsql");
            bodies.sql |= after_language && is(b"sql");
            after_language = is(b"language");
        }
        bodies
    }
}

/// The first error in the body of a `LANGUAGE sql` routine, which the
/// server parses when it creates the routine.
fn sql_body_error(text: &str) -> Option<SyntaxError> {
    let statements = split(text).ok()?.statements;
    statements.iter().find_map(|statement| {
        let source = statement.text(text);
        let tokens = tokenize(source).ok()?;
        if !body::is_routine_in(source, &tokens, "sql") {
            return None;
        }
        let body = body::Body::find(source, &tokens)?;
        let e = ffi::parse(&CString::new(body.value.as_str()).ok()?).err()?;
        Some(SyntaxError {
            // The end of a body's input is its closing quote.
            offset: statement.start + body.offset(char_to_byte(&body.value, e.cursorpos)),
            message: e.message,
            place: Place::SqlBody,
        })
    })
}

/// Where in `text` the PL/pgSQL body that raised `error` fails: the first
/// statement that fails on its own, at the position [`plpgsql::locate`]
/// finds.
fn plpgsql_error(text: &str, error: ffi::ParserError) -> SyntaxError {
    let statements = split(text).map(|s| s.statements).unwrap_or_default();
    let failing = statements.iter().find_map(|statement| {
        let source = statement.text(text);
        let sql = CString::new(source).ok()?;
        let e = ffi::parse_plpgsql(&sql).err()?;
        Some((statement.start + plpgsql::locate(source, &e.message), e))
    });
    let (offset, error) = failing.unwrap_or((statements.first().map_or(0, |s| s.start), error));
    let place = match routine(&error.context) {
        Some("inline_code_block") => Place::DoBlock,
        Some(name) => Place::Routine(name.to_string()),
        None => Place::Statement,
    };
    SyntaxError {
        offset,
        message: error.message,
        place,
    }
}

/// The syntax error of `checked`, the file shown as `file`, as a
/// diagnostic; `None` when it parses or says `-- migrate: allow(syntax)`.
pub fn diagnostic(file: &str, checked: &CheckedFile) -> Option<Diagnostic> {
    if checked.allow_syntax {
        return None;
    }
    let error = check(&checked.text).err()?;
    let allow = "if your server accepts it (the check uses PostgreSQL 18's grammar), \
                 add `-- migrate: allow(syntax)` to the comments at the top of the file";
    let help = match &error.place {
        Place::Statement => format!("fix the statement, or {allow}"),
        Place::Routine(name) => format!("the error is in the PL/pgSQL body of `{name}`; fix it there, or {allow}"),
        Place::DoBlock => format!("the error is in the body of this `DO` block; fix it there, or {allow}"),
        Place::SqlBody => format!("the error is in the body of this SQL function; fix it there, or {allow}"),
    };
    Some(
        Diagnostic::error(file, error.message)
            .at(line_col(&checked.text, error.offset))
            .help(help),
    )
}

/// The routine a PL/pgSQL error context names: `f` in
/// `compilation of PL/pgSQL function "f" near line 3`.
fn routine(context: &str) -> Option<&str> {
    let rest = &context[context.find("function \"")? + 10..];
    rest.get(..rest.find('"')?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sql: &str) -> ((u32, u32), String) {
        let e = check(sql).unwrap_err();
        (line_col(sql, e.offset), e.message)
    }

    #[test]
    fn valid_files_pass() {
        check("CREATE TABLE t (id int);\nDO $$ BEGIN PERFORM 1; END $$;").unwrap();
        check("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING;").unwrap();
    }

    #[test]
    fn a_missing_semicolon_points_at_the_next_statement() {
        let sql = "CREATE TABLE a (id int)\n  CREATE TABLE b (id int);";
        assert_eq!(at(sql), ((2, 3), "syntax error at or near \"CREATE\"".to_string()));
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(at("SELECT 'é☃' x y;").0, (1, 15));
    }

    #[test]
    fn the_end_of_input_is_after_the_last_character() {
        assert_eq!(at("SELECT (1\n\n").0, (1, 10));
    }

    #[test]
    fn a_single_quoted_body_maps_back_through_its_doubled_quotes() {
        let sql = "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS 'BEGIN RETURN ''a''; END IF; END';";
        let ((line, column), message) = at(sql);
        assert_eq!(message, "syntax error at or near \"IF\"");
        assert_eq!((line, column as usize), (1, sql.find("IF").unwrap() + 1));
    }

    #[test]
    fn a_do_block_with_its_language_first() {
        let sql = "DO LANGUAGE plpgsql $$\nBEGIN\n  RETURN 1 +;\nEND $$;";
        let message = "RETURN cannot have a parameter in function returning void";
        assert_eq!(at(sql), ((3, 10), message.to_string()));
        assert_eq!(at(&sql.replace("RETURN", "PERFORM")).0, (3, 14));
    }

    #[test]
    fn an_error_on_a_crlf_is_at_the_end_of_its_line() {
        // PostgreSQL points this one at the `\n` of the line break.
        let sql = "U&'''\r\n\\' x";
        let e = check(sql).unwrap_err();
        assert_eq!(e.message, "invalid Unicode escape");
        assert_eq!(line_col(sql, e.offset), (1, 6));
    }

    #[test]
    fn sql_bodies_are_parsed_too() {
        let sql = "SELECT 1;\nCREATE FUNCTION s() RETURNS text LANGUAGE 'sql' AS 'SELECT ''a'' FROM WHERE';";
        let e = check(sql).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.place),
            ("syntax error at or near \"WHERE\"", Place::SqlBody)
        );
        assert_eq!(e.offset, sql.find("WHERE").unwrap());
        check("CREATE FUNCTION s(a int) RETURNS int LANGUAGE sql AS $$ SELECT $1 $$;").unwrap();
    }

    #[test]
    fn a_nul_byte_is_an_error_where_it_is() {
        assert_eq!(check("SELECT 1;\0").unwrap_err().offset, 9);
    }

    #[test]
    fn the_routine_comes_from_the_context() {
        assert_eq!(routine("compilation of PL/pgSQL function \"f\" near line 3"), Some("f"));
        assert_eq!(routine("something else"), None);
    }
}
