//! The migration lock: a session advisory lock, or a lease where one
//! cannot be trusted (a transaction pooler, an engine without advisory
//! locks), chosen in one place; [`Locked`] holds it for the writes.

mod advisory;
mod lease;

use crate::session::history::{self, Expected};
use crate::session::server::{self, Engine, Server};
use crate::session::{handover, query, trust};
use crate::sql::TableName;
use crate::Error;
pub(crate) use advisory::key;
pub use advisory::LockMode;
use deadpool_postgres::{Object, Pool};
pub(crate) use lease::{owner, stopped_by_fence};
use std::time::Duration;

/// How to take the lock: the runner's options.
pub(crate) struct Options<'a> {
    /// The tracking table, as configured (maybe unqualified).
    pub(crate) table: &'a TableName,
    pub(crate) mode: LockMode,
    /// The lease's length.
    pub(crate) lease: Duration,
    /// The longest pause between two attempts.
    pub(crate) poll_max: Duration,
    /// How long to wait at most; see [`Error::LockWait`].
    pub(crate) wait: Option<Duration>,
    /// The schema every file runs in, for a schema target.
    pub(crate) search_path: Option<&'a str>,
    /// Owners of a schema target trusted besides the migrating role.
    pub(crate) trusted_owners: &'a [String],
}

/// A connection holding the migration lock, with the tracking table
/// qualified and present. Dropping it, on any path including panics,
/// closes the connection instead of returning it to the pool, which
/// releases a session lock and every session state a migration left.
pub(crate) struct Locked {
    client: Option<Object>,
    pub(crate) table: TableName,
    hold: Hold,
    engine: Engine,
    /// Session settings last from one transaction to the next.
    stable: bool,
    search_path: Option<String>,
}

/// What keeps other instances out.
enum Hold {
    Session(i64),
    Lease(lease::Lease),
    Unlocked,
}

impl Locked {
    /// Takes the lock in `options.mode`; `None` when the table holds the
    /// `done` history after a wait.
    pub(crate) async fn take(
        client: Object,
        options: &Options<'_>,
        pool: &Pool,
        server: &Server,
        owner: &str,
        done: Option<&Expected<'_>>,
    ) -> Result<Option<Locked>, Error> {
        let engine = server.engine();
        if engine == Engine::Citus {
            server::refuse_citus_worker(&client, server).await?;
        }
        let table = history::qualify(&client, options.table).await?;
        let key = advisory::key(&table);
        let lease_table = lease::table_of(&table);
        let mut mode = options.mode;
        // A lease chosen for the engine runs on a direct connection; one
        // asked for, or chosen because a pooler showed, may not.
        let mut stable = mode != LockMode::Lease;
        if mode == LockMode::Auto {
            mode = match advisory::pre_choose(&client, engine, server.pid).await {
                Some(why) => {
                    tracing::info!("Using a lease as the migration lock: {why}");
                    stable = engine.no_session_lock().is_some();
                    LockMode::Lease
                }
                None => LockMode::Session,
            };
        }
        let hold = loop {
            match mode {
                LockMode::Session | LockMode::Auto => {
                    if !advisory::acquire(&client, key, &lease_table, options.poll_max, options.wait, done).await? {
                        return Ok(None);
                    }
                    if options.mode == LockMode::Auto && !advisory::proven(&client, key, server.pid).await? {
                        advisory::release(&client, key).await;
                        tracing::info!(
                            "Using a lease as the migration lock: the session lock did not stay with this \
                             connection's backend (a transaction pooler sits between)"
                        );
                        mode = LockMode::Lease;
                        stable = false;
                        continue;
                    }
                    break Hold::Session(key);
                }
                LockMode::Lease => {
                    let request = lease::Request {
                        tracking: &table,
                        owner,
                        length: options.lease,
                        poll_max: options.poll_max,
                        wait: options.wait,
                        key: engine.no_session_lock().is_none().then_some(key),
                    };
                    match request.acquire(&client, pool, done).await? {
                        Some(lease) => break Hold::Lease(lease),
                        None => return Ok(None),
                    }
                }
                LockMode::None => {
                    tracing::warn!("Lock mode none: no lock is taken; only one instance may migrate at a time");
                    break Hold::Unlocked;
                }
            }
        };
        let locked = Locked {
            client: Some(client),
            table,
            hold,
            engine,
            stable,
            search_path: options.search_path.map(str::to_string),
        };
        history::ensure(locked.client(), &locked.table).await?;
        if let Some(schema) = &options.search_path {
            trust::check_schema(locked.client(), schema, options.trusted_owners).await?;
        }
        Ok(Some(locked))
    }

    pub(crate) fn client(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("present until drop")
    }

    /// The engine the migrations run on.
    pub(crate) fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether session state (a `SET`, the backend pid) lasts from one
    /// transaction to the next: not under a lease taken because a
    /// transaction pooler showed, or asked for.
    pub(crate) fn stable_session(&self) -> bool {
        self.stable
    }

    /// The schema every file runs in, for a [`Runner::schema`] target.
    pub(crate) fn search_path(&self) -> Option<&str> {
        self.search_path.as_deref()
    }

    /// The statement each file's transaction starts with under a lease.
    pub(crate) fn fence(&self) -> Option<String> {
        match &self.hold {
            Hold::Lease(lease) => Some(lease.fence()),
            _ => None,
        }
    }

    /// An error once the lease is known to be lost.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.hold {
            Hold::Lease(lease) => lease.check(),
            _ => Ok(()),
        }
    }

    /// Runs `work` under the lock, then releases it whatever the outcome.
    pub(crate) async fn hold<T>(self, work: impl AsyncFnOnce(&Locked) -> Result<T, Error>) -> Result<T, Error> {
        let result = work(&self).await;
        self.release().await;
        result
    }

    /// Releases the lock before the connection closes, so that it is free
    /// when the caller gets its result, not when the server notices the
    /// closed connection.
    async fn release(mut self) {
        match std::mem::replace(&mut self.hold, Hold::Unlocked) {
            Hold::Session(key) => {
                let sql = format!("SELECT pg_advisory_unlock({key}); {}", handover::announce(key));
                if let Err(e) = query::execute(self.client(), &sql).await {
                    tracing::debug!("releasing the migration lock: {e}; closing the connection releases it");
                }
            }
            Hold::Lease(lease) => lease.release(self.client()).await,
            Hold::Unlocked => {}
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}
