//! The older HTTP+SSE transport (MCP 2024-11-05) on the server's side of the proxy.
//!
//! rmcp 3 has no client for it (it dropped its SSE client transport), so this is a
//! small one, built from rmcp's parts: its [`Worker`] turns it into a transport for the
//! pump, and every request goes through [`Authed`], the same client as for Streamable
//! HTTP (rmcp's reqwest client, oauth-core's token, a renewal on 401, a step-up on
//! `insufficient_scope`, the event stream parsed and bounded as rmcp does).
//!
//! The protocol: a GET of the server's URL opens an event stream whose first event,
//! `endpoint`, names the URL that takes the client's messages by POST; every answer,
//! notification and request of the server comes on that stream as a `message` event.
//!
//! The token is sent only to the server's origin: an `endpoint` elsewhere is refused.
//! When the stream is lost (a restart, a proxy in between, the token refused on the
//! way back in), the proxy opens a new one (a 401 renews the token first), answers
//! the requests the old stream still owed with an error, and sends the client's
//! `initialize` and `notifications/initialized` again in the new session, whose
//! answer only the proxy sees.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, SelectAll};
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorCode, ErrorData, JsonRpcMessage,
    JsonRpcRequest, RequestId, ServerJsonRpcMessage,
};
use rmcp::service::RoleClient;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use rmcp::transport::worker::{Worker, WorkerContext, WorkerQuitReason, WorkerSendRequest};
use sse_stream::{Error as SseError, Sse};
use tokio::sync::oneshot;
use url::Url;

use super::{Authed, AuthedError, HttpError, MAX_MESSAGE};
use crate::output::{errln, one_line};

/// How long the server may take to name its message endpoint after the GET.
const ENDPOINT_WAIT: Duration = Duration::from_secs(30);

/// How long the server may take to answer the `initialize` sent again after a reconnect.
const REINITIALIZE_WAIT: Duration = Duration::from_secs(30);

/// The pauses before each attempt to reopen a lost event stream.
const RECONNECT_DELAYS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(4),
];

/// How many times within [`REOPEN_WINDOW`] a lost event stream is opened again: a
/// server that ends every stream at once is given up on, not reconnected for ever.
const MAX_REOPENS: usize = 5;
const REOPEN_WINDOW: Duration = Duration::from_secs(60);

type Events = BoxStream<'static, Result<Sse, SseError>>;

/// An open event stream and the URL its server named for the client's messages.
pub(crate) struct Connection {
    events: Events,
    endpoint: Arc<str>,
}

/// The server and what goes with every request to it.
#[derive(Clone)]
pub(crate) struct Remote {
    client: Authed,
    url: Url,
    headers: HashMap<HeaderName, HeaderValue>,
}

impl Remote {
    pub(crate) fn new(client: Authed, url: Url, headers: HashMap<HeaderName, HeaderValue>) -> Self {
        Remote {
            client,
            url,
            headers,
        }
    }

    /// GETs the event stream and reads it up to the `endpoint` event. The GET has no
    /// time limit of its own (a 401 may lead to a login in the browser), as the
    /// Streamable HTTP side's requests have none; the `endpoint` event must come
    /// within [`ENDPOINT_WAIT`] of the stream's start.
    pub(crate) async fn connect(&self) -> Result<Connection, HttpError> {
        let limits = StreamableHttpResponseLimits::default();
        let mut events = self
            .client
            .get_stream_with_max_sse_event_size(
                self.url.as_str().into(),
                None,
                None,
                None,
                self.headers.clone(),
                limits.max_sse_event_size,
            )
            .await?;
        let named = tokio::time::timeout(ENDPOINT_WAIT, async {
            while let Some(event) = events.next().await {
                let event = event.map_err(StreamableHttpError::Sse)?;
                if event.event.as_deref() == Some("endpoint") {
                    return endpoint(&self.url, event.data.as_deref().unwrap_or_default());
                }
            }
            Err(StreamableHttpError::UnexpectedEndOfStream)
        })
        .await
        .map_err(|_| {
            unexpected(format!(
                "no `endpoint` event within {} s (is this the server's HTTP+SSE URL?)",
                ENDPOINT_WAIT.as_secs()
            ))
        })??;
        Ok(Connection {
            events,
            endpoint: named,
        })
    }

