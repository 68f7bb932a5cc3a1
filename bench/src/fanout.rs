//! `-- fanout`: wall time to migrate 200 tenant schemas of one database
//! (10 of the benchmark's files each) at 1, 4 and 8 jobs, and to find them
//! all up to date, on a server of its own.

use crate::{ms, row, workload};
use migrate_runtime::fanout::{self, Operation, Options, Outcome};
use migrate_runtime::pool_from_url;
use std::time::{Duration, Instant};
use throwaway_pg::{Cluster, Options as ClusterOptions};

const TENANTS: usize = 200;
const FILES: usize = 10;

pub async fn measure(out: &mut String) {
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway PostgreSQL");
    let (_dir, set) = workload::migrations(FILES);
    let mut first = None;
    for jobs in [1, 4, 8] {
        let url = cluster.create_database().await.unwrap();
        let schemas: String = (0..TENANTS).map(|i| format!("CREATE SCHEMA tenant_{i:03};")).collect();
        cluster
            .execute(url.rsplit('/').next().unwrap(), &schemas)
            .await
            .unwrap();
        let pool = pool_from_url(&url, jobs).unwrap();
        let options = Options {
            jobs,
            ..Options::default()
        };
        let run = async || {
            let targets = fanout::schemas_like(&pool, "tenant\\_%").await.unwrap();
            let started = Instant::now();
            let summary = fanout::run(&set.runner(), &pool, targets, &options, Operation::Up, &|_| {}).await;
            assert_eq!(summary.failed().count(), 0, "{summary}");
            (started.elapsed(), summary)
        };
        let (apply, summary) = run().await;
        assert!(summary
            .targets
            .iter()
            .all(|t| matches!(t.outcome, Outcome::Applied(FILES))));
        let (noop, summary) = run().await;
        assert!(summary.targets.iter().all(|t| matches!(t.outcome, Outcome::UpToDate)));
        let (apply_1, noop_1) = *first.get_or_insert((apply, noop));
        let floor = |d: Duration| if jobs == 1 { f64::NAN } else { ms(d) };
        row(
            out,
            &format!("{TENANTS} schemas × {FILES} files, --jobs {jobs}: apply (vs --jobs 1)"),
            ms(apply),
            floor(apply_1),
            "ms",
        );
        row(
            out,
            &format!("{TENANTS} schemas, --jobs {jobs}: all up to date (vs --jobs 1)"),
            ms(noop),
            floor(noop_1),
            "ms",
        );
    }
}
