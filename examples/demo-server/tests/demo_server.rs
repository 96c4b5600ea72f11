//! The demo authorization server over real loopback HTTP: discovery, registration,
//! PKCE, code and refresh-token rules, the protected MCP endpoint, persistence.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use key_value::AsyncKeyValue;
use mcp_demo_server::DemoServer;
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-0123456789-abcdef";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn http() -> Client {
    oauth_core::http_client_builder()
        .unwrap()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

async fn register(server: &DemoServer, method: &str) -> Value {
    let response = http()
        .post(format!("{}/register", server.issuer()))
        .json(&json!({
            "client_name": "test",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Runs the authorization request; returns the redirect's query parameters.
async fn authorize(
    server: &DemoServer,
    params: &[(&str, &str)],
) -> (StatusCode, Vec<(String, String)>) {
    let response = http()
        .get(format!("{}/authorize", server.issuer()))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let query = location
        .map(|l| Url::parse(&l).unwrap().query_pairs().into_owned().collect())
        .unwrap_or_default();
    (status, query)
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn code_for(server: &DemoServer, client_id: &str) -> String {
    let challenge = challenge(VERIFIER);
    let (status, query) = authorize(
        server,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "s-1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(param(&query, "state"), Some("s-1"));
    assert_eq!(param(&query, "iss"), Some(server.issuer()));
    param(&query, "code").unwrap().to_string()
}

async fn token_request(
    server: &DemoServer,
    form: &(impl serde::Serialize + ?Sized),
) -> (StatusCode, Value) {
    let response = http()
        .post(format!("{}/token", server.issuer()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    (status, response.json().await.unwrap())
}

/// A public client's code exchanged for tokens; the answer must be a success.
async fn exchange_code(server: &DemoServer, client_id: &str, code: &str) -> Value {
    let (status, tokens) = token_request(
        server,
        &[
            ("client_id", client_id),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn mcp(server: &DemoServer, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = http().post(server.mcp_url()).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn discovery_starts_from_the_401() {
    let server = DemoServer::builder().start().await.unwrap();
    let response = mcp(
        &server,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let prm_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.issuer()
    );
    assert!(
        challenge.starts_with(&format!("Bearer resource_metadata=\"{prm_url}\"")),
        "{challenge}"
    );
    let prm: Value = http()
        .get(&prm_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], server.mcp_url());
    assert_eq!(prm["authorization_servers"][0], server.issuer());
    let metadata: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], server.issuer());
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
}

#[tokio::test]
async fn the_code_grant_checks_pkce_and_works_once() {
    let server = DemoServer::builder().start().await.unwrap();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap();
    assert!(client.get("client_secret").is_none());

    let form = |verifier: &str, code: &str| {
        [
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
            ("code_verifier", verifier.to_string()),
            ("client_id", client_id.to_string()),
        ]
    };
    let code = code_for(&server, client_id).await;
    let wrong = form("another-verifier-that-is-long-enough-0123456789-xyz", &code);
    let (status, body) = token_request(&server, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // The failed attempt used the code up: a code works once, right or wrong.
    let (status, body) = token_request(&server, &form(VERIFIER, &code)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let code = code_for(&server, client_id).await;
    let right = form(VERIFIER, &code);
    let (status, tokens) = token_request(&server, &right).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let (status, _) = token_request(&server, &right).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code is single use");

    let access = tokens["access_token"].as_str().unwrap();
    let response = mcp(
        &server,
        Some(access),
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1.5, "b": 2}}}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 7);
    assert_eq!(body["result"]["content"][0]["text"], "3.5");
}

/// A token is accepted for all of its lifetime, whatever fraction of a second it was
/// issued in. Expiry cut to whole seconds refused a token issued at x.9 s up to 0.9 s
/// early, while its client, counting from `expires_in`, still held it valid.
#[tokio::test]
async fn an_access_token_is_accepted_for_all_of_its_lifetime() {
    const LIFETIME: Duration = Duration::from_secs(4);
    let server = DemoServer::builder()
        .access_token_lifetime(LIFETIME)
        .start()
        .await
        .unwrap();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap();
    // A round proves something only when the token was issued in the second it was
    // asked for, and the ping answered within the token's lifetime; a slow round (a
    // loaded machine) is tried again.
    for _ in 0..10 {
        let code = code_for(&server, client_id).await;
        // Late in a second, where cutting to whole seconds costs the most.
        let fraction = loop {
            let fraction = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_millis();
            if (850..950).contains(&fraction) {
                break fraction;
            }
            tokio::time::sleep(Duration::from_millis(u64::from((1_850 - fraction) % 1_000))).await;
        };
        // The server issues the token after this instant: it is valid until 4 s after it.
        let asked = Instant::now();
        let tokens = exchange_code(&server, client_id, &code).await;
        if asked.elapsed() >= Duration::from_millis(u64::from(1_000 - fraction)) {
            continue; // perhaps issued in the next second
        }
        assert_eq!(tokens["expires_in"], 4);
        let access = tokens["access_token"].as_str().unwrap();
        // 3.2 s after asking is 0.05–0.15 s past the whole second of the issue plus 4 s,
        // where whole-second expiry ended the token, and inside its true lifetime.
        tokio::time::sleep_until(asked + Duration::from_millis(3_200)).await;
        let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
        let response = mcp(&server, Some(access), ping).await;
        let answered = asked.elapsed();
        if response.status() == StatusCode::OK {
            return;
        }
        assert!(
            answered >= LIFETIME,
            "a 4 s token refused {answered:?} after it was asked for: {:?}",
            response.headers().get("www-authenticate")
        );
    }
    panic!("ten rounds were too slow to tell: the machine is too busy");
}

/// A lifetime the store could not keep as a ttl (zero, or past the year 9999) is
/// refused when the server starts, not at each token request.
#[tokio::test]
async fn a_zero_lifetime_or_one_past_the_year_9999_is_refused_at_start() {
    for lifetime in [Duration::ZERO, Duration::from_secs(u64::MAX)] {
        let refused = DemoServer::builder()
            .access_token_lifetime(lifetime)
            .start()
            .await
            .err()
            .map(|e| (e.kind(), e.to_string()));
        assert!(
            matches!(&refused, Some((std::io::ErrorKind::InvalidInput, why)) if why.contains("access token lifetime")),
            "{lifetime:?}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_access_tokens_expire() {
    let server = DemoServer::builder()
        .access_token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let client = register(&server, "client_secret_post").await;
    let client_id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let code = code_for(&server, client_id).await;
    let base = [("client_id", client_id), ("client_secret", secret)];
    let mut form = base.to_vec();
    form.extend([
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    let (status, first) = token_request(&server, &form).await;
    assert_eq!(status, StatusCode::OK, "{first}");

    // A wrong secret is invalid_client.
    let mut bad = form.clone();
    bad[1] = ("client_secret", "nope");
    let (status, body) = token_request(&server, &bad).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let mut form = base.to_vec();
    form.push(("grant_type", "refresh_token"));
    form.push(("refresh_token", first["refresh_token"].as_str().unwrap()));
    let (status, second) = token_request(&server, &form).await;
    // The server issued the token before this answer came: 2 s from here it is over.
    let issued_by = Instant::now();
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let access = second["access_token"].as_str().unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    assert_eq!(
        mcp(&server, Some(access), ping.clone()).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep_until(issued_by + Duration::from_millis(2100)).await;
    let expired = mcp(&server, Some(access), ping.clone()).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let challenge = expired.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // The spent refresh token comes back: a replay, which revokes the whole grant.
    let (status, body) = token_request(&server, &form).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old refresh token is spent"
    );
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
    let mut newest = base.to_vec();
    newest.push(("grant_type", "refresh_token"));
    newest.push(("refresh_token", second["refresh_token"].as_str().unwrap()));
    let (status, body) = token_request(&server, &newest).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the newest refresh token of a revoked grant: {body}"
    );
    assert_eq!(body["error"], "invalid_grant");
}

/// A refresh token replayed while its grant's access token is still valid: that access
/// token stops working too (OAuth 2.1 §4.3.1: the whole grant is revoked).
#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_grants_access_tokens() {
    let server = DemoServer::builder().start().await.unwrap();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap();
    let code = code_for(&server, client_id).await;
    let base = [("client_id", client_id)];
    let first = exchange_code(&server, client_id, &code).await;
    let mut form = base.to_vec();
    form.push(("grant_type", "refresh_token"));
    form.push(("refresh_token", first["refresh_token"].as_str().unwrap()));
    let (status, second) = token_request(&server, &form).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let access = second["access_token"].as_str().unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    assert_eq!(
        mcp(&server, Some(access), ping.clone()).await.status(),
        StatusCode::OK
    );
    let (status, _) = token_request(&server, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let refused = mcp(&server, Some(access), ping).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("revoked"), "{challenge}");
}

#[tokio::test]
async fn bad_authorization_requests_are_refused() {
    let server = DemoServer::builder().start().await.unwrap();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap();
    let challenge = challenge(VERIFIER);

    // An unregistered redirect URI gets an error page, never a redirect.
    let (status, query) = authorize(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "http://127.0.0.1:9/evil"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!((status, query.len()), (StatusCode::BAD_REQUEST, 0));
    let (status, _) = authorize(
        &server,
        &[("response_type", "code"), ("client_id", "unknown")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Without PKCE, or with plain PKCE: an error back at the client, with state and iss.
    for method in [None, Some("plain")] {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "xyz"),
        ];
        if let Some(m) = method {
            params.push(("code_challenge", VERIFIER));
            params.push(("code_challenge_method", m));
        }
        let (status, query) = authorize(&server, &params).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(param(&query, "error"), Some("invalid_request"));
        assert_eq!(param(&query, "state"), Some("xyz"));
        assert_eq!(param(&query, "iss"), Some(server.issuer()));
        assert_eq!(param(&query, "code"), None);
    }

    // Unknown scopes and other resources are refused too.
    for (extra, error) in [
        (("scope", "admin"), "invalid_scope"),
        (
            ("resource", "https://elsewhere.example/mcp"),
            "invalid_target",
        ),
    ] {
        let (_, query) = authorize(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                extra,
            ],
        )
        .await;
        assert_eq!(param(&query, "error"), Some(error), "{extra:?}");
    }

    // Registration refuses non-loopback plain HTTP redirect URIs.
    let response = http()
        .post(format!("{}/register", server.issuer()))
        .json(&json!({"redirect_uris": ["http://attacker.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_redirect_uri");
}

#[tokio::test]
async fn the_mcp_endpoint_speaks_json_rpc() {
    let server = DemoServer::builder().start().await.unwrap();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap();
    let code = code_for(&server, client_id).await;
    let tokens = exchange_code(&server, client_id, &code).await;
    let token = tokens["access_token"].as_str().unwrap();
    let call = |body: Value| mcp(&server, Some(token), body);

    let init: Value = call(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    let note = call(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    assert_eq!(note.status(), StatusCode::ACCEPTED);
    let tools: Value = call(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["whoami", "add"]);
    let who: Value = call(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami"}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let text = who["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains(client_id), "{text}");
    let unknown: Value = call(json!({"jsonrpc": "2.0", "id": 4, "method": "resources/list"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["error"]["code"], -32601);
    let bad_args: Value = call(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "add", "arguments": {"a": "x"}}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bad_args["result"]["isError"], true);

    // A page on another site cannot use the endpoint through the browser.
    let cross = http()
        .post(server.mcp_url())
        .bearer_auth(token)
        .header("Origin", "https://evil.example")
        .json(&json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // A token with too little scope gets a step-up challenge.
    let code = {
        let challenge = challenge(VERIFIER);
        let (_, q) = authorize(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("scope", "offline_access"),
            ],
        )
        .await;
        param(&q, "code").unwrap().to_string()
    };
    let narrow = exchange_code(&server, client_id, &code).await;
    let forbidden = mcp(
        &server,
        narrow["access_token"].as_str(),
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let challenge = forbidden.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn it_binds_loopback_only_and_keeps_state_in_its_store() {
    let refused = DemoServer::builder()
        .ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .start()
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);

    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        Arc::new(
            key_value::sqlite::SqliteStore::open(dir.path().join("state.sqlite"))
                .await
                .unwrap(),
        ) as Arc<dyn AsyncKeyValue>
    };
    let server = DemoServer::builder()
        .state_store(open().await)
        .start()
        .await
        .unwrap();
    let port = server.port();
    let client = register(&server, "none").await;
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let code = code_for(&server, &client_id).await;
    let tokens = exchange_code(&server, &client_id, &code).await;
    server.shutdown().await;

    // Same port, same store: the token still works after a restart.
    let store = open().await;
    let restarted = DemoServer::builder()
        .port(port)
        .state_store(store.clone())
        .start()
        .await
        .unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let response = mcp(&restarted, tokens["access_token"].as_str(), ping).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Only hashes of tokens are stored.
    let keys = store
        .keys(Some(mcp_demo_server::collections::ACCESS_TOKENS), None)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0], tokens["access_token"].as_str().unwrap());
    assert_eq!(keys[0].len(), 64);
}

#[tokio::test]
async fn revocation_forgets_a_token_of_the_client_that_asks() {
    let server = DemoServer::builder().start().await.unwrap();
    let tokens_for = |client: Value| {
        let server = &server;
        async move {
            let client_id = client["client_id"].as_str().unwrap().to_string();
            let code = code_for(server, &client_id).await;
            let tokens = exchange_code(server, &client_id, &code).await;
            (client_id, tokens)
        }
    };
    let (mine, tokens) = tokens_for(register(&server, "none").await).await;
    let (theirs, _) = tokens_for(register(&server, "none").await).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |client_id: &str, token: &str, hint: &str| {
        http()
            .post(format!("{}/revoke", server.issuer()))
            .form(&[
                ("client_id", client_id),
                ("token", token),
                ("token_type_hint", hint),
            ])
            .send()
    };
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert_eq!(mcp(&server, Some(access), list.clone()).await.status(), 200);

    // Another client cannot revoke it.
    let refused = revoke(&theirs, access, "access_token").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(mcp(&server, Some(access), list.clone()).await.status(), 200);

    // Its own client can; then the tokens are gone, and revoking again is no error.
    for (token, hint) in [(refresh, "refresh_token"), (access, "access_token")] {
        let done = revoke(&mine, token, hint).await.unwrap();
        assert_eq!(done.status(), StatusCode::OK);
    }
    assert_eq!(mcp(&server, Some(access), list).await.status(), 401);
    let (status, body) = token_request(
        &server,
        &[
            ("client_id", mine.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let again = revoke(&mine, access, "access_token").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}
