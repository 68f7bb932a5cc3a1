//! `-- diff DIR`: drift detection on a real history. The first `diff` of a
//! set builds its scratch template (about one application of the set); the
//! next ones clone it. Each figure sits next to its floor.

use super::{database, median, ms, row};
use migrate_runtime::schema::ReadOptions;
use migrate_runtime::{pool_from_url, DiffOptions, Migrations, Scratch};
use std::time::Instant;
use throwaway_pg::Cluster;

pub(crate) async fn measure(out: &mut String, dir: &str) {
    let live = Cluster::start(&super::durable_options()).expect("a throwaway PostgreSQL");
    let set = Migrations::from_dir(std::path::Path::new(dir)).expect("a valid migrations folder");
    // A table name of this run's own: the template is keyed by it, so the
    // first diff builds a new one (crates.io has a `schema_migrations` of its own).
    let runner = set
        .runner()
        .table(&format!("bench_history_{}", std::process::id()))
        .unwrap();
    let (url, _) = database(&live).await;
    let pool = pool_from_url(&url, 2).unwrap();
    let started = Instant::now();
    runner.run(&pool).await.unwrap();
    let apply = ms(started.elapsed());

    let started = Instant::now();
    let first = runner
        .diff(&pool, &Scratch::Throwaway, DiffOptions::default())
        .await
        .unwrap();
    let first_ms = ms(started.elapsed());
    assert!(first.drift.is_empty(), "{:?}", first.drift);
    assert!(first.scratch.contains("built now"), "{}", first.scratch);

    let mut cached = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let report = runner
            .diff(&pool, &Scratch::Throwaway, DiffOptions::default())
            .await
            .unwrap();
        cached.push(ms(started.elapsed()));
        assert!(
            report.drift.is_empty() && report.scratch.contains("cached"),
            "{}",
            report.scratch
        );
        let started = Instant::now();
        runner.read_schema(&pool, ReadOptions::default()).await.unwrap();
        reads.push(ms(started.elapsed()));
    }
    // What a cached diff cannot avoid: starting and stopping a kept cluster.
    let kept = tempfile::tempdir().unwrap();
    let options = throwaway_pg::Options {
        data_dir: Some(kept.path().join("cluster")),
        ..Default::default()
    };
    drop(Cluster::start(&options).unwrap());
    let mut restarts = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        drop(Cluster::start(&options).unwrap());
        restarts.push(ms(started.elapsed()));
    }
    let restart = median(restarts);
    let cached = median(cached);
    let files = set.len();
    row(
        out,
        &format!("`diff`, {files} files, first run: builds the template (vs applying the set once)"),
        first_ms,
        apply,
        "ms",
    );
    row(
        out,
        &format!("`diff`, {files} files, template cached, median of 7 (vs reading the live catalogs once)"),
        cached,
        median(reads),
        "ms",
    );
    row(
        out,
        &format!("`diff`, {files} files, template cached (vs starting and stopping the kept scratch cluster)"),
        cached,
        restart,
        "ms",
    );
}
