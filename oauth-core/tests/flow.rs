//! End-to-end tests over loopback HTTP: a small authorization server and protected MCP
//! endpoint (axum) in the test process, and the real client, callback server and store.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::auth_server::*;

#[tokio::test]
async fn tokens_survive_a_restart_and_refresh_when_expired() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());

    let first = client(&server, &store, real_browser());
    assert_eq!(call(&first, &server).await, 200);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
    assert_eq!(server.registrations.load(Ordering::SeqCst), 1);

    // The FastMCP layout.
    let key = server.mcp_url();
    let tokens = store
        .get(&format!("{key}/tokens"), Some("mcp-oauth-token"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokens["access_token"]
            .as_str()
            .unwrap()
            .starts_with("access-")
    );
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let expiry = store
        .get(
            &format!("{key}/token_expiry"),
            Some("mcp-oauth-token-expiry"),
        )
        .await
        .unwrap()
        .unwrap();
    let at = expiry["expires_at"].as_f64().unwrap();
    assert!(
        (at - (now() + 3600.0)).abs() < 60.0,
        "absolute expiry: {at}"
    );
    let info = store
        .get(&format!("{key}/client_info"), Some("mcp-oauth-client-info"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info["issuer"], json!(server.base()));
    let (_, ttl) = store
        .ttl(&format!("{key}/tokens"), Some("mcp-oauth-token"))
        .await
        .unwrap()
        .unwrap();
    assert!(ttl.unwrap() > Duration::from_secs(364 * 24 * 3600));

    // A new client on the same store: no browser, no request to the server's AS.
    let second = client(&server, &store, no_browser());
    assert_eq!(call(&second, &server).await, 200);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 0);

    // Expired in the store: the next client refreshes, without a browser.
    expire_stored_token(&store, &server).await;
    let third = client(&server, &store, no_browser());
    assert_eq!(call(&third, &server).await, 200);
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_cause_one_refresh() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    expire_stored_token(&store, &server).await;

    let oauth = client(&server, &store, no_browser());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let oauth = oauth.clone();
            tokio::spawn(async move {
                oauth
                    .access_token()
                    .await
                    .unwrap()
                    .expose_secret()
                    .to_string()
            })
        })
        .collect();
    let mut tokens = HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap());
    }
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(tokens.len(), 1, "every caller got the one refreshed token");
}

#[tokio::test]
async fn tokens_renewed_by_another_client_on_the_store_are_picked_up() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    // Tokens that expire a second after they are issued.
    server.set(|st| st.expires_in = 1);
    let first = client(&server, &store, BrowserMode::FetchRedirect);
    first.access_token().await.unwrap();
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Another process on the same store renews them, which spends (rotates) the refresh
    // token the first client still holds in memory.
    server.set(|st| st.expires_in = 3600);
    let second = client(&server, &store, no_browser());
    let renewed = second.access_token().await.unwrap();
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);

    // The first client takes the renewed tokens from the store: no refresh with its
    // spent token, no new authorization.
    let token = first.access_token().await.unwrap();
    assert_eq!(token.expose_secret(), renewed.expose_secret());
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_means_authorizing_again() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    server.set(|st| st.refresh.clear());
    expire_stored_token(&store, &server).await;
    let oauth = client(&server, &store, BrowserMode::FetchRedirect);
    oauth.access_token().await.unwrap();
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 2);
}

