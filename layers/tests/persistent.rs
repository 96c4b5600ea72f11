//! The layers whose behaviour depends on the store under them, over real persistent
//! stores: SQLite files and disk-store directories in temporary directories, reopened
//! to see what reached them.
//!
//! - passthrough cache: the slow store persistent (SQLite, disk), the cache in memory;
//! - migration and `copy`: from a disk store into a SQLite file, and into Redis (a
//!   server of the test's own, or `REDIS_URL`);
//! - compression: over SQLite, and over the disk store against py-key-value's own
//!   `FileTreeStore` with its `CompressionWrapper` on the same directory, both ways;
//! - versioning: over SQLite, across reopening with another version;
//! - fallback: to a SQLite file while the primary fails.
//!
//! The conformance suite runs over each layered persistent store but the fallback's,
//! whose healthy path is its primary alone (the suite would test the memory store).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unused_imports)] // each feature uses part of this file

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::obj;
use key_value_conformance::Fixture;
use key_value_core::{AsyncKeyValue, JsonObject, LayerExt};
use key_value_disk::DiskStore;
use key_value_memory::MemoryStore;
use key_value_sqlite::SqliteStore;
use serde_json::json;
use tempfile::TempDir;

const C: Option<&str> = Some("tokens");
const HOUR: Duration = Duration::from_secs(3600);

fn temp() -> TempDir {
    tempfile::tempdir().unwrap()
}

fn db(dir: &TempDir) -> PathBuf {
    dir.path().join("store.db")
}

async fn sqlite(path: &Path) -> SqliteStore {
    SqliteStore::open(path).await.unwrap()
}

async fn disk(dir: &TempDir) -> DiskStore {
    DiskStore::open(dir.path().join("tree")).await.unwrap()
}

async fn sqlite_in(dir: &TempDir) -> SqliteStore {
    sqlite(&db(dir)).await
}

/// Module `$name`: the conformance suite over the store `$open` (an async function of
/// a temporary directory) opens, the directory kept as long as the store. Only the
/// feature-gated modules below use it.
#[cfg_attr(
    not(any(
        feature = "passthrough-cache",
        feature = "migration",
        feature = "compression",
        feature = "versioning"
    )),
    allow(unused_macros)
)]
macro_rules! suite_over {
    ($name:ident, $open:path) => {
        mod $name {
            use super::*;

            async fn fixture() -> Fixture {
                let dir = temp();
                Fixture::new($open(&dir).await).keep_alive(dir)
            }

            key_value_conformance::suite!(fixture);
        }
    };
}

/// A value large enough to be compressed by default.
fn large(i: usize) -> JsonObject {
    obj(json!({"i": i, "text": format!("line {i} ").repeat(300)}))
}

#[cfg(feature = "passthrough-cache")]
mod passthrough_cache {
    use super::*;
    use key_value_layers::passthrough_cache::PassthroughCache;

    async fn cached_sqlite(dir: &TempDir) -> impl AsyncKeyValue + use<> {
        sqlite_in(dir)
            .await
            .layer(PassthroughCache::new(MemoryStore::new()))
    }

    async fn cached_disk(dir: &TempDir) -> impl AsyncKeyValue + use<> {
        disk(dir)
            .await
            .layer(PassthroughCache::new(MemoryStore::new()))
    }

    suite_over!(over_sqlite, cached_sqlite);
    suite_over!(over_disk, cached_disk);

