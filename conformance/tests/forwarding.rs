//! A layer that implements nothing but `inner_store` is its inner store: every case of
//! the suite passes through the contract's forwarding, at any depth.

use key_value_core::{AsyncKeyValue, Layer, LayerExt};
use key_value_memory::MemoryStore;

/// The empty layer.
struct Nothing;

struct NothingStore<S>(S);

impl<S: AsyncKeyValue> Layer<S> for Nothing {
    type Store = NothingStore<S>;
    fn layer(&self, inner: S) -> NothingStore<S> {
        NothingStore(inner)
    }
}

impl<S: AsyncKeyValue> AsyncKeyValue for NothingStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
}

#[allow(clippy::panic)] // a store that does not build fails the test
async fn five_empty_layers() -> impl AsyncKeyValue {
    let bounded = MemoryStore::builder()
        .default_collection("forwarded-default")
        .build();
    let Ok(store) = bounded else {
        panic!("the memory store did not build");
    };
    let store = store
        .layer(Nothing)
        .layer((Nothing, Nothing))
        .layer(Nothing);
    // An `Arc<dyn AsyncKeyValue>` in the stack, as programs hold stores.
    let shared: std::sync::Arc<dyn AsyncKeyValue> = std::sync::Arc::new(store);
    let store = shared.layer(Nothing);
    assert_eq!(store.info().name, "memory");
    assert_eq!(store.info().default_collection, "forwarded-default");
    assert!(store.capabilities().put_if_absent);
    store
}

key_value_conformance::suite!(five_empty_layers);
