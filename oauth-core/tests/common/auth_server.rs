//! The test authorization server and protected MCP endpoint (axum, loopback HTTP) that
//! the integration tests share, with faults that can be switched on per test, and the
//! helpers the tests use around it.
// Not every test binary uses every item.
#![allow(dead_code, unreachable_pub, unused_imports)]
pub use std::collections::{HashMap, HashSet};
pub use std::sync::atomic::{AtomicUsize, Ordering};
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use axum::extract::{Form, Query, State};
pub use axum::http::{HeaderMap, StatusCode, header};
pub use axum::response::{IntoResponse, Redirect, Response};
pub use axum::routing::{get, post};
pub use axum::{Json, Router};
pub use key_value_core::{AsyncKeyValue, JsonObject};
pub use key_value_memory::MemoryStore;
pub use oauth_core::{BrowserMode, Error, ExposeSecret, OAuth};
pub use serde_json::{Value, json};
pub use tokio::net::TcpListener;

/// What the authorization endpoint does.
#[derive(Clone, Copy, PartialEq)]
pub enum Consent {
    Approve,
    Deny,
    WrongState,
}

#[derive(Default)]
pub struct ServerState {
    pub base: String,
    pub consent: Option<Consent>,
    /// Overrides of the metadata responses.
    pub as_metadata_body: Option<String>,
    pub prm_issuer: Option<String>,
    pub clients: HashSet<String>,
    pub codes: HashMap<String, String>,
    pub access: HashSet<String>,
    pub refresh: HashSet<String>,
    /// Every secret the server handed out, to look for in logs.
    pub secrets: Vec<String>,
    pub expires_in: u64,
    /// A canned answer of the token endpoint (status, content type, body).
    pub token_answer: Option<(StatusCode, &'static str, &'static str)>,
    /// Refuse unknown clients at /authorize as the MCP Python SDK does (a JSON
    /// `invalid_request`) instead of with an HTML page.
    pub unknown_client_json: bool,
    /// Offer RFC 7009 revocation (at /revoke).
    pub revocation: bool,
    /// The tokens revoked at /revoke, with their hints.
    pub revoked: Vec<(String, String)>,
    /// A canned answer of /revoke for access tokens (status, JSON body).
    pub revoke_access_answer: Option<(StatusCode, &'static str)>,
    /// Faults of discovery, scopes and error bodies (switched on per test).
    pub faults: Faults,
    /// What reached the server.
    pub seen: Seen,
    /// The scope granted with each authorization code, access and refresh token.
    pub granted: HashMap<String, String>,
}

/// Faults of discovery, scopes and error bodies.
#[derive(Default, Clone)]
pub struct Faults {
    /// The path-aware protected resource metadata answers 200 with an HTML page.
    pub prm_html: bool,
    /// The resource metadata is only at `{origin}/elsewhere/prm`, which the 401 names;
    /// `origin` is the server's own base or another origin of the same listener
    /// (`http://localhost:PORT`). The well-known locations answer 404.
    pub prm_elsewhere: Option<String>,
    /// The resource metadata is also at the root location
    /// (`/.well-known/oauth-protected-resource`).
    pub prm_root: bool,
    /// The resource metadata names this `resource` instead of the server.
    pub prm_resource: Option<String>,
    /// The authorization server grants this scope whatever was asked for.
    pub grant_only: Option<String>,
    /// `/.well-known/oauth-authorization-server` answers 200 with an HTML page.
    pub as_html: bool,
    /// `/.well-known/oauth-authorization-server` answers 404.
    pub as_missing: bool,
    /// The metadata is also at `/.well-known/openid-configuration`.
    pub openid_configuration: bool,
    /// The authorization server metadata writes its issuer with a trailing slash.
    pub issuer_slash: bool,
    /// The resource metadata's `scopes_supported` (default `["mcp"]`).
    pub prm_scopes: Option<Vec<String>>,
    /// The authorization server's `scopes_supported` (default `["mcp", "offline_access"]`).
    pub as_scopes: Option<Vec<String>>,
    /// The `scope` of the 401 challenge.
    pub challenge_scope: Option<String>,
    /// A scope the MCP endpoint requires: a valid token without it gets 403
    /// `insufficient_scope` naming it.
    pub required_scope: Option<String>,
    /// A canned answer of the token endpoint: status and JSON body (any length).
    pub token_error: Option<(StatusCode, String)>,
    /// How /authorize answers a client it does not know (status, content type, body);
    /// default 400 with an HTML page.
    pub unknown_client_authorize: Option<(StatusCode, &'static str, &'static str)>,
    /// How the token endpoint answers a client it does not know (status, JSON body);
    /// default 401 `invalid_client`.
    pub unknown_client_token: Option<(StatusCode, &'static str)>,
}

/// What reached the server.
#[derive(Default, Clone)]
pub struct Seen {
    /// The path of every GET of a metadata location (well-known or named), in order.
    pub metadata_paths: Vec<String>,
    /// The query of every authorization request.
    pub authorize_queries: Vec<HashMap<String, String>>,
    /// The body of every registration request.
    pub registration_bodies: Vec<Value>,
    /// The `grant_type` of every token request.
    pub token_grants: Vec<String>,
    /// The `grant_type` and `client_id` of every token request, and whether the server
    /// knew the client.
    pub token_requests: Vec<(String, String, bool)>,
    /// The `client_id` of every authorization request for a client the server did not
    /// know (an authorization started that can never finish).
    pub authorize_unknown: Vec<String>,
    /// MCP requests without a valid token.
    pub mcp_unauthenticated: usize,
    /// The status of every MCP answer.
    pub mcp_statuses: Vec<u16>,
}

#[derive(Clone, Default)]
pub struct Server {
    pub state: Arc<Mutex<ServerState>>,
    pub registrations: Arc<AtomicUsize>,
    pub authorizations: Arc<AtomicUsize>,
    pub refreshes: Arc<AtomicUsize>,
    pub counter: Arc<AtomicUsize>,
}

impl Server {
    pub async fn start() -> Server {
        let server = Server::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        {
            let mut st = server.state.lock().unwrap();
            st.base = base;
            st.consent = Some(Consent::Approve);
            st.expires_in = 3600;
        }
        let app = Router::new()
            .route("/.well-known/oauth-protected-resource/mcp", get(prm))
            .route("/.well-known/oauth-authorization-server", get(as_metadata))
            .route(
                "/.well-known/openid-configuration",
                get(openid_configuration),
            )
            .route("/elsewhere/prm", get(prm_elsewhere))
            .route("/.well-known/oauth-protected-resource", get(prm_root))
            .route("/register", post(register))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/mcp", post(mcp))
            .fallback(not_found)
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    pub fn base(&self) -> String {
        self.state.lock().unwrap().base.clone()
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base())
    }

