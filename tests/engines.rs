//! The runner's choices on PostgreSQL-compatible engines, against a real
//! PostgreSQL that plays each engine: stand-ins for `version()`, the
//! advisory lock functions and Citus's functions replace or join the
//! built-in ones in `pg_catalog` of a fresh database, the only schema the
//! runner's own SQL resolves names in. The engines themselves are not tested here (none can be
//! installed on this machine); `docs/distributed.md` says what that leaves.

use deadpool_postgres::Pool;
use migrate_runtime::{Error, LockMode};
use migrate_tests::{fresh, migrations, migrations_in, rows, value, Logs};

const COCKROACH: &str = "CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu, built 2024/05/15 21:28:29, go1.22.2)";
const YUGABYTE: &str = "PostgreSQL 11.2-YB-2.20.1.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 16.0.6";

/// A fresh database where `stubs` (SQL replacing or adding functions in
/// `pg_catalog`) ran.
async fn playing(stubs: &str) -> (String, Pool) {
    let (url, _, pool) = fresh().await;
    let admin = pool.get().await.unwrap();
    admin.batch_execute(stubs).await.unwrap();
    drop(deadpool_postgres::Object::take(admin));
    let pool = migrate_runtime::pool_from_url(&url, 4).unwrap();
    (url, pool)
}

fn version(text: &str) -> String {
    format!("CREATE OR REPLACE FUNCTION pg_catalog.version() RETURNS text LANGUAGE sql AS $$SELECT '{text}'::text$$;")
}

/// CockroachDB's `pg_try_advisory_lock` returns true and locks nothing.
const NO_OP_ADVISORY_LOCK: &str =
    "CREATE OR REPLACE FUNCTION pg_catalog.pg_try_advisory_lock(bigint) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;";

const FILES: &[(&str, &str)] = &[
    ("001_t.sql", "CREATE TABLE t (a int);"),
    ("002_rows.sql", "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);"),
];

/// The lease row after a run: (token, owner is NULL).
async fn lease_row(pool: &Pool) -> Vec<Vec<Option<String>>> {
    rows(
        pool,
        "SELECT token::text, (owner IS NULL)::text FROM schema_migrations_lock",
    )
    .await
}

