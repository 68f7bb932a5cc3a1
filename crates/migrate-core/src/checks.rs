//! Statement-level rules: what a migration file may not contain.

use crate::lexer::{Token, TokenKind};
use crate::split::Statement;

/// The words of a statement outside parentheses, uppercased; quoted
/// identifiers keep their quotes so they never match a keyword.
pub struct Words<'a> {
    pub words: Vec<(String, &'a Token)>,
}

impl<'a> Words<'a> {
    pub fn of(src: &str, tokens: &'a [Token], statement: &Statement) -> Self {
        let mut depth = 0usize;
        let mut words = Vec::new();
        for token in &tokens[statement.tokens.clone()] {
            match token.kind {
                TokenKind::OpenParen => depth += 1,
                TokenKind::CloseParen => depth = depth.saturating_sub(1),
                TokenKind::Word if depth == 0 => words.push((token.text(src).to_ascii_uppercase(), token)),
                TokenKind::QuotedIdent if depth == 0 => words.push((token.text(src).to_string(), token)),
                _ => {}
            }
        }
        Words { words }
    }

    pub fn get(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |(w, _)| w.as_str())
    }

    pub fn starts_with(&self, keywords: &[&str]) -> bool {
        keywords.iter().enumerate().all(|(i, k)| self.get(i) == *k)
    }

    pub fn contains(&self, keyword: &str) -> bool {
        self.words.iter().any(|(w, _)| w == keyword)
    }

    /// Position of `keyword` among the words, if present.
    pub fn find(&self, keyword: &str) -> Option<usize> {
        self.words.iter().position(|(w, _)| w == keyword)
    }
}

/// The transaction-control command a statement is, if any.
pub fn transaction_control(w: &Words) -> Option<&'static str> {
    Some(match w.get(0) {
        "BEGIN" => "BEGIN",
        "START" if w.get(1) == "TRANSACTION" => "START TRANSACTION",
        "COMMIT" if w.get(1) == "PREPARED" => "COMMIT PREPARED",
        "COMMIT" => "COMMIT",
        "END" => "END",
        "ROLLBACK" if w.get(1) == "PREPARED" => "ROLLBACK PREPARED",
        "ROLLBACK" => "ROLLBACK",
        "ABORT" => "ABORT",
        "SAVEPOINT" => "SAVEPOINT",
        "RELEASE" => "RELEASE",
        "PREPARE" if w.get(1) == "TRANSACTION" => "PREPARE TRANSACTION",
        _ => return None,
    })
}

/// `COPY ... FROM STDIN` or `COPY ... TO STDOUT`.
pub fn copy_stream(w: &Words) -> Option<&'static str> {
    if w.get(0) != "COPY" {
        return None;
    }
    if w.contains("STDIN") {
        Some("COPY ... FROM STDIN")
    } else if w.contains("STDOUT") {
        Some("COPY ... TO STDOUT")
    } else {
        None
    }
}

/// The command, if the statement cannot run inside a transaction block.
pub fn needs_no_transaction(w: &Words) -> Option<&'static str> {
    let index_at = if w.get(1) == "UNIQUE" { 2 } else { 1 };
    Some(match w.get(0) {
        "CREATE" if w.get(index_at) == "INDEX" && w.get(index_at + 1) == "CONCURRENTLY" => "CREATE INDEX CONCURRENTLY",
        "DROP" if w.starts_with(&["DROP", "INDEX", "CONCURRENTLY"]) => "DROP INDEX CONCURRENTLY",
        "REINDEX" if w.find("CONCURRENTLY").is_some_and(|p| p <= 2) => "REINDEX ... CONCURRENTLY",
        "REINDEX" if w.get(1) == "DATABASE" => "REINDEX DATABASE",
        "REINDEX" if w.get(1) == "SYSTEM" => "REINDEX SYSTEM",
        "VACUUM" => "VACUUM",
        "CLUSTER" if w.words.len() == 1 || (w.words.len() == 2 && w.get(1) == "VERBOSE") => "CLUSTER (without a table)",
        "CREATE" | "DROP" if w.get(1) == "DATABASE" => {
            if w.get(0) == "CREATE" {
                "CREATE DATABASE"
            } else {
                "DROP DATABASE"
            }
        }
        "CREATE" if w.get(1) == "TABLESPACE" => "CREATE TABLESPACE",
        "DROP" if w.get(1) == "TABLESPACE" => "DROP TABLESPACE",
        "CREATE" if w.get(1) == "SUBSCRIPTION" => "CREATE SUBSCRIPTION",
        "DROP" if w.get(1) == "SUBSCRIPTION" => "DROP SUBSCRIPTION",
        "ALTER" if w.get(1) == "SYSTEM" => "ALTER SYSTEM",
        "ALTER" if w.get(1) == "DATABASE" && w.get(3) == "SET" && w.get(4) == "TABLESPACE" => {
            "ALTER DATABASE ... SET TABLESPACE"
        }
        "ALTER" if w.get(1) == "TABLE" && w.contains("DETACH") && w.contains("CONCURRENTLY") => {
            "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
        }
        "DISCARD" if w.get(1) == "ALL" => "DISCARD ALL",
        _ => return None,
    })
}

