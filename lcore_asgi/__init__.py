"""lcore's ASGI side: the ASGI 3 adapter and the embedded HTTP/1.1 + HTTP/2 server.

Any ``lcore.Lcore`` app is already an ASGI application (``uvicorn myapp:app``); this
package is what serves it: ``ASGIAdapter`` turns ASGI ``http``/``lifespan`` events into
the core's neutral requests, and ``lcore_asgi.server`` is a production server built on
h11, h2 and anyio (``python -m lcore_asgi myapp:app``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ASGIAdapter", "serve", "Config", "Server"]


def __getattr__(name: str) -> Any:
    # Lazy: importing lcore_asgi stays cheap, and the server is loaded only when used.
    if name == "ASGIAdapter":
        from .adapter import ASGIAdapter

        return ASGIAdapter
    if name in ("serve", "Config", "Server"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'lcore_asgi' has no attribute {name!r}")