    /// Two programs on one SQLite file, each with a cache of its own: writes reach the
    /// file, a program's own writes invalidate its cache, the other's show once the
    /// cached entry expires.
    #[tokio::test]
    async fn the_file_holds_what_is_written_through_the_cache() {
        let dir = temp();
        let path = db(&dir);
        // Cached entries live 1.5 s: long enough for the steps below that count on a
        // still-cached entry (each a SQLite write or two) on a loaded machine too.
        let cache = PassthroughCache::new(MemoryStore::new()).max_ttl(Duration::from_millis(1500));
        let ours = sqlite(&path).await.layer(cache);
        let theirs = sqlite(&path).await;
        ours.put("a", obj(json!({"v": 1})), None, C).await.unwrap();
        assert_eq!(ours.get("a", C).await.unwrap(), Some(obj(json!({"v": 1}))));
        assert!(ours.cache().get("a", C).await.unwrap().is_some());
        assert_eq!(
            theirs.get("a", C).await.unwrap(),
            Some(obj(json!({"v": 1})))
        );

        // Our write replaces the cached value at once.
        ours.put("a", obj(json!({"v": 2})), None, C).await.unwrap();
        assert_eq!(ours.get("a", C).await.unwrap(), Some(obj(json!({"v": 2}))));
        assert_eq!(
            theirs.get("a", C).await.unwrap(),
            Some(obj(json!({"v": 2})))
        );

        // Theirs shows once the cached entry has expired (at most max_ttl).
        theirs
            .put("a", obj(json!({"v": 3})), None, C)
            .await
            .unwrap();
        assert_eq!(ours.get("a", C).await.unwrap(), Some(obj(json!({"v": 2}))));
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert_eq!(ours.get("a", C).await.unwrap(), Some(obj(json!({"v": 3}))));

        // Our delete reaches the file and the cache.
        assert!(ours.delete("a", C).await.unwrap());
        assert_eq!(theirs.get("a", C).await.unwrap(), None);
        assert_eq!(ours.get("a", C).await.unwrap(), None);

        // A cached entry never outlives the file's: TTL 1 s, max_ttl 1.5 s.
        ours.put("t", obj(json!({"t": 1})), Some(Duration::from_secs(1)), C)
            .await
            .unwrap();
        assert!(ours.get("t", C).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(ours.get("t", C).await.unwrap(), None);
        assert_eq!(ours.cache().get("t", C).await.unwrap(), None);
        ours.put("b", obj(json!({"v": 4})), Some(HOUR), C)
            .await
            .unwrap();
        ours.close().await.unwrap();

        // A new program on the file, with an empty cache, reads what was written.
        let reopened = sqlite(&path)
            .await
            .layer(PassthroughCache::new(MemoryStore::new()));
        assert_eq!(reopened.get("a", C).await.unwrap(), None);
        assert_eq!(reopened.get("t", C).await.unwrap(), None);
        assert_eq!(
            reopened.get("b", C).await.unwrap(),
            Some(obj(json!({"v": 4})))
        );
    }

    /// The disk store as the slow store: an entry read through the cache comes from the
    /// files, and the cache is filled with its remaining time, capped.
    #[tokio::test]
    async fn disk_entries_are_cached_with_their_remaining_time() {
        let dir = temp();
        let slow = Arc::new(disk(&dir).await);
        slow.put("k", obj(json!({"v": "disk"})), Some(HOUR), C)
            .await
            .unwrap();
        let store = slow
            .clone()
            .layer(PassthroughCache::new(MemoryStore::new()).max_ttl(Duration::from_secs(60)));
        assert_eq!(
            store.get("k", C).await.unwrap(),
            Some(obj(json!({"v": "disk"})))
        );
        let (_, cached) = store.cache().ttl("k", C).await.unwrap().unwrap();
        assert!(cached.unwrap() <= Duration::from_secs(60));
        let (_, remaining) = store.ttl("k", C).await.unwrap().unwrap();
        assert!(remaining.unwrap() > HOUR - Duration::from_secs(10));
        // Writes invalidate: the file's new value is read.
        store
            .put("k", obj(json!({"v": "new"})), None, C)
            .await
            .unwrap();
        assert_eq!(store.cache().get("k", C).await.unwrap(), None);
        let reopened = disk(&dir).await;
        assert_eq!(
            reopened.get("k", C).await.unwrap(),
            Some(obj(json!({"v": "new"})))
        );
    }
}

#[cfg(feature = "migration")]
mod migration {
    use super::*;
    use key_value_layers::migration::{CopyOptions, CopyScope, Migration, copy};

    async fn sqlite_over_disk(dir: &TempDir) -> impl AsyncKeyValue + use<> {
        sqlite_in(dir).await.layer(Migration::new(disk(dir).await))
    }

    suite_over!(sqlite_with_disk_behind, sqlite_over_disk);

    /// A disk store with two collections, one larger than a batch, some entries with a
    /// time-to-live.
    async fn filled_disk(dir: &TempDir) -> DiskStore {
        let store = disk(dir).await;
        store
            .put(
                "github",
                obj(json!({"access_token": "at-1"})),
                Some(HOUR),
                C,
            )
            .await
            .unwrap();
        store
            .put("gitlab", obj(json!({"access_token": "at-2"})), None, C)
            .await
            .unwrap();
        for i in 0..250 {
            store
                .put(
                    &format!("client-{i}"),
                    obj(json!({"i": i})),
                    None,
                    Some("clients"),
                )
                .await
                .unwrap();
        }
        store
    }

