//! Applies PostgreSQL migrations embedded in the binary by
//! [`embed_migrations!`], exactly once, even when many instances start at
//! the same time.
//!
//! ```ignore
//! use migrate_runtime::{embed_migrations, Migrations};
//!
//! static MIGRATIONS: Migrations = embed_migrations!("migrations");
//!
//! let report = MIGRATIONS.run(&pool).await?;
//! ```

#[cfg(feature = "cli")]
pub mod cli;
mod embedded;
mod error;
mod ops;
mod plan;
mod pool;
mod report;
mod runner;
mod table;

#[doc(hidden)]
pub use embedded::__private;
pub use embedded::{Migration, Migrations, Statement};
pub use error::{Error, MigrationError};
pub use migrate_core::Diagnostic;
pub use plan::{AppliedRow, Entry, Plan, Policies, Policy, State};
pub use pool::{pool_from_url, redact_url};
pub use report::{Applied, Report};
pub use runner::{lock_key, Runner};
pub use table::TableName;

/// Embeds a folder of migrations, checked at compile time:
/// `static MIGRATIONS: Migrations = embed_migrations!("migrations");`
/// The path is relative to the crate's `Cargo.toml`.
pub use migrate_macros::embed_migrations;
