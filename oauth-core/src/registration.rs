//! Dynamic client registration (RFC 7591).

use key_value_core::JsonObject;
use reqwest::Client;
use serde_json::{Value, json};

use crate::discovery::AsMetadata;
use crate::error::{Error, Result};
use crate::http::{display_url, parse_object, read_limited, str_field};
use crate::storage::ClientInfo;

/// Registers a native public client for `redirect_uri` (RFC 7591 §2, §3.1), with the
/// `scope` it will ask for (space-separated, as in the authorization request; omitted
/// when `None`): a server that limits a client to its registered scope then accepts the
/// request. `additional` fields are merged last. The result names its issuer.
///
/// # Errors
///
/// [`Error::Registration`] when the server offers no registration or refuses (with its
/// `error` and `error_description`), [`Error::Http`] / [`Error::TooLarge`] /
/// [`Error::Metadata`] for an answer that cannot be read.
pub(crate) async fn register(
    client: &Client,
    server: &AsMetadata,
    client_name: &str,
    redirect_uri: &str,
    scope: Option<&str>,
    additional: &JsonObject,
) -> Result<ClientInfo> {
    let endpoint = server.registration_endpoint.as_ref().ok_or_else(|| {
        Error::Registration(format!(
            "the authorization server `{}` supports no dynamic registration; configure a client_id",
            server.issuer
        ))
    })?;
    let mut body = JsonObject::new();
    body.insert("client_name".into(), json!(client_name));
    body.insert("redirect_uris".into(), json!([redirect_uri]));
    body.insert(
        "grant_types".into(),
        json!(["authorization_code", "refresh_token"]),
    );
    body.insert("response_types".into(), json!(["code"]));
    body.insert("token_endpoint_auth_method".into(), json!("none"));
    body.insert("application_type".into(), json!("native"));
    if let Some(scope) = scope {
        body.insert("scope".into(), json!(scope));
    }
    for (k, v) in additional {
        body.insert(k.clone(), v.clone());
    }
    tracing::info!(endpoint = %display_url(endpoint), "registering the client");
    let response = client
        .post(endpoint.clone())
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::http(endpoint, e))?;
    let status = response.status();
    let bytes = read_limited(response, endpoint).await?;
    if !status.is_success() {
        let detail = parse_object(&bytes, endpoint)
            .ok()
            .map(|m| {
                let error = str_field(&m, "error").unwrap_or("error").to_string();
                match str_field(&m, "error_description") {
                    Some(d) => format!("{error}: {d}"),
                    None => error,
                }
            })
            .unwrap_or_default();
        return Err(Error::Registration(format!(
            "{} answered HTTP {status} {detail}",
            display_url(endpoint)
        )));
    }
    let mut raw = parse_object(&bytes, endpoint)?;
    if !raw.contains_key("redirect_uris") {
        raw.insert("redirect_uris".into(), json!([redirect_uri]));
    }
    raw.insert("issuer".into(), Value::String(server.issuer.clone()));
    let info = ClientInfo::from_object(raw)
        .ok_or_else(|| Error::Registration("the registration response has no client_id".into()))?;
    tracing::info!(client_id = %info.client_id, "client registered");
    Ok(info)
}
