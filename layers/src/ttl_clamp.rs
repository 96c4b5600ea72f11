//! [`TtlClamp`]: every written TTL is brought within a minimum and a maximum, and an
//! entry written without one gets a default: py-key-value 0.5's `TTLClampWrapper`.
//!
//! A TTL below the minimum becomes the minimum, one above the maximum the maximum
//! (`max(min_ttl, min(ttl, max_ttl))`); `None` becomes the missing TTL, clamped the same
//! way, or stays `None` (no expiry) when there is no missing TTL. Only writes change
//! (`put`, `put_many`, `put_if_absent`); reads report what was stored.
//!
//! ```
//! use std::time::Duration;
//! use key_value_core::{AsyncKeyValue, LayerExt};
//! use key_value_layers::ttl_clamp::TtlClamp;
//! use key_value_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let hour = Duration::from_secs(3600);
//! let clamp = TtlClamp::new(Duration::from_secs(60), hour)?.missing_ttl(Some(hour));
//! let store = MemoryStore::new().layer(clamp);
//! let value = serde_json::json!({"v": 1}).as_object().cloned().unwrap_or_default();
//! store.put("k", value, Some(Duration::from_secs(86_400)), None).await?;
//! let left = store.ttl("k", None).await?.and_then(|(_, left)| left);
//! assert!(left.is_some_and(|left| left <= hour)); // a day was clamped to an hour
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from py-key-value
//!
//! A TTL that is invalid in itself (zero, or so large that the expiry would fall after
//! year 9999) is an [`ErrorKind::InvalidTtl`] error, as everywhere in the family, and
//! is not clamped: Python refuses zero too, but clamps an absurdly large TTL to the
//! maximum. A caller asking for a TTL no store can hold has a bug worth hearing about.
//! TTLs are [`Duration`]s (Python: seconds as floats).

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use key_value_core::{AsyncKeyValue, Error, ErrorKind, JsonObject, Layer, Result, expiry_for};

/// Clamps written TTLs to `[min, max]` and gives TTL-less writes a default: py-key-value's
/// `TTLClampWrapper(key_value, min_ttl, max_ttl, missing_ttl)`. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct TtlClamp {
    min: Duration,
    max: Duration,
    missing: Option<Duration>,
}

impl TtlClamp {
    /// Clamps TTLs to `min ..= max`; writes without a TTL keep none.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`] when `min` is above `max` or `max` is zero.
    pub fn new(min: Duration, max: Duration) -> Result<Self> {
        if min > max || max.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a TTL clamp needs 0 < max and min <= max; got min {min:?}, max {max:?}"),
            ));
        }
        Ok(TtlClamp {
            min,
            max,
            missing: None,
        })
    }

    /// The TTL a write without one gets (clamped like any other), or `None` to keep
    /// such entries without expiry (the default, as Python's `missing_ttl=None`).
    pub fn missing_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.missing = ttl;
        self
    }

    /// The TTL written for a requested `ttl`.
    ///
    /// Errors: [`ErrorKind::InvalidTtl`] for a zero TTL or one past year 9999.
    pub fn clamp(&self, ttl: Option<Duration>) -> Result<Option<Duration>> {
        let Some(ttl) = ttl.or(self.missing) else {
            return Ok(None);
        };
        // Refuses what the family refuses before clamping.
        expiry_for(Some(ttl), SystemTime::now())?;
        Ok(Some(
            ttl.clamp(self.min.max(Duration::from_nanos(1)), self.max),
        ))
    }
}

impl<S: AsyncKeyValue> Layer<S> for TtlClamp {
    type Store = TtlClampStore<S>;

    fn layer(&self, inner: S) -> TtlClampStore<S> {
        TtlClampStore {
            inner,
            clamp: *self,
        }
    }
}

/// The store [`TtlClamp`] makes.
#[derive(Debug)]
pub struct TtlClampStore<S> {
    inner: S,
    clamp: TtlClamp,
}

impl<S: AsyncKeyValue> TtlClampStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn clamp(
        &self,
        ttl: Option<Duration>,
        key: Option<&str>,
        collection: Option<&str>,
    ) -> Result<Option<Duration>> {
        self.clamp.clamp(ttl).map_err(|e| {
            let info = self.inner.info();
            let e = e
                .with_store(info.name.to_owned())
                .with_collection(collection.unwrap_or(info.default_collection));
            match key {
                Some(key) => e.with_key(key),
                None => e,
            }
        })
    }
}

#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for TtlClampStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.inner)
    }

    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        let ttl = self.clamp(ttl, Some(key), collection)?;
        self.inner.put(key, value, ttl, collection).await
    }

    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        // One TTL for the batch: the error names no key.
        let ttl = self.clamp(ttl, None, collection)?;
        self.inner.put_many(keys, values, ttl, collection).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        let ttl = self.clamp(ttl, Some(key), collection)?;
        self.inner.put_if_absent(key, value, ttl, collection).await
    }
}
