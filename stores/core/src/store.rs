//! The store contract users program against: [`AsyncKeyValue`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::entry::JsonObject;
use crate::error::{Error, Result};
use crate::names::DEFAULT_COLLECTION;

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
    /// Every write (`put`, `put_many`, `put_if_absent`, `delete`, `delete_many`,
    /// `destroy_collection`, `destroy`, `cull`) is refused with an
    /// [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly) error (or ignored, for a
    /// store told to ignore writes): py-key-value's `ReadOnlyWrapper`. `false` for
    /// every store that takes writes.
    pub read_only: bool,
}

/// The future of a store operation: boxed, `Send`, borrowing from the call.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A store's name and default collection, so that a wrapper can learn the store it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreInfo<'a> {
    /// A short name for messages and traces, such as `"memory"` or `"redis"`.
    pub name: &'a str,
    /// The collection used when an operation is given `None`.
    pub default_collection: &'a str,
}

impl<'a> StoreInfo<'a> {
    /// A store's description.
    pub fn new(name: &'a str, default_collection: &'a str) -> Self {
        StoreInfo {
            name,
            default_collection,
        }
    }

    /// This description with `collection` as the default collection when one is given:
    /// for a layer that may have a default collection of its own.
    pub fn with_default_collection(self, collection: Option<&'a str>) -> Self {
        StoreInfo {
            default_collection: collection.unwrap_or(self.default_collection),
            ..self
        }
    }
}

/// The error future of an operation neither implemented nor forwarded.
fn unsupported<'a, T: Send + 'a>(operation: &'static str) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Err(Error::unsupported(operation))))
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
///
/// # Writing a wrapper
///
/// A store built on another (a layer, see [`Layer`](crate::Layer)) returns the store it
/// wraps from [`inner_store`](AsyncKeyValue::inner_store) and implements only the
/// operations it changes, with `#[async_trait]`: every other operation, its
/// [`info`](AsyncKeyValue::info) and its [`capabilities`](AsyncKeyValue::capabilities)
/// forward to the inner store, returning the inner store's own future (no allocation per
/// layer). A wrapper that changes what the store offers says so in `capabilities`. A
/// type with no inner store that implements an operation neither itself nor through
/// [`Backend`](crate::Backend) gets an [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)
/// error from it.
///
/// ```
/// use key_value_core::{async_trait, AsyncKeyValue, JsonObject, Result};
///
/// /// Counts reads; everything else passes through unchanged.
/// struct CountReads<S> { inner: S, reads: std::sync::atomic::AtomicU64 }
///
/// #[async_trait]
/// impl<S: AsyncKeyValue> AsyncKeyValue for CountReads<S> {
///     fn inner_store(&self) -> Option<&dyn AsyncKeyValue> { Some(&self.inner) }
///     async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
///         self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.get(key, collection).await
///     }
/// }
/// ```
#[allow(clippy::type_complexity)]
pub trait AsyncKeyValue: Send + Sync {
    /// The store this one wraps, to which every operation it does not implement
    /// forwards; `None` (the default) for a store of its own.
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        None
    }

    /// The store's name and default collection: the inner store's for a wrapper.
    fn info(&self) -> StoreInfo<'_> {
        match self.inner_store() {
            Some(inner) => inner.info(),
            None => StoreInfo::new("store", DEFAULT_COLLECTION),
        }
    }

    /// The store's optional operations and limits: the inner store's for a wrapper.
    fn capabilities(&self) -> Capabilities {
        self.inner_store()
            .map(AsyncKeyValue::capabilities)
            .unwrap_or_default()
    }

    /// The value stored under `key`, or `None` if there is none or it has expired.
    fn get<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, Option<JsonObject>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.get(key, collection),
            None => unsupported("get"),
        }
    }

    /// One slot per key, in the order given (a key may appear more than once).
    fn get_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, Vec<Option<JsonObject>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.get_many(keys, collection),
            None => unsupported("get_many"),
        }
    }

    /// The value and its remaining time-to-live, or `None` if missing or expired.
    fn ttl<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, Option<WithTtl>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.ttl(key, collection),
            None => unsupported("ttl"),
        }
    }

    /// [`AsyncKeyValue::ttl`] for several keys, one slot per key in order.
    fn ttl_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, Vec<Option<WithTtl>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.ttl_many(keys, collection),
            None => unsupported("ttl_many"),
        }
    }

    /// Stores `value` under `key`, replacing any earlier entry (and its expiry).
    ///
    /// `ttl` of `None` means the entry never expires.
    fn put<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.put(key, value, ttl, collection),
            None => unsupported("put"),
        }
    }

    /// Stores `values[i]` under `keys[i]`, all with the same `ttl`.
    ///
    /// Mismatched lengths are an [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// error and nothing is written. Whether a failure can leave some entries written
    /// depends on the store: see [`Capabilities::atomic_put_many`].
    fn put_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.put_many(keys, values, ttl, collection),
            None => unsupported("put_many"),
        }
    }

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
    fn put_if_absent<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.put_if_absent(key, value, ttl, collection),
            None => unsupported("put_if_absent"),
        }
    }

    /// Removes `key`; returns whether an entry was there.
    fn delete<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.delete(key, collection),
            None => unsupported("delete"),
        }
    }

    /// Removes several keys; returns how many entries were there.
    fn delete_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, usize>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.delete_many(keys, collection),
            None => unsupported("delete_many"),
        }
    }

    /// Up to `limit` keys of a live entry in the collection (all when `None`), in no set order.
    fn keys<'life0, 'life1, 'async_trait>(
        &'life0 self,
        collection: Option<&'life1 str>,
        limit: Option<usize>,
    ) -> StoreFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.keys(collection, limit),
            None => unsupported("keys"),
        }
    }

    /// Up to `limit` names of collections that hold entries (all when `None`).
    fn collections<'life0, 'async_trait>(
        &'life0 self,
        limit: Option<usize>,
    ) -> StoreFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.collections(limit),
            None => unsupported("collections"),
        }
    }

    /// Removes a collection and all its entries; returns whether it held any.
    fn destroy_collection<'life0, 'life1, 'async_trait>(
        &'life0 self,
        collection: &'life1 str,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.destroy_collection(collection),
            None => unsupported("destroy_collection"),
        }
    }

    /// Removes every entry of every collection; returns whether there were any.
    fn destroy<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.destroy(),
            None => unsupported("destroy"),
        }
    }

    /// Removes expired entries now, rather than when they are next read.
    fn cull<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.cull(),
            None => unsupported("cull"),
        }
    }

    /// Releases the store's resources; later calls may fail. A wrapper closes the
    /// store it wraps.
    fn close<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        match self.inner_store() {
            Some(inner) => inner.close(),
            None => Box::pin(std::future::ready(Ok(()))),
        }
    }
}

