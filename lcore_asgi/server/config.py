"""Server configuration: every limit, timeout and socket option in one place."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ._importer import import_app

__all__ = ["Config"]


@dataclass
class Config:
    """All options of the embedded server; every limit has a safe default.

    ``app`` is an ASGI 3 callable or an import spec (``"pkg.mod:app"``).
    Sizes are in bytes, timeouts in seconds; ``None`` disables a limit.
    """

    app: Any
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    backlog: int = 2048
    workers: int = 1
    reload: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    keyfile_password: str | None = None
    http2: bool = True
    #: HTTP/1.1 driver: ``"h11"`` (the reference), ``"httptools"`` (llhttp, as in
    #: uvicorn[standard]; needs httptools) or ``"auto"`` (httptools when installed).
    http: str = "auto"
    #: Event loop: ``"asyncio"``, ``"uvloop"`` (needs uvloop) or ``"auto"`` (uvloop when
    #: installed, except on Windows).
    loop: str = "auto"
    log_level: str | None = "info"
    access_log: bool = True
    lifespan: str = "auto"
    root_path: str = ""
    #: Value of the ``server`` header on every response; None leaves it out.
    server_header: bytes | str | None = b"lcore"
    date_header: bool = True
    install_signal_handlers: bool = True
    #: Maximum requests (HTTP/1.1 cycles plus HTTP/2 streams) in flight; more get 503.
    limit_concurrency: int | None = None
    # --- HTTP/1.1 limits -------------------------------------------------
    #: Request line length; longer gets 414 (a method over 32 characters gets 501).
    max_request_line_size: int = 8190
    #: Head size, request line included (h11's incomplete-event buffer); larger gets 431.
    h11_max_incomplete_event_size: int = 16384
    #: Number of header fields; more gets 431.
    max_header_count: int = 100
    #: Request body size (both HTTP versions); larger gets 413.
    max_body_size: int | None = 64 * 1024 * 1024
    # --- timeouts ---------------------------------------------------------
    #: Idle time allowed between HTTP/1.1 requests (before the next one's first byte).
    timeout_keep_alive: float = 5.0
    #: Deadline for a whole HTTP/1.1 request head: from the connection's start for the
    #: first request, from the first byte for later ones; then 408 and close.
    timeout_headers: float = 10.0
    #: Longest wait for request body bytes; with ``min_body_rate`` (bytes/s) the body
    #: must also keep arriving at that rate on average while the server waits for it
    #: (see ``streams.Pace``); else 408 (or close) and the app sees ``http.disconnect``.
    timeout_body: float = 30.0
    min_body_rate: float | None = 1024.0
    #: Longest wait for a client to take response bytes; with ``min_write_rate`` it must
    #: also read at that rate on average while the server waits on it; else dropped.
    timeout_write: float = 30.0
    min_write_rate: float | None = 1024.0
    timeout_tls_handshake: float = 10.0
    timeout_graceful_shutdown: float = 30.0
    # --- HTTP/2 settings --------------------------------------------------
    h2_max_concurrent_streams: int = 100
    h2_initial_window_size: int = 65535
    h2_max_frame_size: int = 16384
    h2_max_header_list_size: int = 65536
    #: Extra HTTP/1.1 ``Upgrade`` handlers by lower-case token (the WebSocket seam).
    upgrade_handlers: Mapping[bytes, Any] = field(default_factory=dict)
    #: HTTP/2 extended CONNECT handlers by ``:protocol`` (RFC 8441 WebSockets); when any
    #: is set the server advertises ``SETTINGS_ENABLE_CONNECT_PROTOCOL``.
    connect_handlers: Mapping[bytes, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {self.lifespan!r}")
        if self.http not in ("auto", "h11", "httptools"):
            raise ValueError(f"http must be 'auto', 'h11' or 'httptools', not {self.http!r}")
        if self.loop not in ("auto", "asyncio", "uvloop"):
            raise ValueError(f"loop must be 'auto', 'asyncio' or 'uvloop', not {self.loop!r}")
        for option, module in (("http", "httptools"), ("loop", "uvloop")):
            if getattr(self, option) == module and not _importable(module):
                raise ValueError(
                    f"{option}={module!r} needs the {module} package: pip install {module}"
                )
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.keyfile and not self.certfile:
            raise ValueError("keyfile given without certfile")
        for name in (
            "max_request_line_size",
            "h11_max_incomplete_event_size",
            "max_header_count",
            "h2_max_concurrent_streams",
            "h2_initial_window_size",
            "h2_max_frame_size",
            "h2_max_header_list_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        for name in ("min_body_rate", "min_write_rate"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        if not 16384 <= self.h2_max_frame_size <= 16777215:
            raise ValueError("h2_max_frame_size must be within 16384..16777215 (RFC 9113)")

    @property
    def http_driver(self) -> str:
        """The HTTP/1.1 driver in use: ``"httptools"`` or ``"h11"`` (``http`` resolved)."""
        if self.http == "auto":
            return "httptools" if _importable("httptools") else "h11"
        return self.http

    @property
    def event_loop(self) -> str:
        """The event loop in use: ``"uvloop"`` or ``"asyncio"`` (``loop`` resolved)."""
        if self.loop == "auto":
            return "uvloop" if sys.platform != "win32" and _importable("uvloop") else "asyncio"
        return self.loop

    def run_options(self) -> dict[str, Any]:
        """Keyword arguments for ``anyio.run`` (and blocking portals): backend and loop."""
        return {
            "backend": "asyncio",
            "backend_options": {"use_uvloop": self.event_loop == "uvloop"},
        }

    def load_app(self) -> Any:
        """Return the ASGI callable, importing it if ``app`` is a string."""
        if isinstance(self.app, str):
            return import_app(self.app)
        return self.app

    @property
    def is_ssl(self) -> bool:
        """Whether the server terminates TLS."""
        return bool(self.certfile)

    def ssl_context(self) -> ssl.SSLContext | None:
        """Build the server TLS context with ALPN (``h2``, ``http/1.1``), or None."""
        if not self.certfile:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certfile, self.keyfile, self.keyfile_password)
        context.set_alpn_protocols(["h2", "http/1.1"] if self.http2 else ["http/1.1"])
        return context


@cache
def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
