//! Applying a run of normal (transactional) files without waiting for each
//! reply: each file's transaction is sent as soon as there is room in a
//! window, and the replies are read in order. Each transaction after the
//! first starts with a guard that lets it apply only if the previous file's
//! tracking row exists, so a file that fails stops everything sent after
//! it, exactly as when each waits for the one before.

use super::apply::Transaction;
use super::Locked;
use crate::table::{do_block, quote_literal};
use crate::{Error, Migration, Timeouts};
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_postgres::SimpleQueryMessage;

/// How many files may be in flight at once.
const WINDOW: usize = 64;

/// The SQLSTATE of a transaction skipped because the file before it did
/// not apply.
const SKIPPED: &str = "MGP01";

/// Applies `files` in order, each with its first attempt's settings;
/// `applied` hears of each as its reply arrives. On a failure, the index of
/// the file that failed and its error: nothing after it applied.
pub(crate) async fn apply(
    session: &Locked,
    files: &[Migration],
    options: &Timeouts,
    mut applied: impl FnMut(Migration, Duration),
) -> Result<(), (usize, Error)> {
    let (client, table) = (session.client(), &session.table);
    let fence = session.fence();
    let mut in_flight = VecDeque::new();
    let mut next = 0;
    let mut since = Instant::now();
    loop {
        while next < files.len() && in_flight.len() < WINDOW {
            let chain = next.checked_sub(1).map(|previous| {
                let name = quote_literal(files[previous].file_name());
                do_block(&format!(
                    " BEGIN IF NOT EXISTS (SELECT FROM {table} WHERE filename OPERATOR(pg_catalog.=) {name}) THEN \
                     RAISE EXCEPTION 'skipped: the file before it, %, did not apply', {name} \
                     USING ERRCODE = '{SKIPPED}'; END IF; END "
                ))
            });
            let guards: Vec<&str> = fence.iter().chain(chain.iter()).map(String::as_str).collect();
            let settings = super::timeouts::first_settings(files[next], options, session);
            let transaction = Transaction::new(table, files[next], &guards, &settings);
            let replies = client
                .simple_query_raw(&transaction.sql)
                .await
                .map_err(|e| (next, transaction.failure(e, 0)))?;
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
                Err(e) => return Err((index, transaction.failure(e, done))),
            }
        }
        applied(transaction.file, since.elapsed());
        since = Instant::now();
    }
}
