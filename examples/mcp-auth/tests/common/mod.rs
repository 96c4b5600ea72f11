//! What the `mcp-auth` tests share: the binary with a private home, and a headless login.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth");

/// The command with a private home (data directory) and none of the caller's settings.
pub fn mcp_auth(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("MCP_AUTH_KEY")
        .env_remove("MCP_AUTH_STORE")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null());
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `mcp-auth login --no-browser` and plays the browser: opens the printed URL.
pub async fn login_headless(home: &Path, store: &str, url: &str) -> (bool, String) {
    login_headless_with(home, store, url, &[]).await
}

/// [`login_headless`] with extra environment variables for `mcp-auth`.
pub async fn login_headless_with(
    home: &Path,
    store: &str,
    url: &str,
    env: &[(&str, String)],
) -> (bool, String) {
    let mut command = mcp_auth(home);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .args([
            "--store",
            store,
            "login",
            url,
            "--no-browser",
            "--timeout",
            "60",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let auth_url = loop {
        let line = tokio::task::block_in_place(|| received.recv_timeout(Duration::from_secs(30)))
            .unwrap_or_else(|_| panic!("no authorization URL printed:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if let Some(u) = line
            .trim()
            .strip_prefix("http")
            .filter(|u| u.contains("/authorize?"))
        {
            break format!("http{u}");
        }
    };
    // The browser: follows the demo server's redirect to mcp-auth's callback.
    let browser = oauth_core::http_client_builder().unwrap().build().unwrap();
    let page = browser.get(&auth_url).send().await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    while let Ok(line) = received.recv_timeout(Duration::from_secs(1)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    (status.success(), seen)
}

/// The status of a `tools/list` call to the MCP endpoint at `url` with `token`.
pub async fn tools_list_status(url: &str, token: &str) -> reqwest::StatusCode {
    oauth_core::http_client_builder()
        .unwrap()
        .build()
        .unwrap()
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .status()
}
