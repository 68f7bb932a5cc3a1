//! What happened on each target, one line each, and the totals.

use super::Error;
use crate::connector::{redact_url, Connector};
use crate::plan::{Plan, State};
use std::fmt;

/// One place the migrations go. `Display` and `Debug` show a database's
/// URL through [`redact_url`], never its password.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A schema of the pool's database, by name as the catalog spells it.
    Schema(String),
    /// A database, by URL or libpq key=value string.
    Database(String),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Schema(name) => f.debug_tuple("Schema").field(name).finish(),
            Target::Database(url) => f.debug_tuple("Database").field(&redact_url(url)).finish(),
        }
    }
}

impl Target {
    /// The server the target lives on, for the connection budget.
    pub(crate) fn server(&self) -> String {
        match self {
            Target::Schema(_) => String::new(),
            Target::Database(url) => match Connector::config_of(url) {
                Ok(config) => format!("{:?} {:?}", config.get_hosts(), config.get_ports()),
                Err(_) => url.clone(),
            },
        }
    }
}

impl fmt::Display for Target {
    /// The schema name, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Schema(name) => f.write_str(name),
            Target::Database(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// How one target ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// This many files (versioned and repeatable) were applied.
    Applied(usize),
    /// Nothing to apply.
    UpToDate,
    /// `status`: how many files are in each state.
    Status(Counts),
    /// A dry run: this many files would be applied.
    WouldApply(usize),
    /// `verify`: this many applied files match their embedded files.
    Verified(usize),
    /// The target failed; earlier files stay applied.
    Failed(Error),
    /// Not started, because of `fail_fast`.
    NotStarted,
}

/// One target and how it ended.
#[derive(Debug)]
pub struct TargetReport {
    /// The schema or database.
    pub target: Target,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for TargetReport {
    /// `tenant_7: failed at 002_x.sql:3:13, SQLSTATE 42P01: relation "t" does not exist`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.target)?;
        match &self.outcome {
            Outcome::Applied(n) => write!(f, "applied {n}"),
            Outcome::UpToDate => f.write_str("up to date"),
            Outcome::Status(counts) => write!(f, "{counts}"),
            Outcome::WouldApply(n) => write!(f, "would apply {n} migration(s)"),
            Outcome::Verified(n) => write!(f, "{n} applied migration(s) match their files"),
            Outcome::Failed(e) => write!(f, "failed{}", failure(e)),
            Outcome::NotStarted => f.write_str("not started (--fail-fast after a failure)"),
        }
    }
}

/// Where and why, on one line.
fn failure(e: &Error) -> String {
    match e {
        Error::Migration(m) => format!(
            " at {}:{}:{}, SQLSTATE {}: {}",
            m.file_name, m.line, m.column, m.code, m.message
        ),
        Error::Blocked(b) => format!(
            " at {} (its locks were not granted within lock_timeout){}",
            b.file_name,
            failure(&b.cause)
        ),
        other => {
            let text = other.to_string();
            format!(": {}", text.lines().collect::<Vec<_>>().join(" "))
        }
    }
}

/// Every target of a fan-out, in the order given.
#[derive(Debug)]
pub struct Summary {
    /// Each target and how it ended.
    pub targets: Vec<TargetReport>,
    /// Connections the servers refused for lack of slots (SQLSTATE 53300),
    /// each retried.
    pub refused: usize,
}

impl Summary {
    /// The targets that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TargetReport> {
        self.targets.iter().filter(|t| matches!(t.outcome, Outcome::Failed(_)))
    }

    fn count(&self, which: fn(&Outcome) -> bool) -> usize {
        self.targets.iter().filter(|t| which(&t.outcome)).count()
    }
}

impl fmt::Display for Summary {
    /// One line per target, then the totals (without a final newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for target in &self.targets {
            writeln!(f, "{target}")?;
        }
        write!(
            f,
            "{} target(s): {} applied, {} up to date, {} checked, {} failed, {} not started",
            self.targets.len(),
            self.count(|o| matches!(o, Outcome::Applied(_))),
            self.count(|o| matches!(o, Outcome::UpToDate)),
            self.count(|o| matches!(o, Outcome::Status(_) | Outcome::WouldApply(_) | Outcome::Verified(_))),
            self.count(|o| matches!(o, Outcome::Failed(_))),
            self.count(|o| matches!(o, Outcome::NotStarted)),
        )?;
        if self.refused > 0 {
            write!(
                f,
                "; {} connection(s) refused for too many connections were retried",
                self.refused
            )?;
        }
        Ok(())
    }
}

/// How many files of a target are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Applied (also without a checksum yet, or replaced by a squash).
    pub applied: usize,
    /// Not applied yet.
    pub pending: usize,
    /// Applied, but changed or renamed since.
    pub changed: usize,
    /// Applied, with no embedded file.
    pub missing: usize,
    /// Applied by a newer release.
    pub future: usize,
}

impl Counts {
    /// The counts of `plan`.
    pub fn of(plan: &Plan) -> Counts {
        let count = |which: fn(&State) -> bool| plan.entries.iter().filter(|e| which(&e.state)).count();
        Counts {
            applied: count(|s| matches!(s, State::Applied | State::Unrecorded | State::Squashed)),
            pending: count(|s| matches!(s, State::Pending)),
            changed: count(|s| matches!(s, State::Changed { .. } | State::Renamed { .. })),
            missing: count(|s| matches!(s, State::Missing)),
            future: count(|s| matches!(s, State::Future)),
        }
    }
}

impl fmt::Display for Counts {
    /// `3 applied, 1 pending`, with the states that need attention.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} applied, {} pending", self.applied, self.pending)?;
        for (name, n) in [
            ("changed", self.changed),
            ("missing", self.missing),
            ("future", self.future),
        ] {
            if n > 0 {
                write!(f, ", {n} {name}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MigrationError;

    #[test]
    fn lists_every_target_with_where_it_failed() {
        let failed = Error::Migration(Box::new(MigrationError {
            file_name: "002_b.sql".into(),
            line: 3,
            column: 13,
            statement: 2,
            statements: 2,
            statement_start: "INSERT INTO t".into(),
            code: "42P01".into(),
            message: "relation \"t\" does not exist".into(),
            detail: None,
            hint: None,
            completed: None,
            invalid_index: None,
        }));
        let summary = Summary {
            targets: vec![
                TargetReport {
                    target: Target::Schema("a".into()),
                    outcome: Outcome::Applied(3),
                },
                TargetReport {
                    target: Target::Schema("b".into()),
                    outcome: Outcome::Failed(failed),
                },
                TargetReport {
                    target: Target::Database("postgresql://u:pw@h/c".into()),
                    outcome: Outcome::Failed(Error::SchemaPattern("no\nway".into())),
                },
                TargetReport {
                    target: Target::Schema("d".into()),
                    outcome: Outcome::NotStarted,
                },
            ],
            refused: 2,
        };
        assert_eq!(
            summary.to_string(),
            "a: applied 3\n\
             b: failed at 002_b.sql:3:13, SQLSTATE 42P01: relation \"t\" does not exist\n\
             postgresql://u:***@h:5432/c: failed: no way\n\
             d: not started (--fail-fast after a failure)\n\
             4 target(s): 1 applied, 0 up to date, 0 checked, 2 failed, 1 not started; \
             2 connection(s) refused for too many connections were retried"
        );
        assert_eq!(summary.failed().count(), 2);
        assert!(!format!("{summary:?}").contains(":pw@"), "{summary:?}");
    }
}
