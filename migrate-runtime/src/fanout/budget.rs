//! The connections one server may have open for the fan-out. A refusal for
//! too many connections (SQLSTATE 53300) shrinks the budget by one and
//! sends the target back to wait; clean connects grow it back.

use crate::Error;
use deadpool_postgres::{Pool, PoolError};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::error::SqlState;

pub(crate) struct Budget {
    permits: Semaphore,
    /// The budget's size, and the clean connects since it last changed.
    state: Mutex<(usize, usize)>,
    max: usize,
    patience: Duration,
    refused: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(max: usize, patience: Duration) -> Budget {
        let max = max.max(1);
        Budget {
            permits: Semaphore::new(max),
            state: Mutex::new((max, 0)),
            max,
            patience,
            refused: AtomicUsize::new(0),
        }
    }

    /// How many connections the server refused for lack of slots.
    pub(crate) fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits for a slot, then makes sure `pool` holds a connection (it
    /// stays in the pool, idle, for the operation to take). Errors other
    /// than 53300 are left to the operation, which reports them.
    pub(crate) async fn admit(&self, pool: &Pool) -> Result<SemaphorePermit<'_>, Error> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let permit = self.permits.acquire().await.expect("never closed");
            let error = match pool.get().await {
                Ok(_) => {
                    self.connected();
                    return Ok(permit);
                }
                Err(PoolError::Backend(e)) if e.code() == Some(&SqlState::TOO_MANY_CONNECTIONS) => e,
                Err(_) => return Ok(permit),
            };
            self.refuse(permit);
            let waited = started.elapsed();
            if waited + pause > self.patience {
                return Err(Error::Unavailable {
                    waited,
                    attempts,
                    last: crate::error::describe(&error),
                });
            }
            tokio::time::sleep(jitter(pause)).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    fn refuse(&self, permit: SemaphorePermit<'_>) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock().expect("never poisoned");
        if state.0 > 1 {
            state.0 -= 1;
            state.1 = 0;
            permit.forget();
            tracing::info!(
                "the server refused a connection (too many connections): at most {} at once from now on",
                state.0
            );
        }
    }

    /// After as many clean connects as the budget is large, one more slot.
    fn connected(&self) {
        let mut state = self.state.lock().expect("never poisoned");
        state.1 += 1;
        if state.0 < self.max && state.1 >= state.0 {
            state.0 += 1;
            state.1 = 0;
            self.permits.add_permits(1);
        }
    }

    #[cfg(test)]
    fn size(&self) -> usize {
        self.state.lock().unwrap().0
    }
}

/// Half to all of `pause`, so that refused targets do not retry in step.
fn jitter(pause: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(pause.subsec_nanos());
    pause / 2 + pause / 2 * (hasher.finish() % 1000) as u32 / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refusals_shrink_the_budget_to_one_and_connects_grow_it_back() {
        let budget = Budget::new(3, Duration::from_secs(1));
        for expected in [2, 1, 1] {
            let permit = budget.permits.acquire().await.unwrap();
            budget.refuse(permit);
            assert_eq!(budget.size(), expected);
        }
        assert_eq!(budget.refused(), 3);
        assert_eq!(budget.permits.available_permits(), 1);
        budget.connected();
        assert_eq!((budget.size(), budget.permits.available_permits()), (2, 2));
        budget.connected();
        assert_eq!(budget.size(), 2, "two clean connects at size 2 before it grows");
        budget.connected();
        budget.connected();
        budget.connected();
        budget.connected();
        assert_eq!(budget.size(), 3, "never above the maximum");
        assert_eq!(budget.permits.available_permits(), 3);
    }

    #[test]
    fn jitter_stays_within_the_upper_half() {
        for ms in [50, 100, 2000] {
            let pause = Duration::from_millis(ms);
            let j = jitter(pause);
            assert!(j >= pause / 2 && j <= pause, "{j:?}");
        }
    }
}
