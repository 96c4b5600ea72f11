//! rmcp's client over `OAuthHttpClient` against the in-process demo server (real rmcp,
//! real HTTP over loopback, real oauth-core).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use key_value_core::AsyncKeyValue;
use key_value_memory::MemoryStore;
use mcp_demo_server::{DemoServer, collections};
use oauth_core::layout::StoredEntry;
use oauth_core::{BrowserMode, OAuth};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::json;

struct Demo {
    server: DemoServer,
    events: Arc<Mutex<Vec<String>>>,
    /// The server's own state (clients, codes, tokens).
    server_store: Arc<dyn AsyncKeyValue>,
}

impl Demo {
    async fn start(lifetime: Duration) -> Demo {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let server_store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
        let server = DemoServer::builder()
            .access_token_lifetime(lifetime)
            .state_store(server_store.clone())
            .on_event(move |e| sink.lock().unwrap().push(e.to_string()))
            .start()
            .await
            .unwrap();
        Demo {
            server,
            events,
            server_store,
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains(needle))
            .count()
    }

    fn oauth(&self, store: Arc<dyn AsyncKeyValue>) -> oauth_core::OAuthBuilder {
        OAuth::builder(self.server.mcp_url())
            .client_name("oauth-core-rmcp test")
            .browser(BrowserMode::FetchRedirect)
            .token_storage(store)
    }
}

async fn connect(oauth: OAuth) -> RunningService<RoleClient, ()> {
    ().serve(oauth_core_rmcp::transport(oauth).unwrap())
        .await
        .unwrap()
}

fn text(result: &CallToolResult) -> String {
    let value = serde_json::to_value(&result.content).unwrap();
    value[0]["text"].as_str().unwrap().to_string()
}

async fn add(client: &RunningService<RoleClient, ()>, a: i64, b: i64) -> String {
    let arguments = json!({"a": a, "b": b}).as_object().cloned().unwrap();
    let result = client
        .call_tool(CallToolRequestParams::new("add").with_arguments(arguments))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true));
    text(&result)
}

