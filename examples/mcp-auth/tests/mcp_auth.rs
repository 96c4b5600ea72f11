//! `mcp-auth` as a person runs it: the real binary, real files, a real demo server.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use key_value_test_support::free_port;
use mcp_demo_server::DemoServer;

/// Asserts a failure: the exit code, and exactly one line on stderr.
fn assert_one_line_failure(output: &Output, code: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {stderr}",
        text(&output.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("mcp-auth: "), "{stderr}");
    stderr
}

#[test]
fn demo_twice_reuses_the_stored_token() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();

    let first = run(mcp_auth(home.path()).args(["demo", "--port", &port]));
    let out = text(&first.stdout);
    assert!(first.status.success(), "{out}\n{}", text(&first.stderr));
    assert!(out.contains("logging in without a browser"), "{out}");
    assert!(out.contains("registered client"), "{out}");
    assert!(out.contains("new key created in"), "{out}");
    assert!(
        out.contains("tools/call add {\"a\": 2, \"b\": 3} -> 5"),
        "{out}"
    );
    assert!(out.contains("__encrypted_data__"), "{out}");

    // No --port: the stored one, so the stored token still belongs to the server URL.
    let second = run(mcp_auth(home.path()).arg("demo"));
    let out = text(&second.stdout);
    assert!(second.status.success(), "{out}\n{}", text(&second.stderr));
    assert!(out.contains(&format!("http://127.0.0.1:{port}")), "{out}");
    assert!(out.contains("reusing it, no login needed"), "{out}");
    assert!(!out.contains("logging in without a browser"), "{out}");
    assert!(!out.contains("registered client"), "{out}");
    assert!(out.contains("-> 5"), "{out}");

    // The default store is an encrypted SQLite file in the data directory, its key file
    // owner-only.
    let dir = home.path().join("data/mcp-auth");
    assert!(dir.join("tokens.sqlite").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("tokens.sqlite.key")), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    let status = run(mcp_auth(home.path()).arg("status"));
    let out = text(&status.stdout);
    assert!(status.status.success());
    assert!(
        out.contains(&format!("http://127.0.0.1:{port}/mcp  valid for")),
        "{out}"
    );
    assert!(out.contains("encrypted with Fernet"), "{out}");
}

#[test]
fn demo_shows_a_refresh_with_short_tokens() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    let store = format!("sqlite:{}", home.path().join("t.sqlite").display());
    // oauth-core renews tokens in the last tenth of their life: a 2 s token needs a
    // refresh after 1.8 s.
    let args = [
        "--store",
        &store,
        "demo",
        "--port",
        &port,
        "--token-lifetime",
        "2",
    ];
    assert!(run(mcp_auth(home.path()).args(args)).status.success());
    std::thread::sleep(Duration::from_millis(2000));
    let second = run(mcp_auth(home.path()).args(args));
    let out = text(&second.stdout);
    assert!(second.status.success(), "{out}");
    assert!(
        out.contains("renewed it with the stored refresh token"),
        "{out}"
    );
    assert!(out.contains("old refresh token no longer works"), "{out}");
    assert!(!out.contains("registered client"), "{out}");
}

#[test]
fn help_documents_commands_and_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let help = run(mcp_auth(home.path()).arg("--help"));
    assert!(help.status.success());
    let out = text(&help.stdout);
    for needle in [
        "login",
        "token",
        "status",
        "logout",
        "demo",
        "Exit codes",
        "--store",
        "--no-encryption",
        "MCP_AUTH_KEY",
        "--client-id",
        "MCP_AUTH_CLIENT_SECRET",
        "3  no usable token",
    ] {
        assert!(
            out.contains(needle),
            "`{needle}` missing from --help:\n{out}"
        );
    }
    for (command, needle) in [
        ("login", "--no-browser"),
        ("token", "Exits with 3"),
        ("status", "[URL]"),
        ("logout", "--forget-client"),
        ("demo", "--token-lifetime"),
    ] {
        let help = run(mcp_auth(home.path()).args([command, "--help"]));
        let out = text(&help.stdout);
        assert!(help.status.success(), "{command} --help");
        assert!(out.contains(&format!("Usage: mcp-auth {command}")), "{out}");
        assert!(
            out.contains(needle),
            "`{needle}` missing from {command} --help:\n{out}"
        );
    }
    let unknown = run(mcp_auth(home.path()).arg("frobnicate"));
    assert_eq!(unknown.status.code(), Some(2));
    // A store URL from the environment may hold a password: help does not show it.
    let help = run(mcp_auth(home.path())
        .env("MCP_AUTH_STORE", "redis://user:hunter2@127.0.0.1:1/0")
        .arg("--help"));
    assert!(!text(&help.stdout).contains("hunter2"));
}

