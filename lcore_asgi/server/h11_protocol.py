"""HTTP/1.1 driver: an h11 connection turned into :class:`HTTPStream` exchanges."""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic as _monotonic
from typing import Any

import anyio
import anyio.abc
import h11

from ._date import http_date
from ._h1_base import H1Connection, UpgradeHandler
from ._h1_checks import (
    BadRequest,
    check_head_bytes,
    check_partial_head,
    check_raw_framing,
    check_request,
    head_end,
)
from ._state import ServerState, error_logger
from ._status import reason_phrase
from .streams import CLIENT_GONE, ClientDisconnected, RequestError

__all__ = ["H11Connection", "UpgradeHandler"]

_FRAMING = frozenset((b"content-length", b"transfer-encoding"))
#: Statuses whose responses never carry a Content-Length we could add.
_NO_LENGTH = frozenset((204, 304))
_READ_SIZE = 65536
_DRAIN_LIMIT = 65536
_Request = h11.Request
_Data = h11.Data
_EndOfMessage = h11.EndOfMessage
_NEED_DATA = h11.NEED_DATA
_PAUSED = h11.PAUSED


def _header_list(headers: Any) -> list[tuple[bytes, bytes]]:
    """Return (lower-case name, value) pairs of parsed request headers."""
    # PERF: h11's Headers is a Sequence whose __iter__ goes through __getitem__ and
    # IndexError; its public raw_items() list, lower-cased here, is faster to walk.
    return [(name.lower(), value) for name, value in headers.raw_items()]


def _response_headers(head: list[tuple[bytes, bytes]], app_headers: Any) -> bool:
    """Append the app's response headers to ``head``; True if they frame the body.

    h11 validates them (``h11.Response``); an invalid one raises ``LocalProtocolError``.
    """
    framed = False
    for name, value in app_headers:
        if type(name) is not bytes or type(value) is not bytes:
            # ASGI headers are bytes; h11 would encode a str one silently.
            raise h11.LocalProtocolError(f"header not bytes: {name!r}: {value!r}")
        if len(name) in (14, 17) and name.lower() in _FRAMING:
            framed = True
        head.append((name, value))
    return framed


