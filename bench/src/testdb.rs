//! Time to a ready, migrated database for one test: a clone of the
//! template (`migrate_runtime::testing`) against creating an empty database
//! and replaying every migration (what `#[sqlx::test]` does).

use migrate_runtime::testing::{Strategy, TestDatabase};
use migrate_runtime::{pool_from_url, Migrations};
use std::time::{Duration, Instant};
use throwaway_pg::{Cluster, Options};

/// Measures at 10, 100 and 1000 migrations on a server of its own (no
/// statement logging), and appends the rows to `out`.
pub async fn measure(out: &mut String) {
    let cluster = Cluster::start(&Options::default()).expect("a throwaway PostgreSQL");
    // Read once, when the first test database is made.
    std::env::set_var("MIGRATE_TEST_DATABASE_URL", cluster.url("postgres"));
    let (admin, connection) = tokio_postgres::connect(&cluster.url("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for n in [10, 100, 1000] {
        let (_dir, set) = crate::workload::migrations(n);
        let started = Instant::now();
        TestDatabase::new(&set).await.unwrap().close().await.unwrap();
        let build = super::ms(started.elapsed());
        let spare = median_of(15, || from_spare(&admin, &set)).await;
        drop_spares(&admin).await;
        let file_copy = median_of(15, || clone(&set, Strategy::FileCopy)).await;
        let wal_log = median_of(15, || clone(&set, Strategy::WalLog)).await;
        let replay = median_of(if n == 1000 { 3 } else { 5 }, || replay(&cluster, &admin, &set)).await;
        super::row(
            out,
            &format!("ready test database, {n} migrations: spare clone renamed (median) vs replay"),
            spare,
            replay,
            "ms",
        );
        super::row(
            out,
            &format!("ready test database, {n} migrations: clone on demand, WAL_LOG (default; median) vs replay"),
            wal_log,
            replay,
            "ms",
        );
        super::row(
            out,
            &format!("ready test database, {n} migrations: clone on demand, FILE_COPY (median) vs WAL_LOG"),
            file_copy,
            wal_log,
            "ms",
        );
        super::row(
            out,
            &format!("test template, {n} migrations: first build, once per server"),
            build,
            f64::NAN,
            "ms",
        );
    }
}

async fn median_of<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(super::ms(f().await));
    }
    super::median(times)
}

/// A test that finds a spare waiting (the steady state when a test takes
/// longer than a clone), ready when a first query has answered.
async fn from_spare(admin: &tokio_postgres::Client, set: &Migrations) -> Duration {
    let probe = TestDatabase::builder().spares(1).create(set).await.unwrap();
    let prefix = format!("migrate_spare_{}_", &probe.template()["migrate_tpl_".len()..]);
    probe.close().await.unwrap();
    while admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE starts_with(datname, $1) LIMIT 1",
            &[&prefix],
        )
        .await
        .unwrap()
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let db = TestDatabase::builder().spares(1).create(set).await.unwrap();
    db.pool().get().await.unwrap().simple_query("SELECT 1").await.unwrap();
    let elapsed = started.elapsed();
    db.close().await.unwrap();
    elapsed
}

async fn drop_spares(admin: &tokio_postgres::Client) {
    for row in admin
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, 'migrate_spare_')",
            &[],
        )
        .await
        .unwrap()
    {
        let name: String = row.get(0);
        admin.batch_execute(&format!("DROP DATABASE \"{name}\"")).await.unwrap();
    }
}

/// A clone made when the test asks (no spare), ready likewise.
async fn clone(set: &Migrations, strategy: Strategy) -> Duration {
    let started = Instant::now();
    let db = TestDatabase::builder()
        .strategy(strategy)
        .spares(0)
        .create(set)
        .await
        .unwrap();
    db.pool().get().await.unwrap().simple_query("SELECT 1").await.unwrap();
    let elapsed = started.elapsed();
    db.close().await.unwrap();
    elapsed
}

/// An empty database with every migration applied, ready likewise.
async fn replay(cluster: &Cluster, admin: &tokio_postgres::Client, set: &Migrations) -> Duration {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!("replay_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let started = Instant::now();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let pool = pool_from_url(&cluster.url(&name), 4).unwrap();
    assert_eq!(set.run(&pool).await.unwrap().applied.len(), set.len());
    pool.get().await.unwrap().simple_query("SELECT 1").await.unwrap();
    let elapsed = started.elapsed();
    pool.close();
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    elapsed
}
