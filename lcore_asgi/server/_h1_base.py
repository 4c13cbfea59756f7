"""What every HTTP/1.1 driver shares: the connection loop's edges, deadlines and writes.

The h11 driver (:mod:`.h11_protocol`) and the httptools driver
(:mod:`.httptools_protocol`) differ in how they parse request heads and bodies and frame
responses; accepting, the head deadlines, the watchdog seam (``deadline``/``expire``),
graceful shutdown, lingering close and paced writes live here, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from time import monotonic as _monotonic
from typing import Any

import anyio
import anyio.abc

from ._date import http_date
from ._fast_stream import loop_turn
from ._state import ServerState, error_logger
from ._status import STATUS_LINES, reason_phrase
from .streams import (
    CLIENT_GONE,
    ClientDisconnected,
    HTTPStream,
    Pace,
    RequestError,
    build_scope,
    error_response_body,
)

__all__ = ["H1Connection", "RequestHead", "UpgradeHandler", "origin_form"]

_READ_SIZE = 65536
_INF = float("inf")


class RequestHead:
    """A parsed HTTP/1.1 request head, as upgrade handlers see it.

    ``method``, ``target`` and ``http_version`` (``b"1.1"``) are bytes; ``headers`` are
    (lower-case name, value) pairs. h11's ``Request`` has the same attributes, so a
    handler works with either driver.
    """

    __slots__ = ("method", "target", "http_version", "headers")

    def __init__(
        self, method: bytes, target: bytes, http_version: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers


#: An HTTP/1.1 ``Upgrade`` handler: called with the connection and the request head
#: (whose body, if any, has not been read). Return True if it took the connection over;
#: False to let the request be served as plain HTTP. The connection offers
#: ``upgrade_bytes()`` (the bytes after the head, None if a body follows it; once it
#: returned bytes the connection is the handler's: return True),
#: ``send_raw()``, ``stream``, ``state``, ``scheme``, ``client``, ``server`` and
#: ``upgraded`` (set it to a session with ``shutdown()``).
UpgradeHandler = Callable[[Any, Any], Awaitable[bool]]


def origin_form(target: bytes) -> bytes:
    """Turn an absolute-form target (``http://host/p?q``) into origin form (``/p?q``)."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return target
    slash = rest.find(b"/")
    question = rest.find(b"?")
    if slash == -1 or (question != -1 and question < slash):
        return b"/" + rest[question:] if question != -1 else b"/"
    return rest[slash:]


_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}
#: Method names seen on the wire, decoded once (bounded: any token is a method).
_METHODS: dict[bytes, str] = {}


