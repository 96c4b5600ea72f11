//! `POST /token`: the `authorization_code` grant (with the PKCE check) and the
//! `refresh_token` grant, which rotates the refresh token; `POST /revoke` (RFC 7009).
//!
//! Refresh tokens are rotated with replay detection, as OAuth 2.1 §4.3.1 recommends for
//! public clients: every token of one authorization belongs to one grant, and a refresh
//! token that comes back after it was exchanged revokes that whole grant (its newest
//! refresh token and its access tokens), since either the client or an attacker holds a
//! copy. A client fleet that refreshes one token twice thus loses its login here, as it
//! would at servers that work this way.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use key_value::{AsyncKeyValue, AsyncKeyValueExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::authorize::{CodeGrant, checked_resource};
use super::clients::{self, Client, Lookup};
use super::{
    AppState, REFRESH_TOKEN_LIFETIME, Shared, collections, oauth_error, secrets, single_params,
};

/// What an access token stands for (stored under its hash, expiring with it).
#[derive(Serialize, Deserialize)]
pub(crate) struct AccessGrant {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    /// Seconds since the epoch, with their fraction (see [`super::clock`]); grants
    /// stored as whole seconds by earlier versions read the same way.
    pub(crate) expires_at: f64,
    /// The authorization this token descends from (see the module docs).
    #[serde(default)]
    pub(crate) grant: String,
}

/// What a refresh token stands for (stored under its hash).
#[derive(Serialize, Deserialize)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    resource: String,
    #[serde(default)]
    grant: String,
}

/// A refresh token already exchanged: the grant it belonged to.
#[derive(Serialize, Deserialize)]
struct SpentRefreshToken {
    client_id: String,
    grant: String,
}

/// Whether `grant` was revoked for a replayed refresh token.
pub(crate) async fn is_revoked(store: &dyn AsyncKeyValue, grant: &str) -> key_value::Result<bool> {
    if grant.is_empty() {
        return Ok(false);
    }
    Ok(store
        .get(grant, Some(collections::REVOKED_GRANTS))
        .await?
        .is_some())
}

fn bad(code: &str, why: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, code, why)
}

fn failed(s: &Shared, why: String) -> Response {
    s.event(format!("error: {why}"));
    oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &why)
}

/// The credentials a request presents: HTTP Basic, or form fields.
struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(part.as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

fn presented(
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Result<Presented, &'static str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| "the Authorization header is not text")?;
        let Some((scheme, encoded)) = value.split_once(' ') else {
            return Err("the Authorization header is malformed");
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("only HTTP Basic client authentication is supported in the header");
        }
        if form.contains_key("client_secret") {
            return Err("the client authenticated in two ways");
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or("the Basic credentials are not valid base64 text")?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("the Basic credentials lack a `:`")?;
        return Ok(Presented {
            client_id: form_decode(id),
            secret: Some(form_decode(secret)),
            basic: true,
        });
    }
    Ok(Presented {
        client_id: form.get("client_id").cloned().unwrap_or_default(),
        secret: form.get("client_secret").cloned(),
        basic: false,
    })
}

/// Authenticates the client, or the `invalid_client` response.
async fn authenticate(s: &Shared, who: &Presented) -> Result<Client, Response> {
    let refuse = |why: &str| {
        s.event(format!("token request refused: {why}"));
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
        if who.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"demo\""),
            );
        }
        response
    };
    let client = match clients::lookup(s, &who.client_id).await {
        Ok(c) => c,
        Err(Lookup::Unknown(why)) => return Err(refuse(&why)),
        Err(Lookup::Failed(why)) => return Err(failed(s, why)),
    };
    match (&client.secret_sha256, &who.secret) {
        (None, None) => Ok(client),
        (None, Some(_)) => Err(refuse("this public client has no secret")),
        (Some(_), None) => Err(refuse("this client must authenticate with its secret")),
        (Some(hash), Some(secret)) if secrets::equal(hash, &secrets::hash(secret)) => Ok(client),
        (Some(_), Some(_)) => Err(refuse("wrong client secret")),
    }
}

/// Reads and removes a one-time grant; `None` when it is unknown or was used already.
async fn take<T: serde::de::DeserializeOwned>(
    store: &dyn AsyncKeyValue,
    key: &str,
    collection: &str,
) -> key_value::Result<Option<T>> {
    let Some(grant) = store.get_as::<T>(key, Some(collection)).await? else {
        return Ok(None);
    };
    // Whoever deletes it first owns it: a code or refresh token works once.
    Ok(store.delete(key, Some(collection)).await?.then_some(grant))
}

