"""The ASGI 3 adapter: ``http`` and ``lifespan`` scopes in, the core's Outgoing out.

The request body is read lazily: a sync handler (run in a worker thread) pulls it from
``receive`` through the event loop; for an async handler the pipeline reads it before
the handler runs. Streamed bodies stop when the client disconnects.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio

from lcore import concurrency  # noqa: F401 - installs the loop/thread bridge
from lcore._bridge import run_sync
from lcore.concurrency import iterate_from_thread, iterate_in_thread, on_event_loop, spawn
from lcore.dispatch import AITER, BYTES, FILE, ITER, Outgoing, handle_async
from lcore.request import BaseRequest, BodySource
from lcore.response import HTTPError, HTTPResponse
from lcore.sse import _reopen_streams, close_streams

__all__ = [
    "ASGIAdapter",
    "ASGIBody",
    "ASGIRequest",
    "ClientDisconnect",
    "call_asgi_app",
    "describe_scope",
]

_log = logging.getLogger("lcore.error")
_CHUNK = 65536


class ClientDisconnect(HTTPError):
    """The client went away while the request body was being read."""

    def __init__(self) -> None:
        super().__init__(400, "Client disconnected.")


class ASGIBody(BodySource):
    """Body chunks from ASGI ``http.request`` messages."""

    __slots__ = ("receive", "length", "complete", "disconnected", "may_have_body")

    def __init__(self, receive: Any, length: int | None, may_have_body: bool) -> None:
        self.receive = receive
        self.length = length
        self.complete = False
        self.disconnected = False
        self.may_have_body = may_have_body

    async def probe(self) -> bool:
        """True when the client has disconnected (checked without waiting)."""
        if self.disconnected:
            return True
        if not self.complete and self.may_have_body is not False:
            return False  # body messages are still to come: they belong to the reader
        with anyio.CancelScope() as cs:
            cs.cancel()
            msg = await self.receive()
            if self._seen(msg):
                return True
        return False

    def _seen(self, msg: dict[str, Any]) -> bool:
        """Account for a message read outside the body reader; True on disconnect."""
        t = msg.get("type")
        if t == "http.disconnect":
            self.disconnected = self.complete = True
            return True
        if t == "http.request" and not msg.get("more_body", False):
            self.complete = True  # the (empty) body of a request that has none
        return False

    def _body_message(self, msg: dict[str, Any]) -> bytes:
        """The chunk an ``http.request`` message carries (sets ``complete`` on the last);
        a disconnect raises :class:`ClientDisconnect`; other messages carry nothing."""
        t = msg["type"]
        if t == "http.request":
            if not msg.get("more_body", False):
                self.complete = True
            return msg.get("body", b"")
        if t == "http.disconnect":
            self.disconnected = True
            self.complete = True
            raise ClientDisconnect()
        return b""

    def _start_reading(self) -> Any:
        if self.complete:
            raise RuntimeError("The request body was already read (use request.body).")
        return self.receive

    def iter_async(self) -> AsyncIterator[bytes]:
        # A plain async iterator, not an async generator: it holds nothing to clean up, so
        # one left unfinished (a 413 mid-stream) needs no finalizer on any event loop.
        return _BodyChunks(self)

    async def read_async(self, add: Any) -> None:
        # PERF: iter_async's loop without an async generator (the whole-body read).
        receive = self._start_reading()
        while not self.complete:
            chunk = self._body_message(await receive())
            if chunk:
                add(chunk)

    def iter_sync(self) -> Iterator[bytes]:
        # Called from a worker thread: each message comes from the loop.
        if on_event_loop():
            raise RuntimeError(
                "the request body was not read before this async handler ran (its route has "
                "stream_body=True): read it with `async for chunk in request.stream()`"
            )
        yield from iterate_from_thread(None, self.iter_async())


_BODYLESS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE", "TRACE"))


def describe_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """The neutral description of an ASGI ``http`` or ``websocket`` scope.

    Keyword arguments for ``BaseRequest`` (or any ``HTTPConnection``): method, path,
    query bytes, header pairs, raw path, client, server, scheme, http version, root
    path. A ``websocket`` scope without a scheme says ``ws``.
    """
    default_scheme = "ws" if scope.get("type") == "websocket" else "http"
    server = scope.get("server")
    client = scope.get("client")
    return {
        "method": scope.get("method", "GET"),
        "path": scope.get("path") or "/",
        "query_string": scope.get("query_string") or b"",
        "headers": list(scope.get("headers") or ()),
        "raw_path": scope.get("raw_path"),
        "client": (client[0], client[1]) if client else None,
        "server": (server[0], server[1] or 0) if server else None,
        "scheme": scope.get("scheme", default_scheme),
        "http_version": scope.get("http_version", "1.1"),
        "root_path": scope.get("root_path") or "",
    }


class ASGIRequest(BaseRequest):
    """The request of an ASGI ``http`` scope.

    Every slot is filled from the scope here; the body source (:class:`ASGIBody`) is
    made only when the body or a disconnect is first asked about (PERF: most requests
    never do). ``_length`` and ``_may_body`` are the body framing read from the headers.
    """

    __slots__ = ("_length", "_may_body", "_receive")

    _length: int | None
    _may_body: bool
    _receive: Any

    def __init__(self, scope: dict[str, Any], receive: Any) -> None:
        try:  # the keys the ASGI spec requires; a scope without them takes the long way
            method = scope["method"]
            path = scope["path"] or "/"
            qs = scope["query_string"]
            headers = scope["headers"]
            version = scope["http_version"]
        except KeyError:
            method = scope.get("method", "GET")
            path = scope.get("path") or "/"
            qs = scope.get("query_string")
            headers = scope.get("headers") or []
            version = scope.get("http_version", "1.1")
        if type(headers) is not list:
            headers = list(headers)
        length: int | None = None
        chunked = False
        for k, v in headers:
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = -1
            elif k == b"transfer-encoding":
                chunked = b"chunked" in v.lower()
        if length is not None:
            self._may_body = length != 0
        else:
            # HTTP/1.1 frames a body by Content-Length or chunked; HTTP/2 needs neither.
            self._may_body = chunked or (version == "2" and method not in _BODYLESS)
        self._length = length
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        client = scope.get("client")
        server = scope.get("server")
        self._cache = {}
        self.method = method
        self._path = path
        self.raw_path = scope.get("raw_path")
        self.query_string = qs.decode("latin1") if qs else ""
        self._raw_headers = headers
        if not client:
            client = None
        elif type(client) is not tuple:
            client = (client[0], client[1])
        self._client = client
        self._server = (server[0], server[1] or 0) if server else ("", 0)
        self.scheme = scope.get("scheme", "http")
        self.http_version = version
        self.script_name = root
        self._src = None
        self._receive = receive
        self.app = self.route = self.max_body = None
        self.url_args = {}

    def _new_source(self) -> BodySource:
        return ASGIBody(self._receive, self._length, self._may_body)

    @property
    def _body_needed(self) -> bool:
        # PERF: before the source exists the framing answers; the whole check is
        # BaseRequest's, which would make the source.
        if self._src is None:
            return self._may_body and "body" not in self._cache
        return BaseRequest._body_needed.fget(self)  # type: ignore[attr-defined]


#: Response headers as ASGI wants them (lower-case name, latin-1 bytes), remembered for
#: the pairs an app sends again and again (a content type, a security header).
_PAIRS: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_PAIRS_MAX = 1024  # pairs seen beyond this many are encoded each time, not remembered


def _encode_pair(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    name, value = pair
    encoded = (name.lower().encode("latin1"), value.encode("latin1"))
    if len(_PAIRS) < _PAIRS_MAX:
        _PAIRS[pair] = encoded
    return encoded


def _headers_out(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # PERF: a plain loop; a list comprehension is a function call of its own on 3.11.
    pairs = _PAIRS
    out = []
    for pair in headers:
        encoded = pairs.get(pair)
        out.append(encoded if encoded is not None else _encode_pair(pair))
    return out


class ASGIAdapter:
    """Serve an Lcore app to an ASGI server (``http`` and ``lifespan``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._started = False
        self._signals_chained = False
        self._ready = False  # _prepare() has run

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        t = scope["type"]
        if t == "http":
            # PERF: the body of http() inline: one coroutine less per request.
            if not self._ready:
                await self._prepare()
            req = ASGIRequest(scope, receive)
            out = await handle_async(self.app, req)
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": out.status_code,
                        "headers": _headers_out(out.headers),
                    }
                )
                if out.kind == BYTES:
                    await send({"type": "http.response.body", "body": out.body})
                    return
                await self._stream(out, req, send)
            finally:
                if not out._closed:
                    await out.aclose()
        elif t == "lifespan":
            await self.lifespan(scope, receive, send)
        elif t == "websocket":
            await self.websocket(scope, receive, send)
        else:
            raise ValueError(f"lcore cannot handle ASGI scope type {t!r}")

    async def websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve a WebSocket connection with the app's ``@app.websocket`` routes (lcore_ws)."""
        if not self._started:
            await self._ensure_started()
        from lcore_ws.endpoint import handle

        await handle(self.app, scope, receive, send)

    async def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        await self._run_hooks("startup")

    async def _run_hooks(self, name: str) -> None:
        from lcore._bridge import is_async_callable

        for fn in list(self.app._hooks.get(name, ())):
            if is_async_callable(fn):
                await fn()
            else:
                await run_sync(None, fn)

    async def lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI lifespan: ``startup`` hooks; on shutdown ``shutdown`` hooks and ``on_shutdown``."""
        from lcore.lifecycle import run_shutdown

        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self._ensure_started()
                except Exception as e:
                    _log.exception("startup failed")
                    await send(
                        {"type": "lifespan.startup.failed", "message": f"{type(e).__name__}: {e}"}
                    )
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                close_streams(self.app)
                try:
                    await self._run_hooks("shutdown")
                    await run_sync(None, run_shutdown)
                    await run_sync(None, self.app._container.close)
                except Exception as e:
                    _log.exception("shutdown failed")
                    await send(
                        {"type": "lifespan.shutdown.failed", "message": f"{type(e).__name__}: {e}"}
                    )
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _prepare(self) -> None:
        """Before the first request: startup hooks (if no lifespan ran them), signal chaining."""
        if not self._started:
            await self._ensure_started()
        if not self._signals_chained:
            self._signals_chained = True
            _end_streams_on_signal(self.app)
        self._ready = True

    async def _stream(self, out: Outgoing, req: BaseRequest, send: Any) -> None:
        source = req._source if isinstance(req._source, ASGIBody) else None
        # Watch for a disconnect once no body message can be left for the app to read.
        watch = source is not None and (source.complete or source.may_have_body is False)

        async def pump() -> None:
            kind = out.kind
            if kind == AITER:
                async for chunk in out.body:
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            elif kind == ITER or kind == FILE:
                if kind == ITER:
                    chunks = iterate_in_thread(out.ctx, out.body)
                else:
                    read = out.body.read
                    chunks = iterate_in_thread(None, iter(lambda: read(_CHUNK), b""))
                try:
                    async for chunk in chunks:
                        if chunk:
                            await send(
                                {"type": "http.response.body", "body": chunk, "more_body": True}
                            )
                finally:
                    await chunks.aclose()
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        if not watch:
            await pump()
            return
        async with anyio.create_task_group() as tg:

            async def watcher() -> None:
                while True:
                    msg = await req._receive()  # type: ignore[attr-defined]
                    if source is not None and source._seen(msg):
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watcher)
            await pump()
            tg.cancel_scope.cancel()


def _end_streams_on_signal(app: Any) -> None:
    """Chain the server's SIGTERM/SIGINT handlers so that ``app``'s event streams end.

    uvicorn, hypercorn and lcore's server wait for open responses before they send the
    lifespan shutdown, so an endless SSE stream would hold a graceful shutdown open
    until its timeout (or forever). The server's own handler still runs, after ours;
    signals the server does not handle are left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _reopen_streams(app)
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            prev = signal.getsignal(sig)
        except ValueError:  # pragma: no cover - not a valid signal here
            continue
        if not callable(prev) or getattr(prev, "_lcore_streams", None) is app:
            continue

        def on_signal(signum: int, frame: Any, _prev: Any = prev) -> Any:
            close_streams(app)
            return _prev(signum, frame)

        on_signal._lcore_streams = app  # type: ignore[attr-defined]
        try:
            signal.signal(sig, on_signal)
        except (ValueError, OSError):  # pragma: no cover - not allowed here
            return


