//! Discovery, scope selection, step-up and error bodies against the test authorization
//! server with its faults switched on (issue 11, items 2-4, 6-8, 10, 11): each test checks
//! what reached the server as well as what the caller got.
// Tests may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::auth_server::*;
use oauth_core::ErrorCode;

/// A client that logs in without a browser (the test server approves at once).
fn headless(server: &Server) -> OAuth {
    client(
        server,
        &Arc::new(MemoryStore::new()),
        BrowserMode::FetchRedirect,
    )
}

/// A client with configured scopes that logs in without a browser.
fn headless_with_scopes(server: &Server, scopes: &[&str]) -> OAuth {
    OAuth::builder(server.mcp_url())
        .token_storage(MemoryStore::new())
        .browser(BrowserMode::FetchRedirect)
        .scopes(scopes)
        .build()
        .unwrap()
}

/// The one authorization request the server saw.
fn only_authorization(server: &Server) -> HashMap<String, String> {
    let seen = server.seen();
    assert_eq!(seen.authorize_queries.len(), 1, "one authorization request");
    seen.authorize_queries[0].clone()
}

/// The scope of the one registration the server saw.
fn registered_scope(server: &Server) -> Option<String> {
    let seen = server.seen();
    assert_eq!(seen.registration_bodies.len(), 1, "one registration");
    seen.registration_bodies[0]
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// No control or bidirectional character, nothing longer than `max` characters.
fn assert_terminal_safe(text: &str, max: usize) {
    assert!(
        !text.chars().any(oauth_core::text::is_unsafe),
        "an unsafe character in {text:?}"
    );
    assert!(
        text.chars().count() <= max,
        "{} characters: {text}",
        text.chars().count()
    );
}

#[tokio::test]
async fn login_probes_the_server_and_follows_its_challenge_to_another_origin() {
    let server = Server::start().await;
    let elsewhere = server.other_origin();
    server.fault(|f| f.prm_elsewhere = Some(elsewhere));
    headless(&server).login().await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.mcp_unauthenticated, 1, "one probe without a token");
    assert_eq!(
        seen.metadata_paths.first().map(String::as_str),
        Some("/elsewhere/prm"),
        "the URL named in WWW-Authenticate comes first: {:?}",
        seen.metadata_paths
    );
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn access_token_probes_too_and_follows_a_challenge_to_another_path() {
    let server = Server::start().await;
    let base = server.base();
    server.fault(|f| f.prm_elsewhere = Some(base));
    headless(&server).access_token().await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.mcp_unauthenticated, 1);
    assert_eq!(seen.metadata_paths[0], "/elsewhere/prm");
    assert!(
        !seen
            .metadata_paths
            .iter()
            .any(|p| p.starts_with("/.well-known/oauth-protected-resource")),
        "no well-known location once the named one worked: {:?}",
        seen.metadata_paths
    );
}