    pub fn set(&self, f: impl FnOnce(&mut ServerState)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Switches faults on.
    pub fn fault(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.state.lock().unwrap().faults);
    }

    /// What reached the server so far.
    pub fn seen(&self) -> Seen {
        self.state.lock().unwrap().seen.clone()
    }

    /// The same listener under another origin (`localhost` instead of `127.0.0.1`).
    pub fn other_origin(&self) -> String {
        self.base().replace("127.0.0.1", "localhost")
    }

    pub fn next(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("{prefix}-{n}-SECRETVALUE")
    }
}

const HTML: &str = "<!doctype html><html><body>Sign in</body></html>";

fn html() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        HTML,
    )
        .into_response()
}

/// Records a metadata GET.
fn saw_metadata(st: &mut ServerState, path: &str) {
    st.seen.metadata_paths.push(path.to_string());
}

fn prm_document(st: &ServerState) -> Value {
    let issuer = st.prm_issuer.clone().unwrap_or_else(|| st.base.clone());
    let scopes = st
        .faults
        .prm_scopes
        .clone()
        .unwrap_or_else(|| vec!["mcp".into()]);
    let resource = st
        .faults
        .prm_resource
        .clone()
        .unwrap_or_else(|| format!("{}/mcp", st.base));
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": scopes,
    })
}

pub async fn prm(State(s): State<Server>) -> Response {
    let mut st = s.state.lock().unwrap();
    saw_metadata(&mut st, "/.well-known/oauth-protected-resource/mcp");
    if st.faults.prm_html {
        return html();
    }
    if st.faults.prm_elsewhere.is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(prm_document(&st)).into_response()
}

pub async fn prm_root(State(s): State<Server>) -> Response {
    let mut st = s.state.lock().unwrap();
    saw_metadata(&mut st, "/.well-known/oauth-protected-resource");
    if !st.faults.prm_root {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(prm_document(&st)).into_response()
}

pub async fn prm_elsewhere(State(s): State<Server>) -> Response {
    let mut st = s.state.lock().unwrap();
    saw_metadata(&mut st, "/elsewhere/prm");
    if st.faults.prm_elsewhere.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(prm_document(&st)).into_response()
}

/// Any other path: 404, and a GET under `/.well-known/` is recorded.
pub async fn not_found(State(s): State<Server>, uri: axum::http::Uri) -> StatusCode {
    if uri.path().starts_with("/.well-known/") {
        saw_metadata(&mut s.state.lock().unwrap(), uri.path());
    }
    StatusCode::NOT_FOUND
}

pub async fn openid_configuration(State(s): State<Server>) -> Response {
    let mut st = s.state.lock().unwrap();
    saw_metadata(&mut st, "/.well-known/openid-configuration");
    if !st.faults.openid_configuration {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(as_document(&st)).into_response()
}

fn as_document(st: &ServerState) -> Value {
    let b = &st.base;
    let scopes = st
        .faults
        .as_scopes
        .clone()
        .unwrap_or_else(|| vec!["mcp".into(), "offline_access".into()]);
    let issuer = if st.faults.issuer_slash {
        format!("{b}/")
    } else {
        b.clone()
    };
    let mut metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "registration_endpoint": format!("{b}/register"),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
    });
    if st.revocation {
        metadata["revocation_endpoint"] = json!(format!("{b}/revoke"));
    }
    metadata
}

