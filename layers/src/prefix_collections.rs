//! [`PrefixCollections`]: every collection name gets a prefix, so that several
//! programs (or tenants) share one backend without seeing each other's collections.
//!
//! Collection `c` is stored as `{prefix}__{c}` in the wrapped store, exactly as
//! py-key-value 0.5's `PrefixCollectionsWrapper` writes it (its `prefix_collection`,
//! separator `__`), so Python and Rust programs with the same prefix share entries.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::prefix_collections::PrefixCollections;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let app = shared.clone().layer(PrefixCollections::new("app"));
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! app.put("k", value.clone(), None, Some("users")).await?;
//! // The wrapped store holds the entry under the prefixed collection …
//! assert_eq!(shared.get("k", Some("app__users")).await?, Some(value));
//! // … and the layer lists its own collections without the prefix.
//! assert_eq!(app.collections(None).await?, vec!["users".to_owned()]);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - An empty collection name is an [`ErrorKind::InvalidKey`](key_value_core::ErrorKind)
//!   error, as everywhere in the family; Python's `collection or default` silently
//!   uses the default collection for `""`.
//! - `None` means the layer's default collection: the one given to
//!   [`PrefixCollections::default_collection`], else the wrapped store's own default
//!   (Python uses `"default_collection"` whatever the wrapped store's default is; the
//!   two agree for every store built with the default).
//! - Enumeration, which py-key-value 0.5's wrapper does not offer: `collections` lists
//!   only the wrapped store's collections that carry the prefix, without it, and skips
//!   the others; `destroy` removes only the prefixed collections (it needs the wrapped
//!   store to list and destroy collections, and says so in its capabilities).
//! - Names up to the family's limit of 4096 bytes are accepted; the prefixed name must
//!   fit the wrapped store's limit too, so a collection name longer than
//!   `4096 - prefix.len() - 2` bytes is refused by the wrapped store.

use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Capabilities, JsonObject, Layer, Result, StoreInfo, WithTtl, validate_collection,
};

/// The separator py-key-value puts between a prefix and a name (`DEFAULT_PREFIX_SEPARATOR`).
pub const PREFIX_SEPARATOR: &str = "__";

/// Prefixes every collection name with `{prefix}__`: py-key-value's
/// `PrefixCollectionsWrapper(key_value, prefix, default_collection)`.
///
/// Built with [`PrefixCollections::new`]; applied with
/// [`LayerExt::layer`](key_value_core::LayerExt::layer). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct PrefixCollections {
    prefix: String,
    default_collection: Option<String>,
}

impl PrefixCollections {
    /// Prefixes collections with `prefix` followed by `__`.
    pub fn new(prefix: impl Into<String>) -> Self {
        PrefixCollections {
            prefix: prefix.into(),
            default_collection: None,
        }
    }

    /// The collection that `None` means (before prefixing), as Python's
    /// `default_collection` argument; by default the wrapped store's default collection.
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for PrefixCollections {
    type Store = PrefixCollectionsStore<S>;

    fn layer(&self, inner: S) -> PrefixCollectionsStore<S> {
        PrefixCollectionsStore {
            inner,
            head: format!("{}{PREFIX_SEPARATOR}", self.prefix),
            default_collection: self.default_collection.clone(),
        }
    }
}

/// The store [`PrefixCollections`] makes.
#[derive(Debug)]
pub struct PrefixCollectionsStore<S> {
    inner: S,
    /// `prefix__`.
    head: String,
    default_collection: Option<String>,
}

impl<S: AsyncKeyValue> PrefixCollectionsStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The name the wrapped store knows `collection` by.
    fn stored(&self, collection: Option<&str>) -> Result<String> {
        let collection = collection.unwrap_or_else(|| self.info().default_collection);
        validate_collection(collection)?;
        Ok(format!("{}{collection}", self.head))
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for PrefixCollectionsStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// The wrapped store's name, and the layer's default collection (unprefixed).
    fn info(&self) -> StoreInfo<'_> {
        self.inner
            .info()
            .with_default_collection(self.default_collection.as_deref())
    }

    /// The wrapped store's, except that `destroy` (of the prefixed collections only)
    /// needs it to list and destroy collections.
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Capabilities {
            destroy: inner.list_collections && inner.destroy_collection,
            ..inner
        }
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let collection = self.stored(collection)?;
        self.inner.get(key, Some(&collection)).await
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let collection = self.stored(collection)?;
        self.inner.get_many(keys, Some(&collection)).await
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let collection = self.stored(collection)?;
        self.inner.ttl(key, Some(&collection)).await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let collection = self.stored(collection)?;
        self.inner.ttl_many(keys, Some(&collection)).await
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let collection = self.stored(collection)?;
        self.inner.put(key, value, ttl, Some(&collection)).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let collection = self.stored(collection)?;
        self.inner
            .put_many(keys, values, ttl, Some(&collection))
            .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let collection = self.stored(collection)?;
        self.inner
            .put_if_absent(key, value, ttl, Some(&collection))
            .await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let collection = self.stored(collection)?;
        self.inner.delete(key, Some(&collection)).await
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let collection = self.stored(collection)?;
        self.inner.delete_many(keys, Some(&collection)).await
    }

    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        let collection = self.stored(collection)?;
        self.inner.keys(Some(&collection), limit).await
    }

    /// The wrapped store's collections that carry the prefix, without it; others are
    /// skipped. `limit` counts the collections returned.
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let all = self.inner.collections(None).await?;
        Ok(all
            .into_iter()
            .filter_map(|name| {
                name.strip_prefix(self.head.as_str())
                    .filter(|rest| !rest.is_empty())
                    .map(str::to_owned)
            })
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let collection = self.stored(Some(collection))?;
        self.inner.destroy_collection(&collection).await
    }

    /// Destroys every prefixed collection, and nothing else.
    async fn destroy(&self) -> Result<bool> {
        let caps = self.inner.capabilities();
        if !(caps.list_collections && caps.destroy_collection) {
            return Err(key_value_core::Error::unsupported("destroy"));
        }
        let mut any = false;
        for name in self.inner.collections(None).await? {
            if name.len() > self.head.len() && name.starts_with(self.head.as_str()) {
                any |= self.inner.destroy_collection(&name).await?;
            }
        }
        Ok(any)
    }
}
