//! The [`OAuth`] client: token check, discovery, registration, authorization,
//! refresh and step-up, with one flow at a time.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Client;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, MutexGuard};
use tracing::Instrument;
use url::Url;

use crate::authorize;
use crate::callback::{CallbackServer, port_is_free};
use crate::config::{Config, GrantMode, OAuthBuilder};
use crate::discovery::{AsMetadata, Challenge, Discovered, discover};
use crate::error::{Error, Result};
use crate::registration;
use crate::storage::{ClientInfo, Storage, StoredServer, Tokens};
use crate::token::{self, ClientAuth};

mod renewal;

use renewal::Reason;

/// At most this many re-authorizations for `insufficient_scope` in a row.
const MAX_STEP_UPS: u32 = 3;

/// An OAuth 2.1 client for one MCP server (or any OAuth-protected HTTP resource).
///
/// Cheap to clone: clones share tokens and the single in-flight flow. Use it as a
/// `reqwest_middleware` middleware, or call [`OAuth::access_token`].
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    http: Client,
    storage: Storage,
    state: Mutex<FlowState>,
    step_ups: AtomicU32,
}

#[derive(Default)]
struct FlowState {
    loaded: bool,
    tokens: Option<Tokens>,
    discovered: Option<Discovered>,
    /// The scope of the last authorization request (when a token response omits `scope`).
    requested_scope: Option<String>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A client ready to authorize: its identity, and the callback server for its redirect URI.
struct ReadyClient {
    info: ClientInfo,
    /// Registered dynamically (so it may be cleared and redone when stale).
    dynamic: bool,
    /// A stored registration reused (which the server may have forgotten since).
    reused: bool,
    callback: CallbackServer,
}

/// What [`OAuth::revoke`] did before forgetting the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// The authorization server revoked them.
    Revoked,
    /// The authorization server revoked the refresh token, but cannot revoke access
    /// tokens (`unsupported_token_type`): the access token stays valid until it expires.
    RefreshTokenOnly,
    /// The authorization server offers no revocation (no endpoint, or none for these
    /// tokens): they stay valid there until they expire.
    NotOffered,
    /// No tokens were stored.
    NothingStored,
}

fn is_stale_client(error: &Error) -> bool {
    match error {
        Error::UnknownClient { .. } => true,
        _ => error.oauth_code().is_some_and(|c| c.refuses_client()),
    }
}

impl OAuth {
    /// Starts building a client for the MCP endpoint at `server_url`.
    pub fn builder(server_url: impl Into<String>) -> OAuthBuilder {
        OAuthBuilder::new(server_url)
    }

    pub(crate) fn from_config(config: Config) -> Result<OAuth> {
        let http = crate::http::internal_client()?;
        let storage = Storage::new(config.storage.clone(), &config.server_key);
        Ok(OAuth {
            inner: Arc::new(Inner {
                config,
                http,
                storage,
                state: Mutex::new(FlowState::default()),
                step_ups: AtomicU32::new(0),
            }),
        })
    }

    /// The MCP server URL this client authorizes for.
    pub fn server_url(&self) -> &Url {
        &self.inner.config.server_url
    }

    /// Whether a request to `url` may carry this client's token (same origin as the server).
    pub fn is_for_server(&self, url: &Url) -> bool {
        url.origin() == self.inner.config.server_url.origin()
    }

    /// A valid access token: the stored one, a refreshed one, or one from a new
    /// authorization (discovering the server proactively).
    pub async fn access_token(&self) -> Result<SecretString> {
        let mut st = self.lock().await?;
        match self.usable_token(&mut st).await {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            Err(e) if e.is_refusal() => {
                tracing::info!(error = %e, "the refresh token was refused; authorizing again");
            }
            Err(e) => return Err(e),
        }
        self.obtain(&mut st, None, &[]).await
    }

    /// The stored token if it is usable (refreshing it when it is about to expire),
    /// without starting an authorization. `None` when there is no usable token.
    pub async fn cached_token(&self) -> Result<Option<SecretString>> {
        let mut st = self.lock().await?;
        self.usable_token(&mut st).await
    }

