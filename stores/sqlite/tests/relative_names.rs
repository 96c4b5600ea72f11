//! Relative paths that SQLite would read as a URI (`file:…`) or as an in-memory database
//! (`:memory:`) are plain files in the current directory. Its own test binary with one
//! test, since it changes the process's current directory.

#![allow(clippy::unwrap_used)] // test code

use key_value_core::prelude::*;
use key_value_sqlite::SqliteStore;

#[tokio::test]
async fn relative_uri_like_names_are_files_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let mut value = JsonObject::new();
    value.insert("n".into(), 1.into());
    for name in [
        "file:tokens.db?mode=memory",
        "file:sub/x.db",
        ":memory:",
        "file::memory:?cache=shared",
    ] {
        if name.contains('/') {
            std::fs::create_dir_all(dir.path().join("file:sub")).unwrap();
        }
        let store = SqliteStore::open(name).await.unwrap();
        store.put("k", value.clone(), None, None).await.unwrap();
        drop(store);
        assert!(dir.path().join(name).is_file(), "{name}");
        // A second open sees the entry: it was in the file, not in memory.
        let store = SqliteStore::open(name).await.unwrap();
        assert_eq!(
            store.get("k", None).await.unwrap(),
            Some(value.clone()),
            "{name}"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ":memory:",
            "file::memory:?cache=shared",
            "file:sub",
            "file:tokens.db?mode=memory"
        ]
    );
}
