//! [`Timeout`]: gives every operation a time limit.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::timeout::Timeout;
//!
//! let store = key_value_memory::MemoryStore::new().layer(Timeout::new(Duration::from_secs(2)));
//! # let _ = store;
//! ```
//!
//! An operation that has not finished in time is dropped (cancelled at its next await
//! point) and fails with an [`ErrorKind::Timeout`] error that names the operation, the
//! limit, the store, the collection and the key. It may still have taken effect: a write
//! the backend received before the limit can land. Timeouts are retryable
//! ([`Error::is_retryable`](key_value_core::Error::is_retryable)), so a
//! retry layer outside this one retries them.
//!
//! # As py-key-value's `TimeoutWrapper`, and where we differ
//!
//! The same default (5 s) and the same rule: the whole call, one limit. py-key-value
//! limits the eight data operations and raises `asyncio.TimeoutError`; we limit every
//! operation but `close` (also enumeration, destruction, culling and `put_if_absent`)
//! and return the family's error with its context.

use std::fmt;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, Error, ErrorKind, Layer, Result, StoreFuture};

use crate::around::Call;

/// A time limit for every operation (a [`Layer`]).
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    limit: Duration,
}

impl Default for Timeout {
    /// py-key-value's default: 5 seconds.
    fn default() -> Self {
        Timeout::new(Duration::from_secs(5))
    }
}

impl Timeout {
    /// Every operation must finish within `limit` (a zero limit fails every operation
    /// that has to wait for anything).
    pub fn new(limit: Duration) -> Self {
        Timeout { limit }
    }
}

impl<S: AsyncKeyValue> Layer<S> for Timeout {
    type Store = TimeoutStore<S>;

    fn layer(&self, inner: S) -> TimeoutStore<S> {
        TimeoutStore {
            inner,
            limit: self.limit,
        }
    }
}

/// The store [`Timeout`] makes.
pub struct TimeoutStore<S> {
    inner: S,
    limit: Duration,
}

impl<S> fmt::Debug for TimeoutStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutStore")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> TimeoutStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The time limit of each operation.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    async fn around<'a, T, F>(&'a self, call: Call<'a>, mut attempt: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        match tokio::time::timeout(self.limit, attempt()).await {
            Ok(result) => result,
            Err(_elapsed) => {
                let info = self.inner.info();
                let error = Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "`{}` did not finish within {} ms",
                        call.operation,
                        self.limit.as_millis()
                    ),
                );
                Err(call.context(error, info.name, info.default_collection))
            }
        }
    }
}

around_every_operation!(TimeoutStore, inner, around, once);
