//! `mcp-auth proxy` against servers of the test's own that misbehave on purpose: an
//! HTTP+SSE server (MCP 2024-11-05) that answers slowly, answers in the POST's own
//! response, fails a POST, drops its event stream or never answers a reconnect; and a
//! Streamable HTTP server that redirects to another origin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::{RawProxy, seed_token};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// What the HTTP+SSE server does wrong.
#[derive(Clone, Default)]
struct Script {
    /// How long a notification's POST takes to be answered (its handling).
    slow_notifications: Duration,
    /// Answers in the POST's own response (200 with JSON) instead of the stream.
    answers_in_post: bool,
    /// The method whose POST fails with 500.
    fail: Option<&'static str>,
    /// The method after whose answer the event stream ends (once, 200 ms later).
    drop_after: Option<&'static str>,
    /// GETs after this many are never answered (the server accepts, then hangs).
    hang_gets_after: Option<usize>,
    /// Every event stream ends right after its `endpoint` event.
    close_at_once: bool,
}

#[derive(Default)]
struct State {
    /// `GET`, `POST method`, `DONE method` (the POST answered), in order.
    log: Vec<String>,
    stream: Option<UnboundedSender<String>>,
    gets: usize,
    dropped: bool,
}

type Shared = Arc<Mutex<State>>;

fn log_of(state: &Shared) -> Vec<String> {
    state.lock().unwrap().log.clone()
}

