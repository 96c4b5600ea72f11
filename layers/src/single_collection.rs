//! [`SingleCollection`]: every collection lives in one collection of the wrapped
//! store, for backends where a collection is costly (a table, a database, a bucket).
//!
//! Key `k` of collection `c` is stored as key `{c}__{k}` of the one collection, as
//! py-key-value 0.5's `SingleCollectionWrapper` writes it (its `prefix_key` with the
//! collection as the prefix, separator `__` unless given another), so Python and Rust
//! programs share entries.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::single_collection::SingleCollection;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let store = shared.clone().layer(SingleCollection::new("everything"));
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! store.put("k", value.clone(), None, Some("users")).await?;
//! store.put("k", value.clone(), None, Some("sessions")).await?;
//! // One collection below …
//! assert_eq!(shared.collections(None).await?, vec!["everything".to_owned()]);
//! assert_eq!(shared.get("users__k", Some("everything")).await?, Some(value));
//! // … and the collections above, recovered from the keys.
//! let mut above = store.collections(None).await?;
//! above.sort();
//! assert_eq!(above, vec!["sessions".to_owned(), "users".to_owned()]);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - **No collisions.** In Python, collection `a` with key `b__c` and collection `a__b`
//!   with key `c` are one stored key, `a__b__c`: one overwrites the other. Here a
//!   collection name that contains the separator, ends with a part of it (`a_` before
//!   `__`), or contains `%` is written percent-encoded (`%`, and each character of the
//!   separator, as `%XX` of its UTF-8 bytes: `a__b` becomes `a%5F%5Fb`), so no two
//!   (collection, key) pairs share a stored key and every stored key names its
//!   collection unambiguously. Every other collection name, such as
//!   `default_collection` or `users`, is written exactly as Python writes it.
//! - Enumeration, which py-key-value 0.5's wrapper does not offer: `keys` lists a
//!   collection's keys from the one collection, `collections` recovers the collection
//!   names from the stored keys (skipping keys that name no collection), and
//!   `destroy_collection` / `destroy` delete those keys. All of them list the whole
//!   collection below, so they need [`Capabilities::list_keys`] from the wrapped store.
//! - A bound on entries per collection of the wrapped store
//!   ([`Capabilities::max_entries_per_collection`]) now bounds all collections together,
//!   so this store reports no per-collection bound.
//! - An empty collection or key is an [`ErrorKind::InvalidKey`](key_value_core::ErrorKind)
//!   error; `None` means [`SingleCollection::default_collection`], else the wrapped
//!   store's default collection (Python: `"default_collection"`).
//! - The stored key must fit the wrapped store's name limit (4096 bytes): collection,
//!   separator and key together.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{
    AsyncKeyValue, Capabilities, Error, ErrorKind, JsonObject, Layer, Result, StoreInfo, WithTtl,
    validate_collection, validate_key,
};

/// py-key-value's separator between the collection and the key (`DEFAULT_PREFIX_SEPARATOR`).
pub const DEFAULT_SEPARATOR: &str = "__";

/// Stores every collection in one collection of the wrapped store, the collection name
/// becoming a prefix of the key: py-key-value's
/// `SingleCollectionWrapper(key_value, single_collection, default_collection, separator)`.
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SingleCollection {
    single: String,
    separator: String,
    default_collection: Option<String>,
}

