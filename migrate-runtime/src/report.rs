//! What a run did.

use std::time::Duration;

/// The outcome of [`Runner::run`](crate::Runner::run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files applied by this run, in order, with how long each took.
    pub applied: Vec<Applied>,
    /// Files recorded without a checksum (by an older tool) whose checksum
    /// this run stored.
    pub adopted: Vec<String>,
    /// A squashed file recorded without running, because the database
    /// had applied every version it replaces.
    pub recorded_squash: Option<String>,
    /// Repeatable files run by this run (new or changed), in name order.
    pub repeated: Vec<Applied>,
    /// Everything tolerated under the validation policies.
    pub warnings: Vec<String>,
}

/// One file applied by a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The file applied.
    pub file_name: String,
    /// How long its transaction took.
    pub duration: Duration,
}

impl Report {
    /// Whether the run found nothing to apply, versioned or repeatable.
    pub fn up_to_date(&self) -> bool {
        self.applied.is_empty() && self.repeated.is_empty()
    }
}
