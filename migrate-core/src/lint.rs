//! The best practices of `db_init.py`'s documentation, as warnings: advice people forget.

use crate::checks::Words;
use crate::lexer::{Token, TokenKind};
use crate::split::Statement;

/// A lint rule, named as in `-- migrate: allow(NAME)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lint {
    MissingIfNotExists,
    MissingIfExists,
    DestructiveChange,
    ForeignKeyWithoutOnDelete,
    HeaderNumberMismatch,
    BlockingIndex,
}

impl Lint {
    pub const ALL: [Lint; 6] = [
        Lint::MissingIfNotExists,
        Lint::MissingIfExists,
        Lint::DestructiveChange,
        Lint::ForeignKeyWithoutOnDelete,
        Lint::HeaderNumberMismatch,
        Lint::BlockingIndex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Lint::MissingIfNotExists => "missing-if-not-exists",
            Lint::MissingIfExists => "missing-if-exists",
            Lint::DestructiveChange => "destructive-change",
            Lint::ForeignKeyWithoutOnDelete => "foreign-key-without-on-delete",
            Lint::HeaderNumberMismatch => "header-number-mismatch",
            Lint::BlockingIndex => "blocking-index",
        }
    }

    pub fn from_name(name: &str) -> Option<Lint> {
        Lint::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// One finding: which rule, at which byte offset, what and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub lint: Lint,
    pub offset: usize,
    pub message: String,
    pub help: String,
}

/// What the lints remember across a file's statements.
#[derive(Debug, Default)]
pub struct FileState {
    /// Tables created earlier in this file (lowercase, unqualified): new,
    /// hence empty, so indexing them blocks nobody.
    created_tables: Vec<String>,
}

