//! py-key-value's wrapper family as [`Layer`](key_value_core::Layer)s over any store of
//! the key-value family: `store.layer(PrefixKeys::new("app"))`.
//!
//! Each layer has its own Cargo feature (`full` turns on all of them) and its own
//! module. A layer's store implements only the operations it changes and forwards the
//! rest to the store it wraps (see [`AsyncKeyValue`](key_value_core::AsyncKeyValue)),
//! and reports the capabilities it really offers.
//!
//! | layer | feature | what it changes | py-key-value |
//! |---|---|---|---|
//! (filled in as the layers land)

#[cfg(feature = "prefix-collections")]
pub mod prefix_collections;
#[cfg(feature = "prefix-keys")]
pub mod prefix_keys;
#[cfg(feature = "single-collection")]
pub mod single_collection;
#[cfg(feature = "routing")]
pub mod routing;
#[cfg(feature = "default-value")]
pub mod default_value;
#[cfg(feature = "limit-size")]
pub mod limit_size;
#[cfg(feature = "compression")]
pub mod compression;
#[cfg(feature = "versioning")]
pub mod versioning;
#[cfg(feature = "read-only")]
pub mod read_only;
#[cfg(feature = "ttl-clamp")]
pub mod ttl_clamp;
#[cfg(any(
    feature = "retry",
    feature = "timeout",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "logging"
))]
#[macro_use]
mod around;

#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "timeout")]
pub mod timeout;
#[cfg(feature = "circuit-breaker")]
pub mod circuit_breaker;
#[cfg(feature = "bulkhead")]
pub mod bulkhead;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "fallback")]
pub mod fallback;
#[cfg(feature = "passthrough-cache")]
pub mod passthrough_cache;
#[cfg(feature = "statistics")]
pub mod statistics;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "migration")]
pub mod migration;
