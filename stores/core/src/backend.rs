//! What a store author implements: [`Backend`]. Every backend is an
//! [`AsyncKeyValue`] through one blanket implementation, which does the work all stores
//! share: it resolves the default collection, checks names and TTLs, stamps entries,
//! hides expired ones, and names the store, collection and key in every error.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::entry::{Entry, JsonObject};
use crate::error::{Error, ErrorKind, Result};
use crate::names::{DEFAULT_COLLECTION, validate_collection, validate_key};
use crate::store::{AsyncKeyValue, Capabilities, StoreInfo, WithTtl};
use crate::ttl::expiry_for;

/// The storage side of a store: raw reads and writes of [`Entry`] values.
///
/// Implement this, not [`AsyncKeyValue`], to write a store: names arrive validated, the
/// collection resolved, TTLs turned into absolute expiry times. Expired entries may be
/// returned by reads; the blanket implementation hides them. Only the single-entry
/// methods are required; the batch methods default to loops, and a backend overrides
/// them where it can do better (one round trip, one transaction). Optional operations
/// default to an [`ErrorKind::Unsupported`] error and are declared in
/// [`Backend::capabilities`].
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use key_value_core::{async_trait, Backend, Entry, Result};
///
/// /// A toy store: one map behind one lock.
/// #[derive(Default)]
/// struct ToyStore(Mutex<HashMap<(String, String), Entry>>);
///
/// #[async_trait]
/// impl Backend for ToyStore {
///     fn name(&self) -> &str { "toy" }
///     async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
///         let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         Ok(map.get(&(collection.into(), key.into())).cloned())
///     }
///     async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
///         let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         map.insert((collection.into(), key.into()), entry);
///         Ok(())
///     }
///     async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
///         let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
///         Ok(map.remove(&(collection.into(), key.into())).is_some())
///     }
/// }
///
/// # async fn demo() -> key_value_core::Result<()> {
/// use key_value_core::AsyncKeyValue;
/// let store = ToyStore::default();
/// assert_eq!(store.get("missing", None).await?, None);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for messages and traces, such as `"memory"` or `"redis"`.
    fn name(&self) -> &str;

    /// The collection used when an operation is given `None`.
    fn default_collection(&self) -> &str {
        DEFAULT_COLLECTION
    }

    /// The optional operations this backend implements, and its limits.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// The entry under `key`, expired or not.
    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>>;

    /// One slot per key, in order.
    async fn read_many(&self, collection: &str, keys: &[&str]) -> Result<Vec<Option<Entry>>> {
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            entries.push(
                self.read(collection, key)
                    .await
                    .map_err(|e| e.with_key(key))?,
            );
        }
        Ok(entries)
    }

    /// Stores `entry` under `key`, replacing what was there.
    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()>;

    /// Stores several entries (keys may repeat: the last one wins).
    async fn write_many(&self, collection: &str, entries: Vec<(&str, Entry)>) -> Result<()> {
        for (key, entry) in entries {
            self.write(collection, key, entry)
                .await
                .map_err(|e| e.with_key(key))?;
        }
        Ok(())
    }

    /// Stores `entry` only if no live entry is under `key` (an expired one counts as
    /// absent), atomically against every other caller of this method, in this process or
    /// any other sharing the store; returns whether it stored. Declare it with
    /// [`Capabilities::put_if_absent`].
    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let _ = (collection, key, entry);
        Err(Error::unsupported("put_if_absent"))
    }

    /// Removes `key`; returns whether an entry was there.
    async fn remove(&self, collection: &str, key: &str) -> Result<bool>;

    /// Removes several keys; returns how many entries were there.
    async fn remove_many(&self, collection: &str, keys: &[&str]) -> Result<usize> {
        let mut removed = 0;
        for key in keys {
            if self
                .remove(collection, key)
                .await
                .map_err(|e| e.with_key(key))?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Up to `limit` keys of live entries in the collection (`limit` is never `Some(0)`).
    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let _ = (collection, limit);
        Err(Error::unsupported("keys"))
    }

    /// Up to `limit` names of collections holding entries (`limit` is never `Some(0)`).
    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let _ = limit;
        Err(Error::unsupported("collections"))
    }

    /// Removes a collection; returns whether it held entries.
    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let _ = collection;
        Err(Error::unsupported("destroy_collection"))
    }

    /// Removes everything; returns whether there was anything.
    async fn remove_all(&self) -> Result<bool> {
        Err(Error::unsupported("destroy"))
    }

    /// Removes expired entries.
    async fn remove_expired(&self) -> Result<()> {
        Err(Error::unsupported("cull"))
    }

    /// Releases resources (connections, file handles).
    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}