class _BodyChunks:
    """``ASGIBody.iter_async()``: the body's chunks as ``http.request`` messages bring them."""

    __slots__ = ("source", "receive")

    def __init__(self, source: ASGIBody) -> None:
        self.source = source
        self.receive: Any = None

    def __aiter__(self) -> _BodyChunks:
        return self

    async def __anext__(self) -> bytes:
        source = self.source
        receive = self.receive
        if receive is None:
            receive = self.receive = source._start_reading()  # raises if read already
        while not source.complete:
            chunk = source._body_message(await receive())
            if chunk:
                return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        pass


class _Inbox:
    """An unbounded queue of ASGI messages within one loop (any anyio backend)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque()
        self.waiter: anyio.Event | None = None

    def put(self, msg: dict[str, Any]) -> None:
        self.items.append(msg)
        if self.waiter is not None:
            self.waiter.set()

    async def receive(self) -> dict[str, Any]:
        while not self.items:
            self.waiter = anyio.Event()
            await self.waiter.wait()
        return self.items.popleft()


async def call_asgi_app(asgi_app: Any, req: BaseRequest) -> HTTPResponse:
    """Call a foreign ASGI app with the (path-shifted) request; return its response.

    The app runs as a task on the current event loop (under WSGI: the persistent one);
    its body is streamed through as it is sent.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": req.http_version,
        "method": req.method,
        "scheme": req.scheme,
        "path": req.script_name.rstrip("/") + req.path,
        "raw_path": (req.script_name.rstrip("/") + req.path).encode("utf8"),
        "root_path": req.script_name,
        "query_string": req.query_string.encode("latin1"),
        "headers": list(req.header_pairs()),
        "client": req.client,
        "server": req.server,
        "state": {},
    }
    body_cached = req._cache.get("body")
    source = req._source
    queue = _Inbox()
    done = anyio.Event()

    body_done = False

    async def receive() -> dict[str, Any]:
        nonlocal body_cached, body_done
        if body_cached is not None:
            data = body_cached.read() if hasattr(body_cached, "read") else body_cached
            body_cached = None
            body_done = True
            return {"type": "http.request", "body": data, "more_body": False}
        if (
            not body_done
            and isinstance(source, ASGIBody)
            and not source.complete
            and not done.is_set()
        ):
            try:
                chunk = await receive_agen.__anext__()
                return {"type": "http.request", "body": chunk, "more_body": True}
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
        if not body_done:
            # No body to stream (or it was read already): the app still gets one message.
            body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    receive_agen = source.iter_async()

    async def send(msg: dict[str, Any]) -> None:
        queue.put(msg)

    async def run() -> None:
        try:
            await asgi_app(scope, receive, send)
        except Exception as e:  # reported as a 500 if nothing was sent yet
            queue.put({"type": "lcore.error", "exc": e})
        finally:
            queue.put({"type": "lcore.done"})

    task = spawn(run)
    msg = await queue.receive()
    if msg["type"] == "lcore.error":
        raise msg["exc"]
    if msg["type"] != "http.response.start":
        raise RuntimeError("mounted ASGI app finished without a response")
    res = HTTPResponse(status=int(msg["status"]))
    for k, v in msg.get("headers", []):
        name = k.decode("latin1")
        if name.lower() == "set-cookie":
            if res._cookies is None:
                res._cookies = []
            res._cookies.append(v.decode("latin1"))
        else:
            res.add_header(name, v.decode("latin1"))

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                m = await queue.receive()
                t = m["type"]
                if t == "http.response.body":
                    if m.get("body"):
                        yield m["body"]
                    if not m.get("more_body", False):
                        return
                elif t == "lcore.error":
                    raise m["exc"]
                elif t == "lcore.done":
                    return
        finally:
            done.set()
            if not task.done():
                task.cancel()
                await task.wait(shield=True)

    res.body = body()
    return res
