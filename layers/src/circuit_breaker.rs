//! [`CircuitBreaker`]: stops calling a store that keeps failing, and tries it again
//! after a cool-down.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::circuit_breaker::{CircuitBreaker, CircuitState};
//!
//! let store = key_value_memory::MemoryStore::new()
//!     .layer(CircuitBreaker::new(5, Duration::from_secs(30)));
//! assert_eq!(store.state(), CircuitState::Closed);
//! ```
//!
//! The states:
//!
//! - **closed**: calls go through; `failure_threshold` failures in a row open the
//!   circuit;
//! - **open**: every call fails at once, without reaching the store, with an
//!   [`ErrorKind::Unavailable`] error saying how long the circuit stays open; after
//!   `cool_down` the circuit is half-open;
//! - **half-open**: one call (the probe) goes through, the others fail as when open; a
//!   probe that succeeds closes the circuit, one that fails opens it for another
//!   `cool_down`. A probe that never finishes (cancelled) is replaced by another after
//!   `cool_down`.
//!
//! A *failure* is an error for which the predicate says the store is unwell: by default
//! a retryable error ([`Error::is_retryable`]: connection failures, timeouts) or an
//! [`ErrorKind::Backend`] error. Other errors (a bad key, a value too large, a
//! corrupted entry) show that the store answered, and count as successes.
//!
//! py-key-value 0.5 has no circuit breaker; this one follows the usual pattern (as in
//! Polly or resilience4j, counting consecutive failures). Put it inside a retry layer
//! (`store.layer(breaker).layer(retry)`): every attempt counts, and an open circuit's
//! error is not retryable, so retries stop at once.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use key_value_core::{AsyncKeyValue, Error, ErrorKind, Layer, Result, StoreFuture};
use tokio::time::Instant;

use crate::around::Call;

/// Opens after consecutive failures, half-opens after a cool-down (a [`Layer`]).
#[derive(Clone, Copy)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cool_down: Duration,
    failure_if: fn(&Error) -> bool,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("failure_threshold", &self.failure_threshold)
            .field("cool_down", &self.cool_down)
            .finish_non_exhaustive()
    }
}

/// The default failure predicate: retryable errors and backend errors.
fn store_is_unwell(error: &Error) -> bool {
    error.is_retryable() || error.kind() == ErrorKind::Backend
}

impl CircuitBreaker {
    /// Opens after `failure_threshold` failures in a row (0 is taken as 1) and stays
    /// open for `cool_down` before a probe.
    pub fn new(failure_threshold: u32, cool_down: Duration) -> Self {
        CircuitBreaker {
            failure_threshold: failure_threshold.max(1),
            cool_down,
            failure_if: store_is_unwell,
        }
    }

    /// Which errors count as failures (by default: retryable and
    /// [`ErrorKind::Backend`] errors).
    pub fn failure_if(mut self, failure_if: fn(&Error) -> bool) -> Self {
        self.failure_if = failure_if;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for CircuitBreaker {
    type Store = CircuitBreakerStore<S>;

    fn layer(&self, inner: S) -> CircuitBreakerStore<S> {
        CircuitBreakerStore {
            inner,
            config: *self,
            state: Arc::new(Mutex::new(State::Closed { failures: 0 })),
        }
    }
}

/// `now + duration`, or as late as can be told apart from never when that overflows.
fn after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(1 << 32)))
        .unwrap_or(now)
}

/// The state of a circuit, as [`CircuitBreakerStore::state`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail at once.
    Open,
    /// The cool-down is over: the next call is a probe.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

/// The store [`CircuitBreaker`] makes.
pub struct CircuitBreakerStore<S> {
    inner: S,
    config: CircuitBreaker,
    state: Arc<Mutex<State>>,
}

impl<S> fmt::Debug for CircuitBreakerStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerStore")
            .field("config", &self.config)
            .field("state", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl<S> CircuitBreakerStore<S> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, valid whatever a panicking holder left.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The circuit's state now (an open circuit whose cool-down is over reads as
    /// half-open).
    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if Instant::now() < until => CircuitState::Open,
            State::Open { .. } | State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Whether the call may go through; the error to return otherwise.
    fn admit(&self) -> std::result::Result<(), Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_since: now };
                Ok(())
            }
            State::Open { until } => Err(until - now),
            State::HalfOpen { probe_since } => {
                let probe_end = after(probe_since, self.config.cool_down);
                if now >= probe_end {
                    *state = State::HalfOpen { probe_since: now };
                    Ok(())
                } else {
                    Err(probe_end - now)
                }
            }
        }
    }

    fn record(&self, failed: bool) {
        let mut state = self.lock();
        *state = match (*state, failed) {
            (State::Closed { .. } | State::HalfOpen { .. }, false) => State::Closed { failures: 0 },
            // A call admitted before the circuit opened does not close it.
            (open @ State::Open { .. }, _) => open,
            (State::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                if failures >= self.config.failure_threshold {
                    tracing::warn!(
                        failures,
                        cool_down_ms = self.config.cool_down.as_millis() as u64,
                        "circuit breaker opens"
                    );
                    State::Open {
                        until: after(Instant::now(), self.config.cool_down),
                    }
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen { .. }, true) => State::Open {
                until: after(Instant::now(), self.config.cool_down),
            },
        };
    }
}

impl<S: AsyncKeyValue> CircuitBreakerStore<S> {
    async fn around<'a, T, F>(&'a self, call: Call<'a>, mut attempt: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        if let Err(wait) = self.admit() {
            let info = self.inner.info();
            let error = Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the circuit breaker is open after repeated failures; `{}` was not \
                     tried (next attempt allowed in {} ms)",
                    call.operation,
                    wait.as_millis()
                ),
            );
            return Err(call.context(error, info.name, info.default_collection));
        }
        let result = attempt().await;
        let failed = match &result {
            Ok(_) => false,
            Err(error) => (self.config.failure_if)(error),
        };
        self.record(failed);
        result
    }
}

around_every_operation!(CircuitBreakerStore, inner, around, once);
