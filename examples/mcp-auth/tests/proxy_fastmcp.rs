//! `mcp-auth proxy` against a real FastMCP server (4.2.3, in the virtual environment
//! `scripts/deps/fastmcp.sh` makes) over FastMCP's HTTP+SSE transport, the older
//! transport of MCP 2024-11-05, protected by FastMCP's in-memory OAuth provider
//! (`fastmcp_server.py` beside this file: dynamic client registration, an /authorize
//! that grants at once). Real clients drive the proxy over stdio: rmcp's child-process
//! client and the official MCP Inspector's command-line mode, with `--transport sse`
//! and `--transport auto` (Streamable HTTP refused with 405, then HTTP+SSE); and the
//! same server over FastMCP's Streamable HTTP transport with `--transport http`.
//!
//! The server prints what it does (every HTTP request with its status, logins,
//! refreshes, refused tokens), and the tests count it. A missing FastMCP or Inspector
//! fails the test, with the command that installs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{login_headless, mcp_auth, tool_text};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

/// The FastMCP side.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fastmcp_server.py");

/// How long FastMCP may take to start (its imports are slow on a busy machine).
const START: Duration = Duration::from_secs(90);

/// The FastMCP server of one test, its output lines collected; killed when dropped.
struct FastMcp {
    child: Child,
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl FastMcp {
    /// Starts `fastmcp_server.py` over HTTP+SSE.
    fn start() -> FastMcp {
        FastMcp::start_with("sse")
    }

    /// Starts `fastmcp_server.py` over `transport` (`sse` or `http`).
    fn start_with(transport: &str) -> FastMcp {
        let Some(python) = key_value_test_support::python::fastmcp_interpreter() else {
            panic!(
                "FastMCP 4.2.3 is not installed (target/py/fastmcp): run scripts/deps/fastmcp.sh \
                 (or scripts/install-test-deps)"
            );
        };
        let home = std::env::temp_dir();
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .arg(transport)
            // No `.env` file of FastMCP's from the caller's directory.
            .current_dir(&home)
            .env_remove("FASTMCP_ENV_FILE")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready, is_ready) = mpsc::channel();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("ready ") {
                    let _ = ready.send(url.to_string());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let url = match is_ready.recv_timeout(START) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the FastMCP server did not start within {START:?}: {:?}",
                    lines.lock().unwrap()
                );
            }
        };
        FastMcp { child, url, lines }
    }

    /// How many output lines are exactly `line`.
    fn count(&self, line: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until `line` was printed `times` times.
    async fn wait_for(&self, line: &str, times: usize) {
        let started = Instant::now();
        while self.count(line) < times {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {times} × {line:?}: {:?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs to one of the server's test routes (`expire-tokens`, `drop-streams`);
    /// the number it answers (of tokens expired, of streams ended).
    async fn test_route(&self, name: &str) -> String {
        let base = self.url.trim_end_matches("/sse").trim_end_matches("/mcp");
        oauth_core::http_client_builder()
            .unwrap()
            .build()
            .unwrap()
            .post(format!("{base}/test/{name}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for FastMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add(a: i64, b: i64) -> CallToolRequestParams {
    CallToolRequestParams::new("add").with_arguments(
        json!({"a": a, "b": b})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

/// `whoami` through the proxy names the token's scope.
async fn assert_whoami(proxy: &Proxied) {
    let who = proxy
        .0
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(
        tool_text(&who).ends_with(" mcp:tools"),
        "{}",
        tool_text(&who)
    );
}

/// A login with `mcp-auth login` (headless, the test as the browser) into a fresh
/// store; returns the home directory and the store's spec.
async fn logged_in(server: &FastMcp) -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, &server.url).await;
    assert!(ok, "login failed:\n{log}\nserver: {:?}", server.log());
    assert_eq!(server.count("registered"), 1, "{:?}", server.log());
    assert_eq!(server.count("exchanged a code"), 1, "{:?}", server.log());
    (home, store)
}

/// The proxy started by rmcp's child-process client; its stderr is returned by
/// [`finish`].
type Proxied = (
    rmcp::service::RunningService<rmcp::RoleClient, ()>,
    Option<tokio::process::ChildStderr>,
);

async fn proxied(home: &std::path::Path, store: &str, url: &str, transport: &str) -> Proxied {
    let mut command = tokio::process::Command::from(mcp_auth(home));
    command.env_remove("RUST_LOG").args([
        "--store",
        store,
        "proxy",
        url,
        "--no-browser",
        "--transport",
        transport,
    ]);
    let (child, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = ().serve(child).await.expect("initialize through the proxy");
    (client, stderr)
}

/// Ends the client (and so the proxy); what the proxy said on stderr, which must hold
/// no token.
async fn finish((client, stderr): Proxied) -> String {
    client.cancel().await.unwrap();
    let mut said = String::new();
    if let Some(mut stderr) = stderr {
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut said).await;
    }
    assert!(
        !said.contains("test_access_token_") && !said.contains("test_refresh_token_"),
        "a token on stderr: {said}"
    );
    said
}

/// rmcp's client and the MCP Inspector through the proxy, `--transport sse` and
/// `--transport auto`, to FastMCP's HTTP+SSE server: initialize, list, call, with the
/// one login; `auto` tries Streamable HTTP first (a POST, refused with 405) and goes
/// on over HTTP+SSE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_reach_a_fastmcp_sse_server_through_the_proxy() {
    let inspector = common::Inspector::find().unwrap_or_else(|missing| panic!("{missing}"));
    let server = FastMcp::start();
    let (home, store) = logged_in(&server).await;
    let url = server.url.clone();
    // The login's discovery may have POSTed to the URL too.
    let refused_before = server.count("http POST /sse 405");

    for transport in ["sse", "auto"] {
        let posts_refused = server.count("http POST /sse 405");
        let streams = server.count("http GET /sse 200");
        let proxy = proxied(home.path(), &store, &url, transport).await;
        let info = proxy.0.peer_info().expect("the server's initialize result");
        assert_eq!(
            info.server_info.as_ref().map(|i| i.name.as_str()),
            Some("fastmcp-sse-test"),
            "{transport}"
        );
        let tools = proxy.0.list_all_tools().await.unwrap();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(names, ["add", "whoami"], "{transport}");
        let sum = proxy.0.call_tool(add(2, 3)).await.unwrap();
        assert_eq!(tool_text(&sum), "5.0", "{transport}");
        assert_whoami(&proxy).await;
        let said = finish(proxy).await;
        assert!(said.is_empty(), "{transport}: the proxy said {said:?}");
        let refused = usize::from(transport == "auto");
        assert_eq!(
            server.count("http POST /sse 405") - posts_refused,
            refused,
            "{transport}: {:?}",
            server.log()
        );
        assert_eq!(
            server.count("http GET /sse 200") - streams,
            1,
            "{transport}: {:?}",
            server.log()
        );
    }

    for transport in ["auto", "sse"] {
        let script = common::proxy_script(
            home.path(),
            &[
                "--store",
                &store,
                "proxy",
                &url,
                "--no-browser",
                "--transport",
                transport,
            ],
        );
        let mut names = inspector.tool_names(&script, home.path());
        names.sort_unstable();
        assert_eq!(names, ["add", "whoami"], "{transport}");
        assert_eq!(
            inspector.add(&script, home.path(), "20", "22"),
            "42.0",
            "{transport}"
        );
    }
    // The one login served every run.
    assert_eq!(server.count("authorized"), 1, "{:?}", server.log());
    assert_eq!(server.count("exchanged a code"), 1);
    assert_eq!(server.count("refreshed"), 0);
    // One refused POST for each `auto` run: rmcp's client once, the Inspector twice.
    assert_eq!(
        server.count("http POST /sse 405") - refused_before,
        3,
        "{:?}",
        server.log()
    );
}

/// Tokens that expire at the server mid-session while the client holds them for valid
/// (announced for an hour, their expiry made to pass by the server's test route): a
/// message POST refused with 401 is sent again after a refresh; later, with the new
/// token expired too, the event stream is lost, and the GET that reopens it is refused
/// with 401: the proxy refreshes, opens a new session, initializes it again, and the
/// client goes on with no new login and no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_over_sse_survives_tokens_expiring_mid_session() {
    let server = FastMcp::start();
    let (home, store) = logged_in(&server).await;
    let proxy = proxied(home.path(), &store, &server.url, "sse").await;
    let sum = proxy.0.call_tool(add(1, 2)).await.unwrap();
    assert_eq!(tool_text(&sum), "3.0");
    assert_eq!(server.count("refused an expired token"), 0);

    // The access token expires at the server: the next POST is refused, renewed, resent.
    assert_eq!(server.test_route("expire-tokens").await, "1");
    let sum = proxy.0.call_tool(add(40, 2)).await.unwrap();
    assert_eq!(tool_text(&sum), "42.0");
    let log = server.log();
    assert_eq!(server.count("http POST /messages/ 401"), 1, "{log:?}");
    assert_eq!(server.count("refused an expired token"), 1, "{log:?}");
    assert_eq!(server.count("refreshed"), 1, "{log:?}");

    // The renewed token expires too, and the event stream is lost: the GET that
    // reopens it meets a 401, the token is renewed, a new session begins.
    assert_eq!(server.test_route("expire-tokens").await, "1");
    assert_eq!(server.test_route("drop-streams").await, "1");
    server.wait_for("http GET /sse 200", 2).await;
    assert_whoami(&proxy).await;
    let sum = proxy.0.call_tool(add(5, 5)).await.unwrap();
    assert_eq!(tool_text(&sum), "10.0");
    let log = server.log();
    assert_eq!(server.count("http GET /sse 401"), 1, "{log:?}");
    // The new session was initialized by the proxy, the client's messages sent again.
    assert_eq!(server.count("rpc initialize"), 2, "{log:?}");
    assert_eq!(server.count("rpc notifications/initialized"), 2, "{log:?}");
    assert_eq!(server.count("refreshed"), 2, "{log:?}");
    assert_eq!(server.count("authorized"), 1, "no new login: {log:?}");
    assert_eq!(server.count("exchanged a code"), 1, "no new login: {log:?}");
    let said = finish(proxy).await;
    assert!(said.is_empty(), "the proxy said {said:?}");
}

/// The same FastMCP with OAuth over Streamable HTTP, `--transport http`: a token that
/// expires at the server mid-session makes the next POST a 401; the proxy renews the
/// token and sends the message again, in the same session, with no new login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_over_streamable_http_survives_tokens_expiring_mid_session() {
    let server = FastMcp::start_with("http");
    let (home, store) = logged_in(&server).await;
    // The login's unauthenticated probe was refused with 401 too.
    let refused_before = server.count("http POST /mcp 401");
    let proxy = proxied(home.path(), &store, &server.url, "http").await;
    let info = proxy.0.peer_info().expect("the server's initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("fastmcp-sse-test")
    );
    let sum = proxy.0.call_tool(add(1, 2)).await.unwrap();
    assert_eq!(tool_text(&sum), "3.0");
    assert_whoami(&proxy).await;
    assert_eq!(server.count("refused an expired token"), 0);

    assert_eq!(server.test_route("expire-tokens").await, "1");
    let sum = proxy.0.call_tool(add(40, 2)).await.unwrap();
    assert_eq!(tool_text(&sum), "42.0");
    let log = server.log();
    assert_eq!(server.count("refused an expired token"), 1, "{log:?}");
    assert_eq!(
        server.count("http POST /mcp 401") - refused_before,
        1,
        "{log:?}"
    );
    assert_eq!(server.count("refreshed"), 1, "{log:?}");
    // One session: initialized once, by the client.
    assert_eq!(server.count("rpc initialize"), 1, "{log:?}");
    assert_eq!(server.count("authorized"), 1, "no new login: {log:?}");
    assert_eq!(server.count("exchanged a code"), 1, "no new login: {log:?}");
    let said = finish(proxy).await;
    assert!(said.is_empty(), "the proxy said {said:?}");
}
