//! Discovery: protected resource metadata (RFC 9728), authorization server metadata
//! (RFC 8414 / OpenID Connect discovery), and the 2025-03-26 fallbacks.

use key_value_core::JsonObject;
use reqwest::Client;
use url::Url;

use crate::error::{Error, ErrorCode, Result, Tried};
use crate::http::{
    Fetched, display_url, get_metadata, parse_url, require_secure, str_field, str_list,
};

/// The parameters of a `Bearer` challenge in `WWW-Authenticate` (RFC 6750 §3, RFC 9728
/// §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Whether the header values hold a `Bearer` challenge at all.
    pub(crate) is_bearer: bool,
    pub(crate) resource_metadata: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) error: Option<ErrorCode>,
}

impl Challenge {
    /// Parses the `Bearer` challenge out of `WWW-Authenticate` header values; the first
    /// value of each parameter counts.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Challenge {
        let mut out = Challenge::default();
        let mut error = None;
        for value in values {
            let (bearer, params) = bearer_params(value);
            out.is_bearer |= bearer;
            for (name, val) in params {
                let slot = match name.to_ascii_lowercase().as_str() {
                    "resource_metadata" => &mut out.resource_metadata,
                    "scope" => &mut out.scope,
                    "error" => &mut error,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(val);
                }
            }
        }
        out.error = error.as_deref().map(ErrorCode::parse);
        out
    }

    /// Whether this is an `insufficient_scope` challenge (RFC 6750 §3.1): the token is
    /// good but lacks a scope, so authorizing again with more scope may help.
    pub(crate) fn is_insufficient_scope(&self) -> bool {
        self.error == Some(ErrorCode::InsufficientScope)
    }

    /// The challenged scopes.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// Whether one header value holds a `Bearer` challenge, and its auth-params (RFC 9110
/// §11.6.1).
fn bearer_params(value: &str) -> (bool, Vec<(String, String)>) {
    let bytes = value.as_bytes();
    let mut params = Vec::new();
    let mut seen = false;
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
            seen |= in_bearer;
            i = j;
        }
    }
    (seen, params)
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
    /// An OpenID Provider: its metadata came from an `openid-configuration` location, or
    /// has OpenID-only content (`id_token_signing_alg_values_supported`, or the scope
    /// `openid` or `offline_access` in `scopes_supported`). Such a server drops
    /// `offline_access` unless the request has `prompt=consent` (OpenID Connect Core 1.0
    /// §11).
    pub(crate) openid_provider: bool,
    /// The document as received (for storage).
    pub(crate) raw: JsonObject,
}

/// Whether the `issuer` a document names is the one expected: exactly equal (RFC 8414
/// §3.3, RFC 9207 §2.4), with one relaxation — for an issuer at the root path,
/// `https://host/` and `https://host` are the same. Large hosted MCP servers publish
/// exactly this mismatch between their resource metadata and their authorization server
/// metadata, and FastMCP and the MCP Python SDK accept it (they compare issuers as
/// parsed URLs). Any other difference — a path, its trailing slash, case, port — is a
/// different issuer.
pub(crate) fn issuer_matches(found: &str, expected: &str) -> bool {
    if found == expected {
        return true;
    }
    let (short, long) = if found.len() < expected.len() {
        (found, expected)
    } else {
        (expected, found)
    };
    if long.strip_suffix('/') != Some(short) {
        return false;
    }
    // `short` must be an origin alone: then `long` is that origin with the root path.
    Url::parse(short).is_ok_and(|url| {
        url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && !short.ends_with('/')
            && url.as_str() == long
    })
}