/// Points the stored authorization server's token endpoint at a closed port.
async fn kill_stored_token_endpoint(store: &MemoryStore, server: &Server) {
    let key = format!("{}/authorization_server", server.mcp_url());
    let mut stored = store
        .get(&key, Some(oauth_core::METADATA_COLLECTION))
        .await
        .unwrap()
        .unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!(
        "http://127.0.0.1:{}/token",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    stored["metadata"]["token_endpoint"] = json!(dead);
    store
        .put(&key, stored, None, Some(oauth_core::METADATA_COLLECTION))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_still_valid_token_is_handed_out_when_it_cannot_be_renewed() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    let before = stored_tokens(&*store, &server).await.unwrap()["access_token"].clone();
    // Inside the renewal margin, and the token endpoint is down: the token still has
    // 25 s, which the server accepts, so it is what the caller gets.
    set_stored_expiry(&store, &server, 25.0).await;
    kill_stored_token_endpoint(&store, &server).await;
    let token = client(&server, &store, no_browser())
        .access_token()
        .await
        .unwrap();
    assert_eq!(json!(token.expose_secret()), before);
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 0);

    // Once it has expired there is nothing left to hand out: the failure is reported.
    expire_stored_token(&store, &server).await;
    let err = client(&server, &store, no_browser())
        .access_token()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_still_valid_token_without_a_refresh_token_is_handed_out() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    let key = format!("{}/tokens", server.mcp_url());
    let mut tokens = stored_tokens(&*store, &server).await.unwrap();
    tokens.remove("refresh_token");
    let access = tokens["access_token"].clone();
    store
        .put(&key, tokens, None, Some(oauth_core::TOKEN_COLLECTION))
        .await
        .unwrap();
    set_stored_expiry(&store, &server, 20.0).await;
    let cached = client(&server, &store, no_browser())
        .cached_token()
        .await
        .unwrap();
    assert_eq!(cached.map(|t| json!(t.expose_secret())), Some(access));
}

#[tokio::test]
async fn a_network_error_during_refresh_keeps_the_tokens() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    expire_stored_token(&store, &server).await;
    kill_stored_token_endpoint(&store, &server).await;

    let err = client(&server, &store, no_browser())
        .access_token()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let tokens = stored_tokens(&*store, &server).await;
    assert!(tokens.unwrap().contains_key("refresh_token"), "tokens kept");
}

#[tokio::test]
async fn a_refresh_failure_that_is_no_oauth_refusal_keeps_the_tokens() {
    // A proxy's error page, an HTML page where JSON was expected, rate limiting: none
    // of them says the refresh token is bad.
    for (status, content_type, body, retryable) in [
        (
            StatusCode::BAD_GATEWAY,
            "text/html",
            "<h1>Bad gateway</h1>",
            true,
        ),
        (
            StatusCode::BAD_REQUEST,
            "text/html",
            "<h1>Blocked</h1>",
            false,
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            r#"{"error": "slow_down"}"#,
            true,
        ),
    ] {
        let server = Server::start().await;
        let store = logged_in(&server).await;
        expire_stored_token(&store, &server).await;
        server.set(|st| st.token_answer = Some((status, content_type, body)));

        let err = client(&server, &store, no_browser())
            .access_token()
            .await
            .unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "HTTP {status}: {err}");
        assert_eq!(
            server.authorizations.load(Ordering::SeqCst),
            1,
            "no new login"
        );
        let tokens = stored_tokens(&*store, &server).await;
        assert!(
            tokens.is_some_and(|t| t.contains_key("refresh_token")),
            "HTTP {status}: tokens kept"
        );
    }
}

#[tokio::test]
async fn login_replaces_the_tokens_only_when_it_succeeds() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    let oauth = client(&server, &store, real_browser());
    let first = oauth.access_token().await.unwrap();
    let stored =
        || async { stored_tokens(&*store, &server).await.unwrap()["access_token"].clone() };
    server.set(|st| st.consent = Some(Consent::Deny));
    assert!(matches!(oauth.login().await, Err(Error::Denied { .. })));
    assert_eq!(stored().await, json!(first.expose_secret()), "kept");
    assert_eq!(
        oauth.access_token().await.unwrap().expose_secret(),
        first.expose_secret()
    );

    server.set(|st| st.consent = Some(Consent::Approve));
    let second = oauth.login().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(stored().await, json!(second.expose_secret()), "replaced");
}

/// A store whose writes fail on demand: a full disk or a read-only replica, which
/// the real stores cannot be made to be from a test running as any user.
struct FailingWrites {
    inner: MemoryStore,
    fail: std::sync::atomic::AtomicBool,
}

#[key_value_core::async_trait]
impl key_value_core::Backend for FailingWrites {
    fn name(&self) -> &str {
        "failing-writes"
    }