    /// POSTs one message to the endpoint. Returns once the server has answered the
    /// POST (so it has the message): with what it put in the POST's own response (the
    /// answer belongs on the event stream, but some servers put it here).
    async fn post(
        &self,
        endpoint: Arc<str>,
        message: ClientJsonRpcMessage,
    ) -> Result<Posted, HttpError> {
        let answer = self
            .client
            .post_message_with_response_limits(
                endpoint,
                message,
                None,
                None,
                self.headers.clone(),
                StreamableHttpResponseLimits::default(),
            )
            .await;
        match answer {
            Ok(StreamableHttpPostResponse::Json(message, _)) => {
                Ok(Posted::Answer(Box::new(message)))
            }
            Ok(StreamableHttpPostResponse::Sse(events, _)) => Ok(Posted::Stream(events)),
            // Servers of this transport answer 202 Accepted, some 200 with a word of
            // plain text: either way the answer comes on the event stream.
            Ok(_) | Err(StreamableHttpError::UnexpectedContentType(_)) => Ok(Posted::Nothing),
            Err(e) => Err(e),
        }
    }
}

/// What the server put in a POST's own response.
enum Posted {
    Nothing,
    Answer(Box<ServerJsonRpcMessage>),
    Stream(Events),
}

fn unexpected(text: String) -> HttpError {
    StreamableHttpError::UnexpectedServerResponse(text.into())
}

