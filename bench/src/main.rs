//! `cargo run --release -p migrate-bench`: every figure next to its floor,
//! measured in the same run, written to `target/bench-results.md`.

mod app;
mod apply;
mod blocked;
mod drift;
mod fanout;
mod proxy;
mod rebuild;
mod startup;
mod testdb;
mod testrun;
mod workload;

use migrate_runtime::{pool_from_url, Migrations, Timeouts};
use std::fmt::Write as _;
use std::time::Duration;
use throwaway_pg::certs::{Authority, Leaf};
use throwaway_pg::{Cluster, Options, ServerTls};

/// The head of every table the bench prints.
const HEADER: &str = "| measurement | ours | floor | ratio |\n| --- | --- | --- | --- |\n";

#[tokio::main]
async fn main() {
    // `-- testing`: only the test database figures.
    if std::env::args().nth(1).as_deref() == Some("testing") {
        let mut out = String::from(HEADER);
        testdb::measure(&mut out).await;
        fanout::measure(&mut out).await;
        println!("{out}");
        return;
    }
    // `-- test-run [nextest]`: test databases in a generated crate's `cargo test`.
    if std::env::args().nth(1).as_deref() == Some("test-run") {
        let nextest = std::env::args().nth(2).as_deref() == Some("nextest");
        let mut out = String::from(HEADER);
        testrun::measure(&mut out, nextest).await;
        println!("{out}");
        return;
    }
    // `-- syntax-check`: what the feature adds to a rebuild.
    if std::env::args().nth(1).as_deref() == Some("syntax-check") {
        let (off, on, baseline) = rebuild::syntax_check();
        let mut out = String::from(HEADER);
        let ms = |s: f64| s * 1000.0;
        let what = "release rebuild after touch, 1000 files, syntax-check on (vs off)";
        row(&mut out, what, ms(on), ms(off), "ms");
        let what = "the same, files up to a lint baseline at 999 (vs off)";
        row(&mut out, what, ms(baseline), ms(off), "ms");
        println!("{out}");
        return;
    }
    // `-- fanout`: only the many-tenants figures.
    if std::env::args().nth(1).as_deref() == Some("fanout") {
        let mut out = String::from(HEADER);
        fanout::measure(&mut out).await;
        println!("{out}");
        return;
    }
    // `-- pipeline`: applying 1000 files over 5 ms RTT against locally.
    if std::env::args().nth(1).as_deref() == Some("pipeline") {
        let mut out = String::from(HEADER);
        pipeline(&mut out).await;
        println!("{out}");
        return;
    }
    // `-- tls`: the no-op start over verify-full beside plaintext.
    if std::env::args().nth(1).as_deref() == Some("tls") {
        let mut out = String::from(HEADER);
        let plain = Cluster::start(&durable_options()).expect("a throwaway PostgreSQL");
        tls_startup(&mut out, &plain).await;
        println!("{out}");
        return;
    }
    // `-- diff DIR`: drift detection on the history in DIR.
    if std::env::args().nth(1).as_deref() == Some("diff") {
        let dir = std::env::args().nth(2).expect("-- diff DIR: the migrations folder");
        let mut out = String::from(HEADER);
        drift::measure(&mut out, &dir).await;
        println!("{out}");
        return;
    }
    // `-- startup [DIR]`: a container's start and applying a history, on a
    // durable server, beside their floors (DIR: the files to apply).
    if std::env::args().nth(1).as_deref() == Some("startup") {
        let mut out = String::from(HEADER);
        startup(&mut out, std::env::args().nth(2)).await;
        println!("{out}");
        return;
    }
    let cluster = Cluster::start(&Options {
        settings: vec![("log_statement".into(), "'all'".into())],
        ..Options::default()
    })
    .expect("a throwaway PostgreSQL");
    let mut out = String::from(HEADER);
    blocked_ddl(&cluster, &mut out).await;
    if std::env::args().nth(1).as_deref() == Some("blocked-ddl") {
        println!("{out}");
        return;
    }

    let (counting, replied) = proxy::start_counting(cluster.port(), Duration::ZERO).await;
    let mut reply_at_10 = f64::NAN;
    for n in [10, 100, 1000] {
        let (_dir, set) = workload::migrations(n);
        let (url, db) = database(&cluster).await;
        set.run(&pool_from_url(&url, 2).unwrap()).await.unwrap();
        let through_proxy = url.replace(&format!(":{}/", cluster.port()), &format!(":{counting}/"));
        let before = replied.load(std::sync::atomic::Ordering::Relaxed);
        assert!(set
            .run(&pool_from_url(&through_proxy, 1).unwrap())
            .await
            .unwrap()
            .up_to_date());
        let bytes = (replied.load(std::sync::atomic::Ordering::Relaxed) - before) as f64;
        if n == 10 {
            reply_at_10 = bytes;
        }
        row(
            &mut out,
            &format!("no-op start-up, {n} applied: bytes from the server (vs 10 applied)"),
            bytes,
            reply_at_10,
            "B",
        );
        let from = log_len(&cluster);
        assert!(set.run(&pool_from_url(&url, 2).unwrap()).await.unwrap().up_to_date());
        let statements = statements(&cluster, &db, from);
        row(
            &mut out,
            &format!("no-op start-up, {n} applied: statements"),
            statements as f64,
            1.0,
            "",
        );
    }

    let proxy = proxy::start(cluster.port(), Duration::from_micros(2500)).await;
    let (dir, set) = workload::migrations(1000);
    let (ours, floor) = apply::apply_vs_psql(&cluster, &set, dir.path(), proxy).await;
    row(
        &mut out,
        "apply 1000 files over 5 ms RTT (vs psql)",
        ms(ours),
        ms(floor),
        "ms",
    );

    startup(&mut out, None).await;

    let rebuild = rebuild::measure();
    row(
        &mut out,
        "release rebuild after touch, 1000 files (vs 10 files)",
        rebuild.secs_1000 * 1000.0,
        rebuild.secs_10 * 1000.0,
        "ms",
    );
    row(
        &mut out,
        "stripped binary growth 10 → 1000 files (vs SQL bytes added)",
        rebuild.binary_growth as f64 / 1024.0,
        rebuild.sql_growth as f64 / 1024.0,
        "KiB",
    );

    testdb::measure(&mut out).await;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results.md");
    std::fs::write(&path, &out).unwrap();
    println!("{out}\nwritten to {}", path.display());
}

