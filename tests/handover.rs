//! The hand-over of the migration lock between instances starting at once.

use migrate_runtime::pool_from_url;
use migrate_tests::{cluster, fresh, log_len, logged_statements, migrations, until, value, Logs};
use std::time::Duration;

#[tokio::test]
async fn a_waiter_wakes_when_the_holder_releases_and_finds_the_work_done_without_the_lock() {
    let (url, db, pool) = fresh().await;
    cluster()
        .execute("postgres", &format!("ALTER DATABASE {db} SET log_statement = 'all'"))
        .await
        .unwrap();
    // The holder's only file waits for a lock the test holds: the gate.
    let gate = pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(4242)").await.unwrap();
    let (_dir, set) = migrations(&[("001_gated.sql", "SELECT pg_advisory_xact_lock(4242);")]);
    let from = log_len();
    let (logs, _guard) = Logs::capture();
    let holder_pool = pool_from_url(&format!("{url}?application_name=holder"), 1).unwrap();
    let holder = tokio::spawn(async move { set.run(&holder_pool).await });
    logs.wait_for("Found 1 pending migration(s)").await;

    // A fallback poll of an hour: only the holder's announcement can wake
    // this waiter in time.
    let waiter_pool = pool_from_url(&format!("{url}?application_name=waiter"), 1).unwrap();
    let waiter = tokio::spawn(async move {
        set.runner()
            .lock_poll_max(Duration::from_secs(3600))
            .run(&waiter_pool)
            .await
    });
    let listening = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'waiter' \
                     AND state = 'idle' AND query LIKE 'LISTEN %'";
    until("the waiter listening", Duration::from_secs(60), async || {
        value(&pool, listening).await == "1"
    })
    .await;

    gate.batch_execute("SELECT pg_advisory_unlock(4242)").await.unwrap();
    assert_eq!(holder.await.unwrap().unwrap().applied.len(), 1);
    let report = tokio::time::timeout(Duration::from_secs(300), waiter)
        .await
        .expect("the waiter did not wake when the holder released the lock")
        .unwrap()
        .unwrap();
    assert!(report.up_to_date(), "{report:?}");
    assert!(logs.text().contains("holder announced its release"), "{}", logs.text());

    let statements = logged_statements(&db, from);
    let key = migrate_runtime::lock_key(&"public.schema_migrations".parse().unwrap());
    let unlock = format!("pg_advisory_unlock({key})");
    let unlocks = statements.iter().filter(|s| s.contains(&unlock)).count();
    assert_eq!(unlocks, 1, "only the holder took the lock: {statements:#?}");
    assert!(
        statements.iter().any(|s| s.contains("NOTIFY \"migrate_lock_")),
        "{statements:#?}"
    );
    assert!(
        migrate_tests::advisory_locks(&pool).await.is_empty(),
        "a lock outlived the runs"
    );
}
