//! Many processes at once, and faults mid-run: every migration is applied
//! and takes effect exactly once, and a rerun finishes the job.
//!
//! The processes are this test binary running its ignored `child` test.
//! Migration 030 passes a gate, `pg_advisory_xact_lock(777)`, that the
//! fault tests hold to stop a child at a known point.

use migrate_runtime::{embed_migrations, pool_from_url, Migrations};
use migrate_tests::children::{assert_applied_exactly_once, at_the_gate, go, hold_gate, open_gate, spawn, wait_all};
use migrate_tests::value;
use std::process::Child;
use std::time::Duration;

static LOAD: Migrations = embed_migrations!("fixtures/load");

/// A child process: waits for a line on stdin, then migrates.
#[test]
#[ignore = "started by the load and fault tests as a child process"]
fn child() {
    migrate_tests::children::migrate(&LOAD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_processes_starting_at_once_apply_each_migration_once() {
    let rounds: usize = std::env::var("MIGRATE_LOAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    for round in 0..rounds {
        let (url, _, pool) = migrate_tests::fresh().await;
        let mut children: Vec<Child> = (0..16)
            .map(|i| spawn(&url, &format!("load-{round}-{i}"), &[]))
            .collect();
        go(&mut children);
        for (i, (ok, stderr)) in wait_all(children, Duration::from_secs(120)).into_iter().enumerate() {
            assert!(ok, "round {round}, process {i} failed:\n{stderr}");
        }
        assert_applied_exactly_once(&pool).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_migration_leaves_a_clean_rerun() {
    let (url, _, pool) = migrate_tests::fresh().await;
    let gate = hold_gate(&pool).await;
    let mut children = vec![spawn(&url, "victim", &[])];
    go(&mut children);
    at_the_gate(&pool).await;
    children[0].kill().unwrap();
    let _ = children.remove(0).wait();
    open_gate(gate).await;
    LOAD.run(&pool).await.unwrap();
    assert_applied_exactly_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_backend_is_replaced_and_the_run_finishes() {
    let (url, _, pool) = migrate_tests::fresh().await;
    let gate = hold_gate(&pool).await;
    let mut children = vec![spawn(&url, "terminated", &[])];
    go(&mut children);
    let (_, pid) = at_the_gate(&pool).await;
    value(&pool, &format!("SELECT pg_terminate_backend({pid})")).await;
    // The run reconnects, takes the lock again, reads the history again
    // and comes back to the gate on a new backend.
    let back = async { while at_the_gate(&pool).await.1 == pid {} };
    tokio::time::timeout(Duration::from_secs(60), back)
        .await
        .expect("the run came back to the gate on a new backend");
    open_gate(gate).await;
    let results = wait_all(children, Duration::from_secs(60));
    assert!(results[0].0, "{}", results[0].1);
    assert_applied_exactly_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_passes_on_when_its_holder_vanishes() {
    let (url, _, pool) = migrate_tests::fresh().await;
    let gate = hold_gate(&pool).await;
    let mut children: Vec<Child> = (0..3).map(|i| spawn(&url, &format!("racer-{i}"), &[])).collect();
    go(&mut children);
    let (holder, _) = at_the_gate(&pool).await;
    let index: usize = holder.trim_start_matches("racer-").parse().unwrap();
    let mut victim = children.remove(index);
    victim.kill().unwrap();
    let _ = victim.wait();
    open_gate(gate).await;
    for (ok, stderr) in wait_all(children, Duration::from_secs(120)) {
        assert!(ok, "{stderr}");
    }
    assert_applied_exactly_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_immediately_mid_run_and_restarted_leaves_a_clean_rerun() {
    // Durable commits: the test clusters trade them for speed, a crash test cannot.
    let options = throwaway_pg::Options {
        settings: vec![("synchronous_commit".into(), "on".into())],
        ..Default::default()
    };
    let cluster = throwaway_pg::Cluster::start(&options).unwrap();
    let url = cluster.create_database().await.unwrap();
    let pool = pool_from_url(&url, 2).unwrap();
    let gate = hold_gate(&pool).await;
    let mut children = vec![spawn(&url, "crashed", &[("MIGRATE_CHILD_CONNECT_TIMEOUT", "1")])];
    go(&mut children);
    at_the_gate(&pool).await;
    cluster.stop_immediate().unwrap();
    let results = wait_all(children, Duration::from_secs(60));
    assert!(!results[0].0, "the run must fail when the server dies");
    let _ = deadpool_postgres::Object::take(gate);
    cluster.restart().unwrap();
    let pool = pool_from_url(&url, 2).unwrap();
    // Files commit without waiting for the disk, so the last ones before
    // the gate may be lost, each with its row: history and effects agree.
    let recorded: u32 = value(&pool, "SELECT count(*) FROM schema_migrations")
        .await
        .parse()
        .unwrap();
    assert!(recorded <= 29, "{recorded}");
    if recorded == 0 {
        assert_eq!(value(&pool, "SELECT to_regclass('effects') IS NULL").await, "t");
    } else {
        let agreeing =
            "SELECT count(*) FROM schema_migrations m JOIN effects e ON e.name = split_part(m.filename, '_', 1)";
        assert_eq!(value(&pool, agreeing).await, (recorded - 1).to_string());
        assert_eq!(
            value(&pool, "SELECT count(*) FROM effects").await,
            (recorded - 1).to_string()
        );
    }
    LOAD.run(&pool).await.unwrap();
    assert_applied_exactly_once(&pool).await;
}
