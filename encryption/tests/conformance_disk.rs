//! The whole conformance suite against the wrapper over a disk store in a fresh
//! directory per case: encrypted values through real files.

#![allow(clippy::expect_used)] // a key or directory that cannot be made fails the test

use key_value_conformance::Fixture;
use key_value_disk::DiskStore;
use key_value_fernet::{FernetKey, FernetWrapper};

async fn new_store() -> Fixture {
    let key = FernetKey::generate().expect("random key");
    let dir = tempfile::tempdir().expect("temporary directory");
    let disk = DiskStore::open(dir.path().join("store"))
        .await
        .expect("disk store");
    Fixture::new(FernetWrapper::new(disk, key)).keep_alive(dir)
}

key_value_conformance::suite!(new_store);
