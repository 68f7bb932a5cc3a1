//! The server tests run against, shared by every test of the process.
//!
//! Two admin connections (one clones, one drops) live on a runtime of their
//! own (a background thread), so that tests on different runtimes (`cargo
//! test` gives each its own) share them, and a database can be dropped from
//! `Drop`.

use crate::connector::Connector;
use crate::error::describe;
use crate::Error;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

pub(crate) struct Server {
    admin_url: String,
    connector: Connector,
    handle: Handle,
    admin: Client,
    janitor: Client,
    version: u32,
    capacity: usize,
    connections: Arc<Semaphore>,
    refilling: Mutex<HashSet<String>>,
    /// Dropped with the server, which ends its thread and connections.
    _stop: tokio::sync::oneshot::Sender<()>,
    throwaway: bool,
    drops: Pending,
    /// Woken when a spare is ready or a refill ended.
    spares: tokio::sync::Notify,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// At exit, waits (at most a minute) for the test databases still being
/// dropped: the test harness exits as soon as the last test returns.
extern "C" fn finish_drops() {
    if let Some(Ok(server)) = SERVER.get() {
        server.drops.wait(Duration::from_secs(60));
    }
}

/// How many background drops are running.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    done: std::sync::Condvar,
}

impl Pending {
    fn start(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn finish(&self) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count -= 1;
        self.done.notify_all();
    }

    fn wait(&self, limit: Duration) {
        let count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.done.wait_timeout_while(count, limit, |n| *n > 0);
    }
}

