//! The in-process store of the keyvalue family.
//!
//! [`MemoryStore`] keeps entries in memory, shared by every task that holds it. Each
//! collection has its own lock, held only for a hash lookup (values are handed out of
//! the lock before they are copied), so tasks working on different collections never
//! wait for each other. It offers every optional capability of the contract, and an
//! optional bound on entries per collection with least-recently-used eviction.
//!
//! ```
//! use keyvalue_memory::MemoryStore;
//! use keyvalue_core::prelude::*;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> keyvalue_core::Result<()> {
//! let store = MemoryStore::builder().max_entries_per_collection(1_000).build()?;
//!
//! let mut value = JsonObject::new();
//! value.insert("hits".into(), 1.into());
//! store.put("page:/", value, Some(Duration::from_secs(60)), Some("stats")).await?;
//!
//! let (value, ttl) = store.ttl("page:/", Some("stats")).await?.expect("just written");
//! assert_eq!(value["hits"], 1);
//! assert!(ttl.is_some_and(|left| left <= Duration::from_secs(60)));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::SystemTime;

use keyvalue_core::{
    Backend, Capabilities, DEFAULT_COLLECTION, Entry, Error, ErrorKind, Result, async_trait,
    validate_default_collection,
};
use lru::LruCache;

/// One collection: its entries in recency order. Entries are shared so that a read
/// clones an `Arc` under the lock and copies the value outside it.
type Collection = Mutex<LruCache<String, Arc<Entry>>>;

/// An in-process store: fast, concurrent, optionally bounded per collection.
///
/// Cloning is not offered; share one store with `Arc<MemoryStore>` (itself a store).
pub struct MemoryStore {
    collections: RwLock<HashMap<String, Arc<Collection>>>,
    max_entries: Option<NonZeroUsize>,
    default_collection: String,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("collections", &read(&self.collections).len())
            .field("max_entries_per_collection", &self.max_entries)
            .field("default_collection", &self.default_collection)
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

/// Settings for a [`MemoryStore`]; start with [`MemoryStore::builder`].
#[derive(Debug, Clone, Default)]
pub struct MemoryStoreBuilder {
    max_entries: Option<usize>,
    default_collection: Option<String>,
}

impl MemoryStoreBuilder {
    /// Keeps at most `max` entries per collection, evicting the least recently used
    /// (read or written) when a new key arrives. Must be at least 1.
    pub fn max_entries_per_collection(mut self, max: usize) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// The collection used when an operation is given `None`
    /// (default: [`DEFAULT_COLLECTION`]).
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }

    /// Builds the store; a bound of zero or an invalid collection name is a
    /// [`ErrorKind::Setup`] error.
    pub fn build(self) -> Result<MemoryStore> {
        let max_entries = match self.max_entries {
            None => None,
            Some(max) => Some(NonZeroUsize::new(max).ok_or_else(|| {
                Error::new(
                    ErrorKind::Setup,
                    "max_entries_per_collection must be at least 1",
                )
                .with_store("memory")
            })?),
        };
        let default_collection = self
            .default_collection
            .unwrap_or_else(|| DEFAULT_COLLECTION.to_owned());
        validate_default_collection("memory", &default_collection)?;
        Ok(MemoryStore {
            collections: RwLock::new(HashMap::new()),
            max_entries,
            default_collection,
        })
    }
}

impl MemoryStore {
    /// An unbounded store with the default collection [`DEFAULT_COLLECTION`].
    pub fn new() -> Self {
        MemoryStore {
            collections: RwLock::new(HashMap::new()),
            max_entries: None,
            default_collection: DEFAULT_COLLECTION.to_owned(),
        }
    }

    /// Settings for a bounded store or another default collection.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    fn existing(&self, collection: &str) -> Option<Arc<Collection>> {
        read(&self.collections).get(collection).cloned()
    }

    fn existing_or_new(&self, collection: &str) -> Arc<Collection> {
        if let Some(found) = self.existing(collection) {
            return found;
        }
        let mut collections = write(&self.collections);
        let max_entries = self.max_entries;
        collections
            .entry(collection.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(match max_entries {
                    Some(max) => LruCache::new(max),
                    None => LruCache::unbounded(),
                }))
            })
            .clone()
    }

    /// Every collection, so locks are taken one collection at a time.
    fn all(&self) -> Vec<(String, Arc<Collection>)> {
        read(&self.collections)
            .iter()
            .map(|(name, collection)| (name.clone(), Arc::clone(collection)))
            .collect()
    }
}

/// Takes `key`'s entry out of a locked collection, dropping it if it has expired.
fn lookup(
    entries: &mut LruCache<String, Arc<Entry>>,
    key: &str,
    now: SystemTime,
) -> Option<Arc<Entry>> {
    let expired = entries.get(key)?.is_expired(now);
    if expired {
        entries.pop(key);
        return None;
    }
    entries.peek(key).cloned()
}

fn has_live(entries: &LruCache<String, Arc<Entry>>, now: SystemTime) -> bool {
    entries.iter().any(|(_, entry)| !entry.is_expired(now))
}

#[async_trait]
impl Backend for MemoryStore {
    fn name(&self) -> &str {
        "memory"
    }

