"""The WebSocket driver: the ``websockets`` package's sans-I/O ``ServerProtocol`` on a byte stream.

The protocol object parses the handshake and frames and produces the bytes to write; this
module is the I/O around it. It turns one connection into the ASGI ``websocket`` scope
and messages (``websocket.http.response`` included) and runs an ASGI app on them, so
the embedded server, the side-by-side server and ``TestClient(protocol='wsgi')`` all
serve WebSockets through this one code path.

Limits and timers are the fields of :class:`~lcore_ws.options.WebSocketOptions` (the
limits each one enforces, and the close code it answers with, are described there).
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream
from websockets.datastructures import Headers
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.protocol import CLOSED, CONNECTING, OPEN

from .handshake import _extensions, _reason, _ServerProtocol, websocket_scope
from .options import ConnectionClosedError, WebSocketOptions
from .timers import SHUTDOWN, Deadline, Keepalive, Waiter, running_loop

__all__ = ["WebSocketOptions", "ConnectionClosedError", "serve_stream"]

_log = logging.getLogger("lcore.ws")
_proto_log = logging.getLogger("lcore.ws.protocol")
_proto_log.setLevel(logging.WARNING)  # websockets logs every open/close at INFO
_READ = 65536


class _Session(Keepalive):
    """One connection: handshake, reader, timers, and the ASGI receive/send of the app."""

    # PERF: one per open connection, so no instance dict.
    __slots__ = (
        "app",
        "respond",
        "stream",
        "base_scope",
        "options",
        "_loop",
        "_offered",
        "proto",
        "_inbox",
        "_inbox_closed",
        "_inbox_wakeup",
        "_inbox_space",
        "_writing",
        "_written",
        "_write_started",
        "_accept_response",
        "_connected_sent",
        "_reject_head",
        "_reject_body",
        "_done",
        "_aborted",
        "_reader_running",
        "_reader_exit",
        "_shutdown",
        "_last_activity",
        "_frag_op",
        "_frag",
        "_close_pending",
        "_tg",
    )

    def __init__(
        self,
        app: Any,
        stream: anyio.abc.ByteStream,
        base_scope: dict[str, Any],
        options: WebSocketOptions,
        respond: Any = None,
    ) -> None:
        self.app = app
        #: How the handshake response goes out when it is not HTTP/1.1 bytes (HTTP/2).
        self.respond = respond
        self.stream = stream
        #: The server-side fields of the scope; dropped once the scope is built.
        self.base_scope: dict[str, Any] | None = base_scope
        self.options = options
        self._loop = running_loop()
        self._offered: list[str] = []
        self.proto = _ServerProtocol(
            origins=options.origins,
            extensions=_extensions(options),
            max_size=options.max_size,
            logger=_proto_log,
        )
        # PERF: a list and waiters instead of a memory object stream and a lock: the
        # per-message cost of anyio's checkpoints was a third of the driver's time. A list,
        # not a deque: it holds at most max_queue messages, and an empty deque is 760 bytes.
        self._inbox: list[dict[str, Any]] = []
        self._inbox_closed = False
        self._inbox_wakeup: Waiter | None = None  # the app waits for a message
        self._inbox_space: Waiter | None = None  # the reader waits for room
        self._writing = False
        self._written: anyio.Event | None = None  # several writers may wait: not a Waiter
        self._write_started = 0.0
        #: The 101 response prepared while validating the handshake, sent on accept.
        self._accept_response: Response | None = None
        self._connected_sent = False
        self._reject_head: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self._reject_body = b""
        self._done = False  # no more frames go out (closed, rejected or broken)
        self._aborted = False
        self._reader_running = False
        #: Set when the reader exits, made only when the app's end waits for it.
        self._reader_exit: Waiter | None = None
        self._shutdown = False
        self._last_activity = monotonic()
        self._ping = None
        self._next_ping = float("inf")
        #: Keepalive, idle and write deadlines, once the WebSocket is open.
        self._deadline = None
        self._frag_op: Opcode | None = None
        self._frag: bytearray | None = None  # the message being reassembled
        #: The protocol asked to close our side and the stream cannot half-close (TLS).
        self._close_pending = False
        self._tg: anyio.abc.TaskGroup | None = None

    # -- writing -----------------------------------------------------------------------
    async def _flush(self) -> None:
        """Write what the protocol produced; returns once it is on the socket (backpressure).

        One writer at a time drains everything pending, in order; a caller arriving while
        a write is in progress waits for that writer, which also sends the caller's data.
        The write deadline is enforced by the timer task (no cancel scope per send).
        """
        if self._writing:
            while self._writing:
                if self._written is None:
                    self._written = anyio.Event()
                await self._written.wait()
            if self._done and self._aborted:
                raise ConnectionClosedError("the client disconnected")
            return
        self._writing = True
        try:
            while True:
                chunks = self.proto.data_to_send()
                if not chunks:
                    return
                for data in chunks:
                    if data:
                        self._write_started = monotonic()
                        await self.stream.send(data)
                    else:  # the protocol closes our side of the connection
                        self._done = True
                        try:
                            await self.stream.send_eof()
                        except NotImplementedError:
                            self._close_pending = True  # TLS: see _close_stream
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self._abort()
            raise ConnectionClosedError("the client disconnected") from None
        finally:
            self._write_started = 0.0
            self._writing = False
            written, self._written = self._written, None
            if written is not None:
                written.set()

    def _abort(self) -> None:
        self._done = True
        self._aborted = True
        if self.proto.state is not CLOSED:
            self.proto.receive_eof()  # state CLOSED, close code 1006
            self.proto.data_to_send()
        self._close_inbox()
        if self._deadline is not None:
            self._deadline.cancel()

    # -- the inbox: received messages waiting for the app ---------------------------------
    def _close_inbox(self) -> None:
        self._inbox_closed = True
        for ev in (self._inbox_wakeup, self._inbox_space):
            if ev is not None:
                ev.set()

    async def _put(self, msg: dict[str, Any]) -> None:
        self._inbox.append(msg)
        wakeup = self._inbox_wakeup
        if wakeup is not None:
            self._inbox_wakeup = None
            wakeup.set()
        while len(self._inbox) >= self.options.max_queue and not self._inbox_closed:
            self._inbox_space = space = Waiter(self._loop)  # TCP pushes back on the client
            await space.wait()

    # -- handshake -----------------------------------------------------------------------
    async def _read_request(self, initial: bytes) -> Request | None:
        proto = self.proto
        data = initial
        with anyio.move_on_after(self.options.handshake_timeout):
            if not data:
                data = await self._receive_or_eof()
            while True:
                if data:
                    proto.receive_data(data)
                else:
                    proto.receive_eof()
                for event in proto.events_received():
                    if isinstance(event, Request):
                        return event
                if proto.data_to_send() or not data or proto.state is not CONNECTING:
                    # websockets refused the request line/headers and wrote a response.
                    await self._flush_quietly()
                    return None
                data = await self._receive_or_eof()
        return None

    async def _receive_or_eof(self) -> bytes:
        try:
            return await self.stream.receive(_READ)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return b""

    async def _flush_quietly(self) -> None:
        try:
            await self._flush()
        except ConnectionClosedError:
            pass

    def _scope(self, request: Request) -> dict[str, Any]:
        assert self.base_scope is not None
        scope = websocket_scope(self.base_scope, request)
        self.base_scope = None
        self._offered = scope["subprotocols"]
        return scope

    # -- run ---------------------------------------------------------------------------
    async def run(self, initial: bytes = b"") -> None:
        try:
            request = await self._read_request(initial)
            del initial  # the handshake's bytes are not kept for the connection's life
            if request is None:
                return
            # Validate and negotiate (key, version, origin, extensions) once, before the
            # app sees the request; the app's accept only adds its subprotocol and headers.
            response = self.proto.accept(request)
            if response.status_code != 101:
                await self._respond(response)
                return
            self._accept_response = response
            scope = self._scope(request)
            # websockets' parser keeps the handshake request for the connection's life;
            # its headers (a few KiB) are in the scope now. The 101 is sent on accept.
            request.headers.clear()
            del request, response
            async with anyio.create_task_group() as tg:
                self._tg = tg
                failed = False
                try:
                    await self.app(scope, self.receive, self.send)
                except Exception:
                    _log.exception("Exception in WebSocket application")
                    failed = True
                await self._app_finished(failed)
                if self._reader_running:
                    self._reader_exit = exited = Waiter(self._loop)
                    with anyio.move_on_after(self.options.close_timeout):
                        await exited.wait()
                tg.cancel_scope.cancel()
        except ConnectionClosedError:
            pass
        finally:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._tg = None
            self._close_inbox()
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self.stream)

    async def _close_stream(self) -> None:
        """Close a stream that cannot half-close: over TLS, close_notify, then the connection.

        Only the reader calls this (the TLS closing handshake reads the peer's close_notify,
        and only one task may read), for ``close_timeout`` at most: RFC 8446 6.1 does not
        ask to wait for the peer's close_notify, but waiting lets the client read ours
        before the TCP connection goes.
        """
        self._close_pending = False
        stream = self.stream
        with anyio.CancelScope(shield=True):
            if isinstance(stream, TLSStream):
                with anyio.move_on_after(self.options.close_timeout):
                    try:
                        await stream.unwrap()
                    except Exception:  # noqa: BLE001 - a peer gone or rude: closed anyway
                        pass
            await anyio.aclose_forcefully(stream)

    async def _app_finished(self, failed: bool) -> None:
        proto = self.proto
        if proto.state is CONNECTING and not self._done:
            if failed:
                await self._send_response(500, [], b"Internal Server Error\n")
            else:  # the app returned without accepting: ASGI says 403
                await self._send_response(403, [], b"Forbidden\n")
        elif proto.state is OPEN:
            proto.send_close(1011 if failed else 1000, "internal error" if failed else "")
            await self._flush_quietly()

    def shutdown(self) -> None:
        """The server is stopping: close with 1001 (called from the server's drain)."""
        self._shutdown = True
        if self._deadline is not None and self._tg is not None:
            self._tg.start_soon(self._on_time, SHUTDOWN)

    # -- ASGI receive / send -----------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        if not self._connected_sent:
            self._connected_sent = True
            return {"type": "websocket.connect"}
        if self.proto.state is CONNECTING and self._tg is not None and not self._done:
            raise RuntimeError("receive() before websocket.accept")
        inbox = self._inbox
        while not inbox:
            if self._inbox_closed:
                return self._disconnect_message()
            self._inbox_wakeup = wakeup = Waiter(self._loop)
            await wakeup.wait()
        msg = inbox.pop(0)
        space = self._inbox_space
        if space is not None and len(inbox) < self.options.max_queue:
            self._inbox_space = None
            space.set()
        return msg

    def _disconnect_message(self) -> dict[str, Any]:
        rcvd = self.proto.close_rcvd
        if rcvd is not None:
            return {"type": "websocket.disconnect", "code": rcvd.code, "reason": rcvd.reason}
        sent = self.proto.close_sent
        if sent is not None and self.proto.state is not OPEN:
            return {"type": "websocket.disconnect", "code": sent.code, "reason": sent.reason}
        return {"type": "websocket.disconnect", "code": 1006, "reason": ""}

    async def send(self, message: dict[str, Any]) -> None:
        t = message["type"]
        proto = self.proto
        if t == "websocket.send":
            if proto.state is not OPEN or self._done:
                raise ConnectionClosedError("the WebSocket is closed")
            text = message.get("text")
            if text is not None:
                proto.send_text(text.encode("utf8"))
            else:
                proto.send_binary(message.get("bytes") or b"")
            self._last_activity = monotonic()
            await self._flush()
        elif t == "websocket.accept":
            if proto.state is not CONNECTING or self._done:
                raise RuntimeError("websocket.accept sent twice or after close")
            response = self._accept_response
            assert response is not None
            self._accept_response = None
            subprotocol = message.get("subprotocol")
            if subprotocol is not None:
                if subprotocol not in self._offered:
                    raise RuntimeError(f"the client did not offer subprotocol {subprotocol!r}")
                response.headers["Sec-WebSocket-Protocol"] = proto.subprotocol = subprotocol
            for k, v in message.get("headers") or ():
                name = k.decode("latin1") if isinstance(k, bytes) else k
                if name.lower() not in (
                    "sec-websocket-protocol",
                    "sec-websocket-accept",
                    "upgrade",
                    "connection",
                ):
                    response.headers[name] = v.decode("latin1") if isinstance(v, bytes) else v
            await self._respond(response, quietly=False)
            tg = self._tg
            assert tg is not None
            self._reader_running = True
            tg.start_soon(self._reader)
            # Keepalive, idle and write deadlines: a timer, and a task only when one is due.
            opts = self.options
            if opts.ping_interval:
                self._next_ping = monotonic() + opts.ping_interval
            self._deadline = Deadline(tg, self._loop, self._on_deadline)
            if self._shutdown:
                tg.start_soon(self._on_time, SHUTDOWN)
            else:
                self._arm()
        elif t == "websocket.close":
            if proto.state is CONNECTING and not self._done:
                await self._send_response(403, [], b"Forbidden\n")
            elif proto.state is OPEN and not self._done:
                proto.send_close(int(message.get("code") or 1000), message.get("reason") or "")
                await self._flush_quietly()
        elif t == "websocket.http.response.start":
            if proto.state is not CONNECTING or self._reject_head is not None:
                raise RuntimeError("websocket.http.response.start after the handshake")
            self._reject_head = (int(message["status"]), list(message.get("headers") or ()))
        elif t == "websocket.http.response.body":
            if self._reject_head is None:
                raise RuntimeError("websocket.http.response.body before its start")
            self._reject_body += message.get("body", b"")
            if not message.get("more_body", False):
                status, headers = self._reject_head
                await self._send_response(status, headers, self._reject_body)
        else:
            raise RuntimeError(f"unexpected ASGI message {t!r} on a websocket")

    async def _respond(self, response: Response, quietly: bool = True) -> None:
        """Send the handshake response: 101 opens the WebSocket, anything else refuses it."""
        self.proto.send_response(response)
        if self.respond is None:
            await (self._flush_quietly() if quietly else self._flush())
            return
        # HTTP/2 (RFC 8441): the protocol wrote an HTTP/1.1 response; send it as HEADERS.
        self.proto.data_to_send()
        try:
            await self.respond(response)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self._abort()
            if not quietly:
                raise ConnectionClosedError("the client disconnected") from None

    async def _send_response(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        hdrs = Headers()
        for k, v in headers:
            name = k.decode("latin1")
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                hdrs[name] = v.decode("latin1")
        hdrs["Content-Length"] = str(len(body))
        hdrs["Connection"] = "close"
        await self._respond(Response(status, _reason(status), hdrs, body))
        self._done = True
        self._reject_head = self._reject_head or (status, [])

    # -- reading -----------------------------------------------------------------------
    async def _reader(self) -> None:
        proto = self.proto
        try:
            while True:
                try:
                    if proto.state is OPEN:
                        data = await self.stream.receive(_READ)
                    else:  # closing: the client has close_timeout to finish its part
                        with anyio.fail_after(self.options.close_timeout):
                            data = await self.stream.receive(_READ)
                except (
                    anyio.EndOfStream,
                    anyio.BrokenResourceError,
                    anyio.ClosedResourceError,
                    OSError,
                ):
                    data = b""
                except TimeoutError:
                    break
                if data:
                    proto.receive_data(data)
                else:
                    proto.receive_eof()
                await self._flush()
                await self._dispatch()
                if proto.state is not OPEN:
                    self._close_inbox()  # the app sees the disconnect now
                if self._close_pending:
                    await self._close_stream()
                    break
                if not data or proto.state is CLOSED:
                    break
        except ConnectionClosedError:
            pass
        finally:
            self._close_inbox()
            self._done = True
            self._reader_running = False
            if self._deadline is not None:
                self._deadline.cancel()
            if self._reader_exit is not None:
                self._reader_exit.set()

    async def _dispatch(self) -> None:
        proto = self.proto
        frame: Any
        for frame in proto.events_received():
            op = frame.opcode
            if op is Opcode.TEXT or op is Opcode.BINARY:
                if frame.fin:
                    await self._deliver(op, frame.data)
                else:
                    self._frag_op, self._frag = op, bytearray(frame.data)
            elif op is Opcode.CONT:
                # The protocol checked the running size against max_size before it parsed
                # this frame (1009 past it), so the buffer stays within max_size. It
                # refuses a continuation with no message started (1002).
                data = self._frag
                assert data is not None
                data += frame.data
                if frame.fin:
                    op2 = self._frag_op
                    self._frag, self._frag_op = None, None
                    await self._deliver(op2, data)  # type: ignore[arg-type]
            elif op is Opcode.PONG:
                ping = self._ping
                if ping is not None and frame.data == ping[0]:
                    self._ping = None
            elif op is Opcode.CLOSE:
                self._frag, self._frag_op = None, None  # an unfinished message is dropped
            if self._done and proto.state is not OPEN:
                return

    async def _deliver(self, op: Opcode, data: bytes | bytearray) -> None:
        self._last_activity = monotonic()
        if op is Opcode.TEXT:
            try:
                text = data.decode("utf8")
            except UnicodeDecodeError:
                await self._fail(1007, "invalid UTF-8 in a text message")
                return
            msg: dict[str, Any] = {"type": "websocket.receive", "text": text}
        else:
            msg = {
                "type": "websocket.receive",
                "bytes": data if type(data) is bytes else bytes(data),
            }
        if not self._inbox_closed:
            await self._put(msg)  # waits while max_queue messages are unread

    async def _fail(self, code: int, reason: str) -> None:
        if self.proto.state is OPEN:
            self.proto.fail(code, reason)
            await self._flush_quietly()
        self._close_inbox()


async def serve_stream(
    app: Any,
    stream: anyio.abc.ByteStream,
    *,
    client: tuple[str, int] | None = None,
    server: tuple[str, int | None] | None = None,
    scheme: str = "ws",
    root_path: str = "",
    state: dict[str, Any] | None = None,
    options: WebSocketOptions | None = None,
    initial: bytes = b"",
    on_session: Any = None,
    http_version: str = "1.1",
    respond: Any = None,
) -> None:
    """Serve one WebSocket connection on ``stream`` (handshake bytes included) with ASGI ``app``.

    ``respond(response)``, when given, sends the handshake response instead of writing
    it as HTTP/1.1 bytes (HTTP/2 sends it as HEADERS).
    """
    session = _Session(
        app,
        stream,
        {
            "scheme": scheme,
            "client": client,
            "server": server,
            "root_path": root_path,
            "state": dict(state or {}),
            "http_version": http_version,
        },
        options or WebSocketOptions(),
        respond,
    )
    if on_session is not None:
        on_session(session)
    run = session.run(initial)
    del initial, on_session  # not kept in this frame for the connection's life
    await run
