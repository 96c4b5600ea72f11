//! The MCP conformance suite's authorization server scenarios against `demo-server`,
//! through `scripts/mcp-conformance` (which oauth-core's conformance test runs in full).
//! Needs Node 22 and the suite (`scripts/deps/node22.sh`); skips loudly without them.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use keyvalue_test_support::{skip, workspace_root};

#[test]
fn official_authorization_server_scenarios_pass() {
    const TEST: &str = "examples authorization_conformance";
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
    // Its own output directory: oauth-core's conformance test may run at the same time.
    let out = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(root.join("scripts/mcp-conformance"))
        .env("MCP_CONFORMANCE_ONLY", "^authorization-server ")
        .env("MCP_CONFORMANCE_SERVER", env!("CARGO_BIN_EXE_demo-server"))
        .env("MCP_CONFORMANCE_OUT", out.path())
        .current_dir(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    for scenario in [
        "authorization-server-metadata-endpoint",
        "authorization-code-grant",
    ] {
        assert!(
            stdout.contains(&format!("PASS authorization-server {scenario}")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(output.status.success());
}