/// Whether a token request's `resource` (if any) is the one of the grant.
fn same_resource(s: &Shared, requested: Option<&str>, granted: &str) -> bool {
    requested.is_none_or(|r| checked_resource(s, Some(r)).is_ok_and(|r| r == granted))
}

/// The form of a token or revocation request and the client it authenticates, or the
/// error response.
async fn authenticated_form(
    s: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Client, std::collections::HashMap<String, String>), Response> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(bad(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = single_params(body).map_err(|why| bad("invalid_request", &why))?;
    let who = presented(headers, &form).map_err(|why| bad("invalid_request", why))?;
    let client = authenticate(s, &who).await?;
    Ok((client, form))
}

/// `POST /revoke` (RFC 7009): forgets an access or refresh token of the client that
/// asks. An unknown token is no error; another client's token is refused.
pub(crate) async fn revoke(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (client, form) = match authenticated_form(&s, &headers, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(token) = form.get("token") else {
        return bad("invalid_request", "token is required");
    };
    let hash = secrets::hash(token);
    // The hint only says where to look first.
    let mut places = [
        (collections::ACCESS_TOKENS, "access"),
        (collections::REFRESH_TOKENS, "refresh"),
    ];
    if form.get("token_type_hint").map(String::as_str) == Some("refresh_token") {
        places.reverse();
    }
    for (collection, kind) in places {
        let owner = s.store.get(&hash, Some(collection)).await.map(|grant| {
            grant.and_then(|g| {
                g.get("client_id")
                    .and_then(|c| c.as_str().map(str::to_string))
            })
        });
        match owner {
            Ok(Some(owner)) if owner == client.client_id => {
                if let Err(e) = s.store.delete(&hash, Some(collection)).await {
                    return failed(&s, format!("cannot revoke the token: {e}"));
                }
                s.event(format!("revoked a {kind} token of {}", client.client_id));
                return StatusCode::OK.into_response();
            }
            Ok(Some(_)) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "the token was issued to another client",
                );
            }
            Ok(None) => {}
            Err(e) => return failed(&s, format!("cannot read the token: {e}")),
        }
    }
    StatusCode::OK.into_response()
}

/// `POST /token`.
pub(crate) async fn token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (client, form) = match authenticated_form(&s, &headers, &body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let get = |name: &str| form.get(name).map(String::as_str);
    match get("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (get("code"), get("redirect_uri"), get("code_verifier"))
            else {
                return bad(
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                );
            };
            let grant = match take::<CodeGrant>(&*s.store, &secrets::hash(code), collections::CODES)
                .await
            {
                Ok(Some(g)) => g,
                Ok(None) => return bad("invalid_grant", "the code is unknown, expired or used"),
                Err(e) => return failed(&s, format!("cannot read the code: {e}")),
            };
            if grant.client_id != client.client_id {
                return bad("invalid_grant", "the code was issued to another client");
            }
            if grant.redirect_uri != redirect_uri {
                return bad(
                    "invalid_grant",
                    "redirect_uri differs from the authorization request",
                );
            }
            if !secrets::pkce_matches(verifier, &grant.code_challenge) {
                return bad(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge (PKCE)",
                );
            }
            if !same_resource(&s, get("resource"), &grant.resource) {
                return bad(
                    "invalid_target",
                    "resource differs from the authorization request",
                );
            }
            let Ok(grant_id) = secrets::random_token("grant_") else {
                return failed(&s, "the random source failed".into());
            };
            issue(
                &s,
                &client,
                Grant {
                    scope: grant.scope,
                    resource: grant.resource,
                    id: grant_id,
                },
                "exchanged a code",
            )
            .await
        }
        Some("refresh_token") => {
            let Some(refresh) = get("refresh_token") else {
                return bad("invalid_request", "refresh_token is required");
            };
            let hash = secrets::hash(refresh);
            let grant =
                match take::<RefreshGrant>(&*s.store, &hash, collections::REFRESH_TOKENS).await {
                    Ok(Some(g)) => g,
                    Ok(None) => return refused_refresh(&s, &client, &hash).await,
                    Err(e) => return failed(&s, format!("cannot read the refresh token: {e}")),
                };
            match is_revoked(&*s.store, &grant.grant).await {
                Ok(false) => {}
                Ok(true) => {
                    s.event(format!(
                        "refused a refresh for {}: its grant was revoked after a refresh token replay",
                        client.client_id
                    ));
                    return bad("invalid_grant", "the grant was revoked");
                }
                Err(e) => return failed(&s, format!("cannot read the revoked grants: {e}")),
            }
            let spent = SpentRefreshToken {
                client_id: grant.client_id.clone(),
                grant: grant.grant.clone(),
            };
            if let Err(e) = s
                .store
                .put_as(
                    &hash,
                    &spent,
                    Some(REFRESH_TOKEN_LIFETIME),
                    Some(collections::SPENT_REFRESH_TOKENS),
                )
                .await
            {
                return failed(&s, format!("cannot record the spent refresh token: {e}"));
            }
            if grant.client_id != client.client_id {
                return bad(
                    "invalid_grant",
                    "the refresh token was issued to another client",
                );
            }
            let scope = match get("scope") {
                None => grant.scope,
                Some(narrower) => {
                    let held: Vec<&str> = grant.scope.split_whitespace().collect();
                    if narrower.split_whitespace().any(|s| !held.contains(&s)) {
                        return bad("invalid_scope", "a refresh cannot add scopes");
                    }
                    narrower.to_string()
                }
            };
            if !same_resource(&s, get("resource"), &grant.resource) {
                return bad("invalid_target", "resource differs from the original grant");
            }
            issue(
                &s,
                &client,
                Grant {
                    scope,
                    resource: grant.resource,
                    id: grant.grant,
                },
                "refreshed (the old refresh token no longer works)",
            )
            .await
        }
        Some(other) => bad(
            "unsupported_grant_type",
            &format!("grant type `{other}` is not supported"),
        ),
        None => bad("invalid_request", "grant_type is required"),
    }
}

