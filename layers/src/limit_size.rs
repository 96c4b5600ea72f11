//! [`LimitSize`]: entries whose value is too large (or too small) are refused, or
//! skipped with a warning: py-key-value 0.5's `LimitSizeWrapper`.
//!
//! A value's size is measured as py-key-value measures it (`estimate_serialized_size`):
//! the length of `json.dumps(value, sort_keys=True)`, Python's default separators
//! `", "` / `": "` and `\u` escapes for every non-ASCII character, so the size is the
//! same number of bytes on both sides (see [`serialized_size`]). Only writes are checked
//! (`put`, `put_many`, `put_if_absent`); reads return whatever is stored.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
//! use key_value_layers::limit_size::LimitSize;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(LimitSize::new().max_size(64));
//! let big = serde_json::json!({"blob": "x".repeat(100)}).as_object().cloned().unwrap_or_default();
//! let err = store.put("k", big, None, None).await.err();
//! assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ValueTooLarge));
//! assert_eq!(store.get("k", None).await?, None);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - A too-large value is a [`ErrorKind::ValueTooLarge`] error (Python's
//!   `EntryTooLargeError`), a too-small one an [`ErrorKind::InvalidArgument`] error
//!   (`EntryTooSmallError`); a value that is skipped instead (Python's
//!   `raise_on_too_large=False`, and its default for too-small values) is logged with a
//!   `tracing` warning naming the key and the sizes, where Python is silent.
//! - `put_many` with keys and values of different lengths is an
//!   [`ErrorKind::InvalidArgument`] error before anything is measured.
//! - `put_if_absent` is checked as `put` is; a skipped value returns `false`.
//! - With a maximum that refuses, [`Capabilities::max_entry_bytes`] reports the smaller of
//!   the maximum and the wrapped store's limit.

use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Capabilities, Error, ErrorKind, JsonObject, JsonStyle, Layer, Result,
    python_json,
};

/// The size py-key-value gives `value`: bytes of `json.dumps(value, sort_keys=True)`.
///
/// Errors: [`ErrorKind::Serialization`], which a JSON object never causes in practice.
pub fn serialized_size(value: &JsonObject) -> Result<usize> {
    Ok(python_json(value, JsonStyle::Sorted)?.len())
}

/// What happens to a value outside the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnViolation {
    /// The write fails with an error and nothing is written (Python's `raise_on_too_* = True`).
    Reject,
    /// The write is skipped, with a `tracing` warning, and reports success (Python's
    /// `raise_on_too_* = False`).
    Warn,
}

/// Checks the size of every value written: py-key-value's
/// `LimitSizeWrapper(key_value, min_size, max_size, raise_on_too_small, raise_on_too_large)`,
/// with the same defaults (no limits; too large rejects, too small is skipped).
/// See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct LimitSize {
    min: Option<usize>,
    max: Option<usize>,
    on_too_small: OnViolation,
    on_too_large: OnViolation,
}

impl Default for LimitSize {
    fn default() -> Self {
        LimitSize::new()
    }
}

impl LimitSize {
    /// No limits yet; a too-large value will be rejected, a too-small one skipped.
    pub fn new() -> Self {
        LimitSize {
            min: None,
            max: None,
            on_too_small: OnViolation::Warn,
            on_too_large: OnViolation::Reject,
        }
    }

    /// The largest value allowed, in bytes as [`serialized_size`] counts them.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max = Some(bytes);
        self
    }

    /// The smallest value allowed, in bytes as [`serialized_size`] counts them.
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min = Some(bytes);
        self
    }

    /// What a too-large value does ([`OnViolation::Reject`] by default).
    pub fn on_too_large(mut self, action: OnViolation) -> Self {
        self.on_too_large = action;
        self
    }

    /// What a too-small value does ([`OnViolation::Warn`] by default).
    pub fn on_too_small(mut self, action: OnViolation) -> Self {
        self.on_too_small = action;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for LimitSize {
    type Store = LimitSizeStore<S>;

    fn layer(&self, inner: S) -> LimitSizeStore<S> {
        LimitSizeStore {
            inner,
            limits: *self,
        }
    }
}

/// The store [`LimitSize`] makes.
#[derive(Debug)]
pub struct LimitSizeStore<S> {
    inner: S,
    limits: LimitSize,
}

impl<S: AsyncKeyValue> LimitSizeStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether `value` may be written: `Ok(false)` to skip it, an error to refuse it.
    fn admit(&self, value: &JsonObject, key: &str, collection: Option<&str>) -> Result<bool> {
        let size = serialized_size(value)?;
        let collection = collection.unwrap_or_else(|| self.inner.info().default_collection);
        let store = self.inner.info().name;
        if let Some(min) = self.limits.min
            && size < min
        {
            return match self.limits.on_too_small {
                OnViolation::Reject => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("the value is {size} bytes; this store accepts at least {min} bytes"),
                )
                .in_context(store, collection, key)),
                OnViolation::Warn => {
                    tracing::warn!(
                        store,
                        collection,
                        key,
                        size,
                        min,
                        "value too small: not written"
                    );
                    Ok(false)
                }
            };
        }
        if let Some(max) = self.limits.max
            && size > max
        {
            return match self.limits.on_too_large {
                OnViolation::Reject => {
                    Err(Error::value_too_large(size, max).in_context(store, collection, key))
                }
                OnViolation::Warn => {
                    tracing::warn!(
                        store,
                        collection,
                        key,
                        size,
                        max,
                        "value too large: not written"
                    );
                    Ok(false)
                }
            };
        }
        Ok(true)
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for LimitSizeStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// The wrapped store's, with `max_entry_bytes` lowered to the maximum when too-large
    /// values are rejected.
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        let max_entry_bytes = match (self.limits.max, self.limits.on_too_large) {
            (Some(max), OnViolation::Reject) => {
                Some(inner.max_entry_bytes.map_or(max, |i| i.min(max)))
            }
            _ => inner.max_entry_bytes,
        };
        Capabilities {
            max_entry_bytes,
            ..inner
        }
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        if self.admit(&value, key, collection)? {
            self.inner.put(key, value, ttl, collection).await?;
        }
        Ok(())
    }

    /// Writes the values within the limits (all of them, or none when one is refused).
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        if keys.len() != values.len() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "put_many got {} keys and {} values; nothing was written",
                    keys.len(),
                    values.len()
                ),
            ));
        }
        let mut kept_keys = Vec::with_capacity(keys.len());
        let mut kept_values = Vec::with_capacity(values.len());
        for (key, value) in keys.iter().zip(values) {
            if self.admit(&value, key, collection)? {
                kept_keys.push(*key);
                kept_values.push(value);
            }
        }
        if kept_keys.is_empty() && !keys.is_empty() {
            return Ok(());
        }
        self.inner
            .put_many(&kept_keys, kept_values, ttl, collection)
            .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        if !self.admit(&value, key, collection)? {
            return Ok(false);
        }
        self.inner.put_if_absent(key, value, ttl, collection).await
    }
}
