//! The one error type of the crate, and the OAuth error codes it carries.
//!
//! Every message that holds text a server chose (an `error_description`, a metadata
//! complaint, a URL) shows it through [`crate::text`]: control and bidirectional
//! characters escaped, on one line, cut to a bounded length.

use std::fmt;
use std::time::Duration;

use crate::text::{MAX_SHOWN_CHARS, one_line, shown, terminal_safe};

/// The most characters of a whole message composed by this crate around server text.
const MAX_MESSAGE_CHARS: usize = 4 * MAX_SHOWN_CHARS;

/// A composed message: terminal safe, one line, at most [`MAX_MESSAGE_CHARS`].
fn message(text: &str) -> String {
    one_line(&terminal_safe(text), MAX_MESSAGE_CHARS)
}

/// An OAuth error code, as a server sends it in `error`: in a token or registration
/// response body, an authorization response, or a `WWW-Authenticate` challenge.
///
/// The registered codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2
/// and RFC 7009 §2.2.1 have a variant each; any other code is kept in
/// [`ErrorCode::Other`]. Parsing is exact (codes are case-sensitive ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1).
    InvalidRequest,
    /// `invalid_client`: client authentication failed, or the client is unknown (§5.2).
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired or revoked (§5.2).
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant (§4.1.2.1, §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (§5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (§4.1.2.1, §5.2).
    InvalidScope,
    /// `access_denied`: the resource owner or server refused (§4.1.2.1).
    AccessDenied,
    /// `unsupported_response_type` (§4.1.2.1).
    UnsupportedResponseType,
    /// `server_error` (§4.1.2.1).
    ServerError,
    /// `temporarily_unavailable` (§4.1.2.1).
    TemporarilyUnavailable,
    /// `invalid_token`: the access token is expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// `insufficient_scope`: the token lacks a scope the request needs (RFC 6750 §3.1).
    InsufficientScope,
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// `invalid_client_metadata` (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// `invalid_software_statement` (RFC 7591 §3.2.2).
    InvalidSoftwareStatement,
    /// `unapproved_software_statement` (RFC 7591 §3.2.2).
    UnapprovedSoftwareStatement,
    /// `unsupported_token_type`: the server cannot revoke this kind of token (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// Any other code, as received.
    Other(String),
}

impl ErrorCode {
    const KNOWN: [(&'static str, ErrorCode); 17] = [
        ("invalid_request", ErrorCode::InvalidRequest),
        ("invalid_client", ErrorCode::InvalidClient),
        ("invalid_grant", ErrorCode::InvalidGrant),
        ("unauthorized_client", ErrorCode::UnauthorizedClient),
        ("unsupported_grant_type", ErrorCode::UnsupportedGrantType),
        ("invalid_scope", ErrorCode::InvalidScope),
        ("access_denied", ErrorCode::AccessDenied),
        (
            "unsupported_response_type",
            ErrorCode::UnsupportedResponseType,
        ),
        ("server_error", ErrorCode::ServerError),
        ("temporarily_unavailable", ErrorCode::TemporarilyUnavailable),
        ("invalid_token", ErrorCode::InvalidToken),
        ("insufficient_scope", ErrorCode::InsufficientScope),
        ("invalid_redirect_uri", ErrorCode::InvalidRedirectUri),
        ("invalid_client_metadata", ErrorCode::InvalidClientMetadata),
        (
            "invalid_software_statement",
            ErrorCode::InvalidSoftwareStatement,
        ),
        (
            "unapproved_software_statement",
            ErrorCode::UnapprovedSoftwareStatement,
        ),
        ("unsupported_token_type", ErrorCode::UnsupportedTokenType),
    ];

    /// The code for the `error` value `code`.
    pub fn parse(code: &str) -> ErrorCode {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == code)
            .map_or_else(|| ErrorCode::Other(code.to_string()), |(_, c)| c.clone())
    }

    /// The code as the protocol writes it, e.g. `invalid_grant` (unescaped: use
    /// `Display` to show it).
    pub fn as_str(&self) -> &str {
        if let ErrorCode::Other(code) = self {
            return code;
        }
        Self::KNOWN
            .iter()
            .find(|(_, c)| c == self)
            .map_or("", |(name, _)| name)
    }

    /// `invalid_client` or `unauthorized_client`: the server refuses this client (it may
    /// have forgotten a dynamic registration).
    pub fn refuses_client(&self) -> bool {
        matches!(
            self,
            ErrorCode::InvalidClient | ErrorCode::UnauthorizedClient
        )
    }

    /// `server_error` or `temporarily_unavailable`: the server's trouble, not a refusal.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
        )
    }
}

/// Shows the code terminal safe and length-capped.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown(self.as_str()))
    }
}

/// One metadata location tried during discovery and why it was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tried {
    /// The URL requested (without query string), as received or built.
    pub url: String,
    /// Why it was skipped: `HTTP 404`, `not valid JSON`, `` `issuer` is … ``.
    pub problem: String,
    /// Whether trying again later may help (no answer, HTTP 5xx or 429).
    pub transient: bool,
}

