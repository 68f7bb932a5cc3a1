//! Applying a run of units that are one transaction each without waiting
//! for each reply: each transaction is sent as soon as there is room in a
//! window, and the replies are read in order. Each transaction after the
//! first starts with a guard that lets it apply only if the previous
//! unit's tracking row exists, so a unit that fails stops everything sent
//! after it, exactly as when each waits for the one before.

use super::{Executor, Record, Unit};
use crate::sql::{do_block, quote_literal};
use crate::Error;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_postgres::SimpleQueryMessage;

/// How many units may be in flight at once.
const WINDOW: usize = 64;

/// The SQLSTATE of a transaction skipped because the unit before it did
/// not apply.
const SKIPPED: &str = "MGP01";

/// Applies `units` (versioned files, each recorded by name) in order, each
/// with its first attempt's settings; `applied` hears of each as its reply
/// arrives. On a failure, the index of the unit that failed and its
/// error: nothing after it applied.
pub(super) async fn apply(
    executor: &Executor<'_>,
    units: &[Unit<'_>],
    mut applied: impl FnMut(&Unit<'_>, Duration),
) -> Result<(), (usize, Error)> {
    let client = executor.session.client();
    let table = &executor.session.table;
    let mut in_flight = VecDeque::new();
    let mut next = 0;
    let mut since = Instant::now();
    loop {
        while next < units.len() && in_flight.len() < WINDOW {
            let chain = next.checked_sub(1).map(|previous| {
                let Record::Applied { file, .. } = &units[previous].record else {
                    unreachable!("only versioned files are pipelined");
                };
                let name = quote_literal(file.file_name());
                do_block(&format!(
                    " BEGIN IF NOT EXISTS (SELECT FROM {table} WHERE filename OPERATOR(pg_catalog.=) {name}) THEN \
                     RAISE EXCEPTION 'skipped: the file before it, %, did not apply', {name} \
                     USING ERRCODE = '{SKIPPED}'; END IF; END "
                ))
            });
            let unit = &units[next];
            let schedule = executor.schedule(unit);
            let transaction = executor.transaction(unit, &schedule, 1, chain.as_deref());
            let replies = client
                .simple_query_raw(&transaction.sql)
                .await
                .map_err(|e| (next, transaction.failure(unit, e, 0)))?;
            in_flight.push_back((next, transaction, Box::pin(replies)));
            next += 1;
        }
        let Some((index, transaction, mut replies)) = in_flight.pop_front() else {
            return Ok(());
        };
        let mut done = 0;
        while let Some(message) = replies.next().await {
            match message {
                Ok(SimpleQueryMessage::CommandComplete(_)) => done += 1,
                Ok(_) => {}
                Err(e) => return Err((index, transaction.failure(&units[index], e, done))),
            }
        }
        applied(&units[index], since.elapsed());
        since = Instant::now();
    }
}