    fn default_collection(&self) -> &str {
        &self.default_collection
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            list_collections: true,
            destroy_collection: true,
            destroy: true,
            cull: true,
            atomic_put_many: true,
            max_entry_bytes: None,
            max_entries_per_collection: self.max_entries.map(NonZeroUsize::get),
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let Some(found) = self.existing(collection) else {
            return Ok(None);
        };
        let entry = lookup(&mut lock(&found), key, SystemTime::now());
        Ok(entry.map(Arc::unwrap_or_clone))
    }

    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let Some(found) = self.existing(collection) else {
            return Ok(vec![None; keys.len()]);
        };
        let now = SystemTime::now();
        let shared: Vec<_> = {
            let mut entries = lock(&found);
            keys.iter()
                .map(|key| lookup(&mut entries, key, now))
                .collect()
        };
        Ok(shared
            .into_iter()
            .map(|entry| entry.map(Arc::unwrap_or_clone))
            .collect())
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let entry = Arc::new(entry);
        lock(&self.existing_or_new(collection)).put(key.to_owned(), entry);
        Ok(())
    }

    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|(key, entry)| (key.to_owned(), Arc::new(entry)))
            .collect();
        let target = self.existing_or_new(collection);
        let mut locked = lock(&target);
        for (key, entry) in entries {
            locked.put(key, entry);
        }
        Ok(())
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let Some(found) = self.existing(collection) else {
            return Ok(false);
        };
        let removed = lock(&found).pop(key);
        Ok(removed.is_some_and(|entry| !entry.is_expired(SystemTime::now())))
    }

    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let Some(found) = self.existing(collection) else {
            return Ok(0);
        };
        let now = SystemTime::now();
        let mut entries = lock(&found);
        Ok(keys
            .iter()
            .filter_map(|key| entries.pop(*key))
            .filter(|entry| !entry.is_expired(now))
            .count())
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let Some(found) = self.existing(collection) else {
            return Ok(Vec::new());
        };
        let now = SystemTime::now();
        let entries = lock(&found);
        Ok(entries
            .iter()
            .filter(|(_, entry)| !entry.is_expired(now))
            .map(|(key, _)| key.clone())
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let now = SystemTime::now();
        Ok(self
            .all()
            .into_iter()
            .filter(|(_, collection)| has_live(&lock(collection), now))
            .map(|(name, _)| name)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let removed = write(&self.collections).remove(collection);
        Ok(removed.is_some_and(|entries| has_live(&lock(&entries), SystemTime::now())))
    }

    async fn remove_all(&self) -> Result<bool> {
        let removed = std::mem::take(&mut *write(&self.collections));
        let now = SystemTime::now();
        Ok(removed
            .values()
            .any(|entries| has_live(&lock(entries), now)))
    }

    async fn remove_expired(&self) -> Result<()> {
        let now = SystemTime::now();
        for (_, collection) in self.all() {
            let mut entries = lock(&collection);
            let expired: Vec<String> = entries
                .iter()
                .filter(|(_, entry)| entry.is_expired(now))
                .map(|(key, _)| key.clone())
                .collect();
            for key in expired {
                entries.pop(&key);
            }
        }
        Ok(())
    }
}

// A panic in another task while it held a lock leaves the data consistent (every
// critical section here is a single map operation), so a poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyvalue_core::AsyncKeyValue;

    fn object(n: i64) -> keyvalue_core::JsonObject {
        let mut value = keyvalue_core::JsonObject::new();
        value.insert("n".into(), n.into());
        value
    }

    #[tokio::test]
    async fn reads_refresh_recency_in_bounded_collections() {
        let store = MemoryStore::builder()
            .max_entries_per_collection(2)
            .build()
            .unwrap();
        store.put("a", object(1), None, None).await.unwrap();
        store.put("b", object(2), None, None).await.unwrap();
        // Reading `a` makes `b` the least recently used, so `c` evicts `b`.
        assert!(store.get("a", None).await.unwrap().is_some());
        store.put("c", object(3), None, None).await.unwrap();
        assert!(store.get("a", None).await.unwrap().is_some());
        assert!(store.get("b", None).await.unwrap().is_none());
        assert!(store.get("c", None).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn bounds_are_per_collection() {
        let store = MemoryStore::builder()
            .max_entries_per_collection(1)
            .build()
            .unwrap();
        store.put("k", object(1), None, Some("x")).await.unwrap();
        store.put("k", object(2), None, Some("y")).await.unwrap();
        assert_eq!(store.get("k", Some("x")).await.unwrap(), Some(object(1)));
        assert_eq!(store.get("k", Some("y")).await.unwrap(), Some(object(2)));
    }

    #[test]
    fn bad_settings_are_setup_errors() {
        let zero = MemoryStore::builder().max_entries_per_collection(0).build();
        assert_eq!(zero.unwrap_err().kind(), ErrorKind::Setup);
        let empty = MemoryStore::builder().default_collection("").build();
        assert_eq!(empty.unwrap_err().kind(), ErrorKind::Setup);
    }

    #[tokio::test]
    async fn custom_default_collection_is_used_for_none() {
        let store = MemoryStore::builder()
            .default_collection("mine")
            .build()
            .unwrap();
        store.put("k", object(7), None, None).await.unwrap();
        assert_eq!(store.get("k", Some("mine")).await.unwrap(), Some(object(7)));
        assert_eq!(
            store.collections(None).await.unwrap(),
            vec!["mine".to_owned()]
        );
    }

    #[tokio::test]
    async fn cull_drops_expired_entries_from_memory() {
        let store = MemoryStore::new();
        let ttl = Some(std::time::Duration::from_millis(20));
        store.put("old", object(1), ttl, None).await.unwrap();
        store.put("live", object(2), None, None).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        store.cull().await.unwrap();
        let found = store.existing(DEFAULT_COLLECTION).unwrap();
        assert_eq!(lock(&found).len(), 1);
    }

    #[tokio::test]
    async fn debug_shows_no_values() {
        let store = MemoryStore::new();
        let mut value = keyvalue_core::JsonObject::new();
        value.insert("token".into(), "s3cr3t".into());
        store.put("k", value, None, None).await.unwrap();
        let text = format!("{store:?}");
        assert!(text.contains("MemoryStore"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
