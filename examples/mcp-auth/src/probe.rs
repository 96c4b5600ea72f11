//! What a server that fails discovery really is: an MCP request without a token tells an
//! OAuth-protected MCP server (401 with a `Bearer` challenge, MCP authorization spec
//! 2025-11-25, "Authorization Server Discovery") from an MCP server without OAuth (it
//! answers) and from something else (a web page, a 404).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use url::Url;

use crate::Failure;
use crate::mcp_client::PROTOCOL_VERSION;

/// What the server is, judged from its answer to an unauthenticated `initialize`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 401 or 403 with a `Bearer` challenge: OAuth protected, so discovery itself failed.
    Protected,
    /// A JSON-RPC answer without a token: an MCP server that needs no login.
    Open,
    /// Anything else: not an MCP endpoint (status and content type as seen).
    NotMcp {
        status: StatusCode,
        content_type: String,
    },
}

/// Judges a response by its status, `WWW-Authenticate` and content type.
pub(crate) fn judge(status: StatusCode, challenge: Option<&str>, content_type: &str) -> Verdict {
    let bearer = challenge.is_some_and(|c| {
        c.trim_start()
            .get(..6)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
    });
    let mcp_body = content_type.starts_with("application/json")
        || content_type.starts_with("text/event-stream");
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if bearer => Verdict::Protected,
        s if s.is_success() && mcp_body => Verdict::Open,
        status => Verdict::NotMcp {
            status,
            content_type: content_type.to_string(),
        },
    }
}

/// Sends `initialize` without a token and turns a clear verdict into the failure to
/// report; `None` when the server is protected or cannot be reached (the original
/// error says more then).
pub(crate) async fn diagnose(url: &Url) -> Option<Failure> {
    let client = oauth_core::http_client_builder()
        .ok()?
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-auth", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let response = client
        .post(url.as_str())
        .header(ACCEPT, "application/json, text/event-stream")
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let challenge = header(WWW_AUTHENTICATE);
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    match judge(response.status(), challenge.as_deref(), &content_type) {
        Verdict::Protected => None,
        Verdict::Open => Some(Failure::failed(format!(
            "{url} is an MCP server that is not OAuth protected: it answered without a token, \
             so there is nothing to log in to"
        ))),
        Verdict::NotMcp {
            status,
            content_type,
        } => {
            let shown = if content_type.is_empty() {
                "no content type".to_string()
            } else {
                content_type
            };
            Some(Failure::failed(format!(
                "{url} is not an MCP server: an MCP request there got HTTP {status} ({shown}) \
                 and no OAuth challenge; check the URL (MCP endpoints often end in /mcp)"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(
            judge(
                StatusCode::UNAUTHORIZED,
                Some("Bearer resource_metadata=\"x\""),
                ""
            ),
            Verdict::Protected
        );
        assert_eq!(
            judge(StatusCode::OK, None, "application/json"),
            Verdict::Open
        );
        assert_eq!(
            judge(StatusCode::OK, None, "text/event-stream"),
            Verdict::Open
        );
        for (status, challenge, content_type) in [
            (StatusCode::OK, None, "text/html; charset=utf-8"),
            (StatusCode::NOT_FOUND, None, "text/plain"),
            (
                StatusCode::UNAUTHORIZED,
                Some("Basic realm=\"x\""),
                "text/html",
            ),
            (StatusCode::METHOD_NOT_ALLOWED, None, ""),
        ] {
            assert!(
                matches!(
                    judge(status, challenge, content_type),
                    Verdict::NotMcp { .. }
                ),
                "{status} {challenge:?} {content_type}"
            );
        }
    }
}
