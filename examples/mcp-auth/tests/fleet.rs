//! A fleet sharing one token store: 20 `mcp-auth token` processes started together after
//! the access token expired, against the demo server, which rotates refresh tokens and
//! revokes the whole grant when a spent refresh token comes back (OAuth 2.1 §4.3.1).
//! Exactly one refresh grant reaches the server per expiry, every process prints the
//! same new token, and the grant stays valid: for the SQLite, disk, Redis and DynamoDB
//! stores. Rounds: `MCP_AUTH_FLEET_ROUNDS` (default 5); processes:
//! `MCP_AUTH_FLEET_PROCESSES` (default 20).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use key_value_test_support::dynamodb::{self, Emulator};
use mcp_demo_server::DemoServer;

/// The access token lifetime: short, so that rounds are quick, and long enough for 20
/// processes to start and read the new token before its renewal time (the last tenth
/// of its life) on a loaded machine too: a process that starts later rightly renews
/// it again.
const LIFETIME: Duration = Duration::from_secs(8);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts of what the demo server did.
#[derive(Default)]
struct Counts {
    refreshes: AtomicUsize,
    replays: AtomicUsize,
}

async fn start_server() -> (DemoServer, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let seen = Arc::clone(&counts);
    let server = DemoServer::builder()
        .access_token_lifetime(LIFETIME)
        .on_event(move |event| {
            if event.contains("token endpoint refreshed") {
                seen.refreshes.fetch_add(1, Ordering::SeqCst);
            }
            if event.contains("replay") || event.contains("refused a refresh") {
                seen.replays.fetch_add(1, Ordering::SeqCst);
            }
        })
        .start()
        .await
        .unwrap();
    (server, counts)
}

/// Starts `mcp-auth token URL` with `store`; the extra environment goes to each process.
fn token_process(home: &Path, store: &str, url: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = mcp_auth(home);
    cmd.args(["--store", store, "token", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.spawn().unwrap()
}

/// Logs in once, then runs the rounds.
async fn fleet(label: &str, store: &str, env: &[(&str, String)]) {
    let rounds = setting("MCP_AUTH_FLEET_ROUNDS", 5);
    let processes = setting("MCP_AUTH_FLEET_PROCESSES", 20);
    let home = tempfile::tempdir().unwrap();
    let (server, counts) = start_server().await;
    let url = server.mcp_url().to_string();
    let (ok, stderr) = login_headless_with(home.path(), store, &url, env).await;
    assert!(ok, "{label}: login failed:\n{stderr}");
    let mut previous = String::new();
    for round in 1..=rounds {
        tokio::time::sleep(LIFETIME + Duration::from_millis(300)).await;
        let children: Vec<Child> = (0..processes)
            .map(|_| token_process(home.path(), store, &url, env))
            .collect();
        let outputs: Vec<_> = tokio::task::block_in_place(|| {
            children
                .into_iter()
                .map(|child| child.wait_with_output().unwrap())
                .collect()
        });
        let mut tokens = BTreeSet::new();
        let mut report = String::new();
        for (i, out) in outputs.iter().enumerate() {
            let token = text(&out.stdout);
            report.push_str(&format!(
                "process {i}: token …{}\n{}\n",
                &token.trim()[token.trim().len().saturating_sub(6)..],
                text(&out.stderr)
            ));
            assert!(
                out.status.success(),
                "{label} round {round}: process {i} exited {:?}: {}",
                out.status.code(),
                text(&out.stderr)
            );
            tokens.insert(text(&out.stdout).trim().to_owned());
        }
        assert_eq!(
            tokens.len(),
            1,
            "{label} round {round}: the processes printed different tokens ({} refresh grants):\n{report}",
            counts.refreshes.load(Ordering::SeqCst)
        );
        assert_eq!(
            counts.refreshes.load(Ordering::SeqCst),
            round,
            "{label} round {round}: refresh grants at the server"
        );
        assert_eq!(
            counts.replays.load(Ordering::SeqCst),
            0,
            "{label} round {round}: refused or replayed refresh tokens"
        );
        let token = tokens.into_iter().next().unwrap();
        assert_ne!(
            token, previous,
            "{label} round {round}: the token was not renewed"
        );
        // The grant is still valid: the new token works at the MCP endpoint (on a
        // machine slow enough for it to have expired already, the server must say so
        // rather than that the grant was revoked; the next round's refresh then shows
        // the grant alive).
        let (status, challenge) = tools_list_answer(&url, &token).await;
        assert!(
            status == 200 || (status == 401 && challenge.contains("expired")),
            "{label} round {round}: the new token is refused: {status} {challenge}"
        );
        previous = token;
    }
    eprintln!("{label}: {rounds} rounds of {processes} processes, one refresh each");
}

/// Whether this build of `mcp-auth` can open `store` (its feature may be off).
fn supported(home: &Path, store: &str, env: &[(&str, String)]) -> bool {
    let mut cmd = mcp_auth(home);
    cmd.args(["--store", store, "status"]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = run(&mut cmd);
    let err = text(&out.stderr);
    !(out.status.code() == Some(2) && err.contains("feature"))
}

fn skip_unless_supported(test: &str, store: &str, env: &[(&str, String)]) -> bool {
    let home = tempfile::tempdir().unwrap();
    if supported(home.path(), store, env) {
        return true;
    }
    key_value_test_support::skip(
        test,
        &format!("this build of mcp-auth cannot open {store} (build it with the store's feature)"),
    );
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_sqlite_refreshes_once_per_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("tokens.sqlite").display());
    fleet("sqlite", &store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_disk_refreshes_once_per_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("disk:{}", dir.path().join("tokens").display());
    fleet("disk", &store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_redis_refreshes_once_per_expiry() {
    const TEST: &str = "a_fleet_on_redis_refreshes_once_per_expiry";
    let Some(target) = key_value_test_support::redis::single(TEST) else {
        return;
    };
    let store = target.urls()[0].clone();
    if !skip_unless_supported(TEST, &store, &[]) {
        return;
    }
    fleet("redis", &store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_dynamodb_refreshes_once_per_expiry() {
    const TEST: &str = "a_fleet_on_dynamodb_refreshes_once_per_expiry";
    let Some(endpoint) = dynamodb::shared(TEST, Emulator::Dynalite) else {
        return;
    };
    let table = format!("mcp-auth-fleet-{}", std::process::id());
    let store = format!("dynamodb://{table}");
    let env = [("DYNAMODB_ENDPOINT", endpoint)];
    if !skip_unless_supported(TEST, &store, &env) {
        return;
    }
    fleet("dynamodb", &store, &env).await;
}

/// The status and `WWW-Authenticate` of a `tools/list` call with `token`.
async fn tools_list_answer(url: &str, token: &str) -> (u16, String) {
    let response = oauth_core::http_client_builder()
        .unwrap()
        .build()
        .unwrap()
        .post(url)
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), challenge)
}
