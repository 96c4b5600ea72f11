//! At `Durability::ProcessCrash` a write goes through the file that the entry's previous
//! write replaced, written over under a write lease, instead of a new file per write (see
//! the crate docs). These tests check what makes that safe: a replaced file that a reader
//! still has open, or that has another name (a backup's hard link), is never written
//! over; files are reused when nobody holds them, the kept ones go with the store, and a
//! deleted entry leaves no older version behind; and readers in other processes, ours
//! and py-key-value's `FileTreeStore`, never see a torn entry while another process
//! rewrites it thousands of times.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use key_value_core::Durability;
use key_value_core::prelude::*;
use key_value_disk::DiskStore;

async fn open(root: &Path) -> DiskStore {
    DiskStore::builder(root)
        .durability(Durability::ProcessCrash)
        .open()
        .await
        .unwrap()
}

/// Entry `i` of the rewritten key: its padding (up to 20 KB, so entries span several
/// pages) tells a whole entry from a torn one.
fn value(i: u64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("i".into(), i.into());
    value.insert("pad".into(), "p".repeat(pad_len(i)).into());
    value
}

fn pad_len(i: u64) -> usize {
    usize::try_from(i * 1231 % 20_000).unwrap()
}

/// The number of a whole entry; `None` for a torn one.
fn whole(value: &JsonObject) -> Option<u64> {
    let i = value.get("i")?.as_u64()?;
    let pad = value.get("pad")?.as_str()?;
    (pad.len() == pad_len(i) && pad.bytes().all(|b| b == b'p')).then_some(i)
}

/// The number of the key's entry, if it reads whole.
async fn latest(store: &DiskStore, key: &str) -> Option<u64> {
    store
        .get(key, Some("c"))
        .await
        .unwrap()
        .as_ref()
        .and_then(whole)
}

fn temporary_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|item| item.file_name().to_string_lossy().starts_with(".kvtmp-"))
        .count()
}