/// The URL an `endpoint` event names, resolved against the stream's URL; only on the
/// same origin, which is the one the token is for.
fn endpoint(base: &Url, data: &str) -> Result<Arc<str>, HttpError> {
    let url = base
        .join(data.trim())
        .map_err(|_| unexpected("the `endpoint` event holds no URL".into()))?;
    if url.origin() != base.origin() {
        return Err(unexpected(format!(
            "the `endpoint` event names another origin ({}); the proxy sends its token only to {}",
            url.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    Ok(url.as_str().into())
}

/// The MCP message an event carries: `message` events (or events with no name) with
/// data; keep-alive comments and other events carry none.
fn carried(event: Sse) -> Option<ServerJsonRpcMessage> {
    if event.event.as_deref().is_some_and(|name| name != "message") {
        tracing::debug!("an event that is not a message, skipped");
        return None;
    }
    let data = event.data?;
    match serde_json::from_str(&data) {
        Ok(message) => Some(message),
        Err(e) => {
            errln!(
                "mcp-auth proxy: a message from the server could not be read and is dropped: {}",
                one_line(&e.to_string(), MAX_MESSAGE)
            );
            None
        }
    }
}

/// What the proxy keeps of the session to answer for a lost stream and open a new one.
#[derive(Default)]
struct Session {
    /// Requests sent whose answers have not reached the client yet.
    waiting: HashSet<RequestId>,
    /// The client's `initialize`, and whether the server accepted it.
    initialize: Option<ClientJsonRpcMessage>,
    initialized: bool,
    /// The client's `notifications/initialized`.
    initialized_notification: Option<ClientJsonRpcMessage>,
    /// How many times the session was opened again.
    reopened: u32,
    /// When the event stream was lost, within the last [`REOPEN_WINDOW`].
    losses: VecDeque<Instant>,
}

impl Session {
    /// A message about to be POSTed.
    fn sent(&mut self, message: &ClientJsonRpcMessage) {
        match message {
            JsonRpcMessage::Request(request) => {
                self.waiting.insert(request.id.clone());
                if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                    self.initialize = Some(message.clone());
                    self.initialized = false;
                }
            }
            JsonRpcMessage::Notification(notification) => match &notification.notification {
                ClientNotification::InitializedNotification(_) => {
                    self.initialized_notification = Some(message.clone());
                }
                // The client no longer waits for it: nothing is owed.
                ClientNotification::CancelledNotification(cancelled) => {
                    if let Some(id) = &cancelled.params.request_id {
                        self.waiting.remove(id);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// A message from the server, on the event stream or in a POST's response: whether
    /// it goes to the client. An answer to a request the client no longer waits for
    /// (answered with an error already, or cancelled) does not.
    fn received(&mut self, message: &ServerJsonRpcMessage) -> bool {
        let id = match message {
            JsonRpcMessage::Response(response) => &response.id,
            JsonRpcMessage::Error(error) => match &error.id {
                Some(id) => id,
                None => return true,
            },
            _ => return true,
        };
        if !self.waiting.remove(id) {
            return false;
        }
        if let (JsonRpcMessage::Response(_), Some(JsonRpcMessage::Request(initialize))) =
            (message, &self.initialize)
            && &initialize.id == id
        {
            self.initialized = true;
        }
        true
    }

    /// A request whose POST failed: whether its failure is still owed to the client
    /// (not when the loss of the stream already answered it).
    fn failed(&mut self, id: Option<&RequestId>) -> bool {
        id.is_none_or(|id| self.waiting.remove(id))
    }

    /// The stream was lost now: `false` when it was lost too often lately.
    fn lost_again(&mut self, now: Instant) -> bool {
        while self
            .losses
            .front()
            .is_some_and(|lost| now.duration_since(*lost) > REOPEN_WINDOW)
        {
            self.losses.pop_front();
        }
        self.losses.push_back(now);
        self.losses.len() <= MAX_REOPENS
    }
}

/// rmcp's worker for the transport: POSTs what the client sends, passes on what the
/// event stream brings, and reopens a lost stream.
pub(crate) struct SseWorker {
    remote: Remote,
    connection: Connection,
}

impl SseWorker {
    /// The worker over an event stream already open (so that a failure to open it is
    /// told before the client sends anything).
    pub(crate) fn new(remote: Remote, connection: Connection) -> Self {
        SseWorker { remote, connection }
    }
}

type Quit = WorkerQuitReason<HttpError>;

/// The POST under way: the request's ID, the client's wait for it, the POST.
struct InFlight {
    id: Option<RequestId>,
    responder: oneshot::Sender<Result<(), HttpError>>,
    post: BoxFuture<'static, Result<Posted, HttpError>>,
}

/// Event streams the server opened in POST responses, each with its request's ID.
type PostStreams = SelectAll<BoxStream<'static, (Option<RequestId>, Result<Sse, SseError>)>>;

impl Worker for SseWorker {
    type Error = HttpError;
    type Role = RoleClient;

    fn err_closed() -> HttpError {
        StreamableHttpError::TransportChannelClosed
    }

    fn err_join(e: tokio::task::JoinError) -> HttpError {
        StreamableHttpError::TokioJoinError(e)
    }

    async fn run(self, mut context: WorkerContext<Self>) -> Result<(), Quit> {
        let SseWorker {
            remote,
            mut connection,
        } = self;
        let mut session = Session::default();
        let cancelled = context.cancellation_token.clone();
        // One POST at a time, in the order the client sent its messages: the server
        // gets `notifications/initialized` before the next request, and a
        // `notifications/cancelled` after its request. (A server of this transport
        // answers a POST at once, 202, and the answer comes on the event stream.)
        let mut queue = VecDeque::<WorkerSendRequest<SseWorker>>::new();
        let mut posting: Option<InFlight> = None;
        let mut post_streams = PostStreams::new();
        loop {
            if posting.is_none()
                && let Some(request) = queue.pop_front()
            {
                session.sent(&request.message);
                let id = match &request.message {
                    JsonRpcMessage::Request(r) => Some(r.id.clone()),
                    _ => None,
                };
                let remote = remote.clone();
                let endpoint = connection.endpoint.clone();
                let message = request.message;
                posting = Some(InFlight {
                    id,
                    responder: request.responder,
                    post: Box::pin(async move { remote.post(endpoint, message).await }),
                });
            }
            tokio::select! {
                () = cancelled.cancelled() => return Err(WorkerQuitReason::Cancelled),
                request = context.recv_from_handler() => queue.push_back(request?),
                posted = async {
                    match posting.as_mut() {
                        Some(in_flight) => in_flight.post.as_mut().await,
                        None => std::future::pending().await,
                    }
                }, if posting.is_some() => {
                    let Some(InFlight { id, responder, .. }) = posting.take() else { continue };
                    match posted {
                        Ok(posted) => {
                            let _ = responder.send(Ok(()));
                            match posted {
                                Posted::Nothing => {}
                                Posted::Answer(message) => {
                                    pass(&mut session, &mut context, *message).await?;
                                }
                                Posted::Stream(events) => post_streams
                                    .push(events.map(move |event| (id.clone(), event)).boxed()),
                            }
                        }
                        // Told to the client by the pump, once.
                        Err(e) => {
                            let owed = session.failed(id.as_ref());
                            let _ = responder.send(if owed { Err(e) } else { Ok(()) });
                        }
                    }
                }
                Some((id, event)) = post_streams.next(), if !post_streams.is_empty() => {
                    match event {
                        Ok(event) => {
                            if let Some(message) = carried(event) {
                                pass(&mut session, &mut context, message).await?;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "a POST's event stream failed");
                            if let Some(id) = id.filter(|id| session.waiting.remove(id)) {
                                let error = ErrorData::new(
                                    ErrorCode::INTERNAL_ERROR,
                                    format!(
                                        "the event stream of the POST failed before the answer came: {}",
                                        one_line(&e.to_string(), MAX_MESSAGE)
                                    ),
                                    None,
                                );
                                context
                                    .send_to_handler(ServerJsonRpcMessage::error(error, Some(id)))
                                    .await?;
                            }
                        }
                    }
                }
                event = connection.events.next() => match event {
                    Some(Ok(event)) => {
                        if let Some(message) = carried(event) {
                            pass(&mut session, &mut context, message).await?;
                        }
                    }
                    lost => {
                        if let Some(Err(e)) = lost {
                            tracing::debug!(error = %e, "the event stream failed");
                        } else {
                            tracing::debug!("the event stream ended");
                        }
                        connection = reopen(&remote, &mut session, &mut context).await?;
                    }
                },
            }
        }
    }
}

/// A message from the server to the client, through the session's record.
async fn pass(
    session: &mut Session,
    context: &mut WorkerContext<SseWorker>,
    message: ServerJsonRpcMessage,
) -> Result<(), Quit> {
    if session.received(&message) {
        context.send_to_handler(message).await
    } else {
        tracing::debug!("an answer the client no longer waits for, dropped");
        Ok(())
    }
}

/// Opens a new event stream after the old one was lost: the requests it owed get an
/// error, and the client's `initialize` is sent again in the new session. Gives up
/// when the stream was lost more than [`MAX_REOPENS`] times within [`REOPEN_WINDOW`].
async fn reopen(
    remote: &Remote,
    session: &mut Session,
    context: &mut WorkerContext<SseWorker>,
) -> Result<Connection, Quit> {
    for id in session.waiting.drain().collect::<Vec<_>>() {
        let error = ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            "the server's event stream ended before the answer came (the proxy opens a new one)",
            None,
        );
        context
            .send_to_handler(ServerJsonRpcMessage::error(error, Some(id)))
            .await?;
    }
    if !session.lost_again(Instant::now()) {
        return Err(lost(
            remote,
            unexpected(format!(
                "the server ended its event stream {} times within {} s",
                MAX_REOPENS + 1,
                REOPEN_WINDOW.as_secs()
            )),
        ));
    }
    let cancelled = context.cancellation_token.clone();
    let mut last = StreamableHttpError::UnexpectedEndOfStream;
    for delay in RECONNECT_DELAYS {
        tokio::select! {
            () = cancelled.cancelled() => return Err(WorkerQuitReason::Cancelled),
            () = tokio::time::sleep(delay) => {}
        }
        // The GET has no time limit (a login may be under way): the client may quit.
        let connected = tokio::select! {
            () = cancelled.cancelled() => return Err(WorkerQuitReason::Cancelled),
            connected = remote.connect() => connected,
        };
        match connected {
            Ok(mut connection) => {
                let again = tokio::select! {
                    () = cancelled.cancelled() => return Err(WorkerQuitReason::Cancelled),
                    again = reinitialize(remote, &mut connection, session) => again,
                };
                again.map_err(|e| lost(remote, e))?;
                tracing::debug!("the event stream is open again");
                return Ok(connection);
            }
            // No token (the refresh failed and no login is possible): no use trying.
            Err(e @ StreamableHttpError::Client(AuthedError::Token(_))) => {
                return Err(lost(remote, e));
            }
            Err(e) => {
                tracing::debug!(error = %e, "reopening the event stream failed");
                last = e;
            }
        }
    }
    Err(lost(remote, last))
}

/// The end of the transport: told on stderr, as the worker's own error goes only to
/// the log.
fn lost(remote: &Remote, e: HttpError) -> Quit {
    let why = e.to_string();
    errln!(
        "mcp-auth proxy: the event stream of {} was lost and could not be opened again: {}",
        remote.url,
        one_line(&why, MAX_MESSAGE)
    );
    WorkerQuitReason::fatal(e, "reopening the event stream")
}

/// What a message says of the `initialize` sent again under `id`: `None` when it is
/// not its answer.
fn initialize_answer(
    message: ServerJsonRpcMessage,
    id: &RequestId,
) -> Option<Result<(), HttpError>> {
    match message {
        JsonRpcMessage::Response(response) if &response.id == id => Some(Ok(())),
        JsonRpcMessage::Error(error) if error.id.as_ref() == Some(id) => {
            Some(Err(unexpected(format!(
                "the server refused the session's initialize: {}",
                error.error.message
            ))))
        }
        _ => {
            tracing::debug!("a message before the initialize answer, dropped");
            None
        }
    }
}

/// The answer to the `initialize` sent again under `id`, from an event stream.
async fn initialize_answer_in(
    events: &mut Events,
    id: &RequestId,
) -> Option<Result<(), HttpError>> {
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => return Some(Err(StreamableHttpError::Sse(e))),
        };
        if let Some(answer) = carried(event).and_then(|message| initialize_answer(message, id)) {
            return Some(answer);
        }
    }
    None
}

/// Sends the client's `initialize` (under an ID of the proxy's) and its
/// `notifications/initialized` in a new session, within [`REINITIALIZE_WAIT`]; the
/// answer (on the event stream or in the POST's response) is kept from the client,
/// which already has one.
async fn reinitialize(
    remote: &Remote,
    connection: &mut Connection,
    session: &mut Session,
) -> Result<(), HttpError> {
    let Some(JsonRpcMessage::Request(initialize)) = session.initialize.clone() else {
        return Ok(());
    };
    if !session.initialized {
        return Ok(());
    }
    session.reopened += 1;
    let id = RequestId::String(format!("mcp-auth-proxy-reinitialize-{}", session.reopened).into());
    let again = JsonRpcMessage::Request(JsonRpcRequest {
        id: id.clone(),
        ..initialize
    });
    let initialized = session.initialized_notification.clone();
    tokio::time::timeout(REINITIALIZE_WAIT, async {
        let answered = match remote.post(connection.endpoint.clone(), again).await? {
            Posted::Answer(message) => initialize_answer(*message, &id),
            Posted::Stream(mut events) => initialize_answer_in(&mut events, &id).await,
            Posted::Nothing => None,
        };
        let answered = match answered {
            Some(answered) => answered,
            None => initialize_answer_in(&mut connection.events, &id)
                .await
                .unwrap_or(Err(StreamableHttpError::UnexpectedEndOfStream)),
        };
        answered?;
        if let Some(initialized) = initialized {
            remote
                .post(connection.endpoint.clone(), initialized)
                .await?;
        }
        Ok(())
    })
    .await
    .map_err(|_| {
        unexpected(format!(
            "no answer to initialize in the new session within {} s",
            REINITIALIZE_WAIT.as_secs()
        ))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_stays_on_the_servers_origin() {
        let base = Url::parse("https://mcp.example.com/sse").unwrap();
        let named = endpoint(&base, "/messages/?session_id=abc").ok();
        assert_eq!(
            named.as_deref(),
            Some("https://mcp.example.com/messages/?session_id=abc")
        );
        let absolute = endpoint(&base, " https://mcp.example.com/m?s=1\n").ok();
        assert_eq!(absolute.as_deref(), Some("https://mcp.example.com/m?s=1"));
        for elsewhere in [
            "https://evil.example/messages",
            "//evil.example/messages",
            "http://mcp.example.com/messages",
            "https://mcp.example.com:8443/messages",
        ] {
            assert!(endpoint(&base, elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn only_message_events_with_data_are_messages() {
        let event = |name: Option<&str>, data: Option<&str>| Sse {
            event: name.map(str::to_string),
            data: data.map(str::to_string),
            id: None,
            retry: None,
        };
        let ping = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert!(carried(event(Some("message"), Some(ping))).is_some());
        assert!(carried(event(None, Some(ping))).is_some());
        assert!(carried(event(Some("endpoint"), Some(ping))).is_none());
        assert!(carried(event(Some("message"), None)).is_none());
        assert!(carried(event(Some("message"), Some("not json"))).is_none());
    }

    #[test]
    fn the_session_knows_what_it_owes_and_how_it_began() {
        let parse =
            |v: serde_json::Value| -> ClientJsonRpcMessage { serde_json::from_value(v).unwrap() };
        let answer =
            |v: serde_json::Value| -> ServerJsonRpcMessage { serde_json::from_value(v).unwrap() };
        let mut session = Session::default();
        session.sent(&parse(serde_json::json!({"jsonrpc": "2.0", "id": 1,
            "method": "initialize", "params": {"protocolVersion": "2024-11-05",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})));
        assert!(!session.initialized);
        session.received(&answer(serde_json::json!({"jsonrpc": "2.0", "id": 1,
            "result": {"protocolVersion": "2024-11-05", "capabilities": {},
            "serverInfo": {"name": "s", "version": "0"}}})));
        assert!(session.initialized);
        session.sent(&parse(
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ));
        assert!(session.initialized_notification.is_some());
        session.sent(&parse(
            serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ));
        session.sent(&parse(
            serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        ));
        session.received(&answer(serde_json::json!({"jsonrpc": "2.0", "id": 2,
            "error": {"code": -32601, "message": "no"}})));
        assert_eq!(
            session.waiting.iter().collect::<Vec<_>>(),
            [&RequestId::Number(3)]
        );
        // A cancelled request is owed nothing; its late answer is not passed on.
        session.sent(&parse(serde_json::json!({"jsonrpc": "2.0",
            "method": "notifications/cancelled", "params": {"requestId": 3}})));
        assert!(session.waiting.is_empty());
        assert!(!session.received(&answer(
            serde_json::json!({"jsonrpc": "2.0", "id": 3, "result": {}})
        )));
        // A failed POST is owed its failure once.
        session.sent(&parse(
            serde_json::json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
        ));
        assert!(session.failed(Some(&RequestId::Number(4))));
        assert!(!session.failed(Some(&RequestId::Number(4))));
        assert!(session.failed(None));
    }

    #[test]
    fn a_stream_lost_too_often_is_given_up() {
        let mut session = Session::default();
        let start = Instant::now();
        for i in 0..MAX_REOPENS {
            assert!(session.lost_again(start + Duration::from_secs(i as u64)));
        }
        assert!(!session.lost_again(start + Duration::from_secs(10)));
        // Losses spread out over more than the window are forgiven.
        let mut session = Session::default();
        for i in 0..3 * MAX_REOPENS {
            assert!(session.lost_again(start + REOPEN_WINDOW * i as u32));
        }
    }
}
