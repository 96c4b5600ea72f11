//! Discovery: protected resource metadata (RFC 9728), authorization server metadata
//! (RFC 8414 / OpenID Connect discovery), and the 2025-03-26 fallbacks.

use key_value_core::JsonObject;
use reqwest::Client;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{
    Fetched, display_url, get_metadata, parse_url, require_secure, str_field, str_list,
};

/// The parameters of a `Bearer` challenge in `WWW-Authenticate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) resource_metadata: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) error: Option<String>,
}

impl Challenge {
    /// Parses the `Bearer` challenge out of `WWW-Authenticate` header values.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Challenge {
        let mut out = Challenge::default();
        for value in values {
            for (name, val) in bearer_params(value) {
                let slot = match name.to_ascii_lowercase().as_str() {
                    "resource_metadata" => &mut out.resource_metadata,
                    "scope" => &mut out.scope,
                    "error" => &mut out.error,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(val);
                }
            }
        }
        out
    }

    /// The challenged scopes.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// The auth-params of the `Bearer` challenge(s) in one header value (RFC 9110 §11.6.1).
fn bearer_params(value: &str) -> Vec<(String, String)> {
    let bytes = value.as_bytes();
    let mut params = Vec::new();
    let mut i = 0;
    let mut in_bearer = false;
    let is_token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b',' || bytes[i] == b'\t') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && is_token(bytes[i]) {
            i += 1;
        }
        if start == i {
            // Not a token: skip one byte so malformed input cannot stall the loop.
            i += 1;
            continue;
        }
        let word = &value[start..i];
        let mut j = i;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' && !(j + 1 < bytes.len() && bytes[j + 1] == b'=') {
            // An auth-param.
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let mut val = String::new();
            if j < bytes.len() && bytes[j] == b'"' {
                j += 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    if bytes[j] == b'\\' && j + 1 < bytes.len() {
                        j += 1;
                    }
                    // Push whole characters, not bytes.
                    let ch_len = value[j..].chars().next().map_or(1, char::len_utf8);
                    val.push_str(&value[j..j + ch_len]);
                    j += ch_len;
                }
                j += 1;
            } else {
                let vs = j;
                while j < bytes.len() && bytes[j] != b',' && bytes[j] != b' ' {
                    j += 1;
                }
                val.push_str(&value[vs..j]);
            }
            if in_bearer {
                params.push((word.to_string(), val));
            }
            i = j;
        } else {
            // A new auth-scheme (possibly followed by token68, which we ignore).
            in_bearer = word.eq_ignore_ascii_case("bearer");
            i = j;
        }
    }
    params
}

/// Authorization server metadata, with the fields the flow uses.
#[derive(Debug, Clone)]
pub(crate) struct AsMetadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: Option<Url>,
    pub(crate) token_endpoint: Url,
    pub(crate) registration_endpoint: Option<Url>,
    /// RFC 7009 token revocation, when offered.
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) scopes_supported: Option<Vec<String>>,
    pub(crate) code_challenge_methods: Option<Vec<String>>,
    pub(crate) token_auth_methods: Option<Vec<String>>,
    pub(crate) iss_parameter_supported: bool,
    pub(crate) cimd_supported: bool,
    /// The document as received (for storage).
    pub(crate) raw: JsonObject,
}

