//! py-key-value's `FileTreeStore` (with its `FileTreeV1` strategies) and this store share
//! one directory: for every name of the conformance corpus, as a key and as a
//! collection, Python writes and Rust reads, Rust writes and Python reads, plain and
//! under Fernet; file names agree, and entry files agree byte for byte apart from the
//! timestamp and the `key` and `collection` fields this store adds.
//!
//! Names that py-key-value's own layout puts in one file (long names of `[A-Za-z0-9_]`
//! cut short without a hash) are checked as far as Python can keep them apart: for keys,
//! the last one Python wrote is what Rust reads, and the first one Rust wrote is what
//! Python reads (later ones go to this store's overflow files, which Python does not
//! read); collections sharing a directory are mixed up by Python itself and are
//! checked only from Rust to Python.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "../../../conformance/src/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use key_value_core::{AsyncKeyValue, JsonObject};
use key_value_disk::DiskStore;
use key_value_fernet::{FernetKey, FernetWrapper};
use serde_json::{Value, json};

const TEST: &str = "key-value-disk python_interop";
const KEYS_IN: &str = "interop";

/// argv: mode (`write` or `read`), directory, Fernet key or `-`, JSON list of names.
/// Prints `{"key_files": [...], "dirs": [...], "keys": [...], "collections": [...]}`:
/// the FileTreeV1 names and (when reading) what Python reads for each name.
const PYTHON: &str = r#"
import asyncio, json, sys
from pathlib import Path
from key_value.aio.stores.filetree import (
    FileTreeStore, FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy)

async def main(mode, directory, key, names):
    directory = Path(directory)
    keys = FileTreeV1KeySanitizationStrategy(directory=directory)
    collections = FileTreeV1CollectionSanitizationStrategy(directory=directory)
    store = FileTreeStore(data_directory=directory, key_sanitization_strategy=keys,
                          collection_sanitization_strategy=collections)
    if key != "-":
        from cryptography.fernet import Fernet
        from key_value.aio.wrappers.encryption import FernetEncryptionWrapper
        store = FernetEncryptionWrapper(store, fernet=Fernet(key))
    out = {"key_files": [keys.sanitize(n) for n in names],
           "dirs": [collections.sanitize(n) for n in names]}
    if mode == "write":
        for i, name in enumerate(names):
            await store.put(name, {"i": i, "name": name, "as": "key"}, collection="interop")
            await store.put("k", {"i": i, "name": name, "as": "collection"}, collection=name)
        await store.put("bytes", {"s": "\u00e9 \U0001f980 \"q\" \\", "f": [1.0, 1e16, -0.0, 5e-324],
                                  "n": {"z": 1, "a": None}}, collection="bytes-check", ttl=600)
    else:
        out["keys"] = [await store.get(n, collection="interop") for n in names]
        out["collections"] = [await store.get("k", collection=n) for n in names]
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
"#;

