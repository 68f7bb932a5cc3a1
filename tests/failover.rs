//! A primary with a streaming standby made by `pg_basebackup -R`: a run
//! pointed at the standby is refused at once, and a run given both hosts
//! with `target_session_attrs=read-write` carries on across a failover.

use migrate_runtime::{pool_from_url, Error};
use migrate_tests::{migrations, value};
use std::time::{Duration, Instant};
use throwaway_pg::{Cluster, Options};

/// Thirty files, each adding a row to `effects` (whose primary key makes
/// a second application fail); file 015 first passes the gate
/// `pg_advisory_xact_lock(777)`.
fn thirty_files() -> (tempfile::TempDir, migrate_runtime::Migrations) {
    let mut files = vec![(
        "001_effects.sql".to_string(),
        "CREATE TABLE effects (name text PRIMARY KEY);\nINSERT INTO effects VALUES ('001');".to_string(),
    )];
    for n in 2..=30 {
        let gate = if n == 15 {
            "SELECT pg_advisory_xact_lock(777);\n"
        } else {
            ""
        };
        files.push((
            format!("{n:03}_step.sql"),
            format!("{gate}CREATE TABLE step_{n:03} (id int);\nINSERT INTO effects VALUES ('{n:03}');"),
        ));
    }
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    migrations(&borrowed)
}

fn primary() -> Cluster {
    Cluster::start(&Options::default()).unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"))
}

#[tokio::test]
async fn a_run_pointed_at_a_standby_is_refused_at_once() {
    let primary = primary();
    let url = primary.create_database().await.unwrap();
    let database = url.rsplit('/').next().unwrap();
    let standby = primary.standby().unwrap();
    standby.caught_up_with(&primary).await.unwrap();
    let (_dir, set) = thirty_files();
    let pool = pool_from_url(&standby.url(database), 2).unwrap();
    let started = Instant::now();
    let e = set.run(&pool).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(matches!(e, Error::ReadOnly(_)), "{e:?}");
    let text = e.to_string();
    let expected = format!(
        "the server at 127.0.0.1:{}, database {database} is a read-only standby",
        standby.port()
    );
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("target_session_attrs=read-write"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_mid_run_finishes_on_the_new_primary_applying_each_file_once() {
    let primary = primary();
    let url = primary.create_database().await.unwrap();
    let database = url.rsplit('/').next().unwrap().to_string();
    let standby = primary.standby().unwrap();
    let gate_pool = pool_from_url(&url, 2).unwrap();
    let gate = gate_pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(777)").await.unwrap();

    let both = format!(
        "postgresql://postgres:{}@127.0.0.1:{},127.0.0.1:{}/{database}?target_session_attrs=read-write",
        primary.password(),
        primary.port(),
        standby.port()
    );
    let (_dir, set) = thirty_files();
    let pool = pool_from_url(&both, 2).unwrap();
    let run = tokio::spawn(async move { set.run(&pool).await });

    // The run waits at the gate in file 015: 14 files are applied.
    let at_gate = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                   AND query LIKE '%pg_advisory_xact_lock(777)%' AND pid <> pg_backend_pid()";
    tokio::time::timeout(Duration::from_secs(60), async {
        while value(&gate_pool, at_gate).await != "1" {}
    })
    .await
    .expect("the run reaches the gate");
    standby.caught_up_with(&primary).await.unwrap();
    drop(deadpool_postgres::Object::take(gate));
    primary.stop_immediate().unwrap();
    standby.promote().unwrap();

    let report = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the run finishes")
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.applied.iter().any(|a| a.file_name == "030_step.sql"),
        "{report:?}"
    );
    let new_primary = pool_from_url(&standby.url(&database), 2).unwrap();
    assert_eq!(
        value(&new_primary, "SELECT count(*) FROM schema_migrations").await,
        "30"
    );
    assert_eq!(value(&new_primary, "SELECT count(*) FROM effects").await, "30");
    assert_eq!(value(&new_primary, "SELECT pg_is_in_recovery()").await, "f");
}
