//! Applying a whole history to a new database, beside two floors: psql
//! running the same files, and the server executing them with nothing
//! else (no tracking rows, no round trips, no flush per file).

use crate::database;
use migrate_runtime::{pool_from_url, Migrations};
use std::process::Command;
use std::time::{Duration, Instant};
use throwaway_pg::Cluster;

/// How long `set` takes to apply to a new database through `port`.
pub async fn apply(cluster: &Cluster, set: &Migrations, port: u16) -> Duration {
    let (_, db) = database(cluster).await;
    let url = format!("postgresql://postgres:{}@127.0.0.1:{port}/{db}", cluster.password());
    let started = Instant::now();
    let report = set.run(&pool_from_url(&url, 2).unwrap()).await.unwrap();
    assert_eq!(report.applied.len(), set.len());
    started.elapsed()
}

/// Our run against `psql -f` of the same files, each wrapped in
/// BEGIN/COMMIT, in one session; both on fresh databases through `port`.
pub async fn apply_vs_psql(
    cluster: &Cluster,
    set: &Migrations,
    dir: &std::path::Path,
    port: u16,
) -> (Duration, Duration) {
    let ours = apply(cluster, set, port).await;

    let file = dir.join("all.psql");
    std::fs::write(&file, transactions(set)).unwrap();
    let (_, db) = database(cluster).await;
    let started = Instant::now();
    let status = Command::new(cluster.tool("psql").unwrap())
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            &db,
            "-f",
        ])
        .arg(&file)
        .env("PGPASSWORD", cluster.password())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let floor = started.elapsed();
    assert!(status.success());
    (ours, floor)
}

/// The server's own time for `set`: one connection sends every file, each
/// in its own transaction, in a single message, with `synchronous_commit`
/// off and one durable commit at the end, as the runner commits.
pub async fn server_floor(cluster: &Cluster, set: &Migrations) -> Duration {
    let (url, _) = database(cluster).await;
    let script = format!(
        "SET synchronous_commit = off;\n{}SET synchronous_commit = on;\nCREATE TABLE floor_flushed ();\n",
        transactions(set)
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let started = Instant::now();
    client.batch_execute(&script).await.unwrap();
    started.elapsed()
}

/// Every file of `set` between `BEGIN` and `COMMIT`; the `;` ends a last
/// statement written without one.
fn transactions(set: &Migrations) -> String {
    set.iter()
        .map(|m| format!("BEGIN;\n{}\n;\nCOMMIT;\n", m.sql()))
        .collect()
}