/// An HTTP+SSE MCP server: GET /sse opens the event stream, POST /messages takes the
/// client's messages.
async fn sse_server(script: Script) -> (String, Shared) {
    let state = Shared::default();
    let get_state = state.clone();
    let get_script = script.clone();
    let get = move || {
        let (state, script) = (get_state.clone(), get_script.clone());
        async move {
            let n = {
                let mut state = state.lock().unwrap();
                state.gets += 1;
                state.log.push("GET".into());
                state.gets
            };
            if script.hang_gets_after.is_some_and(|after| n > after) {
                std::future::pending::<()>().await;
            }
            let endpoint = format!("event: endpoint\ndata: /messages?session_id={n}\n\n");
            let sse = [("content-type", "text/event-stream")];
            if script.close_at_once {
                return (sse, endpoint).into_response();
            }
            let (tx, mut rx) = unbounded_channel::<String>();
            let _ = tx.send(endpoint);
            state.lock().unwrap().stream = Some(tx);
            let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(|text| Ok::<_, std::io::Error>(Bytes::from(text)));
            (sse, Body::from_stream(body)).into_response()
        }
    };
    let post_state = state.clone();
    let post = move |_headers: HeaderMap, body: Bytes| {
        let (state, script) = (post_state.clone(), script.clone());
        async move {
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let method = message["method"].as_str().unwrap_or("-").to_string();
            state.lock().unwrap().log.push(format!("POST {method}"));
            if message.get("id").is_none() {
                tokio::time::sleep(script.slow_notifications).await;
                state.lock().unwrap().log.push(format!("DONE {method}"));
                return StatusCode::ACCEPTED.into_response();
            }
            if script.fail == Some(method.as_str()) {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            let answer = match method.as_str() {
                "initialize" => json!({"jsonrpc": "2.0", "id": message["id"], "result": {
                    "protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "sse", "version": "1"}}}),
                "tools/list" => json!({"jsonrpc": "2.0", "id": message["id"],
                    "result": {"tools": []}}),
                _ => json!({"jsonrpc": "2.0", "id": message["id"],
                    "error": {"code": -32601, "message": "no"}}),
            };
            let state_of_post = state.clone();
            let mut state = state.lock().unwrap();
            let response = if script.answers_in_post {
                axum::Json(answer).into_response()
            } else {
                if let Some(stream) = &state.stream {
                    let _ = stream.send(format!("event: message\ndata: {answer}\n\n"));
                }
                StatusCode::ACCEPTED.into_response()
            };
            if script.drop_after == Some(method.as_str()) && !state.dropped {
                state.dropped = true;
                // After the POST's response has gone out.
                let state = state_of_post.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    state.lock().unwrap().stream = None;
                });
            }
            state.log.push(format!("DONE {method}"));
            response
        }
    };
    let app = axum::Router::new()
        .route("/sse", axum::routing::get(get))
        .route("/messages", axum::routing::post(post));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sse", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

/// The proxy as a child process, driven with raw JSON lines, with a stored token.
struct Proxy {
    raw: RawProxy,
    _home: tempfile::TempDir,
}

impl Proxy {
    async fn start(url: &str, args: &[&str]) -> Proxy {
        let home = tempfile::tempdir().unwrap();
        let store = seed_token(&home.path().join("tokens.sqlite"), url, "seeded-token").await;
        let mut all = vec![
            "--store",
            &store,
            "--no-encryption",
            "proxy",
            url,
            "--no-browser",
        ];
        all.extend_from_slice(args);
        Proxy {
            raw: RawProxy::spawn(home.path(), &all),
            _home: home,
        }
    }

    fn send(&mut self, message: Value) {
        self.raw.send(message);
    }

    fn next(&self) -> Value {
        self.raw.next(Duration::from_secs(20))
    }

    /// The next message that answers `id`, with every message before it.
    fn answer(&self, id: i64, seen: &mut Vec<Value>) -> Value {
        loop {
            let message = self.next();
            seen.push(message.clone());
            if message["id"] == id {
                return message;
            }
        }
    }

    fn initialize(&mut self, seen: &mut Vec<Value>) {
        self.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        );
        let init = self.answer(1, seen);
        assert_eq!(init["result"]["serverInfo"]["name"], "sse", "{init}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// Closes stdin and checks that the proxy exits with success within `within`.
    fn exits_cleanly(self, within: Duration) {
        let (status, stderr) = self.finish(within).expect("the proxy exits");
        assert!(status.success(), "{status}: {stderr}");
    }

    /// Closes stdin; the exit status and stderr, or `None` if the proxy has not
    /// exited within `within` (then it is killed).
    fn finish(mut self, within: Duration) -> Option<(std::process::ExitStatus, String)> {
        self.raw.close_stdin();
        self.raw.wait(within)
    }

    fn wait(mut self, within: Duration) -> Option<(std::process::ExitStatus, String)> {
        self.raw.wait(within)
    }
}

/// The server with `script`, and the proxy in front of it, initialized; the messages
/// the client received.
async fn initialized(script: Script) -> (Proxy, Shared, Vec<Value>) {
    let (url, state) = sse_server(script).await;
    let mut proxy = Proxy::start(&url, &["--transport", "sse"]).await;
    let mut seen = Vec::new();
    proxy.initialize(&mut seen);
    (proxy, state, seen)
}

/// Waits until the proxy has sent `initialize` and `notifications/initialized` again
/// in a new session.
async fn until_reinitialized(state: &Shared) {
    until_logged(state, "DONE initialize", 2).await;
    until_logged(state, "DONE notifications/initialized", 2).await;
}

/// Waits until the server's log has `count` entries equal to `entry`.
async fn until_logged(state: &Shared, entry: &str, count: usize) {
    let start = Instant::now();
    while log_of(state).iter().filter(|e| *e == entry).count() < count {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no {count} x {entry:?} in {:?}",
            log_of(state)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The client's messages reach the server in the order it sent them, each after the
/// previous one was taken: `tools/list` after `notifications/initialized` was handled
/// (a Python server refuses a request before), even when that takes the server a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_messages_reach_the_server_in_order() {
    let (mut proxy, state, mut seen) = initialized(Script {
        slow_notifications: Duration::from_millis(500),
        ..Script::default()
    })
    .await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    proxy.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 3}}),
    );
    let tools = proxy.answer(2, &mut seen);
    assert_eq!(tools["result"]["tools"], json!([]), "{tools}");
    until_logged(&state, "DONE notifications/cancelled", 1).await;
    let log = log_of(&state);
    let posts: Vec<&str> = log
        .iter()
        .filter(|e| *e != "GET")
        .map(String::as_str)
        .collect();
    assert_eq!(
        posts,
        [
            "POST initialize",
            "DONE initialize",
            "POST notifications/initialized",
            "DONE notifications/initialized",
            "POST tools/list",
            "DONE tools/list",
            "POST notifications/cancelled",
            "DONE notifications/cancelled",
        ],
        "{log:?}"
    );
    proxy.exits_cleanly(Duration::from_secs(10));
}

/// Answers in the POST's own response count as the stream's would: an `initialize`
/// answered there is sent again after the stream was lost (its answer, in the POST's
/// response too, kept from the client), and a request answered there is not answered
/// again with an error when the stream is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_in_the_post_response_go_through_the_session() {
    let (mut proxy, state, mut seen) = initialized(Script {
        answers_in_post: true,
        drop_after: Some("tools/list"),
        ..Script::default()
    })
    .await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let tools = proxy.answer(2, &mut seen);
    assert_eq!(tools["result"]["tools"], json!([]), "{tools}");
    // The stream ends after that answer: the proxy opens a new one and initializes.
    until_reinitialized(&state).await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}));
    let tools = proxy.answer(3, &mut seen);
    assert_eq!(tools["result"]["tools"], json!([]), "{tools}");
    proxy.exits_cleanly(Duration::from_secs(10));
    for id in [1, 2, 3] {
        let answers = seen.iter().filter(|m| m["id"] == id).count();
        assert_eq!(answers, 1, "id {id}: {seen:?}");
    }
    assert_eq!(
        seen.len(),
        3,
        "nothing else, not the second initialize: {seen:?}"
    );
}

