//! The client identity: a configured client ID, a client ID metadata document (CIMD),
//! a stored registration (RFC 7591) whose redirect URI can be served again, or a new
//! registration.

use oauth2::{CsrfToken, PkceCodeChallenge};
use tracing::Instrument;
use url::Url;

use super::OAuth;
use crate::callback::{CallbackServer, port_is_free};
use crate::discovery::AsMetadata;
use crate::error::{Error, ErrorCode, Result};
use crate::registration;
use crate::storage::ClientInfo;
use crate::token::{self, ClientAuth};

/// A client ready to authorize: its identity, and the callback server for its redirect URI.
pub(super) struct ReadyClient {
    pub(super) info: ClientInfo,
    /// Registered dynamically (so it may be cleared and redone when stale).
    pub(super) dynamic: bool,
    /// A stored registration reused (which the server may have forgotten since).
    pub(super) reused: bool,
    pub(super) callback: CallbackServer,
}

/// Whether `error` says the server does not know the client (any more).
pub(super) fn is_stale_client(error: &Error) -> bool {
    match error {
        Error::UnknownClient { .. } => true,
        _ => error.oauth_code().is_some_and(|c| c.refuses_client()),
    }
}

/// Whether a login with a stored registration that ended in `error` may have failed
/// because the server forgot the registration: the person saw an error page and no
/// callback came (a timeout), the server sent an error to the callback, or refused the
/// code exchange. Trouble of our own (the network, the store, the browser hand-off, the
/// configuration) says nothing about the registration.
pub(super) fn may_be_forgotten(error: &Error) -> bool {
    match error {
        Error::Timeout(_)
        | Error::Denied { .. }
        | Error::UnknownClient { .. }
        | Error::InvalidResponse(_)
        | Error::Callback(_) => true,
        Error::TokenEndpoint { .. } => !error.is_retryable(),
        _ => false,
    }
}

/// What the token endpoint says of a client (see [`OAuth::client_forgotten`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientCheck {
    /// `invalid_client`: client authentication failed, the client is unknown.
    Unknown,
    /// `invalid_grant` (the code is bad, so the client passed authentication), or
    /// another answer that says nothing about the client.
    KnownOrInconclusive,
}

impl OAuth {
    /// Whether the client identity for `server` is one we register ourselves (rather
    /// than a configured client ID or a client ID metadata document).
    pub(super) fn registers_clients(&self, server: &AsMetadata) -> bool {
        let cfg = &self.inner.config;
        cfg.client_id.is_none() && !(cfg.client_metadata_url.is_some() && server.cimd_supported)
    }

    /// The client identity we already have for this server: pre-registered, or a
    /// stored registration bound to its issuer.
    pub(super) async fn known_client(&self, server: &AsMetadata) -> Result<Option<ClientInfo>> {
        let cfg = &self.inner.config;
        if let Some(id) = &cfg.client_id {
            return Ok(Some(self.preregistered(id)));
        }
        if let (Some(url), true) = (&cfg.client_metadata_url, server.cimd_supported) {
            return Ok(Some(self.cimd_client(url)));
        }
        let stored = self.inner.storage.load_client().await?;
        Ok(stored.filter(|c| c.issuer.as_deref().is_none_or(|i| i == server.issuer)))
    }

