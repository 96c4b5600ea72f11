//! The disk store doing the work of `py_filetree.py`, measured the same way (warm up, then
//! calls for a fixed time, mean microseconds per call), at each durability level, for
//! `scripts/bench-disk`, which runs the two and prints the ratios.
//!
//! `cargo bench -p key-value-disk --bench side_by_side -- [SECONDS] [DIR]`
//! prints `disk_<durability>/<op> <microseconds per call>` lines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use key_value_core::Durability;
use key_value_core::prelude::*;
use key_value_disk::DiskStore;

fn token() -> JsonObject {
    serde_json::json!({
        "access_token": "a".repeat(120), "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "r".repeat(60), "scope": "read write"
    })
    .as_object()
    .cloned()
    .unwrap()
}

async fn measure<F, Fut>(name: &str, seconds: f64, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..20 {
        call().await;
    }
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < budget || calls < 5 {
        call().await;
        calls += 1;
    }
    let micros = started.elapsed().as_secs_f64() / f64::from(calls) * 1e6;
    println!("{name} {micros:.2}");
}

/// One durable put with plain std calls: a temporary file, written, flushed and renamed
/// over `entry.json` in `dir`, then (`dir_sync`) the directory flushed.
fn floor_put(dir: &Path, dir_sync: bool) {
    use std::io::Write;
    let temp = dir.join("temp");
    let mut file = std::fs::File::create(&temp).unwrap();
    file.write_all(&[b'x'; 400]).unwrap();
    file.sync_all().unwrap();
    drop(file);
    std::fs::rename(&temp, dir.join("entry.json")).unwrap();
    if dir_sync {
        std::fs::File::open(dir).unwrap().sync_all().unwrap();
    }
}

async fn run(label: &str, store: DiskStore, seconds: f64, flushes: Option<bool>) {
    let value = token();
    let keys: Vec<String> = (0..100).map(|i| format!("key-{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let c = Some("c");
    store
        .put_many(&keys, vec![value.clone(); 100], None, c)
        .await
        .unwrap();
    measure(&format!("{label}/get"), seconds, || async {
        store.get("key-7", c).await.unwrap();
    })
    .await;
    // The disk's flush latency drifts within minutes on a shared machine: the floor of
    // this level's put is measured again right before it, for `scripts/bench-disk`.
    if let Some(dir_sync) = flushes {
        let floor_dir = tempfile::tempdir_in(store.root().parent().unwrap()).unwrap();
        measure(&format!("{label}/floor_put"), seconds, || async {
            floor_put(floor_dir.path(), dir_sync);
        })
        .await;
    }
    measure(&format!("{label}/put"), seconds, || async {
        store.put("key-7", value.clone(), None, c).await.unwrap();
    })
    .await;
    measure(&format!("{label}/get_many_100"), seconds, || async {
        store.get_many(&keys, c).await.unwrap();
    })
    .await;
    measure(&format!("{label}/put_many_100"), seconds, || async {
        store
            .put_many(&keys, vec![value.clone(); 100], None, c)
            .await
            .unwrap();
    })
    .await;
    measure(&format!("{label}/delete"), seconds, || async {
        store.delete("gone", c).await.unwrap();
    })
    .await;
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let parent: Option<PathBuf> = args.get(1).map(PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // What any async store pays to move file work off the runtime's workers, with no
    // work at all: the floor under every operation above.
    runtime.block_on(measure("hop/spawn_blocking", seconds, || async {
        tokio::task::spawn_blocking(|| ()).await.unwrap();
    }));
    // The floors of a durable single put on this file system, with plain std calls: what
    // py-key-value's FileTreeStore does (temporary file, fsync, rename) and what
    // Durability::PowerLoss adds (an fsync of the directory, so the rename survives too).
    let floor_dir = match &parent {
        Some(parent) => tempfile::tempdir_in(parent).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    for (label, dir_sync) in [
        ("floor/file_fsync_rename", false),
        ("floor/file_fsync_rename_dir_fsync", true),
    ] {
        runtime.block_on(measure(label, seconds, || async {
            floor_put(floor_dir.path(), dir_sync);
        }));
    }
    for (label, durability, flushes) in [
        ("disk_power_loss", Durability::PowerLoss, Some(true)),
        (
            "disk_power_loss_atomic",
            Durability::PowerLossAtomic,
            Some(false),
        ),
        ("disk_process_crash", Durability::ProcessCrash, None),
    ] {
        let dir = match &parent {
            Some(parent) => tempfile::tempdir_in(parent).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let root = dir.path().join("store");
        // In a task on a worker thread, where an application's calls run.
        runtime
            .block_on(runtime.spawn(async move {
                let store = DiskStore::builder(root)
                    .durability(durability)
                    .open()
                    .await
                    .unwrap();
                run(label, store, seconds, flushes).await;
            }))
            .unwrap();
    }
}
