//! What can go wrong, with enough detail to fix it without a debugger.

use crate::plan::Invalid;
use std::fmt;
use std::time::Duration;

mod summary;

pub use summary::{Counts, Outcome, Summary, Target, TargetReport};

/// An error from running or inspecting migrations. Match on its kind;
/// `Display` says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server did not accept connections within the configured limit.
    #[error("PostgreSQL did not accept connections within {waited:?} ({attempts} attempts); last error: {last}")]
    Unavailable {
        /// How long the runner waited.
        waited: Duration,
        /// How many connection attempts failed.
        attempts: u32,
        /// The last attempt's error.
        last: String,
    },
    /// A failure that waiting cannot fix: wrong password, missing database, ...
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// Connection settings (URL, `PGSSL*` variables, certificate files)
    /// that cannot be used; nothing was tried.
    #[error("{0}")]
    Settings(#[from] crate::connector::SettingsError),
    /// TLS failed: the server's certificate, the client's, or a server
    /// without TLS. Waiting cannot fix it.
    #[error("cannot connect to PostgreSQL over TLS: {0}")]
    Tls(#[from] crate::connector::TlsError),
    /// The connection pool could not be built.
    #[error("cannot create the connection pool: {0}")]
    Pool(String),
    /// The server takes no writes: a standby, or read-only. Refused before
    /// any lock or DDL.
    #[error("{0}")]
    ReadOnly(String),
    /// The server is a Citus worker node; migrations run on the coordinator.
    #[error("the server at {place} is a Citus worker node; run migrations on the coordinator")]
    CitusWorker {
        /// Address and database.
        place: String,
    },
    /// This instance lost the migration lease to another one (it was
    /// paused or cut off past the lease's expiry); it wrote nothing after
    /// that.
    #[error("{0}")]
    LeaseLost(String),
    /// Another session held the migration lock (or lease) past
    /// [`Runner::lock_wait`](crate::Runner::lock_wait); nothing was applied.
    #[error(
        "the migration lock was still held after waiting {} (the lock wait limit), by {}; nothing was \
         applied. If that session is not a migration run (the lock's key is no secret: any role can take \
         the same advisory lock), end it with SELECT pg_terminate_backend(pid), or wait longer",
        humantime(.waited), .holder.as_deref().unwrap_or("a session that did not say who it is")
    )]
    LockWait {
        /// How long the run waited.
        waited: Duration,
        /// Who held the lock when the run gave up, as the wait's log lines
        /// name it.
        holder: Option<String>,
    },
    /// The history in the database does not match the migrations.
    #[error(transparent)]
    Validation(#[from] Invalid),
    /// A table or schema the runner would use could run another role's
    /// code as the migrating role: a view, a table someone else owns or
    /// with triggers or rules, a schema target someone else owns. Nothing
    /// was applied; `why` says how to make it trusted.
    #[error("refusing to use {object}: {why}")]
    Untrusted {
        /// The table or schema.
        object: String,
        /// What is wrong with it, and how to fix it.
        why: String,
    },
    /// A tracking table name that is not `table` or `schema.table`.
    #[error("{0}")]
    TableName(String),
    /// An unqualified tracking table, and a search_path that names no
    /// existing schema to put it in.
    #[error(
        "the search_path names no existing schema, so {table} has nowhere to live; qualify the table name \
         (e.g. public.{table})"
    )]
    NoSchemaOnPath {
        /// The tracking table's name.
        table: String,
    },
    /// A [`Runner::schema`](crate::Runner::schema) target that does not exist.
    #[error(
        "the schema {} does not exist in this database; create it, or let the runner create it \
         (`Runner::create_schema(true)`, or `--create-schemas`)",
        crate::sql::quote_ident(.schema)
    )]
    NoSuchSchema {
        /// The schema, as the catalog spells it.
        schema: String,
    },
    /// A schema pattern that matches nothing, or that cannot name the one
    /// schema to create.
    #[error("{0}")]
    SchemaPattern(String),
    /// Lines of a `--database-urls` file that cannot be used, each as
    /// `file:line: why`, or the file that cannot be read.
    #[error("{}", list("the database URL file cannot be used", .0))]
    UrlFile(Vec<String>),
    /// A `no-transaction` file for a schema target under a lease: it needs
    /// a session setting that a transaction pooler may not keep.
    #[error(
        "{file_name} runs outside a transaction, so it needs search_path set for the session, but under a \
         lease a session setting may not last (a transaction pooler may sit between): schema-qualify the \
         names in the file (`{schema}.table`), or migrate schema {schema} over a direct connection"
    )]
    NeedsSession {
        /// The file.
        file_name: String,
        /// The target schema.
        schema: String,
    },
    /// A squashed first file on a database that applied only some of the
    /// versions it replaces; nothing was applied.
    #[error(
        "{file_name} replaces versions {from:03}-{through:03}, but this database applied only some of them; \
         missing: {missing}. The squashed file cannot apply part of itself, so nothing was applied. Deploy a \
         release from before the squash first, so that it applies them, then this one"
    )]
    PartialSquash {
        /// The squashed file.
        file_name: String,
        /// The first version it replaces.
        from: u64,
        /// The last version it replaces.
        through: u64,
        /// What is missing: file names, or a range of versions.
        missing: String,
    },
    /// A revert that cannot run: a version in range has no down SQL, is
    /// irreversible, or its stored down SQL differs or fails the checks.
    /// Nothing was reverted.
    #[error("{}\n  {fix}", list("nothing was reverted", .problems))]
    CannotRevert {
        /// Each problem.
        problems: Vec<String>,
        /// What to do about them.
        fix: String,
    },
    /// A baseline that cannot be recorded; nothing was recorded.
    #[error("cannot baseline through version {through}: {why}")]
    CannotBaseline {
        /// The version asked for.
        through: u64,
        /// Why, and what to do.
        why: String,
    },
    /// `forget` of a file that has no tracking row.
    #[error(
        "no applied migration is named `{file_name}`{}; `forget` needs the exact file name",
        if .close.is_empty() { String::new() } else { format!(" (did you mean {}?)", .close.join(", ")) }
    )]
    NotApplied {
        /// The name given.
        file_name: String,
        /// Applied files with a similar name.
        close: Vec<String>,
    },
    /// A migration file failed; see [`MigrationError`].
    #[error(transparent)]
    Migration(Box<MigrationError>),
    /// A migration file could not take its locks within the retry budget;
    /// see [`BlockedError`].
    #[error(transparent)]
    Blocked(Box<BlockedError>),
    /// Targets of a fan-out failed; the summary lists every target.
    #[error("{failed} of {all} target(s) failed:\n{summary}", failed = .0.failed().count(), all = .0.targets.len(), summary = .0)]
    Fanout(Box<Summary>),
    /// The test databases of [`testing`](crate) could not be provided.
    #[error("{0}")]
    TestDatabase(String),
    /// The scratch database for [`Runner::diff`](crate::Runner::diff) cannot
    /// be used; nothing was compared.
    #[error("{0}")]
    Scratch(ScratchError),
    /// A schema file (`migrate schema --check FILE`) cannot be read.
    #[error("cannot use the schema file {path}: {why}; write it with `migrate schema > {path}`")]
    SchemaFile {
        /// The file.
        path: String,
        /// What is wrong, with the line.
        why: String,
    },
    /// The server answered a query of the runner's own with something it
    /// cannot answer with (no row where one is due).
    #[error("{context}")]
    UnexpectedReply {
        /// What the runner was doing.
        context: String,
    },
    /// A query of the runner itself (history, lock) failed. The server's
    /// message is part of `Display`, so `source()` is `None`: a chain
    /// printer (`anyhow`'s `{:#}`) shows it once.
    #[error("{context}: {}", describe(.cause))]
    Database {
        /// What the runner was doing.
        context: String,
        /// The driver's error, for its SQLSTATE and fields.
        cause: tokio_postgres::Error,
    },
}