    /// Whether the authorization server has forgotten the stored registration `client`,
    /// asked without side effects before a person is sent to the browser with it.
    ///
    /// The check is a token request (RFC 6749 §4.1.3) for the authorization code grant
    /// with a random code that was never issued, a random PKCE verifier, the
    /// registration's own redirect URI, and the client's authentication as in a real
    /// exchange. A server authenticates the client before it looks at the code: RFC 6749
    /// §5.2 answers an unknown client (failed client authentication) with
    /// `invalid_client`, and a code that is not valid for a known client with
    /// `invalid_grant`. No authorization is started and no token issued, so nothing is
    /// left half-finished at the server. `invalid_client` (with any HTTP status, 400 or
    /// 401) means forgotten; every other answer, including none at all, means go on with
    /// the browser (a login that then fails marks the registration, see
    /// [`OAuth::mark_failed_login`]).
    pub(super) async fn client_forgotten(&self, server: &AsMetadata, client: &ClientInfo) -> bool {
        let (_, verifier) = PkceCodeChallenge::new_random_sha256();
        let never_issued = CsrfToken::new_random();
        let redirect_uri = client.redirect_uris.first().cloned().unwrap_or_default();
        let auth = ClientAuth {
            client_id: &client.client_id,
            secret: client.client_secret.as_ref(),
            key: None,
            method: token::choose_method(
                server,
                client.token_endpoint_auth_method.as_deref(),
                client.client_secret.is_some(),
                false,
            ),
            issuer: &server.issuer,
        };
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", never_issued.secret().to_string()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.secret().to_string()),
        ];
        let answer = token::request(&self.inner.http, &server.token_endpoint, form, &auth).await;
        let check = match &answer {
            Err(e) if e.oauth_code() == Some(&ErrorCode::InvalidClient) => ClientCheck::Unknown,
            _ => ClientCheck::KnownOrInconclusive,
        };
        match &answer {
            Err(e) => tracing::debug!(error = %e, ?check, "checked the stored registration"),
            Ok(_) => tracing::warn!(
                "the token endpoint issued tokens for an authorization code that was never issued; ignoring them"
            ),
        }
        check == ClientCheck::Unknown
    }

    /// Marks the stored registration `client_id` after a login with it failed (see
    /// [`may_be_forgotten`]): the next authorization registers a new client instead of
    /// sending the person to the server with this one again, so a forgotten
    /// registration costs at most one failed login. The registration itself stays, for
    /// the stored tokens issued to it (a refresh, a revocation), until a new one
    /// replaces it.
    pub(super) async fn mark_failed_login(&self, client_id: &str) -> Result<()> {
        self.inner.storage.mark_client_failed(client_id).await
    }

    fn preregistered(&self, id: &str) -> ClientInfo {
        let cfg = &self.inner.config;
        let mut raw = key_value_core::JsonObject::new();
        raw.insert("client_id".into(), id.into());
        ClientInfo {
            client_id: id.to_string(),
            client_secret: cfg.client_secret.clone(),
            token_endpoint_auth_method: None,
            redirect_uris: Vec::new(),
            issuer: None,
            login_failed: false,
            raw,
        }
    }

    fn cimd_client(&self, url: &str) -> ClientInfo {
        let mut raw = key_value_core::JsonObject::new();
        raw.insert("client_id".into(), url.into());
        ClientInfo {
            client_id: url.to_string(),
            client_secret: None,
            token_endpoint_auth_method: Some("none".into()),
            redirect_uris: Vec::new(),
            issuer: None,
            login_failed: false,
            raw,
        }
    }
    /// The client identity and a running callback server for its redirect URI:
    /// pre-registered, CIMD, a stored registration whose port is free, or a new one.
    pub(super) async fn ready_client(
        &self,
        server: &AsMetadata,
        scope: Option<&str>,
    ) -> Result<ReadyClient> {
        let cfg = &self.inner.config;
        let host = cfg.callback_host.as_str();
        if cfg.client_id.is_some() || (cfg.client_metadata_url.is_some() && server.cimd_supported) {
            let info = self
                .known_client(server)
                .await?
                .ok_or_else(|| Error::Registration("no client identity".into()))?;
            let callback = CallbackServer::start(host, cfg.callback_port.unwrap_or(0)).await?;
            return Ok(ReadyClient {
                info,
                dynamic: false,
                reused: false,
                callback,
            });
        }
        let storage = &self.inner.storage;
        if let Some(stored) = storage.load_client().await? {
            if stored.issuer.as_deref().is_some_and(|i| i != server.issuer) {
                tracing::info!("the stored registration belongs to another authorization server");
                storage.clear_client().await?;
            } else if stored.login_failed {
                tracing::info!(
                    "the last login with the stored registration failed; registering again"
                );
            } else if let Some(port) = self.reusable_port(&stored).await {
                let callback = CallbackServer::start(host, port).await?;
                return Ok(ReadyClient {
                    info: stored,
                    dynamic: true,
                    reused: true,
                    callback,
                });
            } else {
                tracing::info!(
                    "the stored registration's redirect URI cannot be used; registering again"
                );
            }
        }
        let callback = CallbackServer::start(host, cfg.callback_port.unwrap_or(0)).await?;
        let span = tracing::info_span!("oauth.register");
        let info = registration::register(
            &self.inner.http,
            server,
            &cfg.client_name,
            &callback.redirect_uri,
            scope,
            &cfg.additional_metadata,
        )
        .instrument(span)
        .await?;
        // Stored by the caller once tokens come of it (see `authorization_code`).
        Ok(ReadyClient {
            info,
            dynamic: true,
            reused: false,
            callback,
        })
    }

    /// The port of a stored registration's redirect URI, when it is on our callback
    /// host and path, agrees with a configured port, and is free now.
    async fn reusable_port(&self, client: &ClientInfo) -> Option<u16> {
        let cfg = &self.inner.config;
        let uri = Url::parse(client.redirect_uris.first()?).ok()?;
        if uri.host_str()?
            != cfg
                .callback_host
                .trim_start_matches('[')
                .trim_end_matches(']')
            && uri.host_str()? != cfg.callback_host
        {
            return None;
        }
        if uri.path() != "/callback" {
            return None;
        }
        let port = uri.port()?;
        if cfg.callback_port.is_some_and(|p| p != port) {
            return None;
        }
        port_is_free(&cfg.callback_host, port).await.then_some(port)
    }
}
