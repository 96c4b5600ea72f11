//! A memory store with a changed shape, for the tests: it can declare and enforce an
//! entry size limit, and hide the listing operations, as other backends do.

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use key_value_core::{
    AsyncKeyValue, Capabilities, Error, JsonObject, Result, WithTtl, async_trait,
};
use key_value_memory::MemoryStore;

/// A [`MemoryStore`] behind a layer that changes what it offers.
pub struct Shaped {
    inner: MemoryStore,
    /// Refuse values whose compact JSON is larger, and declare it as `max_entry_bytes`.
    pub limit: Option<usize>,
    /// Offer `keys` and `collections`.
    pub listing: bool,
}

impl Shaped {
    /// A store around `inner` that offers everything `inner` does.
    pub fn new(inner: MemoryStore) -> Self {
        Shaped {
            inner,
            limit: None,
            listing: true,
        }
    }

    fn check(&self, value: &JsonObject) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
        if size > limit {
            return Err(Error::value_too_large(size, limit));
        }
        Ok(())
    }
}

#[async_trait]
impl AsyncKeyValue for Shaped {
    async fn get(&self, key: &str, c: Option<&str>) -> Result<Option<JsonObject>> {
        self.inner.get(key, c).await
    }
    async fn get_many(&self, keys: &[&str], c: Option<&str>) -> Result<Vec<Option<JsonObject>>> {
        self.inner.get_many(keys, c).await
    }
    async fn ttl(&self, key: &str, c: Option<&str>) -> Result<Option<WithTtl>> {
        self.inner.ttl(key, c).await
    }
    async fn ttl_many(&self, keys: &[&str], c: Option<&str>) -> Result<Vec<Option<WithTtl>>> {
        self.inner.ttl_many(keys, c).await
    }
    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        c: Option<&str>,
    ) -> Result<()> {
        self.check(&value)?;
        self.inner.put(key, value, ttl, c).await
    }
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        c: Option<&str>,
    ) -> Result<()> {
        values.iter().try_for_each(|v| self.check(v))?;
        self.inner.put_many(keys, values, ttl, c).await
    }
    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        c: Option<&str>,
    ) -> Result<bool> {
        self.check(&value)?;
        self.inner.put_if_absent(key, value, ttl, c).await
    }
    async fn delete(&self, key: &str, c: Option<&str>) -> Result<bool> {
        self.inner.delete(key, c).await
    }
    async fn delete_many(&self, keys: &[&str], c: Option<&str>) -> Result<usize> {
        self.inner.delete_many(keys, c).await
    }
    fn capabilities(&self) -> Capabilities {
        let inner = self.inner.capabilities();
        Capabilities {
            max_entry_bytes: self.limit,
            list_keys: inner.list_keys && self.listing,
            list_collections: inner.list_collections && self.listing,
            ..inner
        }
    }
    async fn keys(&self, c: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.listing {
            return Err(Error::unsupported("keys"));
        }
        self.inner.keys(c, limit).await
    }
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        if !self.listing {
            return Err(Error::unsupported("collections"));
        }
        self.inner.collections(limit).await
    }
    async fn destroy_collection(&self, c: &str) -> Result<bool> {
        self.inner.destroy_collection(c).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.inner.destroy().await
    }
    async fn cull(&self) -> Result<()> {
        self.inner.cull().await
    }
    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