impl AsMetadata {
    /// Parses and checks a metadata document: `issuer` must equal `expected_issuer`
    /// exactly, endpoints must be URLs, HTTPS unless on loopback.
    pub(crate) fn parse(
        raw: JsonObject,
        expected_issuer: &str,
        source: &str,
    ) -> Result<AsMetadata> {
        let issuer = str_field(&raw, "issuer").ok_or_else(|| Error::Metadata {
            url: source.into(),
            reason: "`issuer` is missing".into(),
        })?;
        if issuer != expected_issuer {
            return Err(Error::Metadata {
                url: source.into(),
                reason: format!(
                    "`issuer` is `{issuer}` but the metadata was looked up for `{expected_issuer}` (RFC 8414 §3.3)"
                ),
            });
        }
        let endpoint = |field: &str, required: bool| -> Result<Option<Url>> {
            match str_field(&raw, field) {
                Some(value) => {
                    let url = parse_url(value, source, field)?;
                    require_secure(&url, "authorization server endpoint")?;
                    Ok(Some(url))
                }
                None if required => Err(Error::Metadata {
                    url: source.into(),
                    reason: format!("`{field}` is missing"),
                }),
                None => Ok(None),
            }
        };
        let authorization_endpoint = endpoint("authorization_endpoint", false)?;
        let token_endpoint = endpoint("token_endpoint", true)?.ok_or_else(|| Error::Metadata {
            url: source.into(),
            reason: "`token_endpoint` is missing".into(),
        })?;
        let registration_endpoint = endpoint("registration_endpoint", false)?;
        let revocation_endpoint = endpoint("revocation_endpoint", false)?;
        Ok(AsMetadata {
            issuer: issuer.to_string(),
            authorization_endpoint,
            token_endpoint,
            registration_endpoint,
            revocation_endpoint,
            scopes_supported: str_list(&raw, "scopes_supported"),
            code_challenge_methods: str_list(&raw, "code_challenge_methods_supported"),
            token_auth_methods: str_list(&raw, "token_endpoint_auth_methods_supported"),
            iss_parameter_supported: raw
                .get("authorization_response_iss_parameter_supported")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            cimd_supported: raw
                .get("client_id_metadata_document_supported")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            raw,
        })
    }
}

/// What discovery found for one MCP server.
#[derive(Debug, Clone)]
pub(crate) struct Discovered {
    /// The RFC 8707 `resource` to request tokens for.
    pub(crate) resource: String,
    /// The resource's `scopes_supported`.
    pub(crate) resource_scopes: Option<Vec<String>>,
    /// The authorization server.
    pub(crate) server: AsMetadata,
}

/// Runs discovery for `server_url`, using the challenge of a 401 when there is one.
pub(crate) async fn discover(
    client: &Client,
    server_url: &Url,
    challenge: Option<&Challenge>,
    pinned_issuer: Option<&str>,
) -> Result<Discovered> {
    use tracing::Instrument;
    let span = tracing::info_span!("oauth.discovery", server = %display_url(server_url));
    discover_inner(client, server_url, challenge, pinned_issuer)
        .instrument(span)
        .await
}

async fn discover_inner(
    client: &Client,
    server_url: &Url,
    challenge: Option<&Challenge>,
    pinned_issuer: Option<&str>,
) -> Result<Discovered> {
    let prm = fetch_resource_metadata(client, server_url, challenge).await?;
    let Some((prm_url, prm)) = prm else {
        tracing::info!("no protected resource metadata; using the 2025-03-26 fallbacks");
        return legacy(client, server_url, pinned_issuer).await;
    };
    let resource = str_field(&prm, "resource").ok_or_else(|| Error::Metadata {
        url: prm_url.clone(),
        reason: "`resource` is missing".into(),
    })?;
    check_resource(resource, server_url, &prm_url)?;
    let issuer = str_list(&prm, "authorization_servers")
        .and_then(|list| list.into_iter().next())
        .ok_or_else(|| Error::Metadata {
            url: prm_url.clone(),
            reason: "`authorization_servers` is missing or empty".into(),
        })?;
    if let Some(pinned) = pinned_issuer
        && pinned != issuer
    {
        return Err(Error::Discovery(format!(
            "the resource names authorization server `{issuer}`, not the pinned `{pinned}`"
        )));
    }
    let issuer_url = parse_url(&issuer, &prm_url, "authorization_servers")?;
    require_secure(&issuer_url, "authorization server")?;
    let server = fetch_server_metadata(client, &issuer, &issuer_url)
        .await?
        .ok_or_else(|| {
            Error::Discovery(format!(
                "no authorization server metadata found for issuer `{issuer}`"
            ))
        })?;
    Ok(Discovered {
        resource: resource.to_string(),
        resource_scopes: str_list(&prm, "scopes_supported"),
        server,
    })
}

