//! A SQLite-backed store of the keyvalue family.
//!
//! **Not implemented yet**: this crate reserves its place in the workspace layout and
//! has no public API. The work is tracked in issue 3.
