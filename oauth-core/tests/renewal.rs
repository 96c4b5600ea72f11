//! Renewal against the test authorization server: one refresh per expiry for many
//! clients sharing a store, a renewal margin that follows the token's lifetime, and a
//! refused refresh that drops only what it must.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::auth_server::*;
use key_value_core::AsyncKeyValue;
use oauth_core::{ExposeSecret, OAuth};

/// Separate clients do not share the in-process flow lock, as separate processes do
/// not: only the store's lease can keep them from refreshing at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_sharing_a_store_refresh_once_per_expiry() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    for round in 1..=3 {
        expire_stored_token(&store, &server).await;
        let clients: Vec<OAuth> = (0..20)
            .map(|_| client(&server, &store, no_browser()))
            .collect();
        let mut calls = tokio::task::JoinSet::new();
        for oauth in clients {
            calls.spawn(async move { oauth.access_token().await });
        }
        let mut tokens = HashSet::new();
        while let Some(result) = calls.join_next().await {
            tokens.insert(result.unwrap().unwrap().expose_secret().to_owned());
        }
        assert_eq!(
            server.refreshes.load(Ordering::SeqCst),
            round,
            "refresh grants after round {round}"
        );
        assert_eq!(tokens.len(), 1, "every client got the one new token");
        // The stored refresh token is the one the server issued last: still valid.
        let stored = stored_tokens(&*store, &server).await.unwrap();
        let refresh = stored["refresh_token"].as_str().unwrap().to_owned();
        server.set(|st| assert!(st.refresh.contains(&refresh), "round {round}"));
    }
    assert_eq!(
        server.authorizations.load(Ordering::SeqCst),
        1,
        "no new login"
    );
    // The lease was released: nothing is left in its collection.
    assert_eq!(
        store
            .keys(Some(oauth_core::LEASE_COLLECTION), None)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_held_lease_makes_others_wait_for_the_holders_tokens() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    expire_stored_token(&store, &server).await;
    // Another process holds the lease and is renewing.
    let lease_key = format!("{}/refresh", server.mcp_url());
    let mut holder = key_value_core::JsonObject::new();
    holder.insert("holder".into(), "another-process".into());
    assert!(
        store
            .put_if_absent(
                &lease_key,
                holder,
                Some(Duration::from_secs(60)),
                Some(oauth_core::LEASE_COLLECTION),
            )
            .await
            .unwrap()
    );
    let waiter = client(&server, &store, no_browser());
    let waiting = tokio::spawn(async move { waiter.access_token().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the waiter did not wait for the lease"
    );
    // The holder stores its renewed tokens (here: a client without the lease renews).
    let renewer = client(&server, &store, no_browser());
    store
        .delete(&lease_key, Some(oauth_core::LEASE_COLLECTION))
        .await
        .unwrap();
    let renewed = renewer.access_token().await.unwrap();
    store
        .put_if_absent(
            &lease_key,
            key_value_core::JsonObject::new(),
            Some(Duration::from_secs(60)),
            Some(oauth_core::LEASE_COLLECTION),
        )
        .await
        .unwrap();
    let token = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiter saw the new tokens")
        .unwrap()
        .unwrap();
    assert_eq!(token.expose_secret(), renewed.expose_secret());
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_once_near_their_end() {
    let server = Server::start().await;
    server.set(|st| st.expires_in = 4);
    let store = logged_in(&server).await;
    let oauth = client(&server, &store, no_browser());
    // Right after login, and for most of its life, the token is handed out as is.
    let first = oauth.access_token().await.unwrap();
    for _ in 0..5 {
        let again = oauth.access_token().await.unwrap();
        assert_eq!(again.expose_secret(), first.expose_secret());
    }
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 0);
    // In its last tenth it is renewed, once.
    tokio::time::sleep(Duration::from_millis(3700)).await;
    let renewed = oauth.access_token().await.unwrap();
    assert_ne!(renewed.expose_secret(), first.expose_secret());
    let again = oauth.access_token().await.unwrap();
    assert_eq!(again.expose_secret(), renewed.expose_secret());
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_refresh_drops_the_refresh_token_and_keeps_a_valid_access_token() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    let before = stored_tokens(&*store, &server).await.unwrap();
    // Inside the renewal margin, not expired; the server forgot the refresh token.
    set_stored_expiry(&store, &server, 20.0).await;
    server.set(|st| st.refresh.clear());
    let oauth = client(&server, &store, no_browser());
    let token = oauth.cached_token().await.unwrap().unwrap();
    assert_eq!(
        token.expose_secret(),
        before["access_token"].as_str().unwrap()
    );
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    let after = stored_tokens(&*store, &server).await.unwrap();
    assert_eq!(after["access_token"], before["access_token"]);
    assert!(after.get("refresh_token").is_none(), "{after:?}");
    // No second refresh with the dead token.
    oauth.cached_token().await.unwrap().unwrap();
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);

    // Once expired, nothing is left to hand out: no token, no refresh, no login.
    expire_stored_token(&store, &server).await;
    let fresh_client = client(&server, &store, no_browser());
    assert!(fresh_client.cached_token().await.unwrap().is_none());
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_refresh_of_an_expired_token_is_the_servers_error() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    expire_stored_token(&store, &server).await;
    server.set(|st| st.refresh.clear());
    let oauth = client(&server, &store, no_browser());
    let err = oauth.cached_token().await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    let after = stored_tokens(&*store, &server).await.unwrap();
    assert!(after.get("refresh_token").is_none(), "{after:?}");
    assert_eq!(server.authorizations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_client_registration_is_stored_without_expiry_as_fastmcp_does() {
    let server = Server::start().await;
    let store = logged_in(&server).await;
    let (_, ttl) = store
        .ttl(
            &format!("{}/client_info", server.mcp_url()),
            Some(oauth_core::CLIENT_COLLECTION),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ttl, None);
}
