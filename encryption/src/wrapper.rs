//! The wrapper: a store that seals values on the way in and opens them on the way out.

use std::fmt;

use key_value_core::{
    AsyncKeyValue, Capabilities, Encoded, Error, ErrorKind, JsonObject, Layer, Result, ValueCodec,
};

use crate::envelope::{self, Failure};
use crate::key::Keyring;

/// The store name decryption errors carry.
const STORE_NAME: &str = "fernet";

/// How many entries re-encryption reads per round trip.
const REENCRYPT_BATCH: usize = 100;

/// Encrypts every value of an inner store with Fernet, in py-key-value's envelope
/// format, so Python's `FernetEncryptionWrapper` and this wrapper read each other's data.
///
/// Keys, collections and expiry are passed through untouched (they are not secret);
/// only values are sealed. It is itself an [`AsyncKeyValue`], so it can wrap any store,
/// including `Arc<dyn AsyncKeyValue>` and other wrappers, and be wrapped in turn.
///
/// Strict by default: a stored value that cannot be opened (wrong key, tampered or
/// truncated token, bad base64, an envelope version other than 1, or a plain value
/// that was never sealed) is an [`ErrorKind::Decryption`] error naming the key and
/// collection. [`FernetWrapperBuilder`] relaxes that for reads and migrations.
///
/// `Debug` shows the options and how many keys there are, never a key.
pub struct FernetWrapper<S> {
    /// The inner store with Fernet as its value codec: reads, writes and their errors
    /// go through it; everything else reaches the inner store unchanged.
    encoded: Encoded<FernetCodec, S>,
}

/// Fernet as a [`ValueCodec`]: seals values into py-key-value's envelope.
#[derive(Clone)]
struct FernetCodec {
    keys: Keyring,
    missing_on_decryption_error: bool,
    accept_plaintext: bool,
}

impl fmt::Debug for FernetCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FernetWrapper")
            .field("keys", &self.keys.len())
            .field(
                "missing_on_decryption_error",
                &self.missing_on_decryption_error,
            )
            .field("accept_plaintext", &self.accept_plaintext)
            .finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for FernetWrapper<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.encoded.codec(), f)
    }
}

impl FernetCodec {
    fn new(keys: Keyring) -> Self {
        FernetCodec {
            keys,
            missing_on_decryption_error: false,
            accept_plaintext: false,
        }
    }
}

impl ValueCodec for FernetCodec {
    /// Seals the value's compact JSON (Python's bytes); a plaintext whose envelope would
    /// not fit the inner store's `max_entry_bytes` is refused before sealing.
    fn encode(&self, value: JsonObject, inner: &Capabilities) -> Result<JsonObject> {
        let plaintext = envelope::plaintext(&value)?;
        if let Some(limit) = inner.max_entry_bytes.map(envelope::max_plaintext)
            && plaintext.len() > limit
        {
            return Err(Error::value_too_large(plaintext.len(), limit));
        }
        envelope::seal(&plaintext, &self.keys)
    }

    fn decode(&self, stored: JsonObject) -> Result<Option<JsonObject>> {
        match envelope::open(stored, &self.keys, self.accept_plaintext) {
            Ok(opened) => Ok(Some(opened.value)),
            Err(_) if self.missing_on_decryption_error => Ok(None),
            Err(failure) => Err(decryption_error(failure)),
        }
    }

    /// The inner store's capabilities, with `max_entry_bytes` turned into the largest
    /// plaintext value (compact JSON bytes) whose envelope fits the inner limit.
    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        Capabilities {
            max_entry_bytes: inner.max_entry_bytes.map(envelope::max_plaintext),
            ..inner
        }
    }

    fn name(&self) -> Option<&str> {
        Some(STORE_NAME)
    }
}

fn decryption_error(failure: Failure) -> Error {
    Error::new(ErrorKind::Decryption, failure.0)
}