impl AsMetadata {
    /// Parses and checks a metadata document: `issuer` must match `expected_issuer`
    /// ([`issuer_matches`]), `token_endpoint` must be present, endpoints must be URLs,
    /// HTTPS unless on loopback.
    pub(crate) fn parse(
        raw: JsonObject,
        expected_issuer: &str,
        source: &str,
    ) -> Result<AsMetadata> {
        let issuer = str_field(&raw, "issuer").ok_or_else(|| Error::Metadata {
            url: source.into(),
            reason: "`issuer` is missing".into(),
        })?;
        if !issuer_matches(issuer, expected_issuer) {
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
        let scopes_supported = str_list(&raw, "scopes_supported");
        let openid_provider = raw.contains_key("id_token_signing_alg_values_supported")
            || scopes_supported
                .as_ref()
                .is_some_and(|l| l.iter().any(|s| s == "openid" || s == "offline_access"));
        Ok(AsMetadata {
            issuer: issuer.to_string(),
            authorization_endpoint,
            token_endpoint,
            registration_endpoint,
            revocation_endpoint,
            scopes_supported,
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
            openid_provider,
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
    /// The challenge discovery started from: the caller's, or the one the unauthenticated
    /// probe of the server received. Its `scope` comes first in the scope selection.
    pub(crate) challenge: Option<Challenge>,
    /// The authorization server.
    pub(crate) server: AsMetadata,
}

const PRM: &str = "protected resource metadata";
const ASM: &str = "authorization server metadata";

/// Runs discovery for `server_url` (MCP authorization, "Authorization Server Discovery"):
///
/// 1. the challenge of a 401 or 403 when the caller has one; otherwise an
///    unauthenticated MCP request to the server first ([`probe`]), for its challenge;
/// 2. the protected resource metadata (RFC 9728) at the challenge's `resource_metadata`,
///    then at the path-aware well-known URL, then at the root one;
/// 3. the authorization server metadata of its first `authorization_servers` entry at
///    the RFC 8414 and OpenID locations, in the spec's order.
///
/// A location that does not hold usable metadata (an error status, no answer, an HTML
/// page, JSON that is not an object, a missing field, another issuer or resource) is
/// skipped with a trace; when none works, [`Error::MetadataNotFound`] lists each URL
/// tried and why. Without resource metadata anywhere (every location answered an error
/// or a non-JSON page, and the challenge named none), the 2025-03-26 rules apply.
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
    let challenge = match challenge {
        Some(c) => Some(c.clone()),
        None => probe(client, server_url).await?,
    };
    let resource = match fetch_resource_metadata(client, server_url, challenge.as_ref()).await? {
        Some(found) => found,
        None => {
            tracing::info!("no protected resource metadata; using the 2025-03-26 fallbacks");
            let mut discovered = legacy(client, server_url, pinned_issuer).await?;
            discovered.challenge = challenge;
            return Ok(discovered);
        }
    };
    let issuer = resource.issuer;
    if let Some(pinned) = pinned_issuer
        && !issuer_matches(&issuer, pinned)
    {
        return Err(Error::Discovery(format!(
            "the resource names authorization server `{issuer}`, not the pinned `{pinned}`"
        )));
    }
    let issuer_url = parse_url(&issuer, &resource.url, "authorization_servers")?;
    require_secure(&issuer_url, "authorization server")?;
    let server = fetch_server_metadata(client, &issuer, &issuer_url).await?;
    Ok(Discovered {
        resource: resource.resource,
        resource_scopes: resource.scopes,
        challenge,
        server,
    })
}

/// The MCP request the probe sends: `initialize`, which every MCP server answers and an
/// OAuth-protected one refuses without a token.
fn probe_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "oauth-core", "version": env!("CARGO_PKG_VERSION")},
        },
    })
    .to_string()
}

/// Sends an MCP request to the server without a token and returns the `Bearer`
/// challenge of its 401 or 403 (RFC 6750 §3, RFC 9728 §5.1), or `None` when it answered
/// otherwise (discovery then goes on with the well-known locations). No redirect is
/// followed and the body is not read.
///
/// # Errors
///
/// [`Error::Http`] when the server cannot be reached at all.
pub(crate) async fn probe(client: &Client, server_url: &Url) -> Result<Option<Challenge>> {
    let response = client
        .post(server_url.clone())
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(probe_body())
        .send()
        .await
        .map_err(|e| Error::http(server_url, e))?;
    let status = response.status();
    let values: Vec<&str> = response
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let challenge = Challenge::parse(values.iter().copied());
    let refused = matches!(status.as_u16(), 401 | 403);
    if refused && challenge.is_bearer {
        tracing::debug!(
            %status,
            resource_metadata = ?challenge.resource_metadata,
            scope = ?challenge.scope,
            "the server's challenge"
        );
        Ok(Some(challenge))
    } else {
        tracing::debug!(%status, "the server sent no Bearer challenge to a request without a token");
        Ok(None)
    }
}

/// What a metadata location gave.
enum Fetch {
    /// A JSON object (still to be checked).
    Document(JsonObject),
    /// No document: an error status, no answer, not JSON or not an object.
    Nothing(Tried),
}

/// GETs one candidate location. Everything but a JSON object becomes a [`Tried`].
async fn fetch_candidate(client: &Client, url: &Url) -> Fetch {
    let shown = display_url(url);
    match get_metadata(client, url).await {
        Ok(Fetched::Found(doc)) => Fetch::Document(doc),
        Ok(Fetched::Missing(status)) => Fetch::Nothing(Tried::new(
            shown,
            format!("HTTP {status}"),
            status.is_server_error() || status.as_u16() == 429,
        )),
        Err(e) => {
            let transient = e.is_retryable();
            let problem = match e {
                Error::Metadata { reason, .. } => reason,
                Error::TooLarge { limit, .. } => format!("larger than {limit} bytes"),
                Error::Http { .. } => format!("no answer: {e}"),
                other => other.to_string(),
            };
            Fetch::Nothing(Tried::new(shown, problem, transient))
        }
    }
}

