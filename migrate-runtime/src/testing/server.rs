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
}

impl Server {
    /// The server, connected on first use.
    pub(crate) fn get() -> Result<&'static Server, Error> {
        static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
        SERVER
            .get_or_init(|| Server::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Connect(e.clone()))
    }

    fn start() -> Result<Server, Error> {
        let admin_url = match std::env::var("MIGRATE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => throwaway_pg::shared()
                .map_err(|e| {
                    Error::Connect(format!(
                        "MIGRATE_TEST_DATABASE_URL is not set, and a throwaway PostgreSQL for the tests cannot start: {e}"
                    ))
                })?
                .url("postgres"),
        };
        Server::open(admin_url)
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
        });
    }

    /// Runs `job` on the server's runtime and blocks this thread until done.
    pub(crate) fn run_blocking<T: Send + 'static>(
        &self,
        job: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        block_on(&self.handle, job)
    }
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
