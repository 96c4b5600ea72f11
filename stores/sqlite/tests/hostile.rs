//! Hostile databases and paths: rows of the wrong type are an error for their own key
//! and never break enumeration; tables that would make writes fail or merge keys are
//! refused at open; paths that are links or special files are refused, and new files
//! are owner-only.

#![allow(clippy::unwrap_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};

use key_value_core::prelude::*;
use key_value_sqlite::SqliteStore;
use rusqlite::Connection;

fn value(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

/// A store with the good key `good` in collections `c`, and a raw connection to plant
/// rows beside it. `table` creates the table first when given.
async fn store_with(table: Option<&str>) -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    if let Some(table) = table {
        Connection::open(&path)
            .unwrap()
            .execute_batch(table)
            .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    store.put("good", value(1), None, Some("c")).await.unwrap();
    (dir, path, store)
}

fn plant(path: &Path, sql: &str) {
    Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

#[tokio::test]
async fn rows_whose_names_are_not_text_are_skipped_in_enumeration() {
    let (_dir, path, store) = store_with(None).await;
    plant(
        &path,
        "INSERT INTO keyvalue_entries VALUES ('c', x'6b31', '{}', NULL, NULL, 1);
         INSERT INTO keyvalue_entries VALUES ('c', CAST(x'ff00fe' AS TEXT), '{}', NULL, NULL, 1);
         INSERT INTO keyvalue_entries VALUES ('c', 12, '{}', NULL, NULL, 1);
         INSERT INTO keyvalue_entries VALUES (x'6332', 'k', '{}', NULL, NULL, 1);
         INSERT INTO keyvalue_entries VALUES (CAST(x'c3' AS TEXT), 'k', '{}', NULL, NULL, 1);",
    );
    store.put("other", value(2), None, Some("d")).await.unwrap();
    // `12` went in as the text '12' (TEXT affinity) and is a real key.
    let mut keys = store.keys(Some("c"), None).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["12", "good"]);
    let mut collections = store.collections(None).await.unwrap();
    collections.sort();
    assert_eq!(collections, ["c", "d"]);
    // A limit counts only the names returned.
    assert_eq!(store.keys(Some("c"), Some(2)).await.unwrap().len(), 2);
    assert_eq!(store.collections(Some(1)).await.unwrap().len(), 1);
    // The blob `k1` is not the key "k1"; reads of the good key are unaffected.
    assert_eq!(store.get("k1", Some("c")).await.unwrap(), None);
    assert_eq!(store.get("good", Some("c")).await.unwrap(), Some(value(1)));
    // Destroying the collection takes the unnamed rows with it.
    assert!(store.destroy_collection("c").await.unwrap());
    let left: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM keyvalue_entries WHERE collection = 'c'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

/// A table without NOT NULL, and with an untyped `value` (no affinity: what goes in stays
/// as it is), so that NULLs and numbers can be planted. The store accepts it.
const LOOSE: &str = "CREATE TABLE keyvalue_entries (
    collection TEXT, key TEXT, value, created_at INTEGER, expires_at INTEGER,
    version INTEGER, PRIMARY KEY (collection, key)) WITHOUT ROWID;";

#[tokio::test]
async fn columns_of_the_wrong_type_are_an_error_for_their_key_alone() {
    let (_dir, path, store) = store_with(Some(LOOSE)).await;
    let bad = [
        (
            "blob_value",
            "x'7b7d', NULL, NULL, 1",
            "value column holds a BLOB",
        ),
        (
            "int_value",
            "7, NULL, NULL, 1",
            "value column holds an INTEGER",
        ),
        (
            "real_value",
            "1.5, NULL, NULL, 1",
            "value column holds a REAL",
        ),
        (
            "null_value",
            "NULL, NULL, NULL, 1",
            "value column holds NULL",
        ),
        (
            "not_utf8",
            "CAST(x'7bff7d' AS TEXT), NULL, NULL, 1",
            "not valid JSON",
        ),
        ("array", "'[1, 2]', NULL, NULL, 1", "not a JSON object"),
        ("number", "'3', NULL, NULL, 1", "not a JSON object"),
        (
            "text_created",
            "'{}', 'yesterday', NULL, 1",
            "created_at column holds TEXT",
        ),
        (
            "real_expires",
            "'{}', NULL, 1.0e20, 1",
            "expires_at column holds a REAL",
        ),
        (
            "blob_expires",
            "'{}', NULL, x'00', 1",
            "expires_at column holds a BLOB",
        ),
        (
            "text_version",
            "'{}', NULL, NULL, 'one'",
            "version column holds TEXT",
        ),
        (
            "null_version",
            "'{}', NULL, NULL, NULL",
            "version column holds NULL",
        ),
        (
            "negative_version",
            "'{}', NULL, NULL, -1",
            "negative version",
        ),
        ("future_version", "'{}', NULL, NULL, 2", "version 2"),
        (
            "huge_created",
            "'{}', -5, NULL, 1",
            "created_at is out of range",
        ),
    ];
    for (key, columns, _) in &bad {
        plant(
            &path,
            &format!("INSERT INTO keyvalue_entries VALUES ('c', '{key}', {columns});"),
        );
    }
    for (key, _, says) in &bad {
        for result in [
            store.get(key, Some("c")).await.map(|_| ()),
            store.ttl(key, Some("c")).await.map(|_| ()),
            store.get_many(&["good", key], Some("c")).await.map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Deserialization, "{key}: {err}");
            assert_eq!(err.key(), Some(*key), "{err}");
            assert_eq!(err.collection(), Some("c"), "{err}");
            assert!(err.to_string().contains(says), "{key}: {err}");
        }
    }
    // Everything else keeps working beside them.
    assert_eq!(store.get("good", Some("c")).await.unwrap(), Some(value(1)));
    assert_eq!(
        store
            .get_many(&["good", "missing"], Some("c"))
            .await
            .unwrap(),
        [Some(value(1)), None]
    );
    assert_eq!(
        store.keys(Some("c"), None).await.unwrap().len(),
        bad.len() + 1
    );
    assert!(
        store
            .collections(None)
            .await
            .unwrap()
            .contains(&"c".to_owned())
    );
    store.cull().await.unwrap();
    // Each bad row can be replaced or deleted (and counts as there when deleted).
    store
        .put("blob_value", value(3), None, Some("c"))
        .await
        .unwrap();
    assert_eq!(
        store.get("blob_value", Some("c")).await.unwrap(),
        Some(value(3))
    );
    assert!(store.delete("real_expires", Some("c")).await.unwrap());
    assert!(store.delete("blob_expires", Some("c")).await.unwrap());
    assert_eq!(
        store
            .delete_many(&["text_created", "null_value", "missing"], Some("c"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get("real_expires", Some("c")).await.unwrap(), None);
}

/// Opens a database whose table was made by `table`, expecting a `Setup` error that says
/// `says`, and the table left as it was.
async fn refused(table: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    plant(&path, table);
    let before: String = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT group_concat(sql, ';') FROM sqlite_schema",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{table}: {err}");
    let text = err.to_string();
    assert!(text.contains(says), "{table}: {text}");
    assert!(text.contains("keyvalue_entries"), "{text}");
    let after: String = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT group_concat(sql, ';') FROM sqlite_schema",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(before, after, "the schema was changed");
}

const COLUMNS: &str = "collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, \
                       created_at INTEGER, expires_at INTEGER, version INTEGER NOT NULL DEFAULT 1";

#[tokio::test]
async fn tables_that_would_break_writes_or_merge_keys_are_refused() {
    refused(
        &format!("CREATE TABLE keyvalue_entries ({COLUMNS})"),
        "has no PRIMARY KEY (collection, key)",
    )
    .await;
    refused(
        &format!("CREATE TABLE keyvalue_entries ({COLUMNS}, PRIMARY KEY (key, collection))"),
        "its primary key is (key COLLATE BINARY, collection COLLATE BINARY)",
    )
    .await;
    refused(
        &format!("CREATE TABLE keyvalue_entries ({COLUMNS}, PRIMARY KEY (collection))"),
        "its primary key is (collection COLLATE BINARY)",
    )
    .await;
    refused(
        &format!(
            "CREATE TABLE keyvalue_entries ({COLUMNS}, \
             PRIMARY KEY (collection, key COLLATE NOCASE)) WITHOUT ROWID"
        ),
        "key COLLATE NOCASE",
    )
    .await;
    refused(
        "CREATE TABLE keyvalue_entries (collection TEXT, key INTEGER, value TEXT, \
         created_at INTEGER, expires_at INTEGER, version INTEGER, PRIMARY KEY (collection, key))",
        "column key is declared `INTEGER`",
    )
    .await;
    refused(
        "CREATE TABLE keyvalue_entries (collection TEXT, key TEXT, value TEXT, \
         created_at REAL, expires_at INTEGER, version INTEGER, PRIMARY KEY (collection, key))",
        "column created_at is declared `REAL`",
    )
    .await;
    refused(
        "CREATE TABLE keyvalue_entries (collection TEXT, key TEXT, value TEXT, \
         created_at INTEGER, expires_at TEXT, version INTEGER, PRIMARY KEY (collection, key))",
        "column expires_at is declared `TEXT`",
    )
    .await;
    refused(
        "CREATE TABLE keyvalue_entries (key TEXT, collection TEXT, value TEXT, \
         created_at INTEGER, expires_at INTEGER, version INTEGER, PRIMARY KEY (collection, key))",
        "has the columns",
    )
    .await;
    refused(
        &format!(
            "CREATE TABLE t ({COLUMNS}, PRIMARY KEY (collection, key));
             CREATE VIEW keyvalue_entries AS SELECT * FROM t"
        ),
        "is not a table",
    )
    .await;
}

#[tokio::test]
async fn a_rowid_table_without_not_null_is_accepted_and_works() {
    let (_dir, path, store) = store_with(Some(
        "CREATE TABLE keyvalue_entries (collection TEXT, key TEXT, value TEXT, \
         created_at INTEGER, expires_at INTEGER, version INTEGER, PRIMARY KEY (collection, key))",
    ))
    .await;
    store.put("good", value(2), None, Some("c")).await.unwrap();
    store.put("Good", value(3), None, Some("c")).await.unwrap();
    assert_eq!(store.get("good", Some("c")).await.unwrap(), Some(value(2)));
    assert_eq!(store.get("Good", Some("c")).await.unwrap(), Some(value(3)));
    drop(store);
    assert!(path.is_file());
}

#[cfg(unix)]
mod paths {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_dangling_link_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere/tokens.db");
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        let link = dir.path().join("tokens.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = SqliteStore::open(&link).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("tokens.db") && text.contains("symbolic link"),
            "{text}"
        );
        assert!(
            !target.exists(),
            "the database was created through the link"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("elsewhere"))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn a_link_to_an_existing_database_file_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.db");
        drop(SqliteStore::open(&target).await.unwrap());
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let store = SqliteStore::open(&link).await.unwrap();
        store.put("k", value(1), None, None).await.unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(mode(&target), 0o600);
        assert_eq!(mode(&dir.path().join("real.db-wal")), 0o600);
        assert!(!dir.path().join("link.db-wal").exists());
    }

    #[tokio::test]
    async fn special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.db");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = SqliteStore::open(&fifo).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup);
        assert!(err.to_string().contains("is a named pipe"), "{err}");

        let link = dir.path().join("dir-link.db");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let err = SqliteStore::open(&link).await.unwrap_err();
        assert!(
            err.to_string().contains("a symbolic link to a directory"),
            "{err}"
        );

        let err = SqliteStore::open(dir.path()).await.unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");

        let err = SqliteStore::open("/dev/null").await.unwrap_err();
        assert!(err.to_string().contains("is a device"), "{err}");

        // A pipe where SQLite keeps the write-ahead log.
        let path = dir.path().join("store.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let _ = std::fs::remove_file(dir.path().join("store.db-wal"));
        let wal = dir.path().join("store.db-wal");
        let made = std::process::Command::new("mkfifo")
            .arg(&wal)
            .status()
            .unwrap();
        assert!(made.success());
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(
            err.to_string().contains("store.db-wal is a named pipe"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn new_files_are_owner_only_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.db");
        // A second process with another umask would be the same: the mode is set, not
        // left to the umask.
        let store = SqliteStore::open(&path).await.unwrap();
        store.put("k", value(1), None, None).await.unwrap();
        for file in ["tokens.db", "tokens.db-wal", "tokens.db-shm"] {
            assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
        }
    }

    #[tokio::test]
    async fn names_sqlite_reads_as_uris_or_memory_are_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        // Absolute paths here; tests/relative_names.rs opens them relative to the
        // current directory, the form in which SQLite would read them as URIs.
        for name in ["file:tokens.db?mode=memory", ":memory:", "file::memory:"] {
            let path = dir.path().join(name);
            let store = SqliteStore::open(&path).await.unwrap();
            store.put("k", value(1), None, None).await.unwrap();
            drop(store);
            assert!(path.is_file(), "{name}");
            assert_eq!(mode(&path), 0o600, "{name}");
            let store = SqliteStore::open(&path).await.unwrap();
            assert_eq!(
                store.get("k", None).await.unwrap(),
                Some(value(1)),
                "{name}"
            );
        }
    }
}
