//! `-- test-run [nextest]`: test databases in a real test run. A generated
//! crate embeds N migrations (`TESTRUN_SIZES`, default `200,1000`) and has
//! three test files of 20 tests each, run by `cargo test -- --test-threads
//! 4` (and by `cargo nextest run -j 4`):
//! - `ours`: each test takes a `TestDatabase`, runs one query and drops it
//!   (the database is dropped in the background, as after an attribute test);
//! - `replay`: each test creates an empty database and runs the migrations
//!   (what `#[sqlx::test]` does);
//! - `bare`: each test runs `CREATE DATABASE … TEMPLATE` of our template,
//!   connects, queries and drops it: the floor a template can reach.
//!
//! The three files run in turn, `TESTRUN_ROUNDS` times (default 5), each
//! round in another order, on an idle server, so that a machine growing
//! slower over the runs weighs on all three alike; a ratio is the median
//! of the rounds' ratios, with their range.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use throwaway_pg::{Cluster, Options};

const TESTS: usize = 20;
const THREADS: usize = 4;

pub async fn measure(out: &mut String, nextest: bool) {
    let cluster = Cluster::start(&Options::default()).expect("a throwaway PostgreSQL");
    let sizes: Vec<usize> = std::env::var("TESTRUN_SIZES")
        .unwrap_or_else(|_| "200,1000".into())
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    let rounds: usize = std::env::var("TESTRUN_ROUNDS").map_or(5, |v| v.parse().unwrap());
    // Another checkout's migrate-runtime, whose `ours` runs in every round too.
    let before = std::env::var_os("TESTRUN_BEFORE").map(PathBuf::from);
    let url = cluster.url("postgres");
    for n in sizes {
        let krate = Crate::new(
            n,
            &workspace().join("migrate-runtime"),
            workspace().join("target/bench-app"),
        );
        let earlier = before
            .as_ref()
            .map(|dir| Crate::new(n, &dir.join("migrate-runtime"), dir.join("target/bench-app")));
        // The first run builds the template and leaves spares, as a
        // developer's earlier run does.
        if let Some(earlier) = &earlier {
            earlier.run("ours", &url, false);
        }
        krate.run("ours", &url, false);
        let solo = solo_clone(out, &url).await;
        let mut files = vec![(&krate, "ours"), (&krate, "replay"), (&krate, "bare")];
        files.extend(earlier.as_ref().map(|c| (c, "ours")));
        for harness in [false, true].into_iter().filter(|&h| !h || nextest) {
            let runs = rounds_of(&files, &url, harness, rounds);
            let name = if harness {
                format!("`cargo nextest run -j {THREADS}`")
            } else {
                format!("`cargo test -- --test-threads {THREADS}`")
            };
            let (ours, replay, bare) = (&runs[0], &runs[1], &runs[2]);
            compare(
                out,
                &format!("{n} migrations, {TESTS} tests, {name}: wall time, template vs replay"),
                ours,
                replay,
                |r| r.wall,
            );
            compare(out, "the same: template vs bare clones (the floor)", ours, bare, |r| {
                r.wall
            });
            let waits = |runs: &[Run]| median(runs.iter().flat_map(|r| r.ready.iter().copied()).collect());
            let tests = |runs: &[Run]| median(runs.iter().flat_map(|r| r.done.iter().copied()).collect());
            let longest = |runs: &[Run]| runs.iter().map(Run::longest).fold(0.0, f64::max);
            super::row(
                out,
                "the same: a test's wait for its ready database, median of all tests, vs bare clones' wait",
                waits(ours),
                waits(bare),
                "ms",
            );
            super::row(
                out,
                "the same: a test's whole time (wait, query, drop), median, vs bare",
                tests(ours),
                tests(bare),
                "ms",
            );
            super::row(out, "the same: median wait vs one clone alone", waits(ours), solo, "ms");
            super::row(
                out,
                "the same: longest wait vs one clone alone",
                longest(ours),
                solo,
                "ms",
            );
            super::row(
                out,
                "the same: longest wait vs the longest bare clone in a run",
                longest(ours),
                longest(bare),
                "ms",
            );
            breakdown(out, ours);
            if let Some(earlier) = runs.get(3) {
                compare(
                    out,
                    "the same: wall time, this checkout vs TESTRUN_BEFORE",
                    ours,
                    earlier,
                    |r| r.wall,
                );
                super::row(
                    out,
                    "the same: a test's whole time, median, vs TESTRUN_BEFORE",
                    tests(ours),
                    tests(earlier),
                    "ms",
                );
                super::row(
                    out,
                    "the same: longest wait vs TESTRUN_BEFORE",
                    longest(ours),
                    longest(earlier),
                    "ms",
                );
            }
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Runs each file `rounds` times, rotating their order.
fn rounds_of(files: &[(&Crate, &str)], url: &str, nextest: bool, rounds: usize) -> Vec<Vec<Run>> {
    let mut runs: Vec<Vec<Run>> = files.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for i in 0..files.len() {
            let which = (i + round) % files.len();
            let (krate, file) = files[which];
            runs[which].push(krate.run(file, url, nextest));
        }
    }
    runs
}

/// A row whose ratio is the median of the rounds' ratios, with their range.
fn compare(out: &mut String, what: &str, ours: &[Run], floor: &[Run], value: fn(&Run) -> f64) {
    use std::fmt::Write as _;
    let mut ratios: Vec<f64> = ours.iter().zip(floor).map(|(o, f)| value(o) / value(f)).collect();
    ratios.sort_by(f64::total_cmp);
    let (low, high) = (ratios[0], ratios[ratios.len() - 1]);
    let ratio = median(ratios);
    let ours = median(ours.iter().map(value).collect());
    let floor = median(floor.iter().map(value).collect());
    writeln!(
        out,
        "| {what} | {ours:.0} ms | {floor:.0} ms | {ratio:.2}× ({low:.2}–{high:.2}) |"
    )
    .unwrap();
    eprintln!("{what}: {ours:.0} ms, floor {floor:.0} ms, {ratio:.2}× ({low:.2}–{high:.2})");
}

/// Where a test's wait went, from the `test database ready` events.
fn breakdown(out: &mut String, runs: &[Run]) {
    use std::fmt::Write as _;
    let events: Vec<&Event> = runs.iter().flat_map(|r| &r.events).collect();
    let mean = |f: fn(&Event) -> f64| events.iter().map(|e| f(e)).sum::<f64>() / events.len() as f64;
    let mut hows: Vec<(&str, usize)> = Vec::new();
    for e in &events {
        match hows.iter_mut().find(|(h, _)| *h == e.how) {
            Some((_, n)) => *n += 1,
            None => hows.push((&e.how, 1)),
        }
    }
    let hows: Vec<String> = hows.iter().map(|(h, n)| format!("{h}: {n}")).collect();
    let drops: Vec<f64> = runs.iter().flat_map(|r| r.drops.iter().copied()).collect();
    let first_query = median(runs.iter().flat_map(|r| r.first_query.iter().copied()).collect());
    let line = format!(
        "breakdown, means over {} tests: server {:.1} ms, claim or clone {:.1} ms, connection permits {:.1} ms; \
         first query (connects) median {:.1} ms; background drop median {:.1} ms; databases from {}",
        events.len(),
        mean(|e| e.server),
        mean(|e| e.copy),
        mean(|e| e.permits),
        first_query,
        median(drops),
        hows.join(", ")
    );
    writeln!(out, "| {line} | | | |").unwrap();
    eprintln!("{line}");
}

/// One `CREATE DATABASE … TEMPLATE` of the newest template on the idle
/// server, after a checkpoint, then its drop: the median of five, for each
/// strategy.
async fn solo_clone(out: &mut String, url: &str) -> f64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let template: String = client
        .query_one(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, 'migrate_tpl_') ORDER BY oid DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let size: i64 = client
        .query_one("SELECT pg_database_size($1::text)", &[&template])
        .await
        .unwrap()
        .get(0);
    let mut medians = Vec::new();
    for strategy in ["WAL_LOG", "FILE_COPY"] {
        let (mut clones, mut drops) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            idle(url);
            client.batch_execute("CHECKPOINT").await.unwrap();
            let started = Instant::now();
            client
                .batch_execute(&format!(
                    "CREATE DATABASE solo_clone TEMPLATE {template} STRATEGY {strategy}"
                ))
                .await
                .unwrap();
            clones.push(super::ms(started.elapsed()));
            let dropping = Instant::now();
            client.batch_execute("DROP DATABASE solo_clone").await.unwrap();
            drops.push(super::ms(dropping.elapsed()));
        }
        medians.push((median(clones), median(drops)));
    }
    let [(wal, wal_drop), (copy, copy_drop)] = [medians[0], medians[1]];
    super::row(
        out,
        &format!(
            "one clone alone of the {} MB template, `STRATEGY WAL_LOG` (ours) vs `FILE_COPY`; drops {wal_drop:.0} and {copy_drop:.0} ms",
            size / 1_000_000
        ),
        wal,
        copy,
        "ms",
    );
    wal
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Waits until no other session runs a statement on the server.
fn idle(url: &str) {
    loop {
        let out = Command::new("psql")
            .args([
                url,
                "-Atc",
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' \
                 AND pid <> pg_backend_pid() AND state <> 'idle'",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "0" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One run of a test file.
struct Run {
    wall: f64,
    /// Each test's wait for a ready database, its first query included.
    ready: Vec<f64>,
    /// Each test's first query, which opens its first connection.
    first_query: Vec<f64>,
    /// Each test's whole time, its database's drop included.
    done: Vec<f64>,
    /// `test database ready` events (`ours` only).
    events: Vec<Event>,
    /// `test database dropped` events' times (`ours` only).
    drops: Vec<f64>,
}

impl Run {
    fn longest(&self) -> f64 {
        self.ready.iter().copied().fold(0.0, f64::max)
    }
}

struct Event {
    how: String,
    server: f64,
    copy: f64,
    permits: f64,
}

/// The number after `key` in `text`, as the tests and tracing print it.
fn number(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

struct Crate {
    dir: tempfile::TempDir,
    target: PathBuf,
}

impl Crate {
    /// A crate of `n` migrations on the migrate-runtime at `runtime`, built
    /// into `target`.
    fn new(n: usize, runtime: &Path, target: PathBuf) -> Crate {
        let workspace = workspace();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            format!(
                "[package]\nname = \"testrun\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
                 migrate-runtime = {{ path = \"{}\", features = [\"testing\"] }}\n\
                 tokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\ntokio-postgres = \"0.7\"\n\
                 deadpool-postgres = {{ version = \"0.14\", default-features = false }}\n\
                 tracing-subscriber = {{ version = \"0.3\", default-features = false, features = [\"fmt\", \"env-filter\"] }}\n\n[workspace]\n",
                runtime.display()
            ),
        )
        .unwrap();
        std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::create_dir_all(root.join("migrations")).unwrap();
        crate::workload::write_into(&root.join("migrations"), n);
        // A set of its own, so that two checkouts do not share a template
        // and its spares.
        let first = root.join("migrations/0001_feature_1.sql");
        let text = std::fs::read_to_string(&first).unwrap();
        std::fs::write(&first, format!("-- built for {}\n{text}", runtime.display())).unwrap();
        std::fs::write(
            root.join("src/lib.rs"),
            "pub static MIGRATIONS: migrate_runtime::Migrations = migrate_runtime::embed_migrations!(\"migrations\");\n\
             \n/// Prints how long the test waited for a ready database, and for its first query.\n\
             pub fn ready(started: std::time::Instant, queried: std::time::Instant) {\n    \
             println!(\"READY {} FIRST {}\", started.elapsed().as_secs_f64() * 1000.0, \
             queried.elapsed().as_secs_f64() * 1000.0);\n}\n\
             \n/// Prints how long the whole test took.\n\
             pub fn done(started: std::time::Instant) {\n    \
             println!(\"DONE {}\", started.elapsed().as_secs_f64() * 1000.0);\n}\n\
             \n/// Prints migrate-runtime's timings of each test database.\n\
             pub fn log() {\n    \
             let _ = tracing_subscriber::fmt().with_env_filter(\"migrate_runtime::testing=debug\")\
             .with_ansi(false).without_time().try_init();\n}\n",
        )
        .unwrap();
        let tests = |body: &str| -> String {
            (0..TESTS)
                .map(|i| format!("#[tokio::test]\nasync fn t{i}() {{\n{body}\n}}\n"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        std::fs::write(
            root.join("tests/ours.rs"),
            format!(
                "use testrun::{{done, log, ready, MIGRATIONS}};\nuse migrate_runtime::testing::TestDatabase;\n\n{}",
                tests(
                    "    log();\n    let started = std::time::Instant::now();\n    \
                     let db = TestDatabase::new(&MIGRATIONS).await.unwrap();\n    \
                     let queried = std::time::Instant::now();\n    \
                     db.pool().get().await.unwrap().simple_query(\"SELECT 1\").await.unwrap();\n    \
                     ready(started, queried);\n    drop(db);\n    done(started);"
                )
            ),
        )
        .unwrap();
        let admin = "async fn admin() -> tokio_postgres::Client {\n    \
             let url = std::env::var(\"MIGRATE_TEST_DATABASE_URL\").unwrap();\n    \
             let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();\n    \
             tokio::spawn(connection);\n    client\n}\n\n\
             fn unique() -> String {\n    \
             static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);\n    \
             format!(\"b{}_{}\", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))\n}\n\n\
             fn url_of(name: &str) -> String {\n    \
             let url = std::env::var(\"MIGRATE_TEST_DATABASE_URL\").unwrap();\n    \
             format!(\"{}/{name}\", &url[..url.rfind('/').unwrap()])\n}\n";
        let by_hand = |create: &str, migrate: &str| {
            format!(
                "    let started = std::time::Instant::now();\n    let admin = admin().await;\n    \
                 let name = unique();\n    {create}\n    \
                 let pool = migrate_runtime::pool_from_url(&url_of(&name), 4).unwrap();\n    {migrate}\n    \
                 let queried = std::time::Instant::now();\n    \
                 pool.get().await.unwrap().simple_query(\"SELECT 1\").await.unwrap();\n    ready(started, queried);\n    \
                 pool.close();\n    \
                 admin.batch_execute(&format!(\"DROP DATABASE {{name}} WITH (FORCE)\")).await.unwrap();\n    \
                 done(started);"
            )
        };
        std::fs::write(
            root.join("tests/replay.rs"),
            format!(
                "use testrun::{{done, ready, MIGRATIONS}};\n\n{admin}\n{}",
                tests(&by_hand(
                    "admin.batch_execute(&format!(\"CREATE DATABASE {name}\")).await.unwrap();",
                    "MIGRATIONS.run(&pool).await.unwrap();"
                ))
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("tests/bare.rs"),
            format!(
                "use testrun::{{done, ready}};\n\n{admin}\n{}",
                tests(&by_hand(
                    "let template: String = admin.query_one(\"SELECT datname::text FROM pg_database WHERE starts_with(datname, 'migrate_tpl_') ORDER BY oid DESC LIMIT 1\", &[]).await.unwrap().get(0);\n    \
                     admin.batch_execute(&format!(\"CREATE DATABASE {name} TEMPLATE {template} STRATEGY WAL_LOG\")).await.unwrap();",
                    ""
                ))
            ),
        )
        .unwrap();
        let krate = Crate { dir, target };
        let status = krate
            .cargo(&["test", "--release", "--quiet", "--offline", "--no-run"])
            .status()
            .unwrap();
        assert!(status.success());
        krate
    }

    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", &self.target);
        cmd
    }

    /// Runs one test file; panics unless every test passed. Starts when the
    /// server is idle: the spares a run leaves may still be being cloned.
    fn run(&self, file: &str, url: &str, nextest: bool) -> Run {
        idle(url);
        let threads = THREADS.to_string();
        let mut cmd = if nextest {
            self.cargo(&[
                "nextest",
                "run",
                "--release",
                "--offline",
                "--no-capture",
                "--test",
                file,
                "-j",
                &threads,
            ])
        } else {
            self.cargo(&[
                "test",
                "--release",
                "--quiet",
                "--offline",
                "--test",
                file,
                "--",
                "--nocapture",
                "--test-threads",
                &threads,
            ])
        };
        let started = Instant::now();
        let output = cmd.env("MIGRATE_TEST_DATABASE_URL", url).output().unwrap();
        let wall = super::ms(started.elapsed());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        // The harness's progress dots share lines with the tests' output.
        let ready: Vec<&str> = text.split("READY ").skip(1).collect();
        assert_eq!(ready.len(), TESTS, "{text}");
        let events = text
            .split("test database ready")
            .skip(1)
            .map(|event| Event {
                how: event
                    .split("how=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("?")
                    .to_string(),
                server: number(event, "server_ms=").unwrap_or(f64::NAN),
                copy: number(event, "copy_ms=").unwrap_or(f64::NAN),
                permits: number(event, "permits_ms=").unwrap_or(f64::NAN),
            })
            .collect();
        Run {
            wall,
            ready: ready.iter().filter_map(|r| number(r, "")).collect(),
            first_query: ready.iter().filter_map(|r| number(r, "FIRST ")).collect(),
            done: text.split("DONE ").skip(1).filter_map(|d| number(d, "")).collect(),
            events,
            drops: text
                .split("test database dropped")
                .skip(1)
                .filter_map(|d| number(d, "drop_ms="))
                .collect(),
        }
    }
}
