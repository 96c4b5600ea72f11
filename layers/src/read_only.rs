//! [`ReadOnly`]: reads pass through, writes are refused: py-key-value 0.5's
//! `ReadOnlyWrapper`, for read replicas, production data in tests, or a program that
//! must not change a shared store.
//!
//! Every write (`put`, `put_many`, `put_if_absent`, `delete`, `delete_many`,
//! `destroy_collection`, `destroy`, `cull`) is an [`ErrorKind::ReadOnly`] error naming
//! the operation, and the wrapped store is not called. With [`ReadOnly::ignore_writes`]
//! (Python's `raise_on_write=False`) writes do nothing instead and report that nothing
//! happened (`delete` returns `false`, `delete_many` 0, `put_if_absent` `false`).
//! [`Capabilities::read_only`] says so, and the other write capabilities are off.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, ErrorKind, LayerExt};
//! use key_value_layers::read_only::ReadOnly;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! shared.put("k", value.clone(), None, None).await?;
//! let reader = shared.clone().layer(ReadOnly::new());
//! assert_eq!(reader.get("k", None).await?, Some(value.clone()));
//! let err = reader.put("k", value, None, None).await.err();
//! assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ReadOnly));
//! assert!(reader.capabilities().read_only);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! py-key-value 0.5 guards `put`, `put_many`, `delete` and `delete_many` (its
//! protocol has no other writes); this layer also refuses `put_if_absent`,
//! `destroy_collection`, `destroy` and `cull`, which change the store as much.

use std::time::Duration;

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, Capabilities, Error, ErrorKind, JsonObject, Layer, Result};

/// Refuses (or ignores) every write: py-key-value's
/// `ReadOnlyWrapper(key_value, raise_on_write=True)`. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly {
    ignore_writes: bool,
}

impl Default for ReadOnly {
    fn default() -> Self {
        ReadOnly::new()
    }
}

impl ReadOnly {
    /// Writes are [`ErrorKind::ReadOnly`] errors.
    pub fn new() -> Self {
        ReadOnly {
            ignore_writes: false,
        }
    }

    /// Writes do nothing and succeed, reporting that nothing changed (Python's
    /// `raise_on_write=False`).
    pub fn ignore_writes(mut self, ignore: bool) -> Self {
        self.ignore_writes = ignore;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for ReadOnly {
    type Store = ReadOnlyStore<S>;

    fn layer(&self, inner: S) -> ReadOnlyStore<S> {
        ReadOnlyStore {
            inner,
            ignore_writes: self.ignore_writes,
        }
    }
}

/// The store [`ReadOnly`] makes.
#[derive(Debug)]
pub struct ReadOnlyStore<S> {
    inner: S,
    ignore_writes: bool,
}

impl<S: AsyncKeyValue> ReadOnlyStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// `Ok(nothing)` when writes are ignored, else the error for `operation`.
    fn refuse<T>(
        &self,
        operation: &str,
        collection: Option<&str>,
        key: Option<&str>,
        nothing: T,
    ) -> Result<T> {
        if self.ignore_writes {
            return Ok(nothing);
        }
        let info = self.inner.info();
        let error = Error::new(
            ErrorKind::ReadOnly,
            format!("`{operation}` is a write, and this store is read-only"),
        )
        .with_store(info.name.to_owned());
        if operation == "destroy" || operation == "cull" {
            return Err(error); // the whole store: no collection to name
        }
        let error = error.with_collection(collection.unwrap_or(info.default_collection));
        Err(match key {
            Some(key) => error.with_key(key),
            None => error,
        })
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for ReadOnlyStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    /// `read_only`, and no write capability.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            read_only: true,
            destroy_collection: false,
            destroy: false,
            cull: false,
            atomic_put_many: false,
            put_if_absent: false,
            ..self.inner.capabilities()
        }
    }

    async fn put(
        &self,
        key: &str,
        _value: JsonObject,
        _ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.refuse("put", collection, Some(key), ())
    }

    async fn put_many(
        &self,
        keys: &[&str],
        _values: Vec<JsonObject>,
        _ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.refuse("put_many", collection, keys.first().copied(), ())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        _value: JsonObject,
        _ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        self.refuse("put_if_absent", collection, Some(key), false)
    }

    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        self.refuse("delete", collection, Some(key), false)
    }

    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        self.refuse("delete_many", collection, keys.first().copied(), 0)
    }

    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.refuse("destroy_collection", Some(collection), None, false)
    }

    async fn destroy(&self) -> Result<bool> {
        self.refuse("destroy", None, None, false)
    }

    async fn cull(&self) -> Result<()> {
        self.refuse("cull", None, None, ())
    }
}