/// Lints one statement.
pub fn statement(src: &str, tokens: &[Token], stmt: &Statement, state: &mut FileState) -> Vec<Finding> {
    let w = Words::of(src, tokens, stmt);
    let mut found = Vec::new();
    let at = |i: usize| w.words.get(i).map_or(stmt.start, |(_, t)| t.start);
    let if_not_exists = |i: usize| w.is(i, "IF") && w.is(i + 1, "NOT") && w.is(i + 2, "EXISTS");
    let if_exists = |i: usize| w.is(i, "IF") && w.is(i + 1, "EXISTS");

    if w.is(0, "CREATE") {
        create(&w, src, tokens, stmt, state, &mut found, &at, &if_not_exists);
    } else if w.is(0, "DROP") && !w.is(1, "OWNED") {
        let mut k = 2;
        if w.is(1, "MATERIALIZED") || w.is(1, "FOREIGN") || w.is(1, "ACCESS") || w.is(1, "EVENT") || w.is(1, "TEXT") {
            k += 1;
        }
        if w.is(k - 1, "INDEX") && w.is(k, "CONCURRENTLY") {
            k += 1;
        }
        let kind = w.words[1..k]
            .iter()
            .map(|(s, _)| s.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ");
        if !if_exists(k) {
            found.push(Finding {
                lint: Lint::MissingIfExists,
                offset: at(0),
                message: format!("`DROP {kind}` without `IF EXISTS`: the migration fails if it runs again"),
                help: format!("write `DROP {kind} IF EXISTS ...` so the migration is idempotent"),
            });
        }
        if w.is(1, "TABLE") {
            found.push(destructive(at(0), "`DROP TABLE` destroys the table and its data"));
        }
    } else if w.is(0, "TRUNCATE") {
        found.push(destructive(at(0), "`TRUNCATE` deletes every row"));
    } else if w.starts_with(&["ALTER", "TABLE"]) {
        alter_table(src, tokens, stmt, &mut found);
    }
    if (w.is(0, "CREATE") && w.contains("TABLE")) || w.starts_with(&["ALTER", "TABLE"]) {
        foreign_keys(src, tokens, stmt, &mut found);
    }
    found
}

#[allow(clippy::too_many_arguments)]
fn create(
    w: &Words,
    src: &str,
    tokens: &[Token],
    stmt: &Statement,
    state: &mut FileState,
    found: &mut Vec<Finding>,
    at: &dyn Fn(usize) -> usize,
    if_not_exists: &dyn Fn(usize) -> bool,
) {
    if w.starts_with(&["CREATE", "OR", "REPLACE"]) {
        return;
    }
    let mut k = 1;
    while [
        "UNIQUE",
        "TEMP",
        "TEMPORARY",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
        "MATERIALIZED",
        "RECURSIVE",
        "CONSTRAINT",
    ]
    .iter()
    .any(|m| w.is(k, m))
    {
        k += 1;
    }
    let kind = w.words.get(k).map_or(String::new(), |(s, _)| s.to_ascii_uppercase());
    let materialized = (1..k).any(|i| w.is(i, "MATERIALIZED"));
    match kind.as_str() {
        "TABLE" | "SEQUENCE" | "SCHEMA" | "EXTENSION" | "INDEX" => {
            let mut name_at = k + 1;
            let concurrently = kind == "INDEX" && w.is(name_at, "CONCURRENTLY");
            if concurrently {
                name_at += 1;
            }
            let guarded = if_not_exists(name_at);
            if guarded {
                name_at += 3;
            }
            let shown = if materialized {
                "MATERIALIZED VIEW".to_string()
            } else {
                kind.clone()
            };
            if !guarded {
                let unnamed = kind == "INDEX" && w.is(name_at, "ON");
                found.push(Finding {
                    lint: Lint::MissingIfNotExists,
                    offset: at(0),
                    message: if unnamed {
                        "`CREATE INDEX` without a name: every run adds another copy of the index".to_string()
                    } else {
                        format!("`CREATE {shown}` without `IF NOT EXISTS`: the migration fails if it runs again")
                    },
                    help: if unnamed {
                        "name the index and write `CREATE INDEX IF NOT EXISTS name ON ...`".to_string()
                    } else {
                        format!("write `CREATE {shown} IF NOT EXISTS ...` so the migration is idempotent")
                    },
                });
            }
            if kind == "TABLE" {
                if let Some((_, token)) = w.words.get(name_at) {
                    state.created_tables.push(qualified_tail(src, tokens, stmt, token));
                }
            }
            if kind == "INDEX" && !concurrently {
                if let Some(on) = w.find("ON") {
                    let table_at = if w.is(on + 1, "ONLY") { on + 2 } else { on + 1 };
                    if let Some((_, token)) = w.words.get(table_at) {
                        let table = qualified_tail(src, tokens, stmt, token);
                        if !state.created_tables.contains(&table) {
                            found.push(Finding {
                                lint: Lint::BlockingIndex,
                                offset: at(0),
                                message: format!(
                                    "`CREATE INDEX` on `{table}`, a table this file did not create, blocks writes to it until the index is built"
                                ),
                                help: "build it with `CREATE INDEX CONCURRENTLY` in a file of its own that starts with `-- migrate: no-transaction`".to_string(),
                            });
                        }
                    }
                }
            }
        }
        "VIEW" if materialized && !if_not_exists(k + 1) => found.push(Finding {
            lint: Lint::MissingIfNotExists,
            offset: at(0),
            message: "`CREATE MATERIALIZED VIEW` without `IF NOT EXISTS`: the migration fails if it runs again"
                .to_string(),
            help: "write `CREATE MATERIALIZED VIEW IF NOT EXISTS ...`".to_string(),
        }),
        "VIEW" if materialized => {}
        "VIEW" | "FUNCTION" | "PROCEDURE" | "TRIGGER" | "RULE" => found.push(Finding {
            lint: Lint::MissingIfNotExists,
            offset: at(0),
            message: format!("`CREATE {kind}` without `OR REPLACE`: the migration fails if it runs again"),
            help: format!("write `CREATE OR REPLACE {kind} ...`"),
        }),
        _ => {}
    }
}

fn destructive(offset: usize, what: &str) -> Finding {
    Finding {
        lint: Lint::DestructiveChange,
        offset,
        message: format!("{what}; the release still running during a deploy may need it"),
        help: "remove data only in a release after the code that uses it is gone everywhere".to_string(),
    }
}

/// The lowercase last part of a possibly qualified name starting at `first`.
fn qualified_tail(src: &str, tokens: &[Token], stmt: &Statement, first: &Token) -> String {
    let mut last = first;
    let range = &tokens[stmt.tokens.clone()];
    let mut i = range.iter().position(|t| std::ptr::eq(t, first)).unwrap_or(range.len());
    while i + 2 < range.len()
        && range[i + 1].text(src) == "."
        && matches!(range[i + 2].kind, TokenKind::Word | TokenKind::QuotedIdent)
    {
        last = &range[i + 2];
        i += 2;
    }
    let text = last.text(src);
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => text.to_ascii_lowercase(),
    }
}

