//! Crash safety and multi-process use of one directory, with real processes: see
//! `key_value_test_support::processes` (`KEYVALUE_CRASH_ROUNDS` sets the crash rounds).

use key_value_disk::DiskStore;
use key_value_test_support::processes::{crash_test, multi_process_test};

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
