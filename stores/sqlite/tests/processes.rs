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

#[test]
fn put_if_absent_has_one_winner_across_processes() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no temporary directory");
    };
    let path = dir.path().join("lease.db");
    key_value_conformance::lease_race_across_processes(
        "put_if_absent_has_one_winner_across_processes",
        &path.to_string_lossy(),
        8,
        |location| async move { SqliteStore::open(location).await },
    );
}
