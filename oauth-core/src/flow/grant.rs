//! Obtaining tokens: the authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636)
//! and the client credentials grant (RFC 6749 §4.4).

use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use super::client::{ReadyClient, is_stale_client, may_be_forgotten};
use super::{FlowState, OAuth};
use crate::authorize;
use crate::config::{BrowserMode, GrantMode};
use crate::discovery::{Challenge, Discovered};
use crate::error::{Error, Result};
use crate::storage::Tokens;
use crate::token::{self, ClientAuth};

impl OAuth {
    /// Runs discovery and a full grant, then stores the tokens.
    pub(super) async fn obtain(
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

    /// Authorization code with PKCE. A new registration is stored only once tokens come
    /// of it, so the stored registration is always the one the stored tokens were issued
    /// to, even after a failed login.
    ///
    /// A stored registration the server may have forgotten (it restarted, say) costs
    /// the person at most one failed login, whatever the server answers: before the
    /// browser, the token endpoint is asked whether it still knows the client (see
    /// [`OAuth::client_forgotten`], no authorization is started); `invalid_client` there,
    /// or during the exchange, clears the registration and registers once more. A
    /// login with it that fails anyway (no callback in time, an error at the callback,
    /// a refused exchange) marks it, and the next authorization registers anew.
    ///
    /// Headless ([`BrowserMode::FetchRedirect`]) there is no check: no person waits,
    /// and the authorization request itself starts nothing at a server that does not
    /// know the client. Its answer without a redirect fails the attempt at once (HTTP
    /// 400 registers again within it, as `invalid_client` does), and marks the
    /// registration like any failed login. The check would be a token request that a
    /// strict test server counts against the flow.
    async fn authorization_code(
        &self,
        discovered: &Discovered,
        scope: Option<&str>,
    ) -> Result<Tokens> {
        let mut redone = false;
        loop {
            let ready = self.ready_client(&discovered.server, scope).await?;
            let (dynamic, reused) = (ready.dynamic, ready.reused);
            let headless = matches!(self.inner.config.browser, BrowserMode::FetchRedirect);
            if reused
                && !redone
                && !headless
                && self.client_forgotten(&discovered.server, &ready.info).await
            {
                tracing::info!("the server no longer knows the stored client; registering again");
                self.inner.storage.clear_client().await?;
                redone = true;
                continue;
            }
            let client_id = ready.info.client_id.clone();
            let new_registration = (dynamic && !reused).then(|| ready.info.clone());
            let span = tracing::info_span!("oauth.authorize", client_id = %client_id);
            match self
                .authorize_once(discovered, ready, scope)
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
                Err(e) => {
                    if reused && may_be_forgotten(&e) {
                        tracing::info!(
                            "the login with the stored client failed; the next one registers anew"
                        );
                        if let Err(mark) = self.mark_failed_login(&client_id).await {
                            tracing::warn!(error = %mark, "could not mark the stored client");
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn authorize_once(
        &self,
        discovered: &Discovered,
        ready: ReadyClient,
        scope: Option<&str>,
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
}
