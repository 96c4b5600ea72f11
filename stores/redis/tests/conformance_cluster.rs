//! The whole conformance suite against a Redis Cluster (`REDIS_CLUSTER_NODES`, or three
//! `redis-server --cluster-enabled yes` primaries shared by this run's test processes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

async fn new_fixture() -> key_value_conformance::Fixture {
    common::fixture(true).await
}

key_value_conformance::suite!(new_fixture);
