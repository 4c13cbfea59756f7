"""The side-by-side WebSocket server for apps deployed on a WSGI server.

``gunicorn myapp:app`` serves HTTP; ``python -m lcore_ws myapp:app --port 8081`` (or
``lcore_ws.serve(app, host, port)``) serves the same app object's ``@app.websocket``
routes on lcore's embedded server, whose HTTP/1.1 ``Upgrade`` hands each connection to
the sans-I/O driver (:mod:`lcore_ws.protocol`). Config, DI singletons, hooks, middleware
and auth are the app's own. Plain HTTP requests get ``426 Upgrade Required``.
"""

from __future__ import annotations

from typing import Any

from .protocol import WebSocketOptions
from .upgrade import upgrade_handler

__all__ = ["SideBySideApp", "serve"]

_426 = b"This server serves the app's WebSocket routes only; HTTP is served elsewhere.\n"


class SideBySideApp:
    """An ASGI app that serves ``app``'s WebSocket routes and lifespan, and no HTTP."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind in ("websocket", "lifespan"):
            await self.app.asgi(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 426,
                "headers": [
                    (b"upgrade", b"websocket"),
                    (b"connection", b"Upgrade"),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _426})


def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    options: WebSocketOptions | None = None,
    **server_options: Any,
) -> None:
    """Serve ``app``'s WebSocket routes on ``host:port`` until interrupted (blocking).

    ``options`` sets the WebSocket limits; other keywords go to the embedded server's
    ``Config`` (``workers``, ``certfile``, ``log_level``, ...).
    """
    from lcore_asgi.server import serve as serve_asgi

    if isinstance(app, str):
        from lcore import load

        app = load(app)
    serve_asgi(
        SideBySideApp(app),
        host=host,
        port=port,
        http2=False,
        upgrade_handlers={b"websocket": upgrade_handler(options)},
        **server_options,
    )
