"""HTTP/1.1 driver: an h11 connection turned into :class:`HTTPStream` exchanges."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from time import monotonic as _monotonic
from typing import Any

import anyio
import h11
import h11._writers

from ._date import http_date
from ._state import ServerState
from ._status import REASONS, STATUS_LINES, reason_phrase
from .streams import ClientDisconnected, HTTPStream, RequestError, build_scope, error_response_body

__all__ = ["H11Connection", "UpgradeHandler"]

#: An HTTP/1.1 ``Upgrade`` handler: called with the connection and the request event
#: (whose body, if any, has not been read). Return True if it took the connection over;
#: False to let the request be served as plain HTTP.
UpgradeHandler = Callable[["H11Connection", h11.Request], Awaitable[bool]]

_HOST_RE = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")
_HEAD_END_RE = re.compile(rb"\n\r?\n")
#: Control characters RFC 9110 forbids in field values and targets (h11 lets them through).
_CTL_SEARCH = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search
_TOKEN_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_GOOD_NAMES: set[bytes] = set()
_FRAMING = frozenset((b"content-length", b"transfer-encoding"))
#: Statuses whose responses never carry a Content-Length we could add.
_NO_LENGTH = frozenset((204, 304))
_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}
_METHODS: dict[bytes, str] = {}
_READ_SIZE = 65536
_INF = float("inf")
_DRAIN_LIMIT = 65536
_Request = h11.Request
_Data = h11.Data
_EndOfMessage = h11.EndOfMessage
_NEED_DATA = h11.NEED_DATA
_PAUSED = h11.PAUSED


def _write_response(response: Any, write: Callable[[bytes], Any]) -> None:
    """Write a response head with the status line taken from the prebuilt table."""
    line = STATUS_LINES.get(response.status_code)
    if line is None or response.reason != REASONS.get(response.status_code):
        _H11_RESPONSE_WRITER(response, write)
        return
    write(line)
    write(
        b"".join([b"%s: %s\r\n" % (raw, value) for raw, _, value in response.headers._full_items])
    )
    write(b"\r\n")


_H11_RESPONSE_WRITER: Any = getattr(h11._writers, "write_any_response", None)


class _Connection(h11.Connection):
    """h11's server connection, writing status lines from :data:`STATUS_LINES`."""

    # PERF: status lines are built once at import instead of formatted per response.
    # This swaps h11's response writer through its private ``_get_io_object`` hook; if a
    # future h11 drops the hook or the writer, h11's own writer is simply used.
    def _get_io_object(self, role: Any, event: Any, io_dict: Any) -> Any:
        writer = super()._get_io_object(role, event, io_dict)
        if writer is _H11_RESPONSE_WRITER and writer is not None:
            return _write_response
        return writer


class _Reject(Exception):
    """The request must be refused with ``status`` and the connection closed."""

    def __init__(self, status: int) -> None:
        self.status = status


def _header_list(headers: Any) -> list[tuple[bytes, bytes]]:
    """Return (lower-case name, value) pairs of parsed request headers."""
    # PERF: h11's Headers is a Sequence whose __iter__ goes through __getitem__ and
    # IndexError; its private triple list is ~4x faster to walk.
    return [(name, value) for _, name, value in headers._full_items]


def _response_headers(head: list[tuple[bytes, bytes]], app_headers: Any) -> bool:
    """Validate the app's response headers, append them to ``head``; True if they frame."""
    # PERF: h11 runs two regexes per header (ours included, which are known good);
    # names seen valid are remembered and values get one control-character search.
    good = _GOOD_NAMES
    framed = False
    for name, value in app_headers:
        if name not in good:
            if type(name) is not bytes or _TOKEN_RE.fullmatch(name) is None:
                raise h11.LocalProtocolError(f"illegal header name {name!r}")
            if len(good) < 512:
                good.add(name)
        if type(value) is not bytes or _CTL_SEARCH(value):
            raise h11.LocalProtocolError(f"illegal header value {value!r}")
        if len(name) in (14, 17) and name.lower() in _FRAMING:
            framed = True
        head.append((name, value))
    return framed