    /// "Move my tokens from disk to SQLite": a whole store, in batches, into a file
    /// that holds it all once reopened, remaining times kept.
    #[tokio::test]
    async fn copy_moves_a_disk_store_into_a_sqlite_file() {
        let dir = temp();
        let old = filled_disk(&dir).await;
        let path = db(&dir);
        let new = sqlite(&path).await;
        let report = copy(&old, &new, CopyScope::Store, CopyOptions::default())
            .await
            .unwrap();
        assert_eq!(
            (report.collections, report.copied, report.vanished),
            (2, 252, 0)
        );
        new.close().await.unwrap();

        let reopened = sqlite(&path).await;
        let mut collections = reopened.collections(None).await.unwrap();
        collections.sort();
        assert_eq!(collections, ["clients", "tokens"]);
        assert_eq!(
            reopened.keys(Some("clients"), None).await.unwrap().len(),
            250
        );
        assert_eq!(
            reopened.get("client-249", Some("clients")).await.unwrap(),
            Some(obj(json!({"i": 249})))
        );
        let (value, remaining) = reopened.ttl("github", C).await.unwrap().unwrap();
        assert_eq!(value, obj(json!({"access_token": "at-1"})));
        let remaining = remaining.unwrap();
        assert!(remaining <= HOUR && remaining > HOUR - Duration::from_secs(30));
        assert_eq!(reopened.ttl("gitlab", C).await.unwrap().unwrap().1, None);
        // The disk store is as it was.
        assert_eq!(old.keys(Some("clients"), None).await.unwrap().len(), 250);
    }

    /// The lazy way: reads through SQLite to the disk store move what they find into
    /// the file, which keeps it once reopened; the disk entry stays.
    #[tokio::test]
    async fn reads_move_disk_entries_into_the_sqlite_file() {
        let dir = temp();
        let old = Arc::new(filled_disk(&dir).await);
        let path = db(&dir);
        let store = sqlite(&path).await.layer(Migration::shared(old.clone()));
        assert_eq!(
            store.get("github", C).await.unwrap(),
            Some(obj(json!({"access_token": "at-1"})))
        );
        store
            .put("gitlab", obj(json!({"access_token": "at-3"})), None, C)
            .await
            .unwrap();
        store.close().await.unwrap();

        let reopened = sqlite(&path).await;
        let (value, remaining) = reopened.ttl("github", C).await.unwrap().unwrap();
        assert_eq!(value, obj(json!({"access_token": "at-1"})));
        assert!(remaining.unwrap() > HOUR - Duration::from_secs(30));
        assert_eq!(
            reopened.get("gitlab", C).await.unwrap(),
            Some(obj(json!({"access_token": "at-3"})))
        );
        assert_eq!(
            reopened.get("client-0", Some("clients")).await.unwrap(),
            None
        );
        let old = disk(&dir).await;
        assert_eq!(
            old.get("gitlab", C).await.unwrap(),
            Some(obj(json!({"access_token": "at-2"}))),
            "writes go to the new store only"
        );
    }
}

#[cfg(feature = "compression")]
mod compression {
    use super::*;
    use key_value_layers::compression::{Compression, DATA_FIELD, compress};

    async fn compressing_sqlite(dir: &TempDir) -> impl AsyncKeyValue + use<> {
        sqlite_in(dir).await.layer(Compression::new().min_size(16))
    }

    suite_over!(over_sqlite, compressing_sqlite);

    /// The file holds the envelope (the same bytes the layer writes to any store, which
    /// tests/compression.rs checks against py-key-value), and a reopened store reads it.
    #[tokio::test]
    async fn the_sqlite_file_holds_python_s_envelope() {
        let dir = temp();
        let path = db(&dir);
        let store = sqlite(&path).await.layer(Compression::new());
        store.put("big", large(1), None, C).await.unwrap();
        store
            .put("small", obj(json!({"s": 1})), None, C)
            .await
            .unwrap();
        store.close().await.unwrap();

        let raw = sqlite(&path).await;
        let stored = raw.get("big", C).await.unwrap().unwrap();
        assert!(stored.contains_key(DATA_FIELD), "{stored:?}");
        assert_eq!(stored, compress(&large(1)).unwrap());
        assert_eq!(
            raw.get("small", C).await.unwrap(),
            Some(obj(json!({"s": 1})))
        );
        let reopened = raw.layer(Compression::new());
        assert_eq!(reopened.get("big", C).await.unwrap(), Some(large(1)));
    }