class H1Connection:
    """The parser-independent half of an HTTP/1.1 connection driver.

    A subclass implements ``_serve()`` (the request loop; True to linger on close) and
    the :class:`~.streams.StreamTransport` reads and response writes of its parser.
    """

    # PERF: one per connection (an upgraded one, a WebSocket, lives long): no instance dict.
    __slots__ = (
        "__weakref__",
        "state",
        "stream",
        "scheme",
        "client",
        "server",
        "upgrade_handlers",
        "_config",
        "_must_close",
        "_idle",
        "_scope",
        "_expired",
        "_linger",
        "_head_started",
        "deadline",
        "_first_head_deadline",
        "_body_pace",
        "_write_pace",
        "_body_eof",
        "_waiter_scope",
        "_waiter_exited",
        "_cycles",
        "_request",
        "_upgrade",
        "upgraded",
        "_turn",
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
        config = state.config
        self.state = state
        self.stream = stream
        self.scheme = scheme
        self.client = client
        self.server = server
        self.upgrade_handlers = (
            config.upgrade_handlers if upgrade_handlers is None else upgrade_handlers
        )
        self._config = config
        self._must_close = False
        self._idle = False
        self._scope: anyio.CancelScope | None = None
        self._expired = False
        self._linger = False
        self._head_started = False
        #: When the pending head read or write times out (``ServerState.run_watchdog``).
        self.deadline = _INF
        #: The whole first head must be in by then (``time.monotonic()``; see ``run``).
        self._first_head_deadline = _INF
        self._body_pace = Pace(config.timeout_body, config.min_body_rate)
        self._write_pace = Pace(config.timeout_write, config.min_write_rate)
        self._body_eof = False
        self._waiter_scope: anyio.CancelScope | None = None
        self._waiter_exited: anyio.Event | None = None
        self._cycles = 0
        #: The request head being served (``RequestHead``-like), None between requests.
        self._request: Any = None
        self._upgrade: bytes | None = None
        #: Set by an upgrade handler that took the connection over (e.g. a WebSocket
        #: session); its ``shutdown()`` is called on graceful server shutdown.
        self.upgraded: Any = None
        self._turn = loop_turn()

    # -- connection loop -------------------------------------------------------------

    async def run(self, initial: bytes = b"", accepted: float | None = None) -> None:
        """Serve requests until the peer closes, a timeout, an error or shutdown.

        ``accepted`` (``time.monotonic()``) is when the connection was accepted, if bytes
        were read before (the HTTP/2 preface sniff): the first head's deadline counts
        from then. ``initial`` are those bytes.
        """
        self.state.connections.add(self)
        start = _monotonic() if accepted is None else accepted
        self._first_head_deadline = start + self._config.timeout_headers
        if initial:
            self._take_initial(initial)
        linger = False
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                linger = await self._serve() or self._linger
            if self._expired and self._head_started:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await self._write_error(408)
                linger = True
        except CLIENT_GONE:
            pass
        finally:
            self.state.connections.discard(self)
            self.deadline = _INF
            await self._close(linger)

    def _take_initial(self, initial: bytes) -> None:
        raise NotImplementedError

    async def _serve_stream(self, scope: dict[str, Any], declared_length: int | None) -> None:
        """Run the app on one request, after one turn of the event loop.

        PERF: the turn lets the loop read every other connection that is ready before
        this request's app runs and writes, so responses leave in batches, as they do
        from servers that start a task per request. Under load (wrk/h2load, 32
        connections) that is 1.3-1.5x the requests/s at less CPU per request; an idle
        server pays one loop turn (a few µs). HTTP/2 streams run in tasks of their own.
        """
        await self._turn()
        transport: Any = self  # each driver implements the StreamTransport side
        await HTTPStream(self.state, scope, transport, declared_length).run()

    async def _serve(self) -> bool:
        raise NotImplementedError

    def expire(self) -> None:
        """The pending head read or write ran past its deadline: drop the connection."""
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

    async def _after_response(self) -> None:
        """Stop the disconnect waiter of the request just served, if it runs."""
        if self._waiter_scope is not None:
            self._waiter_scope.cancel()
            assert self._waiter_exited is not None
            await self._waiter_exited.wait()

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

    def _head_deadline(self, started: bool) -> float:
        """The deadline of the head about to be read (see :meth:`_read_head`)."""
        config = self._config
        if not self._cycles:
            return self._first_head_deadline
        if started:
            return _monotonic() + config.timeout_headers
        return _monotonic() + config.timeout_keep_alive

    async def _receive_head(self, deadline: float) -> bytes:
        """Head bytes (``b""`` at end of stream); past ``deadline`` :meth:`expire` ends us."""
        self._idle = True
        self.deadline = deadline
        try:
            return await self.stream.receive(_READ_SIZE)
        except CLIENT_GONE:
            return b""
        finally:
            self._idle = False
            self.deadline = _INF

    async def _receive_some(self) -> bytes:
        """Body bytes; ``b""`` at end of stream; ClientDisconnected if the client is gone."""
        try:
            return await self.stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            return b""
        except CLIENT_GONE as exc:
            raise ClientDisconnected from exc

    async def _receive_body(self) -> bytes | None:
        """Body bytes within the body pace; None if the client is gone.

        ``b""`` at end of stream (and ``_body_eof`` set); RequestError(408) when the
        client is too slow.
        """
        try:
            data = await self._body_pace.wait(self._receive_some)
        except TimeoutError:
            self._must_close = True
            raise RequestError(408, "request body too slow") from None
        except ClientDisconnected:
            self._must_close = True
            return None
        if not data:
            self._body_eof = True
        return data

    # -- writing ---------------------------------------------------------------------

    async def _refuse(self, exc: Any) -> None:
        """Answer a request head the checks refused (a client mistake: logged at debug)."""
        error_logger.debug("refused a request from %s: %s (%d)", self.client, exc, exc.status)
        await self._write_error(exc.status)

    async def _hand_over(self) -> bool:
        """Whether an upgrade handler took the connection over for the request being served.

        The head goes to the handler from ``_request``: the drivers' loops do not hold it
        while the handler serves the connection (a WebSocket, for its whole life), and
        ``upgrade_bytes()`` drops the parser's state.
        """
        handler = self.upgrade_handlers.get(self._upgrade)  # type: ignore[arg-type]
        return handler is not None and bool(await handler(self, self._request))

    def _http_scope(
        self, method: bytes, target: bytes, headers: Any, http_version: bytes
    ) -> dict[str, Any]:
        """The ASGI ``http`` scope of a checked request head (both drivers' one way)."""
        name = _METHODS.get(method)
        if name is None:
            name = method.decode("ascii")
            if len(_METHODS) < 64:
                _METHODS[method] = name
        if target[:1] != b"/" and target[:4].lower() == b"http":
            target = origin_form(target)
        return build_scope(
            self.state,
            name,
            self.scheme,
            target,
            headers,
            _VERSIONS[http_version],
            self.client,
            self.server,
        )

    async def _write(self, data: bytes) -> None:
        """Send within the write pace; ClientDisconnected if the client is gone."""
        pace = self._write_pace
        start = _monotonic()
        # PERF: the hot path's waits (heads, writes) are bounded by the watchdog's sweep
        # of ``deadline`` (set from the Pace), not a cancel scope and timer each: those
        # cost ~30% of req/s under wrk. Body waits use ``Pace.wait``.
        self.deadline = start + pace.credit
        try:
            await self.stream.send(data)
        except CLIENT_GONE as exc:
            # Over TLS a send after the client's close may raise EndOfStream or an
            # ssl error: the client is gone all the same, never a server error.
            self._must_close = True
            if isinstance(exc, ClientDisconnected):
                raise
            raise ClientDisconnected from exc
        finally:
            self.deadline = _INF
        pace.spent(_monotonic() - start, len(data))

    async def send_error(self, status: int) -> None:
        """Write a server-generated error response and mark the connection to close."""
        self._must_close = True
        self._linger = True
        await self._write_error(status)

    async def abort(self) -> None:
        """Close the connection once the app returns."""
        self._must_close = True

    async def _write_error(self, status: int) -> None:
        # Written without the parser's help: it may be in an error state, and we close.
        self._must_close = True
        request = self._request
        head_only = request is not None and request.method == b"HEAD"
        payload = error_response_body(status)
        data = (
            STATUS_LINES.get(status, b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status)))
            + self.state.default_header_bytes(http_date())
            + b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(payload) + (b"" if head_only else payload)
        )
        try:
            await self._write(data)
        except ClientDisconnected:
            pass

    # -- for upgrade handlers --------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        """Write bytes on the underlying stream (for upgrade handlers)."""
        await self._write(data)
