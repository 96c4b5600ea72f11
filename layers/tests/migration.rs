//! Migration: the conformance suite over the memory store (an empty old store behind
//! it, with and without removing moved entries), lazy moves through the layer, moves
//! from one naming to another on one backend, and the one-shot copy in batches, with a
//! failure part way.

#![cfg(feature = "migration")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[allow(dead_code)] // used by the renaming cases only
mod conformance_subset;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{faulty, obj};
use key_value_core::{
    AsyncKeyValue, Capabilities, ErrorKind, JsonObject, Layer, LayerExt, Result, WithTtl,
    async_trait,
};
use key_value_layers::migration::{CopyOptions, CopyReport, CopyScope, Migration, copy};
use key_value_memory::MemoryStore;
use serde_json::json;

async fn migrating_memory_store() -> impl AsyncKeyValue {
    MemoryStore::new().layer(Migration::new(MemoryStore::new()))
}

key_value_conformance::suite!(migrating_memory_store);

/// The whole suite again with moved entries removed from the old store.
mod removing_moved {
    use super::*;

    async fn removing_memory_store() -> impl AsyncKeyValue {
        MemoryStore::new().layer(Migration::new(MemoryStore::new()).remove_moved(true))
    }

    key_value_conformance::suite!(removing_memory_store);
}

const C: Option<&str> = Some("tokens");
const HOUR: Duration = Duration::from_secs(3600);

async fn old_with_entries() -> Arc<MemoryStore> {
    let old = Arc::new(MemoryStore::new());
    old.put("a", obj(json!({"v": "a"})), Some(HOUR), C)
        .await
        .unwrap();
    old.put("b", obj(json!({"v": "b"})), None, C).await.unwrap();
    old.put("c", obj(json!({"v": "c"})), None, Some("other"))
        .await
        .unwrap();
    old
}

#[tokio::test]
async fn reads_move_entries_with_their_remaining_ttl() {
    let old = old_with_entries().await;
    let new = Arc::new(MemoryStore::new());
    let store = new.clone().layer(Migration::shared(old.clone()));
    assert_eq!(
        store.get("a", C).await.unwrap(),
        Some(obj(json!({"v": "a"})))
    );
    let (value, remaining) = new.ttl("a", C).await.unwrap().unwrap();
    assert_eq!(value, obj(json!({"v": "a"})));
    let remaining = remaining.unwrap();
    assert!(
        remaining <= HOUR && remaining > HOUR - Duration::from_secs(10),
        "{remaining:?}"
    );
    assert!(
        old.get("a", C).await.unwrap().is_some(),
        "the old entry stays"
    );

    let entries = store.ttl_many(&["b", "none"], C).await.unwrap();
    assert_eq!(entries[0], Some((obj(json!({"v": "b"})), None)));
    assert_eq!(entries[1], None);
    assert_eq!(
        new.ttl("b", C).await.unwrap(),
        Some((obj(json!({"v": "b"})), None))
    );
    assert_eq!(new.get("none", C).await.unwrap(), None);
}

#[tokio::test]
async fn writes_go_to_the_new_store_and_deletes_to_both() {
    let old = old_with_entries().await;
    let new = Arc::new(MemoryStore::new());
    let store = new.clone().layer(Migration::shared(old.clone()));
    store
        .put("a", obj(json!({"v": "new"})), None, C)
        .await
        .unwrap();
    assert_eq!(old.get("a", C).await.unwrap(), Some(obj(json!({"v": "a"}))));
    assert_eq!(
        store.get("a", C).await.unwrap(),
        Some(obj(json!({"v": "new"})))
    );

    // A live entry of the old store holds a lease.
    assert!(
        !store
            .put_if_absent("b", obj(json!({})), None, C)
            .await
            .unwrap()
    );
    assert!(
        store
            .put_if_absent("fresh", obj(json!({})), None, C)
            .await
            .unwrap()
    );

    assert!(store.delete("a", C).await.unwrap());
    assert_eq!(
        store.get("a", C).await.unwrap(),
        None,
        "the old value came back"
    );
    assert_eq!(old.get("a", C).await.unwrap(), None);
    old.put("x", obj(json!({})), None, C).await.unwrap();
    assert_eq!(
        store
            .delete_many(&["b", "x", "x", "nothing"], C)
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get("b", C).await.unwrap(), None);

    let mut keys = store.keys(C, None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["fresh"]);
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, ["other", "tokens"]);
}

