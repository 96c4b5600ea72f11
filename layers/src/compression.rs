//! [`Compression`]: large values are stored gzip-compressed, in py-key-value 0.5's
//! `CompressionWrapper` format, so Python and Rust read each other's entries.
//!
//! A value whose size (py-key-value's `estimate_serialized_size`: the bytes of
//! `json.dumps(value, sort_keys=True)`, the measure of the `limit_size` layer too) is at
//! least the threshold (1024 bytes by default) is stored as
//!
//! ```json
//! {"__compressed_data__": "<standard base64 of the gzip stream>",
//!  "__compression_version__": 1, "__compression_algorithm__": "gzip"}
//! ```
//!
//! where the gzip stream holds the value as `json.dumps(value, separators=(",", ":"))`
//! writes it (compact, `\u` escapes, keys in insertion order), compressed at level 1 as
//! Python's `gzip.compress(..., compresslevel=1)`. Smaller values are stored as they
//! are, and a stored value without `__compressed_data__` is read as it is.
//!
//! Compression uses the `flate2` crate with its default pure-Rust backend
//! (`miniz_oxide`): no C library, and a reader of gzip streams of several members as
//! Python's `gzip.decompress` reads them.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::compression::Compression;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let store = shared.clone().layer(Compression::new());
//! let value = serde_json::json!({"text": "abc".repeat(1000)}).as_object().cloned().unwrap_or_default();
//! store.put("k", value.clone(), None, None).await?;
//! assert_eq!(store.get("k", None).await?, Some(value));
//! let stored = shared.get("k", None).await?.unwrap_or_default();
//! assert!(stored.contains_key("__compressed_data__"));
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! - A stored envelope that cannot be opened (`__compressed_data__` not a string, bad
//!   base64, not gzip, not a JSON object inside, a version above 1, an algorithm other
//!   than gzip, or more than [`Compression::max_decompressed_size`] bytes once
//!   decompressed) is an [`ErrorKind::Deserialization`] error for that key. Python
//!   returns the stored envelope as if it were the value, which hands the caller data
//!   it never wrote; an unbounded decompression would let one stored entry exhaust
//!   memory.
//! - A value that itself holds a `__compressed_data__` field is always compressed, so
//!   it reads back as written; Python stores it as it is and reads it back only if the
//!   field does not look like an envelope.
//! - `put_if_absent` compresses as `put` does.
//!
//! Capabilities are the wrapped store's. Its `max_entry_bytes` bounds what is stored
//! (the envelope), so a compressible value over that size may still be written, while
//! an incompressible one just under it can be refused: base64 adds a third.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression as Level;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use key_value_core::{
    AsyncKeyValue, Capabilities, Encoded, Error, ErrorKind, JsonObject, JsonStyle, Layer, Result,
    ValueCodec, python_json,
};
use serde_json::Value;

/// py-key-value's `estimate_serialized_size`: bytes of `json.dumps(value, sort_keys=True)`.
fn serialized_size(value: &JsonObject) -> Result<usize> {
    Ok(python_json(value, JsonStyle::Sorted)?.len())
}

/// The field that holds the compressed value (py-key-value's `_COMPRESSED_DATA_KEY`).
pub const DATA_FIELD: &str = "__compressed_data__";
/// The envelope's version field (`_COMPRESSION_VERSION_KEY`).
pub const VERSION_FIELD: &str = "__compression_version__";
/// The envelope's algorithm field (`_COMPRESSION_ALGORITHM_KEY`).
pub const ALGORITHM_FIELD: &str = "__compression_algorithm__";
/// The envelope version written and the highest read.
pub const VERSION: u64 = 1;
/// py-key-value's default `min_size_to_compress`, in bytes.
pub const DEFAULT_MIN_SIZE: usize = 1024;
/// The default bound on a decompressed value, in bytes (64 MiB).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// Compresses values of at least a threshold size with gzip: py-key-value's
/// `CompressionWrapper(key_value, min_size_to_compress=1024)`. See the
/// [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct Compression {
    min_size: usize,
    max_decompressed: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::new()
    }
}

