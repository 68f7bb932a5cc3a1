//! Applies pending migrations; see [`Runner`].

pub(crate) mod apply;
mod connect;
pub(crate) mod handover;
pub(crate) mod history;
pub(crate) mod lock;
mod query;
pub(crate) mod script;
mod stale;
mod timeouts;

use crate::plan::{Plan, Policies};
use crate::report::{Applied, Report};
use crate::table::TableName;
use crate::{Error, Migrations};
use deadpool_postgres::{Object, Pool};
use history::Expected;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
pub use timeouts::Timeouts;

/// Applies [`Migrations`] with options; [`Migrations::run`] uses the
/// defaults.
#[derive(Debug, Clone)]
pub struct Runner {
    migrations: Migrations,
    table: TableName,
    connect_timeout: Duration,
    lock_poll_max: Duration,
    policies: Policies,
    target: Option<u64>,
    timeouts: Timeouts,
    search_path: Option<String>,
    create_schema: bool,
}

impl Runner {
    pub(crate) fn new(migrations: Migrations) -> Self {
        Runner {
            migrations,
            table: TableName::default(),
            connect_timeout: Duration::from_secs(30),
            lock_poll_max: Duration::from_secs(1),
            policies: Policies::default(),
            target: None,
            timeouts: Timeouts::default(),
            search_path: None,
            create_schema: false,
        }
    }

    /// The tracking table, default `schema_migrations`; may be
    /// schema-qualified (`tenant_42.schema_migrations`).
    pub fn table(mut self, name: &str) -> Result<Self, Error> {
        self.table = name.parse().map_err(Error::Refused)?;
        Ok(self)
    }

    /// Migrates the schema `schema` (its name as the catalog spells it):
    /// the tracking table becomes `<schema>.<table>`, and every file runs
    /// with `search_path` set to that schema alone, so unqualified names
    /// land in it. `run` refuses a missing schema unless
    /// [`create_schema`](Runner::create_schema) is set. Call it after
    /// [`table`](Runner::table), which replaces the whole name.
    pub fn schema(mut self, schema: &str) -> Self {
        self.table = TableName {
            schema: Some(schema.to_string()),
            name: self.table.name,
        };
        self.search_path = Some(schema.to_string());
        self
    }

    /// Whether `run` creates the [`schema`](Runner::schema) when it is
    /// missing (default: no, it fails naming the schema).
    pub fn create_schema(mut self, create: bool) -> Self {
        self.create_schema = create;
        self
    }

    /// How long to wait for the server to accept connections (default 30 s).
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// The longest pause between two attempts to take the lock (default 1 s).
    pub fn lock_poll_max(mut self, pause: Duration) -> Self {
        self.lock_poll_max = pause;
        self
    }

    /// How validation treats history that does not match the migrations.
    pub fn policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// Apply nothing newer than `version`.
    pub fn target(mut self, version: u64) -> Self {
        self.target = Some(version);
        self
    }

    /// Lock and statement timeouts, and how lock timeouts are retried;
    /// see [`Timeouts`] for the defaults.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The timeouts in force.
    pub fn timeouts_in_force(&self) -> Timeouts {
        self.timeouts
    }

    /// The migrations this runner applies.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// The tracking table.
    pub fn table_name(&self) -> &TableName {
        &self.table
    }

    pub(crate) fn policies_in_force(&self) -> Policies {
        self.policies
    }

    pub(crate) fn target_version(&self) -> Option<u64> {
        self.target
    }

    /// The schema every file runs in, set by [`Runner::schema`].
    pub(crate) fn search_path(&self) -> Option<&str> {
        self.search_path.as_deref()
    }

    /// Waits for the server, then applies every pending migration (up to the
    /// target) exactly once, even when many instances run at once.
    ///
    /// When nothing is pending this is one statement on the server. Otherwise
    /// it takes the lock, validates the history, applies each file in its own
    /// transaction (or statement by statement for `no-transaction` files)
    /// under the [`Timeouts`], and stops at the first failure. The
    /// connection that migrated is closed afterwards, never returned to the
    /// pool.
    #[inline(never)]
    pub fn run<'a>(&'a self, pool: &'a Pool) -> impl Future<Output = Result<Report, Error>> + Send + 'a {
        boxed(self.run_here(pool))
    }

    pub(crate) async fn run_here(&self, pool: &Pool) -> Result<Report, Error> {
        stale::warn_if_stale(&self.migrations);
        let client = connect::connect(pool, self.connect_timeout).await?;
        tracing::info!("Running database migrations...");
        let expected = Expected {
            table: &self.table,
            count: self.migrations.len(),
            digest: (self.migrations.repeatables().len() == 0).then(|| self.migrations.history_digest()),
        };
        if let Some(read) = expected.read(&client).await? {
            if read.current {
                tracing::info!("Database is up to date");
                return Ok(Report::default());
            }
            let plan = Plan::new(&self.migrations, &read.rows);
            let warnings = plan.validate(&self.policies, self.target)?;
            if plan.pending(self.target).is_empty()
                && plan.unrecorded().is_empty()
                && plan.repeatables_due(self.target).is_empty()
            {
                warnings.iter().for_each(|w| tracing::warn!("{w}"));
                tracing::info!("Database is up to date");
                return Ok(Report {
                    warnings,
                    ..Report::default()
                });
            }
        } else if let (Some(schema), false) = (&self.search_path, self.create_schema) {
            crate::fanout::require_schema(&client, schema).await?;
        }
        // A waiter that finds the work done when the lock is released
        // returns without taking it.
        match Locked::take(client, &self.table, self.lock_poll_max, Some(&expected)).await? {
            Some(locked) => locked.hold(async |session| self.migrate(session, pool).await).await,
            None => {
                tracing::info!("Database is up to date");
                Ok(Report::default())
            }
        }
    }

