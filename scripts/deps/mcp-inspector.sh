#!/usr/bin/env bash
# The official MCP Inspector's command-line mode, a second real MCP client for the
# `mcp-auth proxy` tests (examples/mcp-auth/tests/proxy.rs), under Node 22 in
# target/deps/mcp-inspector. Needs Node 22 first (scripts/deps/node22.sh, run here too:
# both are idempotent). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=1.0.3
dir=target/deps/mcp-inspector
pkg=$dir/node_modules/@modelcontextprotocol/inspector-cli/package.json

bash scripts/deps/node22.sh >/dev/null
if ! [ -f "$pkg" ] || ! grep -q "\"version\": \"$version\"" "$pkg"; then
    mkdir -p "$dir"
    PATH="$(realpath target/deps/node22/bin):$PATH" npm install --silent --no-audit --no-fund \
        --prefix "$dir" "@modelcontextprotocol/inspector-cli@$version"
fi
echo "MCP Inspector CLI $version ready in $dir"