    /// argv: mode (`write` or `read`), directory, count. Python's `FileTreeStore` (the
    /// format of our disk store) under its `CompressionWrapper`: writes the values
    /// `large(i)`, or prints what it reads for keys `k0`….
    const PEER: &str = r#"
import asyncio, json, sys
from pathlib import Path
from key_value.aio.stores.filetree import (
    FileTreeStore, FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy)
from key_value.aio.wrappers.compression import CompressionWrapper

async def main(mode, directory, count):
    directory = Path(directory)
    store = CompressionWrapper(key_value=FileTreeStore(
        data_directory=directory,
        key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(directory=directory),
        collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(directory=directory)))
    out = []
    for i in range(count):
        if mode == "write":
            await store.put(f"k{i}", {"i": i, "text": f"line {i} " * 300}, collection="tokens")
        else:
            out.append(await store.get(f"k{i}", collection="tokens"))
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"#;

    fn python(test: &str, mode: &str, root: &Path, count: usize) -> Option<Vec<JsonObject>> {
        let root = root.to_string_lossy();
        let out =
            key_value_test_support::python::run(test, PEER, &[mode, &root, &count.to_string()])?;
        let values: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
        Some(values.into_iter().map(obj).collect())
    }

    async fn tree(dir: &TempDir) -> PathBuf {
        let root = dir.path().join("tree");
        std::fs::create_dir_all(&root).unwrap();
        root.canonicalize().unwrap()
    }

    #[tokio::test]
    async fn python_compresses_into_the_disk_store_and_rust_reads() {
        let dir = temp();
        let root = tree(&dir).await;
        if python("compression_over_disk_python_writes", "write", &root, 3).is_none() {
            return;
        }
        let raw = DiskStore::open(&root).await.unwrap();
        assert!(
            raw.get("k0", C)
                .await
                .unwrap()
                .unwrap()
                .contains_key(DATA_FIELD),
            "Python did not compress"
        );
        let store = raw.layer(Compression::new());
        for i in 0..3 {
            assert_eq!(
                store.get(&format!("k{i}"), C).await.unwrap(),
                Some(large(i))
            );
        }
    }

    #[tokio::test]
    async fn rust_compresses_into_the_disk_store_and_python_reads() {
        let dir = temp();
        let root = tree(&dir).await;
        let store = DiskStore::open(&root)
            .await
            .unwrap()
            .layer(Compression::new());
        for i in 0..3 {
            store
                .put(&format!("k{i}"), large(i), None, C)
                .await
                .unwrap();
        }
        store.close().await.unwrap();
        let Some(read) = python("compression_over_disk_rust_writes", "read", &root, 3) else {
            return;
        };
        assert_eq!(read, (0..3).map(large).collect::<Vec<_>>());
    }
}

#[cfg(feature = "versioning")]
mod versioning {
    use super::*;
    use key_value_layers::versioning::Versioning;

    async fn versioned_sqlite(dir: &TempDir) -> impl AsyncKeyValue + use<> {
        sqlite_in(dir).await.layer(Versioning::new("v1"))
    }

    suite_over!(over_sqlite, versioned_sqlite);

    /// A program's next release, on the same file: the old version's values read as
    /// missing; the old release still reads its own; the file holds the envelope.
    #[tokio::test]
    async fn a_new_release_on_the_same_file_misses_old_values() {
        let dir = temp();
        let path = db(&dir);
        let v1 = sqlite(&path).await.layer(Versioning::new("v1"));
        v1.put("user", obj(json!({"name": "Ada"})), Some(HOUR), C)
            .await
            .unwrap();
        v1.close().await.unwrap();

        let raw = sqlite(&path).await;
        assert_eq!(
            serde_json::Value::Object(raw.get("user", C).await.unwrap().unwrap()),
            json!({"__version__": "v1", "__versioned_data__": {"name": "Ada"}})
        );
        let v2 = sqlite(&path).await.layer(Versioning::new("v2"));
        assert_eq!(v2.get("user", C).await.unwrap(), None);
        assert_eq!(v2.ttl("user", C).await.unwrap(), None);
        v2.put("user", obj(json!({"name": "Ada", "v": 2})), None, C)
            .await
            .unwrap();
        let v1 = raw.layer(Versioning::new("v1"));
        assert_eq!(v1.get("user", C).await.unwrap(), None, "v2 replaced it");
        assert_eq!(
            v2.get("user", C).await.unwrap(),
            Some(obj(json!({"name": "Ada", "v": 2})))
        );
    }
}

#[cfg(feature = "fallback")]
mod fallback {
    use super::*;
    use common::faulty;
    use key_value_core::ErrorKind;
    use key_value_layers::fallback::Fallback;

