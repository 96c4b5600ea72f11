//! Ways to connect: URLs with a database and a password, clients and connections the
//! caller already has, and the errors of bad settings (never a panic).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::time::Duration;

use key_value_core::{AsyncKeyValue, ErrorKind, JsonObject};
use key_value_redis::{RedisStore, redis};
use key_value_test_support::redis::RedisServer;

const TEST: &str = "key-value-redis connect";

fn num(n: i64) -> JsonObject {
    let mut value = JsonObject::new();
    value.insert("n".into(), n.into());
    value
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn password_and_database_from_the_url() {
    let Some(server) = RedisServer::start_with(TEST, &["--requirepass", "s3cret pass"]) else {
        return;
    };
    let port = server.port();
    runtime().block_on(async {
        let db3 = RedisStore::connect(&format!("redis://:s3cret%20pass@127.0.0.1:{port}/3"))
            .await
            .unwrap();
        db3.put("k", num(3), None, Some("c")).await.unwrap();
        let db0 = RedisStore::connect(&format!("redis://:s3cret%20pass@127.0.0.1:{port}/0"))
            .await
            .unwrap();
        assert_eq!(
            db0.get("k", Some("c")).await.unwrap(),
            None,
            "databases are apart"
        );
        assert_eq!(db3.get("k", Some("c")).await.unwrap(), Some(num(3)));

        let err = RedisStore::connect(&format!("redis://:wrong@127.0.0.1:{port}/0"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        assert!(
            !format!("{err:?}").contains("wrong"),
            "the password leaked: {err:?}"
        );
        let debug = format!("{db3:?}");
        assert!(!debug.contains("s3cret"), "the password leaked: {debug}");
    });
}

#[test]
fn stores_over_existing_clients_and_connections() {
    let Some(server) = RedisServer::start(TEST) else {
        return;
    };
    runtime().block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let from_client = RedisStore::builder()
            .default_collection("mine")
            .client(client.clone())
            .await
            .unwrap();
        from_client.put("k", num(1), None, None).await.unwrap();

        let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
        let from_manager = RedisStore::builder().connection_manager(manager).unwrap();
        assert_eq!(
            from_manager.get("k", Some("mine")).await.unwrap(),
            Some(num(1))
        );
        assert_eq!(from_manager.get("k", None).await.unwrap(), None);
    });
}

#[test]
fn bad_settings_are_errors() {
    let Some(server) = RedisServer::start(TEST) else {
        return;
    };
    runtime().block_on(async {
        let err = RedisStore::connect("not a url").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");

        let err = RedisStore::builder()
            .default_collection("")
            .connect(&server.url())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");

        let err = RedisStore::connect_cluster(Vec::<String>::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");

        // Nothing listens on a port just found free.
        let port = key_value_test_support::free_port().unwrap();
        let err = RedisStore::builder()
            .connection_timeout(Duration::from_secs(1))
            .reconnect_retries(0)
            .connect(&format!("redis://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(err.is_retryable());

        // TLS to a server that does not speak it: rustls is set up (a crypto provider
        // is installed) and the handshake fails cleanly.
        let port = server.port();
        let err = RedisStore::builder()
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(2))
            .reconnect_retries(0)
            .connect(&format!("rediss://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Connection | ErrorKind::Setup),
            "{err}"
        );
    });
}
