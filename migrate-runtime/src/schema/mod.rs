//! A database's schema as data: what [`Runner::read_schema`](crate::Runner::read_schema)
//! reads from the catalogs, the text form `migrate schema` prints and
//! `migrate schema --check` reads back, and [`compare`], which
//! [`Runner::diff`](crate::Runner::diff) uses to find drift.

mod compare;
mod model;

pub use compare::{compare, Change, CompareOptions, Difference, Drift};
pub(crate) use model::normalise;
pub use model::{Attributes, ObjectId, ObjectKind, ParseError, Schema, OF};

/// What the catalog reader reads besides the schema itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Owners and privileges (`owner` and `privileges` attributes). The
    /// role reading shows as `current_user`, so that a scratch database
    /// built by another role compares equal.
    pub privileges: bool,
}

impl ReadOptions {
    /// Reads owners and privileges too.
    pub fn privileges(mut self, privileges: bool) -> Self {
        self.privileges = privileges;
        self
    }
}
