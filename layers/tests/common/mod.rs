//! A scriptable fault-injecting store for the layers' tests: a real memory store behind
//! a script of faults a real store cannot produce on demand (an error of a chosen kind,
//! a slow answer). Every test of a layer that reacts to failures uses it.
//!
//! ```ignore
//! let (store, faults) = faulty();
//! faults.fail(2, ErrorKind::Connection);   // the next two operations fail
//! faults.then_fail(ErrorKind::Backend);    // and every one after them
//! faults.delay(1, Duration::from_secs(5)); // or: the next one is slow
//! assert_eq!(faults.calls(), 0);
//! ```

#![allow(dead_code)] // each test file uses part of it
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use key_value_core::{
    AsyncKeyValue, Error, ErrorKind, JsonObject, Result, StoreInfo, WithTtl, async_trait,
};
use key_value_memory::MemoryStore;

/// What the store does with one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Runs it.
    Pass,
    /// Fails it with an error of this kind, without running it.
    Fail(ErrorKind),
    /// Sleeps (on tokio's clock), then runs it.
    Delay(Duration),
}

/// The script, shared between a test and its store.
#[derive(Debug)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
    otherwise: Mutex<Fault>,
    calls: AtomicUsize,
    operations: Mutex<Vec<&'static str>>,
}

impl Faults {
    /// The next `times` operations fail with `kind`.
    pub fn fail(&self, times: usize, kind: ErrorKind) {
        self.queue
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(Fault::Fail(kind), times));
    }

    /// The next `times` operations sleep `delay` first.
    pub fn delay(&self, times: usize, delay: Duration) {
        self.queue
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(Fault::Delay(delay), times));
    }

    /// The next `times` operations run normally.
    pub fn pass(&self, times: usize) {
        self.queue
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(Fault::Pass, times));
    }

    /// Once the queue is empty, every operation fails with `kind`.
    pub fn then_fail(&self, kind: ErrorKind) {
        *self.otherwise.lock().unwrap() = Fault::Fail(kind);
    }

    /// Once the queue is empty, every operation sleeps `delay` first.
    pub fn then_delay(&self, delay: Duration) {
        *self.otherwise.lock().unwrap() = Fault::Delay(delay);
    }

    /// Forgets the queue; every operation runs normally from now on.
    pub fn heal(&self) {
        self.queue.lock().unwrap().clear();
        *self.otherwise.lock().unwrap() = Fault::Pass;
    }

    /// How many operations reached the store (failed ones included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The operations that reached the store, in order.
    pub fn operations(&self) -> Vec<&'static str> {
        self.operations.lock().unwrap().clone()
    }

    fn next(&self, operation: &'static str) -> Fault {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.operations.lock().unwrap().push(operation);
        let queued = self.queue.lock().unwrap().pop_front();
        queued.unwrap_or_else(|| *self.otherwise.lock().unwrap())
    }
}

/// A memory store that obeys a [`Faults`] script.
pub struct FaultyStore {
    inner: MemoryStore,
    faults: Arc<Faults>,
}

/// A fresh faulty store (every operation runs until the script says otherwise) and its script.
pub fn faulty() -> (FaultyStore, Arc<Faults>) {
    let faults = Arc::new(Faults {
        queue: Mutex::new(VecDeque::new()),
        otherwise: Mutex::new(Fault::Pass),
        calls: AtomicUsize::new(0),
        operations: Mutex::new(Vec::new()),
    });
    let store = FaultyStore {
        inner: MemoryStore::new(),
        faults: faults.clone(),
    };
    (store, faults)
}

/// A JSON object from a `json!` literal.
pub fn obj(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

impl FaultyStore {
    /// The memory store behind the faults, to read or plant entries directly.
    pub fn memory(&self) -> &MemoryStore {
        &self.inner
    }

    async fn obey(&self, operation: &'static str) -> Result<()> {
        match self.faults.next(operation) {
            Fault::Pass => Ok(()),
            Fault::Fail(kind) => {
                Err(Error::new(kind, format!("injected fault in `{operation}`"))
                    .with_store("faulty"))
            }
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl AsyncKeyValue for FaultyStore {
    fn info(&self) -> StoreInfo<'_> {
        StoreInfo::new("faulty", self.inner.info().default_collection)
    }
    fn capabilities(&self) -> key_value_core::Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &str, collection: Option<&str>) -> Result<Option<JsonObject>> {
        self.obey("get").await?;
        self.inner.get(key, collection).await
    }
    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        self.obey("get_many").await?;
        self.inner.get_many(keys, collection).await
    }
    async fn ttl(&self, key: &str, collection: Option<&str>) -> Result<Option<WithTtl>> {
        self.obey("ttl").await?;
        self.inner.ttl(key, collection).await
    }
    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        self.obey("ttl_many").await?;
        self.inner.ttl_many(keys, collection).await
    }
    async fn put(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.obey("put").await?;
        self.inner.put(key, value, ttl, collection).await
    }
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.obey("put_many").await?;
        self.inner.put_many(keys, values, ttl, collection).await
    }
    async fn put_if_absent(
        &self,
        key: &str,
        value: JsonObject,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<bool> {
        self.obey("put_if_absent").await?;
        self.inner.put_if_absent(key, value, ttl, collection).await
    }
    async fn delete(&self, key: &str, collection: Option<&str>) -> Result<bool> {
        self.obey("delete").await?;
        self.inner.delete(key, collection).await
    }
    async fn delete_many(&self, keys: &[&str], collection: Option<&str>) -> Result<usize> {
        self.obey("delete_many").await?;
        self.inner.delete_many(keys, collection).await
    }
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        self.obey("keys").await?;
        self.inner.keys(collection, limit).await
    }
    async fn collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        self.obey("collections").await?;
        self.inner.collections(limit).await
    }
    async fn destroy_collection(&self, collection: &str) -> Result<bool> {
        self.obey("destroy_collection").await?;
        self.inner.destroy_collection(collection).await
    }
    async fn destroy(&self) -> Result<bool> {
        self.obey("destroy").await?;
        self.inner.destroy().await
    }
    async fn cull(&self) -> Result<()> {
        self.obey("cull").await?;
        self.inner.cull().await
    }
}
