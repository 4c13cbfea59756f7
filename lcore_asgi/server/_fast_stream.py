"""A lean asyncio byte stream for accepted TCP/Unix sockets (the server's hot path).

anyio's own asyncio ``SocketStream`` pauses and resumes reading around every
``receive()`` (two epoll updates each) and yields to the loop on every ``send()``.
This stream keeps reading on (bounded by a high-water mark), returns buffered data
without a loop turn and writes without one unless the transport is over its limit.
It implements :class:`anyio.abc.ByteStream`, so drivers, TLS wrapping and tests see
the same interface; other anyio backends keep using anyio's stream.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import sniffio
from anyio.abc import SocketAttribute

__all__ = ["loop_turn", "open_fast_stream"]

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
#: Receives served from the buffer in a row before yielding once to the event loop.
_FAIRNESS = 16


def loop_turn() -> Callable[[], Any]:
    """The cheapest way to let the running event loop go round once (an awaitable maker).

    On asyncio ``asyncio.sleep(0)``; on another anyio backend (trio, in tests) anyio's
    checkpoint. The HTTP/1.1 drivers take one turn before each request's app runs.
    """
    if sniffio.current_async_library() == "asyncio":
        return functools.partial(asyncio.sleep, 0)
    return anyio.lowlevel.cancel_shielded_checkpoint


class _Protocol(asyncio.Protocol):
    __slots__ = (
        "transport",
        "chunks",
        "size",
        "eof",
        "lost",
        "error",
        "reading_paused",
        "writing_paused",
        "waiter",
        "drain_waiter",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > _HIGH_WATER and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return True  # keep the write side open: a half-closed client still gets its answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self._wake()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drain()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)


class FastSocketStream(anyio.abc.ByteStream):
    """An :class:`anyio.abc.ByteStream` over an asyncio transport."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._streak = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Return buffered bytes, waiting for some if none are there."""
        protocol = self._protocol
        chunks = protocol.chunks
        if chunks:
            # PERF: buffered data is returned without a loop turn, but never for long.
            self._streak += 1
            if self._streak >= _FAIRNESS:
                self._streak = 0
                await asyncio.sleep(0)
        else:
            self._streak = 0
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.eof or protocol.lost:
                self._raise_closed()
            waiter = self._loop.create_future()
            protocol.waiter = waiter
            try:
                await waiter
            finally:
                protocol.waiter = None
            if not chunks:
                if self._closed:
                    raise anyio.ClosedResourceError
                self._raise_closed()
        chunk = chunks.popleft()
        if len(chunk) > max_bytes:
            chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        protocol.size -= len(chunk)
        if protocol.reading_paused and protocol.size < _LOW_WATER and not protocol.lost:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return chunk

    def _raise_closed(self) -> None:
        protocol = self._protocol
        if protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error
        raise anyio.EndOfStream

    async def send(self, item: bytes) -> None:
        """Write ``item``; wait only while the transport is over its high-water mark."""
        if self._closed:
            raise anyio.ClosedResourceError
        protocol = self._protocol
        if protocol.lost or self._transport.is_closing():
            raise anyio.BrokenResourceError from protocol.error
        self._transport.write(item)
        # PERF: no loop turn when the transport took the bytes under its high-water mark.
        while protocol.writing_paused and not protocol.lost:
            waiter = self._loop.create_future()
            protocol.drain_waiter = waiter
            try:
                await waiter
            finally:
                protocol.drain_waiter = None
            if self._closed:
                raise anyio.ClosedResourceError  # aclose() from another task
        if protocol.lost and protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error

    async def send_eof(self) -> None:
        """Half-close: no more bytes will be sent."""
        transport = self._transport
        if not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    async def aclose(self) -> None:
        """Close the transport (pending output is still flushed, within a limit).

        A task blocked in :meth:`send` gets :class:`anyio.ClosedResourceError`. Closed
        inside a cancelled scope (:func:`anyio.aclose_forcefully`), unsent output is
        discarded and the connection aborted at once, as anyio's own streams do.
        """
        if self._closed:
            return
        self._closed = True
        transport = self._transport
        protocol = self._protocol
        transport.close()
        protocol._wake()
        protocol._wake_drain()
        if transport.get_write_buffer_size():
            # close() waits for the buffer to drain; a client that never reads must not
            # keep the socket forever.
            handle = self._loop.call_later(30.0, transport.abort)
            try:
                await anyio.lowlevel.checkpoint()
            except BaseException:
                handle.cancel()
                transport.abort()
                raise

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        """Socket addresses and family, as anyio's socket streams provide them."""
        transport = self._transport
        sock = transport.get_extra_info("socket")
        attributes: dict[Any, Callable[[], Any]] = {
            SocketAttribute.local_address: lambda: transport.get_extra_info("sockname"),
            SocketAttribute.family: lambda: sock.family,
        }
        if sock is not None and sock.family != socket.AF_UNIX:
            attributes[SocketAttribute.remote_address] = lambda: transport.get_extra_info(
                "peername"
            )
        return attributes


async def open_fast_stream(sock: socket.socket) -> anyio.abc.ByteStream:
    """Wrap an accepted, connected socket: the lean stream on asyncio, anyio's elsewhere."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        if sock.family == socket.AF_UNIX:
            return await anyio.abc.UNIXSocketStream.from_socket(sock)
        return await anyio.abc.SocketStream.from_socket(sock)
    transport, protocol = await loop.connect_accepted_socket(_Protocol, sock)
    return FastSocketStream(transport, protocol)
