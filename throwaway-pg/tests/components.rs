//! The standby and the pooler, against real servers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use throwaway_pg::{Cluster, Error, Options, PoolMode, Pooler, PoolerOptions};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

/// The value, or a panic with the error's message (which says how to fix it).
fn ok<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The first column of the last row of a simple query: PgBouncer 1.18 in
/// transaction mode keeps no named prepared statements.
async fn value(client: &Client, sql: &str) -> String {
    let rows = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .rev()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

async fn pid(client: &Client, sql: &str) -> u32 {
    value(client, sql).await.parse().unwrap()
}

#[tokio::test]
async fn a_standby_replicates_refuses_writes_and_takes_over_when_promoted() {
    let primary = ok(Cluster::start(&Options::default()));
    let standby = ok(primary.standby());
    ok(primary
        .execute("postgres", "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
        .await);
    ok(standby.caught_up_with(&primary).await);

    let client = connect(&standby.url("postgres")).await;
    assert_eq!(value(&client, "SELECT count(*) FROM t").await, "2");
    let refused = client.batch_execute("INSERT INTO t VALUES (3)").await.unwrap_err();
    assert_eq!(refused.code(), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{refused}");

    ok(primary.stop_immediate());
    let primary_folder = primary.log_path().parent().unwrap().to_path_buf();
    drop(primary);
    assert!(!primary_folder.exists(), "a cluster stopped earlier is still deleted");

    ok(standby.promote());
    assert_eq!(value(&client, "SELECT pg_is_in_recovery()").await, "f");
    client.batch_execute("INSERT INTO t VALUES (3)").await.unwrap();
    assert_eq!(value(&client, "SELECT count(*) FROM t").await, "3");
}

/// A new database of the shared cluster, and a pooler in front of it.
async fn pooled(options: PoolerOptions) -> (&'static Cluster, String, Pooler) {
    let cluster = throwaway_pg::shared().unwrap_or_else(|e| panic!("{e}"));
    let url = ok(cluster.create_database().await);
    let database = url.rsplit('/').next().unwrap().to_string();
    let pooler = ok(Pooler::start(cluster, options));
    (cluster, database, pooler)
}

fn two_in_transaction_mode() -> PoolerOptions {
    PoolerOptions {
        pool_mode: PoolMode::Transaction,
        pool_size: 2,
        ..PoolerOptions::default()
    }
}

#[tokio::test]
async fn transaction_pooling_hands_a_server_connection_on_at_each_commit() {
    let (_, database, pooler) = pooled(two_in_transaction_mode()).await;
    let url = pooler.url(&database);
    let (a, b, c) = (connect(&url).await, connect(&url).await, connect(&url).await);
    let begin = "BEGIN; SELECT pg_backend_pid()";

    let x = pid(&a, begin).await;
    let y = pid(&b, begin).await;
    assert_ne!(x, y);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(pid(&c, begin).await, x, "a's connection is free once a commits");
    b.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        pid(&a, begin).await,
        y,
        "a, still connected, gets the only free server connection"
    );

    // Both server connections are taken: a fourth client waits for one.
    let d = connect(&url).await;
    let waiting = tokio::spawn(async move { pid(&d, "SELECT pg_backend_pid()").await });
    let admin = connect(&pooler.url("pgbouncer")).await;
    let started = Instant::now();
    while clients_waiting(&admin, &database).await != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the fourth client never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(waiting.await.unwrap(), x);
    a.batch_execute("COMMIT").await.unwrap();
}

async fn clients_waiting(admin: &Client, database: &str) -> u32 {
    let rows = admin.simple_query("SHOW POOLS").await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) if row.get("database") == Some(database) => {
                row.get("cl_waiting").map(|n| n.parse().unwrap())
            }
            _ => None,
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn four_clients_share_two_server_connections() {
    let (cluster, database, pooler) = pooled(two_in_transaction_mode()).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = connect(&pooler.url(&database)).await;
        tasks.push(tokio::spawn(async move {
            let mut pids = Vec::new();
            for _ in 0..5 {
                pids.push(pid(&client, "SELECT pg_backend_pid() FROM pg_sleep(0.01)").await);
            }
            pids
        }));
    }
    let mut pids = BTreeSet::new();
    for task in tasks {
        pids.extend(task.await.unwrap());
    }
    assert!(pids.len() <= 2, "more server connections than the pool size: {pids:?}");

    let direct = connect(&cluster.url("postgres")).await;
    let backends = value(
        &direct,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'"),
    )
    .await;
    assert!(backends.parse::<u32>().unwrap() <= 2, "{backends} backends");
}

#[tokio::test]
async fn a_listed_user_connects_with_its_password() {
    let user = format!("app_{}", std::process::id());
    let (cluster, database, pooler) = pooled(PoolerOptions {
        users: vec![(user.clone(), "s3cret\"x".to_string())],
        ..PoolerOptions::default()
    })
    .await;
    ok(cluster
        .execute("postgres", &format!("CREATE ROLE {user} LOGIN PASSWORD 's3cret\"x'"))
        .await);
    let client = connect(&pooler.url_as(&user, &database)).await;
    assert_eq!(value(&client, "SELECT current_user").await, user);
    assert!(pooler.log_path().exists());
}

/// Run only by `a_killed_test_process_stops_its_standby_and_pooler`: it
/// waits on its stdin, which the parent never writes.
#[tokio::test]
#[ignore = "waits until killed; run by a_killed_test_process_stops_its_standby_and_pooler"]
async fn holds_a_standby_and_a_pooler_until_killed() {
    let primary = ok(Cluster::start(&Options::default()));
    let standby = ok(primary.standby());
    let pooler = ok(Pooler::start(&primary, PoolerOptions::default()));
    for (name, port, url, file) in [
        ("standby", standby.port(), standby.url("postgres"), standby.log_path()),
        ("pooler", pooler.port(), pooler.url("postgres"), pooler.log_path()),
    ] {
        println!("{name} {port} {url} {}", file.parent().unwrap().display());
    }
    std::io::stdin().read_line(&mut String::new()).unwrap();
}

#[tokio::test]
async fn a_killed_test_process_stops_its_standby_and_pooler() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "holds_a_standby_and_a_pooler_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let held: Vec<(String, String, std::path::PathBuf)> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut words = line.splitn(4, ' ');
            match (words.next()?, words.next()?, words.next()?, words.next()?) {
                ("standby" | "pooler", port, url, folder) => Some((port.to_string(), url.to_string(), folder.into())),
                _ => None,
            }
        })
        .take(2)
        .collect();
    assert_eq!(held.len(), 2, "the child reports its standby and pooler");
    for (_, url, _) in &held {
        connect(url).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The guardian shells notice the closed pipe, stop both and delete their folders.
    let started = Instant::now();
    for (port, _, folder) in &held {
        while folder.exists() || std::net::TcpStream::connect(("127.0.0.1", port.parse().unwrap())).is_ok() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "port {port} or {} outlived the killed test process",
                folder.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
