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
