//! Lints: the best practices of `db_init.py`'s documentation, as warnings.
//! One rule per file under `rules/`, each with its tests beside it.

mod rules;
pub mod summary;

use crate::files::FileKind;
use crate::lexer::{Token, TokenKind};
use crate::split::Statement;
use crate::statement::{StatementKind, Words};

pub use rules::header_number_mismatch::header;

/// A lint rule, named as in `-- migrate: allow(NAME)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lint {
    MissingIfNotExists,
    MissingIfExists,
    DestructiveChange,
    ForeignKeyWithoutOnDelete,
    HeaderNumberMismatch,
    BlockingIndex,
    ChangingColumnType,
    SettingNotNull,
    AddingRequiredColumn,
    AddingVolatileDefault,
    ConstraintWithoutNotValid,
    ConstraintWithoutIndex,
    Renaming,
    BlockingMaintenance,
    ExplicitLock,
    /// In a repeatable file: a `CREATE` that fails when the file runs again.
    NonIdempotent,
}

impl Lint {
    pub const ALL: [Lint; 16] = [
        Lint::MissingIfNotExists,
        Lint::MissingIfExists,
        Lint::DestructiveChange,
        Lint::ForeignKeyWithoutOnDelete,
        Lint::HeaderNumberMismatch,
        Lint::BlockingIndex,
        Lint::ChangingColumnType,
        Lint::SettingNotNull,
        Lint::AddingRequiredColumn,
        Lint::AddingVolatileDefault,
        Lint::ConstraintWithoutNotValid,
        Lint::ConstraintWithoutIndex,
        Lint::Renaming,
        Lint::BlockingMaintenance,
        Lint::ExplicitLock,
        Lint::NonIdempotent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Lint::MissingIfNotExists => "missing-if-not-exists",
            Lint::MissingIfExists => "missing-if-exists",
            Lint::DestructiveChange => "destructive-change",
            Lint::ForeignKeyWithoutOnDelete => "foreign-key-without-on-delete",
            Lint::HeaderNumberMismatch => "header-number-mismatch",
            Lint::BlockingIndex => "blocking-index",
            Lint::ChangingColumnType => "changing-column-type",
            Lint::SettingNotNull => "setting-not-null",
            Lint::AddingRequiredColumn => "adding-required-column",
            Lint::AddingVolatileDefault => "adding-volatile-default",
            Lint::ConstraintWithoutNotValid => "constraint-without-not-valid",
            Lint::ConstraintWithoutIndex => "constraint-without-index",
            Lint::Renaming => "renaming",
            Lint::BlockingMaintenance => "blocking-maintenance",
            Lint::ExplicitLock => "explicit-lock",
            Lint::NonIdempotent => "non-idempotent",
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
    /// hence empty, so locking them blocks nobody.
    created_tables: Vec<String>,
    /// Constraints added `NOT VALID` earlier in this file, by name.
    not_valid_constraints: Vec<String>,
    /// Tables on which this file already ran `VALIDATE CONSTRAINT`.
    validated_tables: Vec<String>,
    /// Names a repeatable file dropped `IF EXISTS`, lowercase as written.
    dropped: Vec<String>,
}

/// One statement, as every rule sees it.
pub(crate) struct Context<'a> {
    pub src: &'a str,
    pub tokens: &'a [Token],
    pub stmt: &'a Statement,
    /// The statement's words outside parentheses.
    pub words: Words<'a>,
    pub kind: StatementKind,
    /// The kind of file the statement is in.
    pub file: FileKind,
    pub state: &'a FileState,
}

impl<'a> Context<'a> {
    /// Byte offset of word `i`, or of the statement.
    pub fn at(&self, i: usize) -> usize {
        self.words.words.get(i).map_or(self.stmt.start, |(_, t)| t.start)
    }

    pub fn if_not_exists(&self, i: usize) -> bool {
        self.words.is(i, "IF") && self.words.is(i + 1, "NOT") && self.words.is(i + 2, "EXISTS")
    }

    pub fn if_exists(&self, i: usize) -> bool {
        self.words.is(i, "IF") && self.words.is(i + 1, "EXISTS")
    }

