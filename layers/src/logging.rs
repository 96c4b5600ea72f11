//! [`Logging`]: one `tracing` event per operation, with the store, the operation, the
//! collection, the key (or the number of keys), the outcome and the duration. Never a
//! value: values may be secrets (OAuth tokens).
//!
//! ```
//! use key_value_core::LayerExt;
//! use key_value_layers::logging::Logging;
//!
//! let store = key_value_memory::MemoryStore::new().layer(Logging::new().level(tracing::Level::DEBUG));
//! # let _ = store;
//! ```
//!
//! Events have the target `key_value_layers::logging` and these fields:
//!
//! | field | what |
//! |---|---|
//! | `store` | the store's name (`StoreInfo::name`) |
//! | `operation` | `get`, `put_many`, `keys` … |
//! | `collection` | the collection, the store's default one for `None` (absent for `collections`, `destroy`, `cull`) |
//! | `key` | the key of single-key operations |
//! | `keys` | the number of keys of batch operations |
//! | `outcome` | `hit` / `miss` (`get`, `ttl`), `found` with `count` (batch reads), `true` / `false` (`delete`: it existed; `put_if_absent`: it stored; `destroy…`), `count` (`delete_many`, enumeration), `ok`, or `error` |
//! | `count` | the number that goes with the outcome |
//! | `duration_us` | how long the operation took, in microseconds |
//! | `error`, `error_kind` | for failures: the message (which names no value) and its kind |
//!
//! Successes are logged at the layer's level (INFO by default), failures at WARN.
//!
//! # As py-key-value's `LoggingWrapper`, and where we differ
//!
//! py-key-value logs a start and a finish message per operation through Python's
//! `logging`, at INFO by default, and can log values (`log_values=True`, off by
//! default). We log one event when the operation ends, with its duration, through
//! `tracing` (a start event adds nothing a span or the duration does not give), we
//! never log values, whatever the option, and we also log enumeration,
//! destruction, culling and `put_if_absent`, and failures.

use std::fmt;
use std::time::Instant;

use key_value_core::{AsyncKeyValue, JsonObject, Layer, Result, StoreFuture, WithTtl};
use tracing::Level;

use crate::around::Call;

/// Logs every operation through `tracing`, values excepted (a [`Layer`]).
#[derive(Debug, Clone, Copy)]
pub struct Logging {
    level: Level,
}

impl Default for Logging {
    fn default() -> Self {
        Logging::new()
    }
}

impl Logging {
    /// Logs successes at INFO (py-key-value's default level), failures at WARN.
    pub fn new() -> Self {
        Logging { level: Level::INFO }
    }

    /// The level of the events of successful operations.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for Logging {
    type Store = LoggingStore<S>;

    fn layer(&self, inner: S) -> LoggingStore<S> {
        LoggingStore {
            inner,
            level: self.level,
        }
    }
}

/// The store [`Logging`] makes.
pub struct LoggingStore<S> {
    inner: S,
    level: Level,
}

impl<S> fmt::Debug for LoggingStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggingStore")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// What an operation's result says, without its values: an outcome and a number.
pub(crate) trait Outcome {
    fn outcome(&self) -> (&'static str, usize);
}

impl Outcome for Option<JsonObject> {
    fn outcome(&self) -> (&'static str, usize) {
        if self.is_some() {
            ("hit", 1)
        } else {
            ("miss", 0)
        }
    }
}

impl Outcome for Option<WithTtl> {
    fn outcome(&self) -> (&'static str, usize) {
        if self.is_some() {
            ("hit", 1)
        } else {
            ("miss", 0)
        }
    }
}

impl<T> Outcome for Vec<Option<T>> {
    fn outcome(&self) -> (&'static str, usize) {
        ("found", self.iter().filter(|slot| slot.is_some()).count())
    }
}

impl Outcome for () {
    fn outcome(&self) -> (&'static str, usize) {
        ("ok", 0)
    }
}

impl Outcome for bool {
    fn outcome(&self) -> (&'static str, usize) {
        if *self { ("true", 1) } else { ("false", 0) }
    }
}

impl Outcome for usize {
    fn outcome(&self) -> (&'static str, usize) {
        ("count", *self)
    }
}

impl Outcome for Vec<String> {
    fn outcome(&self) -> (&'static str, usize) {
        ("count", self.len())
    }
}

/// `tracing::event!` at a level known only at run time.
macro_rules! event_at {
    ($level:expr, $($rest:tt)+) => {{
        let level = $level;
        if level == Level::ERROR {
            tracing::event!(Level::ERROR, $($rest)+)
        } else if level == Level::WARN {
            tracing::event!(Level::WARN, $($rest)+)
        } else if level == Level::INFO {
            tracing::event!(Level::INFO, $($rest)+)
        } else if level == Level::DEBUG {
            tracing::event!(Level::DEBUG, $($rest)+)
        } else {
            tracing::event!(Level::TRACE, $($rest)+)
        }
    }};
}

impl<S: AsyncKeyValue> LoggingStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn around<'a, T, F>(&'a self, call: Call<'a>, mut attempt: F) -> Result<T>
    where
        T: Outcome + Send + 'a,
        F: FnMut() -> StoreFuture<'a, T> + Send,
    {
        let started = Instant::now();
        let result = attempt().await;
        let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let info = self.inner.info();
        let collection = match call.operation {
            "collections" | "destroy" | "cull" => None,
            _ => Some(call.collection.unwrap_or(info.default_collection)),
        };
        let keys = (call.key.is_none() && call.keys > 0).then_some(call.keys);
        match &result {
            Ok(value) => {
                let (outcome, count) = value.outcome();
                event_at!(
                    self.level,
                    store = info.name,
                    operation = call.operation,
                    collection,
                    key = call.key,
                    keys,
                    outcome,
                    count,
                    duration_us,
                    "key-value operation"
                );
            }
            Err(error) => tracing::warn!(
                store = info.name,
                operation = call.operation,
                collection,
                key = call.key,
                keys,
                outcome = "error",
                error = %error,
                error_kind = %error.kind(),
                duration_us,
                "key-value operation failed"
            ),
        }
        result
    }
}

around_every_operation!(LoggingStore, inner, around, once);