/// A request whose POST fails gets one error; the loss of the stream later does not
/// answer it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_post_is_answered_once() {
    let (mut proxy, state, mut seen) = initialized(Script {
        fail: Some("tools/call"),
        drop_after: Some("tools/list"),
        ..Script::default()
    })
    .await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "x", "arguments": {}}}));
    let failed = proxy.answer(2, &mut seen);
    assert!(failed["error"]["message"].is_string(), "{failed}");
    proxy.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}));
    proxy.answer(3, &mut seen);
    until_reinitialized(&state).await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}));
    proxy.answer(4, &mut seen);
    proxy.exits_cleanly(Duration::from_secs(10));
    let answers = seen.iter().filter(|m| m["id"] == 2).count();
    assert_eq!(answers, 1, "{seen:?}");
}

/// The client quits while the proxy reconnects to a server that takes the connection
/// and never answers: the proxy exits all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_exits_when_the_client_quits_during_a_reconnect() {
    let (mut proxy, state, mut seen) = initialized(Script {
        drop_after: Some("tools/list"),
        hang_gets_after: Some(1),
        ..Script::default()
    })
    .await;
    proxy.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    proxy.answer(2, &mut seen);
    until_logged(&state, "GET", 2).await;
    proxy.exits_cleanly(Duration::from_secs(15));
}

/// A server that ends every event stream right after naming its endpoint is given up
/// on after a few reconnects, with the reason on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_keeps_dropping_its_stream_is_given_up_on() {
    let (url, state) = sse_server(Script {
        close_at_once: true,
        ..Script::default()
    })
    .await;
    let proxy = Proxy::start(&url, &["--transport", "sse"]).await;
    let (status, stderr) = proxy
        .wait(Duration::from_secs(30))
        .expect("the proxy gives up");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("times within"), "{stderr}");
    let gets = log_of(&state).iter().filter(|e| *e == "GET").count();
    assert!(gets <= 10, "{gets} GETs");
}

/// A Streamable HTTP server that redirects to another origin: the proxy does not
/// follow, so the `--header` values never reach the other origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_are_not_followed() {
    let elsewhere_seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = elsewhere_seen.clone();
    let elsewhere = axum::Router::new().route(
        "/mcp",
        axum::routing::any(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string();
                record.lock().unwrap().push(key);
                StatusCode::NOT_FOUND
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, elsewhere).await });
    let redirecting = axum::Router::new().route(
        "/mcp",
        axum::routing::any(move || {
            let target = target.clone();
            async move {
                Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", target)
                    .body(Body::empty())
                    .unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirecting).await });

    let mut proxy = Proxy::start(
        &url,
        &["--transport", "http", "--header", "X-Api-Key: key-secret"],
    )
    .await;
    proxy.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    let refused = proxy.next();
    assert_eq!(refused["id"], 1, "{refused}");
    assert!(refused["error"].is_object(), "{refused}");
    let _ = proxy.finish(Duration::from_secs(10));
    let seen = elsewhere_seen.lock().unwrap().clone();
    assert!(seen.is_empty(), "the other origin was sent: {seen:?}");
}
