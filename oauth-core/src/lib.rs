//! An OAuth 2.1 client for MCP servers with token caching in any keyvalue store.
//!
//! **Not implemented yet**: this crate reserves its place in the workspace layout and
//! has no public API. The work is tracked in issue 6.
