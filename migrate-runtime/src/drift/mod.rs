//! Drift: a database's schema, read from its catalogs, against the schema
//! its migrations build on a scratch database.

mod read;
mod scratch;

use crate::schema::{compare, CompareOptions, Drift, ReadOptions, Schema};
use crate::{Error, Runner};
use deadpool_postgres::Pool;
pub use scratch::Scratch;

/// What [`Runner::diff`] found, and what it compared against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiffReport {
    /// The differences, live against expected.
    pub drift: Drift,
    /// Where the expected schema was built, e.g. `template migrate_tpl_…
    /// on a throwaway PostgreSQL 15.8 in /tmp/migrate-scratch-… (cached)`.
    pub scratch: String,
    /// `server_version` of the scratch server.
    pub scratch_version: String,
    /// `server_version` of the database compared.
    pub live_version: String,
}

impl DiffReport {
    /// A warning when the two servers' major versions differ: each prints
    /// definitions its own way, which can show as differences.
    pub fn version_note(&self) -> Option<String> {
        let major = |v: &str| v.split(['.', ' ']).next().unwrap_or_default().to_string();
        (major(&self.scratch_version) != major(&self.live_version)).then(|| {
            format!(
                "the scratch server runs PostgreSQL {} and the database {}: definitions printed by different \
                 major versions can differ; give --scratch-url a server of the database's version",
                self.scratch_version, self.live_version
            )
        })
    }
}

/// What [`Runner::diff`] reads and how it compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffOptions {
    /// What to read from both databases.
    pub read: ReadOptions,
    /// How to compare.
    pub compare: CompareOptions,
}

impl DiffOptions {
    /// Compares owners and privileges too.
    pub fn privileges(mut self, privileges: bool) -> Self {
        self.read = self.read.privileges(privileges);
        self
    }

    /// Counts an extension's version as a difference.
    pub fn strict(mut self, strict: bool) -> Self {
        self.compare = self.compare.strict(strict);
        self
    }
}

impl Runner {
    /// The schema of the pool's database as the catalogs describe it,
    /// without the tracking and lease tables and whatever extensions own.
    /// With a [`schema`](Runner::schema) target, its objects are named
    /// without it. Reads only.
    pub async fn read_schema(&self, pool: &Pool, options: ReadOptions) -> Result<Schema, Error> {
        let client = self.connect(pool).await?;
        let target = self.schema_target();
        Ok(read::read(&client, &self.table_name(), target, options).await?.schema)
    }

    /// Compares the pool's database with the schema these migrations build
    /// on `scratch`. Reads only from the pool's database.
    pub async fn diff(&self, pool: &Pool, scratch: &Scratch, options: DiffOptions) -> Result<DiffReport, Error> {
        let client = self.connect(pool).await?;
        let live = read::read(&client, &self.table_name(), self.schema_target(), options.read).await?;
        drop(client);
        let built = scratch.build(self, options.read).await?;
        Ok(DiffReport {
            drift: compare(&built.read.schema, &live.schema, options.compare),
            scratch: built.described,
            scratch_version: built.read.version,
            live_version: live.version,
        })
    }
}