fn names() -> Vec<String> {
    let mut names = corpus::special_names();
    for (a, b) in corpus::lookalike_pairs() {
        names.push(a);
        names.push(b);
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

fn value(i: usize, name: &str, role: &str) -> JsonObject {
    json!({"i": i, "name": name, "as": role})
        .as_object()
        .cloned()
        .unwrap()
}

struct Python {
    key_files: Vec<String>,
    dirs: Vec<String>,
    keys: Vec<Value>,
    collections: Vec<Value>,
}

fn python(mode: &str, dir: &Path, key: &str, names: &[String]) -> Option<Python> {
    let names_json = serde_json::to_string(names).unwrap();
    let dir = dir.to_string_lossy();
    let output =
        key_value_test_support::python::run(TEST, PYTHON, &[mode, &dir, key, &names_json])?;
    let out: Value = serde_json::from_str(output.trim()).expect("the script's JSON");
    let strings = |field: &str| -> Vec<String> {
        out[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let values = |field: &str| out[field].as_array().cloned().unwrap_or_default();
    Some(Python {
        key_files: strings("key_files"),
        dirs: strings("dirs"),
        keys: values("keys"),
        collections: values("collections"),
    })
}

/// For each name, whether it is the one of its group of names sharing a py-key-value
/// file that `pick` selects (names alone in their file are always selected).
fn selected(files: &[String], pick: fn(&[usize]) -> usize) -> Vec<bool> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, file) in files.iter().enumerate() {
        groups.entry(file).or_default().push(i);
    }
    let mut chosen = vec![false; files.len()];
    for members in groups.values() {
        if let Some(slot) = chosen.get_mut(pick(members)) {
            *slot = true;
        }
    }
    chosen
}

fn last(members: &[usize]) -> usize {
    members[members.len() - 1]
}

fn first(members: &[usize]) -> usize {
    members[0]
}

/// The name when it is alone in its file; out of range (none) otherwise.
fn alone(members: &[usize]) -> usize {
    if members.len() == 1 {
        members[0]
    } else {
        usize::MAX
    }
}

async fn open(dir: &Path, key: Option<&FernetKey>) -> Arc<dyn AsyncKeyValue> {
    let store = DiskStore::open(dir).await.unwrap();
    match key {
        Some(key) => Arc::new(FernetWrapper::new(store, key.clone())),
        None => Arc::new(store),
    }
}

async fn python_writes_rust_reads(key: Option<FernetKey>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let names = names();
    let key_text = key
        .as_ref()
        .map_or("-".to_owned(), |k| k.to_base64().to_string());
    let Some(py) = python("write", &root, &key_text, &names) else {
        return;
    };
    let store = open(&root, key.as_ref()).await;
    let raw = DiskStore::open(&root).await.unwrap();
    let key_ok = selected(&py.key_files, last);
    // Collections that share a directory in Python's layout are mixed up by Python itself
    // (the info file names the first, entries come from all): only the others are checked.
    let dir_ok = selected(&py.dirs, alone);
    let mut checked = 0;
    for (i, name) in names.iter().enumerate() {
        // Same file names as py-key-value's strategies.
        let path = raw.entry_path(KEYS_IN, name);
        assert_eq!(
            path.file_name().unwrap().to_string_lossy(),
            format!("{}.json", py.key_files[i]),
            "key {name:?}"
        );
        let path = raw.entry_path(name, "k");
        assert_eq!(
            path.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy(),
            py.dirs[i],
            "collection {name:?}"
        );
        if key_ok[i] {
            assert_eq!(
                store.get(name, Some(KEYS_IN)).await.unwrap(),
                Some(value(i, name, "key")),
                "key {name:?} written by Python"
            );
            checked += 1;
        }
        if dir_ok[i] {
            assert_eq!(
                store.get("k", Some(name)).await.unwrap(),
                Some(value(i, name, "collection")),
                "collection {name:?} written by Python"
            );
        }
    }
    assert!(checked > names.len() - 10, "only {checked} names checked");
    // Entries without their names (Python's) are not listed under names get would miss.
    assert_eq!(
        raw.keys(Some(KEYS_IN), None).await.unwrap(),
        Vec::<String>::new()
    );

    // The bytes: Rust writes the same value, and the files differ only in the timestamps
    // and the two fields this store adds.
    if key.is_none() {
        let python_file = raw.entry_path("bytes-check", "bytes");
        let python_bytes = std::fs::read_to_string(&python_file).unwrap();
        let value = raw
            .get("bytes", Some("bytes-check"))
            .await
            .unwrap()
            .unwrap();
        let other = tempfile::tempdir().unwrap();
        let ours = DiskStore::open(other.path()).await.unwrap();
        ours.put(
            "bytes",
            value,
            Some(std::time::Duration::from_secs(600)),
            Some("bytes-check"),
        )
        .await
        .unwrap();
        let our_bytes = std::fs::read_to_string(ours.entry_path("bytes-check", "bytes")).unwrap();
        let expected = python_bytes
            .replacen('{', r#"{"collection": "bytes-check", "#, 1)
            .replacen(r#""value": "#, r#""key": "bytes", "value": "#, 1);
        assert_eq!(
            without_timestamps(&our_bytes),
            without_timestamps(&expected),
            "\nours:   {our_bytes}\npython: {python_bytes}"
        );
    }
}

/// `text` with the values of `created_at` and `expires_at` blanked, so two documents
/// written at different times compare equal.
fn without_timestamps(text: &str) -> String {
    let mut out = text.to_owned();
    for field in [r#""created_at": ""#, r#""expires_at": ""#] {
        if let Some(at) = out.find(field) {
            let start = at + field.len();
            let end = start + out[start..].find('"').unwrap();
            out.replace_range(start..end, "T");
        }
    }
    out
}

async fn rust_writes_python_reads(key: Option<FernetKey>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let names = names();
    let store = open(&root, key.as_ref()).await;
    for (i, name) in names.iter().enumerate() {
        store
            .put(name, value(i, name, "key"), None, Some(KEYS_IN))
            .await
            .unwrap();
        store
            .put("k", value(i, name, "collection"), None, Some(name))
            .await
            .unwrap();
    }
    let root = root.canonicalize().unwrap();
    let key_text = key
        .as_ref()
        .map_or("-".to_owned(), |k| k.to_base64().to_string());
    let Some(py) = python("read", &root, &key_text, &names) else {
        return;
    };
    let key_ok = selected(&py.key_files, first);
    let dir_ok = selected(&py.dirs, first);
    for (i, name) in names.iter().enumerate() {
        if key_ok[i] {
            assert_eq!(
                py.keys[i],
                Value::Object(value(i, name, "key")),
                "key {name:?} written by Rust, read by Python"
            );
        }
        if dir_ok[i] {
            assert_eq!(
                py.collections[i],
                Value::Object(value(i, name, "collection")),
                "collection {name:?} written by Rust, read by Python"
            );
        }
    }
    // Every name is still ours to enumerate, colliding ones included.
    let mut listed = store.keys(Some(KEYS_IN), None).await.unwrap();
    listed.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(listed, expected);
    // The info file, as py-key-value writes it.
    let info = std::fs::read_to_string(root.join(format!("{}-info.json", py.dirs[0]))).unwrap();
    let prefix = format!(
        r#"{{"collection": {}, "created_at": ""#,
        python_string(&names[0])
    );
    assert!(info.starts_with(&prefix), "{info}");
    let suffix = format!(
        r#"", "directory": {}, "version": 1}}"#,
        python_string(&root.join(&py.dirs[0]).to_string_lossy())
    );
    assert!(info.ends_with(&suffix), "{info}\n{suffix}");
}

/// A JSON string as Python's `json.dumps` writes it (ASCII only, for the test's names).
fn python_string(text: &str) -> String {
    let mut object = JsonObject::new();
    object.insert("s".into(), text.into());
    let dumped = key_value_core::python_json(&object, key_value_core::JsonStyle::Sorted).unwrap();
    dumped["{\"s\": ".len()..dumped.len() - 1].to_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn python_writes_rust_reads_plain() {
    runtime().block_on(python_writes_rust_reads(None));
}

#[test]
fn rust_writes_python_reads_plain() {
    runtime().block_on(rust_writes_python_reads(None));
}

#[test]
fn python_writes_rust_reads_under_fernet() {
    runtime().block_on(python_writes_rust_reads(Some(
        FernetKey::generate().unwrap(),
    )));
}

#[test]
fn rust_writes_python_reads_under_fernet() {
    runtime().block_on(rust_writes_python_reads(Some(
        FernetKey::generate().unwrap(),
    )));
}
