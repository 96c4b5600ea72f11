//! `mcp-auth proxy URL`: a stdio MCP server that forwards every message to a remote
//! MCP server (Streamable HTTP, or the older HTTP+SSE transport) with a token from the
//! store.
//!
//! A desktop client that only speaks stdio starts it as its "server":
//!
//! ```json
//! {"command": "mcp-auth", "args": ["proxy", "https://mcp.example.com/mcp"]}
//! ```
//!
//! # How it is built
//!
//! The proxy is a message pump between two transports of rmcp, the official Rust MCP
//! SDK: its stdio transport on the client's side, and its Streamable HTTP client
//! transport on the server's side. The HTTP transport does the protocol work: the
//! `Mcp-Session-Id` it is given, the `MCP-Protocol-Version` header after `initialize`,
//! JSON and event-stream answers, the GET event stream for server-initiated requests
//! and notifications, answers to those requests, and the `DELETE` that ends the session
//! when the proxy stops. For a server that speaks only the older HTTP+SSE transport
//! (MCP 2024-11-05), which rmcp 3 no longer has a client for, [`sse`] is the server's
//! side; `--transport auto` (the default) tries Streamable HTTP first and falls back to
//! HTTP+SSE when the `initialize` POST is refused with a 4xx status, as the MCP
//! specification's backwards-compatibility rule says (except 401, 403 and 429, which
//! are about the token or the rate, not the transport).
//!
//! rmcp's transport takes a fixed `Authorization` value, which cannot follow a token
//! that is refreshed mid-session, but it lets the HTTP client be replaced: it calls a
//! [`StreamableHttpClient`] for every POST, GET and DELETE, and that client reports a
//! 401 or a 403 `insufficient_scope` with the server's `WWW-Authenticate`. [`Authed`]
//! is that client: rmcp's own reqwest client underneath (built with
//! `oauth_core::http_client_builder()`), a token from oauth-core on every request
//! (refreshed ahead of expiry, once per expiry for everyone sharing the store), and on
//! a 401 [`OAuth::handle_unauthorized`], on a 403 [`OAuth::handle_forbidden`] (step-up),
//! then the same request once more with the new token. The HTTP+SSE side sends its
//! GETs and POSTs through it too.
//!
//! Messages cross the proxy as rmcp's typed JSON-RPC messages: requests with methods
//! rmcp does not know pass as its custom requests, but a field the protocol version
//! rmcp implements does not define may be dropped on the way.
//!
//! stdout carries only MCP messages; what the proxy has to say (the login URL, a
//! failure) goes to stderr, escaped.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::{BoxStream, FuturesUnordered};
use http::{HeaderName, HeaderValue};
use oauth_core::{ExposeSecret, OAuth, SecretString};
use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData, RequestId, ServerJsonRpcMessage};
use rmcp::service::{RoleClient, RoleServer};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, Transport};
use sse_stream::{Error as SseError, Sse};
use url::Url;

use crate::output::{errln, one_line};
use crate::{Failure, Outcome};

mod sse;

/// Which transport the remote server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TransportChoice {
    /// Streamable HTTP (MCP 2025-03-26 and later).
    Http,
    /// The older HTTP+SSE transport (MCP 2024-11-05).
    Sse,
    /// Streamable HTTP; when the server refuses the `initialize` POST with a 4xx status
    /// (404 or 405 from an HTTP+SSE-only server), HTTP+SSE at the same URL.
    Auto,
}

/// The settings of one `proxy` run.
pub(crate) struct Settings {
    pub(crate) url: Url,
    pub(crate) headers: HashMap<HeaderName, HeaderValue>,
    pub(crate) transport: TransportChoice,
}

/// Parses `--header 'Name: value'` options into headers for every request.
pub(crate) fn parse_headers(given: &[String]) -> Outcome<HashMap<HeaderName, HeaderValue>> {
    let mut headers = HashMap::new();
    for text in given {
        let Some((name, value)) = text.split_once(':') else {
            return Err(Failure::usage(format!(
                "--header {text:?} is not `Name: value`"
            )));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Failure::usage(format!(
                "--header {text:?}: {:?} is no header name",
                name.trim()
            ))
        })?;
        if name == http::header::AUTHORIZATION {
            return Err(Failure::usage(
                "--header Authorization: the proxy sends the token from the store itself \
                 (log in with `mcp-auth login URL`)",
            ));
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            Failure::usage(format!(
                "--header {name}: the value holds characters a header cannot carry"
            ))
        })?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The error type of [`Authed`]: the HTTP client's, or no token could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthedError {
    /// The request failed.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// No token: the login or refresh failed.
    #[error("no access token: {0}")]
    Token(#[from] oauth_core::Error),
}

