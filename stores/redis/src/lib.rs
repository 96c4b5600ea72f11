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
//! value is the entry document (`{"created_at": …, "expires_at": …, "value": {…},
//! "version": 1, …}`) that py-key-value writes too. Expiring entries also get a native
//! Redis expiry, in milliseconds (`SET … PX`; py-key-value uses whole seconds, and both
//! read the document's `expires_at`, so neither sees an entry past its time).
//!
//! py-key-value's `collection::key` is ambiguous when a collection contains `::` or ends
//! with `:` (collection `a`, key `b::c` and collection `a::b`, key `c` would share
//! `a::b::c`). This store writes such collections, and those containing `%`,
//! percent-encoded (`%` → `%25`, `:` → `%3A`): `a::b` is stored as `a%3A%3Ab::c`. Every
//! other collection is stored byte for byte as py-key-value stores it; collections with
//! `::`, `%` or a trailing `:` are the only ones a Python program sees under another name.
//! Enumeration returns the original names.
//!
//! | operation | Redis commands |
//! |---|---|
//! | `get`, `ttl` | `GET` |
//! | `get_many`, `ttl_many` | one `MGET` (split by slot on a cluster, in parallel) |
//! | `put` | `SET key doc [PX ms]` |
//! | `put_many` | one `MULTI`/`EXEC` pipeline of `SET … PX` (a cluster: one pipeline per slot, in parallel) |
//! | `delete`, `delete_many` | one `DEL` |
//! | `keys`, `collections`, `destroy_collection` | `SCAN MATCH` (glob characters escaped), on every primary of a cluster; `DEL` |
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
