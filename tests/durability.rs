//! Files commit without waiting for the disk, and `run` waits once, before
//! it returns: a crash right after a run loses nothing, and a crash during
//! one loses the last files each together with its tracking row.

use migrate_runtime::pool_from_url;
use migrate_tests::{migrations, rows, until, value};
use std::time::Duration;
use throwaway_pg::{Cluster, Options};

/// A cluster that flushes for real, and whose WAL writer flushes
/// asynchronous commits only every 10 s: only `run`'s own wait makes them
/// durable in time.
fn durable_cluster() -> Cluster {
    let settings = [
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("wal_writer_delay", "'10s'"),
        ("wal_writer_flush_after", "'1GB'"),
    ];
    Cluster::start(&Options {
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    })
    .unwrap()
}

fn files() -> Vec<(String, String)> {
    (1..=40)
        .map(|i| {
            (
                format!("{i:03}_t.sql"),
                format!("CREATE TABLE IF NOT EXISTS t_{i:03} (id int);\nINSERT INTO t_{i:03} VALUES ({i});\n"),
            )
        })
        .collect()
}

/// Every recorded file's table exists with its one row, and no table
/// exists without its record. Returns how many files are recorded.
async fn history_and_schema_agree(pool: &deadpool_postgres::Pool) -> usize {
    let recorded = rows(pool, "SELECT filename FROM schema_migrations ORDER BY id").await;
    let tables = rows(
        pool,
        "SELECT relname FROM pg_class WHERE relname LIKE 't\\_%' AND relkind = 'r' ORDER BY relname",
    )
    .await;
    let expected: Vec<String> = recorded
        .iter()
        .map(|r| format!("t_{}", &r[0].as_deref().unwrap()[..3]))
        .collect();
    let found: Vec<String> = tables.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(found, expected, "tables and history rows disagree");
    for table in &found {
        assert_eq!(value(pool, &format!("SELECT count(*) FROM {table}")).await, "1");
    }
    found.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_a_run_loses_nothing_it_reported() {
    let cluster = durable_cluster();
    let url = cluster.create_database().await.unwrap();
    let files = files();
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_dir, set) = migrations(&files);
    let pool = pool_from_url(&url, 1).unwrap();
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 40);
    cluster.stop_immediate().unwrap();
    drop(pool);
    cluster.restart().unwrap();

    let pool = pool_from_url(&url, 1).unwrap();
    assert_eq!(history_and_schema_agree(&pool).await, 40);
    assert!(set.run(&pool).await.unwrap().up_to_date());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_run_loses_files_only_with_their_rows() {
    let cluster = durable_cluster();
    let url = cluster.create_database().await.unwrap();
    let mut files = files();
    files[30].1 = format!("SELECT pg_advisory_xact_lock(777);\n{}", files[30].1);
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_dir, set) = migrations(&files);
    let pool = pool_from_url(&url, 2).unwrap();
    let gate = pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(777)").await.unwrap();
    let run_pool = pool_from_url(&url, 1).unwrap();
    let run = tokio::spawn(async move { set.run(&run_pool).await });
    let at_gate = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                   AND query LIKE '%pg_advisory_xact_lock(777)%'";
    until("the run waiting at the gate", Duration::from_secs(60), async || {
        value(&pool, at_gate).await == "1"
    })
    .await;
    cluster.stop_immediate().unwrap();
    assert!(run.await.unwrap().is_err(), "the run must fail when the server dies");
    drop((gate, pool));
    cluster.restart().unwrap();

    let pool = pool_from_url(&url, 1).unwrap();
    let kept = history_and_schema_agree(&pool).await;
    assert!(kept <= 30, "{kept}");
    eprintln!("kept {kept} of the 30 files committed before the crash");
    let (_dir, set) = migrations(&files);
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), 40 - kept);
    assert_eq!(history_and_schema_agree(&pool).await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_a_failed_run_keeps_the_files_before_the_failure() {
    let cluster = durable_cluster();
    let url = cluster.create_database().await.unwrap();
    let mut files = files();
    files[30].1 = "SELECT * FROM missing_table;".to_string();
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_dir, set) = migrations(&files);
    let pool = pool_from_url(&url, 1).unwrap();
    assert!(set.run(&pool).await.is_err());
    cluster.stop_immediate().unwrap();
    drop(pool);
    cluster.restart().unwrap();

    let pool = pool_from_url(&url, 1).unwrap();
    assert_eq!(history_and_schema_agree(&pool).await, 30);
}