/// On a server with fsync and synchronous commits on: the no-op start and
/// 8 instances at once (process start to exit), applying 100 and 1000
/// files (or the files of `dir`) beside psql and the server alone, and
/// what calling `run` adds to the caller's rebuild.
async fn startup(out: &mut String, dir: Option<String>) {
    let durable = Cluster::start(&durable_options()).expect("a throwaway PostgreSQL");
    let figures = startup::measure(&durable).await;
    for (n, ours, floor) in figures.noop {
        row(
            out,
            &format!("no-op start-up, {n} applied, process start to exit (vs connect + SELECT 1), median of 100"),
            ours,
            floor,
            "ms",
        );
    }
    let (together, alone) = figures.instances;
    row(
        out,
        &format!(
            "8 instances at once, 100 files, until all exit, {} failed (vs one alone), median of 5",
            figures.failed
        ),
        together,
        alone,
        "ms",
    );

    let sets: Vec<Migrations> = match &dir {
        Some(dir) => vec![Migrations::from_dir(std::path::Path::new(dir)).unwrap()],
        None => [100, 1000].into_iter().map(|n| workload::migrations(n).1).collect(),
    };
    // Where psql's script is written.
    let scratch = tempfile::tempdir().unwrap();
    for set in &sets {
        let (mut ours, mut psql, mut server) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let (o, p) = apply::apply_vs_psql(&durable, set, scratch.path(), durable.port()).await;
            ours.push(ms(o));
            psql.push(ms(p));
            server.push(ms(apply::server_floor(&durable, set).await));
        }
        let n = set.len();
        let ours = median(ours);
        row(
            out,
            &format!("apply {n} files (vs psql -f), median of 3"),
            ours,
            median(psql),
            "ms",
        );
        row(
            out,
            &format!("apply {n} files (vs the server alone: one message, no tracking), median of 3"),
            ours,
            median(server),
            "ms",
        );
    }

    tls_startup(out, &durable).await;

    let (calling, pool_only) = rebuild::calling_run();
    row(
        out,
        "release rebuild after touch, 1000 files, main awaits run (vs only builds a pool)",
        calling * 1000.0,
        pool_only * 1000.0,
        "ms",
    );
}

