//! The one error type of the crate.

use std::time::Duration;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while obtaining or using a token.
///
/// Messages never contain tokens, secrets or authorization codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder setting is invalid.
    #[error("invalid OAuth configuration: {0}")]
    Config(String),
    /// An HTTP request could not be made or its response not read (retryable).
    #[error("HTTP request to {url} failed: {}", causes(.source))]
    Http {
        /// The URL requested (without query string).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A response was larger than the limit.
    #[error("the response from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Discovery of the protected resource or authorization server failed.
    #[error("OAuth discovery failed: {0}")]
    Discovery(String),
    /// A metadata document is malformed or violates a rule of its RFC.
    #[error("invalid metadata from {url}: {reason}")]
    Metadata {
        /// Where the document came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An endpoint uses plain HTTP on a non-loopback host.
    #[error(
        "refusing insecure {what} {url}: authorization servers must use HTTPS unless on loopback"
    )]
    Insecure {
        /// Which endpoint.
        what: &'static str,
        /// Its URL.
        url: String,
    },
    /// Client registration failed or is impossible.
    #[error("client registration failed: {0}")]
    Registration(String),
    /// The authorization server or user refused authorization (`error` in the callback).
    #[error("authorization was refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// The OAuth error code, e.g. `access_denied`.
        error: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The authorization endpoint answered HTTP 400 without redirecting back: per RFC
    /// 6749 §4.1.2.1, it does not know the client or its redirect URI. A registration
    /// of our own is redone once; a configured client ID is wrong for this server.
    #[error(
        "the authorization endpoint {url} does not know this client or its redirect URI (HTTP 400 without a redirect)"
    )]
    UnknownClient {
        /// The authorization endpoint (without query string).
        url: String,
    },
    /// The authorization response failed a check (`state`, RFC 9207 `iss`, missing code).
    #[error("authorization response rejected: {0}")]
    InvalidResponse(String),
    /// The loopback callback server could not start or failed.
    #[error("callback server: {0}")]
    Callback(String),
    /// The callback port is taken by another program.
    #[error(
        "callback port {port} on {host} is already in use; choose another with `callback_port` or free it"
    )]
    PortInUse {
        /// The callback host.
        host: String,
        /// The port.
        port: u16,
    },
    /// No authorization response arrived in time.
    #[error("no authorization response within {0:?}")]
    Timeout(Duration),
    /// The token endpoint answered with an OAuth error.
    #[error("token endpoint error {error} (HTTP {status}){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenEndpoint {
        /// HTTP status.
        status: u16,
        /// The OAuth error code, e.g. `invalid_grant`.
        error: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The revocation endpoint (RFC 7009) refused or failed; the tokens are kept.
    #[error("the revocation endpoint refused: {error} (HTTP {status}){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Revocation {
        /// HTTP status.
        status: u16,
        /// The OAuth error code, e.g. `unsupported_token_type`, or `http_error`.
        error: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The server demands scopes that re-authorization did not provide.
    #[error("insufficient scope: {0}")]
    InsufficientScope(String),
    /// The browser could not be opened by the program's own hand-off callback.
    #[error("browser hand-off failed: {0}")]
    Browser(String),
    /// The private key for a JWT client assertion is unusable.
    #[error("client assertion: {0}")]
    Assertion(String),
    /// The token storage failed.
    #[error("token storage: {0}")]
    Storage(#[from] key_value_core::Error),
}

impl Error {
    /// Whether trying again later may succeed (network trouble, not a refusal).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { .. } | Error::Timeout(_) => true,
            // 429: rate limited.
            Error::TokenEndpoint { status, .. } | Error::Revocation { status, .. } => {
                *status >= 500 || *status == 429
            }
            Error::Storage(e) => e.kind() == key_value_core::ErrorKind::Connection,
            _ => false,
        }
    }

    /// Whether the token endpoint refused the grant with an OAuth error (RFC 6749
    /// §5.2: HTTP 400 or 401 with an `error` code), as opposed to failing to answer.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::TokenEndpoint { status: 400 | 401, error, .. } if error != crate::token::NO_OAUTH_ERROR
        )
    }

    pub(crate) fn http(url: &url::Url, source: reqwest::Error) -> Self {
        Error::Http {
            url: crate::http::display_url(url),
            source: source.without_url(),
        }
    }
}

/// An error and its causes, `outer: inner: …`: reqwest's own message alone ("error
/// sending request") does not tell a refused connection from a TLS or DNS failure.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}
