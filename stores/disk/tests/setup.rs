//! The directory: created owner-only, refused when it is not ours, and files that are
//! not entries fail for their key alone.

#![allow(clippy::unwrap_used)] // test code

use key_value_core::prelude::*;
use key_value_disk::DiskStore;

fn value(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

#[cfg(unix)]
#[tokio::test]
async fn the_directory_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/tokens");
    let store = DiskStore::open(&root).await.unwrap();
    store.put("k", value(1), None, Some("c")).await.unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    let entry = store.entry_path("c", "k");
    assert_eq!(mode(entry.parent().unwrap()), 0o700);
    assert_eq!(mode(&entry), 0o600);
}

#[tokio::test]
async fn a_file_in_place_of_the_directory_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, "x").unwrap();
    let err = DiskStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[tokio::test]
async fn a_store_of_another_layout_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".key-value-disk"),
        "key-value-disk layout 9\n",
    )
    .unwrap();
    let err = DiskStore::open(dir.path()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("layout"), "{err}");
}

#[tokio::test]
async fn another_keys_file_is_not_taken_for_this_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    store.put("a", value(1), None, Some("c")).await.unwrap();
    store.put("b", value(2), None, Some("c")).await.unwrap();
    // A file copied over another key's entry must not pass for it, nor be listed twice,
    // nor be overwritten by that key's next put.
    std::fs::copy(store.entry_path("c", "a"), store.entry_path("c", "b")).unwrap();
    assert_eq!(store.get("b", Some("c")).await.unwrap(), None);
    assert_eq!(
        store.keys(Some("c"), None).await.unwrap(),
        vec!["a".to_owned()]
    );
    store.put("b", value(3), None, Some("c")).await.unwrap();
    assert_eq!(store.get("b", Some("c")).await.unwrap(), Some(value(3)));
    assert_eq!(store.get("a", Some("c")).await.unwrap(), Some(value(1)));
    let mut keys = store.keys(Some("c"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["a".to_owned(), "b".to_owned()]);
    assert!(store.delete("b", Some("c")).await.unwrap());
    assert_eq!(store.get("a", Some("c")).await.unwrap(), Some(value(1)));
}

#[tokio::test]
async fn reopening_keeps_entries_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    store
        .put("../x", value(1), None, Some("C:\\y"))
        .await
        .unwrap();
    drop(store);
    let store = DiskStore::open(dir.path()).await.unwrap();
    assert_eq!(
        store.get("../x", Some("C:\\y")).await.unwrap(),
        Some(value(1))
    );
    assert_eq!(
        store.keys(Some("C:\\y"), None).await.unwrap(),
        vec!["../x".to_owned()]
    );
    assert_eq!(
        store.collections(None).await.unwrap(),
        vec!["C:\\y".to_owned()]
    );
}

#[tokio::test]
async fn every_durability_level_is_kept_and_serves_reads_writes_and_deletes() {
    use key_value_core::Durability;
    for (durability, name) in [
        (Durability::ProcessCrash, "ProcessCrash"),
        (Durability::PowerLossAtomic, "PowerLossAtomic"),
        (Durability::PowerLoss, "PowerLoss"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::builder(dir.path())
            .durability(durability)
            .open()
            .await
            .unwrap();
        let shown = format!("{store:?}");
        assert!(shown.contains(&format!("durability: {name}")), "{shown}");
        store.put("k", value(5), None, None).await.unwrap();
        store
            .put_many(&["a", "b"], vec![value(1), value(2)], None, Some("c"))
            .await
            .unwrap();
        assert_eq!(store.get("k", None).await.unwrap(), Some(value(5)));
        assert_eq!(store.get("b", Some("c")).await.unwrap(), Some(value(2)));
        assert!(store.delete("k", None).await.unwrap());
        assert_eq!(store.delete_many(&["a", "b"], Some("c")).await.unwrap(), 2);
        assert_eq!(store.get("a", Some("c")).await.unwrap(), None);
        // A second store on the same directory (another process, after a restart)
        // sees the same state.
        drop(store);
        let again = DiskStore::open(dir.path()).await.unwrap();
        assert_eq!(again.keys(None, None).await.unwrap(), Vec::<String>::new());
    }
}
