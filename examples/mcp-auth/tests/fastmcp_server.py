"""A real FastMCP server over its HTTP+SSE transport (MCP 2024-11-05) or its Streamable
HTTP transport, protected by FastMCP's in-memory OAuth provider (dynamic client
registration, an /authorize that grants at once), for `mcp-auth proxy`'s tests
(`tests/proxy_fastmcp.rs`).

    python fastmcp_server.py [sse|http]     # default sse; http serves /mcp

It listens on a free loopback port and prints, one line each on stdout:

    ready http://127.0.0.1:PORT/sse          (or /mcp)
    http GET /sse 200                    (every HTTP request and its status)
    rpc tools/call                       (the method of a message POSTed to the endpoint)
    registered / authorized / exchanged a code / refreshed / refused an expired token
    expired N tokens                     (after POST /test/expire-tokens)
    dropped N streams                    (after POST /test/drop-streams)

Test routes (no token needed): POST /test/expire-tokens makes every access token's
expiry pass now, while the client holds it for valid (FastMCP's provider announces an
hour), so that the server refuses it mid-session with a 401; POST /test/drop-streams
ends every open event stream, as a restart of a proxy in front of the server would.

The provider's load_access_token would also revoke the refresh token of an expired
access token; here the expired access token alone is forgotten, as authorization
servers do, so that the refresh token can renew it.
"""

import json
import socket
import sys
import time

import anyio
import uvicorn
from fastmcp import Context, FastMCP
from fastmcp.server.auth.providers.in_memory import InMemoryOAuthProvider
from fastmcp.server.dependencies import get_access_token
from mcp.server.auth.settings import ClientRegistrationOptions
from starlette.requests import Request
from starlette.responses import PlainTextResponse


def say(line: str) -> None:
    print(line, flush=True)


class WatchedProvider(InMemoryOAuthProvider):
    async def register_client(self, client_info):
        await super().register_client(client_info)
        say("registered")

    async def authorize(self, client, params):
        say("authorized")
        return await super().authorize(client, params)

    async def exchange_authorization_code(self, client, authorization_code):
        token = await super().exchange_authorization_code(client, authorization_code)
        say("exchanged a code")
        return token

    async def exchange_refresh_token(self, client, refresh_token, scopes):
        token = await super().exchange_refresh_token(client, refresh_token, scopes)
        say("refreshed")
        return token

    async def load_access_token(self, token):
        found = self.access_tokens.get(token)
        if found is not None and found.expires_at is not None and found.expires_at < time.time():
            del self.access_tokens[token]
            say("refused an expired token")
            return None
        return found


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
# Listening before "ready": connections wait in the backlog until uvicorn accepts.
listener.listen(128)
port = listener.getsockname()[1]
base = f"http://127.0.0.1:{port}"

auth = WatchedProvider(
    base_url=base,
    client_registration_options=ClientRegistrationOptions(
        enabled=True, valid_scopes=["mcp:tools"], default_scopes=["mcp:tools"]
    ),
    required_scopes=["mcp:tools"],
)
mcp = FastMCP("fastmcp-sse-test", auth=auth)


@mcp.tool
async def add(a: float, b: float, ctx: Context) -> float:
    """Adds two numbers (and logs a line to the client first)."""
    await ctx.info(f"adding {a} and {b}")
    return a + b


@mcp.tool
def whoami() -> str:
    """The client and scopes of the caller's token."""
    token = get_access_token()
    if token is None:
        return "nobody"
    return f"{token.client_id} {' '.join(token.scopes)}"


@mcp.custom_route("/test/expire-tokens", methods=["POST"])
async def expire_tokens(request: Request) -> PlainTextResponse:
    past = int(time.time()) - 1
    for token, stored in list(auth.access_tokens.items()):
        auth.access_tokens[token] = stored.model_copy(update={"expires_at": past})
    say(f"expired {len(auth.access_tokens)} tokens")
    return PlainTextResponse(str(len(auth.access_tokens)))


streams: set[anyio.CancelScope] = set()


@mcp.custom_route("/test/drop-streams", methods=["POST"])
async def drop_streams(request: Request) -> PlainTextResponse:
    count = len(streams)
    for scope in list(streams):
        scope.cancel()
    say(f"dropped {count} streams")
    return PlainTextResponse(str(count))


class Watch:
    """Logs every request with its status; lets /test/drop-streams end the GET streams."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                say(f"http {scope['method']} {scope['path']} {message['status']}")
            await send(message)

        if scope["method"] == "POST" and scope["path"] in ("/messages/", "/mcp"):

            async def peeked():
                message = await receive()
                try:
                    method = json.loads(message.get("body", b"")).get("method")
                except ValueError:
                    method = None
                if method:
                    say(f"rpc {method}")
                return message

            return await self.app(scope, peeked, watched)
        if scope["method"] != "GET" or scope["path"] != "/sse":
            return await self.app(scope, receive, watched)
        with anyio.CancelScope() as cancel:
            streams.add(cancel)
            try:
                await self.app(scope, receive, watched)
            finally:
                streams.discard(cancel)
        if cancel.cancelled_caught and started:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


transport = sys.argv[1] if len(sys.argv) > 1 else "sse"
path = {"sse": "/sse", "http": "/mcp"}[transport]
app = Watch(mcp.http_app(transport=transport, path=path))
config = uvicorn.Config(app, log_level="warning", lifespan="on")
server = uvicorn.Server(config)
say(f"ready {base}{path}")
anyio.run(lambda: server.serve(sockets=[listener]))
