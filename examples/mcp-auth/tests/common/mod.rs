//! What the `mcp-auth` tests share: the binary with a private home, and a headless login.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// The text of a tool result's text contents, one a line.
pub fn tool_text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The official MCP Inspector's command-line mode (npm `@modelcontextprotocol/inspector-cli`)
/// under Node 22, both in `target/deps` (`scripts/deps/node22.sh`,
/// `scripts/deps/mcp-inspector.sh`).
pub struct Inspector {
    node: std::path::PathBuf,
    cli: std::path::PathBuf,
}

impl Inspector {
    /// The Inspector, or why it cannot run (with the command that installs it).
    pub fn find() -> Result<Inspector, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let node = root.join("target/deps/node22/bin/node");
        let cli = root.join(
            "target/deps/mcp-inspector/node_modules/@modelcontextprotocol/inspector-cli/build/index.js",
        );
        if node.exists() && cli.exists() {
            Ok(Inspector { node, cli })
        } else {
            Err(format!(
                "no {} or {} (install: scripts/deps/node22.sh && scripts/deps/mcp-inspector.sh)",
                node.display(),
                cli.display()
            ))
        }
    }

    /// Runs `inspector SCRIPT METHOD_ARGS…` with `home` as HOME; the JSON it prints.
    /// Its command line takes the server command as its last arguments and reads
    /// options among them, so a script ([`proxy_script`]) holds the proxy's command.
    pub fn run(&self, script: &Path, home: &Path, method_args: &[&str]) -> serde_json::Value {
        let out = Command::new(&self.node)
            .arg(&self.cli)
            .arg(script)
            .args(method_args)
            // It finds its package.json relative to the working directory.
            .current_dir(self.cli.parent().unwrap())
            .env("HOME", home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "inspector {method_args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("the inspector printed no JSON: {}", text(&out.stdout)))
    }
}

impl Inspector {
    /// The names of the tools `tools/list` gives, in the server's order.
    pub fn tool_names(&self, script: &Path, home: &Path) -> Vec<String> {
        let listed =
            tokio::task::block_in_place(|| self.run(script, home, &["--method", "tools/list"]));
        listed["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools: {listed}"))
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect()
    }

    /// `tools/call` of the tool `add` with `a` and `b`: the text of its first content.
    pub fn add(&self, script: &Path, home: &Path, a: &str, b: &str) -> String {
        let (a, b) = (format!("a={a}"), format!("b={b}"));
        let called = tokio::task::block_in_place(|| {
            self.run(
                script,
                home,
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "add",
                    "--tool-arg",
                    &a,
                    &b,
                ],
            )
        });
        called["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text: {called}"))
            .to_string()
    }
}

/// An executable `proxy.sh` in `dir` that runs `mcp-auth ARGS…` (quoted for sh).
pub fn proxy_script(dir: &Path, args: &[&str]) -> std::path::PathBuf {
    let script = dir.join("proxy.sh");
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    std::fs::write(&script, format!("#!/bin/sh\nexec {}\n", quoted.join(" "))).unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o700);
    std::fs::set_permissions(&script, permissions).unwrap();
    script
}

/// A SQLite store at `path` holding the token `token` for `url`, valid for an hour, in
/// FastMCP's layout, so the proxy needs no login. Returns the `--store` argument.
pub async fn seed_token(path: &Path, url: &str, token: &str) -> String {
    use key_value::AsyncKeyValue;
    use serde_json::{Value, json};
    let store = key_value::sqlite::SqliteStore::open(path).await.unwrap();
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let object = |v: Value| v.as_object().cloned().unwrap();
    store
        .put(
            &format!("{url}/tokens"),
            object(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})),
            None,
            Some("mcp-oauth-token"),
        )
        .await
        .unwrap();
    store
        .put(
            &format!("{url}/token_expiry"),
            object(json!({"expires_at": expires_at})),
            None,
            Some("mcp-oauth-token-expiry"),
        )
        .await
        .unwrap();
    format!("sqlite:{}", path.display())
}

/// `mcp-auth` driven with raw JSON-RPC lines, as a desktop client drives the proxy: its
/// stdout is read line by line on a thread of its own.
pub struct RawProxy {
    pub child: Child,
    stdin: Option<ChildStdin>,
    received: mpsc::Receiver<String>,
}

impl RawProxy {
    /// Starts `mcp-auth ARGS` with a private `home` and piped standard streams.
    pub fn spawn(home: &Path, args: &[&str]) -> RawProxy {
        let mut child = mcp_auth(home)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        RawProxy {
            child,
            stdin,
            received,
        }
    }

    /// Writes one message, as one line.
    pub fn send(&mut self, message: serde_json::Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line on stdout, parsed; panics after `wait` or on anything but JSON.
    pub fn next(&self, wait: Duration) -> serde_json::Value {
        let line = tokio::task::block_in_place(|| self.received.recv_timeout(wait))
            .unwrap_or_else(|_| panic!("nothing more on stdout within {wait:?}"));
        serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("stdout holds something else than JSON: {line:?}"))
    }

    /// Closes stdin, as a client that quits does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The exit status and stderr, or `None` if the process has not exited within
    /// `within` (it is then killed, and its stderr printed).
    pub fn wait(&mut self, within: Duration) -> Option<(ExitStatus, String)> {
        let start = Instant::now();
        loop {
            let exited = self.child.try_wait().unwrap();
            if exited.is_none() && start.elapsed() <= within {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            if exited.is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr);
            if exited.is_none() {
                eprintln!("the proxy did not exit; its stderr: {stderr}");
            }
            return exited.map(|status| (status, stderr));
        }
    }

    /// What stdout holds and nobody read yet.
    pub fn rest(&self) -> Vec<String> {
        self.received.try_iter().collect()
    }
}