/// fsync and synchronous commits on, as in production.
fn durable_options() -> Options {
    Options {
        settings: [
            ("fsync", "on"),
            ("synchronous_commit", "on"),
            ("full_page_writes", "on"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Options::default()
    }
}

/// The no-op start over `verify-full` beside plaintext, on a second durable
/// cluster that takes TLS only (a certificate for `localhost` from a CA
/// made here).
async fn tls_startup(out: &mut String, plain: &Cluster) {
    let ca = Authority::new("bench CA").unwrap();
    let issued = ca.issue(&Leaf::server(&["localhost"], &[])).unwrap();
    let tls = Cluster::start(&Options {
        tls: Some(ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            ..ServerTls::default()
        }),
        ..durable_options()
    })
    .expect("a throwaway PostgreSQL taking TLS only");
    let files = tempfile::tempdir().unwrap();
    let root = files.path().join("ca.crt");
    std::fs::write(&root, ca.cert_pem()).unwrap();
    let (over_tls, plaintext) = startup::tls_vs_plaintext(plain, &tls, &root).await;
    row(
        out,
        "no-op start-up, 1000 applied, sslmode=verify-full (vs plaintext), median of 100",
        over_tls,
        plaintext,
        "ms",
    );
}

/// A reader every 10 ms, a transaction open for 10 s, an `ALTER TABLE`:
/// three runs with the default timeouts; the floor is one with them off.
async fn blocked_ddl(cluster: &Cluster, out: &mut String) {
    let mut with = Vec::new();
    for _ in 0..3 {
        with.push(blocked::measure(cluster, Timeouts::default()).await);
    }
    let off = Timeouts {
        lock_timeout: None,
        ..Timeouts::default()
    };
    let without = blocked::measure(cluster, off).await;
    let worst = |f: fn(&blocked::Figures) -> Duration| ms(with.iter().map(f).max().unwrap());
    row(
        out,
        "longest reader wait behind a blocked ALTER, worst of 3 (vs lock_timeout off)",
        worst(|f| f.longest_read),
        ms(without.longest_read),
        "ms",
    );
    row(
        out,
        "migration done after the blocker ended, median of 3 (vs lock_timeout off)",
        median(with.iter().map(|f| ms(f.after_blocker)).collect()),
        ms(without.after_blocker),
        "ms",
    );
    row(
        out,
        "migration done after the blocker ended, worst of 3 (vs lock_timeout off)",
        worst(|f| f.after_blocker),
        ms(without.after_blocker),
        "ms",
    );
}

fn row(out: &mut String, what: &str, ours: f64, floor: f64, unit: &str) {
    let ratio = if floor.is_nan() {
        "—".to_string()
    } else {
        format!("{:.2}×", ours / floor)
    };
    let floor = if floor.is_nan() {
        "—".to_string()
    } else {
        format!("{floor:.1} {unit}")
    };
    writeln!(out, "| {what} | {ours:.1} {unit} | {floor} | {ratio} |").unwrap();
    eprintln!("{what}: {ours:.1} {unit} (floor {floor}, {ratio})");
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn database(cluster: &Cluster) -> (String, String) {
    let url = cluster.create_database().await.unwrap();
    let db = url.rsplit('/').next().unwrap().to_string();
    (url, db)
}

fn log_len(cluster: &Cluster) -> u64 {
    std::fs::metadata(cluster.log_path()).unwrap().len()
}

fn statements(cluster: &Cluster, db: &str, from: u64) -> usize {
    let log = std::fs::read(cluster.log_path()).unwrap();
    String::from_utf8_lossy(&log[from as usize..])
        .lines()
        .filter(|l| l.contains(&format!(" {db} ")) && l.contains("LOG:  statement: "))
        .count()
}

/// 1000 files applied over 5 ms RTT, against the same applied locally:
/// medians of 3, alternating.
async fn pipeline(out: &mut String) {
    let cluster = Cluster::start(&Options::default()).expect("a throwaway PostgreSQL");
    let proxy = proxy::start(cluster.port(), Duration::from_micros(2500)).await;
    let (_dir, set) = workload::migrations(1000);
    let (mut local, mut remote) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        local.push(ms(apply::apply(&cluster, &set, cluster.port()).await));
        remote.push(ms(apply::apply(&cluster, &set, proxy).await));
    }
    row(
        out,
        "apply 1000 files over 5 ms RTT (vs locally), medians of 3",
        median(remote),
        median(local),
        "ms",
    );
}