    /// Handles a 401 from the server: `rejected` is the token that was sent (if any),
    /// `www_authenticate` the header values. Returns a token to retry with.
    ///
    /// When another task already replaced the rejected token, that newer token is
    /// returned without any request. Otherwise the server is discovered again (with the
    /// challenge's `resource_metadata` and `scope`); the refresh token is tried once if
    /// the authorization server is unchanged, and a new authorization runs if not.
    pub async fn handle_unauthorized(
        &self,
        rejected: Option<&SecretString>,
        www_authenticate: &[&str],
    ) -> Result<SecretString> {
        let challenge = Challenge::parse(www_authenticate.iter().copied());
        let mut st = self.lock().await?;
        if let Some(current) = self.replaced_token(&st, rejected) {
            return Ok(current);
        }
        if self.inner.config.grant == GrantMode::AuthorizationCode
            && st
                .tokens
                .as_ref()
                .is_some_and(|t| t.refresh_token.is_some())
        {
            let discovered = self.discover_and_bind(&mut st, Some(&challenge)).await?;
            if st.tokens.is_some() {
                st.discovered = Some(discovered);
                match self.renew(&mut st, Reason::Rejected(rejected)).await {
                    Ok(Some(token)) => return Ok(token),
                    Ok(None) => {}
                    Err(e) if e.is_refusal() => {
                        tracing::info!(error = %e, "the refresh token was refused; authorizing again");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.obtain(&mut st, Some(&challenge), &[]).await
    }

    /// Handles a 403: for an `insufficient_scope` challenge, re-authorizes with the
    /// union of the held and challenged scopes (at most three times in a row) and
    /// returns the new token. `Ok(None)` when the 403 is not about scope.
    pub async fn handle_forbidden(
        &self,
        rejected: Option<&SecretString>,
        www_authenticate: &[&str],
    ) -> Result<Option<SecretString>> {
        let challenge = Challenge::parse(www_authenticate.iter().copied());
        if !challenge.is_insufficient_scope() {
            return Ok(None);
        }
        let mut st = self.lock().await?;
        if let Some(current) = self.replaced_token(&st, rejected) {
            return Ok(Some(current));
        }
        let mut held: BTreeSet<String> = st
            .tokens
            .as_ref()
            .map(Tokens::scopes)
            .unwrap_or_default()
            .into_iter()
            .collect();
        if held.is_empty()
            && let Some(requested) = &st.requested_scope
        {
            held.extend(requested.split_whitespace().map(str::to_string));
        }
        let challenged = challenge.scopes();
        let wanted: BTreeSet<String> = held.iter().cloned().chain(challenged).collect();
        if wanted == held {
            return Err(Error::InsufficientScope(format!(
                "the server refuses the token although it holds every scope it asks for ({})",
                challenge.scope.as_deref().unwrap_or("none named")
            )));
        }
        let attempts = self.inner.step_ups.fetch_add(1, Ordering::SeqCst) + 1;
        if attempts > MAX_STEP_UPS {
            return Err(Error::InsufficientScope(format!(
                "gave up after {MAX_STEP_UPS} re-authorizations for more scope"
            )));
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        tracing::info!(scope = %wanted.join(" "), attempt = attempts, "step-up authorization");
        self.obtain(&mut st, Some(&challenge), &wanted)
            .await
            .map(Some)
    }

    /// Records that a request with the token succeeded (resets the step-up count).
    pub fn note_success(&self) {
        self.inner.step_ups.store(0, Ordering::SeqCst);
    }

    /// Runs a new authorization now, whatever tokens are stored (a "log in again"),
    /// and returns the new access token. It asks for the scopes the stored tokens hold,
    /// besides the usual ones. The stored tokens are replaced only when it succeeds: a
    /// login that fails or is abandoned leaves them, and the registration they were
    /// issued to, as they were. Other calls on this client wait until it ends (up to
    /// the callback timeout).
    pub async fn login(&self) -> Result<SecretString> {
        let mut st = self.lock().await?;
        let held: Vec<String> = st
            .tokens
            .as_ref()
            .and_then(|t| t.scope.as_deref())
            .map(|scope| scope.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let token = self.obtain(&mut st, None, &held).await?;
        self.note_success();
        Ok(token)
    }

    /// Asks the authorization server to revoke the stored tokens (RFC 7009: the refresh
    /// token first, then the access token), then forgets them (memory and store). It
    /// uses the stored authorization server metadata, discovering it when none is
    /// stored. On an error the tokens are kept, so that the caller may try again, or
    /// forget them anyway with [`OAuth::clear_tokens`].
    pub async fn revoke(&self) -> Result<Revocation> {
        let mut st = self.lock().await?;
        let Some(tokens) = st.tokens.clone() else {
            return Ok(Revocation::NothingStored);
        };
        let discovered = match st.discovered.clone() {
            Some(d) => d,
            None => match self.stored_server().await? {
                Some(d) => d,
                None => self.discover_and_bind(&mut st, None).await?,
            },
        };
        if st.tokens.is_none() {
            // Discovery found another issuer and dropped them: they are not its to revoke.
            return Ok(Revocation::NothingStored);
        }
        let server = &discovered.server;
        let outcome = match &server.revocation_endpoint {
            None => Revocation::NotOffered,
            Some(endpoint) => {
                let client = self.known_client(server).await?.ok_or_else(|| {
                    Error::Registration("no client identity to revoke the tokens with".into())
                })?;
                // The client authenticates as in its token requests: with the private
                // key only in the client credentials grant.
                let key = match self.inner.config.grant {
                    GrantMode::ClientCredentials => self.inner.config.private_key.as_ref(),
                    GrantMode::AuthorizationCode => None,
                };
                let auth = ClientAuth {
                    client_id: &client.client_id,
                    secret: client.client_secret.as_ref(),
                    key,
                    method: token::choose_method(
                        server,
                        client.token_endpoint_auth_method.as_deref(),
                        client.client_secret.is_some(),
                        key.is_some(),
                    ),
                    issuer: &server.issuer,
                };
                let http = &self.inner.http;
                let refresh_revoked = match &tokens.refresh_token {
                    Some(refresh) => {
                        token::revoke(http, endpoint, refresh, "refresh_token", &auth).await?;
                        true
                    }
                    None => false,
                };
                match token::revoke(http, endpoint, &tokens.access_token, "access_token", &auth)
                    .await
                {
                    Ok(()) => Revocation::Revoked,
                    // RFC 7009 §2.2.1: this server cannot revoke access tokens.
                    Err(Error::Revocation {
                        error: Some(crate::error::ErrorCode::UnsupportedTokenType),
                        ..
                    }) => {
                        if refresh_revoked {
                            Revocation::RefreshTokenOnly
                        } else {
                            Revocation::NotOffered
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        st.tokens = None;
        self.inner.storage.clear_tokens().await?;
        Ok(outcome)
    }

    /// Forgets the tokens (memory and store); the registration is kept.
    pub async fn clear_tokens(&self) -> Result<()> {
        let mut st = self.lock().await?;
        st.tokens = None;
        self.inner.storage.clear_tokens().await
    }

    async fn lock(&self) -> Result<MutexGuard<'_, FlowState>> {
        let mut st = self.inner.state.lock().await;
        if !st.loaded {
            st.tokens = self.inner.storage.load_tokens().await?;
            st.loaded = true;
            if st.tokens.is_some() {
                tracing::debug!("loaded stored tokens");
            }
        }
        Ok(st)
    }

    /// The current token when it differs from the rejected one (someone else renewed it).
    fn replaced_token(
        &self,
        st: &FlowState,
        rejected: Option<&SecretString>,
    ) -> Option<SecretString> {
        let current = st.tokens.as_ref().filter(|t| t.is_fresh(0.0))?;
        let replaced =
            rejected.is_none_or(|r| r.expose_secret() != current.access_token.expose_secret());
        replaced.then(|| current.access_token.clone())
    }

    /// The stored authorization server, if any and still valid.
    async fn stored_server(&self) -> Result<Option<Discovered>> {
        let Some(stored) = self.inner.storage.load_server().await? else {
            return Ok(None);
        };
        match AsMetadata::parse(stored.metadata, &stored.issuer, "the token storage") {
            Ok(server) => Ok(Some(Discovered {
                resource: stored.resource,
                resource_scopes: None,
                challenge: None,
                server,
            })),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring stored authorization server metadata");
                Ok(None)
            }
        }
    }

    /// Discovers the server; a different issuer than the stored one drops the tokens
    /// and registration of the old one (they are bound to their issuer).
    async fn discover_and_bind(
        &self,
        st: &mut FlowState,
        challenge: Option<&Challenge>,
    ) -> Result<Discovered> {
        let cfg = &self.inner.config;
        let discovered = discover(
            &self.inner.http,
            &cfg.server_url,
            challenge,
            cfg.pinned_issuer.as_deref(),
        )
        .await?;
        let storage = &self.inner.storage;
        let previous = storage.load_server().await?;
        if let Some(previous) = &previous
            && previous.issuer != discovered.server.issuer
        {
            tracing::info!(
                old = %previous.issuer,
                new = %discovered.server.issuer,
                "the authorization server changed; dropping tokens and registration of the old one"
            );
            st.tokens = None;
            storage.clear_tokens().await?;
            if let Some(client) = storage.load_client().await?
                && client.issuer.as_deref() != Some(discovered.server.issuer.as_str())
            {
                storage.clear_client().await?;
            }
        }
        storage
            .save_server(&StoredServer {
                issuer: discovered.server.issuer.clone(),
                resource: discovered.resource.clone(),
                metadata: discovered.server.raw.clone(),
            })
            .await?;
        Ok(discovered)
    }

    /// Whether the client identity for `server` is one we register ourselves (rather
    /// than a configured client ID or a client ID metadata document).
    fn registers_clients(&self, server: &AsMetadata) -> bool {
        let cfg = &self.inner.config;
        cfg.client_id.is_none() && !(cfg.client_metadata_url.is_some() && server.cimd_supported)
    }

    /// The client identity we already have for this server: pre-registered, or a
    /// stored registration bound to its issuer.
    async fn known_client(&self, server: &AsMetadata) -> Result<Option<ClientInfo>> {
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
            raw,
        }
    }

    /// Runs discovery and a full grant, then stores the tokens.
    async fn obtain(
        &self,
        st: &mut FlowState,
        challenge: Option<&Challenge>,
        step_up_scopes: &[String],
    ) -> Result<SecretString> {
        let discovered = self.discover_and_bind(st, challenge).await?;
        let tokens = match self.inner.config.grant {
            GrantMode::ClientCredentials => self.client_credentials(&discovered, challenge).await?,
            GrantMode::AuthorizationCode => {
                let scope = self.select_scope(&discovered, challenge, step_up_scopes);
                st.requested_scope = scope.clone();
                self.authorization_code(&discovered, scope.as_deref())
                    .await?
            }
        };
        st.discovered = Some(discovered);
        self.keep_tokens(st, tokens).await
    }

    /// Makes `tokens` the current ones, then stores them. They stay current in memory
    /// even when the store fails (a refresh token may have been rotated, so the old one
    /// is spent, and this process can go on with the new ones), but the failure is
    /// returned: the caller must know the tokens will not outlive the process.
    async fn keep_tokens(&self, st: &mut FlowState, tokens: Tokens) -> Result<SecretString> {
        let access = tokens.access_token.clone();
        let saved = self.inner.storage.save_tokens(&tokens).await;
        st.tokens = Some(tokens);
        saved.map(|()| access)
    }

    /// The MCP scope selection: configured, else the challenge's, else the resource's
    /// `scopes_supported`, else none; plus step-up scopes and `offline_access` when the
    /// authorization server lists it.
    fn select_scope(
        &self,
        discovered: &Discovered,
        challenge: Option<&Challenge>,
        step_up: &[String],
    ) -> Option<String> {
        let configured = self.inner.config.scopes.as_deref();
        crate::scope::select(configured, discovered, challenge, step_up)
    }

    async fn client_credentials(
        &self,
        discovered: &Discovered,
        challenge: Option<&Challenge>,
    ) -> Result<Tokens> {
        let cfg = &self.inner.config;
        let client_id = cfg.client_id.as_deref().ok_or_else(|| {
            Error::Config("the client credentials grant needs a client_id".into())
        })?;
        let method = token::choose_method(
            &discovered.server,
            None,
            cfg.client_secret.is_some(),
            cfg.private_key.is_some(),
        );
        let auth = ClientAuth {
            client_id,
            secret: cfg.client_secret.as_ref(),
            key: cfg.private_key.as_ref(),
            method,
            issuer: &discovered.server.issuer,
        };
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("resource", discovered.resource.clone()),
        ];
        let scope = crate::scope::base(cfg.scopes.as_deref(), discovered, challenge);
        if !scope.is_empty() {
            form.push(("scope", scope.join(" ")));
        }
        let span = tracing::info_span!("oauth.client_credentials");
        token::request(
            &self.inner.http,
            &discovered.server.token_endpoint,
            form,
            &auth,
        )
        .instrument(span)
        .await
    }

    /// Authorization code with PKCE; a stale dynamic registration is redone once. A new
    /// registration is stored only once tokens come of it, so the stored registration
    /// is always the one the stored tokens were issued to, even after a failed login.
    async fn authorization_code(
        &self,
        discovered: &Discovered,
        scope: Option<&str>,
    ) -> Result<Tokens> {
        let mut redone = false;
        loop {
            let ready = self.ready_client(&discovered.server, scope).await?;
            let (dynamic, reused) = (ready.dynamic, ready.reused);
            let new_registration = (dynamic && !reused).then(|| ready.info.clone());
            let span = tracing::info_span!("oauth.authorize", client_id = %ready.info.client_id);
            // Only a stored registration may be stale, and only one we can redo is
            // worth checking before the browser.
            let check_client = reused && !redone;
            match self
                .authorize_once(discovered, ready, scope, check_client)
                .instrument(span)
                .await
            {
                Err(e) if dynamic && !redone && is_stale_client(&e) => {
                    tracing::info!("the server no longer knows the client; registering again");
                    if reused {
                        self.inner.storage.clear_client().await?;
                    }
                    redone = true;
                }
                Ok(tokens) => {
                    if let Some(info) = new_registration {
                        self.inner.storage.save_client(&info).await?;
                    }
                    return Ok(tokens);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn authorize_once(
        &self,
        discovered: &Discovered,
        ready: ReadyClient,
        scope: Option<&str>,
        check_client: bool,
    ) -> Result<Tokens> {
        let cfg = &self.inner.config;
        let server = &discovered.server;
        let redirect_uri = ready.callback.redirect_uri.clone();
        let prepared = authorize::prepare(
            server,
            &ready.info.client_id,
            &redirect_uri,
            scope,
            &discovered.resource,
        )?;
        ready.callback.expect_state(prepared.state.secret());
        let params = authorize::hand_off(
            &cfg.browser,
            &self.inner.http,
            &prepared.url,
            ready.callback,
            cfg.callback_timeout,
            check_client,
        )
        .await?;
        let code = authorize::validate(&params, &prepared.state, server)?;
        let method = token::choose_method(
            server,
            ready.info.token_endpoint_auth_method.as_deref(),
            ready.info.client_secret.is_some(),
            false,
        );
        let auth = ClientAuth {
            client_id: &ready.info.client_id,
            secret: ready.info.client_secret.as_ref(),
            key: None,
            method,
            issuer: &server.issuer,
        };
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.expose_secret().to_string()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", prepared.verifier.secret().to_string()),
            ("resource", discovered.resource.clone()),
        ];
        token::request(&self.inner.http, &server.token_endpoint, form, &auth).await
    }

    /// The client identity and a running callback server for its redirect URI:
    /// pre-registered, CIMD, a stored registration whose port is free, or a new one.
    async fn ready_client(&self, server: &AsMetadata, scope: Option<&str>) -> Result<ReadyClient> {
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
