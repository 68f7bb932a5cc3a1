//! Behind PgBouncer in transaction pooling, with a pool smaller than the
//! number of instances: a session advisory lock would belong to whichever
//! server backend ran the statement, so `auto` takes the lease, and every
//! file is still applied exactly once.

use deadpool_postgres::Pool;
use migrate_runtime::{embed_migrations, pool_from_url, Migrations};
use migrate_tests::children::{
    assert_applied_exactly_once, at_the_gate, go, hold_gate, open_gate, signal, spawn, wait_all,
};
use migrate_tests::{cluster, fresh, value};
use std::process::Child;
use std::time::Duration;
use throwaway_pg::certs::{Authority, Leaf};
use throwaway_pg::{Pooler, PoolerOptions, ServerTls};

static LOAD: Migrations = embed_migrations!("fixtures/load");

/// A child process: waits for a line on stdin, then migrates through the
/// URL it is given, with a lease of `MIGRATE_CHILD_LEASE_MS`.
#[test]
#[ignore = "started by the pooler tests as a child process"]
fn child() {
    migrate_tests::children::migrate(&LOAD);
}

/// PgBouncer in transaction pooling with four server connections.
fn pooler() -> Pooler {
    let options = PoolerOptions {
        pool_size: 4,
        ..PoolerOptions::default()
    };
    Pooler::start(cluster(), options).unwrap_or_else(|e| panic!("cannot start PgBouncer: {e}"))
}

/// The lease row: its token, and whether it is free.
async fn lease(pool: &Pool) -> (i64, bool) {
    let token = value(pool, "SELECT token FROM schema_migrations_lock").await;
    let free = value(pool, "SELECT owner IS NULL FROM schema_migrations_lock").await;
    (token.parse().unwrap(), free == "t")
}

/// Waits until the stopped holder's lease has expired and another instance
/// waits to take it over, or already took it. The holder stopped inside
/// file 030's transaction, whose fence holds the lease row, with the rest
/// of its files sent behind it. If that transaction is still open, opening
/// the gate lets file 030 commit under the lease it still held; then the
/// takeover happens and the next file's fence refuses. (PgBouncer cancels
/// the query of a client that disconnects, so a killed holder's
/// transaction may already be gone, and the lease taken over.)
async fn expired_and_contested(pool: &Pool) {
    let contested = "SELECT EXISTS (SELECT FROM schema_migrations_lock WHERE token > 1) \
                     OR (SELECT expires_at < clock_timestamp() FROM schema_migrations_lock) \
                     AND EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                     AND query LIKE '%schema_migrations_lock\" AS l %')";
    tokio::time::timeout(Duration::from_secs(60), async {
        while value(pool, contested).await != "t" {}
    })
    .await
    .expect("the lease expires and another instance waits for it");
}