/// Checked protected resource metadata.
struct ResourceMetadata {
    /// Where it was found (for messages).
    url: String,
    resource: String,
    issuer: String,
    scopes: Option<Vec<String>>,
}

/// Checks one protected resource metadata document (RFC 9728 §3.2, §3.3).
fn check_resource_metadata(
    doc: &JsonObject,
    url: &str,
    server_url: &Url,
) -> std::result::Result<ResourceMetadata, String> {
    let resource = str_field(doc, "resource").ok_or("`resource` is missing")?;
    check_resource(resource, server_url)?;
    let issuer = str_list(doc, "authorization_servers")
        .and_then(|list| list.into_iter().next())
        .ok_or("`authorization_servers` is missing or empty")?;
    Ok(ResourceMetadata {
        url: url.to_string(),
        resource: resource.to_string(),
        issuer,
        scopes: str_list(doc, "scopes_supported"),
    })
}

/// The resource metadata: from the challenge's `resource_metadata`, else the path-aware
/// well-known URL, else the root one; the first usable document wins. `None` when no
/// location holds resource metadata at all (see [`discover`]).
async fn fetch_resource_metadata(
    client: &Client,
    server_url: &Url,
    challenge: Option<&Challenge>,
) -> Result<Option<ResourceMetadata>> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    let named = challenge.and_then(|c| c.resource_metadata.as_deref());
    if let Some(named) = named {
        match Url::parse(named) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => candidates.push(url),
            Ok(_) => tried.push(Tried::new(
                named.to_string(),
                "the resource_metadata URL in WWW-Authenticate is not http(s)",
                false,
            )),
            Err(e) => tried.push(Tried::new(
                named.to_string(),
                format!("the resource_metadata URL in WWW-Authenticate is invalid ({e})"),
                false,
            )),
        }
    }
    let path = server_url.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates.push(well_known(server_url, "oauth-protected-resource", path));
    }
    candidates.push(well_known(server_url, "oauth-protected-resource", ""));
    // The challenge often names a well-known location: ask each one once.
    let mut unique: Vec<Url> = Vec::with_capacity(candidates.len());
    for url in candidates {
        if !unique.contains(&url) {
            unique.push(url);
        }
    }
    let candidates = unique;
    // Whether any location held a JSON object, usable or not.
    let mut documents = false;
    for url in candidates {
        let shown = display_url(&url);
        let skipped = match fetch_candidate(client, &url).await {
            Fetch::Document(doc) => {
                documents = true;
                match check_resource_metadata(&doc, &shown, server_url) {
                    Ok(found) => return Ok(Some(found)),
                    Err(problem) => Tried::new(shown, problem, false),
                }
            }
            Fetch::Nothing(skipped) => skipped,
        };
        tracing::debug!(url = %skipped.url, problem = %skipped.problem, "no usable resource metadata here");
        tried.push(skipped);
    }
    if documents || named.is_some() {
        return Err(Error::MetadataNotFound { what: PRM, tried });
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
fn check_resource(resource: &str, server_url: &Url) -> std::result::Result<(), String> {
    let parsed = Url::parse(resource).map_err(|e| format!("`resource` is not a URL ({e})"))?;
    let same_origin = parsed.origin() == server_url.origin();
    let resource_path = parsed.path().trim_end_matches('/');
    let server_path = server_url.path();
    let prefix = server_path == resource_path
        || server_path.starts_with(&format!("{resource_path}/"))
        || resource_path.is_empty();
    if same_origin && prefix && parsed.query().is_none() && parsed.fragment().is_none() {
        Ok(())
    } else {
        Err(format!(
            "it is for the resource `{resource}`, not for `{}` (RFC 9728 §3.3)",
            display_url(server_url)
        ))
    }
}

/// The authorization server metadata for an issuer, tried at the RFC 8414 and OpenID
/// locations in the MCP order: for an issuer with a path,
/// `/.well-known/oauth-authorization-server{path}`,
/// `/.well-known/openid-configuration{path}`, `{path}/.well-known/openid-configuration`;
/// for a root issuer the first two at the root. The first usable document wins.
async fn fetch_server_metadata(
    client: &Client,
    issuer: &str,
    issuer_url: &Url,
) -> Result<AsMetadata> {
    let path = issuer_url.path().trim_end_matches('/');
    let mut candidates = vec![
        (
            well_known(issuer_url, "oauth-authorization-server", path),
            false,
        ),
        (well_known(issuer_url, "openid-configuration", path), true),
    ];
    if !path.is_empty() {
        let mut url = issuer_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.set_path(&format!("{path}/.well-known/openid-configuration"));
        candidates.push((url, true));
    }
    let mut tried = Vec::new();
    for (url, openid) in candidates {
        let shown = display_url(&url);
        let skipped = match fetch_candidate(client, &url).await {
            Fetch::Document(doc) => match AsMetadata::parse(doc, issuer, &shown) {
                Ok(mut server) => {
                    server.openid_provider |= openid;
                    return Ok(server);
                }
                Err(Error::Metadata { reason, .. }) => Tried::new(shown, reason, false),
                Err(other) => Tried::new(shown, other.to_string(), false),
            },
            Fetch::Nothing(skipped) => skipped,
        };
        tracing::debug!(url = %skipped.url, problem = %skipped.problem, "no usable server metadata here");
        tried.push(skipped);
    }
    Err(Error::MetadataNotFound { what: ASM, tried })
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
    origin.set_fragment(None);
    let issuer = origin.as_str().trim_end_matches('/').to_string();
    if let Some(pinned) = pinned_issuer
        && !issuer_matches(pinned, &issuer)
    {
        return Err(Error::Discovery(format!(
            "the server has no resource metadata and its origin `{issuer}` is not the pinned issuer `{pinned}`"
        )));
    }
    require_secure(&origin, "authorization server")?;
    let url = well_known(&origin, "oauth-authorization-server", "");
    let server = match fetch_candidate(client, &url).await {
        Fetch::Document(doc) => AsMetadata::parse(doc, &issuer, &display_url(&url))?,
        Fetch::Nothing(skipped) if skipped.transient => {
            return Err(Error::MetadataNotFound {
                what: ASM,
                tried: vec![skipped],
            });
        }
        Fetch::Nothing(skipped) => {
            tracing::debug!(url = %skipped.url, problem = %skipped.problem, "no server metadata; using the default endpoints");
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
        challenge: None,
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
        assert!(c.is_bearer && c.is_insufficient_scope());
        assert_eq!(c.error, Some(ErrorCode::InsufficientScope));
        assert_eq!(c.scopes(), vec!["a", "b"]);
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://x.example/.well-known/oauth-protected-resource/mcp")
        );
        let other = Challenge::parse([r#"Basic realm="x", Bearer scope=read"#]);
        assert_eq!(other.scope.as_deref(), Some("read"));
        assert!(other.is_bearer && !other.is_insufficient_scope());
        assert!(Challenge::parse(["Bearer"]).is_bearer);
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
        assert!(check_resource("https://mcp.example.com/mcp", &server).is_ok());
        assert!(check_resource("https://mcp.example.com", &server).is_ok());
        assert!(check_resource("https://mcp.example.com/", &server).is_ok());
        assert!(check_resource("https://evil.example.com/mcp", &server).is_err());
        assert!(check_resource("https://mcp.example.com/other", &server).is_err());
        assert!(check_resource("https://mcp.example.com/mc", &server).is_err());
        assert!(check_resource("not a url", &server).is_err());
    }

    #[test]
    fn issuer_must_match_exactly() {
        let doc = serde_json::json!({
            "issuer": "https://as.example.com/",
            "authorization_endpoint": "https://as.example.com/authorize",
            "token_endpoint": "https://as.example.com/token",
        });
        let map = doc.as_object().unwrap().clone();
        // The root path: with and without the slash are one issuer.
        assert!(AsMetadata::parse(map.clone(), "https://as.example.com", "t").is_ok());
        assert!(AsMetadata::parse(map.clone(), "https://as.example.com/", "t").is_ok());
        assert!(AsMetadata::parse(map, "https://as.example.com/x", "t").is_err());
        let mut with_path = doc.as_object().unwrap().clone();
        with_path.insert("issuer".into(), "https://as.example.com/tenant".into());
        assert!(
            AsMetadata::parse(with_path.clone(), "https://as.example.com/tenant/", "t").is_err()
        );
        assert!(AsMetadata::parse(with_path, "https://as.example.com/tenant", "t").is_ok());
    }

    #[test]
    fn only_the_root_issuer_ignores_its_trailing_slash() {
        for (a, b) in [
            ("https://host", "https://host/"),
            ("https://host/", "https://host"),
            ("https://host:8443", "https://host:8443/"),
            ("https://h/", "https://h/"),
        ] {
            assert!(issuer_matches(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("https://host/t", "https://host/t/"),
            ("https://host/t/", "https://host/t"),
            ("https://host", "https://host//"),
            ("https://HOST", "https://host/"),
            ("https://host", "https://host:443/"),
            ("https://host?", "https://host?/"),
            ("https://host", "https://other/"),
            ("", "/"),
        ] {
            assert!(!issuer_matches(a, b), "{a} {b}");
        }
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
