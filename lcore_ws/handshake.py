"""The handshake side of a WebSocket connection: the ``websockets`` sans-I/O protocol as
lcore configures it, and the ASGI ``websocket`` scope built from a handshake request.

:mod:`lcore_ws.protocol` is the I/O around these.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from .options import WebSocketOptions
from .websocket import _offered

__all__ = ["websocket_scope"]

_ASGI = {"version": "3.0", "spec_version": "2.4"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _ServerProtocol(ServerProtocol):
    """websockets' ``ServerProtocol``, answering a Close between fragments as RFC 6455 says.

    Control frames may come between the fragments of a message (RFC 6455 5.4). websockets
    fails the connection with 1002 when that control frame is a Close; the RFC asks for
    the Close to be echoed (5.5.1) and what follows it discarded (1.4), the unfinished
    message with it (Autobahn 7.1.5).
    """

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None  # the unfinished message is abandoned
        super().recv_frame(frame)


def _extensions(options: WebSocketOptions) -> list[Any] | None:
    if not options.compression:
        return None
    # Small windows: a compressed connection costs ~ tens of KiB, not hundreds.
    return [
        ServerPerMessageDeflateFactory(
            server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
        )
    ]


def websocket_scope(base_scope: dict[str, Any], request: Request) -> dict[str, Any]:
    """The ASGI ``websocket`` scope of a handshake ``request`` on a connection whose
    server-side fields (client, server, scheme, root path...) are in ``base_scope``."""
    target = request.path
    path, _, query = target.partition("?")
    root = base_scope.get("root_path", "")
    raw_path = path.encode("latin1")
    path = unquote(path) if "%" in path else path
    if root:
        path, raw_path = root + path, root.encode() + raw_path
    headers = [
        (k.lower().encode("latin1"), v.encode("latin1", "replace"))
        for k, v in request.headers.raw_items()
    ]
    scope = dict(base_scope)
    scope.update(
        {
            "type": "websocket",
            "asgi": _ASGI,
            "http_version": base_scope.get("http_version", "1.1"),
            "path": path,
            "raw_path": raw_path,
            "query_string": query.encode("latin1"),
            "headers": headers,
            "subprotocols": _offered([v for k, v in headers if k == b"sec-websocket-protocol"]),
            "extensions": {"websocket.http.response": {}},
        }
    )
    return scope