/// Answers a refresh token that is not (or no longer) valid; one that was exchanged
/// before is a replay, which revokes its grant.
async fn refused_refresh(s: &Shared, client: &Client, hash: &str) -> Response {
    let spent = match s
        .store
        .get_as::<SpentRefreshToken>(hash, Some(collections::SPENT_REFRESH_TOKENS))
        .await
    {
        Ok(spent) => spent,
        Err(e) => return failed(s, format!("cannot read the spent refresh tokens: {e}")),
    };
    let Some(spent) = spent.filter(|spent| spent.client_id == client.client_id) else {
        s.event(format!(
            "refused a refresh for {}: the refresh token is unknown or expired",
            client.client_id
        ));
        return bad("invalid_grant", "the refresh token is unknown or expired");
    };
    if let Err(e) = s
        .store
        .put(
            &spent.grant,
            key_value::JsonObject::new(),
            Some(REFRESH_TOKEN_LIFETIME),
            Some(collections::REVOKED_GRANTS),
        )
        .await
    {
        return failed(s, format!("cannot revoke the grant: {e}"));
    }
    s.event(format!(
        "refused a refresh for {}: the refresh token was already used; revoked its whole grant (replay detection)",
        client.client_id
    ));
    bad(
        "invalid_grant",
        "the refresh token was already used; the grant is revoked",
    )
}

/// The authorization that tokens are issued for.
struct Grant {
    scope: String,
    resource: String,
    /// The grant ID shared by every token descended from one authorization.
    id: String,
}

/// Issues an access token and a refresh token.
async fn issue(s: &Shared, client: &Client, grant: Grant, what: &str) -> Response {
    let Grant {
        scope,
        resource,
        id: grant_id,
    } = grant;
    let (Ok(access), Ok(refresh)) = (secrets::random_token("at_"), secrets::random_token("rt_"))
    else {
        return failed(s, "the random source failed".into());
    };
    let lifetime = s.access_lifetime;
    let access_grant = AccessGrant {
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        resource: resource.clone(),
        // The lifetime was checked at start: it ends before the year 9999.
        expires_at: super::clock::since_epoch()
            .saturating_add(lifetime)
            .as_secs_f64(),
        grant: grant_id.clone(),
    };
    let refresh_grant = RefreshGrant {
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        resource,
        grant: grant_id,
    };
    let stored = async {
        s.store
            .put_as(
                &secrets::hash(&access),
                &access_grant,
                Some(lifetime),
                Some(collections::ACCESS_TOKENS),
            )
            .await?;
        s.store
            .put_as(
                &secrets::hash(&refresh),
                &refresh_grant,
                Some(REFRESH_TOKEN_LIFETIME),
                Some(collections::REFRESH_TOKENS),
            )
            .await
    };
    if let Err(e) = stored.await {
        return failed(s, format!("cannot store the tokens: {e}"));
    }
    s.event(format!(
        "token endpoint {what} for {}: new access token (valid {} s, scope \"{scope}\") and refresh token",
        client.client_id,
        lifetime.as_secs()
    ));
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
        })),
    )
        .into_response()
}
