//! A Fernet encryption wrapper that turns any key-value store into an encrypted one.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_fernet::{FernetKey, FernetWrapper};
//! use key_value_memory::MemoryStore;
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let key = FernetKey::generate()?;
//! // Keep its text somewhere safe (a secret manager, an environment variable), and
//! // load it next time with `FernetKey::from_base64`.
//! let key_text = key.to_base64();
//! # assert_eq!(key_text.len(), 44);
//! let inner = Arc::new(MemoryStore::new());
//! let store = FernetWrapper::new(inner.clone(), key);
//!
//! let token = json!({"access_token": "at-1"}).as_object().cloned().unwrap_or_default();
//! store.put("github", token.clone(), None, Some("tokens")).await?;
//! assert_eq!(store.get("github", Some("tokens")).await?, Some(token));
//!
//! // The inner store only ever sees py-key-value's envelope.
//! let sealed = inner.get("github", Some("tokens")).await?.unwrap_or_default();
//! assert!(sealed.contains_key("__encrypted_data__"));
//! assert_eq!(sealed["__encryption_version__"], 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Format
//!
//! Values are stored exactly as py-key-value's `FernetEncryptionWrapper` stores them, so
//! Python and Rust programs can share one encrypted store:
//!
//! ```json
//! {"__encrypted_data__": "<standard base64 of the Fernet token text>", "__encryption_version__": 1}
//! ```
//!
//! The plaintext is the value as py-key-value writes it,
//! `json.dumps(value, separators=(",", ":"))`: compact, object keys in insertion order,
//! ASCII `\u` escapes, floats as Python's `repr`. Keys, collections and expiry are not
//! encrypted.
//!
//! # Keys
//!
//! - [`FernetKey::generate`]: a new random key; [`FernetKey::to_base64`] exports it as
//!   text (32 bytes in URL-safe base64 with padding, 44 characters, as Python's
//!   `Fernet.generate_key()` writes it);
//! - [`FernetKey::from_base64`]: a key from that text, made here or by Python;
//! - [`FernetKey::derive_from_password`]: the key py-key-value derives from
//!   `source_material` and `salt` (PBKDF2-HMAC-SHA256, 1,200,000 rounds);
//! - [`Keyring`]: several keys, newest first, for rotation. Values are sealed with the
//!   newest key and opened with any; [`FernetWrapper::reencrypt_collection`] and
//!   [`FernetWrapper::reencrypt_all`] re-seal old entries with the newest key.
//!
//! Keys never appear in `Debug` output. Each key, and the key text and derived bytes this
//! crate handles, are kept in [`zeroize::Zeroizing`] buffers; see [`FernetKey`] for the
//! one kind of copy that is not (the `hmac` crate's state).
//! The plaintext bytes the wrapper seals and opens (a value's JSON) are zeroed when
//! dropped, their whole allocation; the values themselves, handed in and returned as
//! [`JsonObject`](key_value_core::JsonObject)s, are the caller's.
//!
//! # Errors
//!
//! Strict by default: a stored value that cannot be opened (wrong key, tampered or
//! truncated token, bad base64, an envelope version other than 1, or a plain value that
//! was never sealed) is an [`ErrorKind::Decryption`](key_value_core::ErrorKind::Decryption)
//! error that names the key and collection and never the value.
//! [`FernetWrapperBuilder`] can read such values as missing instead, and can accept
//! plain values while migrating.
//!
//! Like py-key-value, which calls `cryptography`'s `Fernet.decrypt` without a `ttl`, the
//! wrapper opens a token whatever its timestamp: a writer whose clock runs ahead of the
//! reader's still writes values the reader opens.
//!
//! # Dependencies
//!
//! The Fernet token is built here (`token.rs`, after the Fernet specification) on
//! RustCrypto's `aes`, `cbc`, `hmac` and `sha2` and on `base64-simd`; the `fernet` crate
//! is used only by the tests, as an independent implementation to agree with. Doing the
//! format here lets a token be encoded with SIMD and decrypted in the buffer that holds
//! it (see BENCHMARKS.md's Fernet section for what that changed).

mod envelope;
mod key;
mod token;
mod wrapper;

pub use envelope::{DATA_FIELD, ENCRYPTION_VERSION, VERSION_FIELD, is_sealed};
pub use key::{FernetKey, KDF_ITERATIONS, Keyring};
pub use wrapper::{FernetLayer, FernetWrapper, FernetWrapperBuilder};

/// The `zeroize` crate, re-exported: [`FernetKey::to_base64`] returns a [`zeroize::Zeroizing`] string.
pub use zeroize;

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod vectors;
