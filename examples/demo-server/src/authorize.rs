//! `GET /authorize`: checks the request, then consents at once and redirects back with
//! a code (there is no user to ask; this is a demo server).

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use key_value::AsyncKeyValueExt;
use serde::{Deserialize, Serialize};
use url::Url;

use super::clients::{self, Lookup};
use super::metadata::SCOPES;
use super::{AppState, CODE_LIFETIME, MCP_SCOPE, Shared, collections, secrets, single_params};

/// What an authorization code stands for (stored under the code's hash, for 60 s).
#[derive(Serialize, Deserialize)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
}

/// An error shown to the user: the redirect URI is not trusted, so no redirect.
fn error_page(status: StatusCode, why: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("authorization request refused: {why}\n"),
    )
        .into_response()
}

/// A redirect back to the client with these parameters plus `state` and `iss`.
fn redirect_back(
    s: &Shared,
    redirect_uri: &Url,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    let mut location = redirect_uri.clone();
    {
        let mut query = location.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &s.issuer);
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// Checks a requested scope; the default is the MCP scope.
pub(crate) fn checked_scope(requested: Option<&str>) -> Result<String, String> {
    let scopes: Vec<&str> = requested.unwrap_or("").split_whitespace().collect();
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(s)) {
        return Err(format!("unknown scope `{unknown}`"));
    }
    Ok(if scopes.is_empty() {
        MCP_SCOPE.to_string()
    } else {
        scopes.join(" ")
    })
}

/// Checks an RFC 8707 `resource`: this server's MCP endpoint (the default).
pub(crate) fn checked_resource(s: &Shared, requested: Option<&str>) -> Result<String, String> {
    match requested {
        None => Ok(s.resource.clone()),
        Some(r) if r.trim_end_matches('/') == s.resource => Ok(s.resource.clone()),
        Some(r) => Err(format!("this server protects only {}, not {r}", s.resource)),
    }
}

/// `GET /authorize`.
pub(crate) async fn authorize(State(s): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = match single_params(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let get = |name: &str| params.get(name).map(String::as_str);
    let client = match clients::lookup(&s, get("client_id").unwrap_or("")).await {
        Ok(c) => c,
        Err(Lookup::Unknown(why)) => return error_page(StatusCode::BAD_REQUEST, &why),
        Err(Lookup::Failed(why)) => {
            s.event(format!("error: {why}"));
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, &why);
        }
    };
    let redirect_uri = match get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "redirect_uri is not one the client registered",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing"),
    };
    let Ok(redirect_url) = Url::parse(&redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "redirect_uri is not a URL");
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let state = get("state");
    let refuse = |code: &str, why: &str| {
        s.event(format!("refused an authorization request: {why}"));
        redirect_back(
            &s,
            &redirect_url,
            state,
            &[("error", code), ("error_description", why)],
        )
    };
    if get("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be `code`");
    }
    let Some(challenge) = get("code_challenge") else {
        return refuse(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43 {
        return refuse("invalid_request", "code_challenge is not an S256 challenge");
    }
    let scope = match checked_scope(get("scope")) {
        Ok(scope) => scope,
        Err(why) => return refuse("invalid_scope", &why),
    };
    let resource = match checked_resource(&s, get("resource")) {
        Ok(r) => r,
        Err(why) => return refuse("invalid_target", &why),
    };
    let Ok(code) = secrets::random_token("code_") else {
        return refuse("server_error", "the random source failed");
    };
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: challenge.to_string(),
        scope: scope.clone(),
        resource,
    };
    if let Err(e) = s
        .store
        .put_as(
            &secrets::hash(&code),
            &grant,
            Some(CODE_LIFETIME),
            Some(collections::CODES),
        )
        .await
    {
        return refuse("server_error", &format!("cannot store the code: {e}"));
    }
    s.event(format!(
        "authorization request from {}: approved automatically (scope \"{scope}\"), \
         redirecting to {redirect_uri} with a code",
        client.client_id
    ));
    redirect_back(&s, &redirect_url, state, &[("code", &code)])
}
