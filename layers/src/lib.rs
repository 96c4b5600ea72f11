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
//! | `PrefixCollections` | `prefix-collections` | collection `c` is stored as `{prefix}__c`; listing strips the prefix and skips other collections | `PrefixCollectionsWrapper` |
//! | `PrefixKeys` | `prefix-keys` | key `k` is stored as `{prefix}__k`; listing strips the prefix and skips other keys | `PrefixKeysWrapper` |
//! | `SingleCollection` | `single-collection` | every collection lives in one, as key `c__k` (names Python would merge are percent-encoded); collections recovered from the keys | `SingleCollectionWrapper` |
//! | `Routing` | `routing` | each collection goes to its store (by name or predicate), the rest to a default store | `CollectionRoutingWrapper`, `RoutingWrapper` |
//! | `DefaultValue` | `default-value` | a missing key reads as a default value, with a default TTL; nothing written | `DefaultValueWrapper` |
//! | `LimitSize` | `limit-size` | a value over (or under) a size, measured as Python does, is refused or skipped with a warning | `LimitSizeWrapper` |
//! | `Compression` | `compression` | values of 1 KiB or more are stored gzip-compressed (the `flate2` crate) in Python's envelope | `CompressionWrapper` |
//! | `Versioning` | `versioning` | values are tagged with a version; other versions read as missing | `VersioningWrapper` (an unmerged py-key-value branch; not in 0.5, not on main) |
//! | `ReadOnly` | `read-only` | every write is refused (or ignored); `Capabilities::read_only` | `ReadOnlyWrapper` |
//! | `TtlClamp` | `ttl-clamp` | written TTLs are clamped to a minimum and maximum; a TTL for writes without one | `TTLClampWrapper` |
//! | `Retry` | `retry` | a failed operation is tried again, with exponential backoff and jitter (the `backon` crate), when its error is retryable | `RetryWrapper` |
//! | `Timeout` | `timeout` | every operation has a time limit; past it, an `ErrorKind::Timeout` error | `TimeoutWrapper` |
//! | `CircuitBreaker` | `circuit-breaker` | after N failures in a row, calls fail at once (`ErrorKind::Unavailable`) until a probe succeeds after a cool-down | none |
//! | `Bulkhead` | `bulkhead` | at most N operations in flight (a tokio semaphore); with a bounded wait, `Unavailable` past it | none |
//! | `RateLimit` | `rate-limit` | at most a quota of operations per unit of time (the `governor` crate); calls wait, or fail with `Unavailable` past a bounded wait | none |
//! | `Fallback` | `fallback` | reads (and, if asked, writes) go to a second store when the first fails | `FallbackWrapper` |
//! | `PassthroughCache` | `passthrough-cache` | reads are served from a fast store, filled from the wrapped one (cache TTL capped, 30 min by default); writes and deletes invalidate | `PassthroughCacheWrapper` |
//! | `Statistics` | `statistics` | nothing; counts hits, misses, puts and deletes per collection, read as a snapshot | `StatisticsWrapper` |
//! | `Logging` | `logging` | nothing; one `tracing` event per operation (store, collection, key, outcome, duration; never values) | `LoggingWrapper` |
//! | `Migration`, `copy` | `migration` | reads fall through to an old store (or an old naming of the same backend) and move what they find to the new one, optionally removing the old copy; writes go to the new one; `copy` moves a whole store or collection at once in bounded batches, keeping TTLs, and says how far it got when it fails | none (main's unmerged `SanitizationMigrationWrapper` did the renaming part) |
//!
//! The resilience layers fail with two error kinds of their own:
//! [`ErrorKind::Timeout`](key_value_core::ErrorKind::Timeout) (retryable) and
//! [`ErrorKind::Unavailable`](key_value_core::ErrorKind::Unavailable) (a layer refused
//! the call without trying it; not retryable). Stack them innermost first:
//! `store.layer(Timeout::new(d)).layer(CircuitBreaker::new(5, cool_down)).layer(Retry::new())`
//! limits each attempt, counts each attempt's failure, and stops retrying once the
//! circuit opens. Dependencies chosen for the job: `backon` for the retry's
//! exponential backoff with jitter, `governor` for the rate limit's GCRA quota.

#[cfg(feature = "compression")]
pub mod compression;
#[cfg(feature = "default-value")]
pub mod default_value;
#[cfg(feature = "limit-size")]
pub mod limit_size;
#[cfg(feature = "prefix-collections")]
pub mod prefix_collections;
#[cfg(feature = "prefix-keys")]
pub mod prefix_keys;
#[cfg(feature = "read-only")]
pub mod read_only;
#[cfg(feature = "routing")]
pub mod routing;
#[cfg(feature = "single-collection")]
pub mod single_collection;
#[cfg(feature = "ttl-clamp")]
pub mod ttl_clamp;
#[cfg(feature = "versioning")]
pub mod versioning;
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

#[cfg(feature = "bulkhead")]
pub mod bulkhead;
#[cfg(feature = "circuit-breaker")]
pub mod circuit_breaker;
#[cfg(feature = "fallback")]
pub mod fallback;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "migration")]
pub mod migration;
#[cfg(feature = "passthrough-cache")]
pub mod passthrough_cache;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "statistics")]
pub mod statistics;
#[cfg(feature = "timeout")]
pub mod timeout;

/// Borrowed names of `keys`, for the store calls that take `&[&str]`.
#[cfg(any(feature = "prefix-keys", feature = "single-collection"))]
fn refs(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}
