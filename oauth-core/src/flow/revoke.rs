//! Revocation (RFC 7009) of the stored tokens.

use super::OAuth;
use crate::config::GrantMode;
use crate::error::{Error, ErrorCode, Result};
use crate::token::{self, ClientAuth};

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

impl OAuth {
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
                        error: Some(ErrorCode::UnsupportedTokenType),
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
}
