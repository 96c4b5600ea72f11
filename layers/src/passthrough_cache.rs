//! [`PassthroughCache`]: a fast store in front of a slow one. Reads are served from the
//! cache when it holds the entry, otherwise from the primary store, and the entry is
//! then kept in the cache for a while; writes and deletes go to the primary and remove
//! the entry from the cache.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::LayerExt;
//! use key_value_layers::passthrough_cache::PassthroughCache;
//!
//! let slow = key_value_memory::MemoryStore::new(); // say, DynamoDB
//! let fast = key_value_memory::MemoryStore::builder()
//!     .max_entries_per_collection(10_000)
//!     .build()?;
//! let store = slow.layer(PassthroughCache::new(fast).max_ttl(Duration::from_secs(60)));
//! # let _ = store;
//! # Ok::<(), key_value_core::Error>(())
//! ```
//!
//! An entry is cached with the primary's remaining time-to-live, capped at
//! [`PassthroughCache::max_ttl`] (30 minutes by default); an entry that never expires is
//! cached for [`PassthroughCache::missing_ttl`] (30 minutes by default). So a cached
//! entry never outlives the primary's, and a change made to the primary behind the
//! cache's back shows after at most `max_ttl`.
//!
//! # As py-key-value's `PassthroughCacheWrapper`, and where we differ
//!
//! The same defaults, the same reads (`get` and `get_many` from the cache, misses read
//! with their TTL from the primary and cached, one entry at a time since TTLs differ)
//! and the same invalidation (`put`, `put_many`, `delete`, `delete_many` remove the
//! keys from the cache). Where we differ, and why:
//!
//! - `ttl` and `ttl_many` answer from the primary (and fill the cache):
//!   py-key-value answers them from the cache, whose remaining time is the capped cache
//!   TTL (30 minutes for an entry that never expires), not the entry's.
//! - Writes remove the keys from the cache both before and after writing the primary
//!   (py-key-value: before only), which narrows the window in which a concurrent read
//!   can put the old value back into the cache. It still exists: a read that fetched
//!   the old value from the primary before the write may cache it after the write, for
//!   at most `max_ttl`.
//! - A cache that fails on a read, or when filled, is logged at warn level and bypassed
//!   (py-key-value raises): the cache is an optimisation. A failed invalidation fails the
//!   write, since going on would serve a stale value.
//! - `put_if_absent`, `destroy_collection` and `destroy` invalidate the cache too (a
//!   cache that cannot destroy keeps the entries it holds until their cache TTL ends);
//!   `close` closes both stores. Enumeration and culling are the primary's.
//! - The default collection (`None`) is the primary's, on both stores.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject, Layer, Result, WithTtl};

/// py-key-value's `DEFAULT_MAX_TTL` and `DEFAULT_MISSING_TTL`: 30 minutes.
const THIRTY_MINUTES: Duration = Duration::from_secs(30 * 60);

/// A cache store in front of the store it wraps (a [`Layer`] over the primary).
#[derive(Clone)]
pub struct PassthroughCache {
    cache: Arc<dyn AsyncKeyValue>,
    max_ttl: Duration,
    missing_ttl: Duration,
}

impl fmt::Debug for PassthroughCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassthroughCache")
            .field("cache", &self.cache.info().name)
            .field("max_ttl", &self.max_ttl)
            .field("missing_ttl", &self.missing_ttl)
            .finish()
    }
}

impl PassthroughCache {
    /// Caches in `cache`, with py-key-value's defaults (30 minutes at most, 30 minutes
    /// for entries that never expire).
    pub fn new(cache: impl AsyncKeyValue + 'static) -> Self {
        PassthroughCache::shared(Arc::new(cache))
    }

    /// [`PassthroughCache::new`] with a store already shared.
    pub fn shared(cache: Arc<dyn AsyncKeyValue>) -> Self {
        PassthroughCache {
            cache,
            max_ttl: THIRTY_MINUTES,
            missing_ttl: THIRTY_MINUTES,
        }
    }

