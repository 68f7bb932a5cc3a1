//! Applies PostgreSQL migrations embedded in the binary by
//! [`embed_migrations!`], exactly once, even when many instances start at
//! the same time.
//!
//! ```no_run
//! use migrate_runtime::{embed_migrations, Migrations};
//!
//! // A folder relative to your crate's Cargo.toml, checked by `cargo build`
//! // (here the example set of this repository; usually "migrations").
//! static MIGRATIONS: Migrations = embed_migrations!("../migrations");
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let url = std::env::var("DATABASE_URL")?;
//!     let pool = migrate_runtime::pool_from_url(&url, 8)?; // or your own deadpool Pool
//!     let report = MIGRATIONS.run(&pool).await?;
//!     println!("{} applied", report.applied.len());
//!     Ok(())
//! }
//! ```
//!
//! [`pool_from_url`] takes a URL or libpq key=value string and follows
//! libpq's TLS rules (`sslmode`, `sslrootcert`, `sslcert`/`sslkey`,
//! `channel_binding`, the `PGSSL*` variables); TLS failures are
//! [`TlsError`]s that say what to do.
//!
//! Add a one-line build script so that a new file triggers a rebuild:
//! `fn main() { println!("cargo:rerun-if-changed=migrations"); }`.
//!
//! With the feature `syntax-check`, [`embed_migrations!`] also parses every
//! file with PostgreSQL's own grammar, PL/pgSQL bodies included, and fails
//! the build at the server's `file:line:col` (needs libclang to build).

#![warn(missing_docs)]

// The modules form layers; each uses only those of the layers below it
// (`tests/layers.rs` checks): `sql`, `connector`, `embedded`, `report`,
// `schema` (a schema as data); `plan`; `error`; `session` (connecting, the
// server, the tracking table); `lock` (advisory lock and lease); `apply`
// (the one executor); `runner`; `ops`, `fanout`; `testing`; `drift`
// (reading catalogs, scratch databases); `cli`.
mod apply;
#[cfg(feature = "cli")]
pub mod cli;
mod connector;
mod drift;
mod embedded;
mod error;
pub mod fanout;
mod lock;
mod ops;
mod plan;
mod report;
mod runner;
pub mod schema;
mod session;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use apply::Timeouts;
pub use connector::{libpq_env, redact_url, SettingsError, SslMode, TlsError};
pub use drift::{DiffOptions, DiffReport, Scratch};
#[doc(hidden)]
pub use embedded::__private;
pub use embedded::{Down, Migration, Migrations, Repeatable, Statement};
pub use error::{BlockedError, Blocker, Error, MigrationError, ScratchError};
pub use lock::LockMode;
pub use migrate_core::statement::StatementKind;
pub use migrate_core::Diagnostic;
pub use ops::{RevertScope, RevertStep, Reverted};
pub use plan::{AppliedRow, Entry, Invalid, Mismatch, Plan, Policies, Policy, RepeatableEntry, RepeatableState, State};
pub use report::{Applied, Report};
pub use runner::{lock_key, Runner};
pub use session::pool_from_url;
pub use sql::TableName;

/// Embeds a folder of migrations, checked at compile time:
/// `static MIGRATIONS: Migrations = embed_migrations!("migrations");`
/// The path is relative to the crate's `Cargo.toml`.
pub use migrate_macros::embed_migrations;

/// `#[migrate_runtime::test(MIGRATIONS)]` on `async fn name(pool: deadpool_postgres::Pool)`:
/// a test that gets a pool to a fresh database holding `MIGRATIONS`; see
/// [`testing`].
#[cfg(feature = "testing")]
pub use migrate_macros::test;
