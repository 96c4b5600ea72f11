//! Names that share a file in py-key-value's FileTree layout: never does one name's entry
//! replace another's; the first keeps py-key-value's file, the next goes to an overflow
//! file, and where both are taken by other names the operation is a clear error.

#![allow(clippy::unwrap_used)] // test code

use key_value_core::prelude::*;
use key_value_disk::DiskStore;

fn value(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

#[tokio::test]
async fn long_names_that_share_python_s_file_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    // Only [A-Za-z0-9_], longer than 250: py-key-value cuts both to `S_` + 248 `x`.
    let a = format!("{}a", "x".repeat(300));
    let b = format!("{}b", "x".repeat(300));
    store.put(&a, value(1), None, Some("c")).await.unwrap();
    let python_file = store.entry_path("c", &a);
    assert_eq!(
        python_file.file_name().unwrap().to_string_lossy(),
        format!("S_{}.json", "x".repeat(248))
    );
    store.put(&b, value(2), None, Some("c")).await.unwrap();
    let overflow = store.entry_path("c", &b);
    assert_ne!(overflow, python_file);
    assert_eq!(store.get(&a, Some("c")).await.unwrap(), Some(value(1)));
    assert_eq!(store.get(&b, Some("c")).await.unwrap(), Some(value(2)));
    let mut keys = store.keys(Some("c"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, vec![a.clone(), b.clone()]);
    // Overwrites stay in place; deleting one leaves the other.
    store.put(&b, value(3), None, Some("c")).await.unwrap();
    assert_eq!(store.get(&a, Some("c")).await.unwrap(), Some(value(1)));
    assert!(store.delete(&a, Some("c")).await.unwrap());
    assert_eq!(store.get(&b, Some("c")).await.unwrap(), Some(value(3)));
    assert_eq!(store.keys(Some("c"), None).await.unwrap(), vec![b.clone()]);
    // put_if_absent sees the entry where it is.
    assert!(
        !store
            .put_if_absent(&b, value(4), None, Some("c"))
            .await
            .unwrap()
    );
    assert!(
        store
            .put_if_absent(&a, value(5), None, Some("c"))
            .await
            .unwrap()
    );
    assert_eq!(store.get(&a, Some("c")).await.unwrap(), Some(value(5)));
}

#[tokio::test]
async fn long_collections_that_share_python_s_directory_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    let a = format!("{}a", "y".repeat(300));
    let b = format!("{}b", "y".repeat(300));
    store.put("k", value(1), None, Some(&a)).await.unwrap();
    store.put("k", value(2), None, Some(&b)).await.unwrap();
    assert_ne!(store.entry_path(&a, "k"), store.entry_path(&b, "k"));
    assert_eq!(store.get("k", Some(&a)).await.unwrap(), Some(value(1)));
    assert_eq!(store.get("k", Some(&b)).await.unwrap(), Some(value(2)));
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, vec![a.clone(), b.clone()]);
    assert!(store.destroy_collection(&a).await.unwrap());
    assert_eq!(store.get("k", Some(&b)).await.unwrap(), Some(value(2)));
}

#[tokio::test]
async fn a_name_whose_files_both_hold_other_names_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    let a = format!("{}a", "z".repeat(300));
    let b = format!("{}b", "z".repeat(300));
    let c = format!("{}c", "z".repeat(300));
    store.put(&a, value(1), None, Some("c")).await.unwrap();
    store.put(&b, value(2), None, Some("c")).await.unwrap();
    // Someone plants b's entry at c's overflow file: both of c's files hold other names.
    let c_overflow = {
        store.put(&c, value(3), None, Some("c")).await.unwrap();
        store.entry_path("c", &c)
    };
    std::fs::copy(store.entry_path("c", &b), &c_overflow).unwrap();
    let err = store.put(&c, value(4), None, Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
    assert!(
        err.to_string().contains("holds the entry of another name"),
        "{err}"
    );
    let err = store.get(&c, Some("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err}");
    // Nothing was replaced.
    assert_eq!(store.get(&a, Some("c")).await.unwrap(), Some(value(1)));
    assert_eq!(store.get(&b, Some("c")).await.unwrap(), Some(value(2)));
    assert!(!store.delete(&c, Some("c")).await.unwrap());
    assert_eq!(store.get(&b, Some("c")).await.unwrap(), Some(value(2)));
}

/// `collections` names a directory whose info file is gone by an entry filed there, and
/// lists it while any of its entries is live: among 40 expired ones (at whatever place
/// the directory lists it), or alone, when the entry that names the collection is the
/// live one.
#[tokio::test]
async fn a_collection_without_its_info_file_is_named_by_its_entries() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).await.unwrap();
    for n in 0..40 {
        let ttl = Some(Duration::from_secs(1));
        let key = format!("short-{n}");
        store.put(&key, value(n), ttl, Some("c")).await.unwrap();
    }
    store.put("kept", value(-1), None, Some("c")).await.unwrap();
    store
        .put("only", value(0), None, Some("solo"))
        .await
        .unwrap();
    for (collection, key) in [("c", "kept"), ("solo", "only")] {
        let collection_dir = store
            .entry_path(collection, key)
            .parent()
            .unwrap()
            .to_owned();
        let dir_name = collection_dir.file_name().unwrap().to_string_lossy();
        std::fs::remove_file(dir.path().join(format!("{dir_name}-info.json"))).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, vec!["c".to_owned(), "solo".to_owned()]);
    assert!(store.delete("kept", Some("c")).await.unwrap());
    assert_eq!(
        store.collections(None).await.unwrap(),
        vec!["solo".to_owned()]
    );
}