/// 8 instances through `pooler` at once, 3 rounds, each on a fresh
/// database reached with the URL's `params`: each file applied once, auto
/// mode on the lease, no lock left, and a rerun finds nothing to do.
async fn eight_instances_three_rounds(pooler: &Pooler, params: &str) {
    for round in 0..3 {
        let (_, name, pool) = fresh().await;
        let through = format!("{}{params}", pooler.url(&name));
        let mut children: Vec<Child> = (0..8)
            .map(|i| spawn(&through, &format!("pooled-{round}-{i}"), &[]))
            .collect();
        go(&mut children);
        for (i, (ok, stderr)) in wait_all(children, Duration::from_secs(120)).into_iter().enumerate() {
            assert!(ok, "round {round}, process {i} failed:\n{stderr}");
        }
        // Each file once, its effect once, the CIC's index valid, and no
        // advisory lock left on any backend of this database.
        assert_applied_exactly_once(&pool).await;
        let (token, free) = lease(&pool).await;
        assert!(
            token >= 1 && free,
            "the lease was used and released: token {token}, free {free}"
        );
        let again = LOAD.run(&pool_from_url(&through, 1).unwrap()).await.unwrap();
        assert!(again.up_to_date(), "{again:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_through_a_transaction_pooler_apply_each_file_once() {
    eight_instances_three_rounds(&pooler(), "").await;
}

/// Hosted poolers take TLS from their clients: the connection's cancel key,
/// which tells auto mode that a pooler answered, is read over TLS too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_through_a_pooler_that_takes_tls_apply_each_file_once() {
    let ca = Authority::new("pooler CA").unwrap();
    let issued = ca
        .issue(&Leaf::server(&["localhost"], &["127.0.0.1".parse().unwrap()]))
        .unwrap();
    let options = PoolerOptions {
        pool_size: 4,
        client_tls: Some(ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            ..ServerTls::default()
        }),
        ..PoolerOptions::default()
    };
    let pooler = Pooler::start(cluster(), options).unwrap_or_else(|e| panic!("cannot start PgBouncer: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ca.crt");
    std::fs::write(&root, ca.cert_pem()).unwrap();
    let plain = pool_from_url(&format!("{}?sslmode=disable", pooler.url("postgres")), 1).unwrap();
    let refused = LOAD.run(&plain).await.unwrap_err().to_string();
    assert!(refused.contains("SSL required"), "{refused}");
    eight_instances_three_rounds(&pooler, &format!("?sslmode=verify-full&sslrootcert={}", root.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_lease_holder_is_taken_over_once_its_lease_expires() {
    let pooler = pooler();
    let (_, name, pool) = fresh().await;
    let gate = hold_gate(&pool).await;
    let through = pooler.url(&name);
    let mut children: Vec<Child> = (0..3)
        .map(|i| spawn(&through, &format!("racer-{i}"), &[("MIGRATE_CHILD_LEASE_MS", "2000")]))
        .collect();
    go(&mut children);
    at_the_gate(&pool).await;
    // The owner names the holder's process: `<host> pid <pid> run <nonce>`.
    let owner = value(&pool, "SELECT owner FROM schema_migrations_lock").await;
    let pid: u32 = owner
        .split(" pid ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let index = children
        .iter()
        .position(|c| c.id() == pid)
        .expect("the holder is one of the children");
    let mut victim = children.remove(index);
    victim.kill().unwrap();
    let _ = victim.wait();
    expired_and_contested(&pool).await;
    open_gate(gate).await;
    for (ok, stderr) in wait_all(children, Duration::from_secs(120)) {
        assert!(ok, "{stderr}");
    }
    assert_applied_exactly_once(&pool).await;
    let (token, free) = lease(&pool).await;
    assert!(
        token >= 2 && free,
        "taken over once expired: token {token}, free {free}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_that_lost_its_lease_records_nothing_more() {
    let pooler = pooler();
    let (_, name, pool) = fresh().await;
    let gate = hold_gate(&pool).await;
    let through = pooler.url(&name);
    let short = [("MIGRATE_CHILD_LEASE_MS", "2000")];
    let mut paused = vec![spawn(&through, "paused", &short)];
    go(&mut paused);
    at_the_gate(&pool).await;
    signal(&paused[0], "-STOP");
    let mut successor = vec![spawn(&through, "successor", &short)];
    go(&mut successor);
    expired_and_contested(&pool).await;
    open_gate(gate).await;
    let (ok, stderr) = wait_all(successor, Duration::from_secs(120)).remove(0);
    assert!(ok, "{stderr}");
    let recorded = value(&pool, "SELECT count(*) FROM schema_migrations").await;
    signal(&paused[0], "-CONT");
    let (ok, stderr) = wait_all(paused, Duration::from_secs(60)).remove(0);
    assert!(!ok, "the paused holder must fail");
    assert!(stderr.contains("lost the migration lease"), "{stderr}");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, recorded);
    assert_applied_exactly_once(&pool).await;
}