impl Server {
    /// The server, connected on first use.
    pub(crate) fn get() -> Result<&'static Server, Error> {
        SERVER
            .get_or_init(|| {
                let server = Server::start().map_err(|e| e.to_string());
                // SAFETY: `finish_drops` is an `extern "C" fn()` that never
                // unwinds; registering it has no other precondition.
                unsafe { libc::atexit(finish_drops) };
                server
            })
            .as_ref()
            .map_err(|e| Error::Connect(e.clone()))
    }

    /// Drops `database` in the background, off the test's path; the process
    /// waits for the drops still running when it exits.
    pub(crate) fn drop_later(&'static self, database: String) {
        self.drops.start();
        self.handle.spawn(async move {
            let started = Instant::now();
            match super::template::drop_database(self, &database).await {
                Ok(()) => tracing::debug!(
                    database,
                    drop_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "test database dropped"
                ),
                Err(e) => eprintln!("migrate-runtime: could not drop test database {database}: {e}"),
            }
            self.drops.finish();
        });
    }

    fn start() -> Result<Server, Error> {
        let (admin_url, throwaway) = match std::env::var("MIGRATE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, false),
            _ => {
                let cluster = throwaway_pg::shared().map_err(|e| {
                    Error::Connect(format!(
                        "MIGRATE_TEST_DATABASE_URL is not set, and a throwaway PostgreSQL for the tests cannot start: {e}"
                    ))
                })?;
                (cluster.url("postgres"), true)
            }
        };
        Ok(Server {
            throwaway,
            ..Server::open(admin_url)?
        })
    }

    /// Whether this is the throwaway cluster of this process, which stops
    /// when the process exits.
    pub(crate) fn throwaway(&self) -> bool {
        self.throwaway
    }

    /// The server at `admin_url` (a superuser's). Its connections live on a
    /// thread of its own, which ends when the `Server` is dropped.
    pub(crate) fn open(admin_url: String) -> Result<Server, Error> {
        if !(admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://")) {
            return Err(Error::TestDatabase(
                "MIGRATE_TEST_DATABASE_URL must be a URL such as postgresql://postgres:password@localhost:5432/postgres"
                    .into(),
            ));
        }
        let connector = Connector::new(&admin_url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::TestDatabase(format!("cannot start the test databases' runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("migrate-test-databases".into())
            .spawn(move || runtime.block_on(stopped))
            .map_err(|e| Error::TestDatabase(format!("cannot start the test databases' thread: {e}")))?;
        let admin_connector = connector.clone();
        let (admin, janitor, version, capacity) = block_on(&handle, async move {
            let admin = connect(&admin_connector).await?;
            let janitor = connect(&admin_connector).await?;
            let row = admin
                .query_one(
                    "SELECT current_setting('server_version_num')::int, \
                     current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int \
                     - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int",
                    &[],
                )
                .await
                .map_err(Error::db("reading max_connections of the test server"))?;
            Ok::<_, Error>((admin, janitor, row.get::<_, i32>(0), row.get::<_, i32>(1)))
        })?;
        // Two spare for connections that are closing but not yet gone.
        let capacity = match std::env::var("MIGRATE_TEST_MAX_CONNECTIONS") {
            Ok(v) => v.parse().map_err(|_| {
                Error::TestDatabase(format!("MIGRATE_TEST_MAX_CONNECTIONS must be a number, not `{v}`"))
            })?,
            Err(_) => usize::try_from(capacity - 2).unwrap_or(0),
        };
        Ok(Server {
            admin_url,
            connector,
            handle,
            admin,
            janitor,
            version: u32::try_from(version).unwrap_or(0),
            capacity,
            connections: Arc::new(Semaphore::new(capacity)),
            refilling: Mutex::new(HashSet::new()),
            _stop: stop,
            throwaway: false,
            drops: Pending::default(),
            spares: tokio::sync::Notify::new(),
        })
    }

    /// The connection used for clones and drops; only on the server's runtime.
    pub(crate) fn admin(&self) -> &Client {
        &self.admin
    }

    /// The connection that drops databases, so that a slow drop never
    /// delays a test waiting for its database; only on the server's runtime.
    pub(crate) fn janitor(&self) -> &Client {
        &self.janitor
    }

    /// `server_version_num`, such as 150004.
    pub(crate) fn version(&self) -> u32 {
        self.version
    }

    /// Connections this process may hold at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Waits until `count` connections are free, and holds them.
    pub(crate) async fn connections(&self, count: usize) -> OwnedSemaphorePermit {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Arc::clone(&self.connections)
            .acquire_many_owned(count)
            .await
            .expect("the semaphore is never closed")
    }

    /// A new connection as the admin, on the current runtime.
    pub(crate) async fn connect_admin(&self) -> Result<Client, Error> {
        connect(&self.connector).await
    }

    /// The admin URL with `database` in place of its database.
    pub(crate) fn database_url(&self, database: &str) -> String {
        with_database(&self.admin_url, database)
    }

    /// Runs `job` on the server's runtime and waits for it.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        self.handle
            .spawn(job)
            .await
            .map_err(|e| Error::TestDatabase(format!("the test database job panicked: {e}")))?
    }

    /// Tops the spares of `template` up to `count` in the background, unless
    /// this process is already doing so for it.
    pub(crate) fn refill(&'static self, template: &str, count: usize, strategy: super::Strategy) {
        let refilling = |template: &str, start: bool| {
            let mut set = self.refilling.lock().unwrap_or_else(|e| e.into_inner());
            if start {
                set.insert(template.to_string())
            } else {
                set.remove(template)
            }
        };
        if !refilling(template, true) {
            return;
        }
        let template = template.to_string();
        self.handle.spawn(async move {
            if let Err(e) = super::template::refill(self, &template, count, strategy).await {
                tracing::warn!("could not prepare a spare test database: {e}");
            }
            refilling(&template, false);
            self.spare_ready();
        });
    }

    /// Whether this process is cloning spares of `template` now.
    pub(crate) fn refilling(&self, template: &str) -> bool {
        self.refilling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(template)
    }

    /// Wakes the tests waiting for a spare.
    pub(crate) fn spare_ready(&self) {
        self.spares.notify_waiters();
    }

    /// Claims a spare of `template` as `database`, waiting for the spares
    /// this process is cloning rather than cloning another beside them.
    pub(crate) async fn claim_or_wait(&self, template: &str, database: &str) -> Result<Claimed, Error> {
        let mut waited = false;
        loop {
            let next = self.spares.notified();
            tokio::pin!(next);
            next.as_mut().enable();
            if super::template::claim(self, template, database).await? {
                return Ok(if waited { Claimed::AfterWaiting } else { Claimed::AtOnce });
            }
            if !self.refilling(template) {
                return Ok(Claimed::NoSpare);
            }
            waited = true;
            next.await;
        }
    }
}

/// How [`Server::claim_or_wait`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// A spare was waiting.
    AtOnce,
    /// A spare being cloned was ready after a while.
    AfterWaiting,
    /// None was waiting and none was coming.
    NoSpare,
}

fn block_on<T: Send + 'static>(
    handle: &Handle,
    job: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.spawn(async move {
        let _ = tx.send(job.await);
    });
    rx.recv()
        .map_err(|_| Error::TestDatabase("the test database job panicked".into()))?
}

/// A connection as the admin, on the current runtime. Retries while the
/// server starts up or has no free connection slot (another test process).
async fn connect(connector: &Connector) -> Result<Client, Error> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match connector.connect().await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return Ok(client);
            }
            Err(e) => {
                let busy = matches!(
                    e.code(),
                    Some(&SqlState::TOO_MANY_CONNECTIONS) | Some(&SqlState::CANNOT_CONNECT_NOW)
                );
                if !busy || started.elapsed() > Duration::from_secs(30) {
                    return Err(Error::Connect(format!("the test server: {}", describe(&e))));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// `url` with its database replaced by `database`; the query string stays.
fn with_database(url: &str, database: &str) -> String {
    let authority = url.find("://").map_or(0, |p| p + 3);
    let rest = &url[authority..];
    let path = rest.find(['/', '?']).map_or(url.len(), |p| authority + p);
    let query = url[path..].find('?').map_or("", |q| &url[path + q..]);
    format!("{}/{database}{query}", &url[..path])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgresql://u:p@h:5432/postgres?sslmode=disable", "t1"),
            "postgresql://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
        assert_eq!(with_database("postgres://h?x=1", "t1"), "postgres://h/t1?x=1");
    }
}