#[tokio::test]
async fn copies_a_whole_store_or_one_collection_keeping_ttls() {
    let old = old_with_entries().await;
    for i in 0..250 {
        old.put(
            &format!("k{i}"),
            obj(json!({"i": i})),
            if i % 2 == 0 { None } else { Some(HOUR) },
            Some("bulk"),
        )
        .await
        .unwrap();
    }
    let new = MemoryStore::new();
    let report = copy(
        old.as_ref(),
        &new,
        CopyScope::Store,
        CopyOptions::default().batch_size(100),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.collections,
            report.copied,
            report.vanished,
            report.kept
        ),
        (3, 253, 0, 0)
    );
    assert_eq!(
        new.get("k7", Some("bulk")).await.unwrap(),
        Some(obj(json!({"i": 7})))
    );
    assert_eq!(new.ttl("k8", Some("bulk")).await.unwrap().unwrap().1, None);
    let remaining = new
        .ttl("k9", Some("bulk"))
        .await
        .unwrap()
        .unwrap()
        .1
        .unwrap();
    assert!(remaining <= HOUR && remaining > HOUR - Duration::from_secs(10));

    // One collection, keeping what the destination has.
    let other = MemoryStore::new();
    other
        .put("b", obj(json!({"v": "mine"})), None, C)
        .await
        .unwrap();
    let report = copy(
        old.as_ref(),
        &other,
        CopyScope::Collection("tokens"),
        CopyOptions::default().overwrite(false),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.collections,
            report.copied,
            report.vanished,
            report.kept
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(
        other.get("b", C).await.unwrap(),
        Some(obj(json!({"v": "mine"})))
    );
    assert_eq!(other.get("c", Some("other")).await.unwrap(), None);
}

/// A layer hiding enumeration, as stores without `keys` or `collections` do.
struct NoListing {
    keys: bool,
}
struct NoListingStore<S>(S, bool);
impl<S: AsyncKeyValue> Layer<S> for NoListing {
    type Store = NoListingStore<S>;
    fn layer(&self, inner: S) -> NoListingStore<S> {
        NoListingStore(inner, self.keys)
    }
}
impl<S: AsyncKeyValue> AsyncKeyValue for NoListingStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: self.1,
            list_collections: false,
            ..self.0.capabilities()
        }
    }
}

#[tokio::test]
async fn copy_needs_enumeration_on_the_source() {
    let (source, faults) = faulty();
    let new = MemoryStore::new();
    let source = source.layer(NoListing { keys: false });
    let err = copy(
        &source,
        &new,
        CopyScope::Collection("c"),
        CopyOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("`keys`"), "{err}");
    let source = faulty().0.layer(NoListing { keys: true });
    let err = copy(&source, &new, CopyScope::Store, CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("`collections`"), "{err}");
    assert_eq!(faults.calls(), 0, "the source was touched");
}

#[tokio::test]
async fn copy_stops_at_the_first_error_and_can_be_run_again() {
    let (source, faults) = faulty();
    for i in 0..5 {
        source
            .memory()
            .put(&format!("k{i}"), obj(json!({"i": i})), None, C)
            .await
            .unwrap();
    }
    let new = MemoryStore::new();
    faults.pass(1); // keys
    faults.fail(1, ErrorKind::Connection); // the first batch read
    let err = copy(
        &source,
        &new,
        CopyScope::Collection("tokens"),
        CopyOptions::default().batch_size(2),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(err.report(), CopyReport::default());
    assert_eq!(err.collection(), Some("tokens"));
    let report = copy(
        &source,
        &new,
        CopyScope::Collection("tokens"),
        CopyOptions::default().batch_size(2),
    )
    .await
    .unwrap();
    assert_eq!(report.copied, 5);
    assert_eq!(
        faults.operations(),
        [
            "keys", "ttl_many", "keys", "ttl_many", "ttl_many", "ttl_many"
        ]
    );
}

/// Records the largest batch each bulk operation was given, and how many calls each had.
#[derive(Default)]
struct Batches {
    largest: Mutex<Vec<(&'static str, usize)>>,
    ttl_many_calls: AtomicUsize,
}
impl Batches {
    fn saw(&self, operation: &'static str, len: usize) {
        self.largest.lock().unwrap().push((operation, len));
    }
    fn largest(&self) -> usize {
        self.largest
            .lock()
            .unwrap()
            .iter()
            .map(|(_, len)| *len)
            .max()
            .unwrap_or(0)
    }
}
struct Watched<S>(S, Arc<Batches>);
#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for Watched<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
    async fn get_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        self.1.saw("get_many", keys.len());
        self.0.get_many(keys, collection).await
    }
    async fn ttl_many(
        &self,
        keys: &[&str],
        collection: Option<&str>,
    ) -> Result<Vec<Option<WithTtl>>> {
        self.1.saw("ttl_many", keys.len());
        self.1.ttl_many_calls.fetch_add(1, Ordering::SeqCst);
        self.0.ttl_many(keys, collection).await
    }
    async fn put_many(
        &self,
        keys: &[&str],
        values: Vec<JsonObject>,
        ttl: Option<Duration>,
        collection: Option<&str>,
    ) -> Result<()> {
        self.1.saw("put_many", keys.len());
        self.0.put_many(keys, values, ttl, collection).await
    }
}

