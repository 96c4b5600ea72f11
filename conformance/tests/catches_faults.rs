//! The suite checks itself: a small reference store passes every case, and the same
//! store with one deliberate fault fails the cases meant to catch that fault.
//!
//! The reference keeps entries as documents (the shared codec's text), so the raw-data
//! cases run against it too.

#![allow(clippy::panic, clippy::expect_used)] // test helpers fail the test loudly

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use key_value_conformance::{CASES, Fixture, RawAccess, Report, case, run_case};
use key_value_core::{Backend, Capabilities, Entry, Result, async_trait};
use serde_json::Value;
use tokio::sync::Mutex;

/// One deliberate bug each; `Faults::default()` is a correct store.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Drops the expiry of every write.
    ignore_ttl: bool,
    /// A write without expiry keeps the expiry of the entry it replaces.
    keep_old_expiry: bool,
    /// Keeps ttls as whole seconds.
    second_precision: bool,
    /// Every collection shares one namespace.
    mix_collections: bool,
    /// Entries live in one namespace under `collection::key`, unescaped.
    join_names: bool,
    /// Lower-cases names and maps `/` to `_`, as a naive file-name mapping would.
    lossy_names: bool,
    /// Cuts names to 255 bytes, as a naive file-name mapping would.
    truncate_names: bool,
    /// Writes by copy-modify-replace of the whole collection, losing concurrent writes.
    lose_concurrent_writes: bool,
    /// Writes a value in two visible steps.
    torn_writes: bool,
    /// `delete` always reports that the key existed.
    delete_always_true: bool,
    /// Lists keys of expired entries.
    list_expired: bool,
    /// Ignores the `limit` of `keys`.
    ignore_limit: bool,
    /// Stores every number as a 64-bit float.
    lossy_numbers: bool,
    /// `destroy_collection` also removes collections whose names start with the name.
    destroy_by_prefix: bool,
    /// Reads an unreadable document as a missing entry.
    swallow_corruption: bool,
    /// Declares a bound per collection but never evicts.
    unenforced_bound: bool,
    /// Evicts the entry just written when the collection is full.
    evict_newest: bool,
    /// `put_if_absent` checks, then writes in a second step: racers both win.
    check_then_write: bool,
    /// `put_if_absent` treats an expired entry as present.
    expired_lease_is_held: bool,
}

type Collections = HashMap<String, HashMap<String, String>>;

struct Reference {
    faults: Faults,
    bound: Option<usize>,
    data: Arc<Mutex<Collections>>,
}

impl Reference {
    fn new(faults: Faults) -> Self {
        let bound = (faults.unenforced_bound || faults.evict_newest).then_some(1000);
        Reference {
            faults,
            bound,
            data: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Where an entry lives: (collection map, key in it).
    fn slot(&self, collection: &str, key: &str) -> (String, String) {
        if self.faults.join_names {
            return ("all".into(), format!("{collection}::{key}"));
        }
        (self.collection_name(collection), self.name(key))
    }

    fn collection_name(&self, collection: &str) -> String {
        if self.faults.mix_collections {
            return "all".into();
        }
        self.name(collection)
    }

    fn name(&self, name: &str) -> String {
        let mut name = name.to_owned();
        if self.faults.lossy_names {
            name = name.to_lowercase().replace('/', "_");
        }
        if self.faults.truncate_names && name.len() > 255 {
            let mut end = 255;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
        }
        name
    }

    fn encode(
        &self,
        collection: &str,
        key: &str,
        mut entry: Entry,
        old: Option<&String>,
    ) -> Result<String> {
        if self.faults.ignore_ttl {
            entry.expires_at = None;
        }
        if self.faults.keep_old_expiry && entry.expires_at.is_none() {
            entry.expires_at = old
                .and_then(|doc| Entry::from_document(doc.as_bytes()).ok())
                .and_then(|old| old.expires_at);
        }
        if self.faults.second_precision
            && let (Some(created), Some(expires)) = (entry.created_at, entry.expires_at)
        {
            // Keeps the ttl as whole seconds, as `SET … EX int(ttl)` would.
            let whole = expires
                .duration_since(created)
                .unwrap_or_default()
                .as_secs();
            entry.expires_at = Some(created + Duration::from_secs(whole));
        }
        if self.faults.lossy_numbers {
            for value in entry.value.values_mut() {
                to_floats(value);
            }
        }
        entry.to_document(collection, key)
    }

    fn evict(&self, entries: &mut HashMap<String, String>, just_written: &str) {
        let Some(bound) = self.bound else { return };
        if self.faults.unenforced_bound || entries.len() <= bound {
            return;
        }
        let victim = if self.faults.evict_newest {
            Some(just_written.to_owned())
        } else {
            entries.keys().find(|k| k.as_str() != just_written).cloned()
        };
        if let Some(victim) = victim {
            entries.remove(&victim);
        }
    }
}

fn to_floats(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_floats),
        Value::Object(map) => map.values_mut().for_each(to_floats),
        _ => {}
    }
}