    /// The primary down: writes (with `write_to_fallback`) land in the SQLite file,
    /// reads come from it; once the primary is back, reads are the primary's again.
    #[tokio::test]
    async fn a_failing_primary_falls_back_to_a_sqlite_file() {
        let dir = temp();
        let path = db(&dir);
        let (primary, faults) = faulty();
        let spare = sqlite(&path).await;
        spare
            .put("k", obj(json!({"v": "spare"})), None, C)
            .await
            .unwrap();
        let store = primary.layer(Fallback::new(spare).write_to_fallback(true));
        faults.then_fail(ErrorKind::Connection);
        assert_eq!(
            store.get("k", C).await.unwrap(),
            Some(obj(json!({"v": "spare"})))
        );
        store
            .put("w", obj(json!({"v": "written"})), Some(HOUR), C)
            .await
            .unwrap();
        assert_eq!(
            store.get_many(&["k", "w", "x"], C).await.unwrap(),
            vec![
                Some(obj(json!({"v": "spare"}))),
                Some(obj(json!({"v": "written"}))),
                None
            ]
        );
        assert!(store.delete("k", C).await.unwrap());

        let reopened = sqlite(&path).await;
        assert_eq!(reopened.get("k", C).await.unwrap(), None);
        let (value, remaining) = reopened.ttl("w", C).await.unwrap().unwrap();
        assert_eq!(value, obj(json!({"v": "written"})));
        assert!(remaining.unwrap() > HOUR - Duration::from_secs(30));

        faults.heal();
        assert_eq!(
            store.get("w", C).await.unwrap(),
            None,
            "the primary's answer"
        );
        assert_eq!(store.primary().memory().get("w", C).await.unwrap(), None);
    }
}

/// "Move my tokens from disk to Redis", on a Redis the test starts (`redis-server`, as
/// `scripts/deps/redis.sh` installs it) or the one `REDIS_URL` names; skipped loudly
/// without one. Collection names of its own, so a shared server is only added to.
#[cfg(feature = "migration")]
mod disk_to_redis {
    use super::*;
    use key_value_layers::migration::{CopyOptions, CopyScope, Migration, copy};
    use key_value_redis::RedisStore;
    use key_value_test_support::redis::single;

    /// A collection name no other run uses.
    fn unique(what: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("layers-{what}-{}-{nanos}", std::process::id())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn copy_and_migration_move_disk_entries_to_redis() {
        let Some(target) = single("key-value-layers disk to Redis") else {
            return;
        };
        let url = target.urls().remove(0);
        let tokens = unique("tokens");
        let clients = unique("clients");
        let dir = temp();
        let old = Arc::new(disk(&dir).await);
        old.put(
            "github",
            obj(json!({"access_token": "at-1"})),
            Some(HOUR),
            Some(&tokens),
        )
        .await
        .unwrap();
        for i in 0..150 {
            old.put(&format!("c{i}"), obj(json!({"i": i})), None, Some(&clients))
                .await
                .unwrap();
        }
        let redis = RedisStore::connect(&url).await.unwrap();
        let report = copy(
            old.as_ref(),
            &redis,
            CopyScope::Collection(&clients),
            CopyOptions::default().batch_size(64),
        )
        .await
        .unwrap();
        assert_eq!((report.collections, report.copied), (1, 150));

        // Lazily for the tokens: the read moves the entry with its remaining time.
        let store = redis.layer(Migration::shared(old.clone()));
        assert_eq!(
            store.get("github", Some(&tokens)).await.unwrap(),
            Some(obj(json!({"access_token": "at-1"})))
        );
        store.close().await.unwrap();

        // A new connection sees both.
        let fresh = RedisStore::connect(&url).await.unwrap();
        let (value, remaining) = fresh.ttl("github", Some(&tokens)).await.unwrap().unwrap();
        assert_eq!(value, obj(json!({"access_token": "at-1"})));
        let remaining = remaining.unwrap();
        assert!(remaining <= HOUR && remaining > HOUR - Duration::from_secs(30));
        assert_eq!(fresh.keys(Some(&clients), None).await.unwrap().len(), 150);
        assert_eq!(
            fresh.get("c149", Some(&clients)).await.unwrap(),
            Some(obj(json!({"i": 149})))
        );
        assert_eq!(
            fresh.ttl("c0", Some(&clients)).await.unwrap().unwrap().1,
            None
        );
        fresh.destroy_collection(&tokens).await.unwrap();
        fresh.destroy_collection(&clients).await.unwrap();
    }
}
