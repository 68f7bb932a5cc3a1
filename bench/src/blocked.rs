//! The classic migration outage: a long transaction has read a table, a
//! migration's `ALTER TABLE` queues behind it for an exclusive lock, and
//! every later reader queues behind the `ALTER`. Measures the longest
//! wait of a reader that queries the table every 10 ms.

use migrate_runtime::{pool_from_url, Migrations, Timeouts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use throwaway_pg::Cluster;

/// What one run of the scenario measured.
pub struct Figures {
    /// The longest time one reader query took.
    pub longest_read: Duration,
    /// From the blocker's `COMMIT` to the migration's success.
    pub after_blocker: Duration,
}

/// The blocker stays open for 10 s; the migration starts 1 s in.
pub async fn measure(cluster: &Cluster, timeouts: Timeouts) -> Figures {
    let url = cluster.create_database().await.unwrap();
    let pool = pool_from_url(&url, 4).unwrap();
    pool.get()
        .await
        .unwrap()
        .batch_execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, balance int); \
             INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("001_note.sql"),
        "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS note text;\n",
    )
    .unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (pool, stop) = (pool.clone(), stop.clone());
        async move {
            let client = pool.get().await.unwrap();
            let mut longest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                client
                    .simple_query("SELECT balance FROM accounts WHERE id = 1")
                    .await
                    .unwrap();
                longest = longest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            longest
        }
    });
    let blocker = pool.get().await.unwrap();
    blocker
        .batch_execute("BEGIN; SELECT count(*) FROM accounts")
        .await
        .unwrap();
    let blocker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        blocker.batch_execute("COMMIT").await.unwrap();
        Instant::now()
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    set.runner().timeouts(timeouts).run(&pool).await.unwrap();
    let done = Instant::now();
    let ended = blocker.await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    Figures {
        longest_read: reader.await.unwrap(),
        after_blocker: done.saturating_duration_since(ended),
    }
}
