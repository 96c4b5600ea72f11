"""FastMCP's own command-line client, for tests/fastmcp.rs.

Usage: python fastmcp_client.py URL MODE

Builds the client the `fastmcp` command builds (`fastmcp.cli.client._build_client`,
which keeps OAuth tokens in its CLI token cache when FASTMCP_OAUTH_ENCRYPTION_KEY is
set), connects to the MCP server at URL, lists its tools and prints one JSON line:
{"tools": [names, sorted], "logins": number of times a browser was opened}.

MODE `login`: the browser is played by a thread that fetches the authorization URL and
follows its redirect (the demo server approves at once and redirects to FastMCP's
callback server). MODE `reuse`: opening a browser means FastMCP found no usable tokens;
the script says so on stderr and exits with status 3 at once.
"""

import asyncio
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands a redirect back (as an HTTPError) instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    if mode not in ("login", "reuse"):
        sys.exit(f"unknown mode {mode!r}")
    logins = []

    def browser(auth_url: str, *args: object, **kwargs: object) -> bool:
        logins.append(auth_url)
        if mode == "reuse":
            print("FastMCP started a new login (it opened a browser)", file=sys.stderr)
            sys.stderr.flush()
            os._exit(3)

        def visit() -> None:
            # As a browser would: the authorization page (which this server approves
            # at once) redirects to FastMCP's callback server. FastMCP starts that
            # server only after opening the browser, so the callback is retried until
            # the server listens, as a person's click would come a moment later.
            try:
                urllib.request.build_opener(NoRedirect).open(auth_url, timeout=30)
                raise RuntimeError("the authorization URL did not redirect")
            except urllib.error.HTTPError as answer:
                callback = answer.headers.get("Location")
                if answer.code not in (302, 303, 307) or not callback:
                    print(f"the authorization URL answered {answer.code}", file=sys.stderr)
                    return
            except Exception as e:
                print(f"the browser failed: {e}", file=sys.stderr)
                return
            for _ in range(100):
                try:
                    with urllib.request.urlopen(callback, timeout=30) as page:
                        page.read()
                    return
                except urllib.error.URLError as e:
                    if not isinstance(e.reason, ConnectionRefusedError):
                        print(f"the callback failed: {e}", file=sys.stderr)
                        return
                    time.sleep(0.1)
            print("FastMCP's callback server never listened", file=sys.stderr)

        threading.Thread(target=visit, daemon=True).start()
        return True

    # FastMCP's OAuth client calls webbrowser.open(url) at login.
    webbrowser.open = browser

    from fastmcp.cli.client import _build_client

    async def run() -> list:
        client = _build_client(url)
        async with client:
            tools = await client.list_tools()
        return sorted(tool.name for tool in tools)

    tools = asyncio.run(run())
    print(json.dumps({"tools": tools, "logins": len(logins)}))


if __name__ == "__main__":
    main()