/// Fernet encryption as a [`Layer`]: `store.layer(FernetLayer::new(key))` is
/// `FernetWrapper::new(store, key)`, and stacks with the other layers.
///
/// ```
/// use key_value_core::LayerExt;
/// use key_value_fernet::{FernetKey, FernetLayer};
///
/// let store = key_value_memory::MemoryStore::new().layer(FernetLayer::new(FernetKey::generate()?));
/// # let _ = store;
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Clone)]
pub struct FernetLayer {
    keys: Keyring,
    missing_on_decryption_error: bool,
    accept_plaintext: bool,
}

impl fmt::Debug for FernetLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FernetLayer")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl FernetLayer {
    /// Seals with `keys` (a [`FernetKey`](crate::FernetKey) or a [`Keyring`]), with the
    /// strict defaults of [`FernetWrapper::new`].
    pub fn new(keys: impl Into<Keyring>) -> Self {
        FernetLayer {
            keys: keys.into(),
            missing_on_decryption_error: false,
            accept_plaintext: false,
        }
    }

    /// See [`FernetWrapperBuilder::missing_on_decryption_error`].
    pub fn missing_on_decryption_error(mut self, enabled: bool) -> Self {
        self.missing_on_decryption_error = enabled;
        self
    }

    /// See [`FernetWrapperBuilder::accept_plaintext`].
    pub fn accept_plaintext(mut self, enabled: bool) -> Self {
        self.accept_plaintext = enabled;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for FernetLayer {
    type Store = FernetWrapper<S>;

    fn layer(&self, inner: S) -> FernetWrapper<S> {
        FernetWrapper::builder(inner, self.keys.clone())
            .missing_on_decryption_error(self.missing_on_decryption_error)
            .accept_plaintext(self.accept_plaintext)
            .build()
    }
}

/// Builds a [`FernetWrapper`] with non-default options.
///
/// ```
/// use key_value_fernet::{FernetKey, FernetWrapper};
/// use key_value_memory::MemoryStore;
///
/// let store = FernetWrapper::builder(MemoryStore::new(), FernetKey::generate()?)
///     .accept_plaintext(true) // while migrating a store that held plain values
///     .build();
/// # Ok::<(), key_value_core::Error>(())
/// ```
pub struct FernetWrapperBuilder<S> {
    store: S,
    codec: FernetCodec,
}

impl<S> fmt::Debug for FernetWrapperBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FernetWrapperBuilder")
            .field(&self.codec)
            .finish()
    }
}

impl<S: AsyncKeyValue> FernetWrapperBuilder<S> {
    /// Read a value that cannot be opened as missing (`None`) instead of failing with a
    /// [`ErrorKind::Decryption`] error, like py-key-value's
    /// `raise_on_decryption_error=False`. Off by default.
    ///
    /// Re-encryption then leaves such entries as they are instead of failing.
    pub fn missing_on_decryption_error(mut self, enabled: bool) -> Self {
        self.codec.missing_on_decryption_error = enabled;
        self
    }

    /// Accept stored values that were never sealed (no `__encrypted_data__` field) and
    /// return them as they are, for migrating a store that held plain values; new
    /// writes are still sealed, and re-encryption seals the plain values it finds.
    ///
    /// Off by default: otherwise anyone with write access to the backend could plant a
    /// value that reads as if it had been sealed. py-key-value always accepts them.
    pub fn accept_plaintext(mut self, enabled: bool) -> Self {
        self.codec.accept_plaintext = enabled;
        self
    }

    /// The wrapper.
    pub fn build(self) -> FernetWrapper<S> {
        FernetWrapper {
            encoded: Encoded::new(self.codec, self.store),
        }
    }
}

impl<S: AsyncKeyValue> FernetWrapper<S> {
    /// Wraps `store`, sealing values with `keys` (a [`FernetKey`](crate::FernetKey) or a
    /// [`Keyring`]), with the strict defaults.
    pub fn new(store: S, keys: impl Into<Keyring>) -> Self {
        FernetWrapper::builder(store, keys).build()
    }

