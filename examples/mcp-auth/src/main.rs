//! `mcp-auth`: log in to OAuth-protected MCP servers and keep their tokens in a
//! key-value store, encrypted by default. See `mcp-auth --help` and `examples/README.md`.

fn main() -> std::process::ExitCode {
    mcp_auth::main()
}
