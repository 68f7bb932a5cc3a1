//! `db_init.py`'s manual procedures, answered from what the binary embedded:
//! status, dry runs, verify, baseline, forget and reverts. Every operation
//! that writes takes the same lock as `run` and writes through its
//! executor.

mod revert;

use crate::apply::{Record, Unit};
use crate::plan::{AppliedRow, Plan, Policies, Policy, State};
use crate::session::history;
use crate::{Error, Migration, Runner};
use deadpool_postgres::Pool;
pub use revert::{RevertScope, RevertStep, Reverted};

impl Runner {
    /// Every migration and history row with its state. Reads only.
    pub async fn status(&self, pool: &Pool) -> Result<Plan, Error> {
        let client = self.connect(pool).await?;
        let rows = history::read(&client, &self.table_name()).await?.unwrap_or_default();
        Ok(Plan::new(self.migrations(), &rows))
    }

    /// What `run` would apply now, in order, without applying anything.
    pub async fn dry_run(&self, pool: &Pool) -> Result<Vec<Migration>, Error> {
        let plan = self.status(pool).await?;
        plan.validate(&self.policies_in_force(), self.target_version())?;
        Ok(plan.pending(self.target_version()))
    }

    /// Fails when an applied file changed or is missing, whatever the
    /// runner's policies; returns the status otherwise.
    pub async fn verify(&self, pool: &Pool) -> Result<Plan, Error> {
        let plan = self.status(pool).await?;
        let strict = Policies {
            changed: Policy::Fail,
            missing: Policy::Fail,
            future: Policy::Ignore,
            out_of_order: Policy::Ignore,
        };
        plan.validate(&strict, None)?;
        Ok(plan)
    }

    /// Records every migration up to `through` as applied without running
    /// it, for a database whose schema was created by other means. Refuses
    /// a version that is not embedded, and a database where a later
    /// version is already applied. Returns the files it recorded.
    pub async fn baseline(&self, pool: &Pool, through: u64) -> Result<Vec<String>, Error> {
        if !self.migrations().iter().any(|m| m.version() == through) {
            return Err(Error::CannotBaseline {
                through,
                why: format!("no embedded migration has it (embedded: {})", versions(self)),
            });
        }
        self.lock(pool)
            .await?
            .hold(async |locked| {
                let rows = history::read(locked.client(), &locked.table).await?.unwrap_or_default();
                let plan = Plan::new(self.migrations(), &rows);
                if let Some(later) = plan
                    .entries
                    .iter()
                    .find(|e| e.row.is_some() && e.version.is_some_and(|v| v > through))
                {
                    return Err(Error::CannotBaseline {
                        through,
                        why: format!(
                            "{} is already applied; a baseline only describes a database that has nothing later",
                            later.file_name
                        ),
                    });
                }
                let to_record: Vec<Migration> = plan
                    .entries
                    .iter()
                    .filter(|e| e.state == State::Pending)
                    .filter_map(|e| e.migration)
                    .filter(|m| m.version() <= through)
                    .collect();
                if !to_record.is_empty() {
                    let unit = Unit::history("the baseline", Record::Baseline(&to_record));
                    self.executor(locked, pool).apply(&unit).await?;
                }
                let recorded: Vec<String> = to_record.iter().map(|m| m.file_name().to_string()).collect();
                for file in &recorded {
                    tracing::info!("Baselined: {file} (recorded as applied, not run)");
                }
                Ok(recorded)
            })
            .await
    }

    /// Deletes the tracking row of `file_name` (the exact file name), so
    /// that the file runs again. Returns the removed row.
    pub async fn forget(&self, pool: &Pool, file_name: &str) -> Result<AppliedRow, Error> {
        self.lock(pool)
            .await?
            .hold(async |locked| {
                let rows = history::read(locked.client(), &locked.table).await?.unwrap_or_default();
                let Some(row) = rows.iter().find(|r| r.file_name == file_name).cloned() else {
                    let close: Vec<&str> = rows
                        .iter()
                        .map(|r| r.file_name.as_str())
                        .filter(|n| {
                            n.contains(file_name) || n.get(..3).is_some_and(|version| file_name.starts_with(version))
                        })
                        .collect();
                    return Err(Error::NotApplied {
                        file_name: file_name.to_string(),
                        close: close.into_iter().map(str::to_string).collect(),
                    });
                };
                let unit = Unit::history(file_name, Record::Deleted(file_name));
                self.executor(locked, pool).apply(&unit).await?;
                tracing::info!(
                    "Forgot: {file_name} (applied at {})",
                    row.applied_at.as_deref().unwrap_or("unknown")
                );
                Ok(row)
            })
            .await
    }
}

fn versions(runner: &Runner) -> String {
    let list: Vec<String> = runner
        .migrations()
        .iter()
        .map(|m| format!("{:03}", m.version()))
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}