impl SingleCollection {
    /// Stores everything in the wrapped store's collection `single`, with the separator `__`.
    pub fn new(single: impl Into<String>) -> Self {
        SingleCollection {
            single: single.into(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            default_collection: None,
        }
    }

    /// Another separator between collection and key.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] for an empty separator or one holding `%`,
    /// a digit or an upper-case letter `A`–`F` (the characters of the percent-encoding
    /// that keeps names apart).
    pub fn separator(mut self, separator: impl Into<String>) -> Result<Self> {
        let separator = separator.into();
        if separator.is_empty()
            || separator
                .chars()
                .any(|c| c == '%' || c.is_ascii_digit() || ('A'..='F').contains(&c))
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the separator {separator:?} must be non-empty and hold no '%', digit or \
                     upper-case A-F"
                ),
            ));
        }
        self.separator = separator;
        Ok(self)
    }

    /// The collection that `None` means, as Python's `default_collection` argument; by
    /// default the wrapped store's default collection.
    pub fn default_collection(mut self, collection: impl Into<String>) -> Self {
        self.default_collection = Some(collection.into());
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for SingleCollection {
    type Store = SingleCollectionStore<S>;

    fn layer(&self, inner: S) -> SingleCollectionStore<S> {
        SingleCollectionStore {
            inner,
            single: self.single.clone(),
            separator: self.separator.clone(),
            default_collection: self.default_collection.clone(),
        }
    }
}

/// The store [`SingleCollection`] makes.
#[derive(Debug)]
pub struct SingleCollectionStore<S> {
    inner: S,
    single: String,
    separator: String,
    default_collection: Option<String>,
}

impl<S: AsyncKeyValue> SingleCollectionStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether `name` can be written as it is: no `%`, and the separator occurs in
    /// `name + separator` only at its end.
    fn plain(&self, name: &str) -> bool {
        !name.contains('%')
            && format!("{name}{}", self.separator).find(self.separator.as_str()) == Some(name.len())
    }

    /// The collection's part of a stored key.
    fn encode(&self, collection: &str) -> String {
        if self.plain(collection) {
            return collection.to_owned();
        }
        let mut out = String::with_capacity(collection.len() * 2);
        for c in collection.chars() {
            if c == '%' || self.separator.contains(c) {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    let _ = write!(out, "%{byte:02X}");
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The collection a stored collection part names, if it is one this layer writes.
    fn decode(&self, part: &str) -> Option<String> {
        if !part.contains('%') {
            return self.plain(part).then(|| part.to_owned());
        }
        let mut bytes = Vec::with_capacity(part.len());
        let mut rest = part.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'%' {
                let hex = tail.get(..2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail.get(2..)?;
            } else {
                bytes.push(first);
                rest = tail;
            }
        }
        let name = String::from_utf8(bytes).ok()?;
        // Only the canonical form: anything else was not written by this layer.
        (self.encode(&name) == part).then_some(name)
    }

    fn head(&self, collection: Option<&str>) -> Result<String> {
        let collection = collection.unwrap_or_else(|| self.info().default_collection);
        validate_collection(collection)?;
        Ok(format!("{}{}", self.encode(collection), self.separator))
    }

    fn stored(&self, head: &str, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{head}{key}"))
    }

    fn stored_many(&self, collection: Option<&str>, keys: &[&str]) -> Result<Vec<String>> {
        let head = self.head(collection)?;
        keys.iter().map(|key| self.stored(&head, key)).collect()
    }

    /// The stored keys of `collection`.
    async fn stored_keys_of(&self, collection: Option<&str>) -> Result<Vec<String>> {
        let head = self.head(collection)?;
        let all = self.inner.keys(Some(&self.single), None).await?;
        Ok(all
            .into_iter()
            .filter(|key| key.len() > head.len() && key.starts_with(head.as_str()))
            .collect())
    }

    fn split<'k>(&self, stored: &'k str) -> Option<(String, &'k str)> {
        let at = stored.find(self.separator.as_str())?;
        let key = &stored[at + self.separator.len()..];
        if at == 0 || key.is_empty() {
            return None;
        }
        Some((self.decode(&stored[..at])?, key))
    }

    fn need_list_keys(&self, operation: &'static str) -> Result<()> {
        if self.inner.capabilities().list_keys {
            Ok(())
        } else {
            Err(Error::unsupported(operation))
        }
    }

    async fn delete_stored(&self, keys: Vec<String>) -> Result<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        Ok(self
            .inner
            .delete_many(&crate::refs(&keys), Some(&self.single))
            .await?
            > 0)
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for SingleCollectionStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// The wrapped store's name, and the layer's default collection.
    fn info(&self) -> StoreInfo<'_> {
        self.inner
            .info()
            .with_default_collection(self.default_collection.as_deref())
    }

    /// Enumeration and destruction work by listing the one collection's keys, so they
    /// are offered when the wrapped store lists keys; no per-collection bound.
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Capabilities {
            list_keys: inner.list_keys,
            list_collections: inner.list_keys,
            destroy_collection: inner.list_keys,
            destroy: inner.list_keys,
            max_entries_per_collection: None,
            ..inner
        }
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let key = self.stored(&self.head(collection)?, key)?;
        self.inner.get(&key, Some(&self.single)).await
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let keys = self.stored_many(collection, keys)?;
        self.inner
            .get_many(&crate::refs(&keys), Some(&self.single))
            .await
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let key = self.stored(&self.head(collection)?, key)?;
        self.inner.ttl(&key, Some(&self.single)).await
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let keys = self.stored_many(collection, keys)?;
        self.inner
            .ttl_many(&crate::refs(&keys), Some(&self.single))
            .await
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let key = self.stored(&self.head(collection)?, key)?;
        self.inner.put(&key, value, ttl, Some(&self.single)).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let keys = self.stored_many(collection, keys)?;
        self.inner
            .put_many(&crate::refs(&keys), values, ttl, Some(&self.single))
            .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let key = self.stored(&self.head(collection)?, key)?;
        self.inner
            .put_if_absent(&key, value, ttl, Some(&self.single))
            .await
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        let key = self.stored(&self.head(collection)?, key)?;
        self.inner.delete(&key, Some(&self.single)).await
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        let keys = self.stored_many(collection, keys)?;
        self.inner
            .delete_many(&crate::refs(&keys), Some(&self.single))
            .await
    }

    /// The keys of `collection`, read from the one collection below.
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        self.need_list_keys("keys")?;
        let head = self.head(collection)?;
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let all = self.inner.keys(Some(&self.single), None).await?;
        Ok(all
            .iter()
            .filter_map(|key| key.strip_prefix(head.as_str()))
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// The collections named by the stored keys, each once; keys that name none are skipped.
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.need_list_keys("collections")?;
        let mut found = Vec::new();
        if limit == Some(0) {
            return Ok(found);
        }
        let mut seen = HashSet::new();
        for stored in self.inner.keys(Some(&self.single), None).await? {
            if let Some((collection, _)) = self.split(&stored)
                && seen.insert(collection.clone())
            {
                found.push(collection);
                if Some(found.len()) == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Deletes the collection's keys from the one collection below.
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.need_list_keys("destroy_collection")?;
        let keys = self.stored_keys_of(Some(collection)).await?;
        self.delete_stored(keys).await
    }

    /// Deletes every key of the one collection that names a collection.
    async fn destroy(&self) -> Result<bool> {
        self.need_list_keys("destroy")?;
        let all = self.inner.keys(Some(&self.single), None).await?;
        let ours = all
            .into_iter()
            .filter(|key| self.split(key).is_some())
            .collect();
        self.delete_stored(ours).await
    }
}
