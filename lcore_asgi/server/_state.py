"""State shared by every connection of one running server."""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

import anyio

from .config import Config

__all__ = ["ServerState", "access_logger", "error_logger"]

error_logger = logging.getLogger("lcore_asgi.error")
access_logger = logging.getLogger("lcore_asgi.access")


class ServerState:
    """What connections need from the server: app, config, counters, shutdown flag."""

    __slots__ = (
        "app",
        "config",
        "connections",
        "lifespan_state",
        "shutting_down",
        "active_requests",
        "server_header",
        "log_access",
        "_header_cache",
    )

    def __init__(self, app: Any, config: Config) -> None:
        self.app = app
        self.config = config
        #: Open connection drivers; each has ``shutdown()`` (graceful) for server stop.
        self.connections: set[Any] = set()
        self.lifespan_state: dict[str, Any] = {}
        self.shutting_down = False
        self.active_requests = 0
        header = config.server_header
        self.server_header = header.encode("latin-1") if isinstance(header, str) else header
        self.log_access = config.access_log
        self._header_cache: tuple[bytes, bytes] = (b"", b"")

    async def run_watchdog(self, resolution: float = 0.1) -> None:
        """Expire connection deadlines (reads, writes, idle) until cancelled.

        Each connection keeps a ``deadline`` (``time.monotonic()`` based, ``inf`` when
        nothing is pending) and an ``expire()`` method.
        """
        # PERF: one periodic sweep instead of a cancel scope and timer per read and write.
        while True:
            await anyio.sleep(resolution)
            now = monotonic()
            for connection in list(self.connections):
                if connection.deadline <= now:
                    connection.expire()

    def over_capacity(self) -> bool:
        """Whether a new request would exceed ``limit_concurrency``."""
        limit = self.config.limit_concurrency
        return limit is not None and self.active_requests >= limit

    def default_headers(self, date: bytes) -> list[tuple[bytes, bytes]]:
        """Return the ``date``/``server`` headers every response carries."""
        if self.server_header:
            return [(b"date", date), (b"server", self.server_header)]
        return [(b"date", date)]

    def default_header_bytes(self, date: bytes) -> bytes:
        """Return the ``date``/``server`` header lines, serialized once per ``date`` value."""
        # PERF: http_date() returns the same object all second; one identity check then.
        cache = self._header_cache
        if cache[0] is date:
            return cache[1]
        lines = b"".join(b"%s: %s\r\n" % pair for pair in self.default_headers(date))
        self._header_cache = (date, lines)
        return lines