impl Error {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
        let context = context.into();
        move |cause| Error::Database { context, cause }
    }
}

/// Why the scratch database cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScratchError {
    /// It holds objects the migrations did not make, or a history of other
    /// migrations.
    #[error(
        "the scratch database {database} is not empty: {found}. Give --scratch-url an empty database \
         (DROP DATABASE and CREATE DATABASE it again); nothing in it was changed"
    )]
    NotEmpty {
        /// The database, password redacted.
        database: String,
        /// What it holds, e.g. `table public.users`.
        found: String,
    },
    /// No throwaway cluster: no server binaries, or a build without the
    /// `testing` feature.
    #[error("cannot start a throwaway PostgreSQL as the scratch database: {0}; or pass --scratch-url URL of an empty database")]
    NoCluster(String),
}

/// `1.5 s`, `300 ms`.
fn humantime(d: &Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

fn list(title: &str, items: &[String]) -> String {
    let mut out = format!("{title}:");
    for item in items {
        out.push_str("\n  - ");
        out.push_str(item);
    }
    out
}

/// A server error on one line: `ERROR 42P01: relation "x" does not exist`;
/// a TLS failure as what to do about it.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => match crate::connector::explain(e) {
            Some(tls) => tls.to_string(),
            None => e.to_string(),
        },
    }
}