    /// The longest time an entry stays cached (a zero duration caches nothing).
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// How long an entry without expiry stays cached (capped at `max_ttl`).
    pub fn missing_ttl(mut self, missing_ttl: Duration) -> Self {
        self.missing_ttl = missing_ttl;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for PassthroughCache {
    type Store = PassthroughCacheStore<S>;

    fn layer(&self, primary: S) -> PassthroughCacheStore<S> {
        PassthroughCacheStore {
            primary,
            config: self.clone(),
        }
    }
}

/// The store [`PassthroughCache`] makes.
pub struct PassthroughCacheStore<S> {
    primary: S,
    config: PassthroughCache,
}

impl<S> fmt::Debug for PassthroughCacheStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassthroughCacheStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> PassthroughCacheStore<S> {
    /// The primary (slow) store.
    pub fn primary(&self) -> &S {
        &self.primary
    }

    /// The cache (fast) store.
    pub fn cache(&self) -> &Arc<dyn AsyncKeyValue> {
        &self.config.cache
    }

    fn collection<'a>(&'a self, collection: Option<&'a str>) -> &'a str {
        collection.unwrap_or(self.primary.info().default_collection)
    }

    /// How long an entry with `remaining` time in the primary stays cached.
    fn cache_ttl(&self, remaining: Option<Duration>) -> Duration {
        remaining
            .unwrap_or(self.config.missing_ttl)
            .min(self.config.max_ttl)
    }

    /// What a read of the cache found; a failure is logged and reads as nothing cached.
    fn cache_read<T>(&self, read: Result<T>, key: Option<&str>, collection: &str) -> Option<T> {
        read.inspect_err(|error| {
            tracing::warn!(collection, key, error = %error, "could not read the cache");
        })
        .ok()
    }

    /// Caches an entry read from the primary; a failure is logged, not returned.
    async fn fill(
        &self,
        key: &str,
        value: &JsonObject,
        remaining: Option<Duration>,
        collection: &str,
    ) {
        let ttl = self.cache_ttl(remaining);
        if ttl.is_zero() {
            return;
        }
        if let Err(error) = self
            .config
            .cache
            .put(key, value.clone(), Some(ttl), Some(collection))
            .await
        {
            tracing::warn!(collection, key, error = %error, "could not fill the cache");
        }
    }

    /// Removes `keys` from the cache.
    async fn invalidate(&self, keys: &[&str], collection: &str) -> Result<()> {
        match keys {
            [key] => self
                .config
                .cache
                .delete(key, Some(collection))
                .await
                .map(drop),
            keys => self
                .config
                .cache
                .delete_many(keys, Some(collection))
                .await
                .map(drop),
        }
    }

    /// Fills the cache with the entries read from the primary.
    async fn fill_many(&self, keys: &[&str], entries: &[Option<WithTtl>], collection: &str) {
        for (key, entry) in keys.iter().zip(entries) {
            if let Some((value, remaining)) = entry {
                self.fill(key, value, *remaining, collection).await;
            }
        }
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for PassthroughCacheStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.primary)
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let collection = self.collection(collection);
        let cached = self.config.cache.get(key, Some(collection)).await;
        if let Some(Some(value)) = self.cache_read(cached, Some(key), collection) {
            return Ok(Some(value));
        }
        let Some((value, remaining)) = self.primary.ttl(key, Some(collection)).await? else {
            return Ok(None);
        };
        self.fill(key, &value, remaining, collection).await;
        Ok(Some(value))
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let collection = self.collection(collection);
        let cached = self.config.cache.get_many(keys, Some(collection)).await;
        let mut values = self
            .cache_read(cached, None, collection)
            .filter(|values| values.len() == keys.len())
            .unwrap_or_else(|| vec![None; keys.len()]);
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| values[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(values);
        }
        let missing_keys: Vec<&str> = missing.iter().map(|&i| keys[i]).collect();
        let entries = self
            .primary
            .ttl_many(&missing_keys, Some(collection))
            .await?;
        self.fill_many(&missing_keys, &entries, collection).await;
        for (i, entry) in missing.into_iter().zip(entries) {
            values[i] = entry.map(|(value, _)| value);
        }
        Ok(values)
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let collection = self.collection(collection);
        let entry = self.primary.ttl(key, Some(collection)).await?;
        if let Some((value, remaining)) = &entry {
            self.fill(key, value, *remaining, collection).await;
        }
        Ok(entry)
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let collection = self.collection(collection);
        let entries = self.primary.ttl_many(keys, Some(collection)).await?;
        self.fill_many(keys, &entries, collection).await;
        Ok(entries)
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let collection = self.collection(collection);
        self.invalidate(&[key], collection).await?;
        self.primary.put(key, value, ttl, Some(collection)).await?;
        self.invalidate(&[key], collection).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let collection = self.collection(collection);
        self.invalidate(keys, collection).await?;
        self.primary
            .put_many(keys, values, ttl, Some(collection))
            .await?;
        self.invalidate(keys, collection).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let collection = self.collection(collection);
        let stored = self
            .primary
            .put_if_absent(key, value, ttl, Some(collection))
            .await?;
        if stored {
            self.invalidate(&[key], collection).await?;
        }
        Ok(stored)
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let collection = self.collection(collection);
        self.invalidate(&[key], collection).await?;
        let existed = self.primary.delete(key, Some(collection)).await?;
        self.invalidate(&[key], collection).await?;
        Ok(existed)
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let collection = self.collection(collection);
        self.invalidate(keys, collection).await?;
        let deleted = self.primary.delete_many(keys, Some(collection)).await?;
        self.invalidate(keys, collection).await?;
        Ok(deleted)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let existed = self.primary.destroy_collection(collection).await?;
        match self.config.cache.destroy_collection(collection).await {
            Err(error) if error.kind() != ErrorKind::Unsupported => Err(error),
            _ => Ok(existed),
        }
    }

    async fn destroy(&self) -> Result<bool> {
        let existed = self.primary.destroy().await?;
        match self.config.cache.destroy().await {
            Err(error) if error.kind() != ErrorKind::Unsupported => Err(error),
            _ => Ok(existed),
        }
    }

    async fn close(&self) -> Result<()> {
        let primary = self.primary.close().await;
        let cache = self.config.cache.close().await;
        primary.and(cache)
    }
}
