"""HTTP/2 driver: an h2 connection, one ASGI task per stream, flow control both ways."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame, PingFrame

from ._h1_base import RequestHead
from ._state import ServerState, error_logger
from .h2_stream import H2Stream
from .streams import CLIENT_GONE, Pace, build_scope

__all__ = ["H2Connection", "upgrade_h2c"]

_READ_SIZE = 65536
_INF = float("inf")
#: Client resets tolerated before the share of reset streams is checked.
_RESET_FLOOD = 200
#: Outbound bytes queued in h2 beyond which a sending stream waits for the socket.
_HIGH_WATER = 256 * 1024
_RequestReceived = h2.events.RequestReceived
_DataReceived = h2.events.DataReceived
_StreamEnded = h2.events.StreamEnded
_StreamReset = h2.events.StreamReset
_WindowUpdated = h2.events.WindowUpdated
#: Outbound fields are checked and normalised by H2Stream.send_head (``_h2_field``, with
#: the same checks as HTTP/1.1 and a cache), so h2 does not do it again per response.
_H2_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)
#: Opaque data of the two PINGs of a graceful shutdown (see ``H2Connection._go_away``).
_FLUSH_PING = b"lcore-s1"
_GOAWAY_PING = b"lcore-s2"
#: The first shutdown GOAWAY (last stream id 2**31-1: "open no more streams; those on
#: the way are still served", RFC 9113 §6.8) with a PING to time a round trip. The PING
#: goes first, in the same write: a client built on the h2 library (httpx) fails on any
#: frame that follows a GOAWAY.
_FIRST_GOAWAY = (
    PingFrame(0, opaque_data=_GOAWAY_PING).serialize()
    + GoAwayFrame(0, last_stream_id=2**31 - 1).serialize()
)
#: How long a shutdown PING's acknowledgement is awaited before going on anyway (a
#: client reads only while it waits for a response; an h2-based one drops the
#: acknowledgement when a GOAWAY follows the PING).
_PING_WAIT = 1.0
#: token68 in base64url (RFC 7540 §3.2.1): the form an ``HTTP2-Settings`` value takes.
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]+={0,2}")


class H2Connection:
    """Serve HTTP/2 streams on one byte stream until it closes."""

    #: Never due: HTTP/2 waits end by their own deadlines (``Pace.wait``), so the
    #: server's watchdog (``ServerState.run_watchdog``) has nothing to expire here.
    deadline = _INF

    def __init__(
        self,
        state: ServerState,
        stream: anyio.abc.ByteStream,
        scheme: str,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        connect_handlers: Mapping[bytes, Any] | None = None,
    ) -> None:
        config = state.config
        self.state = state
        self.stream = stream
        self.scheme = scheme
        self.client = client
        self.server = server
        #: Extended CONNECT handlers by ``:protocol`` (RFC 8441), e.g. ``b"websocket"``.
        self.connect_handlers = connect_handlers or {}
        self.conn = conn = h2.connection.H2Connection(config=_H2_CONFIG)
        settings = {
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: config.h2_max_concurrent_streams,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: config.h2_initial_window_size,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: config.h2_max_frame_size,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
        }
        if self.connect_handlers:
            settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
        conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.streams: dict[int, H2Stream] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        # PERF: anyio.Event() asks which backend runs on every call; resolve it once.
        self.new_event: Callable[[], anyio.Event] = type(anyio.Event())
        self._write_needed = self.new_event()
        self._drained = self.new_event()
        self._queued = 0
        self._closing = False  # shutting down (or closed): see shutdown()
        self._final_goaway = False  # the last GOAWAY is out: new streams are refused
        self._stream_gone: anyio.Event | None = None
        self._ping_wait: tuple[bytes, anyio.Event] | None = None
        self._go_away_scope: anyio.CancelScope | None = None
        self.closed = False  # h2 sent or received a final GOAWAY: no more frames
        self.broken = False  # the socket failed
        self._extra = b""
        self._stopping = False
        self._unparsed = 0
        self._client_resets = 0
        self._completed = 0
        self._unparsed_limit = config.h2_max_frame_size + config.h2_max_header_list_size + 1024
        #: Socket writes wait on the client within this (the HTTP/1.1 rule, see Pace).
        self._write_pace = Pace(config.timeout_write, config.min_write_rate)
        self._read_scope: anyio.CancelScope | None = None

    # -- connection loop -------------------------------------------------------------

    async def run(self, initial: bytes = b"", upgrade: RequestHead | None = None) -> None:
        """Serve until the peer closes, an error, idle timeout or a graceful shutdown.

        With ``upgrade`` (an ``Upgrade: h2c`` request, after :meth:`accept_upgrade`),
        that request is served as stream 1.
        """
        state = self.state
        conn = self.conn
        state.connections.add(self)
        try:
            if upgrade is None:
                conn.initiate_connection()
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._writer)
                self.schedule_write()  # our SETTINGS go out without waiting for the client
                if self._closing:
                    tg.start_soon(self._go_away)  # shutdown() came before the task group
                if upgrade is not None:
                    self._start_upgraded_stream(upgrade)
                try:
                    if initial:
                        self._receive_data(initial)
                    await self._read_loop()
                finally:
                    self._finish_connection(tg)
        finally:
            self._tg = None
            state.connections.discard(self)
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self.stream)

    def _finish_connection(self, tg: anyio.abc.TaskGroup) -> None:
        """Cancel what is left, queue the final GOAWAY, let the writer flush and stop."""
        if self._go_away_scope is not None:
            self._go_away_scope.cancel()
        for stream in list(self.streams.values()):
            stream.on_reset()
        if not self.closed and not self.broken and not self._final_goaway:
            self.closed = True
            try:
                self.conn.close_connection()
            except h2.exceptions.ProtocolError:
                pass
        self._stopping = True
        self.schedule_write()
        # Bound the final flush: a peer that stopped reading must not hold us here.
        tg.cancel_scope.deadline = anyio.current_time() + min(5.0, self.state.config.timeout_write)

    def shutdown(self) -> None:
        """Close gracefully: in-flight streams complete, then the connection closes.

        See :meth:`_go_away` for the GOAWAY sequence.
        """
        if self._closing:
            return
        self._closing = True
        for stream in list(self.streams.values()):
            if stream.tunnel is not None:
                stream.tunnel.shutdown()  # e.g. a WebSocket closes with 1001
        if self._tg is not None and not self._stopping:
            self._tg.start_soon(self._go_away)

    async def _go_away(self) -> None:
        """The graceful GOAWAY sequence of RFC 9113 §6.8.

        1. Wait until the streams in flight when shutdown began have finished (at most
           half of ``timeout_graceful_shutdown``), then send a PING and wait for its
           acknowledgement: the client has then read those responses. Clients built on
           the h2 library, httpx among them, fail every stream whose response they are
           still reading when a GOAWAY arrives, even one that promises to serve it.
        2. A PING and GOAWAY with last stream id 2**31-1; once that PING is
           acknowledged (a round trip: streams the client opened before it saw the
           GOAWAY have arrived, and are served), GOAWAY with the real last stream id.
           Streams opened after that are refused with REFUSED_STREAM.

        A PING not acknowledged within a second does not hold the sequence up.
        """
        # h2 refuses all traffic after its own close_connection(), so these frames are
        # written by hand; h2 sends no GOAWAY at close once the final one is out.
        with anyio.CancelScope() as self._go_away_scope:
            streams = self.streams
            waited = max(streams, default=0)
            with anyio.move_on_after(self.state.config.timeout_graceful_shutdown / 2):
                while streams and min(streams) <= waited:
                    self._stream_gone = gone = self.new_event()
                    await gone.wait()
            flush = PingFrame(0, opaque_data=_FLUSH_PING).serialize()
            if not await self._ping_round_trip(flush, _FLUSH_PING):
                return
            if not await self._ping_round_trip(_FIRST_GOAWAY, _GOAWAY_PING):
                return
            last = self.conn.highest_inbound_stream_id
            self._extra += GoAwayFrame(0, last_stream_id=last).serialize()
            self._final_goaway = True
            self.schedule_write()
            self._maybe_finish()

    async def _ping_round_trip(self, frames: bytes, ping: bytes) -> bool:
        """Send ``frames`` (with a PING of ``ping``), await the ack; False if closed."""
        if self.closed or self.broken:
            return False
        self._extra += frames
        self.schedule_write()
        self._ping_wait = (ping, self.new_event())
        with anyio.move_on_after(_PING_WAIT):
            await self._ping_wait[1].wait()
        self._ping_wait = None
        return not self.closed and not self.broken

    def _maybe_finish(self) -> None:
        if self._final_goaway and not self.streams and self._read_scope is not None:
            self._read_scope.cancel()

    async def _read_loop(self) -> None:
        keep_alive = self.state.config.timeout_keep_alive
        stream = self.stream
        while not self._final_goaway or self.streams:
            with anyio.CancelScope() as scope:
                if not self.streams and not self._closing:
                    scope.deadline = anyio.current_time() + keep_alive
                self._read_scope = scope
                try:
                    data = await stream.receive(_READ_SIZE)
                except CLIENT_GONE:
                    return
            self._read_scope = None
            if scope.cancelled_caught:
                if not self.streams and not self._closing:
                    return  # idle: h2's GOAWAY goes out as the connection finishes
                continue
            self._receive_data(data)
            if self.closed or self.broken:
                return

    def _receive_data(self, data: bytes) -> None:
        conn = self.conn
        try:
            events = conn.receive_data(data)
            if events:
                self._unparsed = 0
            else:
                # h2 checks a frame's length only once all of it has arrived; do not
                # buffer more than a maximal frame plus a maximal header block meanwhile.
                self._unparsed += len(data)
                if self._unparsed > self._unparsed_limit:
                    raise h2.exceptions.FrameTooLargeError("frame larger than advertised")
        except h2.exceptions.ProtocolError as exc:
            # Stream-level errors are treated as connection errors too (RFC 9113 §5.4.1
            # allows it): h2 raises them from receive_data without saying which stream.
            error_logger.debug("HTTP/2 protocol error from client: %s", exc)
            self._abort_connection(getattr(exc, "error_code", None) or ErrorCodes.PROTOCOL_ERROR)
            return
        streams = self.streams
        stream: H2Stream | None
        event: Any
        for event in events:
            kind = type(event)
            if kind is _RequestReceived:
                self._start_stream(event)
            elif kind is _DataReceived:
                stream = streams.get(event.stream_id)
                if stream is None:
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                else:
                    stream.feed(event.data, event.flow_controlled_length)
            elif kind is _StreamEnded:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.on_end()
            elif kind is _StreamReset:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.on_reset()
                    self._client_resets += 1
                    if self._client_resets > _RESET_FLOOD and (
                        self._client_resets > 2 * self._completed
                    ):
                        # "Rapid reset": streams opened only to be cancelled cost us a
                        # task each; a client doing mostly that is told to calm down.
                        self._abort_connection(ErrorCodes.ENHANCE_YOUR_CALM)
                        return
            elif kind is _WindowUpdated:
                if event.stream_id == 0:
                    for stream in streams.values():
                        stream.wake_sender()
                else:
                    stream = streams.get(event.stream_id)
                    if stream is not None:
                        stream.wake_sender()
            elif kind is h2.events.RemoteSettingsChanged:
                for stream in streams.values():
                    stream.wake_sender()
            elif kind is h2.events.PingAckReceived:
                waiting = self._ping_wait
                if waiting is not None and event.ping_data == waiting[0]:
                    waiting[1].set()
            elif kind is h2.events.ConnectionTerminated:
                # h2 allows no further frames after a GOAWAY from the peer.
                self._closing = self.closed = True
                for stream in list(streams.values()):
                    stream.on_reset()
            # PING is answered by h2 itself; trailers and priority need nothing.
        self.schedule_write()

    def _abort_connection(self, code: int) -> None:
        """Send a final GOAWAY with ``code`` and stop every stream."""
        try:
            self.conn.close_connection(error_code=code)
        except h2.exceptions.ProtocolError:
            pass
        self._closing = self.closed = True
        for victim in list(self.streams.values()):
            victim.on_reset()
        self.schedule_write()

    def _start_stream(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        conn = self.conn
        if self._final_goaway:
            # Opened after our last GOAWAY: not processed, safe to retry elsewhere.
            conn.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        method = path = b""
        scheme = self.scheme
        authority = None
        protocol = None
        headers: list[tuple[bytes, bytes]] = []
        has_host = False
        for name, value in event.headers:
            if name[0] == 58:  # b":"
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
                elif name == b":scheme":
                    scheme = value.decode("latin-1")
                elif name == b":protocol":
                    protocol = value
            else:
                if name == b"host":
                    has_host = True
                headers.append((name, value))
        if authority is not None and not has_host:
            headers.insert(0, (b"host", authority))
        if protocol is not None:
            handler = self.connect_handlers.get(protocol)
            if method != b"CONNECT" or handler is None:
                conn.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
                return
            self._open_tunnel(stream_id, handler, scheme, path, headers, authority)
            return
        self._open_stream(stream_id, method.decode("latin-1"), scheme, path, headers, event)

    def _open_tunnel(
        self,
        stream_id: int,
        handler: Any,
        scheme: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        authority: bytes | None,
    ) -> None:
        """Start an extended CONNECT stream (RFC 8441) and its handler."""
        stream = H2Stream(self, stream_id)
        self.streams[stream_id] = stream
        request = {
            "scheme": scheme,
            "target": target,
            "authority": authority,
            "headers": headers,
            "client": self.client,
            "server": self.server,
            "state": self.state,
        }
        assert self._tg is not None
        self._tg.start_soon(stream.run_tunnel, handler, request)

    def accept_upgrade(self, settings: bytes) -> bool:
        """Apply an ``HTTP2-Settings`` value (before the 101); False if it is invalid."""
        # h2 would take any base64 (it skips stray characters) and raises on the rest
        # only once the 101 has gone out; check the value before answering.
        if not _BASE64URL.fullmatch(settings):
            return False
        settings = settings.rstrip(b"=")
        try:
            payload = base64.urlsafe_b64decode(settings + b"=" * (-len(settings) % 4))
            if len(payload) % 6:
                return False  # not a whole number of settings
            self.conn.initiate_upgrade_connection(base64.urlsafe_b64encode(payload))
        except (binascii.Error, h2.exceptions.ProtocolError) as exc:
            error_logger.debug("h2c upgrade refused: invalid HTTP2-Settings: %s", exc)
            return False
        return True

    def _start_upgraded_stream(self, request: RequestHead) -> None:
        self._open_stream(
            1, request.method.decode("ascii"), self.scheme, request.target, list(request.headers)
        )
        self.streams[1].on_end()

    def _open_stream(
        self,
        stream_id: int,
        method: str,
        scheme: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        event: Any = None,
    ) -> None:
        state = self.state
        scope = build_scope(state, method, scheme, target, headers, "2", self.client, self.server)
        stream = H2Stream(self, stream_id)
        self.streams[stream_id] = stream
        declared_length = None
        for name, value in headers:
            if name == b"content-length" and value.isdigit():
                # h2 refuses an invalid one and holds the body to it.
                declared_length = int(value)
                break
        if state.over_capacity():
            stream.refuse = 503
        assert self._tg is not None
        self._tg.start_soon(stream.run, scope, declared_length)

    # -- writing ---------------------------------------------------------------------

    def schedule_write(self) -> None:
        """Have the writer task send whatever h2 has queued."""
        if not self._write_needed.is_set():
            self._write_needed.set()

    async def _writer(self) -> None:
        # PERF: streams only mark the connection dirty; this task sends everything h2 has
        # queued (all streams' frames) in one write per loop turn.
        conn = self.conn
        pace = self._write_pace
        while True:
            await self._write_needed.wait()
            self._write_needed = self.new_event()
            data = conn.data_to_send()
            if self._extra:
                data += self._extra
                self._extra = b""
            self._queued = 0
            if data:
                try:
                    await pace.wait(self._send, data)
                except (TimeoutError, *CLIENT_GONE):
                    # The client went away (over TLS a send after its close may raise
                    # EndOfStream or an SSL error) or reads too slowly: not a server fault.
                    self.broken = True
                    for stream in list(self.streams.values()):
                        stream.on_reset()
                    if self._read_scope is not None:
                        self._read_scope.cancel()
                    if self._tg is not None and not self._stopping:
                        self._tg.cancel_scope.cancel()
                    return
            drained, self._drained = self._drained, self.new_event()
            drained.set()
            if self._stopping and not self._write_needed.is_set():
                return

    async def _send(self, data: bytes) -> bytes:
        await self.stream.send(data)
        return data

    async def wait_writable(self, nbytes: int) -> None:
        """Queue accounting: wait for the socket when too much output is pending."""
        self._queued += nbytes
        self.schedule_write()
        if self._queued > _HIGH_WATER and not self.broken:
            await self._drained.wait()

    def stream_done(self, stream_id: int, completed: bool = False) -> None:
        """Forget a finished stream."""
        self.streams.pop(stream_id, None)
        if completed:
            self._completed += 1
        if self._closing:
            if self._stream_gone is not None:
                self._stream_gone.set()
                self._stream_gone = None
            self._maybe_finish()


async def upgrade_h2c(connection: Any, request: RequestHead) -> bool:
    """Switch an HTTP/1.1 connection to HTTP/2 on ``Upgrade: h2c`` (RFC 7540 §3.2).

    A request without exactly one valid ``HTTP2-Settings`` header is not upgraded (RFC
    7540 §3.2.1): it is served over HTTP/1.1, as is one with a body.
    """
    settings: list[bytes] = []
    tokens: list[bytes] = []
    for name, value in request.headers:
        if name == b"http2-settings":
            settings.append(value)
        elif name == b"connection":
            tokens += [t.strip().lower() for t in value.split(b",")]
        elif name in (b"content-length", b"transfer-encoding") and value not in (b"0",):
            return False  # a request body would have to be read over HTTP/1.1 first
    if len(settings) != 1 or b"http2-settings" not in tokens:
        return False
    h2conn = H2Connection(
        connection.state, connection.stream, connection.scheme, connection.client, connection.server
    )
    if not h2conn.accept_upgrade(settings[0]):
        return False
    trailing = connection.upgrade_bytes()
    if trailing is None:
        return False
    await connection.send_raw(_SWITCHING_TO_H2C)
    await h2conn.run(trailing, upgrade=request)
    return True


_SWITCHING_TO_H2C = (
    b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n"
)