pub async fn as_metadata(State(s): State<Server>) -> Response {
    let mut st = s.state.lock().unwrap();
    saw_metadata(&mut st, "/.well-known/oauth-authorization-server");
    if let Some(body) = &st.as_metadata_body {
        return ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
    }
    if st.faults.as_html {
        return html();
    }
    if st.faults.as_missing {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(as_document(&st)).into_response()
}

pub async fn register(
    State(s): State<Server>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    s.registrations.fetch_add(1, Ordering::SeqCst);
    s.state
        .lock()
        .unwrap()
        .seen
        .registration_bodies
        .push(body.clone());
    // Client IDs are public (and logged); only the counter is shared with secrets.
    let id = s.next("client").replace("-SECRETVALUE", "");
    s.state.lock().unwrap().clients.insert(id.clone());
    let mut out = body.as_object().cloned().unwrap_or_default();
    out.insert("client_id".into(), json!(id));
    (StatusCode::CREATED, Json(Value::Object(out)))
}

pub async fn authorize(
    State(s): State<Server>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.authorizations.fetch_add(1, Ordering::SeqCst);
    s.state
        .lock()
        .unwrap()
        .seen
        .authorize_queries
        .push(q.clone());
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let known = s.state.lock().unwrap().clients.contains(&client_id);
    if !known {
        let mut st = s.state.lock().unwrap();
        st.seen.authorize_unknown.push(client_id.clone());
        if let Some((status, content_type, body)) = st.faults.unknown_client_authorize {
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
        // As real servers do: an error for the person, no redirect.
        if st.unknown_client_json {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": "invalid_request",
                    "error_description": format!("Client ID '{client_id}' not found"),
                })),
            )
                .into_response();
        }
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html")],
            "<h1>Unknown client</h1>",
        )
            .into_response();
    }
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(q.get("resource"), Some(&s.mcp_url()));
    let redirect = q.get("redirect_uri").cloned().unwrap();
    let state = q.get("state").cloned().unwrap_or_default();
    let consent = s.state.lock().unwrap().consent.unwrap_or(Consent::Approve);
    let location = match consent {
        Consent::Approve => {
            let code = s.next("code");
            let mut st = s.state.lock().unwrap();
            st.codes.insert(code.clone(), client_id);
            if let Some(scope) = q.get("scope") {
                st.granted.insert(code.clone(), scope.clone());
            }
            st.secrets.push(code.clone());
            format!("{redirect}?code={code}&state={state}")
        }
        Consent::Deny => {
            format!("{redirect}?error=access_denied&error_description=no%3Cb%3E&state={state}")
        }
        Consent::WrongState => format!("{redirect}?code=whatever&state=forged"),
    };
    Redirect::to(&location).into_response()
}

/// Issues tokens for `scope` (the default `mcp offline_access` when `None`).
pub fn issue(s: &Server, scope: Option<String>) -> Json<Value> {
    let access = s.next("access");
    let refresh = s.next("refresh");
    let mut st = s.state.lock().unwrap();
    let scope = st
        .faults
        .grant_only
        .clone()
        .or(scope)
        .unwrap_or_else(|| "mcp offline_access".into());
    st.granted.insert(access.clone(), scope.clone());
    st.granted.insert(refresh.clone(), scope.clone());
    st.access.insert(access.clone());
    st.refresh.insert(refresh.clone());
    st.secrets.push(access.clone());
    st.secrets.push(refresh.clone());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": st.expires_in,
        "refresh_token": refresh,
        "scope": scope,
    }))
}

