//! The client identity: a configured client ID, a client ID metadata document (CIMD),
//! a stored registration (RFC 7591) whose redirect URI can be served again, or a new
//! registration.

use tracing::Instrument;
use url::Url;

use super::OAuth;
use crate::callback::{CallbackServer, port_is_free};
use crate::discovery::AsMetadata;
use crate::error::{Error, Result};
use crate::registration;
use crate::storage::ClientInfo;

/// A client ready to authorize: its identity, and the callback server for its redirect URI.
pub(super) struct ReadyClient {
    pub(super) info: ClientInfo,
    /// Registered dynamically (so it may be cleared and redone when stale).
    pub(super) dynamic: bool,
    /// A stored registration reused (which the server may have forgotten since).
    pub(super) reused: bool,
    pub(super) callback: CallbackServer,
}

pub(super) fn is_stale_client(error: &Error) -> bool {
    match error {
        Error::UnknownClient { .. } => true,
        _ => error.oauth_code().is_some_and(|c| c.refuses_client()),
    }
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
