//! What a failing migration leaves behind, and what its error says.

use migrate_runtime::{Error, MigrationError};
use migrate_tests::{fresh, migrations, rows, value};

fn migration_error(e: Error) -> MigrationError {
    match e {
        Error::Migration(m) => *m,
        other => panic!("expected a migration error, got {other}"),
    }
}

#[tokio::test]
async fn a_failing_file_leaves_nothing_and_earlier_files_stay() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[
        ("001_ok.sql", "CREATE TABLE IF NOT EXISTS ok (id int);"),
        (
            "002_broken.sql",
            "-- Migration 002: two statements, the second fails\nCREATE TABLE IF NOT EXISTS half (id int);\nINSERT INTO missing_table VALUES (1);\n",
        ),
        ("003_never.sql", "CREATE TABLE IF NOT EXISTS never (id int);"),
    ]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!((e.file_name.as_str(), e.line, e.column), ("002_broken.sql", 3, 13));
    assert_eq!((e.statement, e.statements), (2, 2));
    assert_eq!(e.statement_start, "INSERT INTO missing_table VALUES (1);");
    assert_eq!(e.code, "42P01");
    assert_eq!(e.message, "relation \"missing_table\" does not exist");
    let text = e.to_string();
    assert!(
        text.contains("migration 002_broken.sql failed at 002_broken.sql:3:13"),
        "{text}"
    );
    assert!(text.contains("nothing of this file was applied"), "{text}");

    assert_eq!(
        value(
            &pool,
            "SELECT to_regclass('half') IS NULL AND to_regclass('ok') IS NOT NULL"
        )
        .await,
        "t"
    );
    assert_eq!(
        value(&pool, "SELECT string_agg(filename, ',') FROM schema_migrations").await,
        "001_ok.sql"
    );
    assert!(
        migrate_tests::advisory_locks(&pool).await.is_empty(),
        "the lock outlived the run"
    );
}

#[tokio::test]
async fn server_positions_become_file_line_and_column_in_characters() {
    let (_, _, pool) = fresh().await;
    // The syntax check (on in this suite) would refuse the file at build time.
    let (_dir, set) = migrations(&[(
        "001_typo.sql",
        "-- migrate: allow(syntax)\n-- Ünïcödé ☃ before the error\nSELECT 'ä', 'ö';\n  SELECT 'ü' FORM dual;\n",
    )]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!(e.code, "42601");
    assert_eq!((e.line, e.column), (4, 19), "{e}");
    assert_eq!(e.statement, 2);
}

#[tokio::test]
async fn detail_and_hint_are_reported() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[
        (
            "001_table.sql",
            "CREATE TABLE IF NOT EXISTS u (id int PRIMARY KEY);\nINSERT INTO u VALUES (1);",
        ),
        ("002_dup.sql", "INSERT INTO u VALUES (1);"),
        ("003_hint.sql", "SELECT no_such_function(1);"),
    ]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!(e.code, "23505");
    assert_eq!(e.detail.as_deref(), Some("Key (id)=(1) already exists."));
    let (_dir, set) = migrations(&[
        (
            "001_table.sql",
            "CREATE TABLE IF NOT EXISTS u (id int PRIMARY KEY);\nINSERT INTO u VALUES (1);",
        ),
        ("003_hint.sql", "SELECT no_such_function(1);"),
    ]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!(e.code, "42883");
    assert!(
        e.hint.as_deref().unwrap_or_default().contains("No function matches"),
        "{e}"
    );
    assert!(e.to_string().contains("HINT: No function matches"), "{e}");
}

#[tokio::test]
async fn a_no_transaction_file_says_which_statements_ran_and_reruns_when_idempotent() {
    let (_, _, pool) = fresh().await;
    let first = "-- migrate: no-transaction\n\
                 CREATE TABLE IF NOT EXISTS big (id int, v text);\n\
                 CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_big_id ON big (id);\n\
                 CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_big_v ON big (nope);\n";
    let (_dir, set) = migrations(&[("001_big.sql", first)]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!(e.completed, Some(2));
    assert_eq!((e.statement, e.line), (3, 4));
    assert!(e.to_string().contains("statements 1 to 2 ran and stay applied"), "{e}");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "0");
    assert_eq!(value(&pool, "SELECT to_regclass('idx_big_id') IS NOT NULL").await, "t");

    let fixed = first.replace("(nope)", "(v)");
    let (_dir, set) = migrations(&[("001_big.sql", &fixed)]);
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 1);
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "1");
}

