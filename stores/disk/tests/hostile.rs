//! Hostile files where entries and collections belong: named pipes, sockets, directories,
//! links out of the root, oversized and foreign files. Each is an error for its key
//! alone (never followed, never waited on), enumeration and `cull` skip it, and other
//! keys and collections keep working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use key_value_core::prelude::*;
use key_value_disk::DiskStore;

fn value(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

/// Fails the test (instead of hanging it) when `work` blocks: a store that opens a named
/// pipe for reading waits for a writer for ever.
async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(20), work).await {
        Ok(out) => out,
        Err(_) => panic!("{what} blocked"),
    }
}

/// A store with two live keys `good` and `victim` in collection `c`, and `other` in
/// collection `d`.
async fn store(dir: &Path) -> DiskStore {
    let store = DiskStore::open(dir.join("store")).await.unwrap();
    for (key, collection) in [("good", "c"), ("victim", "c"), ("other", "d")] {
        store
            .put(key, value(1), None, Some(collection))
            .await
            .unwrap();
    }
    store
}

/// Replaces the entry file of `victim` with what `plant` makes at its path.
fn replace_victim(store: &DiskStore, plant: impl FnOnce(&Path)) -> PathBuf {
    let path = store.entry_path("c", "victim");
    std::fs::remove_file(&path).unwrap();
    plant(&path);
    path
}

/// Every operation on `victim` fails or answers without blocking, and nothing else is hurt.
async fn contained(store: &DiskStore, what: &str) {
    let err = within(what, store.get("victim", Some("c")))
        .await
        .expect_err(what);
    assert!(
        matches!(err.kind(), ErrorKind::Deserialization | ErrorKind::Backend),
        "{what}: {err}"
    );
    assert_eq!(err.key(), Some("victim"), "{what}: {err}");
    assert!(
        within(what, store.get_many(&["victim", "good"], Some("c")))
            .await
            .is_err(),
        "{what}: get_many"
    );
    assert_eq!(
        within(what, store.keys(Some("c"), None)).await.unwrap(),
        vec!["good".to_owned()],
        "{what}: keys"
    );
    within(what, store.cull()).await.unwrap();
    let mut collections = within(what, store.collections(None)).await.unwrap();
    collections.sort();
    assert_eq!(collections, vec!["c".to_owned(), "d".to_owned()], "{what}");
    assert_eq!(
        store.get("good", Some("c")).await.unwrap(),
        Some(value(1)),
        "{what}"
    );
    // A put replaces the hostile file with an entry, as it repairs a corrupt one.
    within(what, store.put("victim", value(2), None, Some("c")))
        .await
        .unwrap();
    assert_eq!(
        store.get("victim", Some("c")).await.unwrap(),
        Some(value(2)),
        "{what}"
    );
}

#[tokio::test]
async fn a_named_pipe_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    replace_victim(&store, |path| {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
    });
    contained(&store, "a named pipe").await;
}

#[tokio::test]
async fn a_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let mut listener = None;
    replace_victim(&store, |path| {
        listener = Some(std::os::unix::net::UnixListener::bind(path).unwrap());
    });
    contained(&store, "a socket").await;
}

#[tokio::test]
async fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let path = replace_victim(&store, |path| std::fs::create_dir(path).unwrap());
    let err = store.get("victim", Some("c")).await.unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
    assert_eq!(store.keys(Some("c"), None).await.unwrap(), vec!["good"]);
    store.cull().await.unwrap();
    assert!(path.is_dir());
}

#[tokio::test]
async fn a_link_to_a_file_outside_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let outside = dir.path().join("outside.json");
    // A valid entry, so that following the link would "work".
    std::fs::write(
        &outside,
        r#"{"collection": "c", "key": "victim", "value": {"secret": 1}, "version": 1}"#,
    )
    .unwrap();
    replace_victim(&store, |path| {
        std::os::unix::fs::symlink(&outside, path).unwrap()
    });
    let err = store.get("victim", Some("c")).await.unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(store.keys(Some("c"), None).await.unwrap(), vec!["good"]);
    // Deleting removes the link, never what it points to.
    store.delete("victim", Some("c")).await.unwrap();
    assert!(outside.exists());
    contained_after_delete(&store).await;
}

async fn contained_after_delete(store: &DiskStore) {
    assert_eq!(store.get("victim", Some("c")).await.unwrap(), None);
    store
        .put("victim", value(3), None, Some("c"))
        .await
        .unwrap();
    assert_eq!(
        store.get("victim", Some("c")).await.unwrap(),
        Some(value(3))
    );
}

#[tokio::test]
async fn a_link_to_an_endless_device_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    replace_victim(&store, |path| {
        std::os::unix::fs::symlink("/dev/zero", path).unwrap()
    });
    contained(&store, "a link to /dev/zero").await;
}

