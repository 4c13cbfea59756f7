"""Which modules of ``lcore`` are the protocol-neutral core and which are the edge.

One list, read by ``tests/test_architecture.py`` (which enforces it) and shown on the
docs page ``docs/concepts.md`` (which the same test compares with it).

- The **core** knows no protocol: it never imports WSGI/ASGI/server code, asyncio or
  anyio, never names an ``environ`` or a ``scope``, and never reads a CGI or ASGI key.
- The **edge** is where protocols and loops live: the WSGI adapter and its request, the
  one concurrency module, the test client, server adapters and the CLI.
- Every other module of ``lcore`` is a **battery** (middleware, security, templates,
  static files, config, ...): it imports no protocol code either, and is held to the
  same rules as the core.
"""

from __future__ import annotations

__all__ = ["CORE_MODULES", "WSGI_EDGE", "EDGE_MODULES"]

#: The protocol-neutral core, as module names.
CORE_MODULES: tuple[str, ...] = (
    "lcore._bridge",
    "lcore._ctxvar",
    "lcore.app",
    "lcore.cast",
    "lcore.connection",
    "lcore.context",
    "lcore.di",
    "lcore.dispatch",
    "lcore.effects",
    "lcore.errorpage",
    "lcore.exceptions",
    "lcore.hooks",
    "lcore.middleware.base",
    "lcore.mounting",
    "lcore.outgoing",
    "lcore.plan",
    "lcore.plugins",
    "lcore.request",
    "lcore.response",
    "lcore.routing",
)

#: The WSGI edge: the adapter and the request read from an environ.
WSGI_EDGE: tuple[str, ...] = ("lcore.wsgi", "lcore.wsgi_request")

#: Every edge module of ``lcore`` (the ASGI edge is the ``lcore_asgi`` package).
EDGE_MODULES: tuple[str, ...] = WSGI_EDGE + (
    "lcore",  # wires the edge in (installs the concurrency bridge)
    "lcore.__main__",  # the CLI
    "lcore.concurrency",  # the only module that hops between loops and threads
    "lcore._loops",  # part of the concurrency seam: event loops, tasks, events
    "lcore._thread_hop",  # part of the concurrency seam: the asyncio hop to worker threads
    "lcore.testing",  # the TestClient drives both adapters
    "lcore.server",  # server adapters for app.run()
    "lcore.reloader",  # restarts the server process when files change (dev tool)
)
