//! The wall clock, read in one place.
//!
//! Token expiry keeps the fraction of a second: cut to whole seconds, a token issued
//! at 12:00:00.9 with a lifetime of 3 s would be refused from 12:00:03.0, 2.1 s after
//! it was issued, while its client, counting from `expires_in`, holds it valid for 3 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch; zero if the system clock is set before it.
pub(crate) fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