pub async fn token(State(s): State<Server>, Form(form): Form<HashMap<String, String>>) -> Response {
    {
        let mut st = s.state.lock().unwrap();
        let grant = form.get("grant_type").cloned().unwrap_or_default();
        st.seen.token_grants.push(grant);
        if let Some((status, content_type, body)) = st.token_answer {
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
        if let Some((status, body)) = st.faults.token_error.clone() {
            return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
    }
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    {
        let mut st = s.state.lock().unwrap();
        let known = st.clients.contains(&client_id);
        let grant = form.get("grant_type").cloned().unwrap_or_default();
        st.seen
            .token_requests
            .push((grant, client_id.clone(), known));
        if !known {
            let (status, body) = st
                .faults
                .unknown_client_token
                .unwrap_or((StatusCode::UNAUTHORIZED, r#"{"error": "invalid_client"}"#));
            return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let ok = s.state.lock().unwrap().codes.remove(&code) == Some(client_id);
            let scope = s.state.lock().unwrap().granted.get(&code).cloned();
            assert!(form.contains_key("code_verifier"));
            if !ok {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            issue(&s, scope).into_response()
        }
        Some("refresh_token") => {
            s.refreshes.fetch_add(1, Ordering::SeqCst);
            // Widen the window in which concurrent callers could start a second refresh.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            // Rotation: a refresh token works once.
            if !s.state.lock().unwrap().refresh.remove(&rt) {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            let scope = s.state.lock().unwrap().granted.get(&rt).cloned();
            issue(&s, scope).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

/// RFC 7009: the client must be known; unknown tokens are fine.
pub async fn revoke(
    State(s): State<Server>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut st = s.state.lock().unwrap();
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if !st.clients.contains(&client_id) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let hint = form.get("token_type_hint").cloned().unwrap_or_default();
    if let (Some((status, body)), "access_token") = (st.revoke_access_answer, hint.as_str()) {
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    st.access.remove(&token);
    st.refresh.remove(&token);
    st.revoked.push((token, hint));
    StatusCode::OK.into_response()
}

pub async fn mcp(State(s): State<Server>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut st = s.state.lock().unwrap();
    let valid = token.as_ref().is_some_and(|t| st.access.contains(t));
    let metadata_url = match &st.faults.prm_elsewhere {
        Some(origin) => format!("{origin}/elsewhere/prm"),
        None => format!("{}/.well-known/oauth-protected-resource/mcp", st.base),
    };
    if !valid {
        st.seen.mcp_unauthenticated += 1;
        st.seen.mcp_statuses.push(401);
        let mut challenge = format!("Bearer resource_metadata=\"{metadata_url}\"");
        if let Some(scope) = &st.faults.challenge_scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            "",
        )
            .into_response();
    }
    if let (Some(required), Some(token)) = (st.faults.required_scope.clone(), &token) {
        let granted = st.granted.get(token).cloned().unwrap_or_default();
        if !granted.split_whitespace().any(|s| s == required) {
            st.seen.mcp_statuses.push(403);
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{required}\", resource_metadata=\"{metadata_url}\""
            );
            return (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
                "",
            )
                .into_response();
        }
    }
    st.seen.mcp_statuses.push(200);
    Json(json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": []}})).into_response()
}

/// A client for the test's own requests. reqwest is built without a crypto provider of
/// its own (no aws-lc-rs), so the process installs ring first, as an application does.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A browser that must not be used: the test fails if authorization starts.
pub fn no_browser() -> BrowserMode {
    BrowserMode::Custom(Arc::new(|_| panic!("the browser was opened")))
}

/// A browser that follows the redirects to the callback server, like a user's would.
pub fn real_browser() -> BrowserMode {
    BrowserMode::Custom(Arc::new(|url| {
        let url = url.clone();
        tokio::spawn(async move {
            let _ = http_client().get(url).send().await;
        });
        Ok(())
    }))
}

pub fn client(server: &Server, store: &Arc<MemoryStore>, browser: BrowserMode) -> OAuth {
    OAuth::builder(server.mcp_url())
        .token_storage(store.clone())
        .browser(browser)
        .callback_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub async fn call(oauth: &OAuth, server: &Server) -> reqwest::StatusCode {
    let http = reqwest_middleware::ClientBuilder::new(http_client())
        .with(oauth.clone())
        .build();
    http.post(server.mcp_url())
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .status()
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A store holding the tokens of one login to `server` (without a browser).
pub async fn logged_in(server: &Server) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    client(server, &store, BrowserMode::FetchRedirect)
        .access_token()
        .await
        .unwrap();
    store
}

/// The tokens entry in the store, as oauth-core keeps it.
pub async fn stored_tokens(store: &dyn AsyncKeyValue, server: &Server) -> Option<JsonObject> {
    store
        .get(
            &format!("{}/tokens", server.mcp_url()),
            Some(oauth_core::TOKEN_COLLECTION),
        )
        .await
        .unwrap()
}

pub async fn expire_stored_token(store: &MemoryStore, server: &Server) {
    set_stored_expiry(store, server, -10.0).await;
}

/// Makes the stored access token expire `from_now` seconds from now.
pub async fn set_stored_expiry(store: &MemoryStore, server: &Server, from_now: f64) {
    let mut expiry = JsonObject::new();
    expiry.insert("expires_at".into(), json!(now() + from_now));
    store
        .put(
            &format!("{}/token_expiry", server.mcp_url()),
            expiry,
            None,
            Some(oauth_core::EXPIRY_COLLECTION),
        )
        .await
        .unwrap();
}