#[test]
fn bad_store_specs_and_urls_are_one_line_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/mcp";
    for store in ["bogus", "sqlite:", "postgres://db/x", "dynamodb://a"] {
        let out = run(mcp_auth(home.path()).args(["--store", store, "token", url]));
        let err = assert_one_line_failure(&out, 2);
        assert!(out.stdout.is_empty());
        assert!(
            err.contains("sqlite:PATH") || err.contains("table name"),
            "{err}"
        );
    }
    for bad in ["not-a-url", "ftp://host/x", "mcp.example.com/mcp"] {
        for command in ["login", "token", "logout"] {
            let out = run(mcp_auth(home.path()).args([command, bad]));
            let err = assert_one_line_failure(&out, 2);
            assert!(err.contains("is not a server URL"), "{err}");
        }
    }
    // A Redis URL whose database is not a number is a usage error, whatever the build.
    let out = run(mcp_auth(home.path()).args(["--store", "redis://127.0.0.1:6379/abc", "status"]));
    let err = assert_one_line_failure(&out, 2);
    assert!(err.contains("`/abc` is not a database number"), "{err}");
    // A valid spec this build or this machine cannot serve: one line; a usage error when
    // the build has no Redis store (the default build), a failure when none answers.
    let out = run(mcp_auth(home.path()).args(["--store", "redis://127.0.0.1:1/0", "status"]));
    let code = out.status.code().unwrap_or_default();
    assert!(code == 1 || code == 2, "exit {code}");
    let err = assert_one_line_failure(&out, code);
    assert!(err.contains("redis"), "{err}");
    // Nothing was created for a refused command.
    assert!(!home.path().join("data").exists());
}

