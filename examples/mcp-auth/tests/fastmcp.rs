//! `mcp-auth --store fastmcp` and the real FastMCP (4.2.3, in the virtual environment
//! `scripts/deps/fastmcp.sh` makes) share FastMCP's command-line token cache: a login
//! with either serves the other with no new login, and each refreshes with the tokens
//! the other stored, against the demo server with short-lived access tokens.
//!
//! The FastMCP side is `fastmcp_client.py` (beside this file), which lists tools through
//! FastMCP's own `fastmcp.cli.client._build_client`. The demo server counts logins
//! (authorization requests, registrations, code exchanges) and refreshes.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use key_value::AsyncKeyValue;
use key_value::fernet::{FernetKey, FernetWrapper};
use mcp_demo_server::DemoServer;
use oauth_core::layout::{StoredEntry, server_key};

/// The demo server's access token lifetime: long enough for a Python start-up and a
/// tool listing on a loaded machine (FastMCP's imports take seconds of CPU, and two
/// cores are shared with the other tests), short enough to wait for.
const LIFETIME: Duration = Duration::from_secs(20);

/// The FastMCP side of the test.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fastmcp_client.py");

/// How long one run of the FastMCP client may take.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(90);

/// What the demo server did, counted from its events.
#[derive(Default)]
struct Counts {
    authorizations: AtomicUsize,
    registrations: AtomicUsize,
    code_exchanges: AtomicUsize,
    refreshes: AtomicUsize,
    refused: AtomicUsize,
}

/// A snapshot of [`Counts`]: (authorizations, registrations, code exchanges, refreshes,
/// refused refreshes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    authorizations: usize,
    registrations: usize,
    code_exchanges: usize,
    refreshes: usize,
    refused: usize,
}

impl Counts {
    fn seen(&self) -> Seen {
        Seen {
            authorizations: self.authorizations.load(Ordering::SeqCst),
            registrations: self.registrations.load(Ordering::SeqCst),
            code_exchanges: self.code_exchanges.load(Ordering::SeqCst),
            refreshes: self.refreshes.load(Ordering::SeqCst),
            refused: self.refused.load(Ordering::SeqCst),
        }
    }
}

