//! [`Statistics`]: counts hits, misses, puts and deletes per collection, readable at
//! any time as a [`StatisticsSnapshot`].
//!
//! ```
//! # async fn demo() -> key_value_core::Result<()> {
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::statistics::Statistics;
//!
//! let stats = Statistics::new();
//! let store = key_value_memory::MemoryStore::new().layer(stats.clone());
//! store.put("k", serde_json::Map::new(), None, Some("tokens")).await?;
//! store.get("k", Some("tokens")).await?;
//! store.get("missing", Some("tokens")).await?;
//!
//! let tokens = stats.snapshot().collection("tokens");
//! assert_eq!((tokens.get.hits, tokens.get.misses, tokens.puts), (1, 1, 1));
//! # Ok(())
//! # }
//! ```
//!
//! The counters are shared by the layer value and every store it made (clone it before
//! applying it, as above, to read them); counting takes a short lock per operation.
//! Failed operations are not counted. Counters saturate at `u64::MAX`.
//!
//! # As py-key-value's `StatisticsWrapper`, and where we differ
//!
//! The same counts: `get` and `get_many` count a hit or a miss per key, `ttl` and
//! `ttl_many` likewise, `put` and `put_many` a put per key, `delete` a hit when the entry
//! was there and a miss otherwise, `delete_many` as many hits as entries deleted and
//! misses for the rest. Enumeration and destruction are not counted. Where we differ:
//!
//! - `put_if_absent` (which py-key-value lacks) counts a put when it stored, and a
//!   lease `hit`/`miss` of its own (`stored` / `refused`);
//! - an operation on the default collection (`None`) counts under the store's own
//!   default collection name; py-key-value counts it under `"default_collection"`
//!   whatever the store's default;
//! - there is no `exists` operation, so no `exists` counts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, JsonObject, Layer, Result, WithTtl};

/// Hits and misses of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HitMiss {
    /// Keys found (read) or entries that were there (delete).
    pub hits: u64,
    /// Keys not found, or not there to delete.
    pub misses: u64,
}

impl HitMiss {
    /// Hits and misses together.
    pub fn total(&self) -> u64 {
        self.hits.saturating_add(self.misses)
    }

    fn add(&mut self, hits: usize, misses: usize) {
        self.hits = self.hits.saturating_add(hits as u64);
        self.misses = self.misses.saturating_add(misses as u64);
    }
}

/// The counts of one collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectionStatistics {
    /// `get` and `get_many`, per key.
    pub get: HitMiss,
    /// `ttl` and `ttl_many`, per key.
    pub ttl: HitMiss,
    /// Entries written by `put`, `put_many` and a `put_if_absent` that stored.
    pub puts: u64,
    /// `delete` and `delete_many`, per key.
    pub delete: HitMiss,
    /// `put_if_absent`: hits are calls that stored, misses calls refused.
    pub put_if_absent: HitMiss,
}

/// The counts of every collection used so far, by collection name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatisticsSnapshot {
    /// Per collection, in name order.
    pub collections: BTreeMap<String, CollectionStatistics>,
}

impl StatisticsSnapshot {
    /// The counts of `collection` (all zero if it was never used).
    pub fn collection(&self, collection: &str) -> CollectionStatistics {
        self.collections
            .get(collection)
            .copied()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Counters {
    collections: Mutex<BTreeMap<String, CollectionStatistics>>,
}

/// Counts operations per collection (a [`Layer`]); clones share the counts.
#[derive(Clone, Default)]
pub struct Statistics {
    counters: Arc<Counters>,
}

impl fmt::Debug for Statistics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statistics")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl Statistics {
    /// New counters, all zero.
    pub fn new() -> Self {
        Statistics::default()
    }

    /// A copy of the counts now.
    pub fn snapshot(&self) -> StatisticsSnapshot {
        StatisticsSnapshot {
            collections: self.lock().clone(),
        }
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, CollectionStatistics>> {
        // Counters are plain numbers, valid whatever a panicking holder left.
        self.counters
            .collections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, collection: &str, update: impl FnOnce(&mut CollectionStatistics)) {
        let mut collections = self.lock();
        match collections.get_mut(collection) {
            Some(counts) => update(counts),
            None => update(collections.entry(collection.to_owned()).or_default()),
        }
    }
}

impl<S: AsyncKeyValue> Layer<S> for Statistics {
    type Store = StatisticsStore<S>;

    fn layer(&self, inner: S) -> StatisticsStore<S> {
        StatisticsStore {
            inner,
            stats: self.clone(),
        }
    }
}

/// The store [`Statistics`] makes.
pub struct StatisticsStore<S> {
    inner: S,
    stats: Statistics,
}

impl<S> fmt::Debug for StatisticsStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatisticsStore")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> StatisticsStore<S> {
    /// The counters (shared with the layer that made this store).
    pub fn statistics(&self) -> &Statistics {
        &self.stats
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn count(&self, collection: Option<&str>, update: impl FnOnce(&mut CollectionStatistics)) {
        let collection = collection.unwrap_or(self.inner.info().default_collection);
        self.stats.count(collection, update);
    }

    /// Counts what a read found, a hit or a miss per slot, in the counter `which` picks.
    fn count_reads<T>(
        &self,
        collection: Option<&str>,
        slots: &[Option<T>],
        which: fn(&mut CollectionStatistics) -> &mut HitMiss,
    ) {
        let found = slots.iter().filter(|slot| slot.is_some()).count();
        self.count(collection, |c| which(c).add(found, slots.len() - found));
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for StatisticsStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let value = self.inner.get(key, collection).await?;
        self.count_reads(collection, std::slice::from_ref(&value), |c| &mut c.get);
        Ok(value)
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let values = self.inner.get_many(keys, collection).await?;
        self.count_reads(collection, &values, |c| &mut c.get);
        Ok(values)
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let entry = self.inner.ttl(key, collection).await?;
        self.count_reads(collection, std::slice::from_ref(&entry), |c| &mut c.ttl);
        Ok(entry)
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let entries = self.inner.ttl_many(keys, collection).await?;
        self.count_reads(collection, &entries, |c| &mut c.ttl);
        Ok(entries)
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.inner.put(key, value, ttl, collection).await?;
        self.count(collection, |c| c.puts = c.puts.saturating_add(1));
        Ok(())
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.inner.put_many(keys, values, ttl, collection).await?;
        self.count(collection, |c| {
            c.puts = c.puts.saturating_add(keys.len() as u64)
        });
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let stored = self
            .inner
            .put_if_absent(key, value, ttl, collection)
            .await?;
        let hit = usize::from(stored);
        self.count(collection, |c| {
            c.put_if_absent.add(hit, 1 - hit);
            c.puts = c.puts.saturating_add(hit as u64);
        });
        Ok(stored)
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let existed = self.inner.delete(key, collection).await?;
        let hit = usize::from(existed);
        self.count(collection, |c| c.delete.add(hit, 1 - hit));
        Ok(existed)
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let deleted = self.inner.delete_many(keys, collection).await?;
        let missed = keys.len().saturating_sub(deleted);
        self.count(collection, |c| c.delete.add(deleted, missed));
        Ok(deleted)
    }
}
