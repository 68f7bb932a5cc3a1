//! Lock and statement timeouts: a blocked file retries and names who
//! blocks it, gives up within its budget leaving nothing applied, and a
//! failed `CREATE INDEX CONCURRENTLY` leaves no INVALID index.

use deadpool_postgres::{Object, Pool};
use migrate_runtime::{Error, Timeouts};
use migrate_tests::{client_value, fresh, migrations, rows, value, Logs};
use std::time::Duration;

/// A session that read `t` inside a transaction it keeps open; with
/// `snapshot`, it also holds a snapshot (REPEATABLE READ).
async fn blocker(pool: &Pool, name: &str, snapshot: bool) -> (Object, String) {
    let client = pool.get().await.unwrap();
    let pid = client_value(&client, "SELECT pg_backend_pid()").await;
    let isolation = if snapshot {
        "ISOLATION LEVEL REPEATABLE READ"
    } else {
        ""
    };
    client
        .batch_execute(&format!(
            "SET application_name = '{name}'; BEGIN {isolation}; SELECT count(*) FROM t"
        ))
        .await
        .unwrap();
    (client, pid)
}

async fn table_t(pool: &Pool) {
    pool.get()
        .await
        .unwrap()
        .batch_execute("CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 100)")
        .await
        .unwrap();
}

/// A schedule that gives up quickly.
fn short(budget: Duration) -> Timeouts {
    Timeouts {
        lock_timeout: Some(Duration::from_millis(200)),
        lock_timeout_max: Duration::from_millis(400),
        retry_pause: Duration::from_millis(20),
        retry_pause_max: Duration::from_millis(100),
        budget,
        ..Timeouts::default()
    }
}

fn blocked(e: Error) -> migrate_runtime::BlockedError {
    match e {
        Error::Blocked(b) => *b,
        other => panic!("expected a lock timeout error, got {other}"),
    }
}

#[tokio::test]
async fn a_blocked_file_retries_naming_the_blocker_and_succeeds_once_it_ends() {
    let (_, _, pool) = fresh().await;
    table_t(&pool).await;
    let (holder, pid) = blocker(&pool, "report", false).await;
    let (_dir, set) = migrations(&[(
        "001_add.sql",
        "CREATE TABLE IF NOT EXISTS side (id int);\nALTER TABLE t ADD COLUMN IF NOT EXISTS b int;",
    )]);

    let (logs, _guard) = Logs::capture();
    let run = tokio::spawn({
        let pool = pool.clone();
        async move { set.run(&pool).await }
    });
    let needle = format!("blocked by pid {pid} (application_name 'report', idle in transaction, transaction open");
    logs.wait_for(&needle).await;
    let text = logs.text();
    let line = text.lines().find(|l| l.contains(&needle)).unwrap();
    assert!(
        line.contains("001_add.sql: lock_timeout (") && line.contains(" ms) ran out on attempt "),
        "{line}"
    );
    assert!(line.contains("(the file's transaction rolled back)"), "{line}");
    assert!(line.contains("SELECT count(*) FROM t`)"), "{line}");
    holder.batch_execute("COMMIT").await.unwrap();

    let report = run.await.unwrap().unwrap();
    assert_eq!(report.applied.len(), 1);
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'b'"
        )
        .await,
        "1"
    );
}

#[tokio::test]
async fn a_blocker_that_outlasts_the_budget_is_named_and_nothing_is_applied() {
    let (_, _, pool) = fresh().await;
    table_t(&pool).await;
    let (_holder, pid) = blocker(&pool, "long_report", false).await;
    let (_dir, set) = migrations(&[(
        "001_add.sql",
        "CREATE TABLE IF NOT EXISTS side (id int);\nALTER TABLE t ADD COLUMN IF NOT EXISTS b int;",
    )]);

    let e = blocked(
        set.runner()
            .timeouts(short(Duration::from_secs(3)))
            .run(&pool)
            .await
            .unwrap_err(),
    );
    assert!(e.attempts > 1, "{e}");
    let pids: Vec<String> = e.blockers.iter().map(|b| b.pid.to_string()).collect();
    assert_eq!(pids, [pid.as_str()]);
    let text = e.to_string();
    assert!(text.starts_with("migration 001_add.sql gave up after"), "{text}");
    assert!(
        text.contains(&format!(
            "blocked by pid {pid} (application_name 'long_report', idle in transaction"
        )),
        "{text}"
    );
    assert!(text.contains("001_add.sql:2:1"), "{text}");
    assert!(text.contains("ERROR 55P03"), "{text}");
    assert!(text.contains("nothing of this file was applied"), "{text}");
    assert_eq!(
        value(
            &pool,
            "SELECT to_regclass('side') IS NULL AND to_regclass('schema_migrations') IS NOT NULL"
        )
        .await,
        "t"
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "0");
}

