//! Applies pending migrations; see [`Runner`].

pub(crate) mod apply;
mod connect;
pub(crate) mod handover;
pub(crate) mod history;
mod lease;
pub(crate) mod lock;
mod pipeline;
pub(crate) mod query;
pub(crate) mod script;
mod server;
mod stale;
mod timeouts;
mod trust;

use crate::plan::{Plan, Policies};
use crate::report::{Applied, Report};
use crate::table::TableName;
use crate::{Error, Migrations};
use deadpool_postgres::{Object, Pool};
use history::Expected;
pub use lock::LockMode;
use server::{Engine, Server};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
pub use timeouts::Timeouts;

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
        let expected = Expected {
            table: &self.table,
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
            crate::fanout::require_schema(&client, schema).await?;
        }
        // A waiter that finds the work done when the lock is released
        // returns without taking it.
        let owner = owner.get_or_init(lease::owner);
        match Locked::take(client, self, pool, &read.server, owner, Some(&expected)).await? {
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
        let client = session.client();
        let table = &session.table;
        let rows = history::read(client, table).await?.unwrap_or_default();
        let plan = Plan::new(&self.migrations, &rows);
        report.warnings = plan.validate(&self.policies, self.target)?;
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
        if recorded.is_some() {
            report.recorded_squash = recorded.map(|m| m.file_name().to_string());
        }
        let repeatables = plan.repeatables_due(self.target);
        if pending.is_empty() && repeatables.is_empty() {
            tracing::info!("Database is up to date");
            return Ok(());
        }
        if !pending.is_empty() {
            tracing::info!("Found {} pending migration(s)", pending.len());
        }
        let applied_before = report.applied.len();
        if let Err(e) = self.apply_pending(session, pool, &pending, report).await {
            if report.applied.len() > applied_before {
                if let Err(flush) = apply::make_durable(client, table).await {
                    tracing::warn!("{flush}");
                }
            }
            return Err(e);
        }
        session.check()?;
        report.repeated = crate::repeatable::apply_all(client, table, self.search_path(), &repeatables).await?;
        apply::make_durable(client, table).await?;
        Ok(())
    }

    /// Applies `pending` in order: runs of normal files pipelined, the
    /// others (and a file whose pipelined attempt hit `lock_timeout`) one
    /// at a time with retries. Stops at the first failure.
    async fn apply_pending(
        &self,
        session: &Locked,
        pool: &Pool,
        pending: &[crate::Migration],
        report: &mut Report,
    ) -> Result<(), Error> {
        let mut watch = timeouts::Watch::new(pool, session.stable_session());
        let mut rest = pending;
        let mut applied = |file: crate::Migration, duration: Duration| {
            tracing::info!("Applied: {} ({} ms)", file.file_name(), duration.as_millis());
            report.applied.push(Applied {
                file_name: file.file_name().to_string(),
                duration,
            });
        };
        while !rest.is_empty() {
            session.check()?;
            let run = rest
                .iter()
                .take_while(|f| !f.no_transaction() && !session.engine().statementwise())
                .count();
            if run > 1 {
                match pipeline::apply(session, &rest[..run], &self.timeouts, &mut applied).await {
                    Ok(()) => {
                        rest = &rest[run..];
                        continue;
                    }
                    Err((failed, e)) => {
                        rest = &rest[failed..];
                        if !timeouts::lock_timed_out(&e) {
                            tracing::error!("Failed to apply {}", rest[0].file_name());
                            return Err(e);
                        }
                    }
                }
            }
            let file = rest[0];
            let started = Instant::now();
            if let Err(e) = timeouts::apply(&mut watch, session, file, &self.timeouts).await {
                tracing::error!("Failed to apply {}", file.file_name());
                return Err(e);
            }
            applied(file, started.elapsed());
            rest = &rest[1..];
        }
        Ok(())
    }

    /// Takes the lock on a connection of `pool`, for the operations that
    /// write the history. The connection closes (releasing the lock) when
    /// the returned value drops.
    pub(crate) async fn lock(&self, pool: &Pool) -> Result<Locked, Error> {
        let client = connect::connect(pool, self.connect_timeout).await?;
        let server = Server::probe(&client).await?;
        server.refuse_read_only()?;
        let locked = Locked::take(client, self, pool, &server, &lease::owner(), None).await?;
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
    /// Takes the lock in `runner`'s mode; `None` when the table holds the
    /// `done` history after a wait.
    async fn take(
        client: Object,
        runner: &Runner,
        pool: &Pool,
        server: &Server,
        owner: &str,
        done: Option<&Expected<'_>>,
    ) -> Result<Option<Locked>, Error> {
        let engine = server.engine();
        if engine == Engine::Citus {
            server::refuse_citus_worker(&client, server).await?;
        }
        let table = history::qualify(&client, &runner.table).await?;
        let key = lock::key(&table);
        let lease_table = lease::table_of(&table);
        let mut mode = runner.lock_mode;
        // A lease chosen for the engine runs on a direct connection; one
        // asked for, or chosen because a pooler showed, may not.
        let mut stable = mode != LockMode::Lease;
        if mode == LockMode::Auto {
            mode = match lock::pre_choose(&client, engine, server.pid).await {
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
                    if !lock::acquire(&client, key, &lease_table, runner.lock_poll_max, runner.lock_wait, done).await? {
                        return Ok(None);
                    }
                    if runner.lock_mode == LockMode::Auto && !lock::proven(&client, key, server.pid).await? {
                        lock::release(&client, key).await;
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
                        length: runner.lease,
                        poll_max: runner.lock_poll_max,
                        wait: runner.lock_wait,
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
            search_path: runner.search_path.clone(),
        };
        history::ensure(locked.client(), &locked.table).await?;
        if let Some(schema) = &runner.search_path {
            trust::check_schema(locked.client(), schema, &runner.trusted_owners).await?;
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