    /// A builder for a wrapper with other options.
    pub fn builder(store: S, keys: impl Into<Keyring>) -> FernetWrapperBuilder<S> {
        FernetWrapperBuilder {
            store,
            codec: FernetCodec::new(keys.into()),
        }
    }

    /// The wrapped store, which holds the sealed envelopes.
    pub fn inner(&self) -> &S {
        self.encoded.inner()
    }

    /// Unwraps the wrapped store.
    pub fn into_inner(self) -> S {
        self.encoded.into_inner()
    }

    /// Re-seals with the newest key every entry of `collection` that was sealed with an
    /// older key (or is plain, when plaintext is accepted), keeping each entry's
    /// remaining time-to-live; returns how many entries it rewrote.
    ///
    /// Needs a store that can list keys ([`Capabilities::list_keys`]); otherwise an
    /// [`ErrorKind::Unsupported`] error. An entry that cannot be opened is a
    /// [`ErrorKind::Decryption`] error (nothing after it is rewritten), or is left as it
    /// is with [`FernetWrapperBuilder::missing_on_decryption_error`].
    ///
    /// Each entry is read and then written back, not atomically: a write to the same
    /// key in between is overwritten with the older value. Run it while the collection
    /// is quiet.
    pub async fn reencrypt_collection(&self, collection: Option<&str>) -> Result<usize> {
        if !self.inner().capabilities().list_keys {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "re-encryption lists the keys of a collection, and the wrapped store does \
                 not support `keys`",
            ));
        }
        let codec = self.encoded.codec();
        let keys = self.inner().keys(collection, None).await?;
        let mut rewritten = 0;
        for batch in keys.chunks(REENCRYPT_BATCH) {
            let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
            let entries = self.inner().ttl_many(&batch, collection).await?;
            for (key, entry) in batch.iter().zip(entries) {
                let Some((stored, remaining)) = entry else {
                    continue; // deleted or expired since it was listed
                };
                if remaining.is_some_and(|left| left.is_zero()) {
                    continue; // expires now; a zero TTL cannot be written
                }
                let opened = match envelope::open(stored, &codec.keys, codec.accept_plaintext) {
                    Ok(opened) => opened,
                    Err(_) if codec.missing_on_decryption_error => continue,
                    Err(failure) => {
                        let info = self.inner().info();
                        return Err(decryption_error(failure).in_context(
                            STORE_NAME,
                            collection.unwrap_or(info.default_collection),
                            key,
                        ));
                    }
                };
                if opened.current {
                    continue;
                }
                let plaintext = envelope::plaintext(&opened.value)?;
                let sealed = envelope::seal(&plaintext, &codec.keys)?;
                self.inner().put(key, sealed, remaining, collection).await?;
                rewritten += 1;
            }
        }
        Ok(rewritten)
    }

    /// [`FernetWrapper::reencrypt_collection`] for every collection of the store;
    /// returns how many entries it rewrote in all.
    ///
    /// Needs a store that lists collections and keys
    /// ([`Capabilities::list_collections`], [`Capabilities::list_keys`]); otherwise an
    /// [`ErrorKind::Unsupported`] error.
    pub async fn reencrypt_all(&self) -> Result<usize> {
        let caps = self.inner().capabilities();
        if !caps.list_collections || !caps.list_keys {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "re-encrypting a whole store lists its collections and their keys, and the \
                 wrapped store does not support `collections` and `keys`",
            ));
        }
        let mut rewritten = 0;
        for collection in self.inner().collections(None).await? {
            rewritten += self.reencrypt_collection(Some(&collection)).await?;
        }
        Ok(rewritten)
    }
}

impl<S: AsyncKeyValue> AsyncKeyValue for FernetWrapper<S> {
    /// Reads and writes go through Fernet; deletes, listing, destruction and culling
    /// need no key and reach the inner store unchanged.
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.encoded)
    }
}