/// The depth-0 clauses of a statement, split at commas, as word tokens.
fn clauses<'a>(src: &str, tokens: &'a [Token], stmt: &Statement) -> Vec<Vec<&'a Token>> {
    let mut out = vec![Vec::new()];
    let mut depth = 0usize;
    for t in &tokens[stmt.tokens.clone()] {
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth = depth.saturating_sub(1),
            TokenKind::Other if depth == 0 && t.text(src) == "," => out.push(Vec::new()),
            TokenKind::Word | TokenKind::QuotedIdent if depth == 0 => out.last_mut().expect("one clause").push(t),
            _ => {}
        }
    }
    out
}

fn alter_table(src: &str, tokens: &[Token], stmt: &Statement, found: &mut Vec<Finding>) {
    let is = |t: &Token, k: &str| t.kind == TokenKind::Word && t.text(src).eq_ignore_ascii_case(k);
    for (n, clause) in clauses(src, tokens, stmt).into_iter().enumerate() {
        // The first clause starts with ALTER TABLE [IF EXISTS] [ONLY] name.
        let mut i = 0;
        if n == 0 {
            i = 2;
            if clause.get(i).is_some_and(|t| is(t, "IF")) {
                i += 2;
            }
            if clause.get(i).is_some_and(|t| is(t, "ONLY")) {
                i += 1;
            }
            i += 1;
        }
        let word = |j: usize| clause.get(j).copied();
        let Some(action) = word(i) else { continue };
        if is(action, "ADD") {
            let mut j = i + 1;
            if word(j).is_some_and(|t| is(t, "COLUMN")) {
                j += 1;
            }
            let constraint = word(j).is_some_and(|t| {
                ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "IF"]
                    .iter()
                    .any(|k| is(t, k))
            });
            if !constraint {
                found.push(Finding {
                    lint: Lint::MissingIfNotExists,
                    offset: action.start,
                    message: "`ADD COLUMN` without `IF NOT EXISTS`: the migration fails if it runs again".to_string(),
                    help: "write `ADD COLUMN IF NOT EXISTS ...` so the migration is idempotent".to_string(),
                });
            }
        } else if is(action, "DROP") {
            let mut j = i + 1;
            let what = if word(j).is_some_and(|t| is(t, "CONSTRAINT")) {
                j += 1;
                "CONSTRAINT"
            } else {
                if word(j).is_some_and(|t| is(t, "COLUMN")) {
                    j += 1;
                }
                found.push(destructive(
                    action.start,
                    "`DROP COLUMN` destroys the column and its data",
                ));
                "COLUMN"
            };
            let guarded = word(j).is_some_and(|t| is(t, "IF")) && word(j + 1).is_some_and(|t| is(t, "EXISTS"));
            if !guarded {
                found.push(Finding {
                    lint: Lint::MissingIfExists,
                    offset: action.start,
                    message: format!("`DROP {what}` without `IF EXISTS`: the migration fails if it runs again"),
                    help: format!("write `DROP {what} IF EXISTS ...` so the migration is idempotent"),
                });
            }
        }
    }
}

/// `REFERENCES` whose column or constraint definition has no `ON DELETE`.
fn foreign_keys(src: &str, tokens: &[Token], stmt: &Statement, found: &mut Vec<Finding>) {
    let range = &tokens[stmt.tokens.clone()];
    let word = |t: &Token, k: &str| t.kind == TokenKind::Word && t.text(src).eq_ignore_ascii_case(k);
    let mut depth = 0usize;
    for (i, t) in range.iter().enumerate() {
        match t.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth = depth.saturating_sub(1),
            _ if word(t, "REFERENCES") => {
                let mut d = depth;
                let mut on_delete = false;
                let mut previous: Option<&Token> = None;
                for u in &range[i + 1..] {
                    match u.kind {
                        TokenKind::OpenParen => d += 1,
                        TokenKind::CloseParen if d == depth => break,
                        TokenKind::CloseParen => d -= 1,
                        TokenKind::Other if d == depth && u.text(src) == "," => break,
                        TokenKind::Word
                            if d == depth && word(u, "DELETE") && previous.is_some_and(|p| word(p, "ON")) =>
                        {
                            on_delete = true;
                        }
                        _ => {}
                    }
                    if !u.is_trivia() {
                        previous = Some(u);
                    }
                }
                if !on_delete {
                    found.push(Finding {
                        lint: Lint::ForeignKeyWithoutOnDelete,
                        offset: t.start,
                        message: "foreign key without `ON DELETE`: deleting the referenced row will fail".to_string(),
                        help: "say what happens to this row: `ON DELETE CASCADE`, `ON DELETE SET NULL` or `ON DELETE RESTRICT`".to_string(),
                    });
                }
            }
            _ => {}
        }
    }
}