#[tokio::test]
async fn a_linked_collection_directory_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    // The collection's directory becomes a link to a directory holding a valid copy.
    let collection_dir = store.entry_path("c", "good").parent().unwrap().to_owned();
    let entry_name = store
        .entry_path("c", "good")
        .file_name()
        .unwrap()
        .to_owned();
    std::fs::copy(store.entry_path("c", "good"), outside.join(&entry_name)).unwrap();
    std::fs::remove_dir_all(&collection_dir).unwrap();
    std::os::unix::fs::symlink(&outside, &collection_dir).unwrap();

    for err in [
        store.get("good", Some("c")).await.unwrap_err(),
        store
            .put("new", value(1), None, Some("c"))
            .await
            .unwrap_err(),
        store.delete("good", Some("c")).await.unwrap_err(),
        store.keys(Some("c"), None).await.unwrap_err(),
        store
            .put_if_absent("new", value(1), None, Some("c"))
            .await
            .unwrap_err(),
    ] {
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
    // Nothing was written or removed outside the root.
    let names: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().collect();
    assert_eq!(names.len(), 1);
    assert!(outside.join(&entry_name).exists());
    // The rest of the store carries on.
    assert_eq!(store.collections(None).await.unwrap(), vec!["d".to_owned()]);
    store.cull().await.unwrap();
    assert_eq!(store.get("other", Some("d")).await.unwrap(), Some(value(1)));
}

#[tokio::test]
async fn reads_and_writes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::builder(dir.path())
        .max_entry_bytes(1024)
        .open()
        .await
        .unwrap();
    assert_eq!(store.capabilities().max_entry_bytes, Some(1024));
    store
        .put("victim", value(1), None, Some("c"))
        .await
        .unwrap();
    let mut big = JsonObject::new();
    big.insert("s".into(), "x".repeat(2000).into());
    let err = store
        .put("big", big.clone(), None, Some("c"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
    assert!(err.to_string().contains("1024"), "{err}");
    assert_eq!(store.get("big", Some("c")).await.unwrap(), None);
    // A large file planted in place of an entry is refused, read no further than the limit.
    let path = store.entry_path("c", "victim");
    let document = format!(
        r#"{{"collection": "c", "key": "victim", "value": {{"s": "{}"}}, "version": 1}}"#,
        "x".repeat(5000)
    );
    std::fs::write(&path, document).unwrap();
    let err = store.get("victim", Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deserialization, "{err}");
    assert!(err.to_string().contains("1024"), "{err}");
}

#[tokio::test]
async fn foreign_files_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let collection_dir = store.entry_path("c", "good").parent().unwrap().to_owned();
    // Not JSON; JSON that is not an entry; an entry of another collection; an entry under
    // a file name that is not its key's; an entry py-key-value wrote (no names).
    std::fs::write(collection_dir.join("junk.json"), "not json").unwrap();
    std::fs::write(collection_dir.join("list.json"), "[1, 2]").unwrap();
    std::fs::write(
        collection_dir.join("elsewhere.json"),
        r#"{"collection": "zzz", "key": "elsewhere", "value": {}, "version": 1}"#,
    )
    .unwrap();
    std::fs::write(
        collection_dir.join("misfiled.json"),
        r#"{"collection": "c", "key": "not-misfiled", "value": {}, "version": 1}"#,
    )
    .unwrap();
    std::fs::write(
        collection_dir.join("python.json"),
        r#"{"created_at": "2026-01-01T00:00:00+00:00", "value": {"a": 1}, "version": 1}"#,
    )
    .unwrap();
    let mut keys = store.keys(Some("c"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["good".to_owned(), "victim".to_owned()]);
    // What get finds is what keys lists, and the Python entry is still read by get.
    for key in &keys {
        assert!(store.get(key, Some("c")).await.unwrap().is_some());
    }
    assert_eq!(store.get("not-misfiled", Some("c")).await.unwrap(), None);
    assert_eq!(
        store.get("python", Some("c")).await.unwrap(),
        Some(serde_json::json!({"a": 1}).as_object().cloned().unwrap())
    );
    store.cull().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_collection_does_not_stop_the_others() {
    if rustix::process::geteuid().is_root() {
        // Permissions do not stop root; the linked-directory test covers the same path.
        eprintln!("skipped: running as root, a mode-000 directory stays readable");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let collection_dir = store.entry_path("c", "good").parent().unwrap().to_owned();
    std::fs::set_permissions(&collection_dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    store.cull().await.unwrap();
    let collections = store.collections(None).await.unwrap();
    std::fs::set_permissions(&collection_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(collections, vec!["d".to_owned()]);
}
