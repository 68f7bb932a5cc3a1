//! Waiting for the server, and failures that waiting cannot fix.

use migrate_runtime::{embed_migrations, pool_from_url, Error, Migrations};
use migrate_tests::{cluster, fresh};
use std::time::{Duration, Instant};

static EXAMPLE: Migrations = embed_migrations!("../migrations");

#[tokio::test]
async fn a_wrong_password_fails_at_once_and_is_never_shown() {
    let (_, db, _) = fresh().await;
    cluster()
        .execute(
            "postgres",
            "DO $$ BEGIN CREATE ROLE alice LOGIN PASSWORD 'right'; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .await
        .unwrap();
    let pool = pool_from_url(&cluster().url_as("alice", "s3cr3t-wrong", &db), 1).unwrap();
    let started = Instant::now();
    let e = EXAMPLE.run(&pool).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "not retried");
    assert!(matches!(e, Error::Connect(_)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("28P01") && text.contains("password authentication failed"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[tokio::test]
async fn a_missing_database_fails_at_once() {
    let pool = pool_from_url(&cluster().url("no_such_database"), 1).unwrap();
    let e = EXAMPLE.run(&pool).await.unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e}");
    assert!(
        e.to_string().contains("database \"no_such_database\" does not exist"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_the_limit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = pool_from_url(&format!("postgresql://postgres@127.0.0.1:{port}/postgres"), 1).unwrap();
    let (logs, _guard) = migrate_tests::Logs::capture();
    let e = EXAMPLE
        .runner()
        .connect_timeout(Duration::from_millis(700))
        .run(&pool)
        .await
        .unwrap_err();
    match e {
        Error::Unavailable { attempts, .. } => assert!(attempts >= 3, "{attempts}"),
        other => panic!("{other}"),
    }
    assert!(logs.text().contains("Checking PostgreSQL connection..."));
    assert!(logs.text().contains("PostgreSQL not ready"), "{}", logs.text());
}
