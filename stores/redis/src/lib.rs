//! A Redis store of the key-value family, on a single server or a Redis Cluster, sharing
//! its layout with py-key-value's `RedisStore` so that Python and Rust programs can use
//! one Redis at once.
//!
//! ```no_run
//! use std::time::Duration;
//! use key_value_core::prelude::*;
//! use key_value_redis::RedisStore;
//! use serde_json::json;
//!
//! # async fn demo() -> key_value_core::Result<()> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379/0").await?;
//! let token = json!({"access_token": "…"}).as_object().cloned().unwrap_or_default();
//! store.put("github", token.clone(), Some(Duration::from_secs(3600)), Some("tokens")).await?;
//! assert_eq!(store.get("github", Some("tokens")).await?, Some(token));
//!
//! // A cluster: any of its nodes will do.
//! let cluster = RedisStore::connect_cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]).await?;
//! let found = cluster.get_many(&["a", "b", "c"], None).await?; // keys in any slots
//! # let _ = found;
//! # Ok(()) }
//! ```
//!
//! # Connecting
//!
//! - [`RedisStore::connect`]: a URL, `redis://[[user]:password@]host[:port][/db]`,
//!   `rediss://…` for TLS (rustls with ring and the system's root certificates; no
//!   OpenSSL), or `redis+unix:///path?db=N`.
//! - [`RedisStore::connect_cluster`]: one or more node URLs of a Redis Cluster.
//! - [`RedisStore::builder`]: timeouts, reconnection retries, the default collection,
//!   and stores over a [`redis::Client`], a [`redis::aio::ConnectionManager`], a
//!   [`redis::cluster::ClusterClient`] or a [`redis::cluster_async::ClusterConnection`]
//!   you already have. The `redis` client crate is re-exported as [`redis`] so that the
//!   versions match.
//!
//! The store reconnects on its own: an operation attempted while the server is down or
//! restarting fails with a retryable [`ErrorKind::Connection`](key_value_core::ErrorKind)
//! error within the configured timeouts (never a panic, never an endless wait), and the
//! same store works again once the server is back. The operation that first meets a
//! broken connection fails too; the store does not retry it for you, since a retried
//! `delete` could report a wrong count.
//!
//! # Layout (shared with py-key-value)
//!
//! Each entry is one Redis string: the key is `collection::key` ([`redis_key`]), the
//! value is the entry document (`{"collection": …, "created_at": …, "expires_at": …,
//! "key": …, "value": {…}, "version": 1}`), byte for byte what py-key-value writes for the
//! same entry apart from the timestamps. Expiring entries also get a native
//! Redis expiry, in milliseconds (`SET … PX`; py-key-value uses whole seconds, and both
//! read the document's `expires_at`, so neither sees an entry past its time).
//!
//! The Redis key is exactly py-key-value's `collection::key` for every name, with no
//! escaping, so a Python program finds every entry under the same name. That layout is
//! ambiguous: collection `a` with key `b::c` and collection `a::b` with key `c` are the
//! one Redis key `a::b::c`, and share one entry (the last write wins). The document
//! says which name wrote it (its `collection` and `key` fields, which py-key-value 0.5
//! writes too), so:
//!
//! - `get` under the other name finds nothing rather than the other name's value;
//! - `keys` and `collections` name every entry as its document does, so data Python
//!   wrote for collection `a::b` is listed under `a::b` (never as a phantom collection
//!   `a` holding `b::k`). A document without the fields, or one that cannot be read, is
//!   named as py-key-value names it: the collection ends at the first `::`;
//! - `delete` under either name removes the shared entry, as in py-key-value.
//!
//! What that costs: enumeration reads the documents it lists. Each `SCAN` page (of up to
//! [`scan_count`](RedisStoreBuilder::scan_count) keys, default 1000) is followed by one
//! `MGET` of its keys, so `keys` moves every matched entry's document over the network
//! once (for a collection: the entries of that collection and of collections whose names
//! start with `collection::`), and `collections` every document of the database; the
//! documents are parsed too. The same read lets enumeration leave out entries whose
//! document says they expired (py-key-value rounds Redis's own expiry up to whole
//! seconds, so its entries can outlive their time by up to a second).
//!
//! | operation | Redis commands |
//! |---|---|
//! | `get`, `ttl` | `GET` |
//! | `get_many`, `ttl_many` | one `MGET` (split by slot on a cluster, in parallel) |
//! | `put` | `SET key doc [PX ms]` |
//! | `put_if_absent` | `SET key doc NX [PX ms]`; a key whose document says it expired (but that Redis still holds) is replaced by an `EVAL` script only if unchanged |
//! | `put_many` | one `MULTI`/`EXEC` pipeline of `SET … PX` (a cluster: one pipeline per slot, in parallel) |
//! | `delete`, `delete_many` | one `DEL` |
//! | `keys`, `collections`, `destroy_collection` | `SCAN MATCH` (glob characters escaped) and one `MGET` per page, on every primary of a cluster; `DEL` |
//! | `destroy` | `FLUSHDB` (every primary of a cluster): the whole database, as py-key-value does |
//!
//! `cull` is not offered: Redis removes expired entries itself.

mod error;
mod layout;
mod store;

pub use layout::redis_key;
pub use store::{RedisStore, RedisStoreBuilder};

/// The `redis` client crate this store is built on, for building clients and connections
/// to hand to [`RedisStoreBuilder`].
pub use redis;

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