/// How to replace a psql meta-command, by name.
pub fn meta_command_fix(command: &str) -> String {
    let name = command.trim_start_matches('\\');
    match name {
        "echo" | "qecho" | "warn" => {
            "to print a message, use `SELECT 'message';` or `DO $$ BEGIN RAISE NOTICE 'message'; END $$;` (`\\echo x` → `SELECT 'x';`)".into()
        }
        "set" | "unset" | "gset" => {
            "psql variables do not exist on the server: write the value into the SQL, or use `SET name = value;` for a server setting".into()
        }
        "c" | "connect" => "a migration runs on the connection the runner opened: keep each database's migrations in its own folder and runner".into(),
        "i" | "ir" | "include" | "include_relative" => {
            "the server cannot read your files: copy the included SQL into this migration, or make it a migration of its own".into()
        }
        "copy" => "use `COPY ... FROM '/server/path'` or `INSERT ... VALUES` instead of the client-side `\\copy`".into(),
        "timing" | "pset" | "x" | "o" | "t" | "a" | "q" => "remove it: it only changes psql's own output".into(),
        ";" => "`\\;` is psql's way to send several statements at once: write a plain `;`".into(),
        _ => "remove it: psql meta-commands are not SQL, and the runner sends this file to the server as SQL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split;

    fn first<T>(sql: &str, f: impl Fn(&Words) -> T) -> T {
        let s = split(sql).unwrap();
        f(&Words::of(sql, &s.tokens, &s.statements[0]))
    }

    #[test]
    fn recognises_transaction_control() {
        for (sql, expect) in [
            ("begin;", Some("BEGIN")),
            ("BEGIN ISOLATION LEVEL SERIALIZABLE;", Some("BEGIN")),
            ("start transaction;", Some("START TRANSACTION")),
            ("COMMIT PREPARED 'x';", Some("COMMIT PREPARED")),
            ("end;", Some("END")),
            ("rollback to savepoint a;", Some("ROLLBACK")),
            ("prepare transaction 'x';", Some("PREPARE TRANSACTION")),
            ("prepare q as select 1;", None),
            ("select 'commit';", None),
            ("\"begin\";", None),
        ] {
            assert_eq!(first(sql, transaction_control), expect, "{sql}");
        }
    }

    #[test]
    fn recognises_statements_that_need_autocommit() {
        for (sql, expect) in [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a);",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "create unique index concurrently if not exists i on t(a);",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            ("CREATE INDEX i ON t (a);", None),
            ("CREATE INDEX concurrently_named ON t (a);", None),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY t;",
                Some("REINDEX ... CONCURRENTLY"),
            ),
            ("REINDEX TABLE t;", None),
            ("vacuum analyze t;", Some("VACUUM")),
            ("CLUSTER;", Some("CLUSTER (without a table)")),
            ("CLUSTER t USING i;", None),
            ("ALTER SYSTEM SET work_mem = '8MB';", Some("ALTER SYSTEM")),
            (
                "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;",
                Some("ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"),
            ),
            ("DROP DATABASE x;", Some("DROP DATABASE")),
        ] {
            assert_eq!(first(sql, needs_no_transaction), expect, "{sql}");
        }
    }

    #[test]
    fn recognises_copy_streams() {
        assert_eq!(first("COPY t FROM stdin;", copy_stream), Some("COPY ... FROM STDIN"));
        assert_eq!(
            first("copy (select 1) to stdout with csv;", copy_stream),
            Some("COPY ... TO STDOUT")
        );
        assert_eq!(first("COPY t FROM '/data/t.csv';", copy_stream), None);
    }
}
