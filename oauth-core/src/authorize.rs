//! The authorization request (PKCE S256, state, resource, scope), the hand-off to the
//! browser, and the checks on the authorization response (state, RFC 9207 `iss`).

use std::collections::HashMap;
use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use reqwest::Client;
use secrecy::SecretString;
use subtle::ConstantTimeEq;
use url::Url;

use crate::callback::{CallbackParams, CallbackServer};
use crate::config::BrowserMode;
use crate::discovery::AsMetadata;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{display_url, parse_object, read_limited, str_field};

/// A prepared authorization request.
pub(crate) struct Prepared {
    pub(crate) url: Url,
    pub(crate) state: CsrfToken,
    pub(crate) verifier: PkceCodeVerifier,
}

/// Builds the authorization URL (RFC 6749 §4.1.1 with PKCE S256, RFC 7636; `resource`,
/// RFC 8707; `scope` when given; `prompt=consent` when it asks an OpenID Provider for
/// `offline_access`, see [`crate::scope::needs_consent`]); refuses servers without PKCE
/// S256.
pub(crate) fn prepare(
    server: &AsMetadata,
    client_id: &str,
    redirect_uri: &str,
    scope: Option<&str>,
    resource: &str,
) -> Result<Prepared> {
    let supports_s256 = server
        .code_challenge_methods
        .as_ref()
        .is_some_and(|m| m.iter().any(|m| m == "S256"));
    if !supports_s256 {
        return Err(Error::Discovery(format!(
            "the authorization server `{}` does not advertise PKCE S256 in code_challenge_methods_supported; refusing to authorize",
            server.issuer
        )));
    }
    let endpoint = server.authorization_endpoint.as_ref().ok_or_else(|| {
        Error::Discovery(format!(
            "the authorization server `{}` has no authorization_endpoint",
            server.issuer
        ))
    })?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random();
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method().as_str())
            .append_pair("state", state.secret())
            .append_pair("resource", resource);
        if let Some(scope) = scope {
            query.append_pair("scope", scope);
        }
        if crate::scope::needs_consent(scope, server.openid_provider) {
            query.append_pair("prompt", "consent");
        }
    }
    Ok(Prepared {
        url,
        state,
        verifier,
    })
}

/// Sends the user to `url` and returns the authorization response: the person's
/// browser (opened, or the URL printed, or the program's own hand-off) and the callback
/// server, or, headless, a fetch of `url` whose redirect carries the response.
pub(crate) async fn hand_off(
    mode: &BrowserMode,
    client: &Client,
    url: &Url,
    callback: CallbackServer,
    timeout: Duration,
) -> Result<CallbackParams> {
    match mode {
        BrowserMode::FetchRedirect => {
            drop(callback);
            fetch_redirect(client, url).await
        }
        BrowserMode::Open => {
            if let Err(e) = webbrowser::open(url.as_str()) {
                tracing::info!(error = %e, "no browser could be opened; printing the URL");
                print_url(url);
            } else {
                eprintln!("Opened the browser to log in. If it did not open, visit:\n\n  {url}\n");
            }
            callback.wait(timeout).await
        }
        BrowserMode::Print => {
            print_url(url);
            callback.wait(timeout).await
        }
        BrowserMode::Custom(open) => {
            open(url).map_err(Error::Browser)?;
            callback.wait(timeout).await
        }
    }
}

/// The authorization endpoint's way of saying it does not know the client, when the
/// client reads the answer itself (headless): HTTP 400 with no redirect (RFC 6749
/// §4.1.2.1), whatever the body says (the MCP Python SDK, for one, calls it
/// `invalid_request`). Other answers without a redirect are reported as they are; the
/// check before the browser ([`crate::OAuth`]'s token endpoint check) does not depend
/// on this status.
fn unknown_client(status: http::StatusCode, url: &Url) -> Option<Error> {
    (status == http::StatusCode::BAD_REQUEST).then(|| Error::UnknownClient {
        url: display_url(url),
    })
}

fn print_url(url: &Url) {
    eprintln!("To authorize, open this URL in a browser:\n\n  {url}\n");
}

/// Fetches the authorization URL without following redirects and reads the response
/// parameters from `Location`.
async fn fetch_redirect(client: &Client, url: &Url) -> Result<CallbackParams> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Error::http(url, e))?;
    let status = response.status();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(location) = location.filter(|_| status.is_redirection()) else {
        if let Some(e) = unknown_client(status, url) {
            return Err(e);
        }
        // Another error page: pass its OAuth error on, if it has one.
        let body = read_limited(response, url).await.unwrap_or_default();
        if let Ok(map) = parse_object(&body, url)
            && let Some(error) = str_field(&map, "error")
        {
            return Err(Error::Denied {
                error: ErrorCode::parse(error),
                description: str_field(&map, "error_description").map(str::to_string),
            });
        }
        return Err(Error::InvalidResponse(format!(
            "the authorization endpoint {} answered HTTP {status} without a redirect",
            display_url(url)
        )));
    };
    let target = url
        .join(&location)
        .map_err(|_| Error::InvalidResponse("the redirect Location is not a URL".into()))?;
    let params: HashMap<String, String> = target.query_pairs().into_owned().collect();
    Ok(CallbackParams(params))
}

