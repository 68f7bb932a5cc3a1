//! Helpers for tests against a real server: one throwaway cluster per test
//! process, one fresh database per test.

pub mod children;
pub mod layers;
pub mod tls;

use deadpool_postgres::Pool;
use migrate_runtime::Migrations;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use throwaway_pg::Cluster;

pub fn cluster() -> &'static Cluster {
    throwaway_pg::shared().unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"))
}

/// The server's version as `SHOW server_version_num` gives it (`180004`):
/// branch on it where behaviour differs between versions, and let `.ci/run`
/// run the test against a version on each side (see CONTRIBUTING.md).
pub fn server_version_num() -> u32 {
    cluster().version_num()
}

/// A new empty database: its URL, name and a pool.
pub async fn fresh() -> (String, String, Pool) {
    let url = cluster().create_database().await.unwrap();
    let name = url.rsplit('/').next().unwrap().to_string();
    let pool = migrate_runtime::pool_from_url(&url, 4).unwrap();
    (url, name, pool)
}

/// Rows of a simple query, as text.
pub async fn rows(pool: &Pool, sql: &str) -> Vec<Vec<Option<String>>> {
    let client = pool.get().await.unwrap();
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The first value of the first row.
pub async fn value(pool: &Pool, sql: &str) -> String {
    rows(pool, sql).await[0][0].clone().unwrap_or_default()
}

/// Polls `check`, pausing 10 ms between polls, until it holds; panics
/// after `limit`, saying it waited for `what`.
pub async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let polls = async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    if tokio::time::timeout(limit, polls).await.is_err() {
        panic!("waited {limit:?} for {what}");
    }
}

/// Advisory locks held or awaited in this pool's database (`pg_locks` is
/// cluster-wide, and other tests run beside this one).
pub async fn advisory_locks(pool: &Pool) -> Vec<Vec<Option<String>>> {
    rows(
        pool,
        "SELECT l.pid, l.granted, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid) \
         WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// The first value of the first row, on a given connection.
pub async fn client_value(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
            _ => None,
        })
        .unwrap_or_default()
}

/// Migrations read from a temporary folder holding `files`.
pub fn migrations(files: &[(&str, &str)]) -> (tempfile::TempDir, Migrations) {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    let m = Migrations::from_dir(dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
    (dir, m)
}

/// Statements the server logged for `database` since `from` bytes of the
/// log (the database needs `log_statement = all`).
pub fn logged_statements(database: &str, from: u64) -> Vec<String> {
    let log = std::fs::read(cluster().log_path()).unwrap();
    let text = String::from_utf8_lossy(&log[from as usize..]).into_owned();
    let needle = format!(" {database} ");
    text.lines()
        .filter(|l| l.contains(&needle) && l.contains("LOG:  statement: "))
        .map(|l| l.split("LOG:  statement: ").nth(1).unwrap_or_default().to_string())
        .collect()
}

pub fn log_len() -> u64 {
    std::fs::metadata(cluster().log_path()).unwrap().len()
}

/// Tracing output captured for the current thread while the guard lives.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>, Arc<tokio::sync::Notify>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Returns once a line containing `needle` has been logged; panics with
    /// the log after a minute.
    pub async fn wait_for(&self, needle: &str) {
        let logged = async {
            loop {
                let written = self.1.notified();
                if self.text().contains(needle) {
                    return;
                }
                written.await;
            }
        };
        let limit = Duration::from_secs(60);
        if tokio::time::timeout(limit, logged).await.is_err() {
            panic!(
                "waited {limit:?} for a log line containing {needle:?}; logged so far:\n{}",
                self.text()
            );
        }
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        self.1.notify_waiters();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `pg_dump` of the database at `url` (schema and rows), without the
/// tracking table and its sequence, without the `\restrict` lines (their
/// key is random) that pg_dump 15.14+ writes, and with timestamps in rows
/// (`DEFAULT CURRENT_TIMESTAMP`) replaced by `<timestamp>`.
pub fn dump(url: &str) -> String {
    let local = cluster().bin_dir().join("pg_dump");
    let pg_dump = if local.exists() { local } else { "pg_dump".into() };
    let out = std::process::Command::new(&pg_dump)
        .args([
            "--no-owner",
            "--no-privileges",
            "--exclude-table=schema_migrations*",
            "--dbname",
            url,
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; install it: apt-get install postgresql-client",
                pg_dump.display()
            )
        });
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .map(|l| {
            let fields: Vec<&str> = l
                .split('\t')
                .map(|f| if is_timestamp(f) { "<timestamp>" } else { f })
                .collect();
            fields.join("\t") + "\n"
        })
        .collect()
}

/// `2026-01-02 03:04:05[.frac]+00`, as a dumped row prints a timestamp.
fn is_timestamp(field: &str) -> bool {
    let b = field.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() >= 22
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && field.ends_with("+00")
}

/// Migrations read from a temporary folder holding `files`, which may sit
/// in sub-folders (`repeatable/v.sql`).
pub fn migrations_in(files: &[(&str, &str)]) -> (tempfile::TempDir, Migrations) {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    let m = Migrations::from_dir(dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
    (dir, m)
}

/// Writes `files` (relative paths) under `dir`, creating sub-folders.
pub fn write_files(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, sql) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, sql).unwrap();
    }
}
