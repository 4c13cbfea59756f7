"""One HTTP/2 stream as the shared ASGI layer sees it (a :class:`StreamTransport`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import anyio
import h2.connection
import h2.exceptions
from h2.errors import ErrorCodes
from hpack import NeverIndexedHeaderTuple

from ._date import http_date
from ._state import ServerState, error_logger
from ._status import H2_STATUS
from .streams import (
    ClientDisconnected,
    HTTPStream,
    Pace,
    RequestError,
    ResponseError,
    check_response_field,
    error_response_body,
)


class StreamOwner(Protocol):
    """What an HTTP/2 stream needs from its connection (``h2_protocol.H2Connection``).

    A protocol rather than an import, so this module does not import the connection
    module that imports it.
    """

    conn: h2.connection.H2Connection
    state: ServerState
    closed: bool
    broken: bool
    new_event: Callable[[], anyio.Event]

    def schedule_write(self) -> None:
        """Have the writer send what h2 has queued."""

    async def wait_writable(self, nbytes: int) -> None:
        """Wait until the write buffer has room for ``nbytes``."""

    def stream_done(self, stream_id: int, completed: bool = False) -> None:
        """Forget a finished stream."""


__all__ = ["H2Stream", "H2Tunnel", "StreamOwner"]

_HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
#: Response fields already checked, by the app's (name, value): what goes out (bounded).
_CHECKED: dict[tuple[bytes, bytes], Any] = {}
_DROP: Any = ()  # a connection-specific field: not sent over HTTP/2 (RFC 9113 §8.2.2)


def _h2_field(pair: Any) -> Any:
    """The field to send for an app's response header, ``_DROP``, or ResponseError.

    The checks h11 makes (so an app's header is refused the same way on HTTP/1.1 and
    HTTP/2), then what h2's outbound normalisation did, which is off (``_H2_CONFIG``):
    lower-case names, no connection-specific fields, no ``TE`` but ``trailers``, and
    credentials kept out of the HPACK table.
    """
    name, value = pair
    check_response_field(name, value)
    name = name.lower()
    if name in _HOP_BY_HOP:
        return _DROP
    if name == b"te" and value.lower() != b"trailers":
        raise ResponseError(f"TE other than trailers: {value!r}")
    if name in _SENSITIVE or (name == b"cookie" and len(value) < 20):
        return NeverIndexedHeaderTuple(name, value)  # a list entry, never cached
    return (name, value)


_SENSITIVE = frozenset((b"authorization", b"proxy-authorization"))


class H2Stream:
    """One HTTP/2 stream as a :class:`StreamTransport`."""

    __slots__ = (
        "connection",
        "stream_id",
        "chunks",
        "ended",
        "reset",
        "complete",
        "refuse",
        "_body_pace",
        "_write_pace",
        "_event",
        "_window",
        "_scope",
        "tunnel",
    )

    def __init__(self, connection: StreamOwner, stream_id: int) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.chunks: deque[tuple[bytes, int]] = deque()
        self.ended = False
        self.reset = False
        self.complete = False
        #: A status to answer without calling the app (503 over ``limit_concurrency``).
        self.refuse = 0
        config = connection.state.config
        #: The same timeouts as HTTP/1.1 (see :class:`Pace`), per stream: the body
        #: arriving, and the client's flow-control window opening for the response.
        self._body_pace = Pace(config.timeout_body, config.min_body_rate)
        self._write_pace = Pace(config.timeout_write, config.min_write_rate)
        self._event: anyio.Event | None = None
        self._window: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None
        #: For an extended CONNECT stream (RFC 8441): its :class:`H2Tunnel`.
        self.tunnel: H2Tunnel | None = None

    async def run_tunnel(self, handler: Any, request: dict[str, Any]) -> None:
        """Run an extended CONNECT handler (e.g. WebSockets, RFC 8441) on this stream."""
        connection = self.connection
        self.tunnel = tunnel = H2Tunnel(self)
        try:
            with anyio.CancelScope() as cancel_scope:
                self._scope = cancel_scope
                if not self.reset:
                    await handler(tunnel, request)
        except Exception:
            error_logger.exception("Exception in HTTP/2 CONNECT handler")
        finally:
            self._scope = None
            self.tunnel = None
            if not self.reset and not connection.broken and not self.complete:
                self._cancel_stream(ErrorCodes.CANCEL)
            if self.chunks and not connection.closed:
                unread = sum(c[1] for c in self.chunks)
                self.chunks.clear()
                connection.conn.acknowledge_received_data(unread, self.stream_id)
                connection.schedule_write()
            connection.stream_done(self.stream_id, completed=self.complete and not self.reset)

    async def run(self, scope: dict[str, Any], declared_length: int | None = None) -> None:
        """Run the app for this stream; a reset cancels it."""
        connection = self.connection
        try:
            with anyio.CancelScope() as cancel_scope:
                self._scope = cancel_scope
                if self.reset:
                    return
                if self.refuse:
                    await self.send_error(self.refuse)
                    return
                await HTTPStream(connection.state, scope, self, declared_length).run()
        finally:
            self._scope = None
            if not self.reset and not connection.broken:
                conn = connection.conn
                try:
                    if not self.complete:
                        conn.reset_stream(self.stream_id, ErrorCodes.INTERNAL_ERROR)
                    elif not self.ended:
                        # Response complete before the request body: ask the client to stop.
                        conn.reset_stream(self.stream_id, ErrorCodes.NO_ERROR)
                except h2.exceptions.ProtocolError:
                    pass
                connection.schedule_write()
            if self.chunks and not connection.closed:
                # Body the app never read still counts against the connection window.
                unread = sum(c[1] for c in self.chunks)
                self.chunks.clear()
                connection.conn.acknowledge_received_data(unread, self.stream_id)
                connection.schedule_write()
            connection.stream_done(self.stream_id, completed=self.complete and not self.reset)

    # -- events from the connection --------------------------------------------------

    def feed(self, data: bytes, flow_controlled_length: int) -> None:
        """Buffer request body bytes (bounded by our advertised window)."""
        self.chunks.append((data, flow_controlled_length))
        self._wake()

    def on_end(self) -> None:
        """The client finished the request body."""
        self.ended = True
        self._wake()

    def on_reset(self) -> None:
        """The client reset the stream (or the connection died): cancel the handler."""
        self.reset = True
        self._wake()
        self.wake_sender()
        if self._scope is not None:
            self._scope.cancel()

    def _wake(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    def wake_sender(self) -> None:
        """Flow-control window grew (or stream died): let a waiting send continue."""
        if self._window is not None:
            self._window.set()
            self._window = None

    # -- StreamTransport ---------------------------------------------------------------

    async def read_body(self) -> tuple[bytes, bool] | None:
        """Return the request body buffered so far, waiting within the body pace."""
        try:
            body = await self._body_pace.wait(self._next_body)
        except TimeoutError:
            raise RequestError(408, "request body too slow") from None
        if self.reset:
            return None
        return body, not self.ended

    async def _next_body(self) -> bytes:
        """Wait for body bytes (or its end); take them and acknowledge them to the client."""
        while not self.chunks and not self.ended and not self.reset:
            self._event = event = self.connection.new_event()
            await event.wait()
        chunks = self.chunks
        if self.reset or not chunks:
            return b""
        if len(chunks) == 1:
            body, acked = chunks.popleft()
        else:
            body = b"".join(c[0] for c in chunks)
            acked = sum(c[1] for c in chunks)
            chunks.clear()
        if acked:
            connection = self.connection
            connection.conn.acknowledge_received_data(acked, self.stream_id)
            connection.schedule_write()
        return body

    async def wait_disconnect(self) -> None:
        """Wait until the stream is reset (or the handler is cancelled)."""
        while not self.reset and not self.complete:
            self._event = event = self.connection.new_event()
            await event.wait()

    async def send_head(self, status: int, headers: Any, body: bytes, end: bool) -> None:
        """Send HEADERS (and DATA) for the response."""
        connection = self.connection
        if self.reset:
            raise ClientDisconnected
        out = [(b":status", H2_STATUS.get(status) or str(status).encode())]
        out += connection.state.default_headers(http_date())
        checked = _CHECKED
        for pair in headers:
            # PERF: a field seen before is one dict lookup (checked and lowered once).
            field = checked.get(pair) if type(pair) is tuple else None
            if field is None:
                field = _h2_field(pair)
                if len(checked) < 512 and type(pair) is tuple and type(field) is tuple:
                    checked[pair] = field
            if field is not _DROP:
                out.append(field)
        end_now = end and not body
        try:
            connection.conn.send_headers(self.stream_id, out, end_stream=end_now)
        except h2.exceptions.StreamClosedError:
            raise ClientDisconnected from None
        if end_now:
            self._finish()
        if body:
            await self.send_body(body, end)
        else:
            await connection.wait_writable(0)

    async def send_body(self, body: bytes, end: bool) -> None:
        """Send DATA frames as the flow-control windows allow."""
        connection = self.connection
        conn = connection.conn
        stream_id = self.stream_id
        while body:
            if self.reset or connection.broken:
                raise ClientDisconnected
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if window <= 0:
                self._window = event = connection.new_event()
                try:
                    await self._write_pace.wait(event.wait)
                except TimeoutError:
                    # The client stopped opening its window: as slow as a client that
                    # stops reading over HTTP/1.1.
                    self._cancel_stream(ErrorCodes.CANCEL)
                    raise ClientDisconnected("the client is too slow to read") from None
                continue
            chunk, body = body[:window], body[window:]
            try:
                conn.send_data(stream_id, chunk, end_stream=end and not body)
            except h2.exceptions.StreamClosedError:
                raise ClientDisconnected from None
            self._write_pace.spent(0.0, len(chunk))
            if end and not body:
                self._finish()
            await connection.wait_writable(len(chunk))
        if end and not self.complete:
            if self.reset:
                raise ClientDisconnected
            try:
                conn.end_stream(stream_id)
            except h2.exceptions.StreamClosedError:
                raise ClientDisconnected from None
            self._finish()
            await connection.wait_writable(0)

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    async def send_error(self, status: int) -> None:
        """Answer a server-generated error response."""
        body = error_response_body(status)
        await self.send_head(
            status,
            [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ],
            body,
            True,
        )

    async def abort(self) -> None:
        """Reset the stream with INTERNAL_ERROR."""
        if not self.reset and not self.complete:
            self._cancel_stream(ErrorCodes.INTERNAL_ERROR)

    def _cancel_stream(self, code: int) -> None:
        self.complete = True
        self.reset = True
        try:
            self.connection.conn.reset_stream(self.stream_id, code)
        except h2.exceptions.ProtocolError:
            pass
        self.connection.schedule_write()


class H2Tunnel(anyio.abc.ByteStream):
    """The byte stream of an extended CONNECT stream (RFC 8441): DATA frames both ways.

    ``respond()`` sends the response HEADERS first (200 opens the tunnel; another status
    refuses it). ``send_eof()`` ends our half of the stream; ``receive()`` raises
    ``EndOfStream`` once the client ended its half (or reset the stream).
    """

    def __init__(self, stream: H2Stream) -> None:
        self.stream = stream
        #: An object with ``shutdown()``, told when the server shuts down gracefully.
        self.session: Any = None

    async def respond(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"", end: bool = False
    ) -> None:
        """Send the response to the CONNECT request (with ``end``, close the stream)."""
        try:
            await self.stream.send_head(status, headers, body, end)
        except ClientDisconnected:
            raise anyio.BrokenResourceError from None

    async def receive(self, max_bytes: int = 65536) -> bytes:
        stream = self.stream
        while not stream.chunks:
            if stream.ended or stream.reset:
                raise anyio.EndOfStream
            stream._event = event = stream.connection.new_event()
            await event.wait()
        data, acked = stream.chunks.popleft()
        if acked:
            connection = stream.connection
            connection.conn.acknowledge_received_data(acked, stream.stream_id)
            connection.schedule_write()
        return data

    async def send(self, item: bytes) -> None:
        try:
            await self.stream.send_body(item, False)
        except ClientDisconnected:
            raise anyio.BrokenResourceError from None

    async def send_eof(self) -> None:
        if not self.stream.complete:
            try:
                await self.stream.send_body(b"", True)
            except ClientDisconnected:
                pass

    async def aclose(self) -> None:
        stream = self.stream
        if not stream.complete and not stream.reset:
            stream._cancel_stream(ErrorCodes.CANCEL)

    def shutdown(self) -> None:
        """The server is stopping: tell the session running in the tunnel."""
        if self.session is not None:
            self.session.shutdown()
