//! The contract of the key-value family of async key-value stores.
//!
//! A store holds **collections**; a collection maps **keys** to **values** (JSON
//! objects), each with an optional expiry. This crate holds everything the stores share,
//! so each store crate is a thin adapter over its backend:
//!
//! - [`AsyncKeyValue`]: the async, dyn-compatible trait users program against
//!   (`Arc<dyn AsyncKeyValue>` is a store too), with optional operations declared in
//!   [`Capabilities`];
//! - [`Backend`]: what a store author implements; a blanket implementation turns every
//!   backend into an [`AsyncKeyValue`] that validates names and TTLs, hides expired
//!   entries and names the store, collection and key in every [`Error`];
//! - [`Entry`] and its document codec, byte-compatible with Python's `py-key-value`, so
//!   Python and Rust programs can share one backend: [`python_json`] writes JSON exactly
//!   as Python's `json.dumps` does (separators, `\u` escapes, float `repr`), and a
//!   [`JsonObject`] keeps its keys in insertion order as a Python `dict` does (serde_json's
//!   `preserve_order` feature, which backs maps with the `indexmap` crate);
//! - [`AsyncKeyValueExt`]: typed `get_as` / `put_as` for any serde type;
//! - [`Layer`] and [`LayerExt::layer`]: stores built on stores (encryption, prefixes,
//!   retries, caches …); a wrapper implements only the operations it changes and
//!   forwards the rest to the store it wraps, learning its name, default collection and
//!   capabilities ([`AsyncKeyValue::info`], [`AsyncKeyValue::capabilities`]).
//!
//! Most programs depend on the `key-value` crate, which re-exports this one and picks
//! stores with Cargo features. The rules every store follows are checked by the
//! `key-value-conformance` suite.
//!
//! ```
//! use key_value_core::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Serialize, Deserialize)]
//! struct Token { access_token: String }
//!
//! async fn cache_token(store: &dyn AsyncKeyValue, token: &Token) -> Result<()> {
//!     store.put_as("github", token, Some(Duration::from_secs(3600)), Some("tokens")).await
//! }
//! ```

mod backend;
mod codec;
mod entry;
mod error;
mod layer;
mod names;
mod pyjson;
mod store;
mod ttl;
mod typed;

pub use async_trait::async_trait;

pub use backend::Backend;
pub use codec::{Encoded, ValueCodec};
pub use entry::{
    Document, ENTRY_VERSION, Entry, JsonObject, check_version, decode_value, format_timestamp,
    parse_timestamp,
};
pub use error::{Error, ErrorKind, Result};
pub use layer::{Layer, LayerExt};
pub use names::{
    DEFAULT_COLLECTION, MAX_NAME_BYTES, validate_collection, validate_default_collection,
    validate_key,
};
pub use pyjson::{JsonStyle, python_json};
pub use store::{AsyncKeyValue, Capabilities, Durability, StoreFuture, StoreInfo, WithTtl};
pub use ttl::{MAX_EXPIRY_UNIX_SECONDS, expiry_for, remaining, ttl_from_secs_f64};
pub use typed::{AsyncKeyValueExt, from_object, to_object};

/// The names most programs need: `use key_value_core::prelude::*;`.
pub mod prelude {
    pub use crate::{AsyncKeyValue, AsyncKeyValueExt, ErrorKind, JsonObject, LayerExt, Result};
}

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
