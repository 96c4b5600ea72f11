//! A Fernet encryption wrapper that turns any keyvalue store into an encrypted one.
//!
//! **Not implemented yet**: this crate reserves its place in the workspace layout and
//! has no public API. The work is tracked in issue 5.
