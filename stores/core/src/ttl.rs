//! Time-to-live rules: what a valid TTL is, and when an entry expires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

/// The latest expiry any store accepts: 9999-12-31T23:59:59Z, the end of the ISO 8601
/// four-digit year range that the stored timestamp format (and Python's `datetime`) can hold.
pub const MAX_EXPIRY_UNIX_SECONDS: u64 = 253_402_300_799;

/// Turns a TTL given in (possibly fractional) seconds into a [`Duration`].
///
/// Zero, negative, NaN and infinite values are an [`ErrorKind::InvalidTtl`] error.
/// Programs that read TTLs from configuration or from Python peers use this; the store
/// API itself takes a [`Duration`].
///
/// ```
/// use key_value_core::ttl_from_secs_f64;
/// use std::time::Duration;
///
/// assert_eq!(ttl_from_secs_f64(1.5).unwrap(), Duration::from_millis(1500));
/// assert!(ttl_from_secs_f64(f64::NAN).is_err());
/// assert!(ttl_from_secs_f64(-3.0).is_err());
/// ```
pub fn ttl_from_secs_f64(seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidTtl,
            format!("a ttl must be a positive, finite number of seconds, not {seconds}"),
        ));
    }
    let ttl = Duration::try_from_secs_f64(seconds).map_err(|_| {
        Error::new(
            ErrorKind::InvalidTtl,
            format!("a ttl of {seconds} seconds is out of range"),
        )
    })?;
    if ttl.is_zero() {
        return Err(Error::new(
            ErrorKind::InvalidTtl,
            format!("a ttl of {seconds} seconds rounds to zero"),
        ));
    }
    Ok(ttl)
}

/// The absolute expiry of an entry written at `now` with `ttl`, after checking the TTL.
///
/// `None` means the entry never expires. A zero TTL, or one that reaches past
/// year 9999, is an [`ErrorKind::InvalidTtl`] error.
pub fn expiry_for(ttl: Option<Duration>, now: SystemTime) -> Result<Option<SystemTime>> {
    let Some(ttl) = ttl else {
        return Ok(None);
    };
    if ttl.is_zero() {
        return Err(Error::new(
            ErrorKind::InvalidTtl,
            "a ttl must be longer than zero (use no ttl for entries that never expire)",
        ));
    }
    let too_far = || {
        Error::new(
            ErrorKind::InvalidTtl,
            format!(
                "a ttl of {} seconds reaches past the year 9999",
                ttl.as_secs()
            ),
        )
    };
    let expires_at = now.checked_add(ttl).ok_or_else(too_far)?;
    let max = UNIX_EPOCH + Duration::from_secs(MAX_EXPIRY_UNIX_SECONDS);
    if expires_at > max {
        return Err(too_far());
    }
    Ok(Some(expires_at))
}

/// Time left until `expires_at`, or `None` once it has passed.
pub fn remaining(expires_at: SystemTime, now: SystemTime) -> Option<Duration> {
    match expires_at.duration_since(now) {
        Ok(left) if !left.is_zero() => Some(left),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ttl_never_expires() {
        assert_eq!(expiry_for(None, SystemTime::now()).unwrap(), None);
    }

    #[test]
    fn refuses_zero_and_far_future() {
        let now = SystemTime::now();
        for bad in [
            Duration::ZERO,
            Duration::MAX,
            Duration::from_secs(10_000 * 366 * 86_400),
        ] {
            assert_eq!(
                expiry_for(Some(bad), now).unwrap_err().kind(),
                ErrorKind::InvalidTtl
            );
        }
        assert!(expiry_for(Some(Duration::from_secs(100 * 365 * 86_400)), now).is_ok());
    }

    #[test]
    fn float_ttls_are_checked() {
        for bad in [
            0.0,
            -0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            1e-12,
        ] {
            assert!(ttl_from_secs_f64(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(ttl_from_secs_f64(0.001).unwrap(), Duration::from_millis(1));
    }

    #[test]
    fn remaining_is_none_once_expired() {
        let now = SystemTime::now();
        assert_eq!(remaining(now, now), None);
        assert_eq!(remaining(now - Duration::from_secs(1), now), None);
        assert_eq!(
            remaining(now + Duration::from_millis(1500), now),
            Some(Duration::from_millis(1500))
        );
    }
}
