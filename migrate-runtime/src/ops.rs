//! `db_init.py`'s manual procedures, answered from what the binary embedded:
//! status, dry runs, verify, baseline and forget. Every operation that
//! writes takes the same lock as `run`.

use crate::plan::{AppliedRow, Plan, Policies, Policy, State};
use crate::runner::history;
use crate::table::quote_literal;
use crate::{Error, Migration, Runner};
use deadpool_postgres::Pool;

impl Runner {
    /// Every migration and history row with its state. Reads only.
    pub async fn status(&self, pool: &Pool) -> Result<Plan, Error> {
        let client = self.connect(pool).await?;
        let rows = history::read(&client, self.table_name()).await?.unwrap_or_default();
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
            return Err(Error::Refused(format!(
                "cannot baseline through version {through}: no embedded migration has it (embedded: {})",
                versions(self)
            )));
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
                    return Err(Error::Refused(format!(
                        "cannot baseline through version {through}: {} is already applied; a baseline only \
                     describes a database that has nothing later",
                        later.file_name
                    )));
                }
                let to_record: Vec<Migration> = plan
                    .entries
                    .iter()
                    .filter(|e| e.state == State::Pending)
                    .filter_map(|e| e.migration)
                    .filter(|m| m.version() <= through)
                    .collect();
                if !to_record.is_empty() {
                    let sql: String = to_record
                        .iter()
                        .map(|m| history::record(&locked.table, m, "NULL"))
                        .collect();
                    crate::runner::query::execute(locked.client(), &sql)
                        .await
                        .map_err(Error::db(format!("recording the baseline in {}", locked.table)))?;
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
                    return Err(Error::Refused(format!(
                        "no applied migration is named `{file_name}`{}; `forget` needs the exact file name",
                        if close.is_empty() {
                            String::new()
                        } else {
                            format!(" (did you mean {}?)", close.join(", "))
                        }
                    )));
                };
                let sql = format!(
                    "DELETE FROM {} WHERE filename = {}",
                    locked.table,
                    quote_literal(file_name)
                );
                crate::runner::query::execute(locked.client(), &sql)
                    .await
                    .map_err(Error::db(format!("deleting {file_name} from {}", locked.table)))?;
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

impl Plan {
    /// A table: version, file, state, applied at, duration.
    pub fn render(&self) -> String {
        let mut lines = vec![[
            "VERSION".into(),
            "FILE".into(),
            "STATE".into(),
            "APPLIED AT".into(),
            "DURATION".into(),
        ]];
        for e in &self.entries {
            let state = match &e.state {
                State::Applied => "applied",
                State::Unrecorded => "applied (no checksum yet)",
                State::Changed { .. } => "changed",
                State::Renamed { .. } => "renamed",
                State::Pending => "pending",
                State::Missing => "missing",
                State::Future => "future",
                State::Squashed => "applied (squashed)",
            };
            let row = e.row.as_ref();
            lines.push([
                e.version.map(|v| format!("{v:03}")).unwrap_or_else(|| "?".into()),
                e.file_name.clone(),
                state.to_string(),
                row.and_then(|r| r.applied_at.clone()).unwrap_or_default(),
                row.and_then(|r| r.duration_ms)
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_default(),
            ]);
        }
        for r in &self.repeatables {
            let row = r.row.as_ref();
            lines.push([
                "R".into(),
                r.repeatable.file_name().to_string(),
                match r.state {
                    crate::RepeatableState::Current => "current",
                    crate::RepeatableState::Outdated => "outdated",
                    crate::RepeatableState::New => "new",
                }
                .into(),
                row.and_then(|r| r.applied_at.clone()).unwrap_or_default(),
                row.and_then(|r| r.duration_ms)
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_default(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
            .collect();
        lines
            .iter()
            .map(|l| {
                let cells: Vec<String> = l.iter().zip(&widths).map(|(cell, w)| format!("{cell:w$}")).collect();
                cells.join("  ").trim_end().to_string() + "\n"
            })
            .collect()
    }
}
