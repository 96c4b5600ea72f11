//! Token endpoint requests with the client authentication methods the server supports.

use key_value_core::JsonObject;
use reqwest::Client;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::config::PrivateKey;
use crate::discovery::AsMetadata;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{display_url, parse_object, read_limited, str_field};
use crate::storage::{Tokens, now_secs};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// HTTP Basic with the form-encoded ID and secret.
    Basic,
    /// ID and secret in the form body.
    Post,
    /// Public client: the ID in the body only.
    None,
    /// A signed JWT assertion (RFC 7523).
    PrivateKeyJwt,
}

/// The client's identity at the token endpoint.
pub(crate) struct ClientAuth<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) secret: Option<&'a SecretString>,
    pub(crate) key: Option<&'a PrivateKey>,
    pub(crate) method: AuthMethod,
    /// The issuer: the audience of a JWT assertion.
    pub(crate) issuer: &'a str,
}

/// Picks the method: the registered one when we can do it, else the best one the
/// server lists for the credentials we hold (RFC 8414's default is basic).
pub(crate) fn choose_method(
    server: &AsMetadata,
    registered: Option<&str>,
    has_secret: bool,
    has_key: bool,
) -> AuthMethod {
    let usable = |m: &str| match m {
        "client_secret_basic" if has_secret => Some(AuthMethod::Basic),
        "client_secret_post" if has_secret => Some(AuthMethod::Post),
        "private_key_jwt" if has_key => Some(AuthMethod::PrivateKeyJwt),
        "none" => Some(AuthMethod::None),
        _ => None,
    };
    if let Some(method) = registered.and_then(usable) {
        return method;
    }
    let supported = server
        .token_auth_methods
        .clone()
        .unwrap_or_else(|| vec!["client_secret_basic".into()]);
    let preference: &[&str] = if has_key {
        &[
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]
    } else {
        &["client_secret_basic", "client_secret_post", "none"]
    };
    for wanted in preference {
        if supported.iter().any(|s| s == wanted)
            && let Some(method) = usable(wanted)
        {
            return method;
        }
    }
    match (has_key, has_secret) {
        (true, _) => AuthMethod::PrivateKeyJwt,
        (false, true) => AuthMethod::Basic,
        (false, false) => AuthMethod::None,
    }
}

/// RFC 6749 §2.3.1: the ID and secret are form-encoded before Base64.
fn basic_credentials(id: &str, secret: &str) -> String {
    use base64::Engine;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
}

/// A POST to `endpoint` with the client authenticated as `auth` says (a header, or
/// fields added to `form`).
fn authenticated_post(
    client: &Client,
    endpoint: &Url,
    form: &mut Vec<(&'static str, String)>,
    auth: &ClientAuth<'_>,
) -> Result<reqwest::RequestBuilder> {
    let mut request = client
        .post(endpoint.clone())
        .header(http::header::ACCEPT, "application/json");
    match auth.method {
        AuthMethod::Basic => {
            let secret = auth.secret.map(|s| s.expose_secret()).unwrap_or_default();
            let mut value = http::HeaderValue::from_str(&format!(
                "Basic {}",
                basic_credentials(auth.client_id, secret)
            ))
            .map_err(|_| Error::Config("the client credentials cannot form a header".into()))?;
            value.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, value);
        }
        AuthMethod::Post => {
            form.push(("client_id", auth.client_id.to_string()));
            let secret = auth.secret.map(|s| s.expose_secret()).unwrap_or_default();
            form.push(("client_secret", secret.to_string()));
        }
        AuthMethod::None => form.push(("client_id", auth.client_id.to_string())),
        AuthMethod::PrivateKeyJwt => {
            let key = auth
                .key
                .ok_or_else(|| Error::Config("private_key_jwt needs a private key".into()))?;
            form.push(("client_id", auth.client_id.to_string()));
            form.push(("client_assertion_type", crate::jwt::ASSERTION_TYPE.into()));
            form.push((
                "client_assertion",
                crate::jwt::client_assertion(key, auth.client_id, auth.issuer)?,
            ));
        }
    }
    Ok(request)
}

