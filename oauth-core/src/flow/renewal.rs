//! Renewal: handing out the stored token while it is current, and refreshing it once
//! per expiry for every process sharing the store.
//!
//! Within a process the flow lock makes one caller renew at a time. Across processes
//! and machines, a store that offers
//! [`put_if_absent`](key_value_core::AsyncKeyValue::put_if_absent) elects one renewer
//! with a lease entry ([`LEASE_COLLECTION`](crate::LEASE_COLLECTION)): the holder reads
//! the tokens again (someone may have renewed them while it waited), refreshes only if
//! they still need it, stores the new ones and releases the lease; everyone else polls
//! the store until the tokens change or the lease is free to take. A server that
//! rotates refresh tokens, and revokes the grant when a spent one comes back (OAuth 2.1
//! §4.3.1), thus sees one refresh grant per expiry, however large the fleet. A store
//! without the capability renews as if each process were alone.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use super::client::is_stale_client;
use super::{FlowState, OAuth};
use crate::config::GrantMode;
use crate::error::{Error, Result};
use crate::storage::{LEASE_TTL, Tokens};
use crate::token::{self, ClientAuth};

/// Why the tokens are being renewed, which says whether tokens found in the store
/// still need it.
enum Reason<'a> {
    /// The access token is inside its renewal margin.
    Expiring,
    /// The resource server refused this access token (401), or none was sent.
    Rejected(Option<&'a SecretString>),
}

impl Reason<'_> {
    fn needs_renewal(&self, tokens: &Tokens) -> bool {
        match self {
            Reason::Expiring => !tokens.is_current(),
            Reason::Rejected(rejected) => {
                !tokens.is_fresh(0.0)
                    || rejected
                        .is_some_and(|r| r.expose_secret() == tokens.access_token.expose_secret())
            }
        }
    }
}

/// The first wait between looks at the store while another process renews; it grows
/// to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_millis(500);

impl OAuth {
    /// The stored access token when it needs no renewal, else a renewed one; a token
    /// past its renewal margin but not expired when renewing is impossible or fails.
    /// `None` when there is no usable token. A refusal of the refresh token is returned
    /// as the server's error when no still-valid token is left.
    pub(super) async fn usable_token(&self, st: &mut FlowState) -> Result<Option<SecretString>> {
        let Some(tokens) = &st.tokens else {
            return Ok(None);
        };
        if tokens.is_current() {
            return Ok(Some(tokens.access_token.clone()));
        }
        // Another process sharing the store may have renewed the tokens since we read
        // them, spending our refresh token if the server rotates them: read them again.
        st.tokens = self.inner.storage.load_tokens().await?;
        let Some(tokens) = &st.tokens else {
            return Ok(None);
        };
        if tokens.is_current() {
            tracing::debug!("using tokens another client renewed in the store");
            return Ok(Some(tokens.access_token.clone()));
        }
        // Inside the margin but not yet expired: still good to hand out when renewing
        // is impossible or fails.
        let still_valid = tokens.is_fresh(0.0).then(|| tokens.access_token.clone());
        if tokens.refresh_token.is_none() || self.inner.config.grant != GrantMode::AuthorizationCode
        {
            return Ok(still_valid);
        }
        match self.renew(st, Reason::Expiring).await {
            Ok(Some(token)) => Ok(Some(token)),
            Ok(None) => Ok(still_valid),
            Err(e) if still_valid.is_some() && !matches!(e, Error::Storage(_)) => {
                tracing::warn!(
                    error = %e,
                    "could not renew the access token; using it for the seconds it has left"
                );
                Ok(still_valid)
            }
            Err(e) => Err(e),
        }
    }

    /// Renews after the resource server refused `rejected` (a 401), or refused a
    /// request sent without a token.
    pub(super) async fn renew_rejected(
        &self,
        st: &mut FlowState,
        rejected: Option<&SecretString>,
    ) -> Result<Option<SecretString>> {
        self.renew(st, Reason::Rejected(rejected)).await
    }

