"""The :class:`WebSocket` a handler receives, and its blocking facade for ``def`` handlers.

A ``WebSocket`` speaks ASGI ``websocket`` messages to whatever carries the connection:
an ASGI server's ``receive``/``send``, or lcore's own sans-I/O driver (which offers the
same messages), so there is one WebSocket API under every transport.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from lcore import concurrency
from lcore._utils import _json_loads_limited
from lcore.connection import HTTPConnection, _header_pairs
from lcore.context import current_context
from lcore.request import BaseRequest

__all__ = ["WebSocket", "WebSocketState", "WebSocketDisconnect", "SyncWebSocket"]


class WebSocketState(enum.Enum):
    """Where a connection is: before ``accept``, open, or closed (either side)."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocketDisconnect(Exception):
    """The connection is closed; ``code`` and ``reason`` say how (1005: no code given).

    Raised by ``receive_*`` once the client has gone and by ``send_*`` when it is gone.
    A handler may let it propagate: the connection simply ends.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class WebSocket(HTTPConnection):
    """One WebSocket connection (``async`` API).

    A WebSocket is a connection like a request: ``headers``, ``query``, ``cookies``,
    ``path``, ``url``, ``client``, ``remote_addr`` read as on ``request``. ``request``
    is the handshake request the app's pipeline saw (``url_args`` come from its route).
    Messages are ``str`` (text) or ``bytes`` (binary); ``async for message in ws``
    yields them until the client closes.
    """

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any, request: Any = None) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.request = request
        if request is not None:
            description = request.describe()
        else:
            from lcore_asgi.adapter import describe_scope

            description = describe_scope(scope)
        HTTPConnection.__init__(self, **description)
        self.state = WebSocketState.CONNECTING
        #: The close code and reason once closed (by either side).
        self.close_code: int | None = None
        self.close_reason = ""
        #: The subprotocol chosen in :meth:`accept`, if any.
        self.subprotocol: str | None = None

    def _follow_request(self) -> None:
        """Read the handshake request's fields again, as the handler is about to run:
        middleware (``ProxyFixMiddleware``, say) may have rewritten them since."""
        request = self.request
        if request is not None:
            HTTPConnection.__init__(self, **request.describe())
            self.app = request.app

    # -- handshake -----------------------------------------------------------------
    @property
    def subprotocols(self) -> list[str]:
        """Subprotocols the client offered (``Sec-WebSocket-Protocol``), in its order."""
        return list(self.scope.get("subprotocols") or ())

    @property
    def url_args(self) -> dict[str, Any]:
        """The URL arguments of the route (``/ws/<room>`` gives ``{'room': ...}``)."""
        return self.request.url_args if self.request is not None else {}

    @url_args.setter
    def url_args(self, value: dict[str, Any]) -> None:
        if value and self.request is not None:
            self.request.url_args = value

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        """Complete the handshake, optionally with a subprotocol and extra headers."""
        if self.state is not WebSocketState.CONNECTING:
            raise RuntimeError(f"cannot accept a WebSocket that is {self.state.name.lower()}")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(f"the client did not offer subprotocol {subprotocol!r}")
        await self._send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": _header_pairs(headers),
            }
        )
        self.subprotocol = subprotocol
        self.state = WebSocketState.CONNECTED

    # -- receiving -----------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        """The next ASGI ``websocket.receive`` message; raises WebSocketDisconnect at the end."""
        if self.state is WebSocketState.CONNECTING:
            raise RuntimeError("accept() the WebSocket before receiving")
        if self.state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
        msg = await self._receive()
        t = msg["type"]
        if t == "websocket.receive":
            return msg
        if t == "websocket.disconnect":
            self._closed(int(msg.get("code") or 1005), msg.get("reason") or "")
            raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
        raise RuntimeError(f"unexpected ASGI message {t!r} on a WebSocket")

    async def receive_message(self) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary."""
        msg = await self.receive()
        text = msg.get("text")
        return text if text is not None else msg.get("bytes") or b""

    async def receive_text(self) -> str:
        """The next message, which must be text (a binary one closes with 1003)."""
        msg = await self.receive()
        text = msg.get("text")
        if text is None:
            await self._refuse(1003, "expected a text message")
        return text  # type: ignore[return-value]

    async def receive_bytes(self) -> bytes:
        """The next message, which must be binary (a text one closes with 1003)."""
        msg = await self.receive()
        data = msg.get("bytes")
        if data is None:
            await self._refuse(1003, "expected a binary message")
        return data  # type: ignore[return-value]

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message parsed as JSON (``mode='binary'`` reads a binary message).

        Invalid JSON closes the connection with 1007, and so does JSON nested deeper
        than ``BaseRequest.MAX_JSON_DEPTH`` (the limit HTTP bodies have).
        """
        raw: str | bytes = await (self.receive_text() if mode == "text" else self.receive_bytes())
        try:
            return _json_loads_limited(raw, BaseRequest.MAX_JSON_DEPTH)
        except ValueError:
            await self._refuse(1007, "invalid JSON")

    async def _refuse(self, code: int, reason: str) -> None:
        await self.close(code, reason)
        raise WebSocketDisconnect(code, reason)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                message = await self.receive_message()
            except WebSocketDisconnect:
                return
            yield message

    # -- sending -------------------------------------------------------------------
    async def _send_message(self, msg: dict[str, Any]) -> None:
        if self.state is not WebSocketState.CONNECTED:
            if self.state is WebSocketState.DISCONNECTED:
                raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
            raise RuntimeError("accept() the WebSocket before sending")
        try:
            await self._send(msg)
        except OSError:  # the transport says the client is gone (ASGI spec 2.4)
            self._closed(1006, "")
            raise WebSocketDisconnect(1006) from None

    async def send_text(self, data: str) -> None:
        """Send a text message (waits while the client is not reading: backpressure)."""
        await self._send_message({"type": "websocket.send", "text": str(data)})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self._send_message({"type": "websocket.send", "bytes": bytes(data)})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON in a text (or, ``mode='binary'``, a binary) message."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            await self.send_text(text)
        else:
            await self.send_bytes(text.encode("utf8"))

    async def send(self, data: str | bytes) -> None:
        """Send ``str`` as text and ``bytes`` as binary."""
        if isinstance(data, str):
            await self.send_text(data)
        else:
            await self.send_bytes(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (before ``accept`` this refuses the handshake with 403)."""
        if self.state is WebSocketState.DISCONNECTED:
            return
        self._closed(code, reason)
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except OSError:
            pass

    def _closed(self, code: int, reason: str) -> None:
        self.state = WebSocketState.DISCONNECTED
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def __repr__(self) -> str:
        return f"<WebSocket {self.scope.get('path', '?')} {self.state.name}>"


