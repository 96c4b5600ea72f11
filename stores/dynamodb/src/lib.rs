//! A DynamoDB store of the key-value family, sharing its table layout with py-key-value.
//!
//! [`DynamoDbStore`] keeps every collection in one table, in the layout of
//! py-key-value's `DynamoDBStore`, so Python and Rust programs can share a table:
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `collection` | S, partition key | the collection name |
//! | `key` | S, sort key | the key |
//! | `value` | S | the entry document (`key_value_core::Entry::to_document`) |
//! | `ttl` | N | the expiry in whole epoch seconds (rounded down, as py-key-value does), when there is one |
//!
//! The table is created on first use (on-demand billing) unless
//! [`auto_create(false)`](DynamoDbStoreBuilder::auto_create), and DynamoDB's own expiry
//! is enabled on `ttl` unless [`enable_ttl(false)`](DynamoDbStoreBuilder::enable_ttl).
//! DynamoDB deletes expired items late (and some emulators never do), so every read
//! checks the document's exact `expires_at` itself.
//!
//! `put_if_absent` (the lease primitive) is one conditional `PutItem`:
//! `attribute_not_exists(key) OR ttl < <current epoch second>`. An item whose `ttl` is
//! the current second (the attribute is rounded down) is read back and replaced only if
//! its document says it expired, by a `PutItem` conditioned on that document being
//! unchanged, so exactly one of any number of racing callers wins.
//!
//! Names within DynamoDB's key limits (2048 bytes for the collection, 1024 for the
//! key) are stored as written. Longer ones, up to the family's 4096 bytes, are stored
//! as a digest that cannot collide with a real name, with the original kept in
//! `original_collection` / `original_key` so enumeration returns it.
//!
//! ```no_run
//! use key_value_core::prelude::*;
//! use key_value_dynamodb::{DynamoDbStore, emulator_config};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! // Against AWS, use `key_value_dynamodb::config_from_env().await` instead.
//! let config = emulator_config("http://127.0.0.1:4567").await;
//! let store = DynamoDbStore::builder("keyvalue")
//!     .sdk_config(&config)
//!     .build()
//!     .await?;
//!
//! let mut value = JsonObject::new();
//! value.insert("access_token".into(), "secret".into());
//! store.put("github", value, Some(Duration::from_secs(3600)), Some("tokens")).await?;
//! let token = store.get("github", Some("tokens")).await?;
//! assert!(token.is_some());
//! # Ok(()) }
//! ```
//!
//! Batches follow DynamoDB's limits: `get_many` sends `BatchGetItem` calls of 100 keys,
//! `put_many` `BatchWriteItem` calls of 25 (a repeated key: the last value wins), and
//! items DynamoDB leaves unprocessed are retried with bounded exponential backoff
//! ([`BatchRetry`]). `put_many` is therefore per item, not all-or-nothing, except that
//! an oversized value fails the call before anything is written. Entries are limited to
//! [`MAX_ENTRY_BYTES`].

mod batch;
mod config;
mod error;
mod item;
mod names;
mod store;
mod table;

pub use batch::BatchRetry;
pub use config::{EMULATOR_REGION, config_from_env, emulator_config, https_client};
pub use item::MAX_ENTRY_BYTES;
pub use store::{DynamoDbStore, DynamoDbStoreBuilder};

/// The AWS SDK crates this store is built on, for building clients and configs of
/// matching versions.
pub use {aws_config, aws_sdk_dynamodb};

// The README's code blocks, compiled (and run, unless marked `no_run`) by
// `cargo test --doc`, so that what a reader copies works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
