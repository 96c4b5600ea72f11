//! [`Fallback`]: reads from a second store when the first fails.
//!
//! ```
//! use key_value_core::LayerExt;
//! use key_value_layers::fallback::Fallback;
//!
//! let primary = key_value_memory::MemoryStore::new(); // say, Redis
//! let spare = key_value_memory::MemoryStore::new(); // say, a local disk store
//! let store = primary.layer(Fallback::new(spare));
//! # let _ = store;
//! ```
//!
//! # As py-key-value's `FallbackWrapper`, and where we differ
//!
//! As in py-key-value:
//!
//! - the reads `get`, `get_many`, `ttl` and `ttl_many` go to the primary store and, when
//!   it fails, to the fallback store (whose answer or error is returned);
//! - the writes `put`, `put_many`, `delete` and `delete_many` go to the primary only,
//!   unless [`Fallback::write_to_fallback`] is on: then a failed write is made on the
//!   fallback store instead (the two stores then disagree until you reconcile them);
//! - enumeration, destruction and culling go to the primary store only.
//!
//! Where we differ, and why:
//!
//! - py-key-value falls back on every exception by default. We fall back on every
//!   error but the caller's own (`InvalidKey`, `InvalidTtl`, `InvalidArgument`,
//!   `Serialization`, `ValueTooLarge`) and `Unsupported`: those would fail on the
//!   fallback store as well, or worse, succeed there for a value the primary refused.
//!   [`Fallback::fallback_if`] chooses otherwise.
//! - `put_if_absent` never falls back: a lease taken on the fallback store would not
//!   exclude a holder on the primary.
//! - An operation on the default collection (`None`) addresses the *primary's* default
//!   collection on both stores, so the two stores hold the same collection even when
//!   their defaults differ.
//! - Falling back is logged through `tracing` at warn level (operation, collection,
//!   key, the primary's error).
//!
//! The store reports the primary's name, default collection and capabilities.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Error, ErrorKind, JsonObject, Layer, Result, StoreFuture, WithTtl,
};

/// Falls back to a second store on failure (a [`Layer`] over the primary store).
#[derive(Clone)]
pub struct Fallback {
    fallback: Arc<dyn AsyncKeyValue>,
    write_to_fallback: bool,
    fallback_if: fn(&Error) -> bool,
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("fallback", &self.fallback.info().name)
            .field("write_to_fallback", &self.write_to_fallback)
            .finish_non_exhaustive()
    }
}

/// The default: every error but the caller's own and `Unsupported`.
fn store_failed(error: &Error) -> bool {
    !matches!(
        error.kind(),
        ErrorKind::InvalidKey
            | ErrorKind::InvalidTtl
            | ErrorKind::InvalidArgument
            | ErrorKind::Serialization
            | ErrorKind::ValueTooLarge
            | ErrorKind::Unsupported
    )
}

impl Fallback {
    /// Reads fall back to `fallback`; writes stay on the primary.
    pub fn new(fallback: impl AsyncKeyValue + 'static) -> Self {
        Fallback::shared(Arc::new(fallback))
    }

    /// [`Fallback::new`] with a store already shared.
    pub fn shared(fallback: Arc<dyn AsyncKeyValue>) -> Self {
        Fallback {
            fallback,
            write_to_fallback: false,
            fallback_if: store_failed,
        }
    }

    /// Whether failed writes (`put`, `put_many`, `delete`, `delete_many`) are made on
    /// the fallback store (off by default, as in py-key-value). A write `put` or
    /// `put_many` then holds a copy of its values while the primary tries.
    pub fn write_to_fallback(mut self, enabled: bool) -> Self {
        self.write_to_fallback = enabled;
        self
    }

    /// Which errors of the primary lead to the fallback store (see the module docs for
    /// the default).
    pub fn fallback_if(mut self, fallback_if: fn(&Error) -> bool) -> Self {
        self.fallback_if = fallback_if;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for Fallback {
    type Store = FallbackStore<S>;

    fn layer(&self, primary: S) -> FallbackStore<S> {
        FallbackStore {
            primary,
            config: self.clone(),
        }
    }
}

/// The store [`Fallback`] makes.
pub struct FallbackStore<S> {
    primary: S,
    config: Fallback,
}

impl<S> fmt::Debug for FallbackStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncKeyValue> FallbackStore<S> {
    /// The primary store.
    pub fn primary(&self) -> &S {
        &self.primary
    }

    /// The fallback store.
    pub fn fallback(&self) -> &Arc<dyn AsyncKeyValue> {
        &self.config.fallback
    }

    /// Runs `call` on the primary and, when it fails with an error that
    /// `fallback_if` accepts, logs that and runs `call` on the fallback store.
    async fn either<'a, T>(
        &'a self,
        operation: &'static str,
        key: Option<&'a str>,
        collection: &'a str,
        call: impl Fn(&'a dyn AsyncKeyValue) -> StoreFuture<'a, T>,
    ) -> Result<T> {
        match call(&self.primary).await {
            Err(error) if (self.config.fallback_if)(&error) => {
                tracing::warn!(
                    operation,
                    collection,
                    key,
                    error = %error,
                    fallback = self.config.fallback.info().name,
                    "the primary store failed; trying the fallback store"
                );
                call(self.config.fallback.as_ref()).await
            }
            result => result,
        }
    }

    fn collection<'a>(&'a self, collection: Option<&'a str>) -> &'a str {
        collection.unwrap_or(self.primary.info().default_collection)
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for FallbackStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.primary)
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let collection = self.collection(collection);
        self.either("get", Some(key), collection, |store| {
            store.get(key, Some(collection))
        })
        .await
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let collection = self.collection(collection);
        self.either("get_many", None, collection, |store| {
            store.get_many(keys, Some(collection))
        })
        .await
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let collection = self.collection(collection);
        self.either("ttl", Some(key), collection, |store| {
            store.ttl(key, Some(collection))
        })
        .await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let collection = self.collection(collection);
        self.either("ttl_many", None, collection, |store| {
            store.ttl_many(keys, Some(collection))
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        if !self.config.write_to_fallback {
            return self.primary.put(key, value, ttl, collection).await;
        }
        let collection = self.collection(collection);
        self.either("put", Some(key), collection, |store| {
            store.put(key, value.clone(), ttl, Some(collection))
        })
        .await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        if !self.config.write_to_fallback {
            return self.primary.put_many(keys, values, ttl, collection).await;
        }
        let collection = self.collection(collection);
        self.either("put_many", None, collection, |store| {
            store.put_many(keys, values.clone(), ttl, Some(collection))
        })
        .await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        if !self.config.write_to_fallback {
            return self.primary.delete(key, collection).await;
        }
        let collection = self.collection(collection);
        self.either("delete", Some(key), collection, |store| {
            store.delete(key, Some(collection))
        })
        .await
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        if !self.config.write_to_fallback {
            return self.primary.delete_many(keys, collection).await;
        }
        let collection = self.collection(collection);
        self.either("delete_many", None, collection, |store| {
            store.delete_many(keys, Some(collection))
        })
        .await
    }
}
