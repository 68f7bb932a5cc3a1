//! Checks one migration file's content and describes what to embed.

use crate::checks;
use crate::checksum::checksum;
use crate::diagnostic::{Diagnostic, Severity};
use crate::directive::{self, Directive, Problem};
use crate::files::{CheckedFile, FileKind, FileTimeouts, StatementSpan};
use crate::lexer::{LexError, TokenKind};
use crate::lint::{self, Lint};
use crate::position::line_col;
use crate::split::split;
use crate::statement::{StatementKind, Words};

const BOM: &str = "\u{feff}";
/// The name `allow` takes to skip the syntax check for a file.
const SYNTAX: &str = "syntax";

/// Checks `bytes`, the content of the versioned file shown to the user as
/// `file` whose version (when known) is `version`. Returns every problem
/// found, not only the first.
pub fn check_source(file: &str, version: Option<u64>, bytes: &[u8]) -> Result<CheckedFile, Vec<Diagnostic>> {
    check_as(file, version, bytes, FileKind::Versioned)
}

/// [`check_source`] for a file of any kind, with the lints of that kind.
pub fn check_as(
    file: &str,
    version: Option<u64>,
    bytes: &[u8],
    kind: FileKind,
) -> Result<CheckedFile, Vec<Diagnostic>> {
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
    let mut timeouts_seen = std::collections::HashSet::new();
    let mut timeouts = FileTimeouts::default();
    let mut irreversible = false;
    let mut allow_syntax = false;
    let mut squashes = None;
    let mut replaces = Vec::new();
    // Allowed lints: for the whole file, or per statement index.
    let mut allowed_file: Vec<Lint> = Vec::new();
    let mut allowed: Vec<Vec<Lint>> = vec![Vec::new(); split.statements.len()];
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
                Some(Ok(Directive::Irreversible)) if token.start < first_statement => irreversible = true,
                Some(Ok(Directive::Squashes { from, through })) if token.start < first_statement => {
                    squashes = Some((from, through))
                }
                Some(Ok(Directive::Replaces(file))) if token.start < first_statement => replaces.push(file),
                Some(Ok(
                    Directive::NoTransaction
                    | Directive::Irreversible
                    | Directive::Squashes { .. }
                    | Directive::Replaces(_),
                )) => errors.push(
                    Diagnostic::error(
                        file,
                        format!("`{}` must come before the first statement", token.text(text).trim()),
                    )
                    .at(at(token.start))
                    .help("move this line to the comments at the top of the file"),
                ),
                Some(Ok(Directive::Allow(names))) => {
                    let mut lints = Vec::new();
                    for name in names {
                        if name == SYNTAX {
                            if token.start < first_statement {
                                allow_syntax = true;
                            } else {
                                errors.push(
                                    Diagnostic::error(
                                        file,
                                        "`allow(syntax)` applies to a whole file, not to one statement",
                                    )
                                    .at(at(token.start))
                                    .help("move it to the comments at the top of the file"),
                                );
                            }
                            continue;
                        }
                        match Lint::from_name(&name) {
                            Some(l) => lints.push(l),
                            None => errors.push(
                                Diagnostic::error(file, format!("`allow({name})` names no lint"))
                                    .at(at(token.start))
                                    .help(format!(
                                        "the lints are {}; `allow({SYNTAX})` skips the syntax check",
                                        Lint::ALL.map(|l| format!("`{}`", l.name())).join(", ")
                                    )),
                            ),
                        }
                    }
                    match allow_scope(text, &split.statements, token.start) {
                        AllowScope::File => allowed_file.extend(lints),
                        AllowScope::Statement(i) => allowed[i].extend(lints),
                        AllowScope::Nothing => errors.push(
                            Diagnostic::error(file, "this `allow` follows the last statement, so it applies to nothing")
                                .at(at(token.start))
                                .help("put it in the comments at the top of the file, or on the line of the statement it is for"),
                        ),
                    }
                }
                Some(Ok(directive @ (Directive::LockTimeout(_) | Directive::StatementTimeout(_))))
                    if token.start < first_statement =>
                {
                    match directive {
                        Directive::LockTimeout(t) => timeouts.lock = Some(t),
                        Directive::StatementTimeout(t) => timeouts.statement = Some(t),
                        _ => {}
                    }
                    let name = token.text(text).split_whitespace().nth(2).unwrap_or_default();
                    if !timeouts_seen.insert(name.to_string()) {
                        errors.push(
                            Diagnostic::error(file, format!("`-- migrate: {name}` is set twice"))
                                .at(at(token.start))
                                .help("keep one of the two lines"),
                        );
                    }
                }
                Some(Ok(Directive::LockTimeout(_) | Directive::StatementTimeout(_))) => errors.push(
                    Diagnostic::error(file, "a timeout directive must come before the first statement")
                        .at(at(token.start))
                        .help("move this line to the comments at the top of the file; it applies to the whole file"),
                ),
                Some(Err(Problem::BadDuration { directive, message })) => errors.push(
                    Diagnostic::error(file, format!("bad duration in `-- migrate: {directive}`: {message}"))
                        .at(at(token.start))
                        .help(directive::DURATION_HELP),
                ),
                Some(Err(Problem::Unknown(unknown))) => errors.push(
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

    let mut kinds = Vec::with_capacity(split.statements.len());
    for statement in &split.statements {
        let words = Words::of(text, &split.tokens, statement);
        kinds.push(StatementKind::of(&words));
        // Computed only for an error: counting lines per statement is
        // quadratic in a large file (a squashed history).
        let position = || at(statement.start);
        if let Some(command) = checks::transaction_control(&words) {
            errors.push(
                Diagnostic::error(file, format!("transaction control `{command}` is not allowed in a migration"))
                    .at(position())
                    .help("remove it: the runner wraps each file in its own transaction (or, with `-- migrate: no-transaction`, runs each statement on its own)"),
            );
        }
        if let Some(command) = checks::copy_stream(&words) {
            errors.push(
                Diagnostic::error(
                    file,
                    format!("`{command}` needs psql's data stream, which a migration does not have"),
                )
                .at(position())
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
                    .at(position())
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
    let mut findings: Vec<(Option<usize>, lint::Finding)> = Vec::new();
    if let Some(version) = version {
        findings.extend(lint::header(text, &split.tokens, first_statement, version).map(|f| (None, f)));
    }
    let mut state = lint::FileState::default();
    for (i, statement) in split.statements.iter().enumerate() {
        findings.extend(
            lint::statement(text, &split.tokens, statement, kind, &mut state)
                .into_iter()
                .map(|f| (Some(i), f)),
        );
    }
    let warnings = findings
        .into_iter()
        .filter(|(i, f)| !allowed_file.contains(&f.lint) && !i.is_some_and(|i| allowed[i].contains(&f.lint)))
        .map(|(_, f)| Diagnostic {
            severity: Severity::Warning,
            file: file.to_string(),
            position: Some(at(f.offset)),
            message: format!("{} [{}]", f.message, f.lint.name()),
            help: Some(format!(
                "{}; to keep it, add `-- migrate: allow({})`",
                f.help,
                f.lint.name()
            )),
        })
        .collect();
    let statements = split
        .statements
        .iter()
        .zip(kinds)
        .map(|(s, kind)| StatementSpan {
            start: s.start,
            end: s.end,
            kind,
        })
        .collect();
    Ok(CheckedFile {
        text: text.to_string(),
        bom,
        checksum: checksum(text),
        no_transaction,
        irreversible,
        allow_syntax,
        squashes,
        replaces,
        timeouts,
        statements,
        warnings,
    })
}

enum AllowScope {
    File,
    Statement(usize),
    Nothing,
}

/// What an `allow` comment at `offset` covers: the file when it is among
/// the leading comments; otherwise the statement it sits in, the statement
/// whose line it ends (`DROP TABLE t; -- migrate: allow(...)`), or the
/// statement that follows it.
fn allow_scope(text: &str, statements: &[crate::split::Statement], offset: usize) -> AllowScope {
    if statements.first().is_none_or(|s| offset < s.start) {
        return AllowScope::File;
    }
    if let Some(i) = statements.iter().position(|s| s.start <= offset && offset < s.end) {
        return AllowScope::Statement(i);
    }
    let previous = statements.iter().rposition(|s| s.end <= offset);
    if let Some(i) = previous {
        if !text[statements[i].end..offset].contains('\n') {
            return AllowScope::Statement(i);
        }
    }
    match statements.iter().position(|s| s.start > offset) {
        Some(i) => AllowScope::Statement(i),
        None => AllowScope::Nothing,
    }
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

    fn warnings(sql: &str) -> Vec<String> {
        check_source("m/001_x.sql", Some(1), sql.as_bytes())
            .unwrap()
            .warnings
            .iter()
            .map(|d| format!("{}:{}", d.location(), d.message))
            .collect()
    }

    #[test]
    fn lints_are_warnings_with_positions() {
        assert_eq!(
            warnings("SELECT 1;\n  DROP TABLE IF EXISTS old;"),
            vec!["m/001_x.sql:2:3:`DROP TABLE` destroys the table and its data; the release still running during a deploy may need it [destructive-change]"]
        );
    }

    #[test]
    fn allow_covers_the_file_or_one_statement() {
        let drop = "DROP TABLE IF EXISTS a;";
        assert!(warnings(&format!("-- migrate: allow(destructive-change)\n{drop}\n{drop}")).is_empty());
        assert_eq!(
            warnings(&format!(
                "SELECT 1;\n{drop} -- migrate: allow(destructive-change)\n{drop}"
            ))
            .len(),
            1
        );
        assert_eq!(
            warnings(&format!(
                "SELECT 1;\n-- migrate: allow(destructive-change)\n{drop}\n{drop}"
            ))
            .len(),
            1
        );
        assert_eq!(
            warnings(&format!("SELECT 1;\n-- migrate: allow(missing-if-exists)\n{drop}")).len(),
            1
        );
    }

    #[test]
    fn allow_syntax_covers_a_whole_file_only() {
        let checked = |sql: &str| check_source("m/001_x.sql", Some(1), sql.as_bytes());
        assert!(checked("-- migrate: allow(syntax)\nSELECT 1;").unwrap().allow_syntax);
        assert!(!checked("SELECT 1;").unwrap().allow_syntax);
        let errors = checked("SELECT 1;\nSELECT 2; -- migrate: allow(syntax)").unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "m/001_x.sql:2:11: `allow(syntax)` applies to a whole file, not to one statement\n  \
             help: move it to the comments at the top of the file"
        );
    }

    #[test]
    fn every_lint_can_be_allowed_for_the_file_or_its_statement() {
        let triggers = [
            ("missing-if-not-exists", "CREATE TABLE t (id int);"),
            ("missing-if-exists", "DROP INDEX i;"),
            ("destructive-change", "TRUNCATE t;"),
            (
                "foreign-key-without-on-delete",
                "CREATE TABLE IF NOT EXISTS c (p int REFERENCES p(id));",
            ),
            ("blocking-index", "CREATE INDEX IF NOT EXISTS i ON existing (a);"),
            ("changing-column-type", "ALTER TABLE t ALTER COLUMN a TYPE bigint;"),
            ("setting-not-null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL;"),
            (
                "adding-required-column",
                "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL;",
            ),
            (
                "adding-volatile-default",
                "ALTER TABLE t ADD COLUMN IF NOT EXISTS a float DEFAULT random();",
            ),
            (
                "constraint-without-not-valid",
                "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
            ),
            (
                "constraint-without-index",
                "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u, ADD UNIQUE (a);",
            ),
            ("renaming", "ALTER TABLE t RENAME COLUMN a TO b;"),
            ("blocking-maintenance", "REINDEX TABLE t;"),
            ("explicit-lock", "LOCK TABLE t;"),
        ];
        assert_eq!(
            triggers.len() + 2,
            Lint::ALL.len(),
            "every lint but the header and `non-idempotent` (repeatable files only, tested there) has a trigger"
        );
        for (lint, sql) in triggers {
            let fired = warnings(&format!("SELECT 1;\n{sql}"));
            assert_eq!(fired.len(), 1, "{lint}: {fired:?}");
            assert!(fired[0].ends_with(&format!("[{lint}]")), "{fired:?}");
            assert!(
                warnings(&format!("-- migrate: allow({lint})\nSELECT 1;\n{sql}")).is_empty(),
                "{lint}"
            );
            assert!(
                warnings(&format!("SELECT 1;\n{sql} -- migrate: allow({lint})")).is_empty(),
                "{lint}"
            );
        }
        let header = "-- Migration 002: copied\nSELECT 1;";
        assert!(warnings(header)[0].ends_with("[header-number-mismatch]"));
        assert!(warnings(&format!("-- migrate: allow(header-number-mismatch)\n{header}")).is_empty());
    }

    #[test]
    fn an_allow_must_name_a_lint_and_apply_to_something() {
        let e = errors("-- migrate: allow(destructive-changes)\nSELECT 1;");
        assert_eq!(e, vec!["m/001_x.sql:1:1:`allow(destructive-changes)` names no lint"]);
        let e = errors("SELECT 1;\n\n-- migrate: allow(destructive-change)\n");
        assert!(e[0].contains("applies to nothing"), "{e:?}");
    }

    fn errors(sql: &str) -> Vec<String> {
        check_source("m/001_x.sql", Some(1), sql.as_bytes())
            .err()
            .unwrap_or_default()
            .iter()
            .map(|d| format!("{}:{}", d.location(), d.message))
            .collect()
    }

    #[test]
    fn every_problem_is_reported_including_the_statement_after_a_meta_command() {
        let e = errors("\\echo starting\nBEGIN;\nSELECT 1;");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("m/001_x.sql:1:1:psql meta-command `\\echo`"), "{e:?}");
        assert!(e[1].starts_with("m/001_x.sql:2:1:transaction control `BEGIN`"), "{e:?}");
    }

    #[test]
    fn each_warning_names_its_allow_once() {
        let sql = "DROP TABLE IF EXISTS a;\nTRUNCATE b;\nDROP INDEX c;\nCREATE TABLE d (id int);";
        let file = check_source("m/001_x.sql", Some(1), sql.as_bytes()).unwrap();
        assert!(!file.warnings.is_empty());
        for w in &file.warnings {
            let help = w.help.as_deref().unwrap_or_default();
            assert_eq!(help.matches("-- migrate: allow(").count(), 1, "{help}");
        }
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
        let ok = check_source("f", None, format!("-- migrate: no-transaction\n{sql}").as_bytes()).unwrap();
        assert!(ok.no_transaction);
        let late = errors(&format!("{sql}\n-- migrate: no-transaction\n"));
        assert!(
            late.iter().any(|e| e.contains("must come before the first statement")),
            "{late:?}"
        );
    }

    #[test]
    fn each_statement_carries_its_kind() {
        let sql = "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nCALL p();\nVACUUM;";
        let file = check_source("f", None, sql.as_bytes()).unwrap();
        let kinds: Vec<StatementKind> = file.statements.into_iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                StatementKind::CreateIndexConcurrently {
                    index: Some("i".into()),
                    table: Some("t".into())
                },
                StatementKind::Procedural,
                StatementKind::Atomic
            ]
        );
    }

    #[test]
    fn timeouts_come_from_the_leading_comments() {
        let sql = "-- Migration 004\n-- migrate: lock-timeout 5s\n-- migrate: statement-timeout off\nSELECT 1;\n";
        let file = check_source("m/004_x.sql", Some(4), sql.as_bytes()).unwrap();
        let five = Some(crate::directive::Timeout::After(std::time::Duration::from_secs(5)));
        assert_eq!(
            file.timeouts,
            FileTimeouts {
                lock: five,
                statement: Some(crate::directive::Timeout::Off)
            }
        );
        let plain = check_source("m/005_y.sql", Some(5), b"SELECT 1;").unwrap();
        assert_eq!(plain.timeouts, FileTimeouts::default());
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
    fn timeout_directives_are_checked() {
        assert!(errors("-- migrate: lock-timeout 5s\n-- migrate: statement-timeout 10min\nSELECT 1;").is_empty());
        assert_eq!(
            errors("-- a header\n-- migrate: lock-timeout 5 seconds\nSELECT 1;"),
            vec!["m/001_x.sql:2:1:bad duration in `-- migrate: lock-timeout`: `seconds` is not a unit of time"]
        );
        assert!(errors("SELECT 1;\n-- migrate: statement-timeout 1s\nSELECT 2;")[0]
            .contains("must come before the first statement"));
        assert!(errors("-- migrate: lock-timeout 1s\n-- migrate: lock-timeout 2s\nSELECT 1;")[0].contains("set twice"));
    }

    #[test]
    fn empty_files_are_errors() {
        assert!(errors("-- nothing yet\n")[0].contains("no SQL statement"));
        assert!(errors("SELECT 1;").is_empty());
    }

    #[test]
    fn invalid_utf8_names_the_byte_offset() {
        let e = check_source("f", None, b"SELECT 1;\nSELECT '\xe9';").unwrap_err();
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
        let file = check_source("f", None, "\u{feff}SELECT 1;\r\nSELECT 2;\r\n".as_bytes()).unwrap();
        assert!(file.bom);
        assert_eq!(file.text, "SELECT 1;\r\nSELECT 2;\r\n");
        assert_eq!(file.checksum, checksum("SELECT 1;\nSELECT 2;\n"));
        assert_eq!(line_col(&file.text, file.statements[1].start), (2, 1));
    }
}
