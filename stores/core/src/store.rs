//! The store contract users program against: [`AsyncKeyValue`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::entry::JsonObject;
use crate::error::Result;

/// A value with its remaining time-to-live (`None`: the entry never expires).
pub type WithTtl = (JsonObject, Option<Duration>);

/// What optional parts of the contract a store offers, and its limits.
///
/// The conformance suite runs the cases of a capability only when it is declared, and
/// checks that an undeclared operation fails with [`ErrorKind::Unsupported`]
/// rather than panicking.
///
/// [`ErrorKind::Unsupported`]: crate::ErrorKind::Unsupported
///
/// ```
/// use key_value_core::Capabilities;
///
/// let caps = Capabilities { list_keys: true, ..Capabilities::default() };
/// assert!(!caps.cull);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// [`AsyncKeyValue::keys`] lists the keys of a collection.
    pub list_keys: bool,
    /// [`AsyncKeyValue::collections`] lists the collections.
    pub list_collections: bool,
    /// [`AsyncKeyValue::destroy_collection`] removes a collection.
    pub destroy_collection: bool,
    /// [`AsyncKeyValue::destroy`] removes everything in the store.
    pub destroy: bool,
    /// [`AsyncKeyValue::cull`] removes expired entries.
    pub cull: bool,
    /// `put_many` writes all entries or none.
    pub atomic_put_many: bool,
    /// The largest stored entry (document form) the backend accepts, in bytes.
    pub max_entry_bytes: Option<usize>,
    /// The bound on entries per collection, past which the least recently used are evicted.
    pub max_entries_per_collection: Option<usize>,
    /// [`AsyncKeyValue::put_if_absent`] creates an entry atomically: among any number of
    /// concurrent callers (tasks, and OS processes or machines when the store is shared
    /// by them) exactly one succeeds while the entry is live.
    pub put_if_absent: bool,
}

/// An async key-value store: collections of keys mapped to JSON objects, with optional expiry.
///
/// Every store of the family implements it (through [`Backend`](crate::Backend), which
/// adds validation), and so do wrappers such as the Fernet encryption wrapper. It is
/// dyn-compatible: `Arc<dyn AsyncKeyValue>` is itself a store.
///
/// A `collection` of `None` means the store's default collection
/// ([`DEFAULT_COLLECTION`](crate::DEFAULT_COLLECTION) unless the store was built with
/// another).
///
/// ```
/// # async fn demo(store: &dyn key_value_core::AsyncKeyValue) -> key_value_core::Result<()> {
/// use std::time::Duration;
/// use serde_json::json;
///
/// let value = json!({"name": "Ada"}).as_object().cloned().unwrap_or_default();
/// store.put("user:1", value.clone(), Some(Duration::from_secs(60)), Some("users")).await?;
/// assert_eq!(store.get("user:1", Some("users")).await?, Some(value));
/// assert!(store.delete("user:1", Some("users")).await?);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait AsyncKeyValue: Send + Sync {
    /// The value stored under `key`, or `None` if there is none or it has expired.
    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>>;

    /// One slot per key, in the order given (a key may appear more than once).
    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>>;

    /// The value and its remaining time-to-live, or `None` if missing or expired.
    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>>;

    /// [`AsyncKeyValue::ttl`] for several keys, one slot per key in order.
    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>>;

    /// Stores `value` under `key`, replacing any earlier entry (and its expiry).
    ///
    /// `ttl` of `None` means the entry never expires.
    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()>;

    /// Stores `values[i]` under `keys[i]`, all with the same `ttl`.
    ///
    /// Mismatched lengths are an [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// error and nothing is written. Whether a failure can leave some entries written
    /// depends on the store: see [`Capabilities::atomic_put_many`].
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()>;

    /// Stores `value` under `key` only if no live entry is there, atomically; returns
    /// whether it stored.
    ///
    /// An expired entry counts as absent and is replaced. Among callers racing for the
    /// same key, in this process or in any other sharing the store, exactly one gets
    /// `true` until the entry it wrote expires or is deleted: this is the lease
    /// primitive that lets a fleet of processes elect one of them to do a piece of work
    /// (oauth-core uses it to refresh a token once for everyone). Declared by
    /// [`Capabilities::put_if_absent`]; a store without it returns an
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) error.
    ///
    /// A plain [`put`](AsyncKeyValue::put) is not part of the race: it replaces
    /// whatever is there.
    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let _ = (key, value, ttl, collection);
        Err(crate::Error::unsupported("put_if_absent"))
    }

    /// Removes `key`; returns whether an entry was there.
    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool>;

    /// Removes several keys; returns how many entries were there.
    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize>;

    /// The store's optional operations and limits.
    fn capabilities(&self) -> Capabilities;

    /// Up to `limit` keys of a live entry in the collection (all when `None`), in no set order.
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>>;

    /// Up to `limit` names of collections that hold entries (all when `None`).
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>>;

    /// Removes a collection and all its entries; returns whether it held any.
    async fn destroy_collection(&self, collection: &str) -> Result<bool>;

    /// Removes every entry of every collection; returns whether there were any.
    async fn destroy(&self) -> Result<bool>;

    /// Removes expired entries now, rather than when they are next read.
    async fn cull(&self) -> Result<()>;

    /// Releases the store's resources; later calls may fail.
    async fn close(&self) -> Result<()>;
}

/// A shared store is a store, so `Arc<dyn AsyncKeyValue>` can be wrapped and passed around.
#[async_trait]
impl<S: AsyncKeyValue + ?Sized> AsyncKeyValue for Arc<S> {
    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        (**self).get(key, collection).await
    }
    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        (**self).get_many(keys, collection).await
    }
    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        (**self).ttl(key, collection).await
    }
    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        (**self).ttl_many(keys, collection).await
    }
    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        (**self).put(key, value, ttl, collection).await
    }
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        (**self).put_many(keys, values, ttl, collection).await
    }
    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        (**self).put_if_absent(key, value, ttl, collection).await
    }
    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        (**self).delete(key, collection).await
    }
    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        (**self).delete_many(keys, collection).await
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        (**self).keys(collection, limit).await
    }
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        (**self).collections(limit).await
    }
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        (**self).destroy_collection(collection).await
    }
    async fn destroy(&self) -> Result<bool> {
        (**self).destroy().await
    }
    async fn cull(&self) -> Result<()> {
        (**self).cull().await
    }
    async fn close(&self) -> Result<()> {
        (**self).close().await
    }
}

/// What a persistent store's acknowledged writes survive, for stores that let users
/// trade durability for speed (the disk and SQLite stores).
///
/// Both levels are crash safe: a write is either wholly there or not at all, and older
/// data is never corrupted. They differ in whether the newest writes may be lost when
/// the whole machine stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// A write survives the process crashing at any instant, because the operating
    /// system holds it; a power loss or kernel crash may lose the latest writes.
    ProcessCrash,
    /// A write also survives power loss: it is flushed to stable storage (fsync)
    /// before it is acknowledged. Slower.
    #[default]
    PowerLoss,
}
