//! [`PrefixKeys`]: every key gets a prefix, so that several programs share one
//! collection without seeing each other's keys.
//!
//! Key `k` is stored as `{prefix}__{k}` in the wrapped store, exactly as py-key-value
//! 0.5's `PrefixKeysWrapper` writes it (its `prefix_key`, separator `__`), so Python and
//! Rust programs with the same prefix share entries. Collections are not changed.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::prefix_keys::PrefixKeys;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let app = shared.clone().layer(PrefixKeys::new("app"));
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! app.put("token", value.clone(), None, Some("auth")).await?;
//! shared.put("foreign", value.clone(), None, Some("auth")).await?;
//! assert_eq!(shared.get("app__token", Some("auth")).await?, Some(value));
//! // The layer lists its own keys, without the prefix, and skips foreign ones.
//! assert_eq!(app.keys(Some("auth"), None).await?, vec!["token".to_owned()]);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - An empty key is an [`ErrorKind::InvalidKey`](key_value_core::ErrorKind) error (the
//!   family's rule; Python would store `"{prefix}__"`).
//! - Enumeration, which py-key-value 0.5's wrapper does not offer: `keys` lists only
//!   the prefixed keys, without the prefix; `collections` lists only collections that
//!   hold at least one prefixed key (it lists each collection's keys to find out, one
//!   round trip per collection); `destroy_collection` and `destroy` delete only
//!   prefixed keys. `limit` counts what the layer returns, so listing reads the whole
//!   collection from the wrapped store.
//! - A key longer than `4096 - prefix.len() - 2` bytes is refused by the wrapped store,
//!   whose name limit the prefixed key must fit.

use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Capabilities, Error, JsonObject, Layer, Result, WithTtl, validate_key,
};

/// The separator py-key-value puts between a prefix and a name (`DEFAULT_PREFIX_SEPARATOR`).
pub const PREFIX_SEPARATOR: &str = "__";

/// Prefixes every key with `{prefix}__`: py-key-value's
/// `PrefixKeysWrapper(key_value, prefix)`. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct PrefixKeys {
    prefix: String,
}

impl PrefixKeys {
    /// Prefixes keys with `prefix` followed by `__`.
    pub fn new(prefix: impl Into<String>) -> Self {
        PrefixKeys {
            prefix: prefix.into(),
        }
    }
}

impl<S: AsyncKeyValue> Layer<S> for PrefixKeys {
    type Store = PrefixKeysStore<S>;

    fn layer(&self, inner: S) -> PrefixKeysStore<S> {
        PrefixKeysStore {
            inner,
            head: format!("{}{PREFIX_SEPARATOR}", self.prefix),
        }
    }
}

/// The store [`PrefixKeys`] makes.
#[derive(Debug)]
pub struct PrefixKeysStore<S> {
    inner: S,
    /// `prefix__`.
    head: String,
}

impl<S: AsyncKeyValue> PrefixKeysStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn stored(&self, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.head))
    }

    fn stored_many(&self, keys: &[&str]) -> Result<Vec<String>> {
        keys.iter().map(|key| self.stored(key)).collect()
    }

    fn unprefixed(&self, stored: &str) -> Option<String> {
        stored
            .strip_prefix(self.head.as_str())
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned)
    }

    /// Every prefixed key of `collection`, as stored.
    async fn own_keys(&self, collection: Option<&str>) -> Result<Vec<String>> {
        let all = self.inner.keys(collection, None).await?;
        Ok(all
            .into_iter()
            .filter(|key| key.len() > self.head.len() && key.starts_with(self.head.as_str()))
            .collect())
    }

    async fn delete_own(&self, collection: Option<&str>) -> Result<bool> {
        let own = self.own_keys(collection).await?;
        if own.is_empty() {
            return Ok(false);
        }
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        Ok(self.inner.delete_many(&own, collection).await? > 0)
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for PrefixKeysStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// The wrapped store's, except that listing collections, destroying a collection
    /// and destroying the store work by listing keys (and collections), so they need
    /// the wrapped store to offer that.
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Capabilities {
            list_collections: inner.list_collections && inner.list_keys,
            destroy_collection: inner.list_keys,
            destroy: inner.list_collections && inner.list_keys,
            ..inner
        }
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        self.inner.get(&self.stored(key)?, collection).await
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let keys = self.stored_many(keys)?;
        self.inner.get_many(&crate::refs(&keys), collection).await
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        self.inner.ttl(&self.stored(key)?, collection).await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let keys = self.stored_many(keys)?;
        self.inner.ttl_many(&crate::refs(&keys), collection).await
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.inner
            .put(&self.stored(key)?, value, ttl, collection)
            .await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let keys = self.stored_many(keys)?;
        self.inner
            .put_many(&crate::refs(&keys), values, ttl, collection)
            .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        self.inner
            .put_if_absent(&self.stored(key)?, value, ttl, collection)
            .await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        self.inner.delete(&self.stored(key)?, collection).await
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let keys = self.stored_many(keys)?;
        self.inner
            .delete_many(&crate::refs(&keys), collection)
            .await
    }

    /// The prefixed keys of the collection, without the prefix; others are skipped.
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        if limit == Some(0) {
            // Still checks the collection's name.
            self.inner.keys(collection, Some(0)).await?;
            return Ok(Vec::new());
        }
        let all = self.inner.keys(collection, None).await?;
        Ok(all
            .iter()
            .filter_map(|key| self.unprefixed(key))
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// The collections that hold at least one prefixed key.
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.inner.capabilities().list_keys {
            return Err(Error::unsupported("collections"));
        }
        let mut found = Vec::new();
        if limit == Some(0) {
            return Ok(found);
        }
        for collection in self.inner.collections(None).await? {
            if !self.own_keys(Some(&collection)).await?.is_empty() {
                found.push(collection);
                if Some(found.len()) == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Deletes the prefixed keys of the collection, and nothing else.
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        if !self.inner.capabilities().list_keys {
            return Err(Error::unsupported("destroy_collection"));
        }
        self.delete_own(Some(collection)).await
    }

    /// Deletes the prefixed keys of every collection, and nothing else.
    async fn destroy(&self) -> Result<bool> {
        let caps = self.inner.capabilities();
        if !(caps.list_keys && caps.list_collections) {
            return Err(Error::unsupported("destroy"));
        }
        let mut any = false;
        for collection in self.inner.collections(None).await? {
            any |= self.delete_own(Some(&collection)).await?;
        }
        Ok(any)
    }
}
