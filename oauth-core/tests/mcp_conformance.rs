//! Runs the MCP conformance suite's client authorization scenarios
//! (`scripts/mcp-conformance`) against the `conformance_client` example, which
//! `cargo test` builds alongside this test. Needs Node 22 and the suite, installed by
//! `scripts/deps/node22.sh`; skips loudly without them.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use keyvalue_test_support::{skip, workspace_root};

/// The example binary: `target/<profile>/examples/`, beside this test's `deps/`.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir.join("examples").join("conformance_client");
    path.is_file().then_some(path)
}

#[test]
fn official_client_auth_scenarios_pass() {
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
    let output = Command::new("bash")
        .arg(root.join("scripts/mcp-conformance"))
        .env("MCP_CONFORMANCE_CLIENT", &client)
        .current_dir(&root)
        .output()
        .unwrap();
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
    assert!(numbers[0] >= 33, "only {} scenarios ran", numbers[0]);
    assert!(output.status.success());
}
