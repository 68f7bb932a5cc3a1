//! Applies pending migrations; see [`Runner`]. The runner is a builder
//! over the layers below: it connects, takes the lock, compares the
//! history with the migrations, and hands each change to the executor.

mod squash;
mod stale;

use crate::apply::{Executor, Record, Timeouts, Unit};
use crate::lock::{self, LockMode, Locked};
use crate::plan::{Plan, Policies};
use crate::report::{Applied, Report};
use crate::session::connect;
use crate::session::history::{self, Expected};
use crate::session::server::Server;
use crate::sql::TableName;
use crate::{Error, Migrations};
use deadpool_postgres::{Object, Pool};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

/// How often a run reconnects after losing its connection mid-run.
const RECONNECTS: u32 = 5;

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
    lock_mode: LockMode,
    lease: Duration,
    search_path: Option<String>,
    create_schema: bool,
    trusted_owners: Vec<String>,
    lock_wait: Option<Duration>,
    use_stored_down_sql: bool,
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
            lock_mode: LockMode::Auto,
            lease: Duration::from_secs(30),
            search_path: None,
            create_schema: false,
            trusted_owners: Vec::new(),
            lock_wait: None,
            use_stored_down_sql: false,
        }
    }

    /// How concurrent runs take turns (default [`LockMode::Auto`]).
    pub fn lock_mode(mut self, mode: LockMode) -> Self {
        self.lock_mode = mode;
        self
    }

    /// How long a lease lasts without its heartbeat (default 30 s): a
    /// holder that crashed delays the others by at most this long.
    pub fn lease(mut self, length: Duration) -> Self {
        self.lease = length.max(Duration::from_millis(300));
        self
    }

    /// The tracking table, default `schema_migrations`; may be
    /// schema-qualified (`tenant_42.schema_migrations`).
    pub fn table(mut self, name: &str) -> Result<Self, Error> {
        self.table = name.parse().map_err(Error::TableName)?;
        Ok(self)
    }

    /// Migrates the schema `schema` (its name as the catalog spells it):
    /// the tracking table becomes `<schema>.<table>`, and every file runs
    /// with `search_path` set to that schema alone, so unqualified names
    /// land in it. `run` refuses a missing schema unless
    /// [`create_schema`](Runner::create_schema) is set. The schema wins
    /// over one named by [`table`](Runner::table).
    pub fn schema(mut self, schema: &str) -> Self {
        self.search_path = Some(schema.to_string());
        self
    }

    /// Whether `run` creates the [`schema`](Runner::schema) when it is
    /// missing (default: no, it fails naming the schema).
    pub fn create_schema(mut self, create: bool) -> Self {
        self.create_schema = create;
        self
    }

    /// Trusts a [`schema`](Runner::schema) owned by `role`. By default the
    /// schema must belong to the migrating role, a role it belongs to, or a
    /// superuser: the files run with it first on the search_path, so its
    /// owner's functions and operators would run as the migrating role.
    pub fn trust_owner(mut self, role: &str) -> Self {
        self.trusted_owners.push(role.to_string());
        self
    }

    /// How long to wait at most for another instance's lock or lease
    /// (default: as long as it takes). Past it, the run fails with
    /// [`Error::LockWait`] naming the holder: the advisory lock's key is
    /// no secret, so any session holding it would stall every start.
    pub fn lock_wait(mut self, limit: Duration) -> Self {
        self.lock_wait = Some(limit);
        self
    }

    /// Whether a revert runs the down SQL stored in a tracking row when it
    /// differs from the embedded down file (default: no, the revert is
    /// refused; [`Runner::revert_dry_run`] shows both).
    pub fn use_stored_down_sql(mut self, use_stored: bool) -> Self {
        self.use_stored_down_sql = use_stored;
        self
    }

    pub(crate) fn uses_stored_down_sql(&self) -> bool {
        self.use_stored_down_sql
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

    /// The tracking table, in the [`schema`](Runner::schema) when one is set.
    pub fn table_name(&self) -> TableName {
        match &self.search_path {
            Some(schema) => TableName {
                schema: Some(schema.clone()),
                name: self.table.name.clone(),
            },
            None => self.table.clone(),
        }
    }

    /// The schema set by [`Runner::schema`].
    pub(crate) fn schema_target(&self) -> Option<&str> {
        self.search_path.as_deref()
    }

    pub(crate) fn policies_in_force(&self) -> Policies {
        self.policies
    }

    pub(crate) fn target_version(&self) -> Option<u64> {
        self.target
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
        let mut report = Report::default();
        let mut reconnects = 0;
        // Named when first needed, so that a no-op start does not read the host name.
        let owner = OnceLock::new();
        loop {
            match self.attempt(pool, &owner, &mut report).await {
                Err(e) if reconnects < RECONNECTS && connect::lost(&e) => {
                    reconnects += 1;
                    tracing::warn!(
                        "Lost the connection mid-run: {e}\nReconnecting (attempt {reconnects} of {RECONNECTS}), \
                         then taking the lock and reading the history again"
                    );
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(report),
            }
        }
    }

    /// One connection's worth of a run: what it applies lands in `report`.
    /// `owner` names this run's lease, the same across reconnects.
    async fn attempt(&self, pool: &Pool, owner: &OnceLock<String>, report: &mut Report) -> Result<(), Error> {
        let client = connect::connect(pool, self.connect_timeout).await?;
        tracing::info!("Running database migrations...");
        let table = self.table_name();
        let expected = Expected {
            table: &table,
            count: self.migrations.len(),
            digest: (self.migrations.repeatables().len() == 0).then(|| self.migrations.history_digest()),
        };
        let read = expected.read(&client).await?;
        read.server.refuse_read_only()?;
        if read.exists {
            if read.current {
                tracing::info!("Database is up to date");
                return Ok(());
            }
            let plan = Plan::new(&self.migrations, &read.rows);
            let warnings = plan.validate(&self.policies, self.target)?;
            if plan.pending(self.target).is_empty()
                && plan.unrecorded().is_empty()
                && plan.repeatables_due(self.target).is_empty()
            {
                warnings.iter().for_each(|w| tracing::warn!("{w}"));
                tracing::info!("Database is up to date");
                report.warnings = warnings;
                return Ok(());
            }
        } else if let (Some(schema), false) = (&self.search_path, self.create_schema) {
            crate::session::require_schema(&client, schema).await?;
        }
        // A waiter that finds the work done when the lock is released
        // returns without taking it.
        let owner = owner.get_or_init(lock::owner);
        let options = self.lock_options(&table);
        match Locked::take(client, &options, pool, &read.server, owner, Some(&expected)).await? {
            Some(locked) => {
                locked
                    .hold(async |session| self.migrate(session, pool, report).await)
                    .await
            }
            None => {
                tracing::info!("Database is up to date");
                Ok(())
            }
        }
    }

    async fn migrate(&self, session: &Locked, pool: &Pool, report: &mut Report) -> Result<(), Error> {
        let rows = history::read(session.client(), &session.table)
            .await?
            .unwrap_or_default();
        let plan = Plan::new(&self.migrations, &rows);
        report.warnings = plan.validate(&self.policies, self.target)?;
        report.warnings.iter().for_each(|w| tracing::warn!("{w}"));
        let mut executor = self.executor(session, pool);

        let unrecorded = plan.unrecorded();
        if !unrecorded.is_empty() {
            let unit = Unit::history("the adopted checksums", Record::Adopted(&unrecorded));
            executor.apply(&unit).await?;
        }
        for m in unrecorded {
            tracing::info!(
                "Adopted checksum of {} (applied by an earlier tool that stored none)",
                m.file_name()
            );
            report.adopted.push(m.file_name().to_string());
        }

        let (pending, recorded) = squash::settle(&mut executor, &plan, plan.pending(self.target)).await?;
        report.recorded_squash = recorded.map(|m| m.file_name().to_string());
        let repeatables = plan.repeatables_due(self.target);
        if pending.is_empty() && repeatables.is_empty() {
            tracing::info!("Database is up to date");
            return Ok(());
        }
        if !pending.is_empty() {
            tracing::info!("Found {} pending migration(s)", pending.len());
        }
        let units: Vec<Unit> = pending.into_iter().map(Unit::file).collect();
        let applied_before = report.applied.len();
        let result = executor
            .apply_all(&units, |unit, duration| {
                tracing::info!("Applied: {} ({} ms)", unit.name, duration.as_millis());
                report.applied.push(Applied {
                    file_name: unit.name.clone(),
                    duration,
                });
            })
            .await;
        if let Err(e) = result {
            if report.applied.len() > applied_before {
                if let Err(flush) = executor.make_durable().await {
                    tracing::warn!("{flush}");
                }
            }
            return Err(e);
        }
        for file in repeatables {
            let duration = match executor.apply(&Unit::repeatable(file)).await {
                Ok(duration) => duration,
                Err(e) => {
                    tracing::error!("Failed to apply {}", file.file_name());
                    return Err(e);
                }
            };
            tracing::info!("Applied: {} ({} ms)", file.file_name(), duration.as_millis());
            report.repeated.push(Applied {
                file_name: file.file_name().to_string(),
                duration,
            });
        }
        executor.make_durable().await
    }

    /// How this runner takes the lock for `table`.
    fn lock_options<'a>(&'a self, table: &'a TableName) -> lock::Options<'a> {
        lock::Options {
            table,
            mode: self.lock_mode,
            lease: self.lease,
            poll_max: self.lock_poll_max,
            wait: self.lock_wait,
            search_path: self.search_path.as_deref(),
            trusted_owners: &self.trusted_owners,
        }
    }

    /// The executor for the writes on `session`, under this runner's timeouts.
    pub(crate) fn executor<'s>(&self, session: &'s Locked, pool: &'s Pool) -> Executor<'s> {
        Executor::new(session, pool, self.timeouts)
    }

    /// Takes the lock on a connection of `pool`, for the operations that
    /// write the history. The connection closes (releasing the lock) when
    /// the returned value drops.
    pub(crate) async fn lock(&self, pool: &Pool) -> Result<Locked, Error> {
        let client = connect::connect(pool, self.connect_timeout).await?;
        let server = Server::probe(&client).await?;
        server.refuse_read_only()?;
        let table = self.table_name();
        let options = self.lock_options(&table);
        let locked = Locked::take(client, &options, pool, &server, &lock::owner(), None).await?;
        Ok(locked.expect("taken: waiting ends only with the lock"))
    }

    /// A connection to read with.
    pub(crate) async fn connect(&self, pool: &Pool) -> Result<Object, Error> {
        connect::connect(pool, self.connect_timeout).await
    }
}

impl Migrations {
    /// A runner with default options; see [`Runner`].
    pub fn runner(&self) -> Runner {
        Runner::new(*self)
    }

    /// Applies every pending migration; see [`Runner::run`].
    #[inline(never)]
    pub fn run<'a>(&'a self, pool: &'a Pool) -> impl Future<Output = Result<Report, Error>> + Send + 'a {
        let runner = self.runner();
        boxed(async move { runner.run_here(pool).await })
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
