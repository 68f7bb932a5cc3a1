//! A fresh, migrated database for every test, cloned from a template
//! (feature `testing`).
//!
//! ```no_run
//! use migrate_runtime::{embed_migrations, Migrations};
//!
//! static MIGRATIONS: Migrations = embed_migrations!("../migrations");
//!
//! #[migrate_runtime::test(MIGRATIONS)]
//! async fn tiers_are_seeded(pool: deadpool_postgres::Pool) {
//!     let client = pool.get().await.unwrap();
//!     let row = client.query_one("SELECT count(*) FROM tiers", &[]).await.unwrap();
//!     assert_eq!(row.get::<_, i64>(0), 3);
//! }
//! ```
//!
//! The server is `MIGRATE_TEST_DATABASE_URL` (an admin URL) when set, else
//! a throwaway cluster started once per test process from the local
//! PostgreSQL binaries and stopped when the process exits, even when killed.
//!
//! The migrations are applied once per server into a template database
//! named after a hash of the embedded file names and checksums; each test
//! gets `CREATE DATABASE ... TEMPLATE` of it. A passing test's database is
//! dropped. A failing one's is kept, and its name and URL are printed, on
//! a server of `MIGRATE_TEST_DATABASE_URL`; on the throwaway cluster it goes
//! with the process, and the message says so.

pub(crate) mod server;
pub(crate) mod template;

use crate::{Error, Migrations};
use deadpool_postgres::Pool;
use server::{Claimed, Server};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

/// How `CREATE DATABASE` copies the template (PostgreSQL 15 and later;
/// older servers always copy files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `STRATEGY FILE_COPY`: copies the template's files, with a checkpoint
    /// before and after, which flushes what every other test has written.
    FileCopy,
    /// `STRATEGY WAL_LOG`: copies block by block through the WAL; costs
    /// only the template's size. The default: with tests running beside it,
    /// it was the faster of the two at 100 and 1000 migrations.
    WalLog,
    /// Whatever the server does by default (`WAL_LOG` on PostgreSQL 15+).
    ServerDefault,
}

impl Strategy {
    fn clause(self) -> &'static str {
        match self {
            Strategy::FileCopy => " STRATEGY FILE_COPY",
            Strategy::WalLog => " STRATEGY WAL_LOG",
            Strategy::ServerDefault => "",
        }
    }
}

/// Options for [`TestDatabase`]; start from [`TestDatabase::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    pool_size: usize,
    keep_templates: usize,
    strategy: Strategy,
    spares: usize,
    test_name: Option<String>,
}

impl Builder {
    /// Connections in the test's pool (default 4). They count against the
    /// process's share of the server's `max_connections`: a test waits in
    /// [`Builder::create`] until its pool fits.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How many templates of other migration sets may stay on the server
    /// before the oldest are dropped when a new one is built (default 5,
    /// or `MIGRATE_TEST_KEEP_TEMPLATES`).
    pub fn keep_templates(mut self, count: usize) -> Self {
        self.keep_templates = count;
        self
    }

    /// How many ready clones to keep waiting on the server for the next
    /// tests (default: as many as tests run at once, or
    /// `MIGRATE_TEST_SPARES`; 0 turns it off). A test
    /// takes one by renaming it, and a background task clones the next, so
    /// the copy is off the test's path. Spares are named after the
    /// template's hash, so later runs use them too.
    pub fn spares(mut self, count: usize) -> Self {
        self.spares = count;
        self
    }

    /// How the template is copied (default `WAL_LOG`, or
    /// `MIGRATE_TEST_STRATEGY=file_copy`); see [`Strategy`].
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// A name that appears in the database's name, to find it when kept.
    pub fn test_name(mut self, name: &str) -> Self {
        self.test_name = Some(name.to_string());
        self
    }

