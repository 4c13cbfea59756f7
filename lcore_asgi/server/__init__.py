"""lcore's embedded ASGI 3 server: HTTP/1.1 (h11) and HTTP/2 (h2) on anyio.

Programmatic use::

    from lcore_asgi.server import serve
    serve(app, host="127.0.0.1", port=8000)

or ``python -m lcore_asgi myapp:app``. Tests start it on port 0 in a thread with
``Server(Config(app, port=0)).run_in_thread()`` and read ``server.port``.
"""

from __future__ import annotations

from .config import Config
from .lifespan import LifespanFailure
from .serving import Server
from .streams import ClientDisconnected
from .supervisor import serve

__all__ = ["ClientDisconnected", "Config", "LifespanFailure", "Server", "main", "serve"]


def main(argv: list[str] | None = None) -> None:
    """Run the command-line interface (``python -m lcore_asgi``)."""
    from .main import main as _main

    _main(argv)
