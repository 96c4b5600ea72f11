//! `mcp-auth proxy` driven over stdio by real MCP clients (rmcp's child-process client,
//! and raw JSON lines) against the demo server, over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{login_headless, mcp_auth, text};
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

fn tool_text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// rmcp's client launches the real binary; the token expires mid-session and the
/// proxy renews it with the refresh token: no new login, every call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_through_the_proxy_survives_an_expiring_token() {
    let home = tempfile::tempdir().unwrap();
    let (server, events) = demo(Duration::from_secs(3)).await;
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

    // The 3 s token expires; the next calls need the refresh token.
    tokio::time::sleep(Duration::from_millis(3500)).await;
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
/// JSON object per line, equal to what the server gives for the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_carries_only_mcp_messages() {
    let home = tempfile::tempdir().unwrap();
    let (server, events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");

    let mut child = mcp_auth(home.path())
        .args(["--store", &store, "proxy", server.mcp_url(), "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut ask = move |message: Value| {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    };
    let answer = |id: i64| -> Value {
        let line = tokio::task::block_in_place(|| received.recv_timeout(Duration::from_secs(30)))
            .unwrap_or_else(|_| panic!("no answer to request {id}"));
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("stdout holds something else than JSON: {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        assert_eq!(message["id"], id, "{line}");
        message
    };
    ask(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    let init = answer(1);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    ask(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    ask(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let listed = answer(2);
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
    ask(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1.5, "b": 2}}}));
    let called = answer(3);
    assert_eq!(called["result"]["content"][0]["text"], "3.5", "{called}");
    // A method the server does not know: its JSON-RPC error comes back as such.
    ask(json!({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"}));
    let refused = answer(4);
    assert_eq!(refused["error"]["code"], -32601, "{refused}");

    // Closing stdin ends the proxy, successfully, with nothing more on stdout.
    drop(ask);
    let started = Instant::now();
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let rest: Vec<String> = received.try_iter().collect();
    assert!(rest.is_empty(), "stray output on stdout: {rest:?}");
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    assert!(!stderr.contains(&token), "the token reached stderr");
    assert_eq!(count(&events, "exchanged a code"), 1, "no new login");
    server.shutdown().await;
}

/// Without a stored token and without a browser, the proxy prints the login URL on
/// stderr and nothing on stdout; `--transport sse` and bad headers are usage errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_and_headless_login_keep_stdout_clean() {
    let home = tempfile::tempdir().unwrap();
    let (server, _events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    for args in [
        vec!["--transport", "sse"],
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
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node = root.join("target/deps/node22/bin/node");
    let inspector = root.join(
        "target/deps/mcp-inspector/node_modules/@modelcontextprotocol/inspector-cli/build/index.js",
    );
    if !node.exists() || !inspector.exists() {
        let why = format!(
            "SKIPPED the_mcp_inspector_drives_the_proxy: no {} or {}",
            node.display(),
            inspector.display()
        );
        assert!(
            std::env::var_os("KEYVALUE_REQUIRE_SERVERS").is_none(),
            "{why}"
        );
        eprintln!("{why}");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (server, events) = demo(Duration::from_secs(3600)).await;
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());
    let (ok, log) = login_headless(home.path(), &store, server.mcp_url()).await;
    assert!(ok, "login failed:\n{log}");
    // The Inspector's command line takes the server command as its last arguments and
    // reads options among them: a script holds the proxy's command line instead.
    let script = home.path().join("proxy.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec '{}' --store '{store}' proxy '{}' --no-browser\n",
            common::BIN,
            server.mcp_url()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o700);
    std::fs::set_permissions(&script, permissions).unwrap();
    let inspect = |method_args: &[&str]| {
        let out = std::process::Command::new(&node)
            .arg(&inspector)
            .arg(&script)
            .args(method_args)
            // It finds its package.json relative to the working directory.
            .current_dir(inspector.parent().unwrap())
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "inspector {method_args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("the inspector printed no JSON: {}", text(&out.stdout)));
        json
    };
    let listed = tokio::task::block_in_place(|| inspect(&["--method", "tools/list"]));
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["whoami", "add"], "{listed}");
    let called = tokio::task::block_in_place(|| {
        inspect(&[
            "--method",
            "tools/call",
            "--tool-name",
            "add",
            "--tool-arg",
            "a=2",
            "b=3",
        ])
    });
    assert_eq!(called["content"][0]["text"], "5", "{called}");
    assert_eq!(count(&events, "exchanged a code"), 1, "no new login");
    assert_eq!(count(&events, "MCP tools/call"), 1);
    server.shutdown().await;
}