    async fn read(
        &self,
        collection: &str,
        key: &str,
    ) -> key_value_core::Result<Option<key_value_core::Entry>> {
        key_value_core::Backend::read(&self.inner, collection, key).await
    }

    async fn write(
        &self,
        collection: &str,
        key: &str,
        entry: key_value_core::Entry,
    ) -> key_value_core::Result<()> {
        // Only the tokens: the rest of the flow (metadata, registration) goes on.
        if self.fail.load(Ordering::SeqCst) && collection == oauth_core::TOKEN_COLLECTION {
            return Err(key_value_core::Error::new(
                key_value_core::ErrorKind::Connection,
                "writes are failing",
            ));
        }
        key_value_core::Backend::write(&self.inner, collection, key, entry).await
    }

    async fn remove(&self, collection: &str, key: &str) -> key_value_core::Result<bool> {
        key_value_core::Backend::remove(&self.inner, collection, key).await
    }
}

#[tokio::test]
async fn tokens_that_cannot_be_stored_are_reported_and_kept_in_memory() {
    let server = Server::start().await;
    let store = Arc::new(FailingWrites {
        inner: MemoryStore::new(),
        fail: std::sync::atomic::AtomicBool::new(false),
    });
    let oauth = OAuth::builder(server.mcp_url())
        .token_storage(store.clone())
        .browser(BrowserMode::FetchRedirect)
        .build()
        .unwrap();
    let first = oauth.access_token().await.unwrap();
    store.fail.store(true, Ordering::SeqCst);
    let err = oauth.login().await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err}");
    // The new tokens are the current ones in this process all the same: the refresh
    // token they replaced may already be spent.
    let current = oauth.access_token().await.unwrap();
    assert_ne!(current.expose_secret(), first.expose_secret());
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_login_keeps_the_registration_the_tokens_belong_to() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    client(&server, &store, real_browser())
        .access_token()
        .await
        .unwrap();
    let client_id = || async {
        store
            .get(
                &format!("{}/client_info", server.mcp_url()),
                Some(oauth_core::CLIENT_COLLECTION),
            )
            .await
            .unwrap()
            .unwrap()["client_id"]
            .clone()
    };
    let before = client_id().await;
    // Another callback port makes the next login register a new client; the login
    // is then refused.
    let other_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    server.set(|st| st.consent = Some(Consent::Deny));
    let oauth = OAuth::builder(server.mcp_url())
        .token_storage(store.clone())
        .browser(real_browser())
        .callback_port(other_port)
        .build()
        .unwrap();
    assert!(matches!(oauth.login().await, Err(Error::Denied { .. })));
    assert_eq!(
        server.registrations.load(Ordering::SeqCst),
        2,
        "a new client was registered"
    );
    assert_eq!(
        client_id().await,
        before,
        "the stored registration is the old one again"
    );
}

#[tokio::test]
async fn revoke_asks_the_server_then_forgets_the_tokens() {
    let server = Server::start().await;
    server.set(|st| st.revocation = true);
    let store = Arc::new(MemoryStore::new());
    let oauth = client(&server, &store, BrowserMode::FetchRedirect);
    assert_eq!(call(&oauth, &server).await, 200);
    let stored = stored_tokens(&*store, &server).await.unwrap();
    let access = stored["access_token"].as_str().unwrap().to_string();
    let refresh = stored["refresh_token"].as_str().unwrap().to_string();

    // A new client on the same store, as `mcp-auth logout` is.
    let later = client(&server, &store, no_browser());
    assert_eq!(
        later.revoke().await.unwrap(),
        oauth_core::Revocation::Revoked
    );
    let revoked = server.state.lock().unwrap().revoked.clone();
    assert_eq!(
        revoked,
        [
            (refresh, "refresh_token".to_string()),
            (access.clone(), "access_token".to_string())
        ]
    );
    // The server no longer accepts the access token, and nothing is stored.
    let status = http_client()
        .post(server.mcp_url())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let tokens = stored_tokens(&*store, &server).await;
    assert!(tokens.is_none());
    assert_eq!(
        later.revoke().await.unwrap(),
        oauth_core::Revocation::NothingStored
    );
}

