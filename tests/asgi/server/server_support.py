"""Helpers for the embedded server tests: in-memory byte streams, apps, real servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.abc

from lcore_asgi.server import Config, Server
from lcore_asgi.server._h1_base import H1Connection
from lcore_asgi.server.h11_protocol import H11Connection

try:
    import httptools  # noqa: F401
except ImportError:  # pragma: no cover - the test extra installs it
    HAVE_HTTPTOOLS = False
else:
    HAVE_HTTPTOOLS = True

#: The HTTP/1.1 driver of servers started here; set by the ``h1_driver`` fixture.
H1_DRIVER = "auto"


def h1_connection_class() -> type[H1Connection]:
    """The connection driver class of the current ``H1_DRIVER`` (in-memory tests)."""
    if H1_DRIVER == "httptools" or (H1_DRIVER == "auto" and HAVE_HTTPTOOLS):
        from lcore_asgi.server.httptools_protocol import HttptoolsConnection

        return HttptoolsConnection
    return H11Connection


# -- in-memory transport ------------------------------------------------------------------


class MemoryByteStream(anyio.abc.ByteStream):
    """One end of an in-memory, bidirectional byte pipe."""

    def __init__(self, incoming: Any, outgoing: Any) -> None:
        self._in = incoming
        self._out = outgoing
        self._pending = b""

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._pending:
            try:
                self._pending = await self._in.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise anyio.EndOfStream from None
            if not self._pending:
                raise anyio.EndOfStream
        data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    async def send(self, item: bytes) -> None:
        try:
            await self._out.send(bytes(item))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise anyio.BrokenResourceError from None

    async def send_eof(self) -> None:
        self._out.close()

    async def aclose(self) -> None:
        self._out.close()
        self._in.close()


def memory_pipe() -> tuple[MemoryByteStream, MemoryByteStream]:
    """Return (server_end, client_end) of an in-memory byte pipe."""
    c2s_send, c2s_recv = anyio.create_memory_object_stream[bytes](100)
    s2c_send, s2c_recv = anyio.create_memory_object_stream[bytes](100)
    return MemoryByteStream(c2s_recv, s2c_send), MemoryByteStream(s2c_recv, c2s_send)


async def read_until_closed(stream: MemoryByteStream, timeout: float = 5.0) -> bytes:
    """Read everything the server sends until it closes its end."""
    data = b""
    with anyio.fail_after(timeout):
        while True:
            try:
                data += await stream.receive()
            except anyio.EndOfStream:
                return data


async def read_until(stream: MemoryByteStream, marker: bytes, timeout: float = 5.0) -> bytes:
    """Read until ``marker`` has been seen (or the stream closes)."""
    data = b""
    with anyio.fail_after(timeout):
        while marker not in data:
            try:
                data += await stream.receive()
            except anyio.EndOfStream:
                break
    return data


# -- apps -------------------------------------------------------------------------------


async def hello_app(scope: dict, receive: Callable, send: Callable) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def echo_app(scope: dict, receive: Callable, send: Callable) -> None:
    """Echo the request body back, chunked, with method and path in headers."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"x-method", scope["method"].encode()),
                (b"x-path", scope["path"].encode()),
                (b"x-version", scope["http_version"].encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# -- real servers -----------------------------------------------------------------------


@contextmanager
def running_server(app: Any, **options: Any) -> Iterator[Server]:
    """Run a real server on 127.0.0.1 with an ephemeral port in a background thread."""
    options.setdefault("timeout_graceful_shutdown", 5.0)
    options.setdefault("access_log", False)
    options.setdefault("http", H1_DRIVER)
    server = Server(Config(app=app, host="127.0.0.1", port=0, **options))
    with server.run_in_thread():
        yield server


def raw_exchange(port: int, data: bytes, timeout: float = 5.0, wait_close: bool = True) -> bytes:
    """Send raw bytes on a new connection and return what comes back until close/timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        if data:
            sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not wait_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)
