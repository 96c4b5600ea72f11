//! A Redis (single node and cluster) store of the keyvalue family, sharing its format with py-key-value.
//!
//! **Not implemented yet**: this crate reserves its place in the workspace layout and
//! has no public API. The work is tracked in issue 4.