/// The resolved collection of one call, and how to name it in errors.
struct Call<'a> {
    store: &'a str,
    collection: &'a str,
}

impl<'a> Call<'a> {
    fn new<B: Backend + ?Sized>(backend: &'a B, collection: Option<&'a str>) -> Result<Self> {
        let call = Call {
            store: backend.name(),
            collection: collection.unwrap_or_else(|| backend.default_collection()),
        };
        validate_collection(call.collection).map_err(|e| call.fail(e))?;
        Ok(call)
    }

    /// Names store and collection in `err`.
    fn fail(&self, err: Error) -> Error {
        err.with_store(self.store.to_owned())
            .with_collection(self.collection)
    }

    /// Names store, collection and key in `err`.
    fn fail_on(&self, key: &str, err: Error) -> Error {
        self.fail(err.with_key(key))
    }

    fn check_keys(&self, keys: &[&str]) -> Result<()> {
        keys.iter()
            .try_for_each(|key| validate_key(key).map_err(|e| self.fail_on(key, e)))
    }
}

/// A value with its remaining ttl at `now`, or `None` when missing or expired.
fn with_ttl(entry: Option<Entry>, now: SystemTime) -> Option<WithTtl> {
    entry.filter(|entry| !entry.is_expired(now)).map(|entry| {
        let remaining = entry.remaining(now);
        (entry.value, remaining)
    })
}

/// Reads one entry after checking the names, and the time it was read at.
async fn read_one<B: Backend>(
    backend: &B,
    key: &str,
    collection: Option<&str>,
) -> Result<(Option<Entry>, SystemTime)> {
    let call = Call::new(backend, collection)?;
    call.check_keys(&[key])?;
    let entry = backend
        .read(call.collection, key)
        .await
        .map_err(|e| call.fail_on(key, e))?;
    Ok((entry, SystemTime::now()))
}

/// Reads entries after checking the names, and the time they were read at.
async fn read_each<B: Backend>(
    backend: &B,
    keys: &[&str],
    collection: Option<&str>,
) -> Result<(Vec<Option<Entry>>, SystemTime)> {
    let call = Call::new(backend, collection)?;
    call.check_keys(keys)?;
    let entries = if keys.is_empty() {
        Vec::new()
    } else {
        backend
            .read_many(call.collection, keys)
            .await
            .map_err(|e| call.fail(e))?
    };
    Ok((entries, SystemTime::now()))
}