/// A `-- Migration NNN:` header whose number is not the file's version.
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

    fn lints(sql: &str) -> Vec<&'static str> {
        let s = split(sql).unwrap();
        let mut state = FileState::default();
        s.statements
            .iter()
            .flat_map(|st| statement(sql, &s.tokens, st, &mut state))
            .map(|f| f.lint.name())
            .collect()
    }

    #[test]
    fn missing_if_not_exists() {
        assert_eq!(lints("CREATE TABLE t (id int);"), vec!["missing-if-not-exists"]);
        assert_eq!(
            lints("CREATE UNIQUE INDEX i ON t (a);"),
            vec!["missing-if-not-exists", "blocking-index"]
        );
        assert_eq!(
            lints("ALTER TABLE t ADD COLUMN a int, ADD b int;"),
            vec!["missing-if-not-exists"; 2]
        );
        assert_eq!(lints("CREATE VIEW v AS SELECT 1;"), vec!["missing-if-not-exists"]);
        assert_eq!(
            lints("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;"),
            vec!["missing-if-not-exists"]
        );
    }

    #[test]
    fn correct_forms_are_silent() {
        for sql in [
            "CREATE TABLE IF NOT EXISTS t (id int);\nCREATE INDEX IF NOT EXISTS i ON t (id);",
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ CREATE TABLE x (); DROP TABLE y; $$ LANGUAGE sql;",
            "CREATE OR REPLACE VIEW v AS SELECT 1;",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv AS SELECT 1;",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int, ADD CONSTRAINT c CHECK (a > 0);",
            "DROP INDEX IF EXISTS i;",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON existing (a);",
            "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;",
            "CREATE TABLE IF NOT EXISTS c (p int REFERENCES p(id) ON DELETE CASCADE, q int, FOREIGN KEY (q) REFERENCES q(id) ON UPDATE CASCADE ON DELETE SET NULL);",
            "GRANT REFERENCES ON t TO someone;",
            "SELECT 'CREATE TABLE t (); DROP TABLE t;';",
        ] {
            assert_eq!(lints(sql), Vec::<&str>::new(), "{sql}");
        }
    }

    #[test]
    fn missing_if_exists_and_destructive_changes() {
        assert_eq!(lints("DROP TABLE t;"), vec!["missing-if-exists", "destructive-change"]);
        assert_eq!(lints("DROP TABLE IF EXISTS t;"), vec!["destructive-change"]);
        assert_eq!(lints("DROP INDEX CONCURRENTLY i;"), vec!["missing-if-exists"]);
        assert_eq!(
            lints("ALTER TABLE t DROP COLUMN IF EXISTS a;"),
            vec!["destructive-change"]
        );
        assert_eq!(lints("ALTER TABLE t DROP CONSTRAINT c;"), vec!["missing-if-exists"]);
        assert_eq!(lints("TRUNCATE t;"), vec!["destructive-change"]);
    }

    #[test]
    fn foreign_keys_need_on_delete() {
        assert_eq!(
            lints("CREATE TABLE IF NOT EXISTS c (p int REFERENCES p(id), q int REFERENCES q(id) ON DELETE CASCADE);"),
            vec!["foreign-key-without-on-delete"]
        );
        assert_eq!(
            lints("ALTER TABLE s ADD CONSTRAINT fk FOREIGN KEY (profile_id) REFERENCES profiles(id);"),
            vec!["foreign-key-without-on-delete"]
        );
    }

    #[test]
    fn indexes_on_tables_created_in_the_same_file_do_not_block() {
        assert!(
            lints("CREATE TABLE IF NOT EXISTS n (a int);\nCREATE INDEX IF NOT EXISTS i ON public.n (a);").is_empty()
        );
        assert_eq!(
            lints("CREATE INDEX IF NOT EXISTS i ON public.profiles (a);"),
            vec!["blocking-index"]
        );
    }

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