async fn stored_access_token(store: &Arc<dyn AsyncKeyValue>, server: &str) -> String {
    let tokens = store
        .get(
            &StoredEntry::Tokens.key(server),
            Some(StoredEntry::Tokens.collection()),
        )
        .await
        .unwrap()
        .expect("a token in FastMCP's layout");
    tokens["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_calls_tools_with_oauth_core_tokens() {
    let demo = Demo::start(Duration::from_secs(3600)).await;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    let client = connect(demo.oauth(store.clone()).build().unwrap()).await;

    let info = client.peer_info().expect("the server's initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("key-value-rs demo")
    );
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "whoami"]);
    assert_eq!(add(&client, 2, 3).await, "5");
    let whoami = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(text(&whoami).contains("mcp:tools"), "{}", text(&whoami));

    // One login, and its token where FastMCP keeps it.
    assert_eq!(demo.count("exchanged a code"), 1);
    assert!(demo.count("MCP tools/call") >= 2);
    let server = demo.server.mcp_url().trim_end_matches('/');
    assert!(!stored_access_token(&store, server).await.is_empty());
    client.cancel().await.unwrap();

    // A second client on the same store reuses the login: no new authorization.
    let again = connect(demo.oauth(store.clone()).build().unwrap()).await;
    assert_eq!(add(&again, 40, 2).await, "42");
    assert_eq!(demo.count("exchanged a code"), 1);
    again.cancel().await.unwrap();
    demo.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_session_is_refreshed_and_the_session_goes_on() {
    // Connecting and the first call must end before the renewal, 3.6 s in (the last
    // tenth of the lifetime), on a loaded machine too.
    let demo = Demo::start(Duration::from_secs(4)).await;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    let server = demo.server.mcp_url().trim_end_matches('/').to_string();
    let client = connect(demo.oauth(store.clone()).build().unwrap()).await;
    assert_eq!(add(&client, 1, 1).await, "2");
    let first = stored_access_token(&store, &server).await;

    // Past the token's lifetime: the server would refuse it now.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(add(&client, 2, 2).await, "4");
    let second = stored_access_token(&store, &server).await;
    assert_ne!(first, second, "the token was renewed and stored");
    assert!(
        demo.count("refreshed") >= 1,
        "renewed with the refresh token"
    );
    assert_eq!(demo.count("exchanged a code"), 1, "no second login");
    assert_eq!(
        demo.count("MCP request with a bad token"),
        0,
        "renewed before sending, not after a refusal"
    );
    client.cancel().await.unwrap();
    demo.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_server_revoked_is_renewed_after_the_401_and_the_call_retried() {
    let demo = Demo::start(Duration::from_secs(3600)).await;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    let client = connect(demo.oauth(store.clone()).build().unwrap()).await;
    assert_eq!(add(&client, 1, 2).await, "3");

    // The server forgets every access token it issued; the client's is still unexpired.
    assert!(
        demo.server_store
            .destroy_collection(collections::ACCESS_TOKENS)
            .await
            .unwrap()
    );
    assert_eq!(add(&client, 3, 4).await, "7");
    assert_eq!(demo.count("MCP request with a bad token"), 1, "one 401");
    assert_eq!(demo.count("refreshed"), 1, "answered with one refresh");
    assert_eq!(demo.count("exchanged a code"), 1, "no second login");
    client.cancel().await.unwrap();
    demo.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_for_scope_steps_up_and_the_call_goes_through() {
    let demo = Demo::start(Duration::from_secs(3600)).await;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    // Too little scope on purpose: the MCP endpoint needs `mcp:tools`.
    let oauth = demo
        .oauth(store.clone())
        .scopes(["offline_access"])
        .build()
        .unwrap();
    let client = connect(oauth).await;
    assert_eq!(add(&client, 5, 5).await, "10");
    assert!(demo.count("too little scope") >= 1, "a 403 was answered");
    assert_eq!(
        demo.count("exchanged a code"),
        2,
        "the first login, then the step-up"
    );
    let whoami = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert!(text(&whoami).contains("mcp:tools"), "{}", text(&whoami));
    client.cancel().await.unwrap();
    demo.server.shutdown().await;
}

#[tokio::test]
async fn when_oauth_core_cannot_get_a_token_rmcp_gets_an_auth_error() {
    use rmcp::transport::auth::AuthError;
    use rmcp::transport::streamable_http_client::{StreamableHttpClient, StreamableHttpError};

    let _ = rustls::crypto::ring::default_provider().install_default();
    // Nothing listens on port 1: discovery fails.
    let url = "http://127.0.0.1:1/mcp";
    let oauth = OAuth::builder(url)
        .client_secret("s3cret-value")
        .client_id("c")
        .browser(BrowserMode::FetchRedirect)
        .build()
        .unwrap();
    let client = oauth_core_rmcp::OAuthHttpClient::new(oauth).unwrap();
    assert!(!format!("{client:?}").contains("s3cret-value"));
    let ping =
        serde_json::from_value(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).unwrap();
    let error = client
        .post_message(url.into(), ping, None, None, Default::default())
        .await
        .unwrap_err();
    match error {
        StreamableHttpError::Auth(AuthError::AuthorizationFailed(message)) => {
            assert!(message.contains("127.0.0.1:1"), "{message}");
            assert!(!message.contains("s3cret-value"));
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
}

/// reqwest's rmcp client, except that the first POST is answered with a bare 401 (no
/// `WWW-Authenticate`), as some servers and proxies do.
#[derive(Clone)]
struct BareUnauthorizedOnce {
    inner: reqwest::Client,
    refused: Arc<std::sync::atomic::AtomicBool>,
    tokens: Arc<Mutex<Vec<Option<String>>>>,
}

impl rmcp::transport::streamable_http_client::StreamableHttpClient for BareUnauthorizedOnce {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: rmcp::model::ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: std::collections::HashMap<
            reqwest::header::HeaderName,
            reqwest::header::HeaderValue,
        >,
    ) -> Result<
        rmcp::transport::streamable_http_client::StreamableHttpPostResponse,
        rmcp::transport::streamable_http_client::StreamableHttpError<Self::Error>,
    > {
        use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};
        self.tokens.lock().unwrap().push(auth_header.clone());
        if !self.refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(StreamableHttpError::HttpStatus(HttpStatusError::new(
                401, None,
            )));
        }
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: std::collections::HashMap<
            reqwest::header::HeaderName,
            reqwest::header::HeaderValue,
        >,
    ) -> Result<(), rmcp::transport::streamable_http_client::StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: std::collections::HashMap<
            reqwest::header::HeaderName,
            reqwest::header::HeaderValue,
        >,
    ) -> Result<
        rmcp::transport::common::client_side_sse::BoxedSseResponse,
        rmcp::transport::streamable_http_client::StreamableHttpError<Self::Error>,
    > {
        self.inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_without_a_challenge_is_retried_once_with_a_renewed_token() {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let demo = Demo::start(Duration::from_secs(3600)).await;
    let store: Arc<dyn AsyncKeyValue> = Arc::new(MemoryStore::new());
    let oauth = demo.oauth(store).build().unwrap();
    // Logged in before the session starts, so the refused token is a real one.
    let before = oauth.access_token().await.unwrap();
    let inner = BareUnauthorizedOnce {
        inner: oauth_core::http_client_builder().unwrap().build().unwrap(),
        refused: Default::default(),
        tokens: Default::default(),
    };
    let tokens = inner.tokens.clone();
    let transport = StreamableHttpClientTransport::with_client(
        oauth_core_rmcp::OAuthHttpClient::with_client(inner, oauth),
        StreamableHttpClientTransportConfig::with_uri(demo.server.mcp_url()),
    );
    let client = ().serve(transport).await.unwrap();
    assert_eq!(add(&client, 20, 22).await, "42");
    {
        let tokens = tokens.lock().unwrap();
        use oauth_core::ExposeSecret;
        assert_eq!(tokens[0].as_deref(), Some(before.expose_secret()));
        assert!(tokens[1].is_some());
        assert_ne!(tokens[1], tokens[0], "retried with a renewed token");
    }
    assert_eq!(demo.count("refreshed"), 1);
    assert_eq!(demo.count("exchanged a code"), 1);
    client.cancel().await.unwrap();
    demo.server.shutdown().await;
}