    /// Builds the template if this server has none for `migrations`, then
    /// clones it into a new database.
    ///
    /// Each database logs where its time went: a `DEBUG` event of target
    /// `migrate_runtime::testing` (`RUST_LOG=migrate_runtime::testing=debug`).
    pub async fn create(self, migrations: &Migrations) -> Result<TestDatabase, Error> {
        let started = Instant::now();
        let server = Server::get()?;
        let server_ms = ms(started.elapsed());
        // Building a template holds three connections.
        if self.pool_size.max(3) > server.capacity() {
            return Err(Error::TestDatabase(format!(
                "a test pool of {} connections does not fit in the {} this process may use on the server \
                 (max_connections minus reserved and used ones, or MIGRATE_TEST_MAX_CONNECTIONS); use a smaller pool_size",
                self.pool_size,
                server.capacity()
            )));
        }
        let runner = migrations.runner();
        let template = template::name(&runner);
        let name = database_name(self.test_name.as_deref());
        let job = {
            let (template, name) = (template.clone(), name.clone());
            let keep = self.keep_templates;
            let strategy = self.strategy;
            async move {
                Ok(match server.claim_or_wait(&template, &name).await? {
                    Claimed::AtOnce => "a spare",
                    Claimed::AfterWaiting => "a spare, after waiting for it",
                    Claimed::NoSpare => match template::clone(server, &runner, &template, &name, keep, strategy).await?
                    {
                        true => "built the template, then cloned it",
                        false => "cloned it",
                    },
                })
            }
        };
        let copied = Instant::now();
        let how = server.run(job).await?;
        let copy_ms = ms(copied.elapsed());
        if self.spares > 0 {
            server.refill(&template, self.spares, self.strategy);
        }
        let waited = Instant::now();
        let permits = server.connections(self.pool_size).await;
        let permits_ms = ms(waited.elapsed());
        let url = server.database_url(&name);
        let pool = crate::pool_from_url(&url, self.pool_size)?;
        tracing::debug!(
            database = %name,
            how,
            server_ms,
            copy_ms,
            permits_ms,
            total_ms = ms(started.elapsed()),
            "test database ready"
        );
        Ok(TestDatabase {
            name,
            url,
            template,
            live: Some(Live {
                pool,
                _permits: permits,
            }),
            test_name: self.test_name,
        })
    }
}

/// A database of its own for one test, migrated. Dropping it drops the
/// database in the background (the process waits for such drops before it
/// exits), unless the thread is panicking: then it is kept and its name and
/// URL (password redacted) are printed.
pub struct TestDatabase {
    name: String,
    url: String,
    template: String,
    live: Option<Live>,
    test_name: Option<String>,
}

struct Live {
    pool: Pool,
    _permits: OwnedSemaphorePermit,
}

impl TestDatabase {
    /// A new database holding every migration of `migrations`, with a pool
    /// of 4 connections; see [`TestDatabase::builder`] for options.
    pub async fn new(migrations: &Migrations) -> Result<TestDatabase, Error> {
        Self::builder().create(migrations).await
    }