/// The resource metadata document: from the challenge's `resource_metadata`, else the
/// path-aware well-known URL, else the root one. `None` when none exists.
async fn fetch_resource_metadata(
    client: &Client,
    server_url: &Url,
    challenge: Option<&Challenge>,
) -> Result<Option<(String, JsonObject)>> {
    let mut candidates = Vec::new();
    if let Some(url) = challenge.and_then(|c| c.resource_metadata.as_deref()) {
        let url = Url::parse(url).map_err(|e| {
            Error::Discovery(format!(
                "the resource_metadata URL in WWW-Authenticate is invalid: {e}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Discovery(
                "the resource_metadata URL is not http(s)".into(),
            ));
        }
        candidates.push(url);
    }
    let path = server_url.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates.push(well_known(server_url, "oauth-protected-resource", path));
    }
    candidates.push(well_known(server_url, "oauth-protected-resource", ""));
    for url in candidates {
        match get_metadata(client, &url).await? {
            Fetched::Found(doc) => return Ok(Some((display_url(&url), doc))),
            Fetched::Missing(status) => {
                tracing::debug!(url = %display_url(&url), %status, "no resource metadata here");
            }
        }
    }
    Ok(None)
}

/// `{origin}/.well-known/{name}{path}`.
fn well_known(base: &Url, name: &str, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.set_path(&format!("/.well-known/{name}{path}"));
    url
}

/// RFC 9728 §3.3 / MCP: the resource must be the server (same origin, path prefix).
fn check_resource(resource: &str, server_url: &Url, source: &str) -> Result<()> {
    let parsed = parse_url(resource, source, "resource")?;
    let same_origin = parsed.origin() == server_url.origin();
    let resource_path = parsed.path().trim_end_matches('/');
    let server_path = server_url.path();
    let prefix = server_path == resource_path
        || server_path.starts_with(&format!("{resource_path}/"))
        || resource_path.is_empty();
    if same_origin && prefix && parsed.query().is_none() && parsed.fragment().is_none() {
        Ok(())
    } else {
        Err(Error::Discovery(format!(
            "the protected resource metadata is for `{resource}`, not for `{}`; refusing to authorize",
            display_url(server_url)
        )))
    }
}

