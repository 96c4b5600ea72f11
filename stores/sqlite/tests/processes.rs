//! Crash safety and multi-process use of one database file, with real processes: see
//! `key_value_test_support::processes` (`KEYVALUE_CRASH_ROUNDS` sets the crash rounds).

use key_value_sqlite::SqliteStore;
use key_value_test_support::processes::{crash_test, multi_process_test};

#[test]
fn acknowledged_writes_survive_sigkill() {
    crash_test("acknowledged_writes_survive_sigkill", |path| async move {
        SqliteStore::open(path).await
    });
}

#[test]
fn several_processes_share_one_database() {
    multi_process_test("several_processes_share_one_database", |path| async move {
        SqliteStore::open(path).await
    });
}