impl Tried {
    pub(crate) fn new(url: String, problem: impl Into<String>, transient: bool) -> Tried {
        Tried {
            url,
            problem: problem.into(),
            transient,
        }
    }
}

/// `URL (problem); URL (problem)`, each part shown safely.
fn tried_list(tried: &[Tried]) -> String {
    if tried.is_empty() {
        return "no location could be tried".into();
    }
    tried
        .iter()
        .map(|t| format!("{} ({})", shown(&t.url), shown(&t.problem)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `: description (see uri)` for OAuth errors.
fn oauth_detail(description: Option<&str>, uri: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(d) = description {
        out.push_str(": ");
        out.push_str(&shown(d));
    }
    if let Some(u) = uri {
        out.push_str(" (see ");
        out.push_str(&shown(u));
        out.push(')');
    }
    out
}

/// The `error` part of an endpoint answer: the code, or that there was none.
fn code_or_none(code: Option<&ErrorCode>) -> String {
    code.map_or_else(
        || "without an OAuth error code".into(),
        |c| format!("`{c}`"),
    )
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while obtaining or using a token.
///
/// Messages never contain tokens, secrets or authorization codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder setting is invalid.
    #[error("invalid OAuth configuration: {}", message(.0))]
    Config(String),
    /// An HTTP request could not be made or its response not read (retryable).
    #[error("HTTP request to {} failed: {}", shown(.url), message(&causes(.source)))]
    Http {
        /// The URL requested (without query string).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A response was larger than the limit.
    #[error("the response from {} is larger than {limit} bytes", shown(.url))]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Discovery of the protected resource or authorization server failed.
    #[error("OAuth discovery failed: {}", message(.0))]
    Discovery(String),
    /// No location held usable metadata of this kind: every candidate answered an error,
    /// something that is not metadata (an HTML page, JSON that is not an object), or
    /// metadata that breaks its RFC (a missing field, another issuer or resource).
    /// `tried` lists each URL in the order tried, with why it was skipped.
    #[error("OAuth discovery found no usable {what}; tried {}", tried_list(.tried))]
    MetadataNotFound {
        /// `protected resource metadata` (RFC 9728) or `authorization server metadata`
        /// (RFC 8414 / OpenID Connect Discovery 1.0).
        what: &'static str,
        /// Each location tried, in order.
        tried: Vec<Tried>,
    },
    /// A metadata document is malformed or violates a rule of its RFC.
    #[error("invalid metadata from {}: {}", shown(.url), message(.reason))]
    Metadata {
        /// Where the document came from.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An endpoint uses plain HTTP on a non-loopback host.
    #[error(
        "refusing insecure {what} {}: authorization servers must use HTTPS unless on loopback",
        shown(.url)
    )]
    Insecure {
        /// Which endpoint.
        what: &'static str,
        /// Its URL.
        url: String,
    },
    /// Client registration failed or is impossible.
    #[error("client registration failed: {}", message(.0))]
    Registration(String),
    /// The authorization server or user refused authorization (`error` in the callback).
    #[error("authorization was refused: `{error}`{}", oauth_detail(description.as_deref(), None))]
    Denied {
        /// The OAuth error code, e.g. [`ErrorCode::AccessDenied`].
        error: ErrorCode,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The authorization endpoint answered HTTP 400 without redirecting back: per RFC
    /// 6749 §4.1.2.1, it does not know the client or its redirect URI. A registration
    /// of our own is redone once; a configured client ID is wrong for this server.
    #[error(
        "the authorization endpoint {} does not know this client or its redirect URI (HTTP 400 without a redirect)",
        shown(.url)
    )]
    UnknownClient {
        /// The authorization endpoint (without query string).
        url: String,
    },
    /// The authorization response failed a check (`state`, RFC 9207 `iss`, missing code).
    #[error("authorization response rejected: {}", message(.0))]
    InvalidResponse(String),
    /// The loopback callback server could not start or failed.
    #[error("callback server: {}", message(.0))]
    Callback(String),
    /// The callback port is taken by another program.
    #[error(
        "callback port {port} on {} is already in use; choose another with `callback_port` or free it",
        shown(.host)
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
    /// The token endpoint refused (an OAuth error in the body, RFC 6749 §5.2, whatever
    /// the HTTP status: some servers answer 200 with `{"error": …}`) or failed (an error
    /// status without an OAuth error code: a proxy's page, say).
    #[error(
        "the token endpoint answered HTTP {status} {}{}",
        code_or_none(error.as_ref()),
        oauth_detail(description.as_deref(), uri.as_deref())
    )]
    TokenEndpoint {
        /// HTTP status.
        status: u16,
        /// The OAuth error code, e.g. [`ErrorCode::InvalidGrant`]; `None` when the answer
        /// had none.
        error: Option<ErrorCode>,
        /// The server's `error_description`, if any (as received: `Display` escapes it).
        description: Option<String>,
        /// The server's `error_uri`, if any (as received).
        uri: Option<String>,
    },
    /// The revocation endpoint (RFC 7009) refused or failed; the tokens are kept.
    #[error(
        "the revocation endpoint answered HTTP {status} {}{}",
        code_or_none(error.as_ref()),
        oauth_detail(description.as_deref(), None)
    )]
    Revocation {
        /// HTTP status.
        status: u16,
        /// The OAuth error code, e.g. [`ErrorCode::UnsupportedTokenType`]; `None` when
        /// the answer had none.
        error: Option<ErrorCode>,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The server demands scopes that re-authorization did not provide.
    #[error("insufficient scope: {}", message(.0))]
    InsufficientScope(String),
    /// The browser could not be opened by the program's own hand-off callback.
    #[error("browser hand-off failed: {}", message(.0))]
    Browser(String),
    /// The private key for a JWT client assertion is unusable.
    #[error("client assertion: {}", message(.0))]
    Assertion(String),
    /// The token storage failed.
    #[error("token storage: {}", message(&.0.to_string()))]
    Storage(#[from] key_value_core::Error),
    /// Another process sharing the token store held the refresh lease for longer than
    /// a lease lives, without storing new tokens (its clock or the store's is off).
    #[error(
        "another process has held the token refresh lease for {0:?} without renewing the tokens"
    )]
    LeaseHeld(Duration),
}

