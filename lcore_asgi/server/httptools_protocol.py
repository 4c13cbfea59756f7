"""HTTP/1.1 driver on httptools (llhttp, the parser uvicorn uses): the fast path.

It feeds the same stream layer (:class:`~.streams.HTTPStream`) as the h11 driver and
answers hostile input the same way: request heads are collected and checked by
:mod:`._h1_checks` before the parser sees them, exactly as the h11 driver does, and the
parser is only ever fed the bytes of one message, so every pipelined head is checked too.
Responses are framed here (Content-Length, chunked, or close-delimited for HTTP/1.0)
with h11's rules; :mod:`.h11_protocol` stays the reference and the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import anyio
import anyio.abc
import httptools

from ._date import http_date
from ._h1_base import H1Connection, RequestHead, UpgradeHandler
from ._h1_checks import (
    _TOKEN,
    BadRequest,
    check_head_bytes,
    check_partial_head,
    check_raw_framing,
    check_request,
    head_end,
)
from ._state import ServerState, error_logger
from ._status import STATUS_LINES, reason_phrase
from .streams import (
    CLIENT_GONE,
    ClientDisconnected,
    RequestError,
    ResponseError,
    check_response_field,
)

__all__ = ["HttptoolsConnection", "ResponseError"]

_READ_SIZE = 65536
_DRAIN_LIMIT = 65536
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_DIGITS = re.compile(rb"[0-9]{1,18}").fullmatch
#: Response header lines already validated, by (name, value) (bounded).
_HEADER_LINES: dict[tuple[bytes, bytes], bytes] = {}
_ParserError = httptools.HttpParserError
_ParserUpgrade = httptools.HttpParserUpgrade
_InvalidMethod = httptools.HttpParserInvalidMethodError


class HttptoolsConnection(H1Connection):
    """Serve HTTP/1.1 requests on one byte stream with the httptools parser."""

    # PERF: one per connection (an upgraded one, a WebSocket, lives long): no instance dict.
    __slots__ = (
        "_buf",
        "_parser",
        "_headers",
        "_parts",
        "_message_done",
        "_chunk_header",
        "_upgraded",
        "_body_left",
        "_chunked",
        "_chunk_left",
        "_line",
        "_framing",
        "_body_error",
        "_expect_continue",
        "_close_after",
        "_response_done",
        "_response_chunked",
        "_response_left",
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
        #: Received bytes not yet fed to the parser (the next head, pipelined requests).
        self._buf = b""
        self._parser = httptools.HttpRequestParser(self)
        # What the parser callbacks collect for the message being parsed.
        self._headers: list[tuple[bytes, bytes]] = []
        self._parts: list[bytes] = []
        self._message_done = True
        self._chunk_header = False
        self._upgraded = False
        # Request body framing: Content-Length bytes not yet fed, or chunked state.
        self._body_left = 0
        self._chunked = False
        self._chunk_left = 0
        self._line = b""
        self._framing = 0
        self._body_error = False
        self._expect_continue = False
        #: The client asked to close after this request (HTTP/1.0, ``Connection: close``).
        self._close_after = False
        # Response framing.
        self._response_done = True
        self._response_chunked = False
        self._response_left: int | None = None

    def _take_initial(self, initial: bytes) -> None:
        self._buf = initial

    # -- parser callbacks (called by httptools during feed_data) -----------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect one header field, its name lower-cased."""
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        """Collect request body bytes."""
        self._parts.append(body)

    def on_message_complete(self) -> None:
        """Note the end of the request message."""
        self._message_done = True

    def on_chunk_header(self) -> None:
        """Note that the line just fed was a chunk-size line."""
        self._chunk_header = True

    # -- connection loop -------------------------------------------------------------

    async def _serve(self) -> bool:
        state = self.state
        while True:
            self._request = None
            try:
                head = await self._read_head()
                if head is None:
                    return False
                self._upgrade, declared_length = check_request(
                    self._config, head.method, head.target, head.http_version, head.headers
                )
                upgraded = self._frame_body(head, declared_length)
            except BadRequest as exc:
                await self._refuse(exc)
                return True
            self._request = head
            if self._upgrade is not None:
                del head  # not held here while a handler serves the connection
                if await self._hand_over():
                    return False
                head = self._request
            if upgraded:
                self._reframe(head, declared_length)
            if state.shutting_down:
                self._must_close = True
            if state.over_capacity():
                await self._write_error(503)
                return True
            scope = self._http_scope(head.method, head.target, head.headers, head.http_version)
            self._body_eof = False
            self._body_pace.reset()
            self._response_done = False
            await self._serve_stream(scope, declared_length)
            if self._waiter_scope is not None:
                await self._after_response()
            if self._must_close or self._close_after or not self._response_done:
                return False
            if not self._message_done and not await self._drain_body():
                return False
            self._cycles += 1

    # -- reading ---------------------------------------------------------------------

    async def _read_head(self) -> RequestHead | None:
        """Read and parse the next request head; None if the client closed before one.

        Deadlines as in the h11 driver (``H1Connection._head_deadline``).
        """
        config = self._config
        raw = self._buf
        self._buf = b""
        started = self._head_started = bool(raw)
        deadline = self._head_deadline(started)
        while True:
            end = raw.find(b"\r\n\r\n")
            if end != -1:
                break
            if raw:
                if head_end(raw) != -1:
                    check_head_bytes(raw)  # a head ended by a bare LF: 400
                check_partial_head(raw, config)
                if not started:
                    started = self._head_started = True
                    if self._cycles:
                        deadline = self._head_deadline(True)
            elif self._must_close:
                return None
            data = await self._receive_head(deadline)
            if not data:
                if raw:
                    raise BadRequest(400, "connection closed inside a request head")
                return None
            raw = raw + data if raw else data
        check_head_bytes(raw)
        end += 4
        self._buf = raw[end:]
        head = raw[:end]
        line = head[: head.find(b"\r\n")]
        space = line.find(b" ")
        method = line[:space]
        self._headers = []
        self._parts = []
        self._message_done = False
        self._head_started = False
        self._parse_head(head, method)
        # llhttp took the request line; it must be "method SP target SP HTTP/1.x" exactly
        # (llhttp lets runs of spaces through; h11 and RFC 9112 do not).
        if line.count(b" ") != 2:
            raise BadRequest(400, "invalid request line")
        last = line.rfind(b" ")
        return RequestHead(method, line[space + 1 : last], line[last + 6 :], self._headers)

    def _parse_head(self, head: bytes, method: bytes) -> None:
        """Feed a complete head to the parser; BadRequest if it refuses it."""
        try:
            self._parser.feed_data(head)
        except _ParserUpgrade:
            self._upgraded = True
            return
        except _InvalidMethod:
            # llhttp knows only registered methods; h11 (and RFC 9110) allow any token.
            # Parse the head again under GET's name: the framing rules do not differ.
            if not method or _TOKEN(method) is None or head[len(method) : len(method) + 1] != b" ":
                raise BadRequest(self._refusal_status(head), "invalid method") from None
            self._parser = httptools.HttpRequestParser(self)
            self._headers = []
            self._parse_head(b"GET" + head[len(method) :], b"GET")
            return
        except _ParserError as exc:
            raise BadRequest(self._refusal_status(head), str(exc)) from None
        self._upgraded = False

    def _refusal_status(self, head: bytes) -> int:
        """The status for a head the parser refused: our checks' where they say more."""
        try:
            check_partial_head(head, self._config)
            check_raw_framing(head, len(head))
        except BadRequest as bad:
            return bad.status
        return 400

    def _frame_body(self, head: RequestHead, declared_length: int | None) -> bool:
        """Set up the request body framing; True if llhttp took the head as an upgrade."""
        self._close_after = head.http_version != b"1.1" or _asks_to_close(head.headers)
        self._expect_continue = (
            not self._message_done
            and head.http_version == b"1.1"
            and any(
                name == b"expect" and value.lower() == b"100-continue"
                for name, value in head.headers
            )
        )
        upgraded = self._upgraded
        if upgraded:
            # llhttp skipped the body; a handler that declines gets it reframed.
            self._parser = httptools.HttpRequestParser(self)
            return True
        self._chunked = False
        if declared_length is not None:
            self._body_left = declared_length
        elif not self._message_done:
            self._chunked = True
            self._chunk_left = 0
            self._line = b""
            self._framing = 0
        return False

    def _reframe(self, head: RequestHead, declared_length: int | None) -> None:
        """Serve an upgrade request as plain HTTP: frame its body for a fresh parser."""
        chunked = any(name == b"transfer-encoding" for name, _ in head.headers)
        if not chunked and not declared_length:
            return
        self._message_done = False
        self._parts = []
        framing = (
            b"transfer-encoding: chunked"
            if chunked
            else b"content-length: %d" % (declared_length or 0)
        )
        self._parser.feed_data(b"POST / HTTP/1.1\r\nhost: x\r\n" + framing + b"\r\n\r\n")
        self._chunked = chunked
        self._body_left = declared_length or 0
        self._chunk_left = 0
        self._line = b""
        self._framing = 0

    def _feed_body(self, data: bytes) -> None:
        """Feed the parser the bytes of this request's body; keep the rest in ``_buf``."""
        try:
            if not self._chunked:
                left = self._body_left
                if len(data) > left:
                    self._buf = data[left:]
                    data = data[:left]
                self._body_left = left - len(data)
                self._parser.feed_data(data)
            else:
                self._feed_chunked(data)
        except (_ParserError, ValueError) as exc:
            error_logger.debug("bad request body from %s: %s", self.client, exc)
            self._body_error = True
            self._must_close = True

    def _feed_chunked(self, data: bytes) -> None:
        # The parser must not run past this message's end into the next request's head
        # (which must be checked first), so framing lines are fed one at a time (the
        # message can only end at a line end) and chunk data in chunk-sized slices.
        feed = self._parser.feed_data
        limit = self._config.h11_max_incomplete_event_size
        pos = 0
        size = len(data)
        while pos < size and not self._message_done:
            left = self._chunk_left
            if left:
                stop = pos + left if pos + left < size else size
                feed(data[pos:stop])
                self._chunk_left = left - (stop - pos)
                pos = stop
                continue
            newline = data.find(b"\n", pos)
            stop = size if newline == -1 else newline + 1
            piece = data[pos:stop]
            self._framing += len(piece)
            if self._framing > limit:
                raise ValueError("chunk framing too long")
            self._chunk_header = False
            feed(piece)
            pos = stop
            if newline == -1:
                self._line += piece
                break
            line = self._line + piece if self._line else piece
            self._line = b""
            if self._chunk_header:
                self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
                self._framing = 0
        if pos < size:
            self._buf = data[pos:]

    async def read_body(self) -> tuple[bytes, bool] | None:
        """Return the next request body chunk (see :class:`StreamTransport`)."""
        if self._expect_continue:
            self._expect_continue = False
            await self._write(_CONTINUE)
        parts = self._parts
        while True:
            if parts:
                body = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                return body, not self._message_done
            if self._message_done:
                return b"", False
            if self._body_error:
                # As with h11: bytes before a framing error go out first, then 400.
                raise RequestError(400, "bad body framing")
            data = self._buf
            if data:
                self._buf = b""
            else:
                received = await self._receive_body()
                if not received:
                    self._must_close = True
                    return None  # gone, or closed mid-body: truncated
                data = received
            self._feed_body(data)

    async def wait_disconnect(self) -> None:
        """Read until the client closes; pipelined bytes are kept for the next request."""
        if self._response_done:
            return
        self._waiter_exited = exited = anyio.Event()
        limit = self._config.h11_max_incomplete_event_size
        try:
            with anyio.CancelScope() as scope:
                self._waiter_scope = scope
                while True:
                    try:
                        data = await self.stream.receive(_READ_SIZE)
                    except CLIENT_GONE:
                        self._must_close = True
                        return
                    self._buf += data
                    if len(self._buf) > limit:
                        # Enough pipelined requests buffered; stop reading until we reply.
                        await anyio.sleep_forever()
        finally:
            self._waiter_scope = None
            exited.set()

    async def _drain_body(self) -> bool:
        """Discard an unread request body (up to 64 KiB) so the connection can be reused."""
        drained = 0
        parts = self._parts
        while not self._message_done:
            for part in parts:
                drained += len(part)
            parts.clear()
            if drained > _DRAIN_LIMIT or self._body_error:
                return False
            data = self._buf
            if data:
                self._buf = b""
            else:
                try:
                    data = await self._body_pace.wait(self._receive_some)
                except (TimeoutError, ClientDisconnected):
                    return False
                if not data:
                    return False
            self._feed_body(data)
        parts.clear()
        return not self._body_error

    # -- writing ---------------------------------------------------------------------

    async def send_head(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, end: bool
    ) -> None:
        """Send the response head and first body chunk in one write.

        Framed with h11's rules; a header h11 would refuse raises :class:`ResponseError`
        before anything is written (the stream layer then answers 500).
        """
        if type(status) is not int:
            status = int(status)
        if not 200 <= status <= 999:
            raise ResponseError(f"invalid response status {status}")
        self._expect_continue = False
        request = self._request
        head_only = request is not None and request.method == b"HEAD"
        lines = [
            STATUS_LINES.get(status) or b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status)),
            self.state.default_header_bytes(http_date()),
        ]
        append = lines.append
        lines_cache = _HEADER_LINES
        length: bytes | None = None
        chunked = False
        close = self._must_close or self._close_after
        for pair in headers:
            # PERF: a header line seen before (content-type, cache-control...) is one
            # dict lookup: validated and serialized once.
            line = lines_cache.get(pair) if type(pair) is tuple else None
            if line is not None:
                append(line)
                continue
            name, value = pair
            if type(name) is not bytes or type(value) is not bytes:
                raise ResponseError(f"header not bytes: {name!r}: {value!r}")
            if len(name) in (10, 14, 17):
                lower = name.lower()
                if lower == b"content-length":
                    length = _content_length(value, length)
                    continue  # sent once, below, as h11 does
                if lower == b"transfer-encoding":
                    if chunked or value.lower() != b"chunked":
                        raise ResponseError("only Transfer-Encoding: chunked is supported")
                    chunked = True
                    continue  # set below, once the framing is chosen
                if lower == b"connection":
                    _check_field(name, value)
                    if b"close" in value.lower():
                        close = True
                    continue  # rewritten below, as h11 does
            line = _check_field(name, value)
            if len(lines_cache) < 512 and type(pair) is tuple:
                lines_cache[pair] = line
            append(line)
        if length is None and not chunked and end and status not in (204, 304) and not head_only:
            # The whole body is known: a Content-Length beats one-chunk chunked encoding.
            length = b"%d" % len(body)
        self._response_chunked = False
        if status in (204, 304):
            self._response_left = 0
            if length is not None:
                append(b"content-length: %s\r\n" % length)
        elif length is not None and not chunked:
            append(b"content-length: %s\r\n" % length)
            self._response_left = 0 if head_only else int(length)
        elif request is not None and request.http_version == b"1.1":
            append(b"transfer-encoding: chunked\r\n")
            self._response_chunked = not head_only
            self._response_left = 0 if head_only else None
        else:
            close = True  # HTTP/1.0: the body ends when the connection does
            self._response_left = 0 if head_only else None
        if close:
            self._close_after = True
            append(b"connection: close\r\n")
        append(b"\r\n")
        lines.append(self._frame(body, end))
        await self._write(b"".join(lines))

    def _frame(self, body: bytes, end: bool) -> bytes:
        """Frame a response body chunk; ResponseError if it breaks the declared length."""
        left = self._response_left
        if left is not None:
            left -= len(body)
            if left < 0:
                raise ResponseError("too much data for the declared Content-Length")
            if end and left:
                raise ResponseError("too little data for the declared Content-Length")
            self._response_left = left
        elif self._response_chunked:
            if body:
                body = b"%x\r\n%s\r\n" % (len(body), body)
            if end:
                body += _LAST_CHUNK
        if end:
            self._response_done = True
        return body

    async def send_body(self, body: bytes, end: bool) -> None:
        """Send a further response body chunk."""
        data = self._frame(body, end)
        if data:
            await self._write(data)

    # -- for upgrade handlers --------------------------------------------------------

    def upgrade_bytes(self) -> bytes | None:
        """The bytes received after the request head, if no body follows it; else None."""
        request = self._request
        if request is None or _has_body(request.headers):
            return None
        data = self._buf
        # The connection is the handler's now: drop the parser and the head.
        self._buf = b""
        self._parser = None  # type: ignore[assignment]
        self._headers = []
        self._request = None
        return data


def _check_field(name: bytes, value: bytes) -> bytes:
    """The header line of a valid response field; ResponseError where h11 refuses one."""
    check_response_field(name, value)
    return b"%s: %s\r\n" % (name, value)


def _content_length(value: bytes, seen: bytes | None) -> bytes:
    """A response Content-Length value, validated as h11 does (repeats must agree)."""
    if seen is None and value.isdigit() and len(value) <= 18:
        return value  # PERF: the usual single, plain value
    if b"," in value:
        values = {item.strip() for item in value.split(b",")}
        if len(values) != 1:
            raise ResponseError("conflicting Content-Length headers")
        value = values.pop()
    if _DIGITS(value) is None:
        raise ResponseError("bad Content-Length")
    if seen is not None and seen != value:
        raise ResponseError("conflicting Content-Length headers")
    return value


def _asks_to_close(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a ``Connection`` field of the request holds the ``close`` option."""
    for name, value in headers:
        if name == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]:
            return True
    return False


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b"0")):
            return True
    return False
