//! [`Routing`]: each collection goes to a store of its own, the others to a default
//! store, as py-key-value 0.5's `CollectionRoutingWrapper` (a map from collection names
//! to stores) and `RoutingWrapper` (a routing function) do.
//!
//! Routing holds several stores, so it is a store built from them rather than a
//! [`Layer`](key_value_core::Layer) over one (as object_store's wrappers that hold two
//! stores are plain structs).
//!
//! ```
//! use std::sync::Arc;
//! use key_value_core::AsyncKeyValue;
//! use key_value_layers::routing::Routing;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let sessions = Arc::new(MemoryStore::new());
//! let everything_else = Arc::new(MemoryStore::new());
//! let store = Routing::new(everything_else.clone())
//!     .route("sessions", sessions.clone())
//!     .route_when(|collection| collection.starts_with("tmp-"), sessions.clone());
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! store.put("s1", value.clone(), None, Some("sessions")).await?;
//! store.put("u1", value.clone(), None, Some("users")).await?;
//! assert_eq!(sessions.get("s1", Some("sessions")).await?, Some(value.clone()));
//! assert_eq!(everything_else.get("u1", Some("users")).await?, Some(value));
//! assert_eq!(sessions.get("u1", Some("users")).await?, None);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - `None` (the default collection) is routed by its name, the default store's default
//!   collection: Python hands `None` to the routing function, which sends it to the
//!   default store even when `"default_collection"` is mapped elsewhere, so that
//!   `get(k)` and `get(k, collection="default_collection")` could read two stores.
//! - Enumeration and destruction, which py-key-value 0.5's wrapper does not offer:
//!   `keys` and `destroy_collection` go to the collection's store; `collections` lists,
//!   from each store, the collections routed to it (a collection left in the default
//!   store after it was mapped elsewhere is not listed); `destroy`, `cull` and `close`
//!   go to every distinct store once.
//! - Capabilities are what every store offers (a flag is set only when all stores set
//!   it; a limit is the smallest).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, Capabilities, JsonObject, Result, StoreInfo, WithTtl};

type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
enum Rule {
    Exact(String),
    When(Predicate),
}

impl Rule {
    fn matches(&self, collection: &str) -> bool {
        match self {
            Rule::Exact(name) => name == collection,
            Rule::When(predicate) => predicate(collection),
        }
    }
}

/// Sends each collection's operations to one of several stores: the store of the
/// first rule that matches the collection's name, else the default store. See the
/// [module docs](self).
#[derive(Clone)]
pub struct Routing {
    default: Arc<dyn AsyncKeyValue>,
    rules: Vec<(Rule, Arc<dyn AsyncKeyValue>)>,
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routing")
            .field("default", &self.default.info().name)
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Routing {
    /// Routes every collection to `default` until rules are added.
    pub fn new(default: impl AsyncKeyValue + 'static) -> Self {
        Routing {
            default: Arc::new(default),
            rules: Vec::new(),
        }
    }

    /// Routes the collection named `collection` to `store` (py-key-value's
    /// `collection_map` entry). Rules are tried in the order they were added.
    pub fn route(
        mut self,
        collection: impl Into<String>,
        store: impl AsyncKeyValue + 'static,
    ) -> Self {
        self.rules
            .push((Rule::Exact(collection.into()), Arc::new(store)));
        self
    }

    /// Routes every collection whose name satisfies `predicate` to `store` (py-key-value's
    /// `routing_function`, one store per predicate).
    pub fn route_when(
        mut self,
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
        store: impl AsyncKeyValue + 'static,
    ) -> Self {
        self.rules
            .push((Rule::When(Arc::new(predicate)), Arc::new(store)));
        self
    }

    /// The store and the collection name an operation on `collection` goes to.
    fn resolve<'a>(&'a self, collection: Option<&'a str>) -> (&'a dyn AsyncKeyValue, &'a str) {
        let name = collection.unwrap_or_else(|| self.default.info().default_collection);
        (self.store_for(name), name)
    }