class H11Connection(H1Connection):
    """Serve HTTP/1.1 requests on one byte stream until it closes (the h11 driver)."""

    # PERF: one per connection (an upgraded one, a WebSocket, lives long): no instance dict.
    __slots__ = (
        "conn",
        "_raw",
    )

    def __init__(
        self,
        state: ServerState,
        stream: anyio.abc.ByteStream,
        scheme: str,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        upgrade_handlers: Mapping[bytes, UpgradeHandler] | None = None,
    ) -> None:
        super().__init__(state, stream, scheme, client, server, upgrade_handlers)
        self.conn = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self._config.h11_max_incomplete_event_size
        )
        #: Raw bytes received of the head being read (h11 keeps its own copy).
        self._raw = b""

    def _take_initial(self, initial: bytes) -> None:
        self.conn.receive_data(initial)
        self._raw = initial

    async def _serve(self) -> bool:
        conn = self.conn
        state = self.state
        config = self._config
        while True:
            self._request = None
            try:
                request = await self._read_head()
                if request is None:
                    return False
                headers = _header_list(request.headers)
                self._upgrade, declared_length = check_request(
                    config, request.method, request.target, request.http_version, headers
                )
            except BadRequest as exc:
                await self._refuse(exc)
                return True
            self._request = request
            if self._upgrade is not None:
                del request, headers, conn  # not held here while a handler serves the connection
                if await self._hand_over():
                    return False
                request, conn = self._request, self.conn
                headers = _header_list(request.headers)
            if state.shutting_down:
                self._must_close = True
            if state.over_capacity():
                await self._write_error(503)
                return True
            scope = self._http_scope(request.method, request.target, headers, request.http_version)
            self._body_eof = False
            self._body_pace.reset()
            await self._serve_stream(scope, declared_length)
            await self._after_response()
            if self._must_close or conn.our_state is not h11.DONE:
                return False
            if conn.their_state is h11.SEND_BODY and not await self._drain_body():
                return False
            if conn.their_state is not h11.DONE:
                return False
            conn.start_next_cycle()
            self._cycles += 1
            self._raw = conn.trailing_data[0]

    # -- reading ---------------------------------------------------------------------

    async def _read_head(self) -> h11.Request | None:
        """Read the next request head; None if the client closed (or we stop) before one.

        The first head must be complete ``timeout_headers`` after the connection
        started; a later one within ``timeout_headers`` of its first byte, which must
        come within ``timeout_keep_alive``. Bytes trickled in do not extend either.
        """
        conn = self.conn
        config = self._config
        raw = self._raw
        self._raw = b""
        started = self._head_started = bool(raw)
        deadline = self._head_deadline(started)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadRequest(self._refusal_status(exc, raw), str(exc)) from None
            if event is _NEED_DATA:
                if raw:
                    check_partial_head(raw, config)
                    if not started:
                        started = self._head_started = True
                        if self._cycles:
                            deadline = _monotonic() + config.timeout_headers
                elif self._must_close:
                    return None
                data = await self._receive_head(deadline)
                if data:
                    raw = raw + data if raw else data
                conn.receive_data(data)  # b"": end of stream
                continue
            if type(event) is _Request:
                check_head_bytes(raw)
                self._head_started = False
                return event
            return None  # ConnectionClosed

    def _refusal_status(self, exc: h11.RemoteProtocolError, raw: bytes) -> int:
        """The status for a head h11 refused: our checks' where they are more specific.

        h11 says 431 for any over-long unfinished head (we say 414 for the request line,
        501 for the method) and 501 for every transfer coding but ``chunked``.
        """
        status = exc.error_status_hint or 400
        end = head_end(raw)
        try:
            check_partial_head(raw if end == -1 else raw[:end], self._config)
            if end != -1:
                check_head_bytes(raw)
                check_raw_framing(raw, end)
        except BadRequest as bad:
            return bad.status
        return status

    async def read_body(self) -> tuple[bytes, bool] | None:
        """Return the next request body chunk (see :class:`StreamTransport`)."""
        conn = self.conn
        if conn.they_are_waiting_for_100_continue:
            await self._write(
                conn.send(
                    h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                )
            )
        body = b""
        more = True
        event: Any
        try:
            while True:
                event = conn.next_event()
                kind = type(event)
                if kind is _Data:
                    body += event.data
                    continue
                if kind is _EndOfMessage:
                    more = False
                    break
                if event is _NEED_DATA:
                    if body:
                        break
                    data = await self._receive_body()
                    if data is None:
                        return None
                    conn.receive_data(data)
                    continue
                self._must_close = True
                return None
        except h11.RemoteProtocolError as exc:
            self._must_close = True
            if self._body_eof:
                return None  # truncated: the client went away
            if not body:
                error_logger.debug("bad request body from %s: %s", self.client, exc)
                raise RequestError(400, "bad body framing") from None
            # The bytes before the error go out first; h11 stays in its ERROR state,
            # so the next call ends up here again without them.
        return body, more

    async def wait_disconnect(self) -> None:
        """Read until the client closes; pipelined bytes are kept for the next request."""
        if self.conn.our_state not in _RESPONDING:
            return
        self._waiter_exited = exited = anyio.Event()
        try:
            with anyio.CancelScope() as scope:
                self._waiter_scope = scope
                while True:
                    try:
                        data = await self.stream.receive(_READ_SIZE)
                    except CLIENT_GONE:
                        self._must_close = True
                        return
                    self.conn.receive_data(data)
                    if len(self.conn.trailing_data[0]) > self._config.h11_max_incomplete_event_size:
                        # Enough pipelined requests buffered; stop reading until we reply.
                        await anyio.sleep_forever()
        finally:
            self._waiter_scope = None
            exited.set()

    # -- writing ---------------------------------------------------------------------

    async def send_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, end: bool
    ) -> None:
        """Send the response head and first body chunk in one write."""
        conn = self.conn
        if type(status) is not int:
            status = int(status)
        head = self.state.default_headers(http_date())
        if (
            not _response_headers(head, headers)
            and end
            and status not in _NO_LENGTH
            and not (self._request is not None and self._request.method == b"HEAD")
        ):
            # The whole body is known: a Content-Length beats one-chunk chunked encoding.
            head.append((b"content-length", b"%d" % len(body)))
        if self._must_close:
            head.append((b"connection", b"close"))
        data = conn.send(
            h11.Response(status_code=status, headers=head, reason=reason_phrase(status))
        )
        if body:
            data += conn.send(h11.Data(data=body))
        if end:
            data += conn.send(_END)
        await self._write(data)

    async def send_body(self, body: bytes, end: bool) -> None:
        """Send a further response body chunk."""
        conn = self.conn
        data = conn.send(h11.Data(data=body)) if body else b""
        if end:
            data += conn.send(_END)
        if data:
            await self._write(data)

    async def _drain_body(self) -> bool:
        """Discard an unread request body so the connection can be reused."""
        conn = self.conn
        try:
            # PERF: a GET's EndOfMessage is already parsed; no timed loop needed.
            if type(conn.next_event()) is _EndOfMessage:
                return True
        except h11.RemoteProtocolError:
            return False
        drained = 0
        try:
            while True:
                event = conn.next_event()
                if type(event) is _Data:
                    drained += len(event.data)
                    if drained > _DRAIN_LIMIT:
                        return False
                elif type(event) is _EndOfMessage:
                    return True
                elif event is _NEED_DATA:
                    data = await self._body_pace.wait(self._receive_some)
                    conn.receive_data(data)
                else:
                    return False
        except (h11.RemoteProtocolError, TimeoutError, ClientDisconnected):
            return False

    # -- for upgrade handlers --------------------------------------------------------

    def upgrade_bytes(self) -> bytes | None:
        """The bytes received after the request head, if no body follows it; else None.

        For an upgrade handler taking the connection over: h11 is done with it then.
        """
        conn = self.conn
        try:
            if type(conn.next_event()) is not _EndOfMessage:
                return None
        except h11.RemoteProtocolError:
            return None
        data = bytes(conn.trailing_data[0])
        # The connection is the handler's now: drop h11's state and the head.
        self.conn = None  # type: ignore[assignment]
        self._request = None
        return data


_END = h11.EndOfMessage()
_RESPONDING = (h11.SEND_RESPONSE, h11.SEND_BODY)
