//! [`Versioning`]: every value is tagged with a version of its schema, and a value of
//! another version reads as missing, so a new release of a program does not read what
//! an old one cached.
//!
//! py-key-value 0.5 has no such wrapper, nor has its main branch: `VersioningWrapper`
//! was written on a branch of its own (for py-key-value's issue 187) that was not
//! merged. This layer writes and reads that wrapper's format:
//!
//! ```json
//! {"__version__": "v2", "__versioned_data__": {"the": "value"}}
//! ```
//!
//! The version is a string or an integer ([`Version`]), compared as Python compares
//! them (`1` and `1.0` are one version, `1` and `"1"` two). A stored value without
//! `__version__` (written before the layer was added) is read as it is.
//!
//! ```
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::versioning::Versioning;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let shared = std::sync::Arc::new(MemoryStore::new());
//! let v1 = shared.clone().layer(Versioning::new("v1"));
//! let v2 = shared.clone().layer(Versioning::new("v2"));
//! let value = serde_json::json!({"name": "Ada"}).as_object().cloned().unwrap_or_default();
//! v1.put("user", value.clone(), None, None).await?;
//! assert_eq!(v1.get("user", None).await?, Some(value));
//! assert_eq!(v2.get("user", None).await?, None); // another schema: a cache miss
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value's `VersioningWrapper`
//!
//! - Every value is wrapped, even one that holds a `__version__` field of its own;
//!   Python stores such a value unwrapped, and then reads it back as missing (or as
//!   another version's value). Python reads what this layer writes either way.
//! - An envelope of this version whose `__versioned_data__` is missing or not an
//!   object is an [`ErrorKind::Deserialization`] error for that key (Python returns
//!   the envelope itself).
//! - A value of another version reads as missing in `ttl` too (as in Python), but
//!   `put_if_absent` sees it as present (the entry is there): delete it first to
//!   replace it in a race-free way, or `put` over it.

use key_value_core::{
    AsyncKeyValue, Capabilities, Encoded, Error, ErrorKind, JsonObject, Layer, Result, ValueCodec,
};
use serde_json::Value;

/// The field that holds the version (py-key-value's `_VERSION_KEY`).
pub const VERSION_FIELD: &str = "__version__";
/// The field that holds the value (py-key-value's `_VERSIONED_DATA_KEY`).
pub const DATA_FIELD: &str = "__versioned_data__";

/// A version tag: a string such as `"v1.2.0"` or an integer, as Python's `str | int`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A string version.
    Text(String),
    /// An integer version.
    Number(i64),
}

impl From<&str> for Version {
    fn from(v: &str) -> Self {
        Version::Text(v.to_owned())
    }
}

impl From<String> for Version {
    fn from(v: String) -> Self {
        Version::Text(v)
    }
}

impl From<i64> for Version {
    fn from(v: i64) -> Self {
        Version::Number(v)
    }
}

impl From<i32> for Version {
    fn from(v: i32) -> Self {
        Version::Number(v.into())
    }
}

impl Version {
    fn to_json(&self) -> Value {
        match self {
            Version::Text(text) => Value::String(text.clone()),
            Version::Number(n) => Value::from(*n),
        }
    }

    /// Python's `stored == version`: strings by value, numbers by value (`1 == 1.0`).
    fn matches(&self, stored: &Value) -> bool {
        match (self, stored) {
            (Version::Text(text), Value::String(s)) => text == s,
            (Version::Number(n), Value::Number(s)) => {
                s.as_i64() == Some(*n) || (s.is_f64() && s.as_f64() == Some(*n as f64))
            }
            _ => false,
        }
    }
}

/// Tags values with a version and reads other versions as missing: py-key-value's
/// `VersioningWrapper(key_value, version)` (unmerged branch). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Versioning {
    version: Version,
}

impl Versioning {
    /// Tags values with `version` (a string or an integer).
    pub fn new(version: impl Into<Version>) -> Self {
        Versioning {
            version: version.into(),
        }
    }
}

impl<S: AsyncKeyValue> Layer<S> for Versioning {
    type Store = VersioningStore<S>;

    fn layer(&self, inner: S) -> VersioningStore<S> {
        Encoded::new(self.clone(), inner)
    }
}

/// The store [`Versioning`] makes: the inner store with versioning as its value codec.
pub type VersioningStore<S> = Encoded<Versioning, S>;

impl ValueCodec for Versioning {
    fn encode(&self, value: JsonObject, _inner: &Capabilities) -> Result<JsonObject> {
        let mut envelope = JsonObject::new();
        envelope.insert(VERSION_FIELD.into(), self.version.to_json());
        envelope.insert(DATA_FIELD.into(), Value::Object(value));
        Ok(envelope)
    }

    fn decode(&self, mut stored: JsonObject) -> Result<Option<JsonObject>> {
        let Some(version) = stored.get(VERSION_FIELD) else {
            return Ok(Some(stored));
        };
        if !self.version.matches(version) {
            return Ok(None);
        }
        match stored.swap_remove(DATA_FIELD) {
            Some(Value::Object(value)) => Ok(Some(value)),
            _ => Err(Error::new(
                ErrorKind::Deserialization,
                format!("a versioned value without an object in {DATA_FIELD}"),
            )),
        }
    }
}
