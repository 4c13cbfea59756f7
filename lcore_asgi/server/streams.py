"""The one place an HTTP request stream becomes an ASGI ``http`` scope, receive and send.

The HTTP/1.1 and HTTP/2 drivers each implement :class:`StreamTransport`, a handful of
neutral operations (read body, send head, send body, abort, wait for disconnect);
:class:`HTTPStream` maps those to ASGI messages, runs the app, turns app failures into
a 500 or an aborted stream, and enforces ``max_body_size`` for both HTTP versions.

Every wait on the client is bounded here too, one way: a cancel-scope deadline, from
:func:`receive_before` (a deadline: request heads, the HTTP/2 preface sniff) or from
:meth:`Pace.wait` (a stall limit and a minimum rate: request bodies and response writes).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from time import monotonic as _monotonic
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

import anyio
import anyio.abc

from ._h1_checks import _TOKEN
from ._state import ServerState, access_logger, error_logger
from ._status import reason_phrase

__all__ = [
    "ResponseError",
    "check_response_field",
    "CLIENT_GONE",
    "ClientDisconnected",
    "HTTPStream",
    "Pace",
    "RequestError",
    "StreamTransport",
    "build_scope",
    "error_response_body",
    "receive_before",
]

_ASGI = {"version": "3.0", "spec_version": "2.4"}
_T = TypeVar("_T")

#: What a vanished client raises from a byte stream, TLS ones included: ``ssl.SSLError``
#: is an ``OSError``, and a send after a TLS peer's close may raise ``EndOfStream``. Both
#: drivers treat all of them alike: the client is gone, never a server error.
CLIENT_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class ClientDisconnected(OSError):
    """The peer went away (or stopped reading); raised by ``send()`` from then on."""


class RequestError(Exception):
    """The request is unacceptable mid-stream; answer ``status`` if nothing was sent yet."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail or reason_phrase(status).decode())
        self.status = status


