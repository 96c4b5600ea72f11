//! Stores whose values pass through a reversible change: [`ValueCodec`], [`Encoded`].

use std::time::Duration;

use async_trait::async_trait;

use crate::entry::JsonObject;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{AsyncKeyValue, Capabilities, WithTtl};

/// A reversible change of stored values on their way in and out of a store:
/// this trait says what the change is, [`Encoded`] applies it around any store.
///
/// Encryption (the Fernet wrapper), compression and versioning are such changes: they
/// differ in how one value is encoded and decoded, and share everything else, which
/// lives here once: which operations carry values, keeping a read's TTL, checking a
/// batch before encoding any of it, and naming the key and collection in errors.
/// Operations without values (deletes, listing, destruction) forward to the inner store.
///
/// ```
/// use key_value_core::{Capabilities, Encoded, JsonObject, Result, ValueCodec};
///
/// /// Wraps each value as `{"wrapped": value}`.
/// struct Wrap;
///
/// impl ValueCodec for Wrap {
///     fn encode(&self, value: JsonObject, _inner: &Capabilities) -> Result<JsonObject> {
///         let mut stored = JsonObject::new();
///         stored.insert("wrapped".into(), value.into());
///         Ok(stored)
///     }
///     fn decode(&self, mut stored: JsonObject) -> Result<Option<JsonObject>> {
///         Ok(match stored.swap_remove("wrapped") {
///             Some(serde_json::Value::Object(value)) => Some(value),
///             _ => Some(stored),
///         })
///     }
/// }
///
/// # fn demo(any_store: impl key_value_core::AsyncKeyValue) {
/// let store = Encoded::new(Wrap, any_store);
/// # let _ = store;
/// # }
/// ```
///
/// What an [`Encoded`] store applies on writes and undoes on reads.
pub trait ValueCodec: Send + Sync {
    /// What the inner store keeps for `value`. `inner` are the inner store's
    /// capabilities (for a codec that must fit its `max_entry_bytes`).
    fn encode(&self, value: JsonObject, inner: &Capabilities) -> Result<JsonObject>;

    /// The value `stored` holds, or `None` to read it as missing (a codec that hides
    /// what it cannot open, or a value of another version).
    fn decode(&self, stored: JsonObject) -> Result<Option<JsonObject>>;

    /// What the store offers through this codec, given the inner store's capabilities
    /// (for instance a smaller `max_entry_bytes`). Unchanged by default.
    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        inner
    }

    /// The store name errors of this codec carry (such as `"fernet"`); the inner
    /// store's by default.
    fn name(&self) -> Option<&str> {
        None
    }
}

/// A store whose values pass through a [`ValueCodec`] (see there): values are encoded on
/// writes and decoded on reads; every other operation reaches the inner store.
#[derive(Debug, Clone)]
pub struct Encoded<C, S> {
    codec: C,
    inner: S,
}

impl<C, S> Encoded<C, S> {
    /// Applies `codec` around `inner`.
    pub fn new(codec: C, inner: S) -> Self {
        Encoded { codec, inner }
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The wrapped store, which holds the encoded values.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the wrapped store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<C: ValueCodec, S: AsyncKeyValue> Encoded<C, S> {
    /// Names the store, collection and key in an error of the codec.
    fn context(&self, error: Error, key: &str, collection: Option<&str>) -> Error {
        let info = self.inner.info();
        let name = self.codec.name().unwrap_or(info.name);
        error.in_context(name, collection.unwrap_or(info.default_collection), key)
    }

    fn encode(&self, value: JsonObject, key: &str, collection: Option<&str>) -> Result<JsonObject> {
        self.codec
            .encode(value, &self.inner.capabilities())
            .map_err(|e| self.context(e, key, collection))
    }

    fn decode(
        &self,
        stored: Option<JsonObject>,
        key: &str,
        collection: Option<&str>,
    ) -> Result<Option<JsonObject>> {
        match stored {
            None => Ok(None),
            Some(stored) => self
                .codec
                .decode(stored)
                .map_err(|e| self.context(e, key, collection)),
        }
    }

    fn decode_with_ttl(
        &self,
        stored: Option<WithTtl>,
        key: &str,
        collection: Option<&str>,
    ) -> Result<Option<WithTtl>> {
        let Some((stored, remaining)) = stored else {
            return Ok(None);
        };
        Ok(self
            .decode(Some(stored), key, collection)?
            .map(|value| (value, remaining)))
    }
}

#[async_trait]
impl<C: ValueCodec, S: AsyncKeyValue> AsyncKeyValue for Encoded<C, S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    fn capabilities(&self) -> Capabilities {
        self.codec.capabilities(self.inner.capabilities())
    }

    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        let stored = self.inner.get(key, collection).await?;
        self.decode(stored, key, collection)
    }

    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        let stored = self.inner.get_many(keys, collection).await?;
        keys.iter()
            .zip(stored)
            .map(|(key, stored)| self.decode(stored, key, collection))
            .collect()
    }

    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        let stored = self.inner.ttl(key, collection).await?;
        self.decode_with_ttl(stored, key, collection)
    }

    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        let stored = self.inner.ttl_many(keys, collection).await?;
        keys.iter()
            .zip(stored)
            .map(|(key, stored)| self.decode_with_ttl(stored, key, collection))
            .collect()
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let stored = self.encode(value, key, collection)?;
        self.inner.put(key, stored, ttl, collection).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        if keys.len() != values.len() {
            // Checked here so that nothing is encoded (or refused as too large) first.
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "put_many got {} keys and {} values; nothing was written",
                    keys.len(),
                    values.len()
                ),
            ));
        }
        let stored = keys
            .iter()
            .zip(values)
            .map(|(key, value)| self.encode(value, key, collection))
            .collect::<Result<Vec<_>>>()?;
        self.inner.put_many(keys, stored, ttl, collection).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let stored = self.encode(value, key, collection)?;
        self.inner.put_if_absent(key, stored, ttl, collection).await
    }
}