/// A migration file that failed: which statement, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationError {
    /// The file that failed, such as `002_fix_features.sql`.
    pub file_name: String,
    /// 1-based line and column (in characters) in the file.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// 1-based index of the failing statement, and how many the file has.
    pub statement: usize,
    /// How many statements the file has.
    pub statements: usize,
    /// The failing statement's first line.
    pub statement_start: String,
    /// SQLSTATE, or empty when the connection failed rather than the statement.
    pub code: String,
    /// The server's message.
    pub message: String,
    /// The server's DETAIL, if any.
    pub detail: Option<String>,
    /// The server's HINT, if any.
    pub hint: Option<String>,
    /// For a `no-transaction` file: statements that succeeded and stay applied.
    pub completed: Option<usize>,
    /// The INVALID index a failed `CREATE INDEX CONCURRENTLY` left behind,
    /// schema-qualified.
    pub invalid_index: Option<String>,
}

impl std::error::Error for MigrationError {}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {file} failed at {file}:{}:{} (statement {} of {}: `{}`)",
            self.line,
            self.column,
            self.statement,
            self.statements,
            self.statement_start,
            file = self.file_name
        )?;
        if self.code.is_empty() {
            write!(f, "\n  {}", self.message)?;
        } else {
            write!(f, "\n  ERROR {}: {}", self.code, self.message)?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\n  DETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  HINT: {hint}")?;
        }
        if let Some(index) = &self.invalid_index {
            write!(
                f,
                "\n  the failed CREATE INDEX CONCURRENTLY left the INVALID index {index}; \
                 remove it with `DROP INDEX CONCURRENTLY {index};` before the next run"
            )?;
        }
        match self.completed {
            None => write!(f, "\n  nothing of this file was applied; earlier files stay applied"),
            Some(0) => write!(
                f,
                "\n  no statement of this no-transaction file completed; earlier files stay applied"
            ),
            Some(n) => write!(
                f,
                "\n  this file runs without a transaction: statements 1 to {n} ran and stay applied; \
                 make the file safe to run again (IF NOT EXISTS / IF EXISTS), then rerun"
            ),
        }
    }
}

/// A session that held a lock a migration waited for, as
/// `pg_stat_activity` showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Blocker {
    /// Its backend process id (`pg_terminate_backend(pid)` ends it).
    pub pid: i32,
    /// Its `application_name`.
    pub application_name: String,
    /// Its state, such as `idle in transaction`.
    pub state: String,
    /// How long its transaction had been open.
    pub transaction_open: Option<Duration>,
    /// The start of its current or last query.
    pub query: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (application_name '{}', {}",
            self.pid, self.application_name, self.state
        )?;
        if let Some(open) = self.transaction_open {
            write!(f, ", transaction open {:.1} s", open.as_secs_f64())?;
        }
        write!(f, ", query `{}`)", self.query)
    }
}

/// `blocked by pid 1 (...), pid 2 (...)`, the words of the retry log and
/// of [`BlockedError`].
pub(crate) fn blocked_by(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "the blocking session was not seen (it ended, or the watching connection was unavailable)".to_string();
    }
    let list: Vec<String> = blockers.iter().map(Blocker::to_string).collect();
    format!("blocked by {}", list.join(", "))
}

/// A file that hit `lock_timeout` on every attempt until the retry budget
/// ran out (or on a statement that is not safe to retry).
#[derive(Debug)]
pub struct BlockedError {
    /// The file, such as `004_add_column.sql`.
    pub file_name: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// How long the attempts took.
    pub waited: Duration,
    /// Who blocked the last attempt.
    pub blockers: Vec<Blocker>,
    /// An INVALID index a failed `CREATE INDEX CONCURRENTLY` left behind,
    /// schema-qualified; `DROP INDEX CONCURRENTLY` removes it.
    pub invalid_index: Option<String>,
    /// Why the statement was not retried, when it was not.
    pub not_retried: Option<String>,
    /// The last attempt's error.
    pub cause: Error,
}

impl std::error::Error for BlockedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl fmt::Display for BlockedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.not_retried {
            Some(why) => write!(
                f,
                "migration {} could not take a lock within lock_timeout and was not retried ({why}); ",
                self.file_name
            )?,
            None => write!(
                f,
                "migration {} gave up after {} attempt(s) in {:.1} s: it could not take its locks within lock_timeout; ",
                self.file_name,
                self.attempts,
                self.waited.as_secs_f64()
            )?,
        }
        write!(f, "{}\n{}", blocked_by(&self.blockers), self.cause)?;
        if let Some(index) = &self.invalid_index {
            write!(
                f,
                "\n  the failed CREATE INDEX CONCURRENTLY left the INVALID index {index}; \
                 remove it with `DROP INDEX CONCURRENTLY {index};` before the next run"
            )?;
        }
        Ok(())
    }
}