    async fn migrate(&self, session: &Locked, pool: &Pool) -> Result<Report, Error> {
        let client = session.client();
        let table = &session.table;
        let rows = history::read(client, table).await?.unwrap_or_default();
        let plan = Plan::new(&self.migrations, &rows);
        let mut report = Report {
            warnings: plan.validate(&self.policies, self.target)?,
            ..Report::default()
        };
        report.warnings.iter().for_each(|w| tracing::warn!("{w}"));

        let unrecorded = plan.unrecorded();
        history::adopt(client, table, &unrecorded).await?;
        for m in unrecorded {
            tracing::info!(
                "Adopted checksum of {} (applied by an earlier tool that stored none)",
                m.file_name()
            );
            report.adopted.push(m.file_name().to_string());
        }

        let (pending, recorded) = crate::squash::settle(client, table, &plan, plan.pending(self.target)).await?;
        report.recorded_squash = recorded.map(|m| m.file_name().to_string());
        let repeatables = plan.repeatables_due(self.target);
        if pending.is_empty() && repeatables.is_empty() {
            tracing::info!("Database is up to date");
            return Ok(report);
        }
        if !pending.is_empty() {
            tracing::info!("Found {} pending migration(s)", pending.len());
        }
        let mut watch = timeouts::Watch::new(pool);
        let search_path = self.search_path.as_deref();
        for file in pending {
            let started = Instant::now();
            if let Err(e) = timeouts::apply(&mut watch, client, table, file, &self.timeouts, search_path).await {
                tracing::error!("Failed to apply {}", file.file_name());
                if !report.applied.is_empty() {
                    if let Err(flush) = apply::make_durable(client, table).await {
                        tracing::warn!("{flush}");
                    }
                }
                return Err(e);
            }
            let duration = started.elapsed();
            tracing::info!("Applied: {} ({} ms)", file.file_name(), duration.as_millis());
            report.applied.push(Applied {
                file_name: file.file_name().to_string(),
                duration,
            });
        }
        report.repeated = crate::repeatable::apply_all(client, table, search_path, &repeatables).await?;
        apply::make_durable(client, table).await?;
        Ok(report)
    }

    /// Takes the lock on a connection of `pool`, for the operations that
    /// write the history. The connection closes (releasing the lock) when
    /// the returned value drops.
    pub(crate) async fn lock(&self, pool: &Pool) -> Result<Locked, Error> {
        let client = connect::connect(pool, self.connect_timeout).await?;
        let locked = Locked::take(client, &self.table, self.lock_poll_max, None).await?;
        Ok(locked.expect("taken: waiting ends only with the lock"))
    }

    /// A connection to read with.
    pub(crate) async fn connect(&self, pool: &Pool) -> Result<Object, Error> {
        connect::connect(pool, self.connect_timeout).await
    }
}

/// A future boxed in this crate. An `async fn` body is compiled in the
/// crate that polls it, so a public `async fn` would make every caller's
/// crate compile the runner again on each rebuild; behind a `dyn Future`
/// made here (never inlined), it is compiled once, in this crate.
#[inline(never)]
pub(crate) fn boxed<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// The advisory lock key `run` takes for `table`, which must be
/// schema-qualified (an unqualified name resolves through `search_path`
/// first): look for it in `pg_locks` as `classid = key >> 32`,
/// `objid = key & 0xffffffff`, `objsubid = 1`.
pub fn lock_key(table: &TableName) -> i64 {
    lock::key(table)
}

/// A connection holding the migration lock, with the tracking table
/// qualified and present. Dropping it, on any path including panics,
/// closes the connection instead of returning it to the pool, which
/// releases the lock and every session state a migration left.
pub(crate) struct Locked {
    client: Option<Object>,
    pub(crate) table: TableName,
    key: i64,
}

impl Locked {
    /// Takes the lock; `None` when the table holds the `done` history
    /// after a wait (see [`lock::acquire`]).
    async fn take(
        client: Object,
        table: &TableName,
        poll_max: Duration,
        done: Option<&Expected<'_>>,
    ) -> Result<Option<Locked>, Error> {
        let mut locked = Locked {
            client: Some(client),
            table: table.clone(),
            key: 0,
        };
        locked.table = history::qualify(locked.client(), table).await?;
        locked.key = lock::key(&locked.table);
        if !lock::acquire(locked.client(), locked.key, poll_max, done).await? {
            return Ok(None);
        }
        history::ensure(locked.client(), &locked.table).await?;
        Ok(Some(locked))
    }

    pub(crate) fn client(&self) -> &tokio_postgres::Client {
        self.client.as_ref().expect("present until drop")
    }

    /// Runs `work` under the lock, then releases it whatever the outcome.
    pub(crate) async fn hold<T>(self, work: impl AsyncFnOnce(&Locked) -> Result<T, Error>) -> Result<T, Error> {
        let result = work(&self).await;
        self.release().await;
        result
    }

    /// Releases the lock before the connection closes, so that it is free
    /// when the caller gets its result, not when the server notices the
    /// closed connection. Best effort: closing releases it anyway.
    async fn release(self) {
        if let Err(e) = self
            .client()
            .batch_execute(&format!(
                "SELECT pg_advisory_unlock({}); {}",
                self.key,
                handover::announce(self.key)
            ))
            .await
        {
            tracing::debug!("releasing the migration lock: {e}; closing the connection releases it");
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