#[tokio::test]
async fn revoke_without_a_revocation_endpoint_only_forgets() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    let oauth = client(&server, &store, BrowserMode::FetchRedirect);
    assert_eq!(
        oauth.revoke().await.unwrap(),
        oauth_core::Revocation::NotOffered
    );
    assert!(server.state.lock().unwrap().revoked.is_empty());
    assert!(stored_tokens(&*store, &server).await.is_none());
}

#[tokio::test]
async fn revoke_reports_a_server_that_cannot_revoke_access_tokens() {
    let server = Server::start().await;
    server.set(|st| {
        st.revocation = true;
        st.revoke_access_answer = Some((
            StatusCode::BAD_REQUEST,
            r#"{"error": "unsupported_token_type"}"#,
        ));
    });
    let store = logged_in(&server).await;
    let oauth = client(&server, &store, BrowserMode::FetchRedirect);
    assert_eq!(
        oauth.revoke().await.unwrap(),
        oauth_core::Revocation::RefreshTokenOnly
    );
    assert!(stored_tokens(&*store, &server).await.is_none());
}

#[tokio::test]
async fn a_failed_revocation_keeps_the_tokens() {
    let server = Server::start().await;
    server.set(|st| {
        st.revocation = true;
        st.revoke_access_answer = Some((StatusCode::SERVICE_UNAVAILABLE, "{}"));
    });
    let store = logged_in(&server).await;
    let oauth = client(&server, &store, BrowserMode::FetchRedirect);
    let err = oauth.revoke().await.unwrap_err();
    assert!(
        matches!(err, Error::Revocation { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(stored_tokens(&*store, &server).await.is_some(), "kept");
}

#[tokio::test]
async fn denied_consent_is_reported() {
    let server = Server::start().await;
    server.set(|st| st.consent = Some(Consent::Deny));
    let store = Arc::new(MemoryStore::new());
    let err = client(&server, &store, real_browser())
        .access_token()
        .await
        .unwrap_err();
    match err {
        Error::Denied { error, description } => {
            assert_eq!(error, oauth_core::ErrorCode::AccessDenied);
            assert_eq!(description.as_deref(), Some("no<b>"));
        }
        other => panic!("expected Denied, got {other}"),
    }
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    let server = Server::start().await;
    server.set(|st| st.consent = Some(Consent::WrongState));
    let oauth = OAuth::builder(server.mcp_url())
        .token_storage(Arc::new(MemoryStore::new()))
        .browser(real_browser())
        // The login waits all of it (the refused callback does not end it); the browser's
        // requests must arrive within it on a loaded machine too.
        .callback_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let err = oauth.access_token().await.unwrap_err();
    // The callback server turned the response away and went on waiting.
    assert!(
        matches!(err, Error::InvalidResponse(ref m) if m.contains("with another state were refused")),
        "{err}"
    );
    // The redirect-reading mode checks the state too.
    let err = client(
        &server,
        &Arc::new(MemoryStore::new()),
        BrowserMode::FetchRedirect,
    )
    .access_token()
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(ref m) if m.contains("state")),
        "{err}"
    );
}

#[tokio::test]
async fn a_forged_callback_does_not_end_the_login() {
    let server = Server::start().await;
    let forged_status = Arc::new(Mutex::new(None));
    let seen = forged_status.clone();
    // Something else reaches the callback first; then the person's browser arrives.
    let browser = BrowserMode::Custom(Arc::new(move |url| {
        let url = url.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let redirect = url
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            let forged = http_client()
                .get(format!("{redirect}?code=stolen&state=forged"))
                .send()
                .await
                .unwrap();
            *seen.lock().unwrap() = Some(forged.status());
            let _ = http_client().get(url).send().await;
        });
        Ok(())
    }));
    let store = Arc::new(MemoryStore::new());
    client(&server, &store, browser)
        .access_token()
        .await
        .unwrap();
    assert_eq!(
        *forged_status.lock().unwrap(),
        Some(reqwest::StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn a_taken_callback_port_is_named() {
    let server = Server::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let oauth = OAuth::builder(server.mcp_url())
        .callback_host("127.0.0.1")
        .callback_port(port)
        .browser(no_browser())
        .build()
        .unwrap();
    let err = oauth.access_token().await.unwrap_err();
    assert!(
        matches!(err, Error::PortInUse { port: p, .. } if p == port),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()));
}

#[tokio::test]
async fn no_callback_in_time_is_a_timeout() {
    let server = Server::start().await;
    let oauth = OAuth::builder(server.mcp_url())
        .browser(BrowserMode::Custom(Arc::new(|_| Ok(()))))
        .callback_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = oauth.access_token().await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
}

#[tokio::test]
async fn a_stale_registration_is_redone_once() {
    // With a browser the person would see the server's error page and the login would
    // wait for the timeout: the client must find out before handing off.
    for (mode, browser, json_answer) in [
        (
            "redirect-reading, HTML answer",
            BrowserMode::FetchRedirect,
            false,
        ),
        (
            "redirect-reading, JSON answer",
            BrowserMode::FetchRedirect,
            true,
        ),
        ("browser, HTML answer", real_browser(), false),
        ("browser, JSON answer", real_browser(), true),
    ] {
        let server = Server::start().await;
        server.set(|st| st.unknown_client_json = json_answer);
        let store = Arc::new(MemoryStore::new());
        let oauth = client(&server, &store, browser.clone());
        oauth.access_token().await.unwrap();
        // The server forgets every client; the stored tokens are gone too.
        server.set(|st| st.clients.clear());
        oauth.clear_tokens().await.unwrap();
        let fresh = client(&server, &store, browser);
        fresh
            .access_token()
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(server.registrations.load(Ordering::SeqCst), 2, "{mode}");
    }
}

#[tokio::test]
async fn a_plain_http_remote_authorization_server_is_refused() {
    let server = Server::start().await;
    server.set(|st| st.prm_issuer = Some("http://auth.example.com".into()));
    let err = client(&server, &Arc::new(MemoryStore::new()), no_browser())
        .access_token()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Insecure { .. }), "{err}");
}

