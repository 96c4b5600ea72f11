//! What the integration tests share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod auth_server;