impl Compression {
    /// Compresses values of 1024 bytes or more, as py-key-value does by default.
    pub fn new() -> Self {
        Compression {
            min_size: DEFAULT_MIN_SIZE,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// Compresses values whose size is at least `bytes` (Python's `min_size_to_compress`).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// The largest decompressed value read, in bytes (64 MiB by default); a larger one
    /// is a [`ErrorKind::Deserialization`] error.
    pub fn max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }
}

impl<S: AsyncKeyValue> Layer<S> for Compression {
    type Store = CompressionStore<S>;

    fn layer(&self, inner: S) -> CompressionStore<S> {
        Encoded::new(*self, inner)
    }
}

/// The store [`Compression`] makes: the inner store with compression as its value codec.
pub type CompressionStore<S> = Encoded<Compression, S>;

impl ValueCodec for Compression {
    /// Compresses a value of at least the threshold size, and one that holds the
    /// envelope's data field itself (so that reading it back cannot mistake it for an
    /// envelope).
    fn encode(&self, value: JsonObject, _inner: &Capabilities) -> Result<JsonObject> {
        if serialized_size(&value)? >= self.min_size || value.contains_key(DATA_FIELD) {
            compress(&value)
        } else {
            Ok(value)
        }
    }

    fn decode(&self, stored: JsonObject) -> Result<Option<JsonObject>> {
        decompress(stored, self.max_decompressed).map(Some)
    }
}

/// The envelope of `value`: compact JSON, gzip level 1, standard base64.
///
/// Errors: [`ErrorKind::Serialization`] if the value cannot be written as JSON or
/// compressed (neither happens for a JSON object in memory).
pub fn compress(value: &JsonObject) -> Result<JsonObject> {
    let json = python_json(value, JsonStyle::Compact)?;
    let mut encoder = GzEncoder::new(Vec::new(), Level::new(1));
    let compressed = encoder
        .write_all(json.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| {
            Error::new(ErrorKind::Serialization, "gzip compression failed").with_source(e)
        })?;
    let mut envelope = JsonObject::new();
    envelope.insert(DATA_FIELD.into(), STANDARD.encode(compressed).into());
    envelope.insert(VERSION_FIELD.into(), VERSION.into());
    envelope.insert(ALGORITHM_FIELD.into(), "gzip".into());
    Ok(envelope)
}

fn corrupt(why: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Deserialization, why)
}

/// The value `stored` holds: itself when it is no envelope, else the decompressed value
/// (at most `max_decompressed` bytes of JSON).
///
/// Errors: [`ErrorKind::Deserialization`] for an envelope that cannot be opened (see
/// the [module docs](self)).
pub fn decompress(stored: JsonObject, max_decompressed: usize) -> Result<JsonObject> {
    let Some(data) = stored.get(DATA_FIELD) else {
        return Ok(stored);
    };
    let Value::String(data) = data else {
        return Err(corrupt(format!("{DATA_FIELD} is not a string")));
    };
    match stored.get(VERSION_FIELD) {
        None => {}
        Some(version) => match version.as_u64() {
            Some(v) if v <= VERSION => {}
            _ => {
                return Err(corrupt(format!(
                    "compression envelope version {version} is not supported (at most {VERSION})"
                )));
            }
        },
    }
    match stored.get(ALGORITHM_FIELD) {
        None => {}
        Some(Value::String(algorithm)) if algorithm == "gzip" => {}
        Some(other) => {
            return Err(corrupt(format!(
                "compression algorithm {other} is not supported (only \"gzip\")"
            )));
        }
    }
    let compressed = STANDARD
        .decode(data)
        .map_err(|e| corrupt("the compressed data is not base64").with_source(e))?;
    let mut json = Vec::new();
    let limit = u64::try_from(max_decompressed)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    MultiGzDecoder::new(compressed.as_slice())
        .take(limit)
        .read_to_end(&mut json)
        .map_err(|e| corrupt("the compressed data is not a gzip stream").with_source(e))?;
    if json.len() > max_decompressed {
        return Err(corrupt(format!(
            "the compressed value is larger than {max_decompressed} bytes once decompressed"
        )));
    }
    match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(value)) => Ok(value),
        Ok(_) => Err(corrupt("the compressed data is not a JSON object")),
        Err(e) => Err(corrupt("the compressed data is not JSON").with_source(e)),
    }
}