#[async_trait]
impl Backend for Reference {
    fn name(&self) -> &str {
        "reference"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_keys: true,
            list_collections: true,
            destroy_collection: true,
            destroy: true,
            cull: true,
            atomic_put_many: false,
            max_entry_bytes: Some(4 << 20),
            max_entries_per_collection: self.bound,
            put_if_absent: true,
            ..Capabilities::default()
        }
    }

    async fn read(&self, collection: &str, key: &str) -> Result<Option<Entry>> {
        let data = self.data.lock().await;
        let (c, k) = self.slot(collection, key);
        let doc = data.get(&c).and_then(|entries| entries.get(&k));
        match doc {
            None => Ok(None),
            Some(doc) => match Entry::from_document(doc.as_bytes()) {
                Ok(entry) => Ok(Some(entry)),
                Err(_) if self.faults.swallow_corruption => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> Result<()> {
        let (c, k) = self.slot(collection, key);
        if self.faults.torn_writes {
            let mut half = entry.clone();
            half.value.remove("b");
            let doc = self.encode(collection, key, half, None)?;
            self.data
                .lock()
                .await
                .entry(c.clone())
                .or_default()
                .insert(k.clone(), doc);
            tokio::task::yield_now().await;
        }
        if self.faults.lose_concurrent_writes {
            let mut copy = self.data.lock().await.get(&c).cloned().unwrap_or_default();
            tokio::task::yield_now().await;
            let doc = self.encode(collection, key, entry, copy.get(&k))?;
            copy.insert(k.clone(), doc);
            self.evict(&mut copy, &k);
            self.data.lock().await.insert(c, copy);
            return Ok(());
        }
        let mut data = self.data.lock().await;
        let entries = data.entry(c).or_default();
        let doc = self.encode(collection, key, entry, entries.get(&k))?;
        if doc.len() > 4 << 20 {
            return Err(key_value_core::Error::value_too_large(doc.len(), 4 << 20));
        }
        entries.insert(k.clone(), doc);
        self.evict(entries, &k);
        Ok(())
    }

    async fn write_if_absent(&self, collection: &str, key: &str, entry: Entry) -> Result<bool> {
        let (c, k) = self.slot(collection, key);
        let now = std::time::SystemTime::now();
        let held = |doc: &String| {
            Entry::from_document(doc.as_bytes()).map_or(true, |e| {
                self.faults.expired_lease_is_held || !e.is_expired(now)
            })
        };
        if self.faults.check_then_write {
            let taken = self
                .data
                .lock()
                .await
                .get(&c)
                .and_then(|e| e.get(&k))
                .is_some_and(held);
            tokio::task::yield_now().await;
            if taken {
                return Ok(false);
            }
            self.write(collection, key, entry).await?;
            return Ok(true);
        }
        let mut data = self.data.lock().await;
        let entries = data.entry(c).or_default();
        if entries.get(&k).is_some_and(held) {
            return Ok(false);
        }
        let doc = self.encode(collection, key, entry, None)?;
        entries.insert(k, doc);
        Ok(true)
    }

    async fn remove(&self, collection: &str, key: &str) -> Result<bool> {
        let mut data = self.data.lock().await;
        let (c, k) = self.slot(collection, key);
        let removed = data.get_mut(&c).and_then(|entries| entries.remove(&k));
        let live = removed
            .and_then(|doc| Entry::from_document(doc.as_bytes()).ok())
            .is_some_and(|entry| !entry.is_expired(std::time::SystemTime::now()));
        Ok(live || self.faults.delete_always_true)
    }

    async fn list_keys(&self, collection: &str, limit: Option<usize>) -> Result<Vec<String>> {
        let data = self.data.lock().await;
        let now = std::time::SystemTime::now();
        let Some(entries) = data.get(&self.collection_name(collection)) else {
            return Ok(Vec::new());
        };
        let limit = if self.faults.ignore_limit {
            None
        } else {
            limit
        };
        Ok(entries
            .iter()
            .filter(|(_, doc)| {
                self.faults.list_expired
                    || Entry::from_document(doc.as_bytes()).map_or(true, |e| !e.is_expired(now))
            })
            .map(|(key, _)| key.clone())
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn list_collections(&self, limit: Option<usize>) -> Result<Vec<String>> {
        let data = self.data.lock().await;
        Ok(data
            .iter()
            .filter(|(_, entries)| !entries.is_empty())
            .map(|(name, _)| name.clone())
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn remove_collection(&self, collection: &str) -> Result<bool> {
        let mut data = self.data.lock().await;
        let name = self.collection_name(collection);
        if self.faults.destroy_by_prefix {
            data.retain(|c, _| !c.starts_with(&name) || c == &name);
        }
        Ok(data
            .remove(&name)
            .is_some_and(|entries| !entries.is_empty()))
    }

    async fn remove_all(&self) -> Result<bool> {
        let mut data = self.data.lock().await;
        let had = data.values().any(|entries| !entries.is_empty());
        data.clear();
        Ok(had)
    }

    async fn remove_expired(&self) -> Result<()> {
        let now = std::time::SystemTime::now();
        let mut data = self.data.lock().await;
        for entries in data.values_mut() {
            entries.retain(|_, doc| {
                Entry::from_document(doc.as_bytes()).map_or(true, |e| !e.is_expired(now))
            });
        }
        Ok(())
    }
}

/// Plants documents into the reference's own map.
struct Planter {
    faults: Faults,
    data: Arc<Mutex<Collections>>,
}

#[async_trait]
impl RawAccess for Planter {
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()> {
        let (c, k) = Reference::new(self.faults).slot(collection, key);
        let text = String::from_utf8_lossy(document).into_owned();
        self.data.lock().await.entry(c).or_default().insert(k, text);
        Ok(())
    }
}

fn fixture(faults: Faults) -> Fixture {
    let store = Reference::new(faults);
    let planter = Planter {
        faults,
        data: Arc::clone(&store.data),
    };
    Fixture::new(store).with_raw_access(planter)
}

async fn report(faults: Faults, name: &str) -> Report {
    let Some(case) = case(name) else {
        panic!("no case named {name}");
    };
    run_case(case, fixture(faults)).await
}

/// Each named case must fail against a store with `faults`.
async fn assert_caught(faults: Faults, cases: &[&str]) {
    for name in cases {
        let report = report(faults, name).await;
        assert!(
            matches!(report, Report::Failed(_)),
            "case {name} did not catch {faults:?}: {report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_has_at_least_sixty_distinct_cases() {
    let mut names: Vec<&str> = CASES.iter().map(|case| case.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "duplicate case names");
    assert!(CASES.len() >= 60, "only {} cases", CASES.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_store_passes_every_case() {
    let mut failures = Vec::new();
    for case in CASES {
        match run_case(case, fixture(Faults::default())).await {
            Report::Passed => {}
            Report::NotApplicable(why) if case.name.starts_with("bounded_") => {
                assert!(why.contains("max_entries_per_collection"), "{why}");
            }
            // The reference keeps no files for hostile ones to replace.
            Report::NotApplicable(why) if why.contains("plant_hostile") => {}
            other => failures.push(format!("{}: {other:?}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "the reference store failed:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_bounded_store_passes_the_bounded_cases() {
    for name in [
        "bounded_store_stays_within_bound",
        "bounded_store_keeps_latest_write",
        "bounded_store_bound_is_per_collection",
    ] {
        // Bounded and enforced by evicting an older key: the correct behaviour.
        let store = Reference {
            bound: Some(1000),
            ..Reference::new(Faults::default())
        };
        let case = case(name).expect("case exists");
        assert_eq!(run_case(case, store).await, Report::Passed, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_ignores_ttl() {
    let faults = Faults {
        ignore_ttl: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &[
            "put_with_ttl_reports_remaining",
            "expired_entry_reads_as_missing",
            "put_with_new_ttl_replaces_old",
            "long_ttl_is_kept",
            "ttl_many_reports_each",
            "put_many_with_ttl_sets_each",
            "keys_skips_expired",
            "cull_keeps_live_entries",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_keeps_an_old_expiry() {
    let faults = Faults {
        keep_old_expiry: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &["put_without_ttl_clears_expiry", "put_many_overwrites"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_rounds_expiry_to_seconds() {
    let faults = Faults {
        second_precision: true,
        ..Faults::default()
    };
    assert_caught(faults, &["ttl_has_millisecond_precision"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_mixes_collections() {
    let faults = Faults {
        mix_collections: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &[
            "same_key_in_two_collections",
            "delete_in_one_collection_keeps_other",
            "default_and_named_collections_are_separate",
            "put_many_is_isolated",
            "similar_collections_stay_distinct",
            "special_collections_round_trip",
            "destroy_collection_keeps_others",
            "listing_is_per_collection",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_joins_names_with_a_separator() {
    let faults = Faults {
        join_names: true,
        ..Faults::default()
    };
    assert_caught(faults, &["separator_lookalikes_stay_distinct"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_with_lossy_names() {
    let faults = Faults {
        lossy_names: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &[
            "similar_keys_stay_distinct",
            "similar_collections_stay_distinct",
            "special_keys_are_listed_as_written",
            "special_collections_are_listed_as_written",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_truncates_names() {
    let faults = Faults {
        truncate_names: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &[
            "longest_key_works",
            "longest_collection_works",
            "similar_keys_stay_distinct",
            "special_keys_are_listed_as_written",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_loses_concurrent_writes() {
    let faults = Faults {
        lose_concurrent_writes: true,
        ..Faults::default()
    };
    assert_caught(faults, &["concurrent_writers_distinct_keys"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_with_torn_writes() {
    let faults = Faults {
        torn_writes: true,
        ..Faults::default()
    };
    assert_caught(faults, &["concurrent_readers_see_whole_values"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_with_wrong_delete_results() {
    let faults = Faults {
        delete_always_true: true,
        ..Faults::default()
    };
    assert_caught(faults, &["delete_missing_is_false", "delete_twice"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_lists_expired_keys() {
    let faults = Faults {
        list_expired: true,
        ..Faults::default()
    };
    assert_caught(faults, &["keys_skips_expired"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_ignores_the_listing_limit() {
    let faults = Faults {
        ignore_limit: true,
        ..Faults::default()
    };
    assert_caught(faults, &["keys_respects_limit"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_with_lossy_numbers() {
    let faults = Faults {
        lossy_numbers: true,
        ..Faults::default()
    };
    assert_caught(faults, &["integer_edges_round_trip"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_destroys_by_prefix() {
    let faults = Faults {
        destroy_by_prefix: true,
        ..Faults::default()
    };
    assert_caught(faults, &["destroy_collection_keeps_others"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_hides_corruption() {
    let faults = Faults {
        swallow_corruption: true,
        ..Faults::default()
    };
    assert_caught(
        faults,
        &[
            "corrupted_entry_is_a_clear_error",
            "truncated_entry_is_a_clear_error",
            "newer_version_is_refused",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_does_not_enforce_its_bound() {
    let faults = Faults {
        unenforced_bound: true,
        ..Faults::default()
    };
    assert_caught(faults, &["bounded_store_stays_within_bound"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_store_that_evicts_the_newest_entry() {
    let faults = Faults {
        evict_newest: true,
        ..Faults::default()
    };
    assert_caught(faults, &["bounded_store_keeps_latest_write"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_skipped_fixture_is_reported_as_skipped() {
    let case = case("put_then_get").expect("case exists");
    let report = run_case(case, Fixture::skip("no server")).await;
    assert_eq!(report, Report::Skipped("no server".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shared_fixture_does_not_run_destroy() {
    let case = case("destroy_removes_everything").expect("case exists");
    let report = run_case(
        case,
        Fixture::new(key_value_memory::MemoryStore::new()).shared(),
    )
    .await;
    assert!(matches!(report, Report::NotApplicable(_)), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_lease_that_is_not_atomic() {
    let faults = Faults {
        check_then_write: true,
        ..Faults::default()
    };
    assert_caught(faults, &["put_if_absent_race_has_one_winner"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catches_a_lease_that_outlives_its_expiry() {
    let faults = Faults {
        expired_lease_is_held: true,
        ..Faults::default()
    };
    assert_caught(faults, &["put_if_absent_takes_over_an_expired_entry"]).await;
}
