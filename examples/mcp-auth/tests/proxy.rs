//! `mcp-auth proxy` driven over stdio by real MCP clients (rmcp's child-process client,
//! and raw JSON lines) against the demo server, over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RawProxy, login_headless, mcp_auth, text, tool_text};
use mcp_demo_server::DemoServer;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

/// The demo server with its events recorded.
async fn demo(lifetime: Duration) -> (DemoServer, Arc<Mutex<Vec<String>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let server = DemoServer::builder()
        .port(0)
        .access_token_lifetime(lifetime)
        .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
        .start()
        .await
        .unwrap();
    (server, events)
}

fn count(events: &Mutex<Vec<String>>, needle: &str) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains(needle))
        .count()
}

/// rmcp's client launches the real binary; the token expires mid-session and the
/// proxy renews it with the refresh token: no new login, every call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_through_the_proxy_survives_an_expiring_token() {
    let home = tempfile::tempdir().unwrap();
    // Long enough that starting the proxy and three calls end well before the renewal,
    // 5.4 s in (the last tenth of the lifetime), on a loaded machine too.
    let (server, events) = demo(Duration::from_secs(6)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");
    assert_eq!(count(&events, "exchanged a code"), 1);

    let mut command = tokio::process::Command::from(mcp_auth(home.path()));
    command.args([
        "--store",
        &store,
        "proxy",
        server.mcp_url(),
        "--no-browser",
        "--header",
        "X-Proxy-Test: yes",
    ]);
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.expect("initialize through the proxy");
    let info = client.peer_info().expect("the server's initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("key-value-rs demo")
    );

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["whoami", "add"]);

    let add = |a: i64, b: i64| {
        CallToolRequestParams::new("add").with_arguments(
            json!({"a": a, "b": b})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    };
    let sum = client.call_tool(add(2, 3)).await.unwrap();
    assert_eq!(tool_text(&sum), "5");
    assert_eq!(count(&events, "refreshed"), 0, "no refresh yet");

    // The 6 s token expires; the next calls need the refresh token.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let sum = client.call_tool(add(40, 2)).await.unwrap();
    assert_eq!(tool_text(&sum), "42");
    let who = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(tool_text(&who).contains("mcp:tools"), "{}", tool_text(&who));

    assert_eq!(
        count(&events, "refreshed"),
        1,
        "one refresh: {:?}",
        events.lock().unwrap()
    );
    assert_eq!(count(&events, "exchanged a code"), 1, "no new login");
    assert_eq!(count(&events, "MCP request with a bad token"), 0);
    assert_eq!(count(&events, "MCP tools/call"), 3);

    client.cancel().await.unwrap();
    if let Some(mut stderr) = stderr {
        let mut said = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut said).await;
        assert!(!said.contains("at_"), "no token on stderr: {said}");
    }
    server.shutdown().await;
}

/// The server stops accepting a token the proxy holds as valid (its state lost the
/// access tokens): the proxy's request gets a 401, oauth-core renews the token with the
/// refresh token and the request is sent again; the client sees only the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_server_rejects_is_renewed_and_the_request_resent() {
    use key_value::AsyncKeyValue;
    let home = tempfile::tempdir().unwrap();
    let state: Arc<dyn AsyncKeyValue> = Arc::new(key_value::memory::MemoryStore::new());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let server = DemoServer::builder()
        .port(0)
        .state_store(state.clone())
        .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
        .start()
        .await
        .unwrap();
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");

    let mut command = tokio::process::Command::from(mcp_auth(home.path()));
    command.args(["--store", &store, "proxy", server.mcp_url(), "--no-browser"]);
    let client =
        ().serve(TokioChildProcess::new(command).unwrap())
            .await
            .expect("initialize through the proxy");
    let who = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(tool_text(&who).contains("mcp:tools"));
    assert_eq!(count(&events, "MCP request with a bad token"), 0);

    assert!(
        state
            .destroy_collection(mcp_demo_server::collections::ACCESS_TOKENS)
            .await
            .unwrap()
    );
    let who = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(tool_text(&who).contains("mcp:tools"), "{}", tool_text(&who));
    let seen = events.lock().unwrap().clone();
    assert_eq!(
        count(&events, "MCP request with a bad token"),
        1,
        "{seen:?}"
    );
    assert_eq!(count(&events, "refreshed"), 1, "{seen:?}");
    assert_eq!(
        count(&events, "exchanged a code"),
        1,
        "no new login: {seen:?}"
    );
    assert_eq!(count(&events, "MCP tools/call"), 2, "{seen:?}");
    client.cancel().await.unwrap();
    server.shutdown().await;
}

