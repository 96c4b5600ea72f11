//! Clients: RFC 7591 dynamic registration, and client ID metadata documents (an
//! `https` URL as the client ID, whose document the server fetches).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use key_value::AsyncKeyValueExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::{AppState, Shared, collections, oauth_error, secrets};

/// The largest client metadata document the server fetches.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The token endpoint authentication methods the server supports.
pub(crate) const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];

/// A client the server knows. Its secret is kept only as a hash.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Client {
    pub(crate) client_id: String,
    pub(crate) client_name: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) token_endpoint_auth_method: String,
    pub(crate) secret_sha256: Option<String>,
}

/// Why a client could not be found.
pub(crate) enum Lookup {
    /// No such client (or its metadata document is unusable): the reason.
    Unknown(String),
    /// The store failed.
    Failed(String),
}

/// Whether a redirect URI is acceptable: `https`, or `http` on a loopback host, no fragment.
pub(crate) fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// A list of strings, or the error.
fn string_list(body: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{field}` must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("`{field}` must be a list of strings")),
    }
}

/// `POST /register` (RFC 7591).
pub(crate) async fn register(State(s): State<AppState>, body: Bytes) -> Response {
    let bad = |code: &str, why: &str| oauth_error(StatusCode::BAD_REQUEST, code, why);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad(
            "invalid_client_metadata",
            "the request body must be a JSON object",
        );
    };
    let redirect_uris = match string_list(&body, "redirect_uris") {
        Ok(Some(list)) if !list.is_empty() => list,
        Ok(_) => return bad("invalid_redirect_uri", "`redirect_uris` is required"),
        Err(why) => return bad("invalid_redirect_uri", &why),
    };
    if let Some(uri) = redirect_uris.iter().find(|u| !valid_redirect_uri(u)) {
        return bad(
            "invalid_redirect_uri",
            &format!("redirect URI `{uri}` must be https, or http on a loopback host"),
        );
    }
    let method = match body.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "client_secret_basic".to_string(),
        Some(Value::String(m)) if AUTH_METHODS.contains(&m.as_str()) => m.clone(),
        Some(_) => {
            return bad(
                "invalid_client_metadata",
                "`token_endpoint_auth_method` must be none, client_secret_basic or client_secret_post",
            );
        }
    };
    let grant_types = match string_list(&body, "grant_types") {
        Ok(list) => list.unwrap_or_else(|| vec!["authorization_code".into()]),
        Err(why) => return bad("invalid_client_metadata", &why),
    };
    if grant_types
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return bad(
            "invalid_client_metadata",
            "only the authorization_code and refresh_token grant types are supported",
        );
    }
    match string_list(&body, "response_types") {
        Ok(Some(list)) if list.iter().any(|r| r != "code") => {
            return bad(
                "invalid_client_metadata",
                "only the `code` response type is supported",
            );
        }
        Err(why) => return bad("invalid_client_metadata", &why),
        _ => {}
    }
    let client_name = match body.get("client_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.chars().count() <= 200 => Some(name.clone()),
        Some(_) => {
            return bad(
                "invalid_client_metadata",
                "`client_name` must be a string of at most 200 characters",
            );
        }
    };
    let (client_id, secret) = match (
        secrets::random_token("demo-client-"),
        secrets::random_token("cs_"),
    ) {
        (Ok(id), Ok(secret)) => (id, (method != "none").then_some(secret)),
        _ => return server_error(&s, "the random source failed"),
    };
    let client = Client {
        client_id: client_id.clone(),
        client_name: client_name.clone(),
        redirect_uris: redirect_uris.clone(),
        token_endpoint_auth_method: method.clone(),
        secret_sha256: secret.as_deref().map(secrets::hash),
    };
    if let Err(e) = s
        .store
        .put_as(&client_id, &client, None, Some(collections::CLIENTS))
        .await
    {
        return server_error(&s, &format!("cannot store the client: {e}"));
    }
    s.event(format!(
        "registered client {client_id} (\"{}\", {method}) for {}",
        client_name.as_deref().unwrap_or("unnamed"),
        redirect_uris.join(", ")
    ));
    let mut response = json!({
        "client_id": client_id,
        "client_id_issued_at": super::clock::since_epoch().as_secs(),
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": ["code"],
    });
    if let Some(name) = client_name {
        response["client_name"] = json!(name);
    }
    if let Some(secret) = secret {
        response["client_secret"] = json!(secret);
        response["client_secret_expires_at"] = json!(0);
    }
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(response),
    )
        .into_response()
}

fn server_error(s: &Shared, why: &str) -> Response {
    s.event(format!("error: {why}"));
    oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", why)
}

/// The client with this ID: a registered one, or the client metadata document at an
/// `https` client ID.
pub(crate) async fn lookup(s: &Shared, client_id: &str) -> Result<Client, Lookup> {
    if client_id.starts_with("https://") {
        return fetch_metadata_document(s, client_id).await;
    }
    if client_id.is_empty() {
        return Err(Lookup::Unknown("client_id is missing".into()));
    }
    match s
        .store
        .get_as::<Client>(client_id, Some(collections::CLIENTS))
        .await
    {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(Lookup::Unknown(format!("unknown client `{client_id}`"))),
        Err(e) => Err(Lookup::Failed(format!("cannot read the client: {e}"))),
    }
}

/// Fetches and checks a client ID metadata document.
async fn fetch_metadata_document(s: &Shared, url: &str) -> Result<Client, Lookup> {
    let unknown = |why: String| Lookup::Unknown(format!("client metadata document {url}: {why}"));
    let mut response = s
        .http
        .get(url)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unknown(format!("cannot fetch it ({})", e.without_url())))?;
    if !response.status().is_success() {
        return Err(unknown(format!("HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unknown(format!("cannot read it ({})", e.without_url())))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(unknown("larger than 64 KiB".into()));
        }
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
        return Err(unknown("not a JSON object".into()));
    };
    if doc.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err(unknown("its client_id is not its own URL".into()));
    }
    let redirect_uris = string_list(&doc, "redirect_uris")
        .map_err(unknown)?
        .filter(|l| !l.is_empty() && l.iter().all(|u| valid_redirect_uri(u)))
        .ok_or_else(|| unknown("it needs valid `redirect_uris`".into()))?;
    match doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(_) => {
            return Err(unknown(
                "only public clients (token_endpoint_auth_method none) are supported".into(),
            ));
        }
    }
    Ok(Client {
        client_id: url.to_string(),
        client_name: doc
            .get("client_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        redirect_uris,
        token_endpoint_auth_method: "none".into(),
        secret_sha256: None,
    })
}

#[cfg(test)]
mod tests {
    use super::valid_redirect_uri;

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        assert!(valid_redirect_uri("http://localhost:8765/callback"));
        assert!(valid_redirect_uri("http://127.0.0.1:3000/callback"));
        assert!(valid_redirect_uri("http://[::1]:3000/callback"));
        assert!(valid_redirect_uri("https://app.example/cb"));
        assert!(!valid_redirect_uri("http://app.example/cb"));
        assert!(!valid_redirect_uri("https://app.example/cb#frag"));
        assert!(!valid_redirect_uri("javascript:alert(1)"));
        assert!(!valid_redirect_uri("not a url"));
    }
}