/// A shared store is a store, so `Arc<dyn AsyncKeyValue>` can be wrapped and passed
/// around: it is the store it holds, every call forwarded.
impl<S: AsyncKeyValue + ?Sized> AsyncKeyValue for Arc<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        // Only `info` and `capabilities` rely on this; every operation below forwards
        // directly, without the indirection.
        None
    }
    fn info(&self) -> StoreInfo<'_> {
        (**self).info()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn get<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, Option<JsonObject>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        (**self).get(key, collection)
    }
    fn get_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, Vec<Option<JsonObject>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        (**self).get_many(keys, collection)
    }
    fn ttl<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, Option<WithTtl>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        (**self).ttl(key, collection)
    }
    fn ttl_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, Vec<Option<WithTtl>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        (**self).ttl_many(keys, collection)
    }
    fn put<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        (**self).put(key, value, ttl, collection)
    }
    fn put_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        (**self).put_many(keys, values, ttl, collection)
    }
    fn put_if_absent<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        (**self).put_if_absent(key, value, ttl, collection)
    }
    fn delete<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        key: &'life1 str,
        collection: Option<&'life2 str>,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        (**self).delete(key, collection)
    }
    fn delete_many<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        keys: &'life1 [&'life2 str],
        collection: Option<&'life3 str>,
    ) -> StoreFuture<'async_trait, usize>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        (**self).delete_many(keys, collection)
    }
    fn keys<'life0, 'life1, 'async_trait>(
        &'life0 self,
        collection: Option<&'life1 str>,
        limit: Option<usize>,
    ) -> StoreFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).keys(collection, limit)
    }
    fn collections<'life0, 'async_trait>(
        &'life0 self,
        limit: Option<usize>,
    ) -> StoreFuture<'async_trait, Vec<String>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).collections(limit)
    }
    fn destroy_collection<'life0, 'life1, 'async_trait>(
        &'life0 self,
        collection: &'life1 str,
    ) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).destroy_collection(collection)
    }
    fn destroy<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, bool>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).destroy()
    }
    fn cull<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).cull()
    }
    fn close<'life0, 'async_trait>(&'life0 self) -> StoreFuture<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).close()
    }
}

/// What a persistent store's acknowledged writes survive, for stores that let users
/// trade durability for speed (the disk and SQLite stores).
///
/// Every level survives the process crashing at any instant: a write is then either
/// wholly there or not at all. The levels differ in what a power loss or kernel crash
/// (the whole machine stopping) may do to the latest writes, from weakest to strongest.
/// New levels may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Nothing is flushed to stable storage: the operating system holds the writes. On
    /// power loss the latest writes may be lost, and the disk store's entries written
    /// just before may be left empty (on file systems that delay allocation), which
    /// reads as an error for that key, or torn between their last two versions (it
    /// writes over reused files at this level), which reads as an error or, for an
    /// entry of several pages, as a mix of the two.
    ProcessCrash,
    /// On power loss the latest writes may be rolled back, but every entry holds a whole
    /// value that was once written, never a torn or empty one. The disk store flushes
    /// each file (fsync) before renaming it into place but not the directory: what
    /// py-key-value's `FileTreeStore` does. SQLite's WAL with `synchronous = NORMAL`
    /// gives this already, so the SQLite store treats it as [`Durability::ProcessCrash`].
    PowerLossAtomic,
    /// A write also survives power loss: it and the directory entry naming it are
    /// flushed to stable storage (fsync) before it is acknowledged. Slowest.
    #[default]
    PowerLoss,
}

impl Durability {
    /// Whether a written file's data is flushed before it is renamed into place.
    pub fn flushes_files(self) -> bool {
        self != Durability::ProcessCrash
    }

    /// Whether directories are flushed, so that renames and removals survive power loss.
    pub fn flushes_directories(self) -> bool {
        self == Durability::PowerLoss
    }
}
