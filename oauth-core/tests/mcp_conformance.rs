//! Runs the MCP conformance suite (`scripts/mcp-conformance`): its client authorization
//! scenarios against the `conformance_client` example, which `cargo test` builds
//! alongside this test, and its authorization server scenarios against the examples
//! crate's `demo-server` (taken from the same target directory when a workspace build
//! made it, else built by the script). Needs Node 22 and the suite, installed by
//! `scripts/deps/node22.sh`; skips loudly without them.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use keyvalue_test_support::{skip, workspace_root};

/// The profile directory, `target/<profile>/`, above this test's `deps/`.
fn profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// The example binary: `target/<profile>/examples/`, beside this test's `deps/`.
fn example_binary() -> Option<PathBuf> {
    let path = profile_dir()?.join("examples").join("conformance_client");
    path.is_file().then_some(path)
}

/// The demo authorization server: `target/<profile>/demo-server`, when built.
fn demo_server_binary() -> Option<PathBuf> {
    let path = profile_dir()?.join("demo-server");
    path.is_file().then_some(path)
}

#[test]
fn official_authorization_scenarios_pass() {
    const TEST: &str = "oauth-core mcp_conformance";
    let root = workspace_root();
    let node = root.join("target/deps/node22/bin/node");
    let suite = root.join(
        "target/deps/mcp-conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
    );
    if !node.is_file() || !suite.is_file() {
        skip(
            TEST,
            "Node 22 and the MCP conformance suite are not installed (scripts/deps/node22.sh)",
        );
        return;
    }
    let Some(client) = example_binary() else {
        skip(
            TEST,
            "the conformance_client example was not built next to this test",
        );
        return;
    };
    let mut command = Command::new("bash");
    command
        .arg(root.join("scripts/mcp-conformance"))
        .env("MCP_CONFORMANCE_CLIENT", &client)
        .current_dir(&root);
    if let Some(server) = demo_server_binary() {
        command.env("MCP_CONFORMANCE_SERVER", server);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .expect("a summary line");
    let numbers: Vec<usize> = summary
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "summary: {summary}");
    assert_eq!(numbers[1], 0, "failing scenarios:\n{stdout}");
    assert!(numbers[0] >= 35, "only {} scenarios ran", numbers[0]);
    for scenario in [
        "authorization-server-metadata-endpoint",
        "authorization-code-grant",
    ] {
        assert!(
            stdout.contains(&format!("PASS authorization-server {scenario}")),
            "the authorization server scenario {scenario} did not pass:\n{stdout}"
        );
    }
    assert!(output.status.success());
}