#[tokio::test]
async fn session_state_reaches_neither_the_next_file_nor_the_application() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[
        (
            "001_leaky.sql",
            "CREATE SCHEMA IF NOT EXISTS elsewhere;\n\
             SET search_path = elsewhere;\n\
             SET timezone = 'Asia/Tokyo';\n\
             CREATE TEMP TABLE scratch (id int);\n\
             PREPARE leaked AS SELECT 1;\n\
             CREATE TABLE IF NOT EXISTS placed (id int);",
        ),
        (
            "002_checks.sql",
            "DO $$ BEGIN\n\
               IF current_setting('search_path') <> '\"$user\", public' THEN RAISE EXCEPTION 'search_path leaked: %', current_setting('search_path'); END IF;\n\
               IF current_setting('TimeZone') = 'Asia/Tokyo' THEN RAISE EXCEPTION 'timezone leaked'; END IF;\n\
               IF to_regclass('pg_temp.scratch') IS NOT NULL THEN RAISE EXCEPTION 'temp table leaked'; END IF;\n\
               IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'leaked') THEN RAISE EXCEPTION 'prepared statement leaked'; END IF;\n\
             END $$;",
        ),
    ]);
    set.run(&pool).await.unwrap();
    assert_eq!(
        value(&pool, "SELECT to_regclass('elsewhere.placed') IS NOT NULL").await,
        "t"
    );
    for _ in 0..4 {
        let state = rows(
            &pool,
            "SELECT current_setting('search_path'), current_setting('TimeZone') <> 'Asia/Tokyo'",
        )
        .await;
        assert_eq!(state[0][0].as_deref(), Some("\"$user\", public"));
        assert_eq!(state[0][1].as_deref(), Some("t"));
    }
}

#[tokio::test]
async fn a_connection_lost_mid_file_leaves_nothing_of_it() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[(
        "001_killed.sql",
        "CREATE TABLE IF NOT EXISTS before_kill (id int);\nSELECT pg_terminate_backend(pg_backend_pid());\nCREATE TABLE IF NOT EXISTS after_kill (id int);",
    )]);
    let e = set.run(&pool).await.unwrap_err().to_string();
    assert!(e.contains("001_killed.sql"), "{e}");
    assert_eq!(value(&pool, "SELECT to_regclass('before_kill') IS NULL").await, "t");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "0");
    assert!(
        migrate_tests::advisory_locks(&pool).await.is_empty(),
        "the lock outlived the run"
    );
}

/// `Display` followed by every `source()`, `: `-separated, as `anyhow`'s
/// `{:#}` prints an error.
fn chained(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        text.push_str(": ");
        text.push_str(&source.to_string());
        next = source.source();
    }
    text
}

#[tokio::test]
async fn an_error_printed_with_its_source_chain_says_each_thing_once() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[("001_broken.sql", "SELECT * FROM missing_table;")]);
    let e = set.run(&pool).await.unwrap_err();
    let text = chained(&e);
    assert_eq!(text, e.to_string());
    assert_eq!(
        text.matches("relation \"missing_table\" does not exist").count(),
        1,
        "{text}"
    );

    let (_dir, set) = migrations(&[("001_drops_history.sql", "DROP TABLE schema_migrations;")]);
    let e = set.run(&pool).await.unwrap_err();
    assert!(matches!(e, Error::Database { .. }), "{e:?}");
    let text = chained(&e);
    assert_eq!(
        text,
        "001_drops_history.sql: recording it as applied failed, so none of it was committed: \
         ERROR 42P01: relation \"public.schema_migrations\" does not exist"
    );
}

#[tokio::test]
async fn a_failed_create_index_concurrently_names_the_invalid_index_it_left() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[
        ("001_t.sql", "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1), (1);"),
        (
            "002_unique.sql",
            "-- migrate: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a);",
        ),
    ]);
    let e = migration_error(set.run(&pool).await.unwrap_err());
    assert_eq!(
        (e.code.as_str(), e.invalid_index.as_deref()),
        ("23505", Some("public.t_a"))
    );
    let text = e.to_string();
    assert!(
        text.contains("left the INVALID index public.t_a; remove it with `DROP INDEX CONCURRENTLY public.t_a;`"),
        "{text}"
    );
}
