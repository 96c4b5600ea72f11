//! The whole conformance suite against a single Redis server (`REDIS_URL`, or a
//! `redis-server` started for this test process).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

async fn new_fixture() -> key_value_conformance::Fixture {
    common::fixture(false).await
}

key_value_conformance::suite!(new_fixture);