type HttpError = StreamableHttpError<AuthedError>;

/// rmcp's reqwest client with oauth-core's token on every request (see the module docs).
#[derive(Clone)]
pub(crate) struct Authed {
    http: reqwest::Client,
    oauth: OAuth,
}

impl Authed {
    pub(crate) fn new(http: reqwest::Client, oauth: OAuth) -> Self {
        Authed { http, oauth }
    }

    async fn token(&self) -> Result<SecretString, HttpError> {
        self.oauth
            .access_token()
            .await
            .map_err(|e| StreamableHttpError::Client(AuthedError::Token(e)))
    }

    /// Runs `send` with a token; on a 401 or an `insufficient_scope` 403, gets a new
    /// token from oauth-core and runs it once more.
    async fn with_token<T, F, Fut>(&self, send: F) -> Result<T, HttpError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, StreamableHttpError<reqwest::Error>>>,
    {
        let token = self.token().await?;
        let retry_with = match send(token.expose_secret().to_string()).await {
            Ok(answer) => {
                self.oauth.note_success();
                return Ok(answer);
            }
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                tracing::debug!("the server refused the token (401); renewing it");
                self.oauth
                    .handle_unauthorized(Some(&token), &[&challenge.www_authenticate_header])
                    .await
                    .map_err(|e| StreamableHttpError::Client(AuthedError::Token(e)))?
            }
            Err(StreamableHttpError::InsufficientScope(challenge)) => {
                tracing::debug!("the server asks for more scope (403); stepping up");
                match self
                    .oauth
                    .handle_forbidden(Some(&token), &[&challenge.www_authenticate_header])
                    .await
                    .map_err(|e| StreamableHttpError::Client(AuthedError::Token(e)))?
                {
                    Some(token) => token,
                    None => return Err(StreamableHttpError::InsufficientScope(challenge)),
                }
            }
            Err(e) => return Err(convert(e)),
        };
        let answer = send(retry_with.expose_secret().to_string())
            .await
            .map_err(convert)?;
        self.oauth.note_success();
        Ok(answer)
    }
}

/// rmcp's error for the reqwest client, as the error of [`Authed`]: the same variant
/// (the transport decides on them: an expired session, no event stream), with the
/// client error wrapped.
fn convert(e: StreamableHttpError<reqwest::Error>) -> HttpError {
    use StreamableHttpError as E;
    match e {
        E::Sse(e) => E::Sse(e),
        E::Io(e) => E::Io(e),
        E::Client(e) => E::Client(AuthedError::Http(e)),
        E::HttpStatus(e) => E::HttpStatus(e),
        E::UnexpectedEndOfStream => E::UnexpectedEndOfStream,
        E::UnexpectedServerResponse(e) => E::UnexpectedServerResponse(e),
        E::ResponseBodyTooLarge { max_size } => E::ResponseBodyTooLarge { max_size },
        E::UnexpectedContentType(e) => E::UnexpectedContentType(e),
        E::ServerDoesNotSupportSse => E::ServerDoesNotSupportSse,
        E::ServerDoesNotSupportDeleteSession => E::ServerDoesNotSupportDeleteSession,
        E::TokioJoinError(e) => E::TokioJoinError(e),
        E::Deserialize(e) => E::Deserialize(e),
        E::TransportChannelClosed => E::TransportChannelClosed,
        E::MissingSessionIdInResponse => E::MissingSessionIdInResponse,
        E::AuthRequired(e) => E::AuthRequired(e),
        E::InsufficientScope(e) => E::InsufficientScope(e),
        E::ReservedHeaderConflict(e) => E::ReservedHeaderConflict(e),
        E::SessionExpired => E::SessionExpired,
        E::SessionRecoveryTimeout => E::SessionRecoveryTimeout,
        E::ReinitializationFailed(e) => E::ReinitializationFailed(e),
        E::ControlRequestTimeout => E::ControlRequestTimeout,
        other => E::UnexpectedServerResponse(other.to_string().into()),
    }
}

impl StreamableHttpClient for Authed {
    type Error = AuthedError;

    fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = Result<StreamableHttpPostResponse, HttpError>> + Send + '_ {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
    }

    fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> impl Future<Output = Result<StreamableHttpPostResponse, HttpError>> + Send + '_ {
        self.with_token(move |token| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                Some(token),
                custom_headers.clone(),
                limits,
            )
        })
    }

    fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = Result<(), HttpError>> + Send + '_ {
        self.with_token(move |token| {
            self.http.delete_session(
                uri.clone(),
                session_id.clone(),
                Some(token),
                custom_headers.clone(),
            )
        })
    }

    fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Sse, SseError>>, HttpError>> + Send + '_
    {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default().max_sse_event_size,
        )
    }

    fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Sse, SseError>>, HttpError>> + Send + '_
    {
        self.with_token(move |token| {
            self.http.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                Some(token),
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
    }
}

/// How long the end of the session at the server may take.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How long, after the server's side closed, answers still owed to the client may take.
const DRAIN: Duration = Duration::from_secs(5);

/// A message on its way to the server: the request's ID (to answer with an error if
/// it cannot be delivered) and the transport's send.
type Delivery = Pin<Box<dyn Future<Output = (Option<RequestId>, Result<(), HttpError>)> + Send>>;

/// Why the pump stopped.
enum Stop {
    /// The client closed stdin (or its stdout went away): the normal end.
    ClientGone,
    /// A signal asked the proxy to stop.
    Signal,
    /// The server's side ended.
    ServerGone,
}

/// The server's side over HTTP+SSE: rmcp's worker transport around [`sse::SseWorker`].
type SseTransport = rmcp::transport::WorkerTransport<sse::SseWorker>;

/// Runs the proxy until the client goes away; ends the session at the server.
pub(crate) async fn run(settings: Settings, oauth: OAuth) -> Outcome {
    let url = settings.url;
    let setup =
        |e: &dyn std::fmt::Display| Failure::failed(format!("cannot set up the HTTP client: {e}"));
    let http = oauth_core::http_client_builder()
        .map_err(|e| setup(&e))?
        .redirect(same_origin_redirects(&url))
        .build()
        .map_err(|e| setup(&e))?;
    let authed = Authed::new(http, oauth);
    let mut client = IntoTransport::<RoleServer, _, _>::into_transport(rmcp::transport::stdio());
    let stop = match settings.transport {
        TransportChoice::Http => {
            let mut server = streamable(authed, &url, settings.headers);
            pump_and_close(&mut client, &mut server, None, TransportChoice::Http).await
        }
        TransportChoice::Sse => {
            // The event stream opens before the client says anything, so that a server
            // that does not speak HTTP+SSE is told at once.
            let remote = sse::Remote::new(authed, url.clone(), settings.headers);
            let connection = remote.connect().await.map_err(|e| {
                Failure::failed(format!(
                    "cannot open the HTTP+SSE event stream of {url}: {}",
                    describe(&e, TransportChoice::Sse)
                ))
            })?;
            let mut server = SseTransport::spawn(sse::SseWorker::new(remote, connection));
            pump_and_close(&mut client, &mut server, None, TransportChoice::Sse).await
        }
        TransportChoice::Auto => auto(&mut client, authed, &url, settings.headers).await,
    };
    match stop {
        Stop::ClientGone | Stop::Signal => Ok(()),
        Stop::ServerGone => Err(Failure::failed(format!(
            "the connection to {url} ended; see the messages above"
        ))),
    }
}

/// Redirects followed only within the server's origin: reqwest's own policy would
/// follow one elsewhere with the `--header` values (it drops only `Authorization`).
fn same_origin_redirects(url: &Url) -> reqwest::redirect::Policy {
    const MAX_REDIRECTS: usize = 10;
    let origin = url.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.url().origin() != origin {
            tracing::debug!("a redirect to another origin, not followed");
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// rmcp's Streamable HTTP client transport over [`Authed`].
fn streamable(
    authed: Authed,
    url: &Url,
    headers: HashMap<HeaderName, HeaderValue>,
) -> StreamableHttpClientTransport<Authed> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers);
    StreamableHttpClientTransport::with_client(authed, config)
}

/// [`pump`], then the end of the session at the server (a DELETE, if it gave one).
async fn pump_and_close<C, S>(
    client: &mut C,
    server: &mut S,
    first: Option<ClientJsonRpcMessage>,
    transport: TransportChoice,
) -> Stop
where
    C: Transport<RoleServer>,
    S: Transport<RoleClient, Error = HttpError>,
{
    let stop = pump(client, server, first, transport).await;
    // rmcp's close waits for its worker to end: bounded, so a server that holds a
    // request cannot keep the proxy from exiting.
    match tokio::time::timeout(CLOSE_WAIT, server.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "closing the server side"),
        Err(_) => tracing::debug!("closing the server side took too long; left"),
    }
    stop
}

