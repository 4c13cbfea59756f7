"""Where lcore's embedded server hands connections to the WebSocket driver.

- :func:`upgrade_handler`: HTTP/1.1 ``Upgrade: websocket`` (``Config.upgrade_handlers``);
- :func:`h2_connect_handler`: HTTP/2 extended CONNECT with ``:protocol = websocket``
  (RFC 8441, ``Config.connect_handlers``).

Both end in :func:`lcore_ws.protocol.serve_stream`, so WebSockets behave the same on both.
The server registers them by default when the ``websockets`` package is installed.
"""

from __future__ import annotations

import os
from typing import Any

from websockets.http11 import Response

from .protocol import WebSocketOptions, _Session, serve_stream

__all__ = ["upgrade_handler", "h2_connect_handler"]


def _request_head(request: Any) -> bytes:
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method, request.target)]
    lines += [b"%s: %s\r\n" % (name, value) for name, value in request.headers]
    lines.append(b"\r\n")
    return b"".join(lines)


def upgrade_handler(options: WebSocketOptions | None = None) -> Any:
    """The embedded server's HTTP/1.1 ``Upgrade: websocket`` handler (``Config.upgrade_handlers``)."""
    opts = options or WebSocketOptions()

    async def handle_upgrade(connection: Any, request: Any) -> bool:
        if request.method != b"GET" or request.http_version != b"1.1":
            return False  # not a WebSocket handshake: the app answers it over HTTP
        for name, value in request.headers:
            if name in (b"content-length", b"transfer-encoding") and value != b"0":
                return False
        trailing = connection.upgrade_bytes()  # None: a body follows the head
        if trailing is None:
            return False
        state = connection.state
        tls = connection.scheme == "https"
        initial = [_request_head(request) + trailing]
        # Neither the head nor its bytes are kept by this frame for the connection's life.
        del request, trailing

        def attach(session: _Session) -> None:
            connection.upgraded = session  # the server's graceful shutdown reaches it

        await serve_stream(
            state.app,
            connection.stream,
            client=connection.client,
            server=connection.server,
            scheme="wss" if tls else "ws",
            root_path=state.config.root_path,
            state=state.lifespan_state,
            options=opts,
            initial=initial.pop(),
            on_session=attach,
        )
        return True

    handle_upgrade.options = opts  # type: ignore[attr-defined]
    return handle_upgrade


#: Request headers of an extended CONNECT that the synthesized HTTP/1.1 handshake replaces.
_H2_REPLACED = frozenset(
    (b"host", b"upgrade", b"connection", b"sec-websocket-key", b"content-length")
)
#: Handshake response headers that mean nothing on HTTP/2 (RFC 8441 §5, RFC 9113 §8.2.2).
_H2_DROPPED = frozenset(("upgrade", "connection", "sec-websocket-accept", "date", "content-length"))


def h2_connect_handler(options: WebSocketOptions | None = None) -> Any:
    """The embedded server's HTTP/2 extended CONNECT handler for ``:protocol websocket``.

    RFC 8441: the handshake is a CONNECT stream with ``:protocol = websocket`` and the
    answer is ``200`` (no ``Sec-WebSocket-Key``/``Accept``); frames then travel in DATA.
    The request is presented to ``websockets``' protocol as the equivalent HTTP/1.1
    handshake (same path, headers, subprotocols and extensions, a fresh key), so the
    WebSocket itself is served by the same driver as on HTTP/1.1.
    """
    import base64

    opts = options or WebSocketOptions()

    async def handle_connect(tunnel: Any, request: dict[str, Any]) -> None:
        state = request["state"]
        key = base64.b64encode(os.urandom(16))
        head = [
            b"GET %s HTTP/1.1\r\n" % request["target"],
            b"Host: %s\r\n" % (request["authority"] or b"localhost"),
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n" % key,
        ]
        for name, value in request["headers"]:
            if name not in _H2_REPLACED:
                head.append(b"%s: %s\r\n" % (name, value))
        head.append(b"\r\n")

        async def respond(response: Response) -> None:
            ok = response.status_code == 101
            headers = [
                (k.lower().encode("latin1"), v.encode("latin1"))
                for k, v in response.headers.raw_items()
                if k.lower() not in _H2_DROPPED
            ]
            await tunnel.respond(
                200 if ok else response.status_code,
                headers,
                b"" if ok else bytes(response.body or b""),
                end=not ok,
            )

        def attach(session: _Session) -> None:
            tunnel.session = session  # the server's graceful shutdown reaches it

        scheme = request["scheme"]
        await serve_stream(
            state.app,
            tunnel,
            client=request["client"],
            server=request["server"],
            scheme="wss" if scheme in ("https", "wss") else "ws",
            root_path=state.config.root_path,
            state=state.lifespan_state,
            options=opts,
            initial=b"".join(head),
            on_session=attach,
            http_version="2",
            respond=respond,
        )

    handle_connect.options = opts  # type: ignore[attr-defined]
    return handle_connect