class Pace:
    """How long a transfer may wait on the peer: a stall limit and a minimum rate.

    Each wait may last :attr:`credit` seconds. Credit starts at ``limit``; waiting spends
    it and every byte moved earns ``1 / min_rate`` seconds, never above ``limit``. So no
    single stall outlasts ``limit``, and a peer that keeps moving bytes slower than
    ``min_rate`` while the server waits on it runs out within about ``limit`` seconds,
    however it spaces them; a fast start banks at most ``limit``. Time the server spends
    elsewhere (the app thinking) is not counted. ``min_rate`` None: per-wait limit only.
    """

    __slots__ = ("limit", "per_byte", "credit")

    def __init__(self, limit: float, min_rate: float | None) -> None:
        self.limit = limit
        self.per_byte = 1.0 / min_rate if min_rate else 0.0
        self.credit = limit

    def reset(self) -> None:
        """Start over with full credit (a new request body)."""
        self.credit = self.limit

    def spent(self, waited: float, moved: int) -> None:
        """Account one wait of ``waited`` seconds that moved ``moved`` bytes."""
        if self.per_byte:
            credit = self.credit - waited + moved * self.per_byte
            self.credit = credit if credit < self.limit else self.limit

    async def wait(self, waiting: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Await ``waiting(*args)`` within the credit left; TimeoutError once it runs out.

        The time waited is spent; a ``bytes`` result earns its length.
        """
        start = _monotonic()
        with anyio.move_on_after(self.credit):
            result = await waiting(*args)
            self.spent(_monotonic() - start, len(result) if isinstance(result, bytes) else 0)
            return result
        self.credit = 0.0
        raise TimeoutError


async def receive_before(stream: anyio.abc.ByteStream, deadline: float, max_bytes: int) -> bytes:
    """Receive from ``stream`` by ``deadline`` (``time.monotonic()``); TimeoutError if not.

    Returns ``b""`` once the client closed or is gone.
    """
    with anyio.move_on_after(deadline - _monotonic()):
        try:
            return await stream.receive(max_bytes)
        except CLIENT_GONE:
            return b""
    raise TimeoutError


class ResponseError(Exception):
    """The app's response cannot be sent as given (h11's ``LocalProtocolError``).

    Raised by a driver before anything of the response was written; the stream then
    answers 500 (or resets, once the head is out), on HTTP/1.1 and HTTP/2 alike.
    """


#: A field value as h11 accepts one for sending: no NUL, no CR/LF, no outer whitespace.
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?").fullmatch


def check_response_field(name: Any, value: Any) -> None:
    """Refuse (ResponseError) a response header h11 would not send: a name that is not a
    token (so no pseudo-header either), a value with NUL, CR, LF or outer whitespace, or
    either one not ``bytes``. Both HTTP versions check with it, before anything is sent."""
    if type(name) is not bytes or type(value) is not bytes:
        raise ResponseError(f"header not bytes: {name!r}: {value!r}")
    if _TOKEN(name) is None:
        raise ResponseError(f"illegal header name {name!r}")
    if _FIELD_VALUE(value) is None:
        raise ResponseError(f"illegal header value {value!r}")


class StreamTransport(Protocol):
    """What a protocol driver offers one request stream."""

    async def read_body(self) -> tuple[bytes, bool] | None:
        """Return the next body chunk and whether more follows; None if the client left."""

    async def wait_disconnect(self) -> None:
        """Block until the client disconnects or the response is complete."""

    async def send_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, end: bool
    ) -> None:
        """Send the response head with the first body chunk."""

    async def send_body(self, body: bytes, end: bool) -> None:
        """Send a further body chunk."""

    async def send_error(self, status: int) -> None:
        """Answer a server-generated error response (nothing else was sent)."""

    async def abort(self) -> None:
        """Drop the stream (close the connection or reset the HTTP/2 stream)."""


def build_scope(
    state: ServerState,
    method: str,
    scheme: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    http_version: str,
    client: tuple[str, int] | None,
    server: tuple[str, int | None] | None,
) -> dict[str, Any]:
    """Build the ASGI ``http`` scope for one request."""
    raw_path, _, query = target.partition(b"?")
    path = unquote(raw_path.decode("latin-1")) if b"%" in raw_path else raw_path.decode("latin-1")
    root_path = state.config.root_path
    if root_path:
        path = root_path + path
        raw_path = root_path.encode() + raw_path
    return {
        "type": "http",
        "asgi": _ASGI,
        "http_version": http_version,
        "server": server,
        "client": client,
        "scheme": scheme,
        "method": method,
        "root_path": root_path,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "state": state.lifespan_state.copy(),
    }


def error_response_body(status: int) -> bytes:
    """Return the plain-text body of a server-generated error response."""
    return reason_phrase(status) + b"\n"


class HTTPStream:
    """One request/response exchange: runs the ASGI app against a transport.

    ``declared_length`` is the request's ``Content-Length`` (already validated by the
    driver), if any. The body limit lives here, for both HTTP versions: a declared length
    over ``max_body_size`` is answered 413 without calling the app; a body that grows
    past it while the app reads is answered 413 (the app's ``receive()`` then returns
    ``http.disconnect``).
    """

    __slots__ = (
        "state",
        "scope",
        "transport",
        "status",
        "headers",
        "started",
        "head_sent",
        "complete",
        "body_done",
        "disconnected",
        "head_only",
        "declared_length",
        "body_room",
    )

    def __init__(
        self,
        state: ServerState,
        scope: dict[str, Any],
        transport: StreamTransport,
        declared_length: int | None = None,
    ) -> None:
        self.state = state
        self.scope = scope
        self.transport = transport
        self.status = 0
        self.headers: Any = ()
        self.started = False
        self.head_sent = False
        self.complete = False
        self.body_done = False
        self.disconnected = False
        self.head_only = scope["method"] == "HEAD"
        self.declared_length = declared_length
        #: Body bytes still allowed (``max_body_size`` minus what was read); None: no limit.
        self.body_room: int | None = state.config.max_body_size

    async def run(self) -> None:
        """Call the app; map an exception to a 500 (before the head) or an abort (after)."""
        state = self.state
        state.active_requests += 1
        try:
            declared = self.declared_length
            if declared is not None and self.body_room is not None and declared > self.body_room:
                await self._reject(413)
            else:
                await state.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            self.disconnected = True  # ours, re-raised by the app: not an error
        except Exception:
            error_logger.exception("Exception in ASGI application")
            await self._fail()
        else:
            if not self.complete and not self.disconnected:
                if not self.head_sent:
                    error_logger.error("ASGI app returned without completing the response")
                await self._fail()
        finally:
            state.active_requests -= 1
        if state.log_access and access_logger.isEnabledFor(20):
            self._log_access()

    async def _fail(self) -> None:
        self.complete = True
        if self.disconnected:
            return
        if self.head_sent:
            await self.transport.abort()
            return
        self.status = 500
        self.head_sent = True
        try:
            await self.transport.send_error(500)
        except Exception:
            await self.transport.abort()

    async def receive(self) -> dict[str, Any]:
        """ASGI receive: body chunks, then ``http.disconnect`` once the client is gone."""
        if self.disconnected or self.complete:
            return {"type": "http.disconnect"}
        if self.body_done:
            await self.transport.wait_disconnect()
            return {"type": "http.disconnect"}
        try:
            chunk = await self.transport.read_body()
        except RequestError as exc:
            await self._reject(exc.status)
            return {"type": "http.disconnect"}
        if chunk is None:
            self.disconnected = True
            return {"type": "http.disconnect"}
        body, more = chunk
        room = self.body_room
        if room is not None:
            room -= len(body)
            self.body_room = room
            if room < 0:
                await self._reject(413)
                return {"type": "http.disconnect"}
        if not more:
            self.body_done = True
        return {"type": "http.request", "body": body, "more_body": more}

    async def _reject(self, status: int) -> None:
        self.disconnected = True
        if not self.head_sent:
            self.head_sent = True
            self.status = status
            try:
                await self.transport.send_error(status)
                return
            except Exception:
                pass
        await self.transport.abort()

    async def send(self, message: dict[str, Any]) -> None:
        """ASGI send: ``http.response.start`` then ``http.response.body`` messages.

        Once the client is gone this raises :class:`ClientDisconnected` (an ``OSError``,
        ASGI spec 2.4), so a streaming app stops instead of sending into the void.
        """
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        kind = message["type"]
        if kind == "http.response.body":
            if not self.started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.complete:
                raise RuntimeError("http.response.body sent after the response completed")
            body = message.get("body", b"")
            end = not message.get("more_body", False)
            if end:
                self.complete = True
            if self.head_only:
                body = b""
            try:
                if self.head_sent:
                    if body or end:
                        await self.transport.send_body(body, end)
                else:
                    # The head waits for the first body message (ASGI allows it); both
                    # then leave in one write. If the driver refuses the head (say, an
                    # invalid header), nothing was written and a 500 can still go out.
                    await self.transport.send_head(self.status, self.headers, body, end)
                    self.head_sent = True
            except ClientDisconnected:
                self.head_sent = True
                self.disconnected = True
                raise
        elif kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = message["status"]
            self.headers = message.get("headers", ())
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on an http stream")

    def _log_access(self) -> None:
        scope = self.scope
        client = scope["client"]
        query = scope["query_string"]
        access_logger.info(
            '%s - "%s %s%s HTTP/%s" %d',
            f"{client[0]}:{client[1]}" if client else "-",
            scope["method"],
            scope["path"],
            "?" + query.decode("latin-1") if query else "",
            scope["http_version"],
            self.status,
        )