impl Error {
    /// Whether trying again later may succeed (network trouble, not a refusal): a
    /// transport error or timeout, HTTP 5xx or 429 (rate limited), `server_error` or
    /// `temporarily_unavailable`, discovery that failed only for such reasons, or a store
    /// that cannot be reached.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { .. } | Error::Timeout(_) => true,
            Error::TokenEndpoint { status, error, .. }
            | Error::Revocation { status, error, .. } => {
                *status >= 500
                    || *status == 429
                    || error.as_ref().is_some_and(ErrorCode::is_transient)
            }
            Error::MetadataNotFound { tried, .. } => {
                !tried.is_empty() && tried.iter().all(|t| t.transient)
            }
            Error::Storage(e) => e.kind() == key_value_core::ErrorKind::Connection,
            _ => false,
        }
    }

    /// Whether the token endpoint refused the grant with an OAuth error code in its
    /// body (RFC 6749 §5.2; whatever the HTTP status, some servers send 200), as opposed
    /// to failing to answer or being busy (see [`Error::is_retryable`]): for a refresh,
    /// the refresh token is no good and only a new login helps.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::TokenEndpoint { error: Some(_), .. }) && !self.is_retryable()
    }

    /// The OAuth error code the server sent, if this error carries one.
    pub fn oauth_code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Denied { error, .. } => Some(error),
            Error::TokenEndpoint { error, .. } | Error::Revocation { error, .. } => error.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn http(url: &url::Url, source: reqwest::Error) -> Self {
        Error::Http {
            url: display_url(url),
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

/// A URL for messages and logs: no query string or fragment (they may carry codes).
pub(crate) fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (name, code) in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::parse(name), code);
            assert_eq!(code.as_str(), name);
        }
        assert_eq!(
            ErrorCode::parse("Invalid_Grant"),
            ErrorCode::Other("Invalid_Grant".into())
        );
        assert_eq!(ErrorCode::Other("x\u{1b}".into()).to_string(), "x\\u{1b}");
    }

    #[test]
    fn server_text_is_escaped_and_capped() {
        let hostile = format!("bad\u{1b}[2J\u{7}\u{8}\u{0}{}", "z".repeat(8192));
        let e = Error::TokenEndpoint {
            status: 200,
            error: Some(ErrorCode::InvalidGrant),
            description: Some(hostile.clone()),
            uri: Some(format!("https://x.example/\u{1b}{}", "u".repeat(5000))),
        };
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains("bad\\u{1b}[2J\\u{7}\\u{8}\\u{0}"), "{shown}");
        assert!(shown.chars().count() < 1000, "{}", shown.len());
        assert!(e.is_refusal() && !e.is_retryable());
        let m = Error::Metadata {
            url: "https://x.example/\u{202e}".into(),
            reason: hostile.clone(),
        }
        .to_string();
        assert!(
            !m.chars()
                .any(|c| c.is_control() || crate::text::is_unsafe(c))
        );
        assert!(m.chars().count() <= 2 * MAX_MESSAGE_CHARS);
        let tried = Error::MetadataNotFound {
            what: "protected resource metadata",
            tried: vec![Tried::new("https://a/\u{7}".into(), hostile, false); 3],
        }
        .to_string();
        assert!(!tried.chars().any(char::is_control));
        assert!(tried.chars().count() < 3 * 2 * MAX_SHOWN_CHARS + 200);
    }

    #[test]
    fn refusals_and_retries() {
        let answer = |status, error: Option<ErrorCode>| Error::TokenEndpoint {
            status,
            error,
            description: None,
            uri: None,
        };
        assert!(answer(400, Some(ErrorCode::InvalidGrant)).is_refusal());
        assert!(answer(200, Some(ErrorCode::InvalidClient)).is_refusal());
        assert!(!answer(502, None).is_refusal());
        assert!(answer(502, None).is_retryable());
        assert!(!answer(400, None).is_refusal());
        assert!(!answer(503, Some(ErrorCode::TemporarilyUnavailable)).is_refusal());
        assert!(answer(200, Some(ErrorCode::ServerError)).is_retryable());
    }
}
