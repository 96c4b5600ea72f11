//! The test authorization server and protected MCP endpoint (axum, loopback HTTP) that
//! the integration tests share, with faults that can be switched on per test, and the
//! helpers the tests use around it.
// Not every test binary uses every item.
#![allow(dead_code, unreachable_pub)]
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
            .route("/register", post(register))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/mcp", post(mcp))
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

    pub fn next(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("{prefix}-{n}-SECRETVALUE")
    }
}

pub async fn prm(State(s): State<Server>) -> Json<Value> {
    let st = s.state.lock().unwrap();
    let issuer = st.prm_issuer.clone().unwrap_or_else(|| st.base.clone());
    Json(json!({
        "resource": format!("{}/mcp", st.base),
        "authorization_servers": [issuer],
        "scopes_supported": ["mcp"],
    }))
}

pub async fn as_metadata(State(s): State<Server>) -> Response {
    let st = s.state.lock().unwrap();
    if let Some(body) = &st.as_metadata_body {
        return ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
    }
    let b = &st.base;
    let mut metadata = json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "registration_endpoint": format!("{b}/register"),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["mcp", "offline_access"],
    });
    if st.revocation {
        metadata["revocation_endpoint"] = json!(format!("{b}/revoke"));
    }
    Json(metadata).into_response()
}

pub async fn register(
    State(s): State<Server>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    s.registrations.fetch_add(1, Ordering::SeqCst);
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
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let known = s.state.lock().unwrap().clients.contains(&client_id);
    if !known {
        // As real servers do: an error for the person, no redirect.
        if s.state.lock().unwrap().unknown_client_json {
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

pub fn issue(s: &Server) -> Json<Value> {
    let access = s.next("access");
    let refresh = s.next("refresh");
    let mut st = s.state.lock().unwrap();
    st.access.insert(access.clone());
    st.refresh.insert(refresh.clone());
    st.secrets.push(access.clone());
    st.secrets.push(refresh.clone());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": st.expires_in,
        "refresh_token": refresh,
        "scope": "mcp offline_access",
    }))
}

pub async fn token(State(s): State<Server>, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some((status, content_type, body)) = s.state.lock().unwrap().token_answer {
        return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    }
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if !s.state.lock().unwrap().clients.contains(&client_id) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let ok = s.state.lock().unwrap().codes.remove(&code) == Some(client_id);
            assert!(form.contains_key("code_verifier"));
            if !ok {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            issue(&s).into_response()
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
            issue(&s).into_response()
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
    let valid = token.is_some_and(|t| s.state.lock().unwrap().access.contains(&t));
    if !valid {
        let challenge = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            s.base()
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            "",
        )
            .into_response();
    }
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
