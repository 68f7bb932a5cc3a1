//! Hand-over of the migration lock between starting instances: the holder
//! sends `NOTIFY` as it releases, and each waiter, `LISTEN`ing on its own
//! connection, tries again at once instead of at its next poll.
//!
//! tokio-postgres hands notifications only to whoever drives the
//! connection, and deadpool's own connection task drops them. Pools made by
//! [`pool_from_url`](crate::pool_from_url) connect through [`Forwarding`],
//! which passes them on to the waiters of this process. With any other
//! pool, no notification arrives and waiters poll as before.

use crate::connector::Connector;
use deadpool_postgres::Connect;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config};

/// Whether a connection of this process forwards notifications.
static FORWARDING: AtomicBool = AtomicBool::new(false);

/// Waiters of this process, by channel.
fn channels() -> &'static Mutex<HashMap<String, Arc<Notify>>> {
    static CHANNELS: OnceLock<Mutex<HashMap<String, Arc<Notify>>>> = OnceLock::new();
    CHANNELS.get_or_init(Default::default)
}

fn waiters(channel: &str) -> Arc<Notify> {
    let mut channels = channels().lock().unwrap_or_else(|e| e.into_inner());
    channels.entry(channel.to_string()).or_default().clone()
}

/// The channel on which the release of lock `key` is announced, quoted.
pub(crate) fn channel(key: i64) -> String {
    format!("\"migrate_lock_{:016x}\"", key as u64)
}

/// The statement that announces the release of lock `key`; delivered when
/// the releasing transaction commits.
pub(crate) fn announce(key: i64) -> String {
    format!("NOTIFY {};", channel(key))
}

/// The statement that makes a waiter's connection hear [`announce`],
/// followed by a space.
pub(crate) fn listen(key: i64) -> String {
    format!("LISTEN {}; ", channel(key))
}

/// How long a waiter pauses before trying again, and how it learns that
/// it should try again sooner.
pub(crate) struct Pause {
    waiters: Arc<Notify>,
    delay: Duration,
    poll_max: Duration,
}

impl Pause {
    pub(crate) fn new(key: i64, poll_max: Duration) -> Pause {
        let unquoted = channel(key).trim_matches('"').to_string();
        Pause {
            waiters: waiters(&unquoted),
            delay: Duration::from_millis(20),
            poll_max,
        }
    }

    /// Runs `attempt` (which must not wait on the server); when it yields
    /// nothing, waits until the holder announces its release or, failing
    /// that, until the next poll: backing off up to `poll_max` when no
    /// notification can arrive, every `poll_max` when one can. Waiting holds
    /// no snapshot: the connection sits idle, outside any transaction.
    pub(crate) async fn attempt<T, E>(
        &mut self,
        attempt: impl AsyncFnOnce() -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        let announced = self.waiters.notified();
        tokio::pin!(announced);
        announced.as_mut().enable();
        if let Some(done) = attempt().await? {
            return Ok(Some(done));
        }
        let pause = if FORWARDING.load(Ordering::Relaxed) {
            self.poll_max
        } else {
            let pause = self.delay;
            self.delay = (self.delay * 2).min(self.poll_max);
            pause
        };
        if tokio::time::timeout(pause, announced).await.is_ok() {
            tracing::info!("The migration lock's holder announced its release");
        }
        Ok(None)
    }
}

type Connecting<'a> =
    Pin<Box<dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>>;

/// Connects through the [`Connector`] (TLS by libpq's rules), and drives
/// the connection itself so that notifications reach the waiters of this
/// process.
pub(crate) struct Forwarding(pub(crate) Connector);

impl Connect for Forwarding {
    fn connect(&self, config: &Config) -> Connecting<'_> {
        let config = config.clone();
        Box::pin(async move {
            let (client, mut connection) = self.0.connect_with(&config).await?;
            FORWARDING.store(true, Ordering::Relaxed);
            let task = tokio::spawn(async move {
                loop {
                    match poll_fn(|cx| connection.poll_message(cx)).await {
                        Some(Ok(AsyncMessage::Notification(n))) => waiters(n.channel()).notify_waiters(),
                        Some(Ok(AsyncMessage::Notice(n))) => tracing::debug!("{}: {}", n.severity(), n.message()),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!("connection error: {e}");
                            return;
                        }
                        None => return,
                    }
                }
            });
            Ok((client, task))
        })
    }
}
