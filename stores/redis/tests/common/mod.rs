//! What the Redis test binaries share: one server (or cluster) per test process, stores
//! connected to it, and raw access for the conformance suite.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::OnceLock;

use key_value_conformance::{Fixture, RawAccess};
use key_value_core::{Result, async_trait};
use key_value_redis::{RedisStore, redis, redis_key};
use key_value_test_support::redis::{RedisTarget, shared_cluster, single};

/// The single server of this test process (`REDIS_URL`, or one started for it).
pub fn single_target() -> Option<&'static RedisTarget> {
    static TARGET: OnceLock<Option<RedisTarget>> = OnceLock::new();
    TARGET
        .get_or_init(|| single("key-value-redis tests"))
        .as_ref()
}

/// The cluster of this test run (`REDIS_CLUSTER_NODES`, or one that the run's test
/// processes share: forming a cluster takes seconds, too long to do for each test).
pub fn cluster_target() -> Option<&'static RedisTarget> {
    static TARGET: OnceLock<Option<RedisTarget>> = OnceLock::new();
    TARGET
        .get_or_init(|| shared_cluster("key-value-redis cluster tests"))
        .as_ref()
}

/// A store on `target` (a cluster when it has several URLs or is a started cluster).
pub async fn connect(target: &RedisTarget, is_cluster: bool) -> RedisStore {
    let urls = target.urls();
    if is_cluster {
        RedisStore::connect_cluster(&urls)
            .await
            .expect("connect to the cluster")
    } else {
        RedisStore::connect(&urls[0])
            .await
            .expect("connect to redis")
    }
}

/// Raw `SET` of stored documents, for the suite's corrupted and Python-written entries.
pub enum Raw {
    /// On a single server.
    Single(redis::aio::ConnectionManager),
    /// On a cluster.
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    pub async fn connect(target: &RedisTarget, is_cluster: bool) -> Raw {
        let urls = target.urls();
        if is_cluster {
            let client = redis::cluster::ClusterClient::new(urls).expect("cluster client");
            Raw::Cluster(
                client
                    .get_async_connection()
                    .await
                    .expect("raw cluster connection"),
            )
        } else {
            let client = redis::Client::open(urls[0].as_str()).expect("client");
            Raw::Single(
                redis::aio::ConnectionManager::new(client)
                    .await
                    .expect("raw connection"),
            )
        }
    }

    /// `SET` of raw bytes under the key the store uses for (`collection`, `key`).
    pub async fn set(
        &self,
        collection: &str,
        key: &str,
        document: &[u8],
    ) -> redis::RedisResult<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(redis_key(collection, key)).arg(document);
        match self {
            Raw::Single(c) => cmd.exec_async(&mut c.clone()).await,
            Raw::Cluster(c) => cmd.exec_async(&mut c.clone()).await,
        }
    }

    /// `GET` of raw bytes under `redis_key`.
    pub async fn get(&self, redis_key: &str) -> redis::RedisResult<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(redis_key);
        match self {
            Raw::Single(c) => cmd.query_async(&mut c.clone()).await,
            Raw::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// `PTTL` of `redis_key` in milliseconds (-1: no expiry, -2: missing).
    pub async fn pttl(&self, redis_key: &str) -> redis::RedisResult<i64> {
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(redis_key);
        match self {
            Raw::Single(c) => cmd.query_async(&mut c.clone()).await,
            Raw::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

#[async_trait]
impl RawAccess for Raw {
    async fn write_raw(&self, collection: &str, key: &str, document: &[u8]) -> Result<()> {
        self.set(collection, key, document).await.map_err(|e| {
            key_value_core::Error::new(key_value_core::ErrorKind::Backend, "raw SET failed")
                .with_source(e)
        })
    }
}

/// A conformance fixture on this process's single server or cluster. Always `.shared()`:
/// the cases of one process run at once against one server, so none may wipe it (the
/// `destroy` case runs in its own test binary, `conformance_destroy`).
pub async fn fixture(is_cluster: bool) -> Fixture {
    let target = if is_cluster {
        cluster_target()
    } else {
        single_target()
    };
    let Some(target) = target else {
        return Fixture::skip("no Redis server (see the loud skip above)");
    };
    let store = connect(target, is_cluster).await;
    let raw = Raw::connect(target, is_cluster).await;
    Fixture::new(store)
        .with_raw_access(raw)
        .shared()
        .shared_compound_keys()
}