#[tokio::test]
async fn directives_override_the_runner_timeouts() {
    let (_, _, pool) = fresh().await;
    let seen = "SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement";
    let (_dir, set) = migrations(&[
        ("001_defaults.sql", &format!("CREATE TABLE s1 AS {seen};")),
        (
            "002_directives.sql",
            &format!("-- migrate: lock-timeout 5s\n-- migrate: statement-timeout 10min\nCREATE TABLE s2 AS {seen};"),
        ),
        (
            "003_off.sql",
            &format!("-- migrate: lock-timeout off\n-- migrate: statement-timeout off\nCREATE TABLE s3 AS {seen};"),
        ),
        (
            "004_no_transaction.sql",
            &format!("-- migrate: no-transaction\n-- migrate: lock-timeout 3s\nCREATE TABLE s4 AS {seen};\nCREATE TABLE s5 AS {seen};"),
        ),
    ]);
    let timeouts = Timeouts {
        statement_timeout: Some(Duration::from_secs(30)),
        ..Timeouts::default()
    };
    set.runner().timeouts(timeouts).run(&pool).await.unwrap();
    let settings = rows(
        &pool,
        "SELECT lock, statement FROM s1 UNION ALL SELECT * FROM s2 UNION ALL SELECT * FROM s3 \
         UNION ALL SELECT * FROM s4 UNION ALL SELECT * FROM s5",
    )
    .await;
    let expected = [
        ["250ms", "30s"],
        ["5s", "10min"],
        ["0", "0"],
        ["3s", "30s"],
        ["3s", "30s"],
    ];
    let settings: Vec<Vec<String>> = settings
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    assert_eq!(settings, expected.map(|r| r.map(String::from).to_vec()).to_vec());
    // Nothing leaks into the pool.
    assert_eq!(value(&pool, "SHOW lock_timeout").await, "0");
}

#[tokio::test]
async fn statement_timeout_stops_a_long_statement() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[(
        "001_slow.sql",
        "-- migrate: statement-timeout 200ms\nCREATE TABLE IF NOT EXISTS before_sleep (id int);\nSELECT pg_sleep(600);",
    )]);
    let e = match set.run(&pool).await.unwrap_err() {
        Error::Migration(m) => *m,
        other => panic!("expected a migration error, got {other}"),
    };
    assert_eq!((e.code.as_str(), e.line, e.statement), ("57014", 3, 2), "{e}");
    assert_eq!(e.message, "canceling statement due to statement timeout");
    assert_eq!(value(&pool, "SELECT to_regclass('before_sleep') IS NULL").await, "t");
}

const CIC: &str = "-- migrate: no-transaction\nCREATE TABLE IF NOT EXISTS other (id int);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);";

#[tokio::test]
async fn a_concurrent_index_retried_after_a_lock_timeout_leaves_no_invalid_index() {
    let (_, _, pool) = fresh().await;
    table_t(&pool).await;
    let (holder, pid) = blocker(&pool, "snapshot", true).await;
    let (_dir, set) = migrations(&[("001_index.sql", CIC)]);

    let (logs, _guard) = Logs::capture();
    let run = tokio::spawn({
        let pool = pool.clone();
        async move { set.run(&pool).await }
    });
    logs.wait_for("it left the INVALID index public.t_a, dropped before the retry")
        .await;
    logs.wait_for(&format!("blocked by pid {pid} (application_name 'snapshot'"))
        .await;
    holder.batch_execute("COMMIT").await.unwrap();

    run.await.unwrap().unwrap();
    assert!(
        logs.text().contains(
            "001_index.sql: dropped the INVALID index public.t_a that the failed CREATE INDEX CONCURRENTLY left"
        ),
        "{}",
        logs.text()
    );
    assert_eq!(
        rows(
            &pool,
            "SELECT indexrelid::regclass::text, indisvalid::text FROM pg_index WHERE indrelid = 't'::regclass"
        )
        .await,
        [[Some("t_a".to_string()), Some("true".to_string())]]
    );
}

#[tokio::test]
async fn giving_up_on_a_concurrent_index_names_the_invalid_index_and_how_to_drop_it() {
    let (_, _, pool) = fresh().await;
    table_t(&pool).await;
    let (holder, pid) = blocker(&pool, "snapshot", true).await;
    let (_dir, set) = migrations(&[("001_index.sql", CIC)]);

    let e = blocked(
        set.runner()
            .timeouts(short(Duration::from_secs(2)))
            .run(&pool)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.invalid_index.as_deref(), Some("public.t_a"));
    let text = e.to_string();
    assert!(
        text.contains(&format!("blocked by pid {pid} (application_name 'snapshot'")),
        "{text}"
    );
    assert!(
        text.contains("the failed CREATE INDEX CONCURRENTLY left the INVALID index public.t_a; remove it with `DROP INDEX CONCURRENTLY public.t_a;`"),
        "{text}"
    );
    assert!(text.contains("001_index.sql:3:1"), "{text}");
    assert!(text.contains("statements 1 to 1 ran and stay applied"), "{text}");
    // The first statement ran and stays; the file is not recorded.
    assert_eq!(value(&pool, "SELECT to_regclass('other') IS NOT NULL").await, "t");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "0");

    holder.batch_execute("COMMIT").await.unwrap();
    pool.get()
        .await
        .unwrap()
        .batch_execute("DROP INDEX CONCURRENTLY public.t_a")
        .await
        .unwrap();
    assert_eq!(
        value(&pool, "SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass").await,
        "0"
    );
}

#[tokio::test]
async fn a_do_block_that_may_have_committed_is_not_retried() {
    let (_, _, pool) = fresh().await;
    table_t(&pool).await;
    let (_holder, pid) = blocker(&pool, "report", false).await;
    let (_dir, set) = migrations(&[(
        "001_do.sql",
        "-- migrate: no-transaction\nDO $$ BEGIN ALTER TABLE t ADD COLUMN IF NOT EXISTS b int; END $$;",
    )]);

    // A longer first timeout leaves time to see the blocker on a busy machine.
    let timeouts = Timeouts {
        lock_timeout: Some(Duration::from_secs(1)),
        ..Timeouts::default()
    };
    let e = blocked(set.runner().timeouts(timeouts).run(&pool).await.unwrap_err());
    assert_eq!(e.attempts, 1);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "migration 001_do.sql could not take a lock within lock_timeout and was not retried \
             (a procedure or DO block may have committed part of its work)"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("pid {pid} (application_name 'report'")),
        "{text}"
    );
}