/// Whether a status refusing the `initialize` POST says that the URL does not speak
/// Streamable HTTP: a 4xx status other than 401, 403 (the token) and 429 (the rate).
fn refuses_the_transport(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 429)
}

/// `--transport auto`: the client's `initialize` goes to the URL as Streamable HTTP;
/// refused with a 4xx status, it goes to an HTTP+SSE session at the same URL (the MCP
/// specification's rule for servers of the older transport). 401 and 403 (the token,
/// after renewal and step-up were tried) and 429 (the rate) are not about the
/// transport and end the session with the server's reason.
async fn auto<C: Transport<RoleServer>>(
    client: &mut C,
    authed: Authed,
    url: &Url,
    headers: HashMap<HeaderName, HeaderValue>,
) -> Stop {
    let Some(first) = client.receive().await else {
        return Stop::ClientGone;
    };
    let mut server = streamable(authed.clone(), url, headers.clone());
    let initialize = match &first {
        ClientJsonRpcMessage::Request(r)
            if matches!(r.request, rmcp::model::ClientRequest::InitializeRequest(_)) =>
        {
            r.id.clone()
        }
        _ => return pump_and_close(client, &mut server, Some(first), TransportChoice::Auto).await,
    };
    // rmcp's transport answers the send once the POST has its response.
    let refused = match server.send(first.clone()).await {
        Ok(()) => return pump_and_close(client, &mut server, None, TransportChoice::Auto).await,
        Err(e) => e,
    };
    let Some(status) = refused_with(&refused).filter(|status| refuses_the_transport(*status))
    else {
        let why = describe(&refused, TransportChoice::Auto);
        if answer_failure(client, Some(initialize), why).await.is_err() {
            return Stop::ClientGone;
        }
        return Stop::ServerGone;
    };
    drop(server);
    tracing::debug!(status, "Streamable HTTP refused; trying HTTP+SSE");
    let remote = sse::Remote::new(authed, url.clone(), headers);
    match remote.connect().await {
        Ok(connection) => {
            let mut server = SseTransport::spawn(sse::SseWorker::new(remote, connection));
            pump_and_close(client, &mut server, Some(first), TransportChoice::Sse).await
        }
        Err(e) => {
            let why = format!(
                "the server refuses Streamable HTTP ({}), and its HTTP+SSE event stream \
                 cannot be opened either: {}",
                one_line(&refused.to_string(), MAX_MESSAGE),
                describe(&e, TransportChoice::Sse)
            );
            if answer_failure(client, Some(initialize), why).await.is_err() {
                return Stop::ClientGone;
            }
            Stop::ServerGone
        }
    }
}

