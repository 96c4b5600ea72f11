//! Crash safety and multi-process use of one directory, with real processes: see
//! `key_value_test_support::processes` (`KEYVALUE_CRASH_ROUNDS` sets the crash rounds).

#![allow(clippy::unwrap_used)] // test code

use key_value_core::{AsyncKeyValue, Durability};
use key_value_disk::DiskStore;
use key_value_test_support::processes::{OutputLines, Reaper, crash_test, multi_process_test};

#[test]
fn acknowledged_writes_survive_sigkill() {
    crash_test("acknowledged_writes_survive_sigkill", |path| async move {
        DiskStore::open(path).await
    });
}

#[test]
fn several_processes_share_one_directory() {
    multi_process_test("several_processes_share_one_directory", |path| async move {
        DiskStore::open(path).await
    });
}

async fn open_at_process_crash(path: std::path::PathBuf) -> key_value_core::Result<DiskStore> {
    DiskStore::builder(path)
        .durability(Durability::ProcessCrash)
        .open()
        .await
}

/// At `ProcessCrash` writes reuse replaced files (under a write lease): the same
/// guarantees, with readers and writers of one hot key in four processes.
#[test]
fn several_processes_share_one_directory_at_process_crash() {
    multi_process_test(
        "several_processes_share_one_directory_at_process_crash",
        open_at_process_crash,
    );
}

/// `ProcessCrash` promises what its name says: a killed writer (here in the middle of
/// writing over a reused file) loses no acknowledged write and leaves no torn entry.
#[test]
fn acknowledged_writes_survive_sigkill_at_process_crash() {
    crash_test(
        "acknowledged_writes_survive_sigkill_at_process_crash",
        open_at_process_crash,
    );
}

/// Eight processes race `put_if_absent` on one key, twice (the second round after the
/// first lease expired): exactly one wins each round, and the stored value is its.
#[test]
fn lease_is_exclusive_across_processes() {
    // The children open the parent's directory (passed to them in the environment).
    let dir =
        std::env::temp_dir().join(format!("key-value-disk-lease-race-{}", std::process::id()));
    key_value_conformance::lease_race_across_processes(
        "lease_is_exclusive_across_processes",
        dir.to_string_lossy().as_ref(),
        8,
        |location| async move { DiskStore::open(location).await },
    );
    if std::env::var_os("KEYVALUE_LEASE_RACE_ROLE").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

const KILLED_WRITER: &str = "KEYVALUE_DISK_KILLED_WRITER";

/// Writers killed with SIGKILL in the middle of their writes leave temporary files; the
/// next open removes every one of them (their writers are gone), not an hour later.
#[test]
fn temporary_files_of_killed_writers_are_gone_after_the_next_open() {
    const TEST: &str = "temporary_files_of_killed_writers_are_gone_after_the_next_open";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(dir) = std::env::var_os(KILLED_WRITER) {
        // The child: four tasks rewrite entries until killed, each write flushed to disk
        // (PowerLoss), so that a temporary file exists most of the time.
        runtime.block_on(async {
            let store = DiskStore::open(dir).await.unwrap();
            let mut value = key_value_core::JsonObject::new();
            value.insert("blob".into(), "x".repeat(64 << 10).into());
            store
                .put("k0", value.clone(), None, Some("c"))
                .await
                .unwrap();
            // The parent times its kill from here, not from the start of the process.
            println!("killed-writer writing");
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..4 {
                let (store, value) = (store.clone(), value.clone());
                tasks.spawn(async move {
                    loop {
                        store
                            .put(&format!("k{t}"), value.clone(), None, Some("c"))
                            .await
                            .unwrap();
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let leftovers = |root: &std::path::Path| {
        std::fs::read_dir(root.join("c"))
            .map(|items| {
                items
                    .flatten()
                    .filter(|item| item.file_name().to_string_lossy().starts_with(".kv"))
                    .filter(|item| item.file_name() != ".kv-lock")
                    .count()
            })
            .unwrap_or(0)
    };
    let mut left_by_kills = 0;
    for round in 0..8u64 {
        let mut child = Reaper(
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([TEST, "--exact", "--nocapture"])
                .env(KILLED_WRITER, &root)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // However long the child took to start, it is killed while writing; one that
        // never says so fails the round (and is killed) instead of hanging the test.
        let lines = OutputLines::of(&mut child.0).unwrap();
        assert!(
            lines.wait_for("killed-writer writing", std::time::Duration::from_secs(60)),
            "round {round}: the writer did not start writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50 + 53 * round));
        drop(child); // SIGKILL, then reaped
        left_by_kills += leftovers(&root);
        runtime.block_on(async { drop(DiskStore::open(&root).await.unwrap()) });
        assert_eq!(leftovers(&root), 0, "round {round}: leftovers after open");
    }
    eprintln!("{left_by_kills} leftovers of killed writers found, all removed by the next open");
    assert!(
        left_by_kills > 0,
        "no kill left a temporary file: the test did not test anything"
    );
}