/// The authorization server metadata for an issuer, tried at the RFC 8414 and OpenID
/// locations in the MCP order. `None` when none exists.
async fn fetch_server_metadata(
    client: &Client,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Option<AsMetadata>> {
    let path = issuer_url.path().trim_end_matches('/');
    let mut candidates = vec![
        well_known(issuer_url, "oauth-authorization-server", path),
        well_known(issuer_url, "openid-configuration", path),
    ];
    if !path.is_empty() {
        let mut url = issuer_url.clone();
        url.set_query(None);
        url.set_path(&format!("{path}/.well-known/openid-configuration"));
        candidates.push(url);
    }
    for url in candidates {
        match get_metadata(client, &url).await? {
            Fetched::Found(doc) => {
                return AsMetadata::parse(doc, issuer, &display_url(&url)).map(Some);
            }
            Fetched::Missing(status) => {
                tracing::debug!(url = %display_url(&url), %status, "no server metadata here");
            }
        }
    }
    Ok(None)
}

/// The 2025-03-26 rules: the MCP server's origin is the authorization server; its
/// metadata at the root, else `/authorize`, `/token`, `/register`.
async fn legacy(
    client: &Client,
    server_url: &Url,
    pinned_issuer: Option<&str>,
) -> Result<Discovered> {
    let mut origin = server_url.clone();
    origin.set_path("/");
    origin.set_query(None);
    let issuer = origin.as_str().trim_end_matches('/').to_string();
    if let Some(pinned) = pinned_issuer
        && pinned.trim_end_matches('/') != issuer
    {
        return Err(Error::Discovery(format!(
            "the server has no resource metadata and its origin `{issuer}` is not the pinned issuer `{pinned}`"
        )));
    }
    require_secure(&origin, "authorization server")?;
    let url = well_known(&origin, "oauth-authorization-server", "");
    let server = match get_metadata(client, &url).await? {
        Fetched::Found(doc) => {
            // Legacy servers often write the issuer with a trailing slash.
            let expected = match str_field(&doc, "issuer") {
                Some(found) if found.trim_end_matches('/') == issuer => found.to_string(),
                _ => issuer.clone(),
            };
            AsMetadata::parse(doc, &expected, &display_url(&url))?
        }
        Fetched::Missing(_) => {
            let mut raw = JsonObject::new();
            let at = |p: &str| format!("{issuer}{p}");
            raw.insert("issuer".into(), issuer.clone().into());
            raw.insert("authorization_endpoint".into(), at("/authorize").into());
            raw.insert("token_endpoint".into(), at("/token").into());
            raw.insert("registration_endpoint".into(), at("/register").into());
            raw.insert(
                "code_challenge_methods_supported".into(),
                serde_json::json!(["S256"]),
            );
            AsMetadata::parse(raw, &issuer, "the 2025-03-26 default endpoints")?
        }
    };
    Ok(Discovered {
        resource: server_url.as_str().to_string(),
        resource_scopes: None,
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let c = Challenge::parse([
            r#"Bearer error="insufficient_scope", scope="a b", resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp""#,
        ]);
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scopes(), vec!["a", "b"]);
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://x.example/.well-known/oauth-protected-resource/mcp")
        );
        let other = Challenge::parse([r#"Basic realm="x", Bearer scope=read"#]);
        assert_eq!(other.scope.as_deref(), Some("read"));
        let basic_only = Challenge::parse([r#"Basic realm="x", scope="nope""#]);
        assert_eq!(basic_only, Challenge::default());
        // Malformed input never panics.
        for junk in [
            "",
            "Bearer",
            "Bearer =",
            "Bearer a=\"unterminated",
            "é=\"ü\"",
            "Bearer x=\"\\",
        ] {
            let _ = Challenge::parse([junk]);
        }
    }

    #[test]
    fn resource_must_match_server() {
        let server = Url::parse("https://mcp.example.com/mcp").unwrap();
        assert!(check_resource("https://mcp.example.com/mcp", &server, "t").is_ok());
        assert!(check_resource("https://mcp.example.com", &server, "t").is_ok());
        assert!(check_resource("https://mcp.example.com/", &server, "t").is_ok());
        assert!(check_resource("https://evil.example.com/mcp", &server, "t").is_err());
        assert!(check_resource("https://mcp.example.com/other", &server, "t").is_err());
        assert!(check_resource("https://mcp.example.com/mc", &server, "t").is_err());
    }

    #[test]
    fn issuer_must_match_exactly() {
        let doc = serde_json::json!({
            "issuer": "https://as.example.com/",
            "authorization_endpoint": "https://as.example.com/authorize",
            "token_endpoint": "https://as.example.com/token",
        });
        let map = doc.as_object().unwrap().clone();
        assert!(AsMetadata::parse(map.clone(), "https://as.example.com", "t").is_err());
        assert!(AsMetadata::parse(map, "https://as.example.com/", "t").is_ok());
    }

    #[test]
    fn refuses_plain_http_endpoints_off_loopback() {
        let doc = serde_json::json!({
            "issuer": "https://as.example.com",
            "token_endpoint": "http://as.example.com/token",
        });
        let err = AsMetadata::parse(
            doc.as_object().unwrap().clone(),
            "https://as.example.com",
            "t",
        )
        .unwrap_err();
        assert!(matches!(err, Error::Insecure { .. }), "{err}");
    }
}