    /// The statement's tokens.
    pub fn range(&self) -> &'a [Token] {
        &self.tokens[self.stmt.tokens.clone()]
    }

    /// Whether `t` is the keyword `k` (uppercase).
    pub fn is(&self, t: &Token, k: &str) -> bool {
        t.kind == TokenKind::Word && t.text(self.src).eq_ignore_ascii_case(k)
    }

    /// Where `keywords` appear in a row among `words`, searching from `from`.
    pub fn find_seq(&self, words: &[&Token], from: usize, keywords: &[&str]) -> Option<usize> {
        (from..words.len()).find(|&i| {
            keywords
                .iter()
                .enumerate()
                .all(|(k, kw)| words.get(i + k).is_some_and(|t| self.is(t, kw)))
        })
    }

    /// Whether `table` (lowercase, unqualified) was created earlier in this file.
    pub fn created_here(&self, table: &str) -> bool {
        self.state.created_tables.iter().any(|t| t == table)
    }

    /// The lowercase last part of a possibly qualified name starting at `first`.
    pub fn qualified_tail(&self, first: &Token) -> String {
        let range = self.range();
        let mut last = first;
        let mut i = range.iter().position(|t| std::ptr::eq(t, first)).unwrap_or(range.len());
        while i + 2 < range.len()
            && range[i + 1].text(self.src) == "."
            && matches!(range[i + 2].kind, TokenKind::Word | TokenKind::QuotedIdent)
        {
            last = &range[i + 2];
            i += 2;
        }
        let text = last.text(self.src);
        match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => text.to_ascii_lowercase(),
        }
    }

    /// The table an `ALTER TABLE` statement alters, when this file did not
    /// create it: a table that already holds rows and serves queries.
    pub fn existing_altered_table(&self) -> Option<String> {
        let w = &self.words;
        if !w.starts_with(&["ALTER", "TABLE"]) {
            return None;
        }
        let mut i = 2;
        if self.if_exists(i) {
            i += 2;
        }
        if w.is(i, "ONLY") {
            i += 1;
        }
        let table = self.qualified_tail(w.words.get(i)?.1);
        (!self.created_here(&table)).then_some(table)
    }

    /// Whether some depth-0 word of the statement names a table this file created.
    pub fn names_a_created_table(&self) -> bool {
        self.words
            .words
            .iter()
            .any(|(_, t)| self.created_here(&self.qualified_tail(t)))
    }

    /// The tokens of clause `i` of `clauses`, from its first word to the
    /// next clause (or the end of the statement), parentheses included.
    pub fn clause_tokens(&self, clauses: &[Vec<&'a Token>], i: usize) -> &'a [Token] {
        let range = self.range();
        let index = |t: &Token| range.iter().position(|u| std::ptr::eq(u, t));
        let start = clauses[i].first().and_then(|t| index(t)).unwrap_or(range.len());
        let end = clauses[i + 1..]
            .iter()
            .find_map(|c| c.first().and_then(|t| index(t)))
            .unwrap_or(range.len());
        &range[start..end.max(start)]
    }

    /// The table a `CREATE TABLE` statement creates.
    fn created_table(&self) -> Option<String> {
        let w = &self.words;
        if !w.is(0, "CREATE") {
            return None;
        }
        let mut k = 1;
        while ["TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL"]
            .iter()
            .any(|m| w.is(k, m))
        {
            k += 1;
        }
        if !w.is(k, "TABLE") {
            return None;
        }
        let name_at = if self.if_not_exists(k + 1) { k + 4 } else { k + 1 };
        w.words.get(name_at).map(|(_, t)| self.qualified_tail(t))
    }

    /// The depth-0 clauses of the statement, split at commas, as word tokens.
    pub fn clauses(&self) -> Vec<Vec<&'a Token>> {
        let mut out = vec![Vec::new()];
        let mut depth = 0usize;
        for t in self.range() {
            match t.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => depth = depth.saturating_sub(1),
                TokenKind::Other if depth == 0 && t.text(self.src) == "," => out.push(Vec::new()),
                TokenKind::Word | TokenKind::QuotedIdent if depth == 0 => out.last_mut().expect("one clause").push(t),
                _ => {}
            }
        }
        out
    }

    /// The actions of an `ALTER TABLE`: each depth-0 clause without the
    /// leading `ALTER TABLE [IF EXISTS] [ONLY] name`.
    pub fn alter_table_actions(&self) -> Vec<Vec<&'a Token>> {
        let mut clauses = self.clauses();
        if let Some(first) = clauses.first_mut() {
            let mut i = 2;
            if first.get(i).is_some_and(|t| self.is(t, "IF")) {
                i += 2;
            }
            if first.get(i).is_some_and(|t| self.is(t, "ONLY")) {
                i += 1;
            }
            first.drain(..(i + 1).min(first.len()));
        }
        clauses
    }
}

/// Lints one statement of a file of kind `file`.
pub fn statement(src: &str, tokens: &[Token], stmt: &Statement, file: FileKind, state: &mut FileState) -> Vec<Finding> {
    let words = Words::of(src, tokens, stmt);
    let cx = Context {
        src,
        tokens,
        stmt,
        kind: StatementKind::of(&words),
        words,
        file,
        state,
    };
    let mut found = Vec::new();
    for rule in rules::STATEMENT_RULES {
        rule(&cx, &mut found);
    }
    let order = |l: Lint| Lint::ALL.iter().position(|x| *x == l);
    found.sort_by_key(|f| (f.offset, order(f.lint)));
    // After the sort: its finding follows the statement's others.
    rules::non_idempotent::check(&cx, &mut found);
    let created = cx.created_table();
    let constraints = rules::constraint_without_not_valid::remember(&cx);
    let dropped = rules::non_idempotent::dropped(&cx);
    if let Some(table) = created {
        state.created_tables.push(table);
    }
    state.not_valid_constraints.extend(constraints.not_valid);
    state.validated_tables.extend(constraints.validated);
    state.dropped.extend(dropped);
    found
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::split::split;

    /// The names of the lints `sql` triggers, in order.
    pub fn lints(sql: &str) -> Vec<&'static str> {
        let s = split(sql).unwrap();
        let mut state = FileState::default();
        s.statements
            .iter()
            .flat_map(|st| statement(sql, &s.tokens, st, FileKind::Versioned, &mut state))
            .map(|f| f.lint.name())
            .collect()
    }

    #[test]
    fn correct_forms_are_silent() {
        for sql in [
            "CREATE TABLE IF NOT EXISTS t (id int);\nCREATE INDEX IF NOT EXISTS i ON t (id);",
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ CREATE TABLE x (); DROP TABLE y; $$ LANGUAGE sql;",
            "CREATE OR REPLACE VIEW v AS SELECT 1;",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv AS SELECT 1;",
            "DROP INDEX IF EXISTS i;",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON existing (a);",
            "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;",
            "GRANT REFERENCES ON t TO someone;",
            "SELECT 'CREATE TABLE t (); DROP TABLE t;';",
        ] {
            assert_eq!(lints(sql), Vec::<&str>::new(), "{sql}");
        }
    }

    #[test]
    fn findings_come_in_source_order() {
        assert_eq!(
            lints("DROP TABLE t;\nCREATE TABLE u (id int);"),
            vec!["missing-if-exists", "destructive-change", "missing-if-not-exists"]
        );
    }
}