const BIG: usize = 1_000;

async fn big_collection(store: &dyn AsyncKeyValue) {
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(100) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i:04}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = chunk.iter().map(|i| obj(json!({"i": i}))).collect();
        store.put_many(&refs, values, None, C).await.unwrap();
    }
    // A few with a time-to-live, written one by one by the copy.
    for i in 0..5 {
        store
            .put(&format!("t{i}"), obj(json!({"t": i})), Some(HOUR), C)
            .await
            .unwrap();
    }
}

async fn same_entries(a: &dyn AsyncKeyValue, b: &dyn AsyncKeyValue) {
    let mut keys = a.keys(C, None).await.unwrap();
    keys.sort();
    let mut other = b.keys(C, None).await.unwrap();
    other.sort();
    assert_eq!(keys, other);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(
        a.get_many(&refs, C).await.unwrap(),
        b.get_many(&refs, C).await.unwrap()
    );
}

#[tokio::test]
async fn copy_holds_one_batch_of_values_at_a_time() {
    let source = MemoryStore::new();
    big_collection(&source).await;
    let batches = Arc::new(Batches::default());
    let watched_source = Watched(source, batches.clone());
    let destination = Watched(MemoryStore::new(), batches.clone());
    let report = copy(
        &watched_source,
        &destination,
        CopyScope::Collection("tokens"),
        CopyOptions::default().batch_size(64).overwrite(false),
    )
    .await
    .unwrap();
    assert_eq!((report.collections, report.copied), (1, BIG + 5));
    assert_eq!(
        batches.largest(),
        64,
        "a bulk call went past the batch size"
    );
    assert_eq!(
        batches.ttl_many_calls.load(Ordering::SeqCst),
        (BIG + 5).div_ceil(64),
        "one read per batch"
    );
    same_entries(&watched_source, &destination).await;
}