#[tokio::test]
async fn a_replaced_file_that_a_reader_holds_is_never_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.put("k", value(0), None, Some("c")).await.unwrap();
    let mut held = std::fs::File::open(store.entry_path("c", "k")).unwrap();
    let mut before = String::new();
    held.read_to_string(&mut before).unwrap();
    // The first write replaces the held file; every later one would reuse it if it
    // could. A reader with the file open must go on reading what it opened.
    for i in 1..=20 {
        store.put("k", value(i), None, Some("c")).await.unwrap();
    }
    let mut after = String::new();
    held.seek(SeekFrom::Start(0)).unwrap();
    held.read_to_string(&mut after).unwrap();
    assert_eq!(
        after, before,
        "a file held open by a reader was written over"
    );
    assert_eq!(latest(&store, "k").await, Some(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_files_are_reused_and_the_kept_ones_go_with_the_store() {
    const TEST: &str = "replaced_files_are_reused_and_the_kept_ones_go_with_the_store";
    if std::fs::read_to_string("/proc/sys/fs/leases-enable").is_ok_and(|on| on.trim() == "0") {
        // The store then writes a new file each time, which the other tests cover.
        key_value_test_support::skip(TEST, "write leases are off here (fs.leases-enable = 0)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut inodes = std::collections::BTreeSet::new();
    for i in 0..30 {
        store.put("k", value(i), None, Some("c")).await.unwrap();
        let entry = store.entry_path("c", "k");
        inodes.insert(std::fs::metadata(&entry).unwrap().ino());
    }
    // Without reuse, 30 writes make 30 files; with it, the entry and its spare take turns.
    assert!(
        inodes.len() <= 3,
        "30 writes used {} files: replaced files are not reused",
        inodes.len()
    );
    let collection_dir = store.entry_path("c", "k").parent().unwrap().to_owned();
    assert_eq!(temporary_files(&collection_dir), 1, "one spare is kept");
    assert_eq!(latest(&store, "k").await, Some(29));
    drop(store);
    // Removed on the blocking pool, not waited for by the drop.
    let started = Instant::now();
    while temporary_files(&collection_dir) > 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        temporary_files(&collection_dir),
        0,
        "the spare is removed when the store goes"
    );
}

#[tokio::test]
async fn a_deleted_entry_leaves_no_older_version_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..3 {
        store.put("k", value(i), None, Some("c")).await.unwrap();
    }
    let collection_dir = store.entry_path("c", "k").parent().unwrap().to_owned();
    assert_eq!(temporary_files(&collection_dir), 1, "one spare is kept");
    assert!(store.delete("k", Some("c")).await.unwrap());
    assert_eq!(
        temporary_files(&collection_dir),
        0,
        "a deleted entry's older version stays on disk"
    );
    // Destroying the collection forgets its spares: writes after it still work.
    store.put("k", value(3), None, Some("c")).await.unwrap();
    store.put("k", value(4), None, Some("c")).await.unwrap();
    assert!(store.destroy_collection("c").await.unwrap());
    for i in 5..8 {
        store.put("k", value(i), None, Some("c")).await.unwrap();
    }
    assert_eq!(latest(&store, "k").await, Some(7));
}

#[tokio::test]
async fn a_file_with_another_name_is_never_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.put("k", value(0), None, Some("c")).await.unwrap();
    // A backup tool's hard link (`cp -al`, `rsync --link-dest`) to the entry file.
    let backup = dir.path().join("backup.json");
    std::fs::hard_link(store.entry_path("c", "k"), &backup).unwrap();
    let before = std::fs::read_to_string(&backup).unwrap();
    for i in 1..=5 {
        store.put("k", value(i), None, Some("c")).await.unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        before,
        "a file with another name was written over"
    );
    assert_eq!(latest(&store, "k").await, Some(5));
}

/// argv: file. Takes a write lease on the file (as a writer of ours holds one while it
/// rewrites a file), says `held`, and keeps it until its standard input closes: the
/// test, not a clock, decides when the lease goes, so a slow machine cannot end it
/// before the test has seen what it checks.
const LEASE_HOLDER: &str = r#"
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)  # a lease break is announced with SIGIO
fd = os.open(sys.argv[1], os.O_WRONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
sys.stdin.read()
os.close(fd)
"#;

/// A writer stalled while it holds its lease (a stopped or throttled process): a read
/// waits for it, then fails with a clear error, and `put_if_absent` does not take the
/// unreadable entry for an absent one; once the lease goes, the entry reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_held_too_long_by_a_writer_is_an_error_not_an_absence() {
    const TEST: &str = "an_entry_held_too_long_by_a_writer_is_an_error_not_an_absence";
    let Some(python) = key_value_test_support::python::interpreter() else {
        key_value_test_support::skip(TEST, "the Python peer is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.put("k", value(1), None, Some("c")).await.unwrap();
    let entry = store.entry_path("c", "k");
    let mut holder = Command::new(python)
        .args(["-c", LEASE_HOLDER])
        .arg(&entry)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut said,
    )
    .unwrap();
    assert_eq!(said.trim(), "held");
    let started = Instant::now();
    let err = store.get("k", Some("c")).await.unwrap_err();
    assert!(err.to_string().contains("lease"), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the read did not wait"
    );
    let err = store
        .put_if_absent("k", value(2), None, Some("c"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lease"), "{err}");
    drop(holder.stdin.take()); // the stalled writer lets go
    assert!(holder.wait().unwrap().success());
    assert_eq!(latest(&store, "k").await, Some(1), "the entry changed");
}

const TEST: &str = "readers_in_other_processes_never_see_a_rewritten_entry_torn";
const ROLE: &str = "KEYVALUE_DISK_REUSE_ROLE";
const ROOT: &str = "KEYVALUE_DISK_REUSE_ROOT";
const WRITES: u64 = 3_000;

/// argv: store directory, stop file, ready file. Reads the key until the stop file
/// exists, checking every read is whole and never older than the one before; prints
/// how many reads it made.
const PYTHON_READER: &str = r#"
import asyncio, os, sys
from pathlib import Path
from key_value.aio.stores.filetree import (
    FileTreeStore, FileTreeV1CollectionSanitizationStrategy, FileTreeV1KeySanitizationStrategy)

async def main(directory, stop, ready):
    directory = Path(directory)
    store = FileTreeStore(
        data_directory=directory,
        key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(directory=directory),
        collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(directory=directory))
    reads, last = 0, -1
    while not os.path.exists(stop):
        value = await store.get("hot", collection="c")
        assert value is not None, "the key is missing"
        i, pad = value["i"], value["pad"]
        assert len(pad) == i * 1231 % 20000 and set(pad) <= {"p"}, f"entry {i} is torn"
        assert i >= last, f"read entry {i} after entry {last}"
        last, reads = i, reads + 1
        if reads == 1:
            open(ready, "w").close()
    print(reads)

asyncio.run(main(*sys.argv[1:]))
"#;

fn spawn(role: &str, root: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture"])
        .env(ROLE, role)
        .env(ROOT, root)
        .spawn()
        .unwrap()
}

fn ready_files(sync: &Path) -> usize {
    std::fs::read_dir(sync)
        .map(|items| items.count())
        .unwrap_or(0)
}

/// A child: `writer` rewrites the key `WRITES` times; `reader-N` reads it until the
/// stop file appears, each read whole and never older than the one before.
async fn child(role: &str, root: PathBuf) {
    let store = open(&root).await;
    let sync = root.with_file_name("ready");
    if role == "writer" {
        for i in 1..=WRITES {
            store.put("hot", value(i), None, Some("c")).await.unwrap();
        }
        return;
    }
    let stop = root.with_file_name("stop");
    let (mut reads, mut last) = (0u64, 0u64);
    while !stop.exists() {
        let found = store.get("hot", Some("c")).await;
        let i = match &found {
            Ok(Some(found)) => whole(found),
            _ => None,
        };
        let Some(i) = i else {
            panic!("{role}: read {found:?}");
        };
        assert!(i >= last, "{role}: read entry {i} after entry {last}");
        (reads, last) = (reads + 1, i);
        if reads == 1 {
            std::fs::write(sync.join(role), "").unwrap();
        }
    }
    eprintln!("{role}: {reads} whole reads, the last of entry {last}");
}

#[test]
fn readers_in_other_processes_never_see_a_rewritten_entry_torn() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let (Ok(role), Some(root)) = (std::env::var(ROLE), std::env::var_os(ROOT)) {
        runtime.block_on(child(&role, PathBuf::from(root)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (stop, sync) = (dir.path().join("stop"), dir.path().join("ready"));
    std::fs::create_dir(&sync).unwrap();
    runtime.block_on(async {
        open(&root)
            .await
            .put("hot", value(0), None, Some("c"))
            .await
            .unwrap();
    });
    let readers: Vec<Child> = (0..2)
        .map(|n| spawn(&format!("reader-{n}"), &root))
        .collect();
    let python = {
        let args = [&root, &stop, &sync.join("python")].map(|p| p.to_string_lossy().into_owned());
        let python_found = key_value_test_support::python::interpreter().is_some();
        let thread = std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            key_value_test_support::python::run(TEST, PYTHON_READER, &args)
        });
        (thread, python_found)
    };
    // Every reader reads before the writer starts, so that all of it is read against.
    let expected = 2 + usize::from(python.1);
    let started = Instant::now();
    while ready_files(&sync) < expected {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the readers did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let writer = spawn("writer", &root).wait().unwrap();
    std::fs::write(&stop, "").unwrap();
    assert!(
        writer.success(),
        "the writer failed ({writer}); its panic is above"
    );
    for (n, mut reader) in readers.into_iter().enumerate() {
        let status = reader.wait().unwrap();
        assert!(
            status.success(),
            "reader {n} failed ({status}); its panic is above"
        );
    }
    if let Some(output) = python.0.join().unwrap() {
        let reads: u64 = output.trim().parse().unwrap();
        eprintln!("py-key-value's FileTreeStore: {reads} whole reads");
    }
    runtime.block_on(async {
        assert_eq!(latest(&open(&root).await, "hot").await, Some(WRITES));
    });
}