/// Sends `form` and reads the answer (up to the size limit).
async fn send_form(
    request: reqwest::RequestBuilder,
    form: &[(&'static str, String)],
    endpoint: &Url,
) -> Result<(http::StatusCode, Vec<u8>)> {
    let response = request
        .form(form)
        .send()
        .await
        .map_err(|e| Error::http(endpoint, e))?;
    let status = response.status();
    Ok((status, read_limited(response, endpoint).await?))
}

/// The OAuth error an answer carries (RFC 6749 §5.2: a JSON object with a string
/// `error`), whatever its HTTP status: some servers answer 200 with an error body.
fn oauth_error(status: http::StatusCode, body: Option<&JsonObject>) -> Option<Error> {
    let body = body?;
    let error = str_field(body, "error")?;
    let field = |k| str_field(body, k).map(str::to_string);
    Some(Error::TokenEndpoint {
        status: status.as_u16(),
        error: Some(ErrorCode::parse(error)),
        description: field("error_description"),
        uri: field("error_uri"),
    })
}

/// Reads an endpoint's answer: `Ok` with the JSON object of a success without an OAuth
/// error; [`Error::TokenEndpoint`] with the code for an OAuth error in the body (any
/// status), or without one for an error status whose body has none; [`Error::Metadata`]
/// for a success whose body is not a JSON object.
fn read_answer(status: http::StatusCode, body: &[u8], endpoint: &Url) -> Result<JsonObject> {
    let parsed = parse_object(body, endpoint);
    if let Some(error) = oauth_error(status, parsed.as_ref().ok()) {
        return Err(error);
    }
    if !status.is_success() {
        return Err(Error::TokenEndpoint {
            status: status.as_u16(),
            error: None,
            description: None,
            uri: None,
        });
    }
    parsed
}

/// Asks the revocation endpoint to revoke `token` (RFC 7009). An unknown or expired
/// token is not an error there; a server that cannot revoke this type of token answers
/// `unsupported_token_type`, which is returned as an error like any other.
pub(crate) async fn revoke(
    client: &Client,
    endpoint: &Url,
    token: &SecretString,
    hint: &'static str,
    auth: &ClientAuth<'_>,
) -> Result<()> {
    let mut form = vec![
        ("token", token.expose_secret().to_string()),
        ("token_type_hint", hint.to_string()),
    ];
    let request = authenticated_post(client, endpoint, &mut form, auth)?;
    tracing::debug!(endpoint = %display_url(endpoint), hint, "revocation request");
    let (status, body) = send_form(request, &form, endpoint).await?;
    // RFC 7009 §2.2: success is HTTP 200 whatever the body (it may be empty).
    let parsed = parse_object(&body, endpoint).ok();
    let error = oauth_error(status, parsed.as_ref());
    if status.is_success() && error.is_none() {
        return Ok(());
    }
    Err(match error {
        Some(Error::TokenEndpoint {
            status,
            error,
            description,
            ..
        }) => Error::Revocation {
            status,
            error,
            description,
        },
        _ => Error::Revocation {
            status: status.as_u16(),
            error: None,
            description: None,
        },
    })
}

/// POSTs a token request and parses the token response.
pub(crate) async fn request(
    client: &Client,
    endpoint: &Url,
    mut form: Vec<(&'static str, String)>,
    auth: &ClientAuth<'_>,
) -> Result<Tokens> {
    let request = authenticated_post(client, endpoint, &mut form, auth)?;
    let grant = form
        .iter()
        .find(|(k, _)| *k == "grant_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    tracing::debug!(endpoint = %display_url(endpoint), %grant, method = ?auth.method, "token request");
    let (status, body) = send_form(request, &form, endpoint).await?;
    let received_at = now_secs();
    let map = read_answer(status, &body, endpoint)?;
    let tokens = Tokens::from_response(&map, received_at).ok_or_else(|| Error::Metadata {
        url: display_url(endpoint),
        reason: "the token response has no access_token".into(),
    })?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::Metadata {
            url: display_url(endpoint),
            reason: format!("unsupported token_type `{}`", tokens.token_type),
        });
    }
    tracing::info!(grant = %grant, expires_in = ?tokens.expires_in, scope = ?tokens.scope, "token received");
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(methods: Option<&[&str]>) -> AsMetadata {
        let mut raw = serde_json::json!({
            "issuer": "https://as.example",
            "token_endpoint": "https://as.example/token",
        });
        if let Some(m) = methods {
            raw["token_endpoint_auth_methods_supported"] = serde_json::json!(m);
        }
        AsMetadata::parse(raw.as_object().unwrap().clone(), "https://as.example", "t").unwrap()
    }

    #[test]
    fn chooses_what_server_and_client_support() {
        let both = server(Some(&["client_secret_post", "client_secret_basic"]));
        assert_eq!(choose_method(&both, None, true, false), AuthMethod::Basic);
        assert_eq!(
            choose_method(&both, Some("client_secret_post"), true, false),
            AuthMethod::Post
        );
        assert_eq!(
            choose_method(&server(Some(&["none"])), None, false, false),
            AuthMethod::None
        );
        assert_eq!(
            choose_method(&server(None), None, true, false),
            AuthMethod::Basic
        );
        assert_eq!(
            choose_method(&server(Some(&["private_key_jwt"])), None, false, true),
            AuthMethod::PrivateKeyJwt
        );
    }

    #[test]
    fn an_error_body_counts_whatever_the_status() {
        let url = Url::parse("https://as.example/token").unwrap();
        let ok = http::StatusCode::OK;
        let body = br#"{"error": "invalid_grant", "error_description": "spent", "error_uri": "https://as.example/e"}"#;
        let Err(Error::TokenEndpoint {
            status,
            error,
            description,
            uri,
        }) = read_answer(ok, body, &url)
        else {
            panic!("a 200 with an error body is an error");
        };
        assert_eq!(status, 200);
        assert_eq!(error, Some(ErrorCode::InvalidGrant));
        assert_eq!(description.as_deref(), Some("spent"));
        assert_eq!(uri.as_deref(), Some("https://as.example/e"));
        let bad = http::StatusCode::BAD_GATEWAY;
        assert!(matches!(
            read_answer(bad, b"<html>", &url),
            Err(Error::TokenEndpoint {
                status: 502,
                error: None,
                ..
            })
        ));
        assert!(matches!(
            read_answer(ok, b"<html>", &url),
            Err(Error::Metadata { .. })
        ));
        assert!(read_answer(ok, br#"{"access_token": "a"}"#, &url).is_ok());
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        use base64::Engine;
        let encoded = basic_credentials("a:b", "c d");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a%3Ab:c+d");
    }
}