#[tokio::test]
async fn an_html_page_at_a_resource_metadata_location_is_skipped() {
    let server = Server::start().await;
    server.fault(|f| {
        f.prm_html = true;
        f.prm_root = true;
    });
    headless(&server).login().await.unwrap();
    let seen = server.seen();
    assert_eq!(
        &seen.metadata_paths[..2],
        [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ],
        "the named location (asked once), then the root one"
    );
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_html_page_at_a_server_metadata_location_is_skipped() {
    let server = Server::start().await;
    server.fault(|f| {
        f.as_html = true;
        f.openid_configuration = true;
    });
    headless(&server).login().await.unwrap();
    let seen = server.seen();
    let as_paths: Vec<&str> = seen
        .metadata_paths
        .iter()
        .map(String::as_str)
        .filter(|p| !p.contains("protected-resource"))
        .collect();
    assert_eq!(
        as_paths,
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration"
        ]
    );
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn when_no_location_works_the_error_lists_each_url_and_why() {
    let server = Server::start().await;
    server.fault(|f| f.as_html = true);
    let err = headless(&server).login().await.unwrap_err();
    let Error::MetadataNotFound { what, tried } = &err else {
        panic!("expected MetadataNotFound, got {err}");
    };
    assert_eq!(*what, "authorization server metadata");
    let base = server.base();
    assert_eq!(tried.len(), 2, "{err}");
    assert_eq!(
        tried[0].url,
        format!("{base}/.well-known/oauth-authorization-server")
    );
    assert!(tried[0].problem.contains("not valid JSON"), "{err}");
    assert_eq!(
        tried[1].url,
        format!("{base}/.well-known/openid-configuration")
    );
    assert!(tried[1].problem.contains("404"), "{err}");
    let shown = err.to_string();
    for t in tried {
        assert!(shown.contains(&t.url), "{shown}");
    }
    assert!(!err.is_retryable());
    assert_eq!(server.registrations.load(Ordering::SeqCst), 0);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn resource_metadata_for_another_resource_is_skipped_and_named() {
    let server = Server::start().await;
    server.fault(|f| f.prm_resource = Some("https://other.example/mcp".into()));
    let err = headless(&server).login().await.unwrap_err();
    let Error::MetadataNotFound { what, tried } = &err else {
        panic!("expected MetadataNotFound, got {err}");
    };
    assert_eq!(*what, "protected resource metadata");
    assert!(
        tried[0].problem.contains("https://other.example/mcp"),
        "{err}"
    );
    assert!(tried[0].problem.contains("RFC 9728"), "{err}");
    assert!(tried[1].problem.contains("404"), "{err}");
    assert_eq!(server.registrations.load(Ordering::SeqCst), 0);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_oauth_error_in_a_200_token_response_is_a_refusal() {
    let server = Server::start().await;
    let body = json!({
        "error": "invalid_grant",
        "error_description": "the code was spent",
        "error_uri": "https://as.example/errors/invalid_grant",
    });
    server.fault(|f| f.token_error = Some((StatusCode::OK, body.to_string())));
    let err = headless(&server).login().await.unwrap_err();
    match &err {
        Error::TokenEndpoint {
            status,
            error,
            description,
            uri,
        } => {
            assert_eq!(*status, 200);
            assert_eq!(*error, Some(ErrorCode::InvalidGrant));
            assert_eq!(description.as_deref(), Some("the code was spent"));
            assert_eq!(
                uri.as_deref(),
                Some("https://as.example/errors/invalid_grant")
            );
        }
        other => panic!("expected TokenEndpoint, got {other}"),
    }
    assert!(err.is_refusal());
    let shown = err.to_string();
    assert!(
        shown.contains("invalid_grant") && shown.contains("the code was spent"),
        "{shown}"
    );
    assert_eq!(server.seen().token_grants, ["authorization_code"]);
}

#[tokio::test]
async fn a_hostile_error_description_is_escaped_and_capped() {
    let server = Server::start().await;
    let hostile = format!(
        "\u{1b}[31mred\u{7}\u{8}\u{0}\u{202e}{}",
        "A".repeat(8 * 1024)
    );
    let body = json!({"error": "invalid_request\u{1b}[2J", "error_description": hostile});
    server.fault(|f| f.token_error = Some((StatusCode::BAD_REQUEST, body.to_string())));
    let err = headless(&server).login().await.unwrap_err();
    let Error::TokenEndpoint { description, .. } = &err else {
        panic!("expected TokenEndpoint, got {err}");
    };
    // The value is kept as received; only its display is made safe.
    assert_eq!(description.as_deref(), Some(hostile.as_str()));
    let shown = err.to_string();
    assert_terminal_safe(&shown, 1000);
    assert!(
        shown.contains("\\u{1b}[31mred\\u{7}\\u{8}\\u{0}\\u{202e}AAA"),
        "{shown}"
    );
    assert!(shown.contains("invalid_request\\u{1b}[2J"), "{shown}");
}

#[tokio::test]
async fn the_challenged_scope_is_asked_for_and_registered() {
    let server = Server::start().await;
    server.fault(|f| {
        f.challenge_scope = Some("mcp:read".into());
        f.prm_scopes = Some(vec!["mcp:read".into(), "mcp:write".into()]);
        f.as_scopes = Some(vec!["mcp:read".into(), "mcp:write".into()]);
    });
    headless(&server).login().await.unwrap();
    let query = only_authorization(&server);
    assert_eq!(query.get("scope").map(String::as_str), Some("mcp:read"));
    assert_eq!(registered_scope(&server).as_deref(), Some("mcp:read"));
    assert!(
        !query.contains_key("prompt"),
        "no offline_access, no prompt"
    );
}

#[tokio::test]
async fn without_a_challenged_scope_the_resource_scopes_are_asked_for() {
    let server = Server::start().await;
    server.fault(|f| {
        f.prm_scopes = Some(vec!["mcp:read".into(), "mcp:write".into()]);
        f.as_scopes = Some(vec!["mcp:read".into(), "mcp:write".into()]);
    });
    headless(&server).login().await.unwrap();
    let query = only_authorization(&server);
    assert_eq!(
        query.get("scope").map(String::as_str),
        Some("mcp:read mcp:write")
    );
    assert_eq!(
        registered_scope(&server).as_deref(),
        Some("mcp:read mcp:write")
    );
}

#[tokio::test]
async fn offline_access_is_asked_for_with_consent_only_when_listed() {
    let listed = Server::start().await;
    headless(&listed).login().await.unwrap();
    let query = only_authorization(&listed);
    assert_eq!(
        query.get("scope").map(String::as_str),
        Some("mcp offline_access")
    );
    assert_eq!(query.get("prompt").map(String::as_str), Some("consent"));
    assert_eq!(
        registered_scope(&listed).as_deref(),
        Some("mcp offline_access")
    );

    let unlisted = Server::start().await;
    unlisted.fault(|f| f.as_scopes = Some(vec!["mcp".into()]));
    headless(&unlisted).login().await.unwrap();
    let query = only_authorization(&unlisted);
    assert_eq!(query.get("scope").map(String::as_str), Some("mcp"));
    assert!(!query.contains_key("prompt"));
}

#[tokio::test]
async fn an_openid_provider_found_by_its_configuration_gets_prompt_consent() {
    // The metadata only at openid-configuration, offline_access not listed but asked
    // for by the program: the server is an OpenID Provider, so consent is prompted.
    let openid = Server::start().await;
    openid.fault(|f| {
        f.as_missing = true;
        f.openid_configuration = true;
        f.as_scopes = Some(vec!["mcp".into()]);
    });
    headless_with_scopes(&openid, &["mcp", "offline_access"])
        .login()
        .await
        .unwrap();
    let query = only_authorization(&openid);
    assert_eq!(
        query.get("scope").map(String::as_str),
        Some("mcp offline_access")
    );
    assert_eq!(query.get("prompt").map(String::as_str), Some("consent"));

    // The same at an OAuth-only server: no prompt.
    let oauth_only = Server::start().await;
    oauth_only.fault(|f| f.as_scopes = Some(vec!["mcp".into()]));
    headless_with_scopes(&oauth_only, &["mcp", "offline_access"])
        .login()
        .await
        .unwrap();
    assert!(!only_authorization(&oauth_only).contains_key("prompt"));
}

#[tokio::test]
async fn step_up_works_on_the_first_retry_after_a_login() {
    let server = Server::start().await;
    server.fault(|f| {
        f.challenge_scope = Some("mcp".into());
        f.required_scope = Some("mcp:write".into());
        f.as_scopes = Some(vec!["mcp".into(), "mcp:write".into()]);
    });
    let oauth = headless(&server);
    assert_eq!(call(&oauth, &server).await, 200);
    let seen = server.seen();
    assert_eq!(seen.mcp_statuses, [401, 403, 200]);
    assert_eq!(seen.authorize_queries.len(), 2);
    assert_eq!(
        seen.authorize_queries[0].get("scope").map(String::as_str),
        Some("mcp")
    );
    let second: Vec<&str> = seen.authorize_queries[1]
        .get("scope")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    assert!(
        second.contains(&"mcp") && second.contains(&"mcp:write"),
        "the union of held and challenged scopes: {second:?}"
    );
    // The next call needs nothing more.
    assert_eq!(call(&oauth, &server).await, 200);
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn step_up_gives_up_after_three_tries() {
    let server = Server::start().await;
    server.fault(|f| {
        f.required_scope = Some("mcp:admin".into());
        // The server never grants it.
        f.grant_only = Some("mcp".into());
    });
    let oauth = headless(&server);
    assert_eq!(call(&oauth, &server).await, 403);
    let seen = server.seen();
    // The login after the 401, then three step-ups.
    assert_eq!(seen.authorize_queries.len(), 4, "{:?}", seen.mcp_statuses);
    assert_eq!(seen.mcp_statuses, [401, 403, 403, 403, 403]);
}

#[tokio::test]
async fn a_root_issuer_matches_with_or_without_its_trailing_slash() {
    let slash_in_server_metadata = Server::start().await;
    slash_in_server_metadata.fault(|f| f.issuer_slash = true);
    headless(&slash_in_server_metadata).login().await.unwrap();

    let slash_in_resource_metadata = Server::start().await;
    let named = format!("{}/", slash_in_resource_metadata.base());
    slash_in_resource_metadata.set(|st| st.prm_issuer = Some(named));
    headless(&slash_in_resource_metadata).login().await.unwrap();
    assert_eq!(
        slash_in_resource_metadata
            .authorizations
            .load(Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn an_issuer_with_a_path_must_match_exactly() {
    let server = Server::start().await;
    let named = format!("{}/tenant/", server.base());
    server.set(|st| st.prm_issuer = Some(named));
    let err = headless(&server).login().await.unwrap_err();
    // Its metadata locations are `…/oauth-authorization-server/tenant` and the OpenID
    // ones, none served: nothing is taken from the root issuer's document.
    assert!(matches!(err, Error::MetadataNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/tenant"), "{err}");
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 0);
}
