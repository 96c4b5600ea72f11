//! The conformance case that wipes the whole store (`destroy`, Redis `FLUSHDB`), which
//! the shared fixtures of `conformance` and `conformance_cluster` cannot run: here it
//! gets a server (and a cluster) of its own. Skipped as not applicable when the server
//! comes from `REDIS_URL` / `REDIS_CLUSTER_NODES`, which others may share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use key_value_conformance::{Fixture, Report, case, run_case};
use key_value_test_support::redis::{RedisTarget, cluster, single};

fn run(target: Option<RedisTarget>, is_cluster: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let Some(target) = target else {
            return Report::Skipped("no Redis server".into());
        };
        let store = common::connect(&target, is_cluster).await;
        let raw = common::Raw::connect(&target, is_cluster).await;
        let mut fixture = Fixture::new(store).with_raw_access(raw);
        if target.is_shared() {
            fixture = fixture.shared();
        }
        let case = case("destroy_removes_everything").expect("the case exists");
        run_case(case, fixture).await
    });
    match report {
        Report::Passed | Report::Skipped(_) | Report::NotApplicable(_) => {
            eprintln!("destroy_removes_everything: {report:?}");
        }
        Report::Failed(why) => panic!("destroy_removes_everything failed: {why}"),
    }
}

#[test]
fn destroy_removes_everything_single() {
    run(single("key-value-redis destroy"), false);
}

#[test]
fn destroy_removes_everything_cluster() {
    run(cluster("key-value-redis destroy (cluster)"), true);
}