def _origin_form(target: bytes) -> bytes:
    """Turn an absolute-form target (``http://host/p?q``) into origin form (``/p?q``)."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return target
    slash = rest.find(b"/")
    question = rest.find(b"?")
    if slash == -1 or (question != -1 and question < slash):
        return b"/" + rest[question:] if question != -1 else b"/"
    return rest[slash:]


def _obs_fold_in_head(buf: bytes) -> bool:
    match = _HEAD_END_RE.search(buf)
    head = buf[: match.start() + 1] if match else buf
    return b"\n " in head or b"\n\t" in head


class H11Connection:
    """Serve HTTP/1.1 requests on one byte stream until it closes."""

    def __init__(
        self,
        state: ServerState,
        stream: anyio.abc.ByteStream,
        scheme: str,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        upgrade_handlers: Mapping[bytes, UpgradeHandler] | None = None,
    ) -> None:
        config = state.config
        self.state = state
        self.stream = stream
        self.scheme = scheme
        self.client = client
        self.server = server
        self.upgrade_handlers = (
            config.upgrade_handlers if upgrade_handlers is None else upgrade_handlers
        )
        self.conn = _Connection(
            h11.SERVER, max_incomplete_event_size=config.h11_max_incomplete_event_size
        )
        self._config = config
        self._max_body = config.max_body_size
        self._body_seen = 0
        self._must_close = False
        self._idle = False
        self._scope: anyio.CancelScope | None = None
        self._expired = False
        self._linger = False
        self._head_started = False
        #: When the pending read or write times out (see ``ServerState.run_watchdog``).
        self.deadline = _INF
        self._waiter_scope: anyio.CancelScope | None = None
        self._waiter_exited: anyio.Event | None = None
        self._last_nl = False
        self._cycles = 0
        self._request: h11.Request | None = None
        self._upgrade: bytes | None = None
        self._initial = b""
        #: Set by an upgrade handler that took the connection over (e.g. a WebSocket
        #: session); its ``shutdown()`` is called on graceful server shutdown.
        self.upgraded: Any = None

    # -- connection loop -------------------------------------------------------------

    async def run(self, initial: bytes = b"") -> None:
        """Serve requests until the peer closes, a timeout, an error or shutdown."""
        self.state.connections.add(self)
        self._initial = initial
        linger = False
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                linger = await self._serve() or self._linger
            if self._expired and self._head_started:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await self._write_error(408)
                linger = True
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ClientDisconnected):
            pass
        finally:
            self.state.connections.discard(self)
            self.deadline = _INF
            await self._close(linger)

    def expire(self) -> None:
        """The pending read or write ran past its deadline: drop the connection."""
        self.deadline = _INF
        self._expired = True
        self._must_close = True
        if self._scope is not None:
            self._scope.cancel()

    def shutdown(self) -> None:
        """Finish the current request then close; close now if idle."""
        self._must_close = True
        if self.upgraded is not None:
            self.upgraded.shutdown()
        elif self._idle and not self._head_started and self._scope is not None:
            self._scope.cancel()

    async def _serve(self) -> bool:
        conn = self.conn
        state = self.state
        while True:
            self._request = None
            try:
                request = await self._read_head()
                if request is None:
                    return False
                self._check_request(request)
            except _Reject as exc:
                await self._write_error(exc.status)
                return True
            except h11.RemoteProtocolError as exc:
                await self._write_error(exc.error_status_hint or 400)
                return True
            self._request = request
            if self._upgrade is not None:
                handler = self.upgrade_handlers.get(self._upgrade)
                if handler is not None and await handler(self, request):
                    return False
            if state.shutting_down:
                self._must_close = True
            if state.over_capacity():
                await self._write_error(503)
                return True
            method = _METHODS.get(request.method)
            if method is None:
                method = request.method.decode("ascii")
                if len(_METHODS) < 64:
                    _METHODS[request.method] = method
            target = request.target
            if target[:1] != b"/" and target[:4].lower() == b"http":
                target = _origin_form(target)
            scope = build_scope(
                state,
                method,
                self.scheme,
                target,
                _header_list(request.headers),
                _VERSIONS[request.http_version],
                self.client,
                self.server,
            )
            self._body_seen = 0
            await HTTPStream(state, scope, self).run()
            if self._waiter_scope is not None:
                self._waiter_scope.cancel()
                assert self._waiter_exited is not None
                await self._waiter_exited.wait()
            if self._must_close or conn.our_state is not h11.DONE:
                return False
            if conn.their_state is h11.SEND_BODY and not await self._drain_body():
                return False
            if conn.their_state is not h11.DONE:
                return False
            conn.start_next_cycle()
            self._cycles += 1
            pending = conn.trailing_data[0]
            if pending and _obs_fold_in_head(pending):
                await self._write_error(400)
                return True

    async def _close(self, linger: bool) -> None:
        stream = self.stream
        with anyio.CancelScope(shield=True):
            if linger:
                # Half-close and read what the client still sends, so closing with unread
                # data does not reset the connection before it reads our error response.
                with anyio.move_on_after(1.0):
                    try:
                        await stream.send_eof()
                        while await stream.receive(_READ_SIZE):
                            pass
                    except Exception:
                        pass
            await anyio.aclose_forcefully(stream)

    # -- reading ---------------------------------------------------------------------

    def _feed_head_data(self, data: bytes) -> None:
        """Feed bytes that start or continue a request head, watching for obs-fold."""
        conn = self.conn
        conn.receive_data(data)
        # obs-fold is a CRLF followed by SP/HTAB inside the head; h11 unfolds it silently.
        if b"\n " in data or b"\n\t" in data or (self._last_nl and data[:1] in (b" ", b"\t")):
            if _obs_fold_in_head(conn.trailing_data[0]):
                raise _Reject(400)
        self._last_nl = data.endswith(b"\n")

    async def _read_head(self) -> h11.Request | None:
        conn = self.conn
        config = self._config
        idle_timeout = config.timeout_keep_alive if self._cycles else config.timeout_headers
        started = self._head_started = False
        self._last_nl = False
        if self._initial:
            initial, self._initial = self._initial, b""
            self._feed_head_data(initial)
        while True:
            event = conn.next_event()
            if event is _NEED_DATA:
                pending = conn.trailing_data[0]
                if pending:
                    started = self._head_started = True
                    self._check_partial_head(pending)
                if self._must_close and not started:
                    return None
                data = await self._receive_head(config.timeout_headers if started else idle_timeout)
                if not data:
                    conn.receive_data(b"")
                    continue
                self._feed_head_data(data)
                continue
            if type(event) is _Request:
                self._head_started = False
                return event
            return None  # ConnectionClosed

    async def _receive_head(self, timeout: float) -> bytes:
        self._idle = True
        self.deadline = _monotonic() + timeout
        try:
            return await self.stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            return b""
        finally:
            self._idle = False
            self.deadline = _INF

    def _check_partial_head(self, pending: bytes) -> None:
        config = self._config
        line_end = pending.find(b"\n")
        if line_end == -1:
            line_end = len(pending)
        if line_end > config.max_request_line_size:
            raise _Reject(414)
        if len(pending) > config.h11_max_incomplete_event_size:
            raise _Reject(431)
        if pending.count(b"\n") > config.max_header_count + 1:
            raise _Reject(431)

    def _check_request(self, request: h11.Request) -> None:
        """Refuse what h11 accepts but we consider ambiguous or over a limit."""
        config = self._config
        if request.http_version not in _VERSIONS:
            raise _Reject(400)
        if len(request.target) > config.max_request_line_size:
            raise _Reject(414)
        if _CTL_SEARCH(request.target):
            raise _Reject(400)
        headers = request.headers
        if len(headers) > config.max_header_count:
            raise _Reject(431)
        hosts = 0
        host = b""
        size = 0
        content_length = None
        chunked = False
        upgrade = None
        for _, name, value in headers._full_items:  # PERF: see _header_list
            size += len(name) + len(value) + 4
            if _CTL_SEARCH(value):
                raise _Reject(400)
            if name == b"host":
                hosts += 1
                host = value
            elif name == b"content-length":
                content_length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"upgrade":
                upgrade = value.split(b",", 1)[0].strip().lower()
        if size > config.h11_max_incomplete_event_size:
            raise _Reject(431)
        if chunked and content_length is not None:
            raise _Reject(400)
        if hosts > 1 or (hosts == 0 and request.http_version == b"1.1"):
            raise _Reject(400)
        if hosts and _HOST_RE.fullmatch(host) is None:
            raise _Reject(400)
        if content_length is not None and self._max_body is not None:
            if int(content_length) > self._max_body:
                raise _Reject(413)
        self._upgrade = upgrade

    async def _receive(self, timeout: float) -> bytes:
        with anyio.move_on_after(timeout):
            try:
                return await self.stream.receive(_READ_SIZE)
            except anyio.EndOfStream:
                return b""
        raise TimeoutError

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
                    try:
                        data = await self._receive(self._config.timeout_body)
                    except (TimeoutError, anyio.BrokenResourceError):
                        self._must_close = True
                        return None
                    conn.receive_data(data)
                    continue
                self._must_close = True
                return None
        except h11.RemoteProtocolError:
            self._must_close = True
            return None
        if self._max_body is not None and body:
            self._body_seen += len(body)
            if self._body_seen > self._max_body:
                self._must_close = True
                raise RequestError(413)
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
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
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

    async def _write(self, data: bytes) -> None:
        self.deadline = _monotonic() + self._config.timeout_write
        try:
            await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            self._must_close = True
            raise ClientDisconnected from exc
        finally:
            self.deadline = _INF

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
        # PERF: _parsed=True skips h11's two regexes per header; _response_headers has
        # validated the app's headers and ours are known good.
        data = conn.send(
            h11.Response(
                status_code=status, headers=head, reason=reason_phrase(status), _parsed=True
            )
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

    async def send_error(self, status: int) -> None:
        """Write a server-generated error response and mark the connection to close."""
        self._must_close = True
        self._linger = True
        await self._write_error(status)

    async def abort(self) -> None:
        """Close the connection once the app returns."""
        self._must_close = True

    async def _write_error(self, status: int) -> None:
        # Written without h11: it may already be in an error state, and we close anyway.
        self._must_close = True
        request = self._request
        head_only = request is not None and request.method == b"HEAD"
        payload = error_response_body(status)
        head = b"".join(b"%s: %s\r\n" % pair for pair in self.state.default_headers(http_date()))
        data = (
            STATUS_LINES.get(status, b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status)))
            + head
            + b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(payload) + (b"" if head_only else payload)
        )
        try:
            await self._write(data)
        except ClientDisconnected:
            pass

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
            with anyio.move_on_after(self._config.timeout_body):
                while True:
                    event = conn.next_event()
                    if type(event) is _Data:
                        drained += len(event.data)
                        if drained > _DRAIN_LIMIT:
                            return False
                    elif type(event) is _EndOfMessage:
                        return True
                    elif event is _NEED_DATA:
                        data = await self.stream.receive(_READ_SIZE)
                        conn.receive_data(data)
                    else:
                        return False
        except (h11.RemoteProtocolError, anyio.EndOfStream, anyio.BrokenResourceError):
            return False
        return False

    # -- for upgrade handlers --------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        """Write bytes on the underlying stream (for upgrade handlers)."""
        await self._write(data)


_END = h11.EndOfMessage()
_RESPONDING = (h11.SEND_RESPONSE, h11.SEND_BODY)