#[test]
fn token_without_a_login_asks_for_one() {
    let home = tempfile::tempdir().unwrap();
    let out = run(mcp_auth(home.path()).args(["token", "http://127.0.0.1:9/mcp"]));
    let err = assert_one_line_failure(&out, 3);
    assert!(
        err.contains("mcp-auth login http://127.0.0.1:9/mcp"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_token_status_logout() {
    let home = tempfile::tempdir().unwrap();
    let server = DemoServer::builder().start().await.unwrap();
    let url = server.mcp_url().to_string();
    let store = format!("sqlite:{}", home.path().join("tokens.sqlite").display());

    let (ok, stderr) = login_headless(home.path(), &store, &url).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("Open this URL in a browser to log in"),
        "{stderr}"
    );
    assert!(stderr.contains("gives up in 60 s"), "{stderr}");
    assert!(stderr.contains(&format!("Logged in to {url}")), "{stderr}");

    // `token` prints the token alone, and the server accepts it.
    let out = run(mcp_auth(home.path()).args(["--store", &store, "token", &url]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    let token = stdout.trim();
    assert_eq!(tools_list_status(&url, token).await, 200);

    // A second login is not needed.
    let again = run(mcp_auth(home.path()).args(["--store", &store, "login", &url, "--no-browser"]));
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("Already logged in"));

    // A forced login that is never finished leaves the stored token in place.
    let forced = run(mcp_auth(home.path()).args([
        "--store",
        &store,
        "login",
        &url,
        "--no-browser",
        "--force",
        "--timeout",
        "1",
    ]));
    // (Its progress lines come first; the failure is the last line.)
    let err = text(&forced.stderr);
    assert_eq!(forced.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .last()
            .is_some_and(|l| l.contains("did not finish")),
        "{err}"
    );
    let out = run(mcp_auth(home.path()).args(["--store", &store, "token", &url]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), token, "the same token");

    let status = run(mcp_auth(home.path()).args(["--store", &store, "status"]));
    assert!(text(&status.stdout).contains(&format!("{url}  valid for")));

    let logout = run(mcp_auth(home.path()).args(["--store", &store, "logout", &url]));
    assert!(logout.status.success());
    let said = text(&logout.stderr);
    assert!(said.contains("Logged out of"), "{said}");
    assert!(said.contains("the server revoked its tokens"), "{said}");
    // Revoked at the server: the token no longer works there.
    assert_eq!(tools_list_status(&url, token).await, 401);
    let out = run(mcp_auth(home.path()).args(["--store", &store, "token", &url]));
    assert_one_line_failure(&out, 3);
    let status = run(mcp_auth(home.path()).args(["--store", &store, "status"]));
    assert!(text(&status.stdout).contains("No tokens stored"));
    server.shutdown().await;
}

#[test]
fn a_wrong_key_or_an_open_key_file_is_one_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    let store = format!("sqlite:{}", home.path().join("k.sqlite").display());
    let key_a = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    let key_b = "7iAs8Hf8hV9l4ixO0t1W-JVAxbj8Ip8Yq4aeU8CXqyM=";
    let demo = run(mcp_auth(home.path())
        .env("MCP_AUTH_KEY", key_a)
        .args(["--store", &store, "demo", "--port", &port]));
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    assert!(text(&demo.stdout).contains("key from $MCP_AUTH_KEY"));
    // No key file was made: the key came from the environment.
    assert!(!home.path().join("k.sqlite.key").exists());

    let url = format!("http://127.0.0.1:{port}/mcp");
    let out = run(mcp_auth(home.path())
        .env("MCP_AUTH_KEY", key_b)
        .args(["--store", &store, "token", &url]));
    let err = assert_one_line_failure(&out, 1);
    assert!(err.contains("cannot decrypt"), "{err}");
    // The advice names the real server, and fits on a line.
    assert!(
        err.contains(&format!("mcp-auth logout --forget-client {url}")),
        "{err}"
    );
    assert!(!err.contains("SERVER_URL") && err.len() < 300, "{err}");
    // `status` says which entry it cannot read, and fails.
    let out = run(mcp_auth(home.path())
        .env("MCP_AUTH_KEY", key_b)
        .args(["--store", &store, "status"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("{url}  unreadable")));

    // Without encryption the entries would read as missing and be overwritten.
    let out =
        run(mcp_auth(home.path()).args(["--store", &store, "--no-encryption", "token", &url]));
    let err = assert_one_line_failure(&out, 1);
    assert!(
        err.contains("is encrypted") && err.contains("--no-encryption"),
        "{err}"
    );

    let out = run(mcp_auth(home.path())
        .env("MCP_AUTH_KEY", "not a key")
        .args(["--store", &store, "token", &url]));
    let err = assert_one_line_failure(&out, 1);
    assert!(err.contains("MCP_AUTH_KEY"), "{err}");

    // With the key lost, the advice works: start over for that server.
    let out = run(mcp_auth(home.path()).env("MCP_AUTH_KEY", key_b).args([
        "--store",
        &store,
        "logout",
        "--forget-client",
        &url,
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("deleted its tokens, token expiry, client registration, server metadata"),
        "{}",
        text(&out.stderr)
    );
    let out = run(mcp_auth(home.path())
        .env("MCP_AUTH_KEY", key_b)
        .args(["--store", &store, "token", &url]));
    assert_one_line_failure(&out, 3);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_file = home.path().join("open.key");
        std::fs::write(&key_file, format!("{key_a}\n")).unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run(mcp_auth(home.path()).args([
            "--store",
            &store,
            "--key-file",
            key_file.to_str().unwrap(),
            "status",
        ]));
        let err = assert_one_line_failure(&out, 1);
        assert!(err.contains("chmod 600"), "{err}");
    }
}

#[test]
fn without_encryption_tokens_are_plain_json() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    let store = format!("disk:{}", home.path().join("plain").display());
    let demo = run(mcp_auth(home.path()).args([
        "--store",
        &store,
        "--no-encryption",
        "demo",
        "--port",
        &port,
    ]));
    let out = text(&demo.stdout);
    assert!(demo.status.success(), "{out}");
    assert!(out.contains("(not encrypted)"), "{out}");
    assert!(out.contains("stored unencrypted"), "{out}");
    assert!(!home.path().join("plain.key").exists());
}

#[test]
fn a_lost_key_file_is_not_silently_replaced() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    let file = home.path().join("lost.sqlite");
    let store = format!("sqlite:{}", file.display());
    let demo = run(mcp_auth(home.path()).args(["--store", &store, "demo", "--port", &port]));
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let key_file = home.path().join("lost.sqlite.key");
    std::fs::rename(&key_file, home.path().join("elsewhere.key")).unwrap();

    let url = format!("http://127.0.0.1:{port}/mcp");
    let out = run(mcp_auth(home.path()).args(["--store", &store, "token", &url]));
    let err = assert_one_line_failure(&out, 1);
    assert!(
        err.contains("key file") && err.contains("is missing"),
        "{err}"
    );
    assert!(!key_file.exists(), "no new key was made");

    // Starting over works without the key, and then a new key is made.
    let out =
        run(mcp_auth(home.path()).args(["--store", &store, "logout", "--forget-client", &url]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Logged out of"),
        "{}",
        text(&out.stderr)
    );
    // `status` makes no key, and says no token is stored (exit 3).
    let out = run(mcp_auth(home.path()).args(["--store", &store, "status"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!key_file.exists());
}

#[test]
fn status_creates_nothing_and_fails_for_unusable_tokens() {
    let home = tempfile::tempdir().unwrap();
    // A mistyped store: nothing is created, and there is no usable token (exit 3).
    let typo = home.path().join("no/such/dir/tokens.sqlite");
    let store = format!("sqlite:{}", typo.display());
    for args in [
        vec!["--store", &store, "status"],
        vec!["--store", &store, "status", "--json"],
        vec!["--store", &store, "token", "http://127.0.0.1:9/mcp"],
        vec!["--store", &store, "logout", "http://127.0.0.1:9/mcp"],
    ] {
        let out = run(mcp_auth(home.path()).args(&args));
        let expected = if args.contains(&"logout") { 0 } else { 3 };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("no token store at"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(!home.path().join("no").exists(), "nothing was created");
    // The default store, on a machine where nothing was stored yet: the same.
    let out = run(mcp_auth(home.path()).args(["status"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(!home.path().join("data").exists(), "nothing was created");

    // A store with a valid token for one server.
    let port = free_port().unwrap().to_string();
    let store = format!("sqlite:{}", home.path().join("s.sqlite").display());
    let demo = run(mcp_auth(home.path()).args(["--store", &store, "demo", "--port", &port]));
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let url = format!("http://127.0.0.1:{port}/mcp");
    let out = run(mcp_auth(home.path()).args(["--store", &store, "status", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["encrypted"], true);
    assert_eq!(status["servers"][0]["url"], url.as_str());
    assert_eq!(status["servers"][0]["state"], "valid");
    assert_eq!(status["servers"][0]["usable"], true);
    assert!(status["servers"][0]["expires_in"].as_i64().unwrap() > 3000);
    // Asked about a server with no token: exit 3, and the JSON says why.
    let other = "http://127.0.0.1:9/mcp";
    let out = run(mcp_auth(home.path()).args(["--store", &store, "status", other, "--json"]));
    assert_eq!(out.status.code(), Some(3));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["servers"][0]["state"], "missing");
    assert_eq!(status["servers"][0]["usable"], false);
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    // `mcp-auth demo | head -1`, at its most certain: the reader is gone before the first
    // line, so every line the demo prints meets a closed pipe (a reader that left after
    // one line could still find the rest in the pipe's buffer).
    let mut child = mcp_auth(home.path())
        .args(["demo", "--port", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // It did the whole job, printing into nowhere: the token is stored.
    let status = run(mcp_auth(home.path()).args(["status"]));
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
}

#[test]
fn token_json_and_a_token_in_its_last_seconds() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port().unwrap().to_string();
    let file = home.path().join("t.sqlite");
    let store = format!("sqlite:{}", file.display());
    let demo = run(mcp_auth(home.path()).args([
        "--store",
        &store,
        "--no-encryption",
        "demo",
        "--port",
        &port,
    ]));
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let url = format!("http://127.0.0.1:{port}/mcp");
    let args = [
        "--store",
        &store,
        "--no-encryption",
        "token",
        &url,
        "--json",
    ];
    // The demo server is gone with the demo, but the token is valid for an hour.
    let out = run(mcp_auth(home.path()).args(args));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = json["access_token"].as_str().unwrap().to_string();
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_in"].as_i64().unwrap() > 3000, "{json}");

    // 25 s left: inside the renewal margin, and the server that would renew it is down.
    // The token still works for 25 s, so `token` prints it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use key_value::AsyncKeyValue;
        let raw = key_value::sqlite::SqliteStore::open(&file).await.unwrap();
        let mut expiry = key_value::JsonObject::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        expiry.insert("expires_at".into(), serde_json::json!(now + 25.0));
        raw.put(
            &format!("{url}/token_expiry"),
            expiry,
            None,
            Some(oauth_core::EXPIRY_COLLECTION),
        )
        .await
        .unwrap();
    });
    let out = run(mcp_auth(home.path()).args(&args[..5]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), token);
}

#[test]
fn completions_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = run(mcp_auth(home.path()).args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains("mcp-auth") && script.contains("logout"),
            "{shell}"
        );
    }
    let out = run(mcp_auth(home.path()).args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2));
}

/// A server on loopback that answers every request with `response` (a whole HTTP/1.1
/// response), as a web server that is no MCP server, or one without OAuth, would.
fn canned_server(response: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            // Read the head and the body the request announces, then answer.
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                let head = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = head.find("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    base
}

#[test]
fn servers_that_are_no_oauth_protected_mcp_server_are_named_so() {
    let home = tempfile::tempdir().unwrap();
    let web = canned_server(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\
         Connection: close\r\n\r\nnot here!",
    );
    let url = format!("{web}/mcp");
    let out = run(mcp_auth(home.path()).args(["login", &url, "--no-browser", "--timeout", "5"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&format!("{url} is not an MCP server")),
        "{stderr}"
    );
    assert!(last.contains("404"), "{stderr}");

    let open = canned_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\
         Connection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
    );
    let url = format!("{open}/mcp");
    let out = run(mcp_auth(home.path()).args(["login", &url, "--no-browser", "--timeout", "5"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("is an MCP server that is not OAuth protected"),
        "{stderr}"
    );

    // --verbose traces the HTTP steps on stderr.
    let out = run(mcp_auth(home.path()).args([
        "--verbose",
        "login",
        &format!("{web}/mcp"),
        "--no-browser",
        "--timeout",
        "5",
    ]));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(stderr.contains("/.well-known/"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_key_file_that_is_no_regular_file_is_refused_at_once() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("key.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let dir = home.path().join("key.dir");
    std::fs::create_dir(&dir).unwrap();
    // A named pipe would block the read for ever; a directory is no key either.
    for key_file in [&fifo, &dir] {
        let mut child = mcp_auth(home.path())
            .args([
                "--store",
                "memory:",
                "--key-file",
                key_file.to_str().unwrap(),
                "status",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("mcp-auth hangs on the key file {}", key_file.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let err = assert_one_line_failure(&out, 1);
        assert!(err.contains("is not a regular file"), "{err}");
    }
}

#[test]
fn store_paths_that_read_as_sqlite_uris_are_refused_and_create_nothing() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let abs = target.path().join("t.sqlite");
    let abs = abs.display();
    let url = "http://127.0.0.1:9/mcp";
    for store in [
        format!("sqlite:file:{abs}?mode=memory"),
        format!("sqlite:file:{abs}"),
        "sqlite:file:t.sqlite?mode=memory".to_owned(),
        format!("sqlite:{abs}?mode=ro"),
        "sqlite::memory:".to_owned(),
        "sqlite://host/t.sqlite".to_owned(),
        format!("disk:file:{abs}"),
        "disk:.".to_owned(),
    ] {
        for command in [
            &["token", url][..],
            &["login", url, "--no-browser"],
            &["status"],
        ] {
            let out = run(mcp_auth(home.path())
                .current_dir(cwd.path())
                .args(["--store", &store])
                .args(command));
            let err = assert_one_line_failure(&out, 2);
            assert!(out.stdout.is_empty(), "{store}: {}", text(&out.stdout));
            assert!(
                err.contains("never a URI")
                    || err.contains("use memory:")
                    || err.contains("names a host")
                    || err.contains("of its own"),
                "{store}: {err}"
            );
            let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
            assert!(left.is_empty(), "{store} {command:?} left {left:?}");
            assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
            assert!(!home.path().join("data").exists(), "{store}");
        }
    }
}