/// One JSON-RPC line in, the answer out: stdout holds nothing but the answers, one
/// JSON object per line, equal to what the server gives for the same request; and
/// `--transport sse` at this Streamable HTTP endpoint fails on stderr alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_carries_only_mcp_messages() {
    let home = tempfile::tempdir().unwrap();
    let (server, events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");

    let mut proxy = RawProxy::spawn(
        home.path(),
        &["--store", &store, "proxy", server.mcp_url(), "--no-browser"],
    );
    let answer = |proxy: &RawProxy, id: i64| -> Value {
        let message = proxy.next(Duration::from_secs(30));
        assert_eq!(message["jsonrpc"], "2.0", "{message}");
        assert_eq!(message["id"], id, "{message}");
        message
    };
    proxy.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    let init = answer(&proxy, 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    proxy.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let listed = answer(&proxy, 2);
    let token = {
        let out =
            common::run(mcp_auth(home.path()).args(["--store", &store, "token", server.mcp_url()]));
        text(&out.stdout).trim().to_string()
    };
    let direct: Value = oauth_core::http_client_builder()
        .unwrap()
        .build()
        .unwrap()
        .post(server.mcp_url())
        .bearer_auth(&token)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["result"], direct["result"],
        "the proxy passes the list as is"
    );
    proxy.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1.5, "b": 2}}}));
    let called = answer(&proxy, 3);
    assert_eq!(called["result"]["content"][0]["text"], "3.5", "{called}");
    // A method the server does not know: its JSON-RPC error comes back as such.
    proxy.send(json!({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"}));
    let refused = answer(&proxy, 4);
    assert_eq!(refused["error"]["code"], -32601, "{refused}");

    // Closing stdin ends the proxy, successfully, with nothing more on stdout.
    let started = Instant::now();
    proxy.close_stdin();
    let (status, stderr) = proxy
        .wait(Duration::from_secs(30))
        .expect("the proxy exits");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rest = proxy.rest();
    assert!(rest.is_empty(), "stray output on stdout: {rest:?}");
    assert!(!stderr.contains(&token), "the token reached stderr");
    assert_eq!(count(&events, "exchanged a code"), 1, "no new login");

    // `--transport sse` at a Streamable HTTP endpoint: told on stderr before the client
    // says anything, and nothing on stdout.
    let out = common::run(mcp_auth(home.path()).args([
        "--store",
        &store,
        "proxy",
        server.mcp_url(),
        "--transport",
        "sse",
    ]));
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", text(&out.stdout));
    assert!(
        said.starts_with("mcp-auth: cannot open the HTTP+SSE event stream of "),
        "{said}"
    );
    assert!(!said.contains(&token), "the token reached stderr");
    server.shutdown().await;
}

/// Without a stored token and without a browser, the proxy prints the login URL on
/// stderr and nothing on stdout; bad headers are usage errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_and_headless_login_keep_stdout_clean() {
    let home = tempfile::tempdir().unwrap();
    let (server, _events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    for args in [
        vec!["--header", "no colon here"],
        vec!["--header", "Authorization: Bearer x"],
    ] {
        let out = common::run(
            mcp_auth(home.path())
                .args(["--store", &store, "proxy", server.mcp_url()])
                .args(&args),
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            text(&out.stderr).starts_with("mcp-auth: "),
            "{}",
            text(&out.stderr)
        );
    }
    // No token: the login URL on stderr (no one opens it; the short timeout ends it).
    let out = common::run(mcp_auth(home.path()).args([
        "--store",
        &store,
        "proxy",
        server.mcp_url(),
        "--no-browser",
        "--timeout",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {:?}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("/authorize?"),
        "{}",
        text(&out.stderr)
    );
    server.shutdown().await;
}

/// The official MCP Inspector's command-line mode (npm `@modelcontextprotocol/inspector-cli`,
/// under Node 22 in `target/deps`) as a second client: it starts `mcp-auth proxy` over
/// stdio, lists the tools and calls one. Skipped loudly when Node or the Inspector is
/// missing (install: see the README's Tests section); `KEYVALUE_REQUIRE_SERVERS=1`
/// makes that a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_inspector_drives_the_proxy() {
    let inspector = match common::Inspector::find() {
        Ok(inspector) => inspector,
        Err(missing) => {
            let why = format!("SKIPPED the_mcp_inspector_drives_the_proxy: {missing}");
            assert!(
                std::env::var_os("KEYVALUE_REQUIRE_SERVERS").is_none(),
                "{why}"
            );
            eprintln!("{why}");
            return;
        }
    };
    let home = tempfile::tempdir().unwrap();
    let (server, events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");
    let script = common::proxy_script(
        home.path(),
        &["--store", &store, "proxy", server.mcp_url(), "--no-browser"],
    );
    assert_eq!(
        inspector.tool_names(&script, home.path()),
        ["whoami", "add"]
    );
    assert_eq!(inspector.add(&script, home.path(), "2", "3"), "5");
    assert_eq!(count(&events, "exchanged a code"), 1, "no new login");
    assert_eq!(count(&events, "MCP tools/call"), 1);
    server.shutdown().await;
}

/// What the streaming server saw.
#[derive(Default)]
struct Seen {
    /// `METHOD jsonrpc-method session version x-team authorization` per request.
    requests: Vec<String>,
}

/// A Streamable HTTP MCP server with what the demo server lacks: a session ID, answers
/// as event streams (with a notification before the answer), a GET event stream with a
/// server-initiated notification, and DELETE. It takes only the seeded token.
async fn streaming_server() -> (String, Arc<Mutex<Seen>>) {
    use axum::body::{Body, Bytes};
    use axum::http::{HeaderMap, Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use futures_util::StreamExt as _;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let handler = move |method: Method, headers: HeaderMap, body: Bytes| {
        let seen = record.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string()
            };
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let rpc = message["method"].as_str().unwrap_or("-").to_string();
            seen.lock().unwrap().requests.push(format!(
                "{method} {rpc} {} {} {} {}",
                header("mcp-session-id"),
                header("mcp-protocol-version"),
                header("x-team"),
                header("authorization"),
            ));
            if header("authorization") != "Bearer seeded-token" {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let sse = |events: Vec<Value>| -> Response {
                let mut text = String::new();
                for e in events {
                    text.push_str(&format!("event: message\ndata: {e}\n\n"));
                }
                let opening = futures_util::stream::once(async move {
                    Ok::<_, std::io::Error>(Bytes::from(text))
                });
                // The GET stream stays open; an answer's stream ends after the answer.
                let body = if method == Method::GET {
                    Body::from_stream(opening.chain(futures_util::stream::pending()))
                } else {
                    Body::from_stream(opening)
                };
                ([("content-type", "text/event-stream")], body).into_response()
            };
            match (method.as_str(), rpc.as_str()) {
                ("GET", _) => sse(vec![json!({"jsonrpc": "2.0",
                    "method": "notifications/tools/list_changed"})]),
                ("DELETE", _) => StatusCode::OK.into_response(),
                (_, "initialize") => (
                    [
                        ("mcp-session-id", "sess-1"),
                        ("content-type", "application/json"),
                    ],
                    json!({"jsonrpc": "2.0", "id": message["id"], "result": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {"tools": {"listChanged": true}},
                        "serverInfo": {"name": "streaming", "version": "1"}}})
                    .to_string(),
                )
                    .into_response(),
                (_, "tools/call") => sse(vec![
                    json!({"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "info", "data": "working"}}),
                    json!({"jsonrpc": "2.0", "id": message["id"], "result": {
                        "content": [{"type": "text", "text": "streamed"}], "isError": false}}),
                ]),
                (_, _) if message.get("id").is_none() => StatusCode::ACCEPTED.into_response(),
                _ => axum::Json(json!({"jsonrpc": "2.0", "id": message["id"],
                    "error": {"code": -32601, "message": "no"}}))
                .into_response(),
            }
        }
    };
    let app = axum::Router::new().route("/mcp", axum::routing::any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Sessions and streams: the session ID and the negotiated protocol version on every
/// later request, an event-stream answer with a notification before it, the server's
/// own notification from the GET stream, extra headers, and DELETE at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_event_streams_and_session_end_pass_through() {
    let home = tempfile::tempdir().unwrap();
    let (url, seen) = streaming_server().await;
    // A stored token for the server, so no login is needed.
    let store = common::seed_token(&home.path().join("tokens.sqlite"), &url, "seeded-token").await;
    let mut proxy = RawProxy::spawn(
        home.path(),
        &[
            "--store",
            &store,
            "--no-encryption",
            "proxy",
            &url,
            "--no-browser",
            "--header",
            "X-Team: blue",
        ],
    );
    let mut out: Vec<Value> = Vec::new();
    let wait = Duration::from_secs(20);
    proxy.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    out.push(proxy.next(wait));
    assert_eq!(
        out[0]["result"]["serverInfo"]["name"], "streaming",
        "{}",
        out[0]
    );
    proxy.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "anything", "arguments": {}}}));
    // The answer, the notification before it, and the GET stream's notification.
    while !out.iter().any(|m| m["id"] == 2)
        || !out
            .iter()
            .any(|m| m["method"] == "notifications/tools/list_changed")
    {
        out.push(proxy.next(wait));
    }
    let position = |f: &dyn Fn(&Value) -> bool| out.iter().position(f).unwrap();
    let progress = position(&|m| m["method"] == "notifications/message");
    let answer = position(&|m| m["id"] == 2);
    assert!(progress < answer, "{out:?}");
    assert_eq!(out[answer]["result"]["content"][0]["text"], "streamed");
    proxy.close_stdin();
    let (status, stderr) = proxy
        .wait(Duration::from_secs(30))
        .expect("the proxy exits");
    assert!(status.success(), "{status}: {stderr}");
    let rest = proxy.rest();
    assert!(rest.is_empty(), "stray output: {rest:?}");
    let requests = seen.lock().unwrap().requests.clone();
    let with = |prefix: &str| {
        requests
            .iter()
            .find(|r| r.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {requests:?}"))
            .clone()
    };
    assert_eq!(
        with("POST initialize"),
        "POST initialize - - blue Bearer seeded-token"
    );
    assert_eq!(
        with("POST tools/call"),
        "POST tools/call sess-1 2025-06-18 blue Bearer seeded-token"
    );
    assert!(
        with("GET").starts_with("GET - sess-1 2025-06-18 blue Bearer"),
        "{requests:?}"
    );
    assert!(
        with("DELETE").starts_with("DELETE - sess-1"),
        "{requests:?}"
    );
}