    /// Options: pool size, how many old templates to keep, copy strategy.
    pub fn builder() -> Builder {
        Builder {
            pool_size: 4,
            keep_templates: std::env::var("MIGRATE_TEST_KEEP_TEMPLATES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
            strategy: match std::env::var("MIGRATE_TEST_STRATEGY").as_deref() {
                Ok("file_copy") => Strategy::FileCopy,
                Ok("server_default") => Strategy::ServerDefault,
                _ => Strategy::WalLog,
            },
            spares: std::env::var("MIGRATE_TEST_SPARES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(test_threads),
            test_name: None,
        }
    }

    /// A pool of connections to this database.
    pub fn pool(&self) -> &Pool {
        &self.live.as_ref().expect("the database is open until dropped").pool
    }

    /// The database's URL, password included (see [`crate::redact_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template this database was cloned from: `migrate_tpl_` and a
    /// hash of the migrations' names and checksums.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Closes the pool and drops the database now. Dropping the value
    /// instead drops it in the background, off the test's path.
    pub async fn close(mut self) -> Result<(), Error> {
        let Some(live) = self.live.take() else {
            return Ok(());
        };
        live.pool.close();
        drop(live);
        let server = Server::get()?;
        let name = self.name.clone();
        server
            .run(async move { template::drop_database(server, &name).await })
            .await
    }

    /// Keeps the database after the test and prints where to find it.
    pub fn keep(mut self) {
        if let Some(live) = self.live.take() {
            live.pool.close();
        }
        eprintln!("{}", self.kept_message());
    }

    fn kept_message(&self) -> String {
        let test = self.test_name.as_deref().map(|t| format!(" `{t}`")).unwrap_or_default();
        if Server::get().is_ok_and(Server::throwaway) {
            return format!(
                "migrate-runtime: test{test} failed; its database {name} is on the throwaway PostgreSQL of this test \
                 process, which stops when the process exits, so it cannot be inspected afterwards. To keep it, run \
                 the tests against a server of yours: MIGRATE_TEST_DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/postgres",
                name = self.name,
            );
        }
        format!(
            "migrate-runtime: test{test} failed; its database {name} is kept for you to inspect:\n  \
             psql '{url}'\n  drop it afterwards with: DROP DATABASE \"{name}\";",
            name = self.name,
            url = crate::redact_url(&self.url),
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(live) = self.live.take() else {
            return;
        };
        live.pool.close();
        drop(live);
        if std::thread::panicking() {
            eprintln!("{}", self.kept_message());
            return;
        }
        if let Ok(server) = Server::get() {
            server.drop_later(self.name.clone());
        }
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .field("url", &crate::redact_url(&self.url))
            .field("template", &self.template)
            .finish()
    }
}

/// How many tests the harness runs at once: `--test-threads N`,
/// `RUST_TEST_THREADS`, or one per CPU as libtest does.
fn test_threads() -> usize {
    let args: Vec<String> = std::env::args().collect();
    threads_of(&args, std::env::var("RUST_TEST_THREADS").ok().as_deref())
}

fn threads_of(args: &[String], env: Option<&str>) -> usize {
    let from_args = args
        .iter()
        .enumerate()
        .find_map(|(i, arg)| match arg.strip_prefix("--test-threads") {
            Some("") => args.get(i + 1)?.parse().ok(),
            Some(value) => value.strip_prefix('=')?.parse().ok(),
            None => None,
        });
    from_args
        .or_else(|| env?.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1)
}

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

/// Unique on the server: the process, the time, a counter.
fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:x}_{:x}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique, valid database name (at most 63 bytes) that shows the test.
fn database_name(test: Option<&str>) -> String {
    let test: String = test
        .unwrap_or("db")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    format!("mt_{test}_{}", unique())
}

/// What a test written with `#[migrate_runtime::test]` may return.
#[doc(hidden)]
pub trait Outcome {
    /// Whether the test failed without panicking.
    fn failed(&self) -> bool;
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// The body of a `#[migrate_runtime::test]`: a runtime, a database, the
/// test, then the database dropped (passed) or kept (failed).
#[doc(hidden)]
pub fn __run<R: Outcome>(
    migrations: &Migrations,
    test: &str,
    body: impl FnOnce(Pool) -> Pin<Box<dyn Future<Output = R>>>,
) -> R {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the test");
    runtime.block_on(async {
        let db = TestDatabase::builder()
            .test_name(test)
            .create(migrations)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        let outcome = body(db.pool().clone()).await;
        if outcome.failed() {
            db.keep();
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::threads_of;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn spares_follow_the_harness_threads() {
        assert_eq!(threads_of(&args(&["bin", "--test-threads", "3"]), Some("7")), 3);
        assert_eq!(threads_of(&args(&["bin", "--test-threads=5", "name"]), None), 5);
        assert_eq!(threads_of(&args(&["bin", "name"]), Some("7")), 7);
        assert_eq!(threads_of(&args(&["bin", "--test-threads", "0"]), None), 1);
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(threads_of(&args(&["bin", "--test-threads"]), Some("x")), cpus);
    }
}
