//! Layers: functions from a store to another store, in the sense of tower's `Layer` and
//! OpenDAL's layers.
//!
//! A [`Layer`] takes a store and returns a store that wraps it; [`LayerExt::layer`] applies
//! one, so layers stack left to right, the last applied outermost:
//!
//! ```
//! use key_value_core::{AsyncKeyValue, JsonObject, Layer, LayerExt, Result, async_trait};
//!
//! /// Refuses every write (a toy read-only layer).
//! struct NoWrites;
//! struct NoWritesStore<S>(S);
//!
//! impl<S: AsyncKeyValue> Layer<S> for NoWrites {
//!     type Store = NoWritesStore<S>;
//!     fn layer(&self, inner: S) -> NoWritesStore<S> { NoWritesStore(inner) }
//! }
//!
//! #[async_trait]
//! impl<S: AsyncKeyValue> AsyncKeyValue for NoWritesStore<S> {
//!     fn inner_store(&self) -> Option<&dyn AsyncKeyValue> { Some(&self.0) }
//!     async fn put(&self, _: &str, _: JsonObject, _: Option<std::time::Duration>, _: Option<&str>) -> Result<()> {
//!         Err(key_value_core::Error::unsupported("put"))
//!     }
//! }
//!
//! # fn demo(store: impl AsyncKeyValue) {
//! // Layers stack; `Arc<dyn AsyncKeyValue>` can be layered too.
//! let store = store.layer(NoWrites).layer(NoWrites);
//! let shared: std::sync::Arc<dyn AsyncKeyValue> = std::sync::Arc::new(store);
//! let _again = shared.layer(NoWrites);
//! # }
//! ```
//!
//! A layer's store implements only what it changes and names the store it wraps in
//! [`AsyncKeyValue::inner_store`]; the rest forwards (see "Writing a wrapper" on
//! [`AsyncKeyValue`]).

use crate::store::AsyncKeyValue;

/// Turns a store `S` into another store that wraps it.
pub trait Layer<S> {
    /// The store the layer makes.
    type Store: AsyncKeyValue;

    /// Wraps `inner`.
    fn layer(&self, inner: S) -> Self::Store;
}

/// Two layers applied in order: `(first, second)` wraps the store in `first`, then the
/// result in `second`.
impl<S, First, Second> Layer<S> for (First, Second)
where
    First: Layer<S>,
    Second: Layer<First::Store>,
{
    type Store = Second::Store;

    fn layer(&self, inner: S) -> Self::Store {
        self.1.layer(self.0.layer(inner))
    }
}

/// `store.layer(layer)` for every store.
pub trait LayerExt: AsyncKeyValue + Sized {
    /// Wraps this store in `layer`.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Store {
        layer.layer(self)
    }
}

impl<S: AsyncKeyValue> LayerExt for S {}
