//! [`DefaultValue`]: a missing key reads as a default value, as Python's
//! `dict.get(key, default)` does: py-key-value 0.5's `DefaultValueWrapper`.
//!
//! Only reads change (`get`, `get_many`, `ttl`, `ttl_many`); the default is never
//! written to the wrapped store, and `ttl` reports the layer's default TTL with it.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::default_value::DefaultValue;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let fallback = serde_json::json!({"theme": "light"}).as_object().cloned().unwrap_or_default();
//! let store = MemoryStore::new()
//!     .layer(DefaultValue::new(fallback.clone()).ttl(Some(Duration::from_secs(60))));
//! assert_eq!(store.get("settings", None).await?, Some(fallback.clone()));
//! assert_eq!(store.ttl("settings", None).await?, Some((fallback, Some(Duration::from_secs(60)))));
//! // Nothing was written.
//! assert!(!store.delete("settings", None).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! Nowhere in what it returns. The default TTL is a [`Duration`] (Python: seconds as a
//! float). Enumeration (`keys`, `collections`) and `put_if_absent` are the wrapped
//! store's: a key that reads as the default is not listed, and `put_if_absent` still
//! creates it.

use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, JsonObject, Layer, Result, WithTtl};

/// Reads a missing key as `value` (with the remaining TTL `ttl`): py-key-value's
/// `DefaultValueWrapper(key_value, default_value, default_ttl)`. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct DefaultValue {
    value: JsonObject,
    ttl: Option<Duration>,
}

impl DefaultValue {
    /// Reads a missing key as `value`, with no remaining TTL.
    pub fn new(value: JsonObject) -> Self {
        DefaultValue { value, ttl: None }
    }

    /// The remaining TTL `ttl` reports with the default value (`None`: never expires,
    /// as py-key-value's `default_ttl=None`).
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for DefaultValue {
    type Store = DefaultValueStore<S>;

    fn layer(&self, inner: S) -> DefaultValueStore<S> {
        DefaultValueStore {
            inner,
            value: self.value.clone(),
            ttl: self.ttl,
        }
    }
}

/// The store [`DefaultValue`] makes.
#[derive(Debug)]
pub struct DefaultValueStore<S> {
    inner: S,
    value: JsonObject,
    ttl: Option<Duration>,
}

impl<S> DefaultValueStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn or_default(&self, found: Option<JsonObject>) -> JsonObject {
        found.unwrap_or_else(|| self.value.clone())
    }

    fn or_default_ttl(&self, found: Option<WithTtl>) -> WithTtl {
        found.unwrap_or_else(|| (self.value.clone(), self.ttl))
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for DefaultValueStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// The stored value, or the default: never `None`.
    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let found = self.inner.get(key, collection).await?;
        Ok(Some(self.or_default(found)))
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let found = self.inner.get_many(keys, collection).await?;
        Ok(found
            .into_iter()
            .map(|found| Some(self.or_default(found)))
            .collect())
    }

    /// The stored value and its remaining TTL, or the default with the default TTL.
    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let found = self.inner.ttl(key, collection).await?;
        Ok(Some(self.or_default_ttl(found)))
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let found = self.inner.ttl_many(keys, collection).await?;
        Ok(found
            .into_iter()
            .map(|found| Some(self.or_default_ttl(found)))
            .collect())
    }
}
