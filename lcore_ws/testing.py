"""``TestClient(app).websocket_connect(path)``: WebSocket sessions without a server.

- ``protocol='asgi'`` drives the app's ASGI ``websocket`` scope in-process (on the test
  client's event loop thread), as uvicorn or hypercorn would.
- ``protocol='wsgi'`` runs the side-by-side runtime: the same sans-I/O driver and
  :class:`~lcore_ws.server.SideBySideApp` the side-by-side server uses, over an
  in-memory byte stream, with the ``websockets`` client protocol on the test's side.
"""

from __future__ import annotations

import json
import queue
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc

from lcore.concurrency import start_portal

from .websocket import WebSocketDisconnect

__all__ = ["WebSocketTestSession", "HandshakeRejected", "connect"]

_TIMEOUT = 10.0


class HandshakeRejected(Exception):
    """The app refused the handshake: ``status_code``, ``headers`` and ``body`` of its answer."""

    def __init__(
        self, status_code: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> None:
        super().__init__(f"WebSocket handshake rejected with HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers or []
        self.body = body


class WebSocketTestSession:
    """A client-side WebSocket connection to the app under test (use it as a ``with`` block)."""

    __test__ = False

    def __init__(self, transport: Any) -> None:
        self._t = transport
        #: Subprotocol the app accepted, and the handshake response headers.
        self.subprotocol: str | None = transport.subprotocol
        self.headers: list[tuple[str, str]] = transport.headers
        #: Close code and reason once the app closed the connection.
        self.close_code: int | None = None
        self.close_reason = ""

    # -- sending -------------------------------------------------------------------
    def send_text(self, data: str) -> None:
        """Send a text message."""
        self._t.send(str(data))

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self._t.send(bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON (a text message, or binary with ``mode='binary'``)."""
        text = json.dumps(data)
        self._t.send(text if mode == "text" else text.encode())

    # -- receiving -----------------------------------------------------------------
    def receive(self, timeout: float = _TIMEOUT) -> str | bytes:
        """The next message (``str`` or ``bytes``); WebSocketDisconnect once the app closed."""
        try:
            return self._t.receive(timeout)
        except WebSocketDisconnect as e:
            self.close_code, self.close_reason = e.code, e.reason
            raise

    def receive_text(self, timeout: float = _TIMEOUT) -> str:
        """The next message, which must be text."""
        msg = self.receive(timeout)
        if not isinstance(msg, str):
            raise AssertionError(f"expected a text message, got {msg!r}")
        return msg

    def receive_bytes(self, timeout: float = _TIMEOUT) -> bytes:
        """The next message, which must be binary."""
        msg = self.receive(timeout)
        if not isinstance(msg, bytes):
            raise AssertionError(f"expected a binary message, got {msg!r}")
        return msg

    def receive_json(self, mode: str = "text", timeout: float = _TIMEOUT) -> Any:
        """The next message parsed as JSON."""
        return json.loads(
            self.receive_text(timeout) if mode == "text" else self.receive_bytes(timeout)
        )

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (and wait for the app's side to finish)."""
        self._t.close(code, reason)

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- ASGI: the websocket scope, in-process ---------------------------------------------


class _ASGITransport:
    def __init__(self, app: Any, portal: Any, scope: dict[str, Any], http_response: bool) -> None:
        self.portal = portal
        self.out: queue.Queue[dict[str, Any]] = queue.Queue()
        self.to_app, self.from_test = anyio.create_memory_object_stream[dict[str, Any]](1000)
        self.closed = False
        if http_response:
            scope["extensions"] = {"websocket.http.response": {}}

        async def receive() -> dict[str, Any]:
            try:
                return await self.from_test.receive()
            except anyio.EndOfStream:
                return {"type": "websocket.disconnect", "code": 1006}

        async def send(msg: dict[str, Any]) -> None:
            if self.closed and msg["type"] == "websocket.send":
                raise OSError("the test client closed the connection")
            self.out.put(msg)

        async def run() -> None:
            try:
                await app(scope, receive, send)
            except BaseException as e:  # noqa: BLE001 - reported on the test's side
                self.out.put({"type": "lcore.error", "exc": e})
            finally:
                self.to_app.close()
                self.from_test.close()
                self.out.put({"type": "lcore.done"})

        self.future = portal.start_task_soon(run)
        self._put({"type": "websocket.connect"})
        msg = self._get(_TIMEOUT)
        t = msg["type"]
        if t == "websocket.accept":
            self.subprotocol = msg.get("subprotocol")
            self.headers = [
                (k.decode("latin1"), v.decode("latin1")) for k, v in msg.get("headers") or ()
            ]
            return
        self.closed = True
        if t == "websocket.http.response.start":
            body = b""
            while True:
                m = self._get(_TIMEOUT)
                if m["type"] != "websocket.http.response.body":
                    break
                body += m.get("body", b"")
                if not m.get("more_body", False):
                    break
            headers = [
                (k.decode("latin1"), v.decode("latin1")) for k, v in msg.get("headers") or ()
            ]
            raise HandshakeRejected(int(msg["status"]), headers, body)
        if t == "websocket.close":
            raise HandshakeRejected(403)
        if t == "lcore.error":
            raise msg["exc"]
        raise HandshakeRejected(500)

    def _put(self, msg: dict[str, Any]) -> None:
        try:
            self.portal.call(self.to_app.send, msg)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    def _get(self, timeout: float) -> dict[str, Any]:
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message from the app within {timeout}s") from None

    def send(self, data: str | bytes) -> None:
        if self.closed:
            raise WebSocketDisconnect(1006, "the connection is closed")
        key = "text" if isinstance(data, str) else "bytes"
        self._put({"type": "websocket.receive", key: data})

    def receive(self, timeout: float) -> str | bytes:
        msg = self._get(timeout)
        t = msg["type"]
        if t == "websocket.send":
            text = msg.get("text")
            return text if text is not None else msg.get("bytes", b"")
        if t == "websocket.close":
            self.closed = True
            raise WebSocketDisconnect(int(msg.get("code") or 1000), msg.get("reason") or "")
        if t == "lcore.error":
            self.closed = True
            raise msg["exc"]
        self.closed = True
        raise WebSocketDisconnect(1006, "the app finished without closing")

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            self.future.result(timeout=_TIMEOUT)
        except Exception:  # noqa: BLE001 - app errors were reported by receive()
            pass
        self.to_app.close()
        self.from_test.close()


# -- the side-by-side runtime, over an in-memory byte stream --------------------------


class _MemoryByteStream(anyio.abc.ByteStream):
    """One end of an in-memory, full-duplex byte pipe."""

    def __init__(self, send: Any, receive: Any) -> None:
        self._send = send
        self._receive = receive

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise anyio.EndOfStream from None

    async def send(self, item: bytes) -> None:
        try:
            await self._send.send(bytes(item))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise anyio.BrokenResourceError from None

    async def send_eof(self) -> None:
        self._send.close()

    async def aclose(self) -> None:
        self.close_all()

    def close_all(self) -> None:
        self._send.close()
        self._receive.close()


def _pipe() -> tuple[_MemoryByteStream, _MemoryByteStream]:
    a_send, b_recv = anyio.create_memory_object_stream[bytes](64)
    b_send, a_recv = anyio.create_memory_object_stream[bytes](64)
    return _MemoryByteStream(a_send, a_recv), _MemoryByteStream(b_send, b_recv)


class _WireTransport:
    def __init__(
        self,
        app: Any,
        url: str,
        headers: list[tuple[str, str]],
        subprotocols: list[str] | None,
        client: tuple[str, int],
        backend: str = "asyncio",
    ) -> None:
        from lcore._extras import require

        require("websockets", "ws", "websocket_connect() through the WSGI side")
        from websockets.client import ClientProtocol
        from websockets.frames import Opcode
        from websockets.http11 import Response
        from websockets.uri import parse_uri

        from .protocol import serve_stream
        from .server import SideBySideApp

        self._Opcode = Opcode
        self._cm: Any = start_portal(backend)
        self.portal = self._cm.__enter__()
        self.closed = False
        ours, theirs = _pipe()
        self.stream, self.theirs = ours, theirs
        self.future = self.portal.start_task_soon(
            lambda: serve_stream(
                SideBySideApp(app), theirs, client=client, server=("testserver", 80)
            )
        )
        self.proto = ClientProtocol(
            parse_uri(url),
            subprotocols=subprotocols or None,  # type: ignore[arg-type]
            max_size=None,
        )
        req = self.proto.connect()
        for k, v in headers:
            req.headers[k] = v
        self.proto.send_request(req)
        self._write()
        self._pending: list[Any] = []
        self._frag = b""
        while True:
            event = self._next_event(_TIMEOUT)
            if isinstance(event, Response):
                break
        if event.status_code != 101:
            self.closed = True
            self._shutdown()
            raise HandshakeRejected(
                event.status_code, list(event.headers.raw_items()), bytes(event.body or b"")
            )
        self.subprotocol = self.proto.subprotocol
        self.headers = list(event.headers.raw_items())

    def _write(self) -> None:
        for data in self.proto.data_to_send():
            try:
                if data:
                    self.portal.call(self.stream.send, data)
                else:
                    self.portal.call(self.stream.send_eof)
            except anyio.BrokenResourceError:
                pass

    def _next_event(self, timeout: float) -> Any:
        while not self._pending:

            async def read() -> bytes:
                with anyio.fail_after(timeout):
                    try:
                        return await self.stream.receive()
                    except anyio.EndOfStream:
                        return b""

            data = self.portal.call(read)
            if data:
                self.proto.receive_data(data)
            else:
                self.proto.receive_eof()
            self._write()
            self._pending += self.proto.events_received()
            if not data and not self._pending:
                raise WebSocketDisconnect(1006, "the connection was closed")
        return self._pending.pop(0)

    def send(self, data: str | bytes) -> None:
        if self.closed:
            raise WebSocketDisconnect(1006, "the connection is closed")
        if isinstance(data, str):
            self.proto.send_text(data.encode())
        else:
            self.proto.send_binary(data)
        self._write()

    def receive(self, timeout: float) -> str | bytes:
        op = self._Opcode
        while True:
            frame = self._next_event(timeout)
            if frame.opcode is op.CLOSE:
                self.closed = True
                rcvd = self.proto.close_rcvd
                code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (1005, "")
                raise WebSocketDisconnect(code, reason)
            if frame.opcode in (op.TEXT, op.BINARY, op.CONT):
                if frame.opcode is not op.CONT:
                    self._kind = frame.opcode
                    self._frag = b""
                self._frag += frame.data
                if frame.fin:
                    data, self._frag = self._frag, b""
                    return data.decode() if self._kind is op.TEXT else data

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.proto.send_close(code, reason)
                self._write()
                for _ in range(100):  # wait for the server's close frame
                    frame = self._next_event(_TIMEOUT)
                    if frame.opcode is self._Opcode.CLOSE:
                        break
            except (WebSocketDisconnect, TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                pass
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self.portal.call(self.stream.aclose)
            self.future.result(timeout=_TIMEOUT)
        except Exception:  # noqa: BLE001 - the server side logs its own errors
            pass
        self.stream.close_all()
        self.theirs.close_all()
        cm, self._cm = self._cm, None
        if cm is not None:
            cm.__exit__(None, None, None)


def connect(
    client: Any,
    path: str,
    headers: Any = None,
    subprotocols: list[str] | None = None,
    http_response: bool = True,
) -> WebSocketTestSession:
    """Open a WebSocket to ``client.app`` (called by ``TestClient.websocket_connect``)."""
    hdrs: list[tuple[str, str]] = list(
        headers.items() if isinstance(headers, dict) else headers or []
    )
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar) if client.cookies else ""
    if cookies and not any(k.lower() == "cookie" for k, _ in hdrs):
        hdrs.append(("Cookie", cookies))
    parts = urlsplit(path)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    addr = getattr(client, "_client_addr", ("127.0.0.1", 50000))
    if client.protocol == "wsgi":
        return WebSocketTestSession(
            _WireTransport(
                client.app,
                "ws://testserver" + target,
                hdrs,
                subprotocols,
                addr,
                backend=getattr(client, "backend", "asyncio"),
            )
        )
    raw = [(k.lower().encode("latin1"), str(v).encode("latin1")) for k, v in hdrs]
    raw.append((b"host", b"testserver"))
    if subprotocols:
        raw.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
    from urllib.parse import unquote

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": unquote(parts.path or "/"),
        "raw_path": (parts.path or "/").encode(),
        "root_path": "",
        "query_string": parts.query.encode(),
        "headers": raw,
        "client": addr,
        "server": ("testserver", 80),
        "subprotocols": list(subprotocols or []),
        "state": {},
    }
    portal = client._asgi.portal
    return WebSocketTestSession(_ASGITransport(client.app, portal, scope, http_response))