    /// Renews the tokens in `st` (read from the store just now), once for everyone
    /// sharing the store when it offers leases.
    async fn renew(&self, st: &mut FlowState, reason: Reason<'_>) -> Result<Option<SecretString>> {
        let storage = &self.inner.storage;
        if !storage.has_leases() {
            return self.refresh_now(st).await;
        }
        let Some(seen) = st.tokens.clone() else {
            return Ok(None);
        };
        // A holder releases the lease when done, or it expires after LEASE_TTL; waiting
        // a little longer than that lets a crashed holder's lease lapse first.
        let started = Instant::now();
        let deadline = started + LEASE_TTL + Duration::from_secs(5);
        let mut pause = FIRST_POLL;
        loop {
            if let Some(lease) = storage.take_lease().await? {
                let outcome = self.renew_holding_lease(st, &reason).await;
                storage.release_lease(lease).await;
                return outcome;
            }
            if Instant::now() >= deadline {
                return Err(Error::LeaseHeld(started.elapsed()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
            st.tokens = storage.load_tokens().await?;
            match &st.tokens {
                None => {
                    tracing::info!(
                        "the stored tokens were removed while another process renewed them"
                    );
                    return Ok(None);
                }
                Some(now) if !now.same_access_token(&seen) && now.is_fresh(0.0) => {
                    tracing::debug!("another process renewed the tokens");
                    return Ok(Some(now.access_token.clone()));
                }
                Some(now) if now.refresh_token.is_none() => {
                    // The renewer's refresh was refused, and it dropped the token.
                    tracing::info!("another process's token renewal was refused");
                    return Ok(None);
                }
                Some(_) => {}
            }
        }
    }

    /// With the lease held: renews unless someone did while we waited for it.
    async fn renew_holding_lease(
        &self,
        st: &mut FlowState,
        reason: &Reason<'_>,
    ) -> Result<Option<SecretString>> {
        st.tokens = self.inner.storage.load_tokens().await?;
        match &st.tokens {
            None => Ok(None),
            Some(tokens) if !reason.needs_renewal(tokens) => {
                tracing::debug!("another process renewed the tokens before we took the lease");
                Ok(Some(tokens.access_token.clone()))
            }
            Some(tokens) if tokens.refresh_token.is_none() => {
                Ok(tokens.is_fresh(0.0).then(|| tokens.access_token.clone()))
            }
            Some(_) => self.refresh_now(st).await,
        }
    }

    /// Discovers the authorization server when it is not known yet, then refreshes.
    async fn refresh_now(&self, st: &mut FlowState) -> Result<Option<SecretString>> {
        if st.discovered.is_none() {
            st.discovered = match self.stored_server().await? {
                Some(d) => Some(d),
                None => Some(self.discover_and_bind(st, None).await?),
            };
        }
        self.try_refresh(st).await
    }

    /// Refreshes the tokens. `Ok(None)` when there is nothing to refresh with; the
    /// server's error when it refuses the refresh token (which is then dropped from the
    /// store, if the store still holds that one); an error (tokens kept) when the
    /// server cannot be reached.
    pub(super) async fn try_refresh(&self, st: &mut FlowState) -> Result<Option<SecretString>> {
        let (Some(tokens), Some(discovered)) = (st.tokens.clone(), st.discovered.clone()) else {
            return Ok(None);
        };
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Ok(None);
        };
        let Some(client) = self.known_client(&discovered.server).await? else {
            return Ok(None);
        };
        let cfg = &self.inner.config;
        let method = token::choose_method(
            &discovered.server,
            client.token_endpoint_auth_method.as_deref(),
            client.client_secret.is_some(),
            false,
        );
        let auth = ClientAuth {
            client_id: &client.client_id,
            secret: client.client_secret.as_ref(),
            key: cfg.private_key.as_ref(),
            method,
            issuer: &discovered.server.issuer,
        };
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose_secret().to_string()),
            ("resource", discovered.resource.clone()),
        ];
        let span = tracing::info_span!("oauth.refresh");
        let result = token::request(
            &self.inner.http,
            &discovered.server.token_endpoint,
            form,
            &auth,
        )
        .instrument(span)
        .await;
        match result {
            Ok(mut fresh) => {
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = Some(refresh_token);
                }
                if fresh.scope.is_none() {
                    fresh.scope = tokens.scope.clone();
                }
                self.keep_tokens(st, fresh).await.map(Some)
            }
            // Only an OAuth refusal means the refresh token is no good; anything else
            // (the network, a proxy's page, rate limiting) may pass, so keep the tokens.
            Err(e) if !e.is_refusal() => {
                tracing::warn!(error = %e, "token refresh failed; keeping the tokens");
                Err(e)
            }
            // A client we were given (not registered ourselves) that fails to
            // authenticate is a configuration error, say a wrong secret: logging in
            // again would not help, and the tokens may work once it is fixed.
            Err(e) if is_stale_client(&e) && !self.registers_clients(&discovered.server) => {
                tracing::warn!(error = %e, "the server refused the configured client; keeping the tokens");
                Err(e)
            }
            Err(e) => {
                tracing::info!(error = %e, "the refresh token was refused");
                if is_stale_client(&e) {
                    self.inner.storage.clear_client().await?;
                }
                self.drop_refused_refresh_token(st, &tokens).await?;
                Err(e)
            }
        }
    }

    /// Drops a refused refresh token from the store, keeping the access token for the
    /// time it has left, but only if the store still holds that refresh token: another
    /// writer may have stored new tokens since we read ours, and those must stay.
    async fn drop_refused_refresh_token(&self, st: &mut FlowState, refused: &Tokens) -> Result<()> {
        let storage = &self.inner.storage;
        let Some(mut stored) = storage.load_tokens().await? else {
            st.tokens = None;
            return Ok(());
        };
        if !stored.same_refresh_token(refused) {
            tracing::info!("the store holds newer tokens than the refused ones; keeping them");
            st.tokens = Some(stored);
            return Ok(());
        }
        stored.refresh_token = None;
        storage.save_tokens(&stored).await?;
        st.tokens = Some(stored);
        Ok(())
    }
}
