//! [`Retry`]: tries a failed operation again, with exponential backoff and jitter, when
//! its error is worth retrying.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::retry::Retry;
//!
//! let store = key_value_memory::MemoryStore::new().layer(
//!     Retry::new()
//!         .max_retries(5)
//!         .initial_delay(Duration::from_millis(50))
//!         .max_delay(Duration::from_secs(2)),
//! );
//! # let _ = store;
//! ```
//!
//! # As py-key-value's `RetryWrapper`, and where we differ
//!
//! The same defaults: 3 retries after the first attempt, 100 ms before the first retry,
//! doubling up to 10 s. Differences:
//!
//! - py-key-value retries on exception *types* (`ConnectionError`, `TimeoutError`); we
//!   retry when [`Error::is_retryable`] says so (kinds `Connection` and `Timeout`, or
//!   an error a backend marked retryable), or on a predicate of your own
//!   ([`Retry::retry_if`]). A bad key, a value too large or a corrupted entry fails at
//!   once.
//! - Delays have jitter (a random part of up to the delay itself, from the `backon`
//!   crate's exponential backoff), so that many clients do not retry in step;
//!   py-key-value sleeps exactly.
//! - Every operation is retried, also enumeration, destruction and `put_if_absent`
//!   (py-key-value retries only the eight data operations). A retried write may
//!   already have taken effect: a retried `delete` can answer `false` and a retried
//!   `put_if_absent` `false` for an entry the first attempt wrote (no second holder of a
//!   lease, but no holder that knows it either, until the entry expires).
//!
//! Each retry is logged through `tracing` at debug level (operation, error, delay). Each
//! attempt of `put`, `put_many` and `put_if_absent` is given its own copy of the values
//! (the inner store takes them by value), so a retried write costs one clone per attempt.

use std::fmt;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use key_value_core::{Error, Layer, Result, StoreFuture};

use crate::around::Call;

/// The longest delay between two attempts, before jitter: one day. Longer settings are
/// taken as this (far beyond any useful retry, and it keeps the delay arithmetic far
/// from overflowing).
pub const LONGEST_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Retries failed operations with exponential backoff and jitter (a [`Layer`]).
///
/// Delays: `initial_delay × factor^n`, capped at `max_delay`, plus a random jitter of
/// up to the delay itself; at most `max_retries` retries after the first attempt. The
/// last error is returned when the retries are spent or the error is not retryable.
#[derive(Clone, Copy)]
pub struct Retry {
    max_retries: usize,
    initial_delay: Duration,
    max_delay: Duration,
    factor: f32,
    jitter: bool,
    retry_if: fn(&Error) -> bool,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("max_retries", &self.max_retries)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::new()
    }
}

impl Retry {
    /// py-key-value's defaults: 3 retries, 100 ms first delay, factor 2, at most 10 s,
    /// with jitter, on errors for which [`Error::is_retryable`] is true.
    pub fn new() -> Self {
        Retry {
            max_retries: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            factor: 2.0,
            jitter: true,
            retry_if: Error::is_retryable,
        }
    }

    /// How many times to try again after the first attempt (0: never retry).
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// The delay before the first retry (at most [`LONGEST_DELAY`]).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay between two attempts, before jitter (at most
    /// [`LONGEST_DELAY`]).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much each delay grows over the one before (py-key-value's
    /// `exponential_base`); values below 1 (and NaN) are taken as 1.
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = if factor >= 1.0 { factor } else { 1.0 };
        self
    }

    /// Whether to add a random jitter of up to the delay itself (on by default).
    pub fn jitter(mut self, enabled: bool) -> Self {
        self.jitter = enabled;
        self
    }

    /// Which errors to retry (by default [`Error::is_retryable`]).
    pub fn retry_if(mut self, retry_if: fn(&Error) -> bool) -> Self {
        self.retry_if = retry_if;
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        let initial_delay = self.initial_delay.min(LONGEST_DELAY);
        let max_delay = self.max_delay.min(LONGEST_DELAY).max(initial_delay);
        let builder = ExponentialBuilder::default()
            .with_min_delay(initial_delay)
            .with_max_delay(max_delay)
            .with_factor(self.factor)
            .with_max_times(self.max_retries);
        if self.jitter {
            builder.with_jitter()
        } else {
            builder
        }
    }
}

impl<S: key_value_core::AsyncKeyValue> Layer<S> for Retry {
    type Store = RetryStore<S>;

    fn layer(&self, inner: S) -> RetryStore<S> {
        RetryStore {
            inner,
            backoff: self.backoff(),
            retry_if: self.retry_if,
        }
    }
}

/// The store [`Retry`] makes.
pub struct RetryStore<S> {
    inner: S,
    backoff: ExponentialBuilder,
    retry_if: fn(&Error) -> bool,
}

impl<S> fmt::Debug for RetryStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryStore")
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl<S> RetryStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn around<'a, T, F>(&'a self, call: Call<'a>, attempt: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        let retry_if = self.retry_if;
        attempt
            .retry(self.backoff)
            .sleep(tokio::time::sleep)
            .when(move |error: &Error| retry_if(error))
            .notify(|error: &Error, delay: Duration| {
                tracing::debug!(
                    operation = call.operation,
                    collection = call.collection,
                    key = call.key,
                    error = %error,
                    delay_ms = delay.as_secs_f64() * 1000.0,
                    "retrying a failed store operation"
                );
            })
            .await
    }
}

around_every_operation!(RetryStore, inner, around, repeat);
