//! Async key-value stores behind one contract, compatible with Python's `py-key-value`.
//!
//! This is the crate programs depend on. It re-exports the contract from
//! `key-value-core` ([`AsyncKeyValue`], [`AsyncKeyValueExt`], [`Error`], ...) and, behind
//! one Cargo feature each, the stores (each module is there when its feature is on):
//!
//! | feature | store | module |
//! |---|---|---|
//! | `memory` (default) | in-process, optional LRU bound per collection | `key_value::memory` |
//! | `disk` | a directory, crash and multi-process safe | `key_value::disk` |
//! | `sqlite` | a SQLite file (WAL, bundled SQLite) | `key_value::sqlite` |
//! | `redis` | Redis, single node and cluster (py-key-value's layout) | `key_value::redis` |
//! | `dynamodb` | DynamoDB (py-key-value's table layout) | `key_value::dynamodb` |
//! | `fernet` | Fernet encryption wrapper for any store, with key rotation | `key_value::fernet` |
//!
//! [`open`] builds a store from a URI such as `sqlite:tokens.sqlite` or
//! `redis://127.0.0.1:6379/0` (every form in [`uri`]), for programs that let their users
//! choose the store.
//!
//! ```
//! use key_value::prelude::*;
//! use key_value::memory::MemoryStore;
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Session { user: String }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value::Result<()> {
//! let store = MemoryStore::new();
//! let session = Session { user: "ada".into() };
//! store.put_as("s1", &session, Some(Duration::from_secs(600)), Some("sessions")).await?;
//! assert_eq!(store.get_as::<Session>("s1", Some("sessions")).await?, Some(session));
//! # Ok(()) }
//! ```

pub use key_value_core::*;

pub mod uri;
pub use uri::{StoreUri, open};

/// The in-process store (feature `memory`).
#[cfg(feature = "memory")]
pub mod memory {
    pub use key_value_memory::{MemoryStore, MemoryStoreBuilder};
}

/// The directory store (feature `disk`).
#[cfg(feature = "disk")]
pub mod disk {
    pub use key_value_disk::{DiskStore, DiskStoreBuilder};
}

/// The SQLite store (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub mod sqlite {
    pub use key_value_sqlite::{SqliteStore, SqliteStoreBuilder, TABLE};
}

/// The Redis store (feature `redis`).
#[cfg(feature = "redis")]
pub mod redis {
    pub use key_value_redis::*;
}

/// The DynamoDB store (feature `dynamodb`).
#[cfg(feature = "dynamodb")]
pub mod dynamodb {
    pub use key_value_dynamodb::*;
}

/// The Fernet encryption wrapper (feature `fernet`).
#[cfg(feature = "fernet")]
pub mod fernet {
    pub use key_value_fernet::*;
}

// The README's code blocks, and the workspace README's, compiled (and run, unless marked
// `no_run`) by `cargo test --doc`, so that what a reader copies works. Their features
// and dependencies are this crate's dev-dependencies.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;
