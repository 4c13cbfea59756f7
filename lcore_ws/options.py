"""The limits and timers of the WebSocket driver, and the error a send on a closed socket raises.

Limits (all in :class:`WebSocketOptions`, each with a safe default):

- ``max_size`` caps a *message* after reassembly and decompression (16 MiB, as uvicorn
  and hypercorn): a client cannot get past it by fragmenting, nor by sending a small
  compressed frame. Over it: close 1009. The size is checked as each frame arrives, so a
  message may take any number of frames (RFC 6455 sets no limit) and reassembly never
  holds more than ``max_size`` bytes.
- ``max_queue`` received messages are buffered for the app; beyond that the driver stops
  reading the socket, which pushes back on the client (TCP flow control).
- Sends wait until the socket took the bytes (backpressure on a slow reader), at most
  ``write_timeout`` seconds; then the connection is dropped.
- A ping every ``ping_interval`` seconds; no pong within ``ping_timeout``: close 1011.
  ``idle_timeout`` (off by default) closes with 1001 when no message went either way.
- Malformed frames close with 1002, invalid UTF-8 with 1007 (the protocol object and
  this driver decide; the app never sees them), an app error with 1011. The client's
  Close is echoed with its code, even between the fragments of a message (RFC 6455 5.4).
- After the closing handshake the server closes the connection (RFC 6455 7.1.1): a TCP
  half-close, or over TLS, which cannot half-close, close_notify and then the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["WebSocketOptions", "ConnectionClosedError"]


@dataclass
class WebSocketOptions:
    """Limits and timers of the sans-I/O driver (sizes in bytes, times in seconds)."""

    #: Largest message accepted, after reassembly and decompression; None: no limit.
    #: Each connection may hold up to about ``(max_queue + 2) * max_size`` bytes.
    max_size: int | None = 16 * 1024 * 1024
    #: Received messages buffered for the app before reading pauses.
    max_queue: int = 16
    #: Seconds between keepalive pings (None: no pings).
    ping_interval: float | None = 20.0
    #: Seconds to wait for the pong (None: do not wait).
    ping_timeout: float | None = 20.0
    #: Close with 1001 after this many seconds without a message either way (None: never).
    idle_timeout: float | None = None
    #: Seconds to wait for the client's part of the closing handshake.
    close_timeout: float = 10.0
    #: Seconds allowed for the handshake request to arrive.
    handshake_timeout: float = 10.0
    #: Seconds a send may wait for a slow reader before the connection is dropped.
    write_timeout: float = 30.0
    #: Negotiate permessage-deflate (RFC 7692) when the client offers it.
    compression: bool = True
    #: Accepted ``Origin`` values (None: any); see websockets' ``origins``.
    origins: Sequence[Any] | None = None


class ConnectionClosedError(OSError):
    """The WebSocket is closed; sends fail with this (an OSError, as ASGI 2.4 asks)."""
