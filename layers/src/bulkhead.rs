//! [`Bulkhead`]: at most N operations in flight at once, so one slow or flooded store
//! cannot take every task (or every connection) of a program with it.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::bulkhead::Bulkhead;
//!
//! // 16 operations at once; a caller waits at most 100 ms for its turn.
//! let store = key_value_memory::MemoryStore::new()
//!     .layer(Bulkhead::new(16).max_wait(Duration::from_millis(100)));
//! # let _ = store;
//! ```
//!
//! Slots are permits of a tokio [`Semaphore`], handed out in
//! the order callers asked for them. Without [`Bulkhead::max_wait`] a caller waits as
//! long as it takes; with it, a caller that gets no slot in time fails with an
//! [`ErrorKind::Unavailable`] error without reaching the store
//! (`max_wait(Duration::ZERO)`: refuse at once when full). A batch operation takes one
//! slot, as it is one call to the backend.
//!
//! py-key-value 0.5 has no bulkhead. Every operation but `close` takes a slot.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::{AsyncKeyValue, Error, ErrorKind, Layer, Result, StoreFuture};
use tokio::sync::Semaphore;

use crate::around::Call;

/// Bounded concurrency for a store (a [`Layer`]).
#[derive(Debug, Clone, Copy)]
pub struct Bulkhead {
    max_concurrent: usize,
    max_wait: Option<Duration>,
}

impl Bulkhead {
    /// At most `max_concurrent` operations in flight (0 is taken as 1; at most
    /// tokio's `Semaphore::MAX_PERMITS`); callers wait for a slot as long as it takes.
    pub fn new(max_concurrent: usize) -> Self {
        Bulkhead {
            max_concurrent: max_concurrent.clamp(1, Semaphore::MAX_PERMITS),
            max_wait: None,
        }
    }

    /// A caller waits at most `max_wait` for a slot, then fails with an
    /// [`ErrorKind::Unavailable`] error.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for Bulkhead {
    type Store = BulkheadStore<S>;

    fn layer(&self, inner: S) -> BulkheadStore<S> {
        BulkheadStore {
            inner,
            config: *self,
            slots: Arc::new(Semaphore::new(self.max_concurrent)),
        }
    }
}

/// The store [`Bulkhead`] makes.
pub struct BulkheadStore<S> {
    inner: S,
    config: Bulkhead,
    slots: Arc<Semaphore>,
}

impl<S> fmt::Debug for BulkheadStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadStore")
            .field("config", &self.config)
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> BulkheadStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many more operations could start now.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    async fn around<'a, T, F>(&'a self, call: Call<'a>, mut attempt: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        let permit = match self.config.max_wait {
            None => self.slots.acquire().await.ok(),
            Some(wait) if wait.is_zero() => self.slots.try_acquire().ok(),
            Some(wait) => tokio::time::timeout(wait, self.slots.acquire())
                .await
                .ok()
                .and_then(std::result::Result::ok),
        };
        let Some(_permit) = permit else {
            let info = self.inner.info();
            let error = Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the bulkhead's {} slots stayed full; `{}` was not tried",
                    self.config.max_concurrent, call.operation
                ),
            );
            return Err(call.context(error, info.name, info.default_collection));
        };
        attempt().await
    }
}

around_every_operation!(BulkheadStore, inner, around, once);
