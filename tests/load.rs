//! Many processes at once, and faults mid-run: every migration is applied
//! and takes effect exactly once, and a rerun finishes the job.
//!
//! The processes are this test binary running its ignored `child` test.
//! Migration 030 passes a gate, `pg_advisory_xact_lock(777)`, that the
//! fault tests hold to stop a child at a known point.

use deadpool_postgres::Pool;
use migrate_runtime::{embed_migrations, pool_from_url, Migrations};
use migrate_tests::{advisory_locks, rows, value};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

static LOAD: Migrations = embed_migrations!("fixtures/load");

/// A child process: waits for a line on stdin, then migrates.
#[test]
#[ignore = "started by the load and fault tests as a child process"]
fn child() {
    let url = std::env::var("MIGRATE_CHILD_URL").expect("MIGRATE_CHILD_URL");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = pool_from_url(&url, 1).unwrap();
        let report = LOAD.runner().lock_poll_max(Duration::from_millis(50)).run(&pool).await;
        report.unwrap_or_else(|e| panic!("{e}"));
    });
}

fn spawn(url: &str, name: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env("MIGRATE_CHILD_URL", format!("{url}?application_name={name}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn go(children: &mut [Child]) {
    for child in children.iter_mut() {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
}

/// Exit codes (true = success) and stderr, failing the test after `limit`.
fn wait_all(children: Vec<Child>, limit: Duration) -> Vec<(bool, String)> {
    let (tx, rx) = mpsc::channel();
    let count = children.len();
    for (i, child) in children.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let out = child.wait_with_output().unwrap();
            let _ = tx.send((
                i,
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        });
    }
    let mut results = vec![(false, String::new()); count];
    for _ in 0..count {
        let (i, ok, err) = rx.recv_timeout(limit).expect("a child process hung");
        results[i] = (ok, err);
    }
    results
}

/// Every migration recorded once, and its effect happened once.
async fn assert_applied_exactly_once(pool: &Pool) {
    let recorded = rows(
        pool,
        "SELECT filename, count(*) FROM schema_migrations GROUP BY filename HAVING count(*) <> 1",
    )
    .await;
    assert!(recorded.is_empty(), "recorded more than once: {recorded:?}");
    assert_eq!(value(pool, "SELECT count(*) FROM schema_migrations").await, "40");
    assert_eq!(value(pool, "SELECT count(*) FROM effects").await, "39");
    assert_eq!(value(pool, "SELECT count(DISTINCT name) FROM effects").await, "39");
    assert_eq!(
        value(
            pool,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_effects_name'::regclass"
        )
        .await,
        "t"
    );
    assert!(advisory_locks(pool).await.is_empty());
}

/// Waits until a backend of `database` waits at the gate; returns its
/// application_name and pid.
async fn at_the_gate(pool: &Pool) -> (String, String) {
    loop {
        let waiting = rows(
            pool,
            "SELECT application_name, pid FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock(777)%'",
        )
        .await;
        if let Some(row) = waiting.first() {
            return (row[0].clone().unwrap_or_default(), row[1].clone().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection of the test that holds the gate shut.
async fn hold_gate(pool: &Pool) -> deadpool_postgres::Object {
    let gate = pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(777)").await.unwrap();
    gate
}

/// Opens the gate. (Dropping a pooled connection would keep its lock.)
/// A backend whose client was killed while it waited at the gate then
/// finishes its file, fails to answer, and exits: the server notices a dead
/// client only when it next talks to it.
async fn open_gate(gate: deadpool_postgres::Object) {
    gate.batch_execute("SELECT pg_advisory_unlock(777)").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_processes_starting_at_once_apply_each_migration_once() {
    let rounds: usize = std::env::var("MIGRATE_LOAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    for round in 0..rounds {
        let (url, _, pool) = migrate_tests::fresh().await;
        let mut children: Vec<Child> = (0..16).map(|i| spawn(&url, &format!("load-{round}-{i}"))).collect();
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
    let mut children = vec![spawn(&url, "victim")];
    go(&mut children);
    at_the_gate(&pool).await;
    children[0].kill().unwrap();
    let _ = children.remove(0).wait();
    open_gate(gate).await;
    LOAD.run(&pool).await.unwrap();
    assert_applied_exactly_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_backend_fails_the_run_and_a_rerun_finishes() {
    let (url, _, pool) = migrate_tests::fresh().await;
    let gate = hold_gate(&pool).await;
    let mut children = vec![spawn(&url, "terminated")];
    go(&mut children);
    let (_, pid) = at_the_gate(&pool).await;
    value(&pool, &format!("SELECT pg_terminate_backend({pid})")).await;
    let results = wait_all(children, Duration::from_secs(60));
    assert!(!results[0].0, "the run must fail");
    assert!(results[0].1.contains("030_gate.sql"), "{}", results[0].1);
    open_gate(gate).await;
    LOAD.run(&pool).await.unwrap();
    assert_applied_exactly_once(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_passes_on_when_its_holder_vanishes() {
    let (url, _, pool) = migrate_tests::fresh().await;
    let gate = hold_gate(&pool).await;
    let mut children: Vec<Child> = (0..3).map(|i| spawn(&url, &format!("racer-{i}"))).collect();
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
    let mut children = vec![spawn(&url, "crashed")];
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