#[tokio::test]
async fn a_failure_mid_copy_says_how_far_it_got_and_loses_nothing() {
    let source = MemoryStore::new();
    big_collection(&source).await;
    let (destination, faults) = faulty();
    // Entries without expiry go in one put_many per batch of 100 (the five with a
    // time-to-live sort last in no set order, so count only put_many calls): the
    // fourth batch's write fails.
    faults.pass(3);
    faults.fail(1, ErrorKind::Connection);
    let scope = CopyScope::Collection("tokens");
    let options = CopyOptions::default().batch_size(100);
    let only_lasting = source.layer(Lasting);
    let err = copy(&only_lasting, &destination, scope, options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(err.collection(), Some("tokens"));
    let report = err.report();
    assert_eq!((report.collections, report.copied), (0, 300));
    assert!(err.to_string().contains("300 entries"), "{err}");
    let written = destination.memory().keys(C, None).await.unwrap();
    assert_eq!(
        written.len(),
        300,
        "what the report counts is what is there"
    );
    assert_eq!(
        only_lasting.keys(C, None).await.unwrap().len(),
        BIG,
        "the source lost entries"
    );

    // Run again: what is there is kept, the rest copied.
    faults.heal();
    let report = copy(&only_lasting, &destination, scope, options.overwrite(false))
        .await
        .unwrap();
    assert_eq!(
        (report.collections, report.copied, report.kept),
        (1, BIG - 300, 300)
    );
    same_entries(&only_lasting, destination.memory()).await;

    // Through `?`, the store error.
    async fn through_question_mark(
        from: &dyn AsyncKeyValue,
        to: &dyn AsyncKeyValue,
    ) -> Result<CopyReport> {
        Ok(copy(
            from,
            to,
            CopyScope::Collection("tokens"),
            CopyOptions::default(),
        )
        .await?)
    }
    faults.then_fail(ErrorKind::Backend);
    let err = through_question_mark(&only_lasting, &destination)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
}

/// Hides the source's entries with a time-to-live from `keys`, so that every batch is
/// written with exactly one `put_many`.
struct Lasting;
struct LastingStore<S>(S);
impl<S: AsyncKeyValue> Layer<S> for Lasting {
    type Store = LastingStore<S>;
    fn layer(&self, inner: S) -> LastingStore<S> {
        LastingStore(inner)
    }
}
#[async_trait]
impl<S: AsyncKeyValue> AsyncKeyValue for LastingStore<S> {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
    async fn keys(&self, collection: Option<&str>, limit: Option<usize>) -> Result<Vec<String>> {
        let mut keys = self.0.keys(collection, None).await?;
        keys.retain(|key| key.starts_with('k'));
        keys.sort();
        keys.truncate(limit.unwrap_or(usize::MAX));
        Ok(keys)
    }
}

/// From one naming to another on one backend (py-key-value's unmerged
/// `SanitizationMigrationWrapper`): release 1 kept every collection in one
/// (`SingleCollection`), release 2 prefixes its collections (`PrefixCollections`).
#[cfg(all(feature = "prefix-collections", feature = "single-collection"))]
mod renaming {
    use super::*;
    use key_value_layers::prefix_collections::PrefixCollections;
    use key_value_layers::single_collection::SingleCollection;

    fn old_naming(backend: &Arc<MemoryStore>) -> impl AsyncKeyValue + use<> {
        backend.clone().layer(SingleCollection::new("all"))
    }

    fn new_naming(backend: &Arc<MemoryStore>, remove_moved: bool) -> impl AsyncKeyValue + use<> {
        backend
            .clone()
            .layer(PrefixCollections::new("app"))
            .layer(Migration::new(old_naming(backend)).remove_moved(remove_moved))
    }

    #[test]
    fn conformance_except_the_longest_names() {
        let reason = "the two namings take bytes of the name limit (`app__` before a \
                      collection; `collection__` before a key in the old naming, which a \
                      miss of the new naming reads), so the longest names are too long \
                      below";
        conformance_subset::run_except(
            || async { new_naming(&Arc::new(MemoryStore::new()), true) },
            &[
                ("longest_collection_works", reason),
                ("similar_collections_stay_distinct", reason),
                ("similar_keys_stay_distinct", reason),
            ],
        );
    }

    /// Release 1's entries, as release 1 wrote them.
    async fn release_1(backend: &Arc<MemoryStore>) {
        let old = old_naming(backend);
        old.put("github", obj(json!({"t": "gh"})), Some(HOUR), C)
            .await
            .unwrap();
        old.put("gitlab", obj(json!({"t": "gl"})), None, C)
            .await
            .unwrap();
        old.put("c1", obj(json!({"c": 1})), None, Some("clients"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn reads_rename_entries_and_remove_the_old_names() {
        let backend = Arc::new(MemoryStore::new());
        release_1(&backend).await;
        let store = new_naming(&backend, true);
        // Listing covers both namings, each name once.
        let mut keys = store.keys(C, None).await.unwrap();
        keys.sort();
        assert_eq!(keys, ["github", "gitlab"]);

        assert_eq!(
            store.get("github", C).await.unwrap(),
            Some(obj(json!({"t": "gh"})))
        );
        // Stored under the new name with its remaining time; the old name is gone.
        let (value, remaining) = backend
            .ttl("github", Some("app__tokens"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, obj(json!({"t": "gh"})));
        assert!(remaining.unwrap() > HOUR - Duration::from_secs(10));
        assert_eq!(
            backend.get("tokens__github", Some("all")).await.unwrap(),
            None
        );

        // A key written under the new name meanwhile wins over the old name's value.
        backend
            .put(
                "gitlab",
                obj(json!({"t": "newer"})),
                None,
                Some("app__tokens"),
            )
            .await
            .unwrap();
        assert_eq!(
            store.get_many(&["gitlab", "none"], C).await.unwrap(),
            vec![Some(obj(json!({"t": "newer"}))), None]
        );
        assert_eq!(
            store.ttl("c1", Some("clients")).await.unwrap(),
            Some((obj(json!({"c": 1})), None))
        );
        // Release 1's one collection still holds what was not read (the gitlab entry
        // was hidden by the newer one and never read through the old name).
        let mut left = backend.keys(Some("all"), None).await.unwrap();
        left.sort();
        assert_eq!(left, ["tokens__gitlab"]);
        assert!(store.delete("gitlab", C).await.unwrap());
        assert_eq!(
            backend.keys(Some("all"), None).await.unwrap(),
            Vec::<String>::new()
        );
        let mut collections = backend.collections(None).await.unwrap();
        collections.sort();
        assert_eq!(collections, ["app__clients", "app__tokens"]);
    }

    #[tokio::test]
    async fn without_remove_moved_release_1_still_reads_its_entries() {
        let backend = Arc::new(MemoryStore::new());
        release_1(&backend).await;
        let store = new_naming(&backend, false);
        assert!(store.get("github", C).await.unwrap().is_some());
        assert!(
            backend
                .get("github", Some("app__tokens"))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            old_naming(&backend).get("github", C).await.unwrap(),
            Some(obj(json!({"t": "gh"})))
        );
    }

    /// The old copy's deletion fails: the read still answers, the entry is in the new
    /// naming, and the old copy stays (hidden).
    #[tokio::test]
    async fn a_failed_removal_keeps_both_copies_and_answers() {
        let (old, faults) = faulty();
        old.put("k", obj(json!({"v": 1})), None, C).await.unwrap();
        let new = Arc::new(MemoryStore::new());
        let store = new.clone().layer(Migration::new(old).remove_moved(true));
        faults.pass(1); // the read of the old entry
        faults.fail(1, ErrorKind::Connection); // its deletion
        assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
        assert_eq!(new.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
        assert_eq!(faults.operations(), ["put", "ttl", "delete"]);
        assert_eq!(store.get("k", C).await.unwrap(), Some(obj(json!({"v": 1}))));
    }
}

/// A destination whose reads miss what it holds: as if each entry were written there
/// just after the copy looked.
struct WrittenMeanwhile(MemoryStore);
#[async_trait]
impl AsyncKeyValue for WrittenMeanwhile {
    fn inner_store(&self) -> Option<&dyn AsyncKeyValue> {
        Some(&self.0)
    }
    async fn get_many(
        &self,
        keys: &[&str],
        _collection: Option<&str>,
    ) -> Result<Vec<Option<JsonObject>>> {
        Ok(vec![None; keys.len()])
    }
}

#[tokio::test]
async fn copy_without_overwrite_keeps_entries_written_during_the_copy() {
    let source = MemoryStore::new();
    source
        .put("a", obj(json!({"v": "old"})), None, C)
        .await
        .unwrap();
    source
        .put("b", obj(json!({"v": "old"})), Some(HOUR), C)
        .await
        .unwrap();
    let destination = WrittenMeanwhile(MemoryStore::new());
    destination
        .0
        .put("a", obj(json!({"v": "new"})), None, C)
        .await
        .unwrap();
    let report = copy(
        &source,
        &destination,
        CopyScope::Collection("tokens"),
        CopyOptions::default().overwrite(false),
    )
    .await
    .unwrap();
    assert_eq!((report.copied, report.kept), (1, 1));
    assert_eq!(
        destination.0.get("a", C).await.unwrap(),
        Some(obj(json!({"v": "new"}))),
        "the copy replaced an entry written during it"
    );
    let (value, ttl) = destination.0.ttl("b", C).await.unwrap().unwrap();
    assert_eq!(value, obj(json!({"v": "old"})));
    assert!(ttl.is_some_and(|ttl| ttl <= HOUR && ttl > HOUR - Duration::from_secs(10)));
}