#[async_trait]
impl<B: Backend> AsyncKeyValue for B {
    #[tracing::instrument(level = "debug", name = "kv.get", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let (entry, now) = read_one(self, key, collection).await?;
        Ok(with_ttl(entry, now).map(|(value, _)| value))
    }

    #[tracing::instrument(level = "debug", name = "kv.get_many", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection()), count = keys.len()))]
    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let (entries, now) = read_each(self, keys, collection).await?;
        Ok(entries
            .into_iter()
            .map(|entry| with_ttl(entry, now).map(|(value, _)| value))
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "kv.ttl", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let (entry, now) = read_one(self, key, collection).await?;
        Ok(with_ttl(entry, now))
    }

    #[tracing::instrument(level = "debug", name = "kv.ttl_many", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection()), count = keys.len()))]
    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let (entries, now) = read_each(self, keys, collection).await?;
        Ok(entries
            .into_iter()
            .map(|entry| with_ttl(entry, now))
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "kv.put", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let call = Call::new(self, collection)?;
        call.check_keys(&[key])?;
        let entry = Entry::new(value, ttl, SystemTime::now()).map_err(|e| call.fail_on(key, e))?;
        self.write(call.collection, key, entry)
            .await
            .map_err(|e| call.fail_on(key, e))
    }

    #[tracing::instrument(level = "debug", name = "kv.put_many", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection()), count = keys.len()))]
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let call = Call::new(self, collection)?;
        if keys.len() != values.len() {
            return Err(call.fail(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "put_many got {} keys and {} values; nothing was written",
                    keys.len(),
                    values.len()
                ),
            )));
        }
        call.check_keys(keys)?;
        let now = SystemTime::now();
        let expires_at = expiry_for(ttl, now).map_err(|e| call.fail(e))?;
        if keys.is_empty() {
            return Ok(());
        }
        let entries = keys
            .iter()
            .copied()
            .zip(values)
            .map(|(key, value)| {
                let entry = Entry {
                    value,
                    created_at: Some(now),
                    expires_at,
                };
                (key, entry)
            })
            .collect();
        self.write_many(call.collection, entries)
            .await
            .map_err(|e| call.fail(e))
    }

    #[tracing::instrument(level = "debug", name = "kv.put_if_absent", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let call = Call::new(self, collection)?;
        call.check_keys(&[key])?;
        let entry = Entry::new(value, ttl, SystemTime::now()).map_err(|e| call.fail_on(key, e))?;
        self.write_if_absent(call.collection, key, entry)
            .await
            .map_err(|e| call.fail_on(key, e))
    }

    #[tracing::instrument(level = "debug", name = "kv.delete", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let call = Call::new(self, collection)?;
        call.check_keys(&[key])?;
        self.remove(call.collection, key)
            .await
            .map_err(|e| call.fail_on(key, e))
    }

    #[tracing::instrument(level = "debug", name = "kv.delete_many", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection()), count = keys.len()))]
    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let call = Call::new(self, collection)?;
        call.check_keys(keys)?;
        if keys.is_empty() {
            return Ok(0);
        }
        self.remove_many(call.collection, keys)
            .await
            .map_err(|e| call.fail(e))
    }

    fn info(&self) -> StoreInfo<'_> {
        StoreInfo::new(self.name(), self.default_collection())
    }

    fn capabilities(&self) -> Capabilities {
        Backend::capabilities(self)
    }

    #[tracing::instrument(level = "debug", name = "kv.keys", skip_all, fields(store = self.name(), collection = collection.unwrap_or_else(|| self.default_collection())))]
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        let call = Call::new(self, collection)?;
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        self.list_keys(call.collection, limit)
            .await
            .map_err(|e| call.fail(e))
    }

    #[tracing::instrument(level = "debug", name = "kv.collections", skip_all, fields(store = self.name()))]
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        self.list_collections(limit)
            .await
            .map_err(|e| e.with_store(self.name().to_owned()))
    }

    #[tracing::instrument(level = "debug", name = "kv.destroy_collection", skip_all, fields(store = self.name(), collection = collection))]
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        let call = Call::new(self, Some(collection))?;
        self.remove_collection(call.collection)
            .await
            .map_err(|e| call.fail(e))
    }

    #[tracing::instrument(level = "debug", name = "kv.destroy", skip_all, fields(store = self.name()))]
    async fn destroy(&self) -> Result<bool> {
        self.remove_all()
            .await
            .map_err(|e| e.with_store(self.name().to_owned()))
    }

    #[tracing::instrument(level = "debug", name = "kv.cull", skip_all, fields(store = self.name()))]
    async fn cull(&self) -> Result<()> {
        self.remove_expired()
            .await
            .map_err(|e| e.with_store(self.name().to_owned()))
    }

    async fn close(&self) -> Result<()> {
        self.shutdown()
            .await
            .map_err(|e| e.with_store(self.name().to_owned()))
    }
}
