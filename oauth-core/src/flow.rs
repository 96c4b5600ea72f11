//! The [`OAuth`] client: the public calls and the state they share, with one flow at a
//! time. Each concern has a module of its own:
//!
//! - [`client`]: the client identity (pre-registered, CIMD, a stored or new registration)
//!   and whether the server still knows it;
//! - [`grant`]: obtaining tokens (authorization code with PKCE, client credentials);
//! - [`renewal`]: the stored token while current, refresh once per expiry for a fleet;
//! - [`revoke`]: RFC 7009 revocation.
//!
//! The submodules take the records from here ([`OAuth`], `FlowState`); this module
//! takes nothing from them but their methods on [`OAuth`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Client;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, MutexGuard};
use url::Url;

use crate::config::{Config, GrantMode, OAuthBuilder};
use crate::discovery::{AsMetadata, Challenge, Discovered, discover};
use crate::error::{Error, Result};
use crate::storage::{Storage, StoredServer, Tokens};

mod client;
mod grant;
mod renewal;
pub(crate) mod revoke;

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

impl OAuthBuilder {
    /// Checks the settings and builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting: a server URL that is not http(s) with a
    /// host or has a fragment, a callback host that is not loopback, the client
    /// credentials grant without a client ID or without a secret or key, or no token
    /// storage when the `memory` feature (the in-memory fallback) is off.
    pub fn build(self) -> Result<OAuth> {
        OAuth::from_config(self.into_config()?)
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
                match self.renew_rejected(&mut st, rejected).await {
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
}