#[tokio::test]
async fn oversized_and_malformed_metadata_are_refused() {
    let server = Server::start().await;
    let huge = format!(
        "{{\"issuer\": \"{}\", \"pad\": \"{}\"}}",
        server.base(),
        "x".repeat(400_000)
    );
    server.set(|st| st.as_metadata_body = Some(huge));
    let err = client(&server, &Arc::new(MemoryStore::new()), no_browser())
        .access_token()
        .await
        .unwrap_err();
    // Skipped as unusable, like every other location; the error names each one.
    assert!(matches!(err, Error::MetadataNotFound { .. }), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");

    server.set(|st| st.as_metadata_body = Some("{not json".into()));
    let err = client(&server, &Arc::new(MemoryStore::new()), no_browser())
        .access_token()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    server.set(|st| st.as_metadata_body = Some("[1, 2]".into()));
    let err = client(&server, &Arc::new(MemoryStore::new()), no_browser())
        .access_token()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not an object"), "{err}");
}

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_debug_output() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    let oauth = client(&server, &store, real_browser());
    assert_eq!(call(&oauth, &server).await, 200);
    expire_stored_token(&store, &server).await;
    let again = client(&server, &store, no_browser());
    assert_eq!(call(&again, &server).await, 200);
    let debug = format!(
        "{oauth:?} {again:?} {:?}",
        again.access_token().await.unwrap()
    );

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("token received"),
        "the flow was logged:\n{logs}"
    );
    let secrets = server.state.lock().unwrap().secrets.clone();
    assert!(
        secrets.len() >= 5,
        "codes, access and refresh tokens were issued"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "`{secret}` appears in the logs"
        );
        assert!(
            !debug.contains(secret.as_str()),
            "`{secret}` appears in Debug output"
        );
    }
    assert!(!logs.contains("SECRETVALUE"));
}
