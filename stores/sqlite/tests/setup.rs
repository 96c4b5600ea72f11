//! Opening files that are not ours: clear `Setup` errors, and the file left untouched.

#![allow(clippy::unwrap_used)] // test code

use key_value_core::prelude::*;
use key_value_sqlite::SqliteStore;
use rusqlite::Connection;

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file was changed"
    );
}

#[tokio::test]
async fn a_table_with_another_schema_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE keyvalue_entries (id INTEGER PRIMARY KEY, blob BLOB);
             INSERT INTO keyvalue_entries (blob) VALUES (x'00ff');",
        )
        .unwrap();
    drop(connection);
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
    assert!(err.to_string().contains("columns"), "{err}");
    let connection = Connection::open(&path).unwrap();
    let rows: i64 = connection
        .query_row("SELECT count(*) FROM keyvalue_entries", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(rows, 1, "the foreign table was changed");
}

#[tokio::test]
async fn the_table_lives_beside_other_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');")
        .unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    store.put("k", JsonObject::new(), None, None).await.unwrap();
    drop(store);
    let connection = Connection::open(&path).unwrap();
    let name: String = connection
        .query_row("SELECT name FROM users", [], |row| row.get(0))
        .unwrap();
    assert_eq!(name, "ada");
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn reopening_keeps_entries_and_their_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut value = JsonObject::new();
    value.insert("n".into(), 1.into());
    let hour = std::time::Duration::from_secs(3600);
    store
        .put("k", value.clone(), Some(hour), None)
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    let (found, left) = store.ttl("k", None).await.unwrap().unwrap();
    assert_eq!(found, value);
    assert!(left.unwrap() <= hour && left.unwrap() > hour - std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn a_directory_that_does_not_exist_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path().join("missing/dir/store.db"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.put("k", JsonObject::new(), None, None).await.unwrap();
    for file in ["tokens.db", "tokens.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
