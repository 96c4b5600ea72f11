//! Size- and time-limited HTTP helpers for discovery, registration and token requests.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::JsonObject;
use reqwest::{Client, Response, StatusCode};
use rustls_platform_verifier::BuilderVerifierExt;
use url::Url;

pub(crate) use crate::error::display_url;
use crate::error::{Error, Result};

/// The largest metadata, registration or token response we read.
pub(crate) const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The time limit of one request to an authorization server or metadata endpoint.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The client for everything except the protected resource itself: no redirects
/// (a redirect could send credentials elsewhere), a time limit, rustls.
pub(crate) fn internal_client() -> Result<Client> {
    http_client_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("oauth-core/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// A reqwest client builder with oauth-core's TLS set up, for an application's own
/// requests (to the MCP server, say): rustls with the process-wide crypto provider when
/// the application installed one, otherwise ring, and the platform's certificate
/// verifier. reqwest is built without a crypto provider of its own (its `rustls` feature
/// would add aws-lc-rs beside the ring the rest of the tree uses), so
/// `reqwest::Client::new()` panics in a program that installed no provider; this builder
/// never does.
///
/// # Errors
///
/// [`Error::Config`] when the platform's certificate verifier cannot be set up.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    Ok(Client::builder().tls_backend_preconfigured(tls_config()?))
}

/// The rustls configuration of the internal client: the process-wide crypto provider
/// when the application installed one, otherwise ring (reqwest is built without a
/// provider of its own), and the platform's certificate verifier, as reqwest's own.
fn tls_config() -> Result<rustls::ClientConfig> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Whether the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses plain HTTP for authorization-server endpoints that are not on loopback.
pub(crate) fn require_secure(url: &Url, what: &'static str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Error::Insecure {
            what,
            url: display_url(url),
        }),
    }
}

/// Parses a URL found in a document, naming the document in the error.
pub(crate) fn parse_url(value: &str, source: &str, field: &str) -> Result<Url> {
    Url::parse(value).map_err(|e| Error::Metadata {
        url: source.to_string(),
        reason: format!("`{field}` is not a valid URL ({e})"),
    })
}

/// Reads a response body, refusing one larger than [`MAX_RESPONSE_BYTES`].
pub(crate) async fn read_limited(mut response: Response, url: &Url) -> Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(Error::TooLarge {
            url: display_url(url),
            limit: MAX_RESPONSE_BYTES,
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::http(url, e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Error::TooLarge {
                url: display_url(url),
                limit: MAX_RESPONSE_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a body as a JSON object, naming the URL in the error.
pub(crate) fn parse_object(body: &[u8], url: &Url) -> Result<JsonObject> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::Metadata {
            url: display_url(url),
            reason: "the response is JSON but not an object".into(),
        }),
        Err(e) => Err(Error::Metadata {
            url: display_url(url),
            reason: format!("the response is not valid JSON ({e})"),
        }),
    }
}

/// The outcome of fetching a metadata document.
pub(crate) enum Fetched {
    /// 200 with a JSON object.
    Found(JsonObject),
    /// Any other status (4xx: not there; 3xx: redirects are not followed; 5xx: the
    /// server's trouble): try the next location.
    Missing(StatusCode),
}

/// GETs a JSON metadata document (limited, no redirects).
///
/// # Errors
///
/// [`Error::Http`] without an answer, [`Error::TooLarge`] over [`MAX_RESPONSE_BYTES`],
/// [`Error::Metadata`] for a 2xx answer that is not a JSON object (an HTML page).
pub(crate) async fn get_metadata(client: &Client, url: &Url) -> Result<Fetched> {
    tracing::debug!(url = %display_url(url), "fetching metadata");
    let response = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Error::http(url, e))?;
    let status = response.status();
    if !status.is_success() {
        return Ok(Fetched::Missing(status));
    }
    let body = read_limited(response, url).await?;
    Ok(Fetched::Found(parse_object(&body, url)?))
}

/// A string field of a JSON object.
pub(crate) fn str_field<'a>(map: &'a JsonObject, key: &str) -> Option<&'a str> {
    map.get(key).and_then(|v| v.as_str())
}

/// A list-of-strings field of a JSON object (non-strings are skipped).
pub(crate) fn str_list(map: &JsonObject, key: &str) -> Option<Vec<String>> {
    map.get(key).and_then(|v| v.as_array()).map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "http://localhost:1/",
            "http://127.0.0.1/",
            "http://[::1]:8/",
            "http://a.localhost/",
        ] {
            assert!(is_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for remote in [
            "http://example.com/",
            "http://10.0.0.1/",
            "http://localhost.evil.com/",
        ] {
            assert!(!is_loopback(&Url::parse(remote).unwrap()), "{remote}");
        }
    }

    #[test]
    fn https_rule() {
        assert!(
            require_secure(
                &Url::parse("http://example.com/token").unwrap(),
                "token endpoint"
            )
            .is_err()
        );
        assert!(
            require_secure(
                &Url::parse("https://example.com/token").unwrap(),
                "token endpoint"
            )
            .is_ok()
        );
        assert!(
            require_secure(
                &Url::parse("http://127.0.0.1:9/token").unwrap(),
                "token endpoint"
            )
            .is_ok()
        );
    }

    #[test]
    fn the_internal_client_needs_no_installed_crypto_provider() {
        // Nothing in this test binary installs a process-wide provider: ring is used.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        assert!(internal_client().is_ok());
    }

    #[test]
    fn display_url_drops_query() {
        let url = Url::parse("https://a.example/cb?code=secret#x").unwrap();
        assert_eq!(display_url(&url), "https://a.example/cb");
    }
}
