//! Async key-value stores behind one contract, compatible with Python's `py-key-value`.
//!
//! This is the crate programs depend on. It re-exports the contract from
//! `key-value-core` ([`AsyncKeyValue`], [`AsyncKeyValueExt`], [`Error`], ...) and, behind
//! one Cargo feature each, the stores:
//!
//! | feature | store | module |
//! |---|---|---|
//! | `memory` (default) | in-process, optional LRU bound per collection | [`memory`] |
//! | `disk` | a directory, crash and multi-process safe | [`disk`] |
//! | `sqlite` | a SQLite file (WAL, bundled SQLite) | [`sqlite`] |
//! | `redis` | Redis, single node and cluster (py-key-value's layout) | [`redis`] |
//! | `dynamodb` | DynamoDB (py-key-value's table layout) | [`dynamodb`] |
//! | `fernet` | Fernet encryption wrapper for any store, with key rotation | [`fernet`] |
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
