//! Redis client errors as the family's [`Error`] kinds.

use key_value_core::{Error, ErrorKind};
use redis::{RedisError, ServerErrorKind};

/// Turns a client error into the family's error: unreachable or failing-over servers are
/// retryable [`ErrorKind::Connection`] errors, bad credentials or configuration are
/// [`ErrorKind::Setup`], everything else [`ErrorKind::Backend`].
pub(crate) fn from_redis(err: RedisError) -> Error {
    use redis::ErrorKind as R;
    let kind = match err.kind() {
        R::Io | R::ClusterConnectionNotFound | R::Parse => ErrorKind::Connection,
        R::Server(
            ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => ErrorKind::Connection,
        R::Server(ServerErrorKind::ReadOnly) => ErrorKind::ReadOnly,
        R::AuthenticationFailed | R::InvalidClientConfig | R::RESP3NotSupported => ErrorKind::Setup,
        R::Server(ServerErrorKind::NoPerm) => ErrorKind::Setup,
        _ if err.is_timeout() || err.is_connection_dropped() => ErrorKind::Connection,
        _ => ErrorKind::Backend,
    };
    // A read-only replica during a failover becomes writable again, or is replaced.
    let retryable = matches!(err.kind(), R::Server(ServerErrorKind::ReadOnly));
    let message = describe(&err);
    let err = Error::new(kind, message).with_source(err);
    if retryable {
        err.with_retryable(true)
    } else {
        err
    }
}

/// The longest server text kept in a message, in bytes.
const MAX_SERVER_TEXT: usize = 400;

/// `redis: <category>: <what the server or client said>`. Server errors (out of memory,
/// `WRONGTYPE`, script errors, errors inside a pipeline or transaction, and every other
/// kind) keep their text in the error's detail or in its own display, not in its
/// category: both go into the message, so that `Display` says what happened. Redis's
/// error texts name commands and limits, never stored values.
fn describe(err: &RedisError) -> String {
    let category = err.category();
    let text = match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (None, Some(detail)) => detail.to_owned(),
        _ => err.to_string(),
    };
    let text = text.trim();
    if text.is_empty() || text == category {
        return format!("redis: {category}");
    }
    let mut end = text.len().min(MAX_SERVER_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let ellipsis = if end < text.len() { "…" } else { "" };
    format!("redis: {category}: {}{ellipsis}", &text[..end])
}

/// A reply of a shape the store did not ask for.
pub(crate) fn unexpected_reply(what: &str) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("redis answered {what} with an unexpected reply"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_retryable_connection_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = from_redis(RedisError::from(io));
        assert_eq!(err.kind(), ErrorKind::Connection);
        assert!(err.is_retryable());
    }

    #[test]
    fn server_text_is_in_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = from_redis(RedisError::from(io));
        assert!(err.to_string().contains("refused"), "{err}");
        let long = from_redis(RedisError::from((
            redis::ErrorKind::Client,
            "client",
            "x".repeat(2 * MAX_SERVER_TEXT),
        )));
        assert!(long.to_string().len() < MAX_SERVER_TEXT + 100, "{long}");
        assert!(long.to_string().ends_with('…'), "{long}");
    }

    #[test]
    fn configuration_errors_are_setup_errors() {
        let err = from_redis(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "bad url",
        )));
        assert_eq!(err.kind(), ErrorKind::Setup);
        assert!(!err.is_retryable());
    }
}
