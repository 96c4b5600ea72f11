//! [`RateLimit`]: at most so many operations per unit of time, as a token bucket, with
//! the `governor` crate's GCRA rate limiter.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::rate_limit::{Quota, RateLimit};
//!
//! // 100 operations a second, in bursts of up to 10; wait at most 250 ms for a turn.
//! let quota = Quota::per_second(NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))
//!     .allow_burst(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN));
//! let store = key_value_memory::MemoryStore::new()
//!     .layer(RateLimit::new(quota).max_wait(Duration::from_millis(250)));
//! # let _ = store;
//! ```
//!
//! Each call takes one cell of the quota, whatever the number of keys it names (a batch
//! is one round trip to the backend). Without [`RateLimit::max_wait`] a call waits
//! for its turn as long as it takes (a throttle); with it, a call whose turn would come
//! later than `max_wait` fails at once, without waiting and without reaching the store,
//! with an [`ErrorKind::Unavailable`] error saying when its turn would come
//! (`max_wait(Duration::ZERO)`: refuse whatever is over the quota).
//!
//! The quota is measured on the monotonic clock of the operating system (not tokio's
//! clock, which tests may pause). Every operation but `close` is limited. py-key-value
//! 0.5 has no rate limit.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use key_value_core::{AsyncKeyValue, Error, ErrorKind, Layer, Result, StoreFuture};

use crate::around::Call;

/// How many operations, per how much time, with what burst: `governor`'s quota.
pub use governor::Quota;

type Limiter = governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// A rate limit for a store (a [`Layer`]).
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    quota: Quota,
    max_wait: Option<Duration>,
}

impl RateLimit {
    /// Limits the store to `quota`; calls over it wait for their turn.
    pub fn new(quota: Quota) -> Self {
        RateLimit {
            quota,
            max_wait: None,
        }
    }

    /// A call whose turn would come later than `max_wait` from now fails at once with
    /// an [`ErrorKind::Unavailable`] error.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for RateLimit {
    type Store = RateLimitStore<S>;

    fn layer(&self, inner: S) -> RateLimitStore<S> {
        RateLimitStore {
            inner,
            config: *self,
            limiter: Arc::new(governor::RateLimiter::direct(self.quota)),
        }
    }
}

/// The store [`RateLimit`] makes.
pub struct RateLimitStore<S> {
    inner: S,
    config: RateLimit,
    limiter: Arc<Limiter>,
}

impl<S> fmt::Debug for RateLimitStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> RateLimitStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn around<'a, T, F>(&'a self, call: Call<'a>, mut attempt: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        let deadline = self
            .config
            .max_wait
            .map(|max| std::time::Instant::now().checked_add(max));
        while let Err(not_until) = self.limiter.check() {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            let too_late = match deadline {
                None | Some(None) => false, // no limit, or one past the end of time
                Some(Some(deadline)) => {
                    wait > deadline.saturating_duration_since(std::time::Instant::now())
                }
            };
            if too_late {
                let info = self.inner.info();
                let error = Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "over the rate limit; `{}` was not tried (its turn would come in {} ms)",
                        call.operation,
                        wait.as_millis()
                    ),
                );
                return Err(call.context(error, info.name, info.default_collection));
            }
            // Another caller may take the cell first: check again after the wait.
            tokio::time::sleep(wait).await;
        }
        attempt().await
    }
}

around_every_operation!(RateLimitStore, inner, around, once);