#[tokio::test]
async fn on_cockroachdb_a_lease_is_used_and_files_run_statement_by_statement() {
    let (_url, pool) = playing(&format!("{}{NO_OP_ADVISORY_LOCK}", version(COCKROACH))).await;
    let (_dir, set) = migrations(&[
        FILES[0],
        FILES[1],
        (
            "003_half.sql",
            "INSERT INTO t VALUES (3);\nINSERT INTO missing VALUES (4);",
        ),
    ]);
    let (logs, _guard) = Logs::capture();
    let e = set.run(&pool).await.unwrap_err();
    let text = logs.text();
    assert!(
        text.contains("Using a lease as the migration lock: CockroachDB's pg_try_advisory_lock always returns true"),
        "{text}"
    );
    let Error::Migration(m) = e else { panic!("{e}") };
    assert_eq!(
        (m.file_name.as_str(), m.statement, m.completed),
        ("003_half.sql", 2, Some(1))
    );
    // Statement by statement: the first INSERT of the failed file stays.
    assert_eq!(
        value(&pool, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t").await,
        "1,2,3"
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "2");
    assert_eq!(
        lease_row(&pool).await,
        vec![vec![Some("1".into()), Some("true".into())]]
    );
}

#[tokio::test]
async fn on_cockroachdb_repeatable_files_and_down_sql_run_statement_by_statement_too() {
    let (_url, pool) = playing(&format!("{}{NO_OP_ADVISORY_LOCK}", version(COCKROACH))).await;
    let (_dir, set) = migrations_in(&[
        FILES[0],
        FILES[1],
        ("002_rows.down.sql", "DELETE FROM t WHERE a = 2;\nDELETE FROM missing;"),
        (
            "repeatable/r.sql",
            "INSERT INTO t VALUES (10);\nINSERT INTO missing VALUES (11);",
        ),
    ]);
    let Error::Migration(m) = set.run(&pool).await.unwrap_err() else {
        panic!("the repeatable file fails")
    };
    assert_eq!(
        (m.file_name.as_str(), m.statement, m.completed, m.line),
        ("repeatable/r.sql", 2, Some(1), 2)
    );
    // Its first statement ran on its own and stays; the file is not recorded.
    assert_eq!(
        value(&pool, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t").await,
        "1,2,10"
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "2");

    let Error::Migration(m) = set.runner().revert_steps(&pool, 1).await.unwrap_err() else {
        panic!("the down SQL fails")
    };
    assert_eq!(
        (m.file_name.as_str(), m.statement, m.completed, m.line),
        ("002_rows.down.sql", 2, Some(1), 2)
    );
    assert_eq!(
        value(&pool, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t").await,
        "1,10"
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "2");
}

#[tokio::test]
async fn on_yugabytedb_a_lease_is_used_without_touching_advisory_locks() {
    let unsupported =
        "CREATE OR REPLACE FUNCTION pg_catalog.pg_try_advisory_lock(bigint) RETURNS boolean LANGUAGE plpgsql AS \
        $$BEGIN RAISE EXCEPTION 'advisory locks are not yet implemented' USING ERRCODE = '0A000'; END$$; \
        CREATE OR REPLACE FUNCTION pg_catalog.pg_try_advisory_xact_lock(bigint) RETURNS boolean LANGUAGE plpgsql AS \
        $$BEGIN RAISE EXCEPTION 'advisory locks are not yet implemented' USING ERRCODE = '0A000'; END$$; \
        CREATE OR REPLACE FUNCTION pg_catalog.pg_advisory_xact_lock(bigint) RETURNS void LANGUAGE plpgsql AS \
        $$BEGIN RAISE EXCEPTION 'advisory locks are not yet implemented' USING ERRCODE = '0A000'; END$$;";
    let (_url, pool) = playing(&format!("{}{unsupported}", version(YUGABYTE))).await;
    let (_dir, set) = migrations(FILES);
    let (logs, _guard) = Logs::capture();
    let report = set.run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert!(
        logs.text().contains("YugabyteDB has no advisory locks"),
        "{}",
        logs.text()
    );
    assert_eq!(
        lease_row(&pool).await,
        vec![vec![Some("1".into()), Some("true".into())]]
    );
    assert!(set.run(&pool).await.unwrap().up_to_date());
}

#[tokio::test]
async fn a_session_lock_that_locks_nothing_is_not_trusted() {
    // PostgreSQL by its version(), but its advisory lock does nothing: the
    // proof in pg_locks fails, and auto falls back to the lease.
    let (_url, pool) = playing(NO_OP_ADVISORY_LOCK).await;
    let (_dir, set) = migrations(FILES);
    let (logs, _guard) = Logs::capture();
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 2);
    assert!(
        logs.text()
            .contains("the session lock did not stay with this connection's backend"),
        "{}",
        logs.text()
    );
    assert_eq!(
        lease_row(&pool).await,
        vec![vec![Some("1".into()), Some("true".into())]]
    );
}

/// An engine without `hashtextextended` (CockroachDB has none).
const NO_HASHTEXTEXTENDED: &str =
    "CREATE OR REPLACE FUNCTION pg_catalog.hashtextextended(text, bigint) RETURNS bigint \
     LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'unknown function: hashtextextended()' \
     USING ERRCODE = 'undefined_function'; END$$;";

#[tokio::test]
async fn without_hashtextextended_the_history_is_read_row_by_row() {
    let (_url, pool) = playing(NO_HASHTEXTEXTENDED).await;
    let (_dir, set) = migrations(&FILES[..1]);
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 1);
    assert!(set.run(&pool).await.unwrap().up_to_date());
    let (_dir, set) = migrations(FILES);
    let report = set.run(&pool).await.unwrap();
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(applied, ["002_rows.sql"]);
    assert!(set.run(&pool).await.unwrap().up_to_date());
}

#[tokio::test]
async fn on_plain_postgresql_auto_keeps_the_session_lock() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(FILES);
    let (logs, _guard) = Logs::capture();
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 2);
    assert!(!logs.text().contains("lease"), "{}", logs.text());
    assert_eq!(
        value(&pool, "SELECT to_regclass('schema_migrations_lock') IS NULL").await,
        "t"
    );
}

#[tokio::test]
async fn on_a_citus_worker_nothing_runs_and_on_the_coordinator_ddl_runs_sequentially() {
    let citus = |coordinator: bool| {
        format!(
            "CREATE OR REPLACE FUNCTION pg_catalog.citus_version() RETURNS text LANGUAGE sql AS $$SELECT 'Citus 12.1.1'::text$$; \
             CREATE OR REPLACE FUNCTION pg_catalog.citus_is_coordinator() RETURNS boolean LANGUAGE sql AS $$SELECT {coordinator}$$;"
        )
    };
    let (_dir, set) = migrations(&[(
        "001_mode.sql",
        "CREATE TABLE mode AS SELECT current_setting('citus.multi_shard_modify_mode') AS m;",
    )]);

    let (_url, worker) = playing(&citus(false)).await;
    let e = set.run(&worker).await.unwrap_err().to_string();
    assert!(
        e.contains("is a Citus worker node; run migrations on the coordinator"),
        "{e}"
    );
    assert_eq!(
        value(&worker, "SELECT to_regclass('schema_migrations') IS NULL").await,
        "t"
    );

    let (_url, coordinator) = playing(&citus(true)).await;
    assert_eq!(set.run(&coordinator).await.unwrap().applied.len(), 1);
    assert_eq!(value(&coordinator, "SELECT m FROM mode").await, "sequential");
}

#[tokio::test]
async fn lock_mode_none_takes_no_lock_and_lease_can_be_asked_for() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(FILES);
    let (logs, _guard) = Logs::capture();
    let report = set.runner().lock_mode(LockMode::None).run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert!(
        logs.text().contains("Lock mode none: no lock is taken"),
        "{}",
        logs.text()
    );

    let (_, _, pool) = fresh().await;
    set.runner().lock_mode(LockMode::Lease).run(&pool).await.unwrap();
    assert_eq!(
        lease_row(&pool).await,
        vec![vec![Some("1".into()), Some("true".into())]]
    );
    assert!(migrate_tests::advisory_locks(&pool).await.is_empty());
}
