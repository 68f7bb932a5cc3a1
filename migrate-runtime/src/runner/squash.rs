//! A squashed first file (`NNN_squashed.sql`, `-- migrate: squashes
//! FROM-NNN`) on a database that may have applied the files it replaced.

use crate::apply::{Executor, Record, Unit};
use crate::plan::{Plan, State};
use crate::{Error, Migration};

/// Decides what to do with the squashed file among `pending`, before
/// anything runs: with no replaced version applied it runs; with every
/// file it lists (`-- migrate: replaces`) applied, or without a list the
/// last version `NNN`, it is recorded without running; otherwise the run
/// is refused, naming what is missing. Returns what remains to
/// apply, and the file recorded, if any.
pub(crate) async fn settle(
    executor: &mut Executor<'_>,
    plan: &Plan,
    pending: Vec<Migration>,
) -> Result<(Vec<Migration>, Option<Migration>), Error> {
    let Some(squashed) = pending.first().copied().filter(|m| m.squashes().is_some()) else {
        return Ok((pending, None));
    };
    let (from, through) = squashed.squashes().expect("checked above");
    let applied: Vec<u64> = plan
        .entries
        .iter()
        .filter(|e| e.state == State::Squashed)
        .filter_map(|e| e.version)
        .collect();
    if applied.is_empty() {
        return Ok((pending, None));
    }
    let listed: Vec<(u64, &str)> = squashed
        .replaces()
        .iter()
        .filter_map(|f| Some((migrate_core::name::parse(f, 0).ok()?.version, *f)))
        .collect();
    let missing: Vec<&str> = listed
        .iter()
        .filter(|(v, _)| !applied.contains(v))
        .map(|(_, f)| *f)
        .collect();
    if !missing.is_empty() {
        return Err(Error::PartialSquash {
            file_name: squashed.file_name().to_string(),
            from,
            through,
            missing: missing.join(", "),
        });
    }
    // A hand-written squashed file without `replaces` lines: the pre-squash
    // release applied in order, so the row of its last version means all.
    if listed.is_empty() && !applied.contains(&through) {
        let newest = applied.iter().max().copied().unwrap_or(from);
        return Err(Error::PartialSquash {
            file_name: squashed.file_name().to_string(),
            from,
            through,
            missing: format!("the versions after {newest:03} through {through:03}"),
        });
    }
    let record = Record::Applied {
        file: squashed,
        ran: false,
    };
    executor.apply(&Unit::history(squashed.file_name(), record)).await?;
    tracing::info!(
        "Recorded: {} (every version it replaces is applied; not run)",
        squashed.file_name()
    );
    Ok((pending[1..].to_vec(), Some(squashed)))
}