/// Checks the authorization response and returns the code.
pub(crate) fn validate(
    params: &CallbackParams,
    expected_state: &CsrfToken,
    server: &AsMetadata,
) -> Result<SecretString> {
    let state_ok = params
        .get("state")
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.secret().as_bytes())));
    if !state_ok {
        return Err(Error::InvalidResponse(
            "the `state` does not match the request (possible forgery); aborting".into(),
        ));
    }
    // RFC 9207: required when advertised; checked whenever present.
    match params.get("iss") {
        Some(iss) if iss != server.issuer => {
            return Err(Error::InvalidResponse(format!(
                "the `iss` parameter `{iss}` is not the issuer `{}` (RFC 9207); aborting",
                server.issuer
            )));
        }
        None if server.iss_parameter_supported => {
            return Err(Error::InvalidResponse(
                "the server advertises authorization_response_iss_parameter_supported but sent no `iss` (RFC 9207); aborting".into(),
            ));
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        return Err(Error::Denied {
            error: ErrorCode::parse(error),
            description: params.get("error_description").map(str::to_string),
        });
    }
    params
        .get("code")
        .filter(|c| !c.is_empty())
        .map(|c| SecretString::from(c.to_string()))
        .ok_or_else(|| Error::InvalidResponse("the response has no authorization code".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(iss_supported: bool) -> AsMetadata {
        let raw = serde_json::json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": iss_supported,
        });
        AsMetadata::parse(raw.as_object().unwrap().clone(), "https://as.example", "t").unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> CallbackParams {
        CallbackParams(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn checks_state_and_iss() {
        let state = CsrfToken::new("s1".into());
        let good = params(&[
            ("code", "c"),
            ("state", "s1"),
            ("iss", "https://as.example"),
        ]);
        assert!(validate(&good, &state, &server(true)).is_ok());
        let wrong_state = params(&[("code", "c"), ("state", "s2")]);
        assert!(validate(&wrong_state, &state, &server(false)).is_err());
        let missing_iss = params(&[("code", "c"), ("state", "s1")]);
        assert!(validate(&missing_iss, &state, &server(true)).is_err());
        assert!(validate(&missing_iss, &state, &server(false)).is_ok());
        let normalized = params(&[
            ("code", "c"),
            ("state", "s1"),
            ("iss", "https://as.example/"),
        ]);
        assert!(validate(&normalized, &state, &server(true)).is_err());
        assert!(validate(&normalized, &state, &server(false)).is_err());
        let denied = params(&[("error", "access_denied"), ("state", "s1")]);
        assert!(matches!(
            validate(&denied, &state, &server(false)),
            Err(Error::Denied { .. })
        ));
    }

    #[test]
    fn refuses_servers_without_s256() {
        let raw = serde_json::json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
            "code_challenge_methods_supported": ["plain"],
        });
        let server =
            AsMetadata::parse(raw.as_object().unwrap().clone(), "https://as.example", "t").unwrap();
        assert!(
            prepare(
                &server,
                "c",
                "http://localhost:1/callback",
                None,
                "https://r"
            )
            .is_err()
        );
    }

    #[test]
    fn builds_the_request() {
        let p = prepare(
            &server(false),
            "client",
            "http://localhost:1/callback",
            Some("a b"),
            "https://mcp.example/mcp",
        )
        .unwrap();
        let q: HashMap<String, String> = p.url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["resource"], "https://mcp.example/mcp");
        assert_eq!(q["scope"], "a b");
        assert_eq!(q["state"], p.state.secret().as_str());
        assert!(!q.contains_key("prompt"));
        let mut openid = server(false);
        openid.openid_provider = true;
        let with = |scope| {
            let p = prepare(
                &openid,
                "c",
                "http://localhost:1/callback",
                scope,
                "https://r",
            )
            .unwrap();
            p.url
                .query_pairs()
                .into_owned()
                .collect::<HashMap<String, String>>()
        };
        assert_eq!(
            with(Some("a offline_access"))
                .get("prompt")
                .map(String::as_str),
            Some("consent")
        );
        assert!(!with(Some("a")).contains_key("prompt"));
    }
}
