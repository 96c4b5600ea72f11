//! What `mcp-auth proxy` adds to a request: one `tools/call` to the demo server on
//! loopback made three ways with the same token, and the proxy's memory with one
//! session open.
//!
//! - `direct, reqwest`: a plain HTTP POST with the bearer token (the floor);
//! - `direct, rmcp HTTP`: rmcp's client over its Streamable HTTP transport, with the
//!   token as a fixed `Authorization` header;
//! - `proxied, rmcp stdio`: the same rmcp client over stdio to the release `mcp-auth
//!   proxy` binary, which forwards to the server.
//!
//! The proxy's added latency is `proxied` minus `direct, rmcp HTTP` (the same client
//! library both ways). Run with `cargo bench -p mcp-auth --bench proxy`; the memory
//! line is printed after the timings (Linux: the proxy's VmRSS and VmHWM).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_demo_server::DemoServer;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::json;

fn add() -> CallToolRequestParams {
    CallToolRequestParams::new("add").with_arguments(
        json!({"a": 2, "b": 3})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

fn proxy(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let server = rt
        .block_on(
            DemoServer::builder()
                .port(0)
                .access_token_lifetime(Duration::from_secs(3600))
                .start(),
        )
        .unwrap();
    let url = server.mcp_url().to_string();
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = rt
        .block_on(rt.spawn({
            let (home, store, url) = (home.path().to_path_buf(), store.clone(), url.clone());
            async move { common::login_headless(&home, &store, &url).await }
        }))
        .unwrap();
    assert!(ok, "login failed:\n{log}");
    let token = common::text(
        &common::run(common::mcp_auth(home.path()).args(["--store", &store, "token", &url])).stdout,
    )
    .trim()
    .to_string();

    let http = oauth_core::http_client_builder().unwrap().build().unwrap();
    let direct_rmcp = rt.block_on(async {
        let transport = StreamableHttpClientTransport::with_client(
            http.clone(),
            StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header(token.clone()),
        );
        ().serve(transport).await.unwrap()
    });
    let mut command = tokio::process::Command::from(common::mcp_auth(home.path()));
    command.args(["--store", &store, "proxy", &url, "--no-browser"]);
    let (proxied, pid) = rt.block_on(async {
        let transport = TokioChildProcess::new(command).unwrap();
        let pid = transport.id();
        (().serve(transport).await.unwrap(), pid)
    });

    let mut group = c.benchmark_group("tools/call add");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("direct, reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let body: serde_json::Value = http
                .post(&url)
                .bearer_auth(&token)
                .header("Accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "add", "arguments": {"a": 2, "b": 3}}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(body["result"]["content"][0]["text"], "5");
        });
    });
    group.bench_function("direct, rmcp HTTP", |b| {
        b.to_async(&rt)
            .iter(|| async { direct_rmcp.call_tool(add()).await.unwrap() });
    });
    group.bench_function("proxied, rmcp stdio", |b| {
        b.to_async(&rt)
            .iter(|| async { proxied.call_tool(add()).await.unwrap() });
    });
    group.finish();

    if let Some(pid) = pid
        && let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
    {
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l.trim_start_matches(name).trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        println!(
            "proxy memory with one session open: VmRSS {}, VmHWM (peak) {}",
            field("VmRSS:"),
            field("VmHWM:")
        );
    }
    rt.block_on(async {
        let _ = proxied.cancel().await;
        let _ = direct_rmcp.cancel().await;
        server.shutdown().await;
    });
}

criterion_group!(benches, proxy);
criterion_main!(benches);
