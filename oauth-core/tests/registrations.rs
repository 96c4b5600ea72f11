//! Forgotten registrations: an authorization server that restarted and forgot its
//! dynamic registrations costs the user at most one failed login, whatever status it
//! answers with, and finding out starts no authorization at the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::auth_server::*;

/// A browser that follows the redirects like a person's would, and records the
/// `client_id` of every authorization URL it was sent to.
fn recording_browser(opened: &Arc<Mutex<Vec<String>>>) -> BrowserMode {
    let opened = opened.clone();
    BrowserMode::Custom(Arc::new(move |url| {
        let client_id = url
            .query_pairs()
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        opened.lock().unwrap().push(client_id);
        let url = url.clone();
        tokio::spawn(async move {
            let _ = http_client().get(url).send().await;
        });
        Ok(())
    }))
}

fn oauth(server: &Server, store: &Arc<MemoryStore>, browser: BrowserMode) -> OAuth {
    OAuth::builder(server.mcp_url())
        .token_storage(store.clone())
        .browser(browser)
        // Cases without a callback wait all of it; a login that gets one must end
        // within it on a loaded machine too.
        .callback_timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

async fn stored_client_id(store: &MemoryStore, server: &Server) -> Option<String> {
    store
        .get(
            &format!("{}/client_info", server.mcp_url()),
            Some(oauth_core::CLIENT_COLLECTION),
        )
        .await
        .unwrap()
        .and_then(|c| {
            c.get("client_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// Logs in once (registering a client), then the server forgets every registration
/// and the tokens are gone: the next login starts with the stored, dead registration.
async fn forgotten_after_login(
    server: &Server,
    opened: &Arc<Mutex<Vec<String>>>,
) -> (Arc<MemoryStore>, String) {
    let store = Arc::new(MemoryStore::new());
    let first = oauth(server, &store, recording_browser(opened));
    first.access_token().await.unwrap();
    let dead = stored_client_id(&store, server).await.unwrap();
    server.set(|st| st.clients.clear());
    first.clear_tokens().await.unwrap();
    (store, dead)
}

/// Every answer of /authorize to an unknown client that real servers give.
const AUTHORIZE_ANSWERS: [(&str, StatusCode, &str, &str); 4] = [
    (
        "400 HTML",
        StatusCode::BAD_REQUEST,
        "text/html",
        "<h1>Unknown client</h1>",
    ),
    (
        "401 JSON",
        StatusCode::UNAUTHORIZED,
        "application/json",
        r#"{"error": "invalid_client"}"#,
    ),
    (
        "404 HTML",
        StatusCode::NOT_FOUND,
        "text/html",
        "<h1>Not found</h1>",
    ),
    (
        "200 HTML error page",
        StatusCode::OK,
        "text/html",
        "<h1>Error: this application is not registered</h1>",
    ),
];

#[tokio::test]
async fn a_forgotten_registration_is_found_before_the_browser_whatever_the_status() {
    let token_answers = [
        ("token 400", StatusCode::BAD_REQUEST),
        ("token 401", StatusCode::UNAUTHORIZED),
    ];
    for (authorize_case, status, content_type, body) in AUTHORIZE_ANSWERS {
        for (token_case, token_status) in token_answers {
            let case = format!("{authorize_case}, {token_case}");
            let server = Server::start().await;
            server.fault(|f| {
                f.unknown_client_authorize = Some((status, content_type, body));
                f.unknown_client_token = Some((token_status, r#"{"error": "invalid_client"}"#));
            });
            let opened = Arc::new(Mutex::new(Vec::new()));
            let (store, dead) = forgotten_after_login(&server, &opened).await;

            let result = oauth(&server, &store, recording_browser(&opened))
                .access_token()
                .await;
            assert!(result.is_ok(), "{case}: the user saw {:?}", result.err());

            let seen = server.seen();
            assert_eq!(
                server.registrations.load(Ordering::SeqCst),
                2,
                "{case}: registered again once"
            );
            assert!(
                seen.authorize_unknown.is_empty(),
                "{case}: the dead client reached /authorize: {:?}",
                seen.authorize_unknown
            );
            let opened = opened.lock().unwrap().clone();
            assert_eq!(opened.len(), 2, "{case}: one browser per login: {opened:?}");
            assert_ne!(opened[1], dead, "{case}: the browser got the dead client");
            let checks: Vec<_> = seen
                .token_requests
                .iter()
                .filter(|(_, id, known)| *id == dead && !known)
                .collect();
            assert_eq!(checks.len(), 1, "{case}: one check of the dead client");
            assert_eq!(checks[0].0, "authorization_code", "{case}");
            assert_eq!(
                server.authorizations.load(Ordering::SeqCst),
                2,
                "{case}: no authorization started for the check"
            );
            assert!(
                server.state.lock().unwrap().codes.is_empty(),
                "{case}: every authorization started was finished"
            );
            assert_eq!(
                stored_client_id(&store, &server).await.as_deref(),
                Some(opened[1].as_str()),
                "{case}: the new registration is stored"
            );
        }
    }
}

#[tokio::test]
async fn a_known_registration_is_reused_after_one_side_effect_free_check() {
    let server = Server::start().await;
    let opened = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::new(MemoryStore::new());
    let first = oauth(&server, &store, recording_browser(&opened));
    first.access_token().await.unwrap();
    first.clear_tokens().await.unwrap();
    let id = stored_client_id(&store, &server).await.unwrap();

    oauth(&server, &store, recording_browser(&opened))
        .access_token()
        .await
        .unwrap();

    assert_eq!(server.registrations.load(Ordering::SeqCst), 1);
    assert_eq!(*opened.lock().unwrap(), vec![id.clone(), id.clone()]);
    let seen = server.seen();
    // The first login's exchange, the check (refused as invalid_grant), the exchange.
    assert_eq!(seen.token_requests.len(), 3, "{:?}", seen.token_requests);
    assert!(
        seen.token_requests
            .iter()
            .all(|(grant, client, known)| grant == "authorization_code" && *client == id && *known)
    );
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 2);
    assert!(server.state.lock().unwrap().codes.is_empty());
}

#[tokio::test]
async fn an_inconclusive_check_costs_at_most_one_failed_login() {
    // Servers that look at the code before the client (invalid_grant for an unknown
    // client), or fail at the token endpoint: the check says nothing, the browser opens
    // with the dead client, the login fails, and the next one registers anew.
    let token_answers = [
        (
            "invalid_grant",
            StatusCode::BAD_REQUEST,
            r#"{"error": "invalid_grant"}"#,
        ),
        (
            "500 page",
            StatusCode::INTERNAL_SERVER_ERROR,
            "<h1>oops</h1>",
        ),
    ];
    for (authorize_case, status, content_type, body) in AUTHORIZE_ANSWERS {
        for (token_case, token_status, token_body) in token_answers {
            let case = format!("{authorize_case}, {token_case}");
            let server = Server::start().await;
            server.fault(|f| {
                f.unknown_client_authorize = Some((status, content_type, body));
                f.unknown_client_token = Some((token_status, token_body));
            });
            let opened = Arc::new(Mutex::new(Vec::new()));
            let (store, dead) = forgotten_after_login(&server, &opened).await;

            let failed = oauth(&server, &store, recording_browser(&opened))
                .access_token()
                .await;
            assert!(
                matches!(failed, Err(Error::Timeout(_))),
                "{case}: the user saw {failed:?}"
            );
            let retried = oauth(&server, &store, recording_browser(&opened))
                .access_token()
                .await;
            assert!(retried.is_ok(), "{case}: the user saw {:?}", retried.err());

            let seen = server.seen();
            assert_eq!(
                seen.authorize_unknown,
                vec![dead.clone()],
                "{case}: the dead client reached /authorize once"
            );
            assert_eq!(server.registrations.load(Ordering::SeqCst), 2, "{case}");
            let opened = opened.lock().unwrap().clone();
            assert_eq!(opened.len(), 3, "{case}: {opened:?}");
            assert_eq!(opened[1], dead, "{case}");
            assert_ne!(
                opened[2], dead,
                "{case}: the second login used a new client"
            );
        }
    }
}

#[tokio::test]
async fn any_failed_login_with_a_stored_registration_makes_the_next_one_register_anew() {
    for case in [
        "error at the callback",
        "refused exchange",
        "no callback in time",
    ] {
        let server = Server::start().await;
        let opened = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(MemoryStore::new());
        oauth(&server, &store, recording_browser(&opened))
            .access_token()
            .await
            .unwrap();
        let id = stored_client_id(&store, &server).await.unwrap();
        let browser = match case {
            "error at the callback" => {
                server.set(|st| st.consent = Some(Consent::Deny));
                recording_browser(&opened)
            }
            "refused exchange" => {
                server.fault(|f| {
                    f.token_error = Some((
                        StatusCode::BAD_REQUEST,
                        r#"{"error": "invalid_grant"}"#.into(),
                    ));
                });
                recording_browser(&opened)
            }
            _ => BrowserMode::Custom(Arc::new(|_| Ok(()))),
        };
        let failed = oauth(&server, &store, browser).login().await;
        assert!(failed.is_err(), "{case}");
        assert_eq!(server.registrations.load(Ordering::SeqCst), 1, "{case}");
        // The stored tokens still renew with the registration they were issued to.
        server.set(|st| {
            st.consent = Some(Consent::Approve);
            st.faults.token_error = None;
        });
        expire_stored_token(&store, &server).await;
        let renewing = oauth(&server, &store, no_browser());
        renewing.access_token().await.unwrap();
        assert_eq!(server.refreshes.load(Ordering::SeqCst), 1, "{case}");
        assert_eq!(
            stored_client_id(&store, &server).await.as_deref(),
            Some(id.as_str()),
            "{case}"
        );
        // The next login does not send the person to the server with it again.
        let before = opened.lock().unwrap().len();
        oauth(&server, &store, recording_browser(&opened))
            .login()
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(server.registrations.load(Ordering::SeqCst), 2, "{case}");
        let opened = opened.lock().unwrap().clone();
        assert_eq!(opened.len(), before + 1, "{case}");
        assert_ne!(opened[before], id, "{case}");
        assert_ne!(
            stored_client_id(&store, &server).await.as_deref(),
            Some(id.as_str()),
            "{case}: the new registration replaced the old"
        );
    }
}

#[tokio::test]
async fn headless_logins_with_a_forgotten_registration_fail_at_most_once() {
    // Headless, the authorization request is the check: a server that does not know
    // the client starts nothing, and no person waits for a timeout.
    for (authorize_case, status, content_type, body) in AUTHORIZE_ANSWERS {
        let server = Server::start().await;
        server.fault(|f| f.unknown_client_authorize = Some((status, content_type, body)));
        let store = Arc::new(MemoryStore::new());
        let first = oauth(&server, &store, BrowserMode::FetchRedirect);
        first.access_token().await.unwrap();
        let dead = stored_client_id(&store, &server).await.unwrap();
        server.set(|st| st.clients.clear());
        first.clear_tokens().await.unwrap();

        let mut failures = 0;
        for _ in 0..2 {
            match oauth(&server, &store, BrowserMode::FetchRedirect)
                .access_token()
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    assert!(!matches!(e, Error::Timeout(_)), "{authorize_case}: {e}");
                    failures += 1;
                }
            }
        }
        let seen = server.seen();
        // HTTP 400 without a redirect (RFC 6749 §4.1.2.1) or `invalid_client` in the
        // answer: registered again within the same login.
        let retried_within = status == StatusCode::BAD_REQUEST || body.contains("invalid_client");
        assert_eq!(
            failures,
            usize::from(!retried_within),
            "{authorize_case}: failed logins"
        );
        assert_eq!(
            seen.authorize_unknown,
            vec![dead.clone()],
            "{authorize_case}"
        );
        assert_eq!(
            server.registrations.load(Ordering::SeqCst),
            2,
            "{authorize_case}"
        );
        assert!(
            !seen
                .token_requests
                .iter()
                .any(|(_, id, known)| *id == dead && !known),
            "{authorize_case}: no token request for the check"
        );
        assert!(
            server.state.lock().unwrap().codes.is_empty(),
            "{authorize_case}"
        );
        assert_ne!(
            stored_client_id(&store, &server).await.as_deref(),
            Some(dead.as_str()),
            "{authorize_case}"
        );
    }
}