    /// The store the collection `name` is routed to.
    pub fn store_for(&self, name: &str) -> &dyn AsyncKeyValue {
        self.rules
            .iter()
            .find(|(rule, _)| rule.matches(name))
            .map_or(&*self.default, |(_, store)| &**store)
    }

    /// Every distinct store, the default first.
    fn stores(&self) -> Vec<&dyn AsyncKeyValue> {
        let mut seen = HashSet::new();
        std::iter::once(&self.default)
            .chain(self.rules.iter().map(|(_, store)| store))
            .filter(|store| seen.insert(Arc::as_ptr(store).cast::<()>()))
            .map(|store| &**store)
            .collect()
    }
}

#[async_trait]
impl AsyncKeyValue for Routing {
    /// The default store's name and default collection.
    fn info(&self) -> StoreInfo<'_> {
        self.default.info()
    }

    /// What every store offers: flags set by all of them, the smallest limits.
    fn capabilities(&self) -> Capabilities {
        let all: Vec<Capabilities> = self.stores().iter().map(|s| s.capabilities()).collect();
        let every = |flag: fn(&Capabilities) -> bool| all.iter().all(flag);
        let smallest =
            |limit: fn(&Capabilities) -> Option<usize>| all.iter().filter_map(limit).min();
        Capabilities {
            list_keys: every(|c| c.list_keys),
            list_collections: every(|c| c.list_collections),
            destroy_collection: every(|c| c.destroy_collection),
            destroy: every(|c| c.destroy),
            cull: every(|c| c.cull),
            atomic_put_many: every(|c| c.atomic_put_many),
            put_if_absent: every(|c| c.put_if_absent),
            read_only: all.iter().any(|c| c.read_only),
            max_entry_bytes: smallest(|c| c.max_entry_bytes),
            max_entries_per_collection: smallest(|c| c.max_entries_per_collection),
        }
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let (store, name) = self.resolve(collection);
        store.get(key, Some(name)).await
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let (store, name) = self.resolve(collection);
        store.get_many(keys, Some(name)).await
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let (store, name) = self.resolve(collection);
        store.ttl(key, Some(name)).await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let (store, name) = self.resolve(collection);
        store.ttl_many(keys, Some(name)).await
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let (store, name) = self.resolve(collection);
        store.put(key, value, ttl, Some(name)).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let (store, name) = self.resolve(collection);
        store.put_many(keys, values, ttl, Some(name)).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let (store, name) = self.resolve(collection);
        store.put_if_absent(key, value, ttl, Some(name)).await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let (store, name) = self.resolve(collection);
        store.delete(key, Some(name)).await
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let (store, name) = self.resolve(collection);
        store.delete_many(keys, Some(name)).await
    }

    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        let (store, name) = self.resolve(collection);
        store.keys(Some(name), limit).await
    }

    /// From each store, the collections routed to it.
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let mut found = Vec::new();
        if limit == Some(0) {
            return Ok(found);
        }
        for store in self.stores() {
            for name in store.collections(None).await? {
                let routed = self.store_for(&name);
                let same = std::ptr::addr_eq(
                    routed as *const dyn AsyncKeyValue,
                    store as *const dyn AsyncKeyValue,
                );
                if same && !found.contains(&name) {
                    found.push(name);
                    if Some(found.len()) == limit {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.store_for(collection)
            .destroy_collection(collection)
            .await
    }

    /// Destroys every distinct store.
    async fn destroy(&self) -> Result<bool> {
        let mut any = false;
        for store in self.stores() {
            any |= store.destroy().await?;
        }
        Ok(any)
    }

    async fn cull(&self) -> Result<()> {
        for store in self.stores() {
            store.cull().await?;
        }
        Ok(())
    }

    /// Closes every distinct store; the first error is returned after all were tried.
    async fn close(&self) -> Result<()> {
        let mut first = Ok(());
        for store in self.stores() {
            if let Err(e) = store.close().await
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }
}
