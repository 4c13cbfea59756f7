"""lcore WebSockets: one WebSocket API under every transport, plus broadcast.

``@app.websocket('/ws/<room>')`` handlers get a :class:`WebSocket` (``async def``) or
its blocking facade (``def``, run in a worker thread). They run under any ASGI server
(the ``websocket`` scope), on lcore's embedded server (the ``websockets`` package's
sans-I/O protocol on the HTTP/1.1 upgrade) and, for WSGI deployments, on the
side-by-side server (``python -m lcore_ws myapp:app --port 8081``). Importing this
package does not import ``websockets`` or ``redis``; the pieces that need them load on use.
"""

from __future__ import annotations

from typing import Any

from .websocket import SyncWebSocket, WebSocket, WebSocketDisconnect, WebSocketState

__all__ = [
    "WebSocket",
    "SyncWebSocket",
    "WebSocketState",
    "WebSocketDisconnect",
    "WebSocketOptions",
    "serve",
    "SideBySideApp",
    "Broadcast",
    "MemoryBackend",
    "RedisBackend",
]

_LAZY = {
    "WebSocketOptions": "options",
    "serve": "server",
    "SideBySideApp": "server",
    "Broadcast": "broadcast",
    "MemoryBackend": "broadcast",
    "RedisBackend": "broadcast",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lcore_ws' has no attribute {name!r}")
    import importlib

    if module == "server":  # serving needs the websockets package; say how to get it
        from lcore._extras import require

        require("websockets", "ws", f"lcore_ws.{name}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
