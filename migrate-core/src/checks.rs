//! Statement-level rules: what a migration file may not contain.

use crate::statement::StatementKind;
pub use crate::statement::Words;

/// The transaction-control command a statement is, if any.
pub fn transaction_control(w: &Words) -> Option<&'static str> {
    Some(if w.is(0, "BEGIN") {
        "BEGIN"
    } else if w.starts_with(&["START", "TRANSACTION"]) {
        "START TRANSACTION"
    } else if w.starts_with(&["COMMIT", "PREPARED"]) {
        "COMMIT PREPARED"
    } else if w.is(0, "COMMIT") {
        "COMMIT"
    } else if w.is(0, "END") {
        "END"
    } else if w.starts_with(&["ROLLBACK", "PREPARED"]) {
        "ROLLBACK PREPARED"
    } else if w.is(0, "ROLLBACK") {
        "ROLLBACK"
    } else if w.is(0, "ABORT") {
        "ABORT"
    } else if w.is(0, "SAVEPOINT") {
        "SAVEPOINT"
    } else if w.is(0, "RELEASE") {
        "RELEASE"
    } else if w.starts_with(&["PREPARE", "TRANSACTION"]) {
        "PREPARE TRANSACTION"
    } else {
        return None;
    })
}

/// `COPY ... FROM STDIN` or `COPY ... TO STDOUT`.
pub fn copy_stream(w: &Words) -> Option<&'static str> {
    if !w.is(0, "COPY") {
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
    let kind = StatementKind::of(w);
    let only = |words: usize| w.words.len() == words;
    Some(if matches!(kind, StatementKind::CreateIndexConcurrently { .. }) {
        "CREATE INDEX CONCURRENTLY"
    } else if w.starts_with(&["DROP", "INDEX", "CONCURRENTLY"]) {
        "DROP INDEX CONCURRENTLY"
    } else if kind == StatementKind::ReindexConcurrently {
        "REINDEX ... CONCURRENTLY"
    } else if w.starts_with(&["REINDEX", "DATABASE"]) {
        "REINDEX DATABASE"
    } else if w.starts_with(&["REINDEX", "SYSTEM"]) {
        "REINDEX SYSTEM"
    } else if w.is(0, "VACUUM") {
        "VACUUM"
    } else if w.is(0, "CLUSTER") && (only(1) || (only(2) && w.is(1, "VERBOSE"))) {
        "CLUSTER (without a table)"
    } else if w.starts_with(&["CREATE", "DATABASE"]) {
        "CREATE DATABASE"
    } else if w.starts_with(&["DROP", "DATABASE"]) {
        "DROP DATABASE"
    } else if w.starts_with(&["CREATE", "TABLESPACE"]) {
        "CREATE TABLESPACE"
    } else if w.starts_with(&["DROP", "TABLESPACE"]) {
        "DROP TABLESPACE"
    } else if w.starts_with(&["CREATE", "SUBSCRIPTION"]) {
        "CREATE SUBSCRIPTION"
    } else if w.starts_with(&["DROP", "SUBSCRIPTION"]) {
        "DROP SUBSCRIPTION"
    } else if w.starts_with(&["ALTER", "SYSTEM"]) {
        "ALTER SYSTEM"
    } else if w.starts_with(&["ALTER", "DATABASE"]) && w.is(3, "SET") && w.is(4, "TABLESPACE") {
        "ALTER DATABASE ... SET TABLESPACE"
    } else if w.starts_with(&["ALTER", "TABLE"]) && w.contains("DETACH") && w.contains("CONCURRENTLY") {
        "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
    } else if w.starts_with(&["DISCARD", "ALL"]) {
        "DISCARD ALL"
    } else {
        return None;
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
            ("REINDEX (CONCURRENTLY) TABLE t;", Some("REINDEX ... CONCURRENTLY")),
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
