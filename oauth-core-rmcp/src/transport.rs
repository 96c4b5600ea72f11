//! rmcp's Streamable HTTP client with tokens from oauth-core.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use oauth_core::{ExposeSecret, OAuth, SecretString};
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::AuthError;
use rmcp::transport::common::client_side_sse::BoxedSseResponse;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use url::Url;

/// At most this many step-up authorizations for one request (oauth-core allows three in
/// a row before giving up on its own).
const MAX_STEP_UPS: usize = 3;

/// The transport [`transport`] returns: rmcp's Streamable HTTP client transport over an
/// [`OAuthHttpClient`] on reqwest.
pub type OAuthTransport = StreamableHttpClientTransport<OAuthHttpClient<reqwest::Client>>;

/// An rmcp [`StreamableHttpClient`] that authorizes every request with a token from
/// oauth-core's [`OAuth`], around another client (reqwest's by default) that does the HTTP.
///
/// - Each request to the OAuth client's server (same origin) carries
///   `Authorization: Bearer <token>` from [`OAuth::access_token`]: the stored token,
///   refreshed ahead of expiry under oauth-core's fleet-wide lease, or a new login.
///   rmcp's own `auth_header` setting is ignored for those; requests to any other origin
///   go out without a token.
/// - A `401` (with or without a `WWW-Authenticate` challenge) is retried once with the
///   token [`OAuth::handle_unauthorized`] returns (a refresh, or a new authorization); a
///   second `401` is returned to rmcp as it came ([`StreamableHttpError::AuthRequired`],
///   or [`StreamableHttpError::HttpStatus`] without a challenge).
/// - A `403` with `error="insufficient_scope"` is retried with the token
///   [`OAuth::handle_forbidden`] returns (a step-up authorization with the union of the
///   held and challenged scopes), at most three times; then, or when oauth-core gives
///   up, rmcp gets [`StreamableHttpError::InsufficientScope`].
/// - When oauth-core fails (discovery, registration, login, the token store), the
///   request fails with [`StreamableHttpError::Auth`] carrying
///   [`AuthError::AuthorizationFailed`] with oauth-core's message (no secrets in it).
///
/// Tokens are handed to the inner client as the `String` rmcp's trait takes, per
/// request; reqwest marks the header sensitive. `Debug` never shows them.
#[derive(Clone)]
pub struct OAuthHttpClient<C = reqwest::Client> {
    inner: C,
    oauth: OAuth,
}

impl<C> fmt::Debug for OAuthHttpClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthHttpClient")
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

impl OAuthHttpClient<reqwest::Client> {
    /// A client on reqwest with oauth-core's TLS set-up
    /// ([`oauth_core::http_client_builder`]: rustls, the installed crypto provider or
    /// ring, the platform verifier).
    ///
    /// # Errors
    ///
    /// [`oauth_core::Error::Config`] when the TLS set-up or the client cannot be built.
    pub fn new(oauth: OAuth) -> oauth_core::Result<Self> {
        let inner = oauth_core::http_client_builder()?
            .build()
            .map_err(|e| oauth_core::Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(OAuthHttpClient { inner, oauth })
    }
}

impl<C> OAuthHttpClient<C> {
    /// Authorizes the requests of `inner` (any rmcp Streamable HTTP client) with `oauth`.
    pub fn with_client(inner: C, oauth: OAuth) -> Self {
        OAuthHttpClient { inner, oauth }
    }

    /// The OAuth client the tokens come from.
    pub fn oauth(&self) -> &OAuth {
        &self.oauth
    }
}

/// rmcp's Streamable HTTP client transport to `oauth`'s server
/// ([`OAuth::server_url`]), authorized by oauth-core: serve an rmcp client over it
/// (`().serve(transport).await`). For other settings of the transport, build it with
/// [`StreamableHttpClientTransport::with_client`] and an [`OAuthHttpClient`].
///
/// # Errors
///
/// [`oauth_core::Error::Config`] when the HTTP client cannot be built (TLS set-up).
pub fn transport(oauth: OAuth) -> oauth_core::Result<OAuthTransport> {
    let uri = oauth.server_url().to_string();
    let client = OAuthHttpClient::new(oauth)?;
    Ok(StreamableHttpClientTransport::with_client(
        client,
        StreamableHttpClientTransportConfig::with_uri(uri),
    ))
}

fn oauth_failure<E>(e: oauth_core::Error) -> StreamableHttpError<E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    tracing::warn!(error = %e, "oauth-core could not provide a token");
    StreamableHttpError::Auth(AuthError::AuthorizationFailed(e.to_string()))
}

impl<C> OAuthHttpClient<C>
where
    C: StreamableHttpClient + Sync,
{
    /// Runs `call` with a token, reacting to the server's 401 and 403 challenges.
    async fn authorized<T, F, Fut>(
        &self,
        uri: &str,
        call: F,
    ) -> Result<T, StreamableHttpError<C::Error>>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, StreamableHttpError<C::Error>>>,
    {
        let for_server = Url::parse(uri).is_ok_and(|url| self.oauth.is_for_server(&url));
        if !for_server {
            return call(None).await;
        }
        let mut token: SecretString = self.oauth.access_token().await.map_err(oauth_failure)?;
        let mut unauthorized_handled = false;
        let mut step_ups = 0;
        loop {
            match call(Some(token.expose_secret().to_string())).await {
                Ok(value) => {
                    self.oauth.note_success();
                    return Ok(value);
                }
                Err(StreamableHttpError::AuthRequired(challenge)) if !unauthorized_handled => {
                    unauthorized_handled = true;
                    let values = [challenge.www_authenticate_header.as_str()];
                    token = self
                        .oauth
                        .handle_unauthorized(Some(&token), &values)
                        .await
                        .map_err(oauth_failure)?;
                }
                Err(StreamableHttpError::AuthRequired(challenge)) => {
                    tracing::warn!("the server refused a token it had just issued");
                    return Err(StreamableHttpError::AuthRequired(challenge));
                }
                // A 401 without a challenge: rmcp reports the bare status.
                Err(StreamableHttpError::HttpStatus(status))
                    if status.status == 401 && !unauthorized_handled =>
                {
                    unauthorized_handled = true;
                    token = self
                        .oauth
                        .handle_unauthorized(Some(&token), &[])
                        .await
                        .map_err(oauth_failure)?;
                }
                Err(StreamableHttpError::InsufficientScope(challenge))
                    if step_ups < MAX_STEP_UPS =>
                {
                    step_ups += 1;
                    let values = [challenge.www_authenticate_header.as_str()];
                    match self.oauth.handle_forbidden(Some(&token), &values).await {
                        Ok(Some(fresh)) => token = fresh,
                        Ok(None) => return Err(StreamableHttpError::InsufficientScope(challenge)),
                        Err(oauth_core::Error::InsufficientScope(reason)) => {
                            tracing::warn!(
                                reason = %oauth_core::text::shown(&reason),
                                "not retrying a 403"
                            );
                            return Err(StreamableHttpError::InsufficientScope(challenge));
                        }
                        Err(e) => return Err(oauth_failure(e)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<C> StreamableHttpClient for OAuthHttpClient<C>
where
    C: StreamableHttpClient + Sync,
{
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxedSseResponse, StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxedSseResponse, StreamableHttpError<Self::Error>> {
        self.authorized(&uri, |token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
