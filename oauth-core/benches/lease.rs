//! What the refresh lease costs, and what a cached token costs.
//!
//! - `refresh/lease` and `refresh/no lease`: one `access_token()` that refreshes (the
//!   test server issues tokens with `expires_in: 0`, so every call renews), over loopback
//!   HTTP, with the same in-memory store offering `put_if_absent` or hiding it. The
//!   difference is what the fleet-safe lease adds: taking the lease, reading the tokens
//!   again under it, releasing it. The two clients take turns within each measurement
//!   (one call of each, only one timed), so that other load on the machine falls on both.
//! - `access_token/cached`: `access_token()` with a stored token good for an hour (no
//!   request at all).
//!
//! Run with `cargo bench -p oauth-core --bench lease`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use key_value_core::{Backend, Capabilities, Entry};
use key_value_memory::MemoryStore;
use oauth_core::{BrowserMode, OAuth};
use serde_json::{Value, json};

/// A minimal authorization server: metadata, registration, an authorization endpoint
/// that approves at once, and a token endpoint for both grants.
#[derive(Clone)]
struct AuthServer {
    base: String,
    expires_in: Arc<AtomicU64>,
    counter: Arc<AtomicUsize>,
    refreshes: Arc<AtomicUsize>,
}

async fn prm(State(s): State<AuthServer>) -> Json<Value> {
    Json(json!({
        "resource": format!("{}/mcp", s.base),
        "authorization_servers": [s.base],
    }))
}

async fn as_metadata(State(s): State<AuthServer>) -> Json<Value> {
    let b = &s.base;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "registration_endpoint": format!("{b}/register"),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
}

async fn register(Json(mut body): Json<Value>) -> (StatusCode, Json<Value>) {
    body["client_id"] = json!("bench-client");
    (StatusCode::CREATED, Json(body))
}

async fn authorize(Query(q): Query<HashMap<String, String>>) -> Redirect {
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    Redirect::to(&format!("{redirect}?code=bench-code&state={state}"))
}

async fn token(State(s): State<AuthServer>, Form(form): Form<HashMap<String, String>>) -> Response {
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
        s.refreshes.fetch_add(1, Ordering::Relaxed);
    }
    let n = s.counter.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": format!("access-{n}"),
        "token_type": "Bearer",
        "expires_in": s.expires_in.load(Ordering::Relaxed),
        "refresh_token": format!("refresh-{n}"),
    }))
    .into_response()
}

async fn mcp(State(s): State<AuthServer>) -> Response {
    let challenge = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        s.base
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        "",
    )
        .into_response()
}

async fn start_server() -> AuthServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = AuthServer {
        base,
        expires_in: Arc::new(AtomicU64::new(3600)),
        counter: Arc::new(AtomicUsize::new(0)),
        refreshes: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route("/.well-known/oauth-protected-resource/mcp", get(prm))
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/mcp", post(mcp).get(mcp))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    server
}

/// The in-memory store through the generic backend layer, with its `put_if_absent`
/// capability offered or hidden: the same store either way.
struct BenchStore {
    inner: MemoryStore,
    leases: bool,
}

#[key_value_core::async_trait]
impl Backend for BenchStore {
    fn name(&self) -> &str {
        "bench"
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Backend::capabilities(&self.inner);
        capabilities.put_if_absent = self.leases;
        capabilities
    }

    async fn read(&self, collection: &str, key: &str) -> key_value_core::Result<Option<Entry>> {
        Backend::read(&self.inner, collection, key).await
    }

    async fn write(&self, collection: &str, key: &str, entry: Entry) -> key_value_core::Result<()> {
        Backend::write(&self.inner, collection, key, entry).await
    }

    async fn write_if_absent(
        &self,
        collection: &str,
        key: &str,
        entry: Entry,
    ) -> key_value_core::Result<bool> {
        Backend::write_if_absent(&self.inner, collection, key, entry).await
    }

    async fn remove(&self, collection: &str, key: &str) -> key_value_core::Result<bool> {
        Backend::remove(&self.inner, collection, key).await
    }
}

/// A client logged in (headless) to `server`, whose tokens live `expires_in` seconds.
async fn logged_in(server: &AuthServer, leases: bool, expires_in: u64) -> OAuth {
    server.expires_in.store(expires_in, Ordering::Relaxed);
    let oauth = OAuth::builder(format!("{}/mcp", server.base))
        .token_storage(BenchStore {
            inner: MemoryStore::new(),
            leases,
        })
        .browser(BrowserMode::FetchRedirect)
        .build()
        .unwrap();
    oauth.access_token().await.unwrap();
    oauth
}

fn bench(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(start_server());

    // The two clients take turns within each measurement, so that load from other work
    // on the machine falls on both alike; only the timed call is counted.
    let lease = runtime.block_on(logged_in(&server, true, 0));
    let no_lease = runtime.block_on(logged_in(&server, false, 0));
    let mut group = c.benchmark_group("refresh");
    for (name, timed, other) in [
        ("lease", &lease, &no_lease),
        ("no lease", &no_lease, &lease),
    ] {
        let before = server.refreshes.load(Ordering::Relaxed);
        let calls = AtomicUsize::new(0);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let calls = &calls;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        other.access_token().await.unwrap();
                        let start = Instant::now();
                        timed.access_token().await.unwrap();
                        total += start.elapsed();
                        calls.fetch_add(2, Ordering::Relaxed);
                    }
                    total
                }
            });
        });
        // Every call refreshed once: the benchmark measured refreshes, not a cache.
        let refreshes = server.refreshes.load(Ordering::Relaxed) - before;
        assert_eq!(refreshes, calls.load(Ordering::Relaxed), "{name}");
    }
    group.finish();

    let oauth = runtime.block_on(logged_in(&server, true, 3600));
    let before = server.refreshes.load(Ordering::Relaxed);
    c.bench_function("access_token/cached", |b| {
        b.to_async(&runtime)
            .iter(|| async { oauth.access_token().await.unwrap() });
    });
    assert_eq!(
        server.refreshes.load(Ordering::Relaxed),
        before,
        "no refresh"
    );
}

fn quick() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = quick();
    targets = bench
}
criterion_main!(benches);
