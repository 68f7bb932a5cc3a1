//! Child processes that migrate the `fixtures/load` set, started by the
//! load, fault and pooler tests: each is the calling test binary running
//! its ignored `child` test, which reads `MIGRATE_CHILD_URL`. Migration 030
//! passes a gate, `pg_advisory_xact_lock(777)`, that a test can hold shut
//! to stop a child at a known point.

use crate::{advisory_locks, rows, until, value};
use deadpool_postgres::Pool;
use migrate_runtime::{pool_from_url, Migrations};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The body of a `child` test: waits for [`go`], then migrates `set`
/// through `MIGRATE_CHILD_URL` on a pool of one connection, polling for the
/// lock every 50 ms at most, with `MIGRATE_CHILD_CONNECT_TIMEOUT` (seconds)
/// and `MIGRATE_CHILD_LEASE_MS` when set. Panics with the error.
pub fn migrate(set: &Migrations) {
    let url = std::env::var("MIGRATE_CHILD_URL").expect("MIGRATE_CHILD_URL");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let mut runner = set.runner().lock_poll_max(Duration::from_millis(50));
    if let Ok(seconds) = std::env::var("MIGRATE_CHILD_CONNECT_TIMEOUT") {
        runner = runner.connect_timeout(Duration::from_secs(seconds.parse().unwrap()));
    }
    if let Ok(ms) = std::env::var("MIGRATE_CHILD_LEASE_MS") {
        runner = runner.lease(Duration::from_millis(ms.parse().unwrap()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = pool_from_url(&url, 1).unwrap();
        runner.run(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    });
}

/// Starts the calling binary's ignored `child` test with `url`, named
/// `name` (its `application_name`), and `env`; it waits for [`go`].
pub fn spawn(url: &str, name: &str, env: &[(&str, &str)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env(
            "MIGRATE_CHILD_URL",
            format!(
                "{url}{}application_name={name}",
                if url.contains('?') { '&' } else { '?' }
            ),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `signal` (`-STOP`, `-CONT`, ...) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal}");
}

/// Lets the children start, all at once.
pub fn go(children: &mut [Child]) {
    for child in children.iter_mut() {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
}

/// Exit codes (true = success) and stderr, failing the test after `limit`.
pub fn wait_all(children: Vec<Child>, limit: Duration) -> Vec<(bool, String)> {
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

/// The output of `child`, which runs `what`; fails the test after `limit`.
pub fn output(child: Child, what: &str, limit: Duration) -> Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} ran past {limit:?}"));
    out.unwrap()
}

/// The rest of the first line of `child`'s stdout that starts with
/// `prefix`; fails the test after `limit`.
pub fn line_after(child: &mut Child, prefix: &str, limit: Duration) -> String {
    let stdout = BufReader::new(child.stdout.take().expect("the child's stdout is piped"));
    let (tx, rx) = mpsc::channel();
    let wanted = prefix.to_string();
    std::thread::spawn(move || {
        let line = (stdout.lines().map_while(Result::ok)).find_map(|l| l.strip_prefix(&wanted).map(str::to_string));
        let _ = tx.send(line);
    });
    match rx.recv_timeout(limit) {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the child's stdout ended without a line starting {prefix:?}"),
        Err(_) => panic!("waited {limit:?} for the child to print a line starting {prefix:?}"),
    }
}

/// Every migration recorded once, and its effect happened once.
pub async fn assert_applied_exactly_once(pool: &Pool) {
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

/// Waits until a backend of `database` waits at the gate (a minute at
/// most); returns its application_name and pid.
pub async fn at_the_gate(pool: &Pool) -> (String, String) {
    let mut waiting = Vec::new();
    let query = "SELECT application_name, pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock(777)%'";
    until("a backend waiting at the gate", Duration::from_secs(60), async || {
        waiting = rows(pool, query).await;
        !waiting.is_empty()
    })
    .await;
    let row = &waiting[0];
    (row[0].clone().unwrap_or_default(), row[1].clone().unwrap_or_default())
}

/// A connection of the test that holds the gate shut.
pub async fn hold_gate(pool: &Pool) -> deadpool_postgres::Object {
    let gate = pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(777)").await.unwrap();
    gate
}

/// Opens the gate. (Dropping a pooled connection would keep its lock.)
/// A backend whose client was killed while it waited at the gate then
/// finishes its file, fails to answer, and exits: the server notices a dead
/// client only when it next talks to it.
pub async fn open_gate(gate: deadpool_postgres::Object) {
    gate.batch_execute("SELECT pg_advisory_unlock(777)").await.unwrap();
}