async fn start_server() -> (DemoServer, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let seen = Arc::clone(&counts);
    let server = DemoServer::builder()
        .access_token_lifetime(LIFETIME)
        .on_event(move |event| {
            let counter = if event.starts_with("authorization request from") {
                &seen.authorizations
            } else if event.starts_with("registered client") {
                &seen.registrations
            } else if event.contains("token endpoint exchanged a code") {
                &seen.code_exchanges
            } else if event.contains("token endpoint refreshed") {
                &seen.refreshes
            } else if event.contains("refused a refresh") || event.contains("replay") {
                &seen.refused
            } else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .await
        .unwrap();
    (server, counts)
}

/// The private places both programs share: HOME, XDG_DATA_HOME, and FASTMCP_HOME when
/// `fastmcp_home` is set (else FastMCP's default home under XDG_DATA_HOME, which both
/// must find alike), with FastMCP's key.
struct Shared {
    home: tempfile::TempDir,
    fastmcp_home: Option<PathBuf>,
    key: String,
}

impl Shared {
    fn new(with_fastmcp_home: bool) -> Shared {
        let home = tempfile::tempdir().unwrap();
        let fastmcp_home = with_fastmcp_home.then(|| home.path().join("fastmcp-home"));
        let key = FernetKey::generate().unwrap().to_base64().to_string();
        Shared {
            home,
            fastmcp_home,
            key,
        }
    }

    /// The environment both programs get.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("FASTMCP_OAUTH_ENCRYPTION_KEY", self.key.clone())];
        if let Some(dir) = &self.fastmcp_home {
            env.push(("FASTMCP_HOME", dir.display().to_string()));
        }
        env
    }

    /// FastMCP's home as FastMCP 4 finds it on Linux.
    fn fastmcp_home(&self) -> PathBuf {
        match &self.fastmcp_home {
            Some(dir) => dir.clone(),
            None => self.home.path().join("data").join("fastmcp"),
        }
    }

    /// The one cache directory under `<FastMCP home>/cli-oauth` (named by 12 hex digits).
    fn cache_dir(&self) -> PathBuf {
        let parent = self.fastmcp_home().join("cli-oauth");
        let dirs: Vec<PathBuf> = std::fs::read_dir(&parent)
            .unwrap_or_else(|e| panic!("{}: {e}", parent.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        let name = dirs[0].file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.len() == 12 && name.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        dirs[0].clone()
    }

    /// `mcp-auth --store fastmcp ARGS…` with the shared environment.
    fn mcp_auth(&self, args: &[&str]) -> Command {
        let mut cmd = mcp_auth(self.home.path());
        cmd.env_remove("FASTMCP_HOME")
            .args(["--store", "fastmcp"])
            .args(args);
        for (name, value) in self.env() {
            cmd.env(name, value);
        }
        cmd
    }

    /// `mcp-auth --store fastmcp token URL`: the access token printed.
    fn token(&self, url: &str) -> String {
        let out = tokio::task::block_in_place(|| run(&mut self.mcp_auth(&["token", url])));
        assert!(
            out.status.success(),
            "mcp-auth token exited {:?}: {}",
            out.status.code(),
            text(&out.stderr)
        );
        let token = text(&out.stdout).trim().to_owned();
        assert!(!token.is_empty());
        token
    }

    /// Runs FastMCP's client (`fastmcp_client.py URL MODE`) and returns the tools it
    /// listed; panics with its stderr when it fails.
    async fn fastmcp(&self, python: &Path, url: &str, mode: &str) -> Vec<String> {
        let mut cmd = Command::new(python);
        cmd.arg(SCRIPT)
            .args([url, mode])
            // No `.env` file of FastMCP's from the caller's directory.
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env_remove("FASTMCP_HOME")
            .env_remove("FASTMCP_ENV_FILE")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in self.env() {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > PYTHON_TIMEOUT {
                let _ = child.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = child.wait_with_output().unwrap();
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "FastMCP's client ({mode}) exited {:?} after {:?}:\n{stdout}\n{}",
            out.status.code(),
            started.elapsed(),
            text(&out.stderr)
        );
        let line = stdout.lines().last().unwrap_or_default();
        let report: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("FastMCP's client printed {stdout:?}: {e}"));
        let logins = report["logins"].as_u64().unwrap();
        assert_eq!(logins, u64::from(mode == "login"), "{mode}: {report}");
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }

    /// The access token stored in the cache for `url`, read directly: the disk store
    /// under Fernet with the key.
    async fn stored_access_token(&self, url: &str) -> String {
        let dir = self.cache_dir();
        let raw: Arc<dyn AsyncKeyValue> = Arc::from(
            key_value::open(&format!("disk:{}", dir.display()))
                .await
                .unwrap(),
        );
        let store = FernetWrapper::new(raw, FernetKey::from_base64(&self.key).unwrap());
        let key = StoredEntry::Tokens.key(&server_key(&url::Url::parse(url).unwrap()));
        let tokens = store
            .get(&key, Some(StoredEntry::Tokens.collection()))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no tokens stored under {key}"));
        tokens["access_token"].as_str().unwrap().to_owned()
    }
}

/// The FastMCP interpreter, or `None` after a loud skip.
fn fastmcp_python(test: &str) -> Option<PathBuf> {
    let python = key_value_test_support::python::fastmcp_interpreter();
    if python.is_none() {
        key_value_test_support::skip(
            test,
            "FastMCP 4.2.3 is not installed (target/py/fastmcp; scripts/deps/fastmcp.sh)",
        );
    }
    python
}

const TOOLS: [&str; 2] = ["add", "whoami"];

/// Waits until the access tokens now stored have expired.
async fn outlive_access_token() {
    tokio::time::sleep(LIFETIME + Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_mcp_auth_serves_fastmcp_and_both_refresh() {
    let Some(python) = fastmcp_python("a_login_with_mcp_auth_serves_fastmcp_and_both_refresh")
    else {
        return;
    };
    let shared = Shared::new(false);
    let (server, counts) = start_server().await;
    let url = server.mcp_url().to_string();

    // Before any login: nothing is created by a command that only reads.
    let out = tokio::task::block_in_place(|| run(&mut shared.mcp_auth(&["status"])));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!shared.fastmcp_home().exists());

    let (ok, stderr) =
        login_headless_with(shared.home.path(), "fastmcp", &url, &shared.env()).await;
    assert!(ok, "mcp-auth login failed:\n{stderr}");
    assert!(stderr.contains("FastMCP's CLI token cache"), "{stderr}");
    let login = counts.seen();
    assert_eq!(
        (
            login.authorizations,
            login.registrations,
            login.code_exchanges
        ),
        (1, 1, 1),
        "{login:?}"
    );
    let first = shared.stored_access_token(&url).await;

    // FastMCP uses mcp-auth's login.
    assert_eq!(shared.fastmcp(&python, &url, "reuse").await, TOOLS);
    assert_eq!(counts.seen(), login, "FastMCP logged in or refreshed again");
    assert_eq!(shared.stored_access_token(&url).await, first);

    // FastMCP refreshes with the refresh token mcp-auth stored…
    outlive_access_token().await;
    assert_eq!(shared.fastmcp(&python, &url, "reuse").await, TOOLS);
    let after_python = counts.seen();
    assert_eq!(after_python.refreshes, 1, "{after_python:?}");
    assert_eq!(after_python.refused, 0, "{after_python:?}");
    let refreshed_by_python = shared.stored_access_token(&url).await;
    assert_ne!(refreshed_by_python, first);

    // …and mcp-auth uses what FastMCP stored, with no refresh of its own.
    assert_eq!(shared.token(&url), refreshed_by_python);
    assert_eq!(counts.seen(), after_python);

    // mcp-auth refreshes with the (rotated) refresh token FastMCP stored…
    outlive_access_token().await;
    let refreshed_by_mcp_auth = shared.token(&url);
    let after_rust = counts.seen();
    assert_eq!(after_rust.refreshes, 2, "{after_rust:?}");
    assert_eq!(after_rust.refused, 0, "{after_rust:?}");
    assert_ne!(refreshed_by_mcp_auth, refreshed_by_python);
    assert_eq!(
        shared.stored_access_token(&url).await,
        refreshed_by_mcp_auth
    );

    // …and FastMCP uses it.
    assert_eq!(shared.fastmcp(&python, &url, "reuse").await, TOOLS);
    let end = counts.seen();
    assert_eq!(end, after_rust, "FastMCP logged in or refreshed again");
    assert_eq!(
        (end.authorizations, end.registrations, end.code_exchanges),
        (1, 1, 1)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_fastmcp_serves_mcp_auth_and_both_refresh() {
    let Some(python) = fastmcp_python("a_login_with_fastmcp_serves_mcp_auth_and_both_refresh")
    else {
        return;
    };
    let shared = Shared::new(true);
    let (server, counts) = start_server().await;
    let url = server.mcp_url().to_string();

    assert_eq!(shared.fastmcp(&python, &url, "login").await, TOOLS);
    let login = counts.seen();
    // FastMCP checks the authorization URL before it opens the browser, which this
    // server (approving at once) counts as an authorization request of its own.
    assert!(login.authorizations >= 1, "{login:?}");
    assert_eq!(
        (login.registrations, login.code_exchanges, login.refreshes),
        (1, 1, 0),
        "{login:?}"
    );
    let first = shared.stored_access_token(&url).await;

    // mcp-auth uses FastMCP's login: status shows it, token prints it.
    let out = tokio::task::block_in_place(|| run(&mut shared.mcp_auth(&["status", &url])));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("FastMCP's CLI token cache"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(shared.token(&url), first);
    assert_eq!(tools_list_status(&url, &first).await, 200);
    assert_eq!(
        counts.seen(),
        login,
        "mcp-auth logged in or refreshed again"
    );

    // mcp-auth refreshes with the refresh token FastMCP stored…
    outlive_access_token().await;
    let refreshed_by_mcp_auth = shared.token(&url);
    let after_rust = counts.seen();
    assert_eq!(after_rust.refreshes, 1, "{after_rust:?}");
    assert_eq!(after_rust.refused, 0, "{after_rust:?}");
    assert_ne!(refreshed_by_mcp_auth, first);

    // …and FastMCP uses it.
    assert_eq!(shared.fastmcp(&python, &url, "reuse").await, TOOLS);
    assert_eq!(
        counts.seen(),
        after_rust,
        "FastMCP logged in or refreshed again"
    );

    // FastMCP refreshes with the refresh token mcp-auth stored…
    outlive_access_token().await;
    assert_eq!(shared.fastmcp(&python, &url, "reuse").await, TOOLS);
    let after_python = counts.seen();
    assert_eq!(after_python.refreshes, 2, "{after_python:?}");
    assert_eq!(after_python.refused, 0, "{after_python:?}");
    let refreshed_by_python = shared.stored_access_token(&url).await;
    assert_ne!(refreshed_by_python, refreshed_by_mcp_auth);

    // …and mcp-auth uses it.
    assert_eq!(shared.token(&url), refreshed_by_python);
    let end = counts.seen();
    assert_eq!(end, after_python, "mcp-auth logged in or refreshed again");
    assert_eq!((end.registrations, end.code_exchanges), (1, 1));
    server.shutdown().await;
}

/// Asserts a one-line failure with `code` and returns the line.
fn one_line_failure(out: &std::process::Output, code: i32) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    stderr
}

#[test]
fn without_a_key_the_fastmcp_store_is_a_usage_error_that_creates_nothing() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let fastmcp = |args: &[&str]| {
        let mut cmd = mcp_auth(home.path());
        cmd.env_remove("FASTMCP_OAUTH_ENCRYPTION_KEY")
            .env_remove("FASTMCP_HOME")
            .args(args);
        cmd
    };
    for command in [
        vec!["status"],
        vec!["token", "http://127.0.0.1:9/mcp"],
        vec!["logout", "--local", "http://127.0.0.1:9/mcp"],
        vec!["login", "--no-browser", "http://127.0.0.1:9/mcp"],
    ] {
        let mut cmd = fastmcp(&["--store", "fastmcp"]);
        let err = one_line_failure(&run(cmd.args(&command)), 2);
        assert!(err.contains("FASTMCP_OAUTH_ENCRYPTION_KEY"), "{err}");
        // The same through the environment, and with FastMCP's variable empty (which
        // FastMCP reads as no key).
        let mut cmd = fastmcp(&[]);
        cmd.env("MCP_AUTH_STORE", "fastmcp:")
            .env("FASTMCP_OAUTH_ENCRYPTION_KEY", "");
        one_line_failure(&run(cmd.args(&command)), 2);
    }
    let key = FernetKey::generate().unwrap().to_base64().to_string();
    let mut cmd = fastmcp(&["--store", "fastmcp", "--no-encryption", "status"]);
    cmd.env("FASTMCP_OAUTH_ENCRYPTION_KEY", &key);
    let err = one_line_failure(&run(&mut cmd), 2);
    assert!(err.contains("--no-encryption"), "{err}");
    let mut cmd = fastmcp(&["--store", "fastmcp", "status"]);
    cmd.env("FASTMCP_OAUTH_ENCRYPTION_KEY", "not a key");
    let err = one_line_failure(&run(&mut cmd), 2);
    assert!(!err.contains("not a key"), "the key is shown: {err}");
    let missing = home.path().join("missing.key");
    let mut cmd = fastmcp(&["--store", "fastmcp", "--key-file"]);
    cmd.arg(&missing).arg("status");
    let err = one_line_failure(&run(&mut cmd), 2);
    assert!(err.contains("does not exist"), "{err}");
    // With a key, the commands that only read find no cache and create none (logout
    // has nothing to do: it succeeds, saying so).
    for (command, code) in [
        (vec!["status"], 3),
        (vec!["token", "http://127.0.0.1:9/mcp"], 3),
        (vec!["logout", "--local", "http://127.0.0.1:9/mcp"], 0),
    ] {
        let mut cmd = fastmcp(&["--store", "fastmcp"]);
        cmd.env("FASTMCP_OAUTH_ENCRYPTION_KEY", &key);
        let out = run(cmd.args(&command));
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{command:?}: {said}");
        assert!(said.contains("FastMCP's CLI token cache"), "{said}");
        assert!(!said.contains(&key), "{said}");
    }
    assert!(!data.exists(), "{} was created", data.display());
    assert!(!home.path().join("missing.key").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastmcps_variable_wins_over_mcp_auth_keys_and_names_the_directory() {
    let home = tempfile::tempdir().unwrap();
    let fastmcp_key = FernetKey::generate().unwrap().to_base64().to_string();
    let other_key = FernetKey::generate().unwrap().to_base64().to_string();
    let server = DemoServer::builder().start().await.unwrap();
    let url = server.mcp_url().to_string();
    let env = [
        ("FASTMCP_OAUTH_ENCRYPTION_KEY", fastmcp_key.clone()),
        ("MCP_AUTH_KEY", other_key.clone()),
        ("FASTMCP_HOME", home.path().join("fm").display().to_string()),
    ];
    let (ok, stderr) = login_headless_with(home.path(), "fastmcp", &url, &env).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("key from $FASTMCP_OAUTH_ENCRYPTION_KEY"),
        "{stderr}"
    );
    let token = |key_env: (&str, &str)| {
        let mut cmd = mcp_auth(home.path());
        cmd.env_remove("FASTMCP_OAUTH_ENCRYPTION_KEY")
            .env("FASTMCP_HOME", home.path().join("fm"))
            .env(key_env.0, key_env.1)
            .args(["--store", "fastmcp", "token", &url]);
        tokio::task::block_in_place(|| run(&mut cmd))
    };
    // FastMCP's key, given as mcp-auth's own, reaches the same cache…
    let out = token(("MCP_AUTH_KEY", &fastmcp_key));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tools_list_status(&url, text(&out.stdout).trim()).await, 200);
    // …and so does a key file holding it (with a newline, as key files have).
    let key_file = home.path().join("fastmcp.key");
    std::fs::write(&key_file, format!("{fastmcp_key}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut cmd = mcp_auth(home.path());
    cmd.env_remove("FASTMCP_OAUTH_ENCRYPTION_KEY")
        .env("FASTMCP_HOME", home.path().join("fm"))
        .arg("--key-file")
        .arg(&key_file)
        .args(["--store", "fastmcp", "status", &url]);
    let out = tokio::task::block_in_place(|| run(&mut cmd));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("fastmcp.key"),
        "{}",
        text(&out.stdout)
    );
    // The other key names another directory, where nothing is stored.
    let out = token(("MCP_AUTH_KEY", &other_key));
    one_line_failure(&out, 3);
    let caches: Vec<_> = std::fs::read_dir(home.path().join("fm/cli-oauth"))
        .unwrap()
        .collect();
    assert_eq!(caches.len(), 1);
    server.shutdown().await;
}