class SyncWebSocket:
    """The blocking facade a ``def`` handler gets (it runs in a worker thread).

    Same methods as :class:`WebSocket`, without ``await``; each call runs on the event
    loop that owns the connection.
    """

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self._ctx = current_context()

    def _run(self, fn: Any, *args: Any) -> Any:
        return concurrency.run_async(self._ctx, fn, *args)

    @property
    def websocket(self) -> WebSocket:
        """The underlying async :class:`WebSocket`."""
        return self._ws

    @property
    def request(self) -> Any:
        return self._ws.request

    @property
    def state(self) -> WebSocketState:
        return self._ws.state

    @property
    def scope(self) -> dict[str, Any]:
        return self._ws.scope

    @property
    def subprotocols(self) -> list[str]:
        return self._ws.subprotocols

    @property
    def subprotocol(self) -> str | None:
        return self._ws.subprotocol

    @property
    def url_args(self) -> dict[str, Any]:
        return self._ws.url_args

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str:
        return self._ws.close_reason

    def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self._run(self._ws.accept, subprotocol, headers)

    def receive(self) -> dict[str, Any]:
        return self._run(self._ws.receive)

    def receive_message(self) -> str | bytes:
        return self._run(self._ws.receive_message)

    def receive_text(self) -> str:
        return self._run(self._ws.receive_text)

    def receive_bytes(self) -> bytes:
        return self._run(self._ws.receive_bytes)

    def receive_json(self, mode: str = "text") -> Any:
        return self._run(self._ws.receive_json, mode)

    def send(self, data: str | bytes) -> None:
        self._run(self._ws.send, data)

    def send_text(self, data: str) -> None:
        self._run(self._ws.send_text, data)

    def send_bytes(self, data: bytes) -> None:
        self._run(self._ws.send_bytes, data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._run(self._ws.send_json, data, mode)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._run(self._ws.close, code, reason)

    def __iter__(self) -> Iterator[str | bytes]:
        while True:
            try:
                message = self.receive_message()
            except WebSocketDisconnect:
                return
            yield message

    def __repr__(self) -> str:
        return f"<SyncWebSocket {self._ws!r}>"


def _offered(values: Sequence[bytes]) -> list[str]:
    """Parse ``Sec-WebSocket-Protocol`` header values into a list of tokens."""
    out: list[str] = []
    for v in values:
        out += [t.strip() for t in v.decode("latin1").split(",") if t.strip()]
    return out
