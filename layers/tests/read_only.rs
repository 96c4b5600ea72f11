//! The read-only layer. The conformance suite writes in every case, so it runs over a
//! store whose writes go around the layer to the memory store and whose reads all go
//! through it: every read of the suite proves the layer passes reads through unchanged.
//! The layer's own cases prove that each write is refused (or ignored), that nothing
//! reaches the store, and what the capabilities say.

#![cfg(feature = "read-only")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use key_value_core::{
    AsyncKeyValue, Capabilities, ErrorKind, JsonObject, LayerExt, Result, async_trait,
};
use key_value_layers::read_only::{ReadOnly, ReadOnlyStore};
use key_value_memory::MemoryStore;
use serde_json::json;

fn obj() -> JsonObject {
    json!({"v": 1}).as_object().cloned().unwrap()
}

/// Reads through the read-only layer, writes straight to the store below it.
struct WritesAround {
    reads: ReadOnlyStore<Arc<MemoryStore>>,
    writes: Arc<MemoryStore>,
}

#[async_trait]
impl AsyncKeyValue for WritesAround {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.reads)
    }
    fn capabilities(&self) -> Capabilities {
        self.writes.capabilities()
    }
    async fn put(
        &self,
        k: &str,
        v: JsonObject,
        t: Option<Duration>,
        c: Option<&str>,
    ) -> Result<()> {
        self.writes.put(k, v, t, c).await
    }
    async fn put_many(
        &self,
        k: &[&str],
        v: Vec<JsonObject>,
        t: Option<Duration>,
        c: Option<&str>,
    ) -> Result<()> {
        self.writes.put_many(k, v, t, c).await
    }
    async fn put_if_absent(
        &self,
        k: &str,
        v: JsonObject,
        t: Option<Duration>,
        c: Option<&str>,
    ) -> Result<bool> {
        self.writes.put_if_absent(k, v, t, c).await
    }
    async fn delete(&self, k: &str, c: Option<&str>) -> Result<bool> {
        self.writes.delete(k, c).await
    }
    async fn delete_many(&self, k: &[&str], c: Option<&str>) -> Result<usize> {
        self.writes.delete_many(k, c).await
    }
    async fn destroy_collection(&self, c: &str) -> Result<bool> {
        self.writes.destroy_collection(c).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.writes.destroy().await
    }
    async fn cull(&self) -> Result<()> {
        self.writes.cull().await
    }
}

async fn reads_through_the_layer() -> WritesAround {
    let writes = Arc::new(MemoryStore::new());
    WritesAround {
        reads: writes.clone().layer(ReadOnly::new()),
        writes,
    }
}

key_value_conformance::suite!(reads_through_the_layer);

#[tokio::test]
async fn every_write_is_refused_and_reaches_nothing() {
    let inner = Arc::new(MemoryStore::new());
    inner.put("k", obj(), None, Some("c")).await.unwrap();
    let store = inner.clone().layer(ReadOnly::new());
    assert_eq!(store.get("k", Some("c")).await.unwrap(), Some(obj()));
    assert_eq!(store.keys(Some("c"), None).await.unwrap(), ["k"]);

    let refused = [
        (
            "put",
            store
                .put(
                    "k",
                    json!({"new": 1}).as_object().cloned().unwrap(),
                    None,
                    Some("c"),
                )
                .await
                .err(),
        ),
        (
            "put_many",
            store
                .put_many(&["n"], vec![obj()], None, Some("c"))
                .await
                .err(),
        ),
        (
            "put_if_absent",
            store.put_if_absent("n", obj(), None, Some("c")).await.err(),
        ),
        ("delete", store.delete("k", Some("c")).await.err()),
        (
            "delete_many",
            store.delete_many(&["k"], Some("c")).await.err(),
        ),
        (
            "destroy_collection",
            store.destroy_collection("c").await.err(),
        ),
        ("destroy", store.destroy().await.err()),
        ("cull", store.cull().await.err()),
    ];
    for (operation, err) in refused {
        let err = err.unwrap_or_else(|| panic!("{operation} was not refused"));
        assert_eq!(err.kind(), ErrorKind::ReadOnly, "{operation}");
        assert!(err.to_string().contains(operation), "{err}");
    }
    assert_eq!(inner.get("k", Some("c")).await.unwrap(), Some(obj()));
    assert_eq!(inner.keys(Some("c"), None).await.unwrap(), ["k"]);
}

#[tokio::test]
async fn ignored_writes_report_that_nothing_changed() {
    let inner = Arc::new(MemoryStore::new());
    inner.put("k", obj(), None, None).await.unwrap();
    let store = inner.clone().layer(ReadOnly::new().ignore_writes(true));
    store.put("n", obj(), None, None).await.unwrap();
    store
        .put_many(&["m"], vec![obj()], None, None)
        .await
        .unwrap();
    assert!(!store.put_if_absent("p", obj(), None, None).await.unwrap());
    assert!(!store.delete("k", None).await.unwrap());
    assert_eq!(store.delete_many(&["k"], None).await.unwrap(), 0);
    assert!(!store.destroy().await.unwrap());
    assert_eq!(inner.keys(None, None).await.unwrap(), ["k"]);
}

#[test]
fn capabilities_say_read_only() {
    let store = MemoryStore::new().layer(ReadOnly::new());
    let caps = store.capabilities();
    assert!(caps.read_only);
    assert!(!caps.put_if_absent && !caps.destroy && !caps.destroy_collection && !caps.cull);
    assert!(caps.list_keys && caps.list_collections);
    assert!(!MemoryStore::new().capabilities().read_only);
}