/// Moves messages both ways until one side ends; `first` goes to the server first.
async fn pump<C, S>(
    client: &mut C,
    server: &mut S,
    first: Option<ClientJsonRpcMessage>,
    transport: TransportChoice,
) -> Stop
where
    C: Transport<RoleServer>,
    S: Transport<RoleClient, Error = HttpError>,
{
    let mut deliveries = FuturesUnordered::<Delivery>::new();
    let mut signal = std::pin::pin!(stop_signal());
    let mut first = first;
    let stop = loop {
        let incoming = match first.take() {
            Some(message) => Some(message),
            None => tokio::select! {
                incoming = client.receive() => {
                    let Some(message) = incoming else { break Stop::ClientGone };
                    Some(message)
                }
                outgoing = server.receive() => {
                    let Some(message) = outgoing else { break Stop::ServerGone };
                    if client.send(message).await.is_err() {
                        break Stop::ClientGone;
                    }
                    None
                }
                Some(done) = deliveries.next(), if !deliveries.is_empty() => {
                    if failed(client, done, transport).await.is_err() {
                        break Stop::ClientGone;
                    }
                    None
                }
                () = &mut signal => break Stop::Signal,
            },
        };
        let Some(message) = incoming else { continue };
        let id = match &message {
            ClientJsonRpcMessage::Request(r) => Some(r.id.clone()),
            _ => None,
        };
        let send = server.send(message);
        let mut delivery: Delivery = Box::pin(async move { (id, send.await) });
        // Polled once now, so that messages enter the transport in the order the
        // client sent them; the rest of the delivery runs alongside.
        match futures_util::poll!(delivery.as_mut()) {
            Poll::Ready(done) => {
                if failed(client, done, transport).await.is_err() {
                    break Stop::ClientGone;
                }
            }
            Poll::Pending => deliveries.push(delivery),
        }
    };
    if matches!(stop, Stop::ServerGone) {
        // The failures of the last deliveries are the answers the client still waits for.
        let _ = tokio::time::timeout(DRAIN, async {
            while let Some(done) = deliveries.next().await {
                if failed(client, done, transport).await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
    stop
}

/// A delivery that failed is answered (see [`answer_failure`]). `Err` when stdout is
/// gone.
async fn failed<C: Transport<RoleServer>>(
    client: &mut C,
    (id, result): (Option<RequestId>, Result<(), HttpError>),
    transport: TransportChoice,
) -> Result<(), ()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => answer_failure(client, id, describe(&e, transport)).await,
    }
}

/// What went wrong, with what the user can do about it.
fn describe(e: &HttpError, transport: TransportChoice) -> String {
    let mut why = e.to_string();
    if let StreamableHttpError::Client(AuthedError::Token(_)) = e {
        why = format!("{why} (log in again with `mcp-auth login URL`)");
    }
    if let (Some(status @ (404 | 405)), TransportChoice::Http) = (refused_with(e), transport) {
        why = format!(
            "{why}: check the URL ({status}: is it the server's Streamable HTTP endpoint? \
             --transport sse or auto for the older HTTP+SSE transport)"
        );
    }
    if let (StreamableHttpError::ServerDoesNotSupportSse, TransportChoice::Sse) = (e, transport) {
        why = format!(
            "{why}: the URL refuses a GET (405); is it the server's HTTP+SSE endpoint? \
             --transport http or auto for Streamable HTTP"
        );
    }
    why
}

/// A request that could not be delivered gets a JSON-RPC error, so the client does not
/// wait for ever; the failure is also told on stderr. `Err` when stdout is gone.
async fn answer_failure<C: Transport<RoleServer>>(
    client: &mut C,
    id: Option<RequestId>,
    why: String,
) -> Result<(), ()> {
    errln!(
        "mcp-auth proxy: a message could not be delivered: {}",
        one_line(&why, MAX_MESSAGE)
    );
    let Some(id) = id else { return Ok(()) };
    let error = ErrorData::new(ErrorCode::INTERNAL_ERROR, why, None);
    client
        .send(ServerJsonRpcMessage::error(error, Some(id)))
        .await
        .map_err(|_| ())
}

/// The longest failure told on stderr, in characters (server text can be long).
const MAX_MESSAGE: usize = 600;

/// The HTTP status a POST was refused with, when the error tells it: rmcp's reqwest
/// client keeps 429 and 5xx as a status, and words other refusals `HTTP <status> …`.
fn refused_with(e: &HttpError) -> Option<u16> {
    match e {
        StreamableHttpError::HttpStatus(status) => Some(status.status),
        StreamableHttpError::UnexpectedServerResponse(text) => text
            .strip_prefix("HTTP ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok()),
        _ => None,
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_tell_their_status() {
        let worded =
            StreamableHttpError::UnexpectedServerResponse("HTTP 405 Method Not Allowed: x".into());
        assert_eq!(refused_with(&worded), Some(405));
        for status in [400, 404, 405, 406, 415, 422] {
            assert!(refuses_the_transport(status), "{status}");
        }
        for status in [200, 302, 401, 403, 429, 500, 503] {
            assert!(!refuses_the_transport(status), "{status}");
        }
        let status = StreamableHttpError::HttpStatus(
            rmcp::transport::streamable_http_client::HttpStatusError::new(503, None),
        );
        assert_eq!(refused_with(&status), Some(503));
        let other = StreamableHttpError::UnexpectedServerResponse("HTTP é".into());
        assert_eq!(refused_with(&other), None);
        assert_eq!(refused_with(&StreamableHttpError::SessionExpired), None);
    }

    #[test]
    fn headers_parse_and_refuse_what_they_must() {
        let headers =
            parse_headers(&["X-Api-Key: abc".into(), "x-team:  blue ".into()]).unwrap_or_default();
        assert_eq!(headers.len(), 2);
        assert_eq!(
            headers
                .get(&HeaderName::from_static("x-team"))
                .and_then(|v| v.to_str().ok()),
            Some("blue")
        );
        for bad in [
            "no colon",
            "bad name: x",
            "Authorization: Bearer x",
            "X: a\u{7}b",
        ] {
            let failure = parse_headers(&[bad.to_string()]).err();
            assert_eq!(failure.map(|f| f.code), Some(crate::exit::USAGE), "{bad}");
        }
    }
}
