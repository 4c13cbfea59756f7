"""The WSGI adapter (PEP 3333): environ in, the core's Outgoing response out.

``start_response`` is called exactly once, with ``exc_info`` when the response is an
error page made from an exception; returned iterables are closed by the server, which
closes the body and the request's scoped dependencies; files go through
``wsgi.file_wrapper`` when the server offers one.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import weakref
from collections.abc import Iterator
from time import monotonic
from typing import Any

from . import _bridge, concurrency  # noqa: F401 - concurrency installs the loop/thread bridge
from .dispatch import AITER, BYTES, FILE, ITER, Outgoing, handle_sync
from .lifecycle import on_shutdown
from .request import BaseRequest
from .response import HTTPResponse
from .wsgi_request import WSGIRequest

__all__ = ["WSGIAdapter", "call_wsgi_app", "multiprocess_server"]

_log = logging.getLogger("lcore.wsgi")

# PERF: the process id, refreshed after fork, instead of a getpid() call per request.
_PID = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))

#: What the WSGI server said about itself on this process's first request
#: (``wsgi.multiprocess``); read by in-process state that cannot span workers.
_SERVER: dict[str, bool] = {}
#: Logged once per process: a stream on a WSGI server without threads.
_STREAM_WARNED = [False]
#: A stream still running after this many seconds on a threadless server is "long".
_LONG_STREAM = 2.0
_STREAM_FIX = (
    "lcore: a streamed response (%s %s, %s) is served by a WSGI server without threads "
    "(wsgi.multithread is false, e.g. gunicorn's default sync worker). It holds this worker "
    "for as long as it streams; an SSE or other unbounded stream gets the worker killed at "
    "its timeout. Use threads (gunicorn -k gthread --threads 16) or an ASGI server "
    "(uvicorn, hypercorn, python -m lcore_asgi). Logged once per process."
)


def multiprocess_server() -> bool:
    """Whether the WSGI server serving this process said it runs several processes."""
    return _SERVER.get("multiprocess", False)


class WSGIAdapter:
    """Serve an Lcore app to a WSGI server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._started_pid: int | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        app = self.app
        if self._started_pid != _PID[0]:
            self._startup(environ)
        req = WSGIRequest(environ)
        if "bad_path" in req._cache:
            body = b"Bad Request: the path is not valid UTF-8."
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if "HTTP_UPGRADE" in environ and "ws_router" in app.__dict__:
            refusal = _upgrade_required(app, req)
            if refusal is not None:
                start_response(
                    "426 Upgrade Required",
                    [
                        ("Content-Type", "text/plain; charset=UTF-8"),
                        ("Content-Length", str(len(refusal))),
                        ("Upgrade", "websocket"),
                        ("Connection", "Upgrade"),
                    ],
                )
                return [refusal]
        out = handle_sync(app, req)
        exc_info = None
        if out.status_code >= 500:
            err = out.ctx.request._cache.get("exc") if out.ctx is not None else None
            if err is not None:
                exc_info = (type(err), err, err.__traceback__)
        kind = out.kind
        if kind == BYTES:
            start_response(out.status_line, out.headers, exc_info) if exc_info else start_response(
                out.status_line, out.headers
            )
            if out._closed:
                return [out.body]
            return _ClosingBytes(out)  # after-response work runs when the server closes it
        start_response(out.status_line, out.headers)
        if kind == FILE:
            wrapper = environ.get("wsgi.file_wrapper")
            c = out.ctx
            if wrapper is not None and not (
                c is not None
                and (
                    c._scoped
                    or c._after_response
                    or "body" in c.request._cache
                    or "post" in c.request._cache
                )
            ):
                out._closed = True
                return wrapper(out.body, 65536)
            return _FileIter(out)
        body_iter = (
            _ClosingIter(out) if kind == ITER else _AsyncIterBridge(out) if kind == AITER else None
        )
        if body_iter is None:
            raise AssertionError(f"unknown body kind {kind}")  # pragma: no cover
        if not _STREAM_WARNED[0] and not environ.get("wsgi.multithread", True):
            return _watch_stream(body_iter, req, out)
        return body_iter

    def _startup(self, environ: dict[str, Any]) -> None:
        self._started_pid = _PID[0] = os.getpid()
        _SERVER["multiprocess"] = bool(environ.get("wsgi.multiprocess"))
        app = self.app
        if "ws_routes" in app.__dict__:
            _warn_ws_unserved(app)
        if app._hooks.get("startup"):
            app.trigger_hook("startup")
        # Nothing tells a WSGI app that its worker is stopping but the process exit: the
        # app's ``shutdown`` hooks run then, first among the on_shutdown callbacks (as at
        # an ASGI lifespan shutdown: hooks, then the callbacks). Once per process.
        on_shutdown(_ShutdownHooks(app, self._started_pid))


class _ShutdownHooks:
    """Runs an app's ``shutdown`` hooks at the exit of the process that started it."""

    __slots__ = ("app", "pid")

    def __init__(self, app: Any, pid: int) -> None:
        self.app = weakref.ref(app)  # an app that is gone has nothing to shut down
        self.pid = pid

    def __call__(self) -> None:
        app = self.app()
        if app is not None and os.getpid() == self.pid and app._hooks.get("shutdown"):
            app.trigger_hook("shutdown")

    def __repr__(self) -> str:
        return f"<shutdown hooks of {self.app()!r}>"


def _upgrade_required(app: Any, req: BaseRequest) -> bytes | None:
    if "websocket" not in req.environ["HTTP_UPGRADE"].lower():
        return None
    from lcore_ws.endpoint import upgrade_required  # loaded already: the app has WebSocket routes

    return upgrade_required(app, req.path)


def _warn_ws_unserved(app: Any) -> None:
    from lcore_ws.endpoint import warn_unserved

    warn_unserved(
        app,
        "a WSGI server",
        "Run `python -m lcore_ws module:app --port 8081` beside it "
        "(and route the WebSocket paths there), or serve the app with an ASGI server.",
    )


def _warn_stream(req: BaseRequest, what: str) -> None:
    if not _STREAM_WARNED[0]:
        _STREAM_WARNED[0] = True
        _log.warning(_STREAM_FIX, req.method, req.path, what)


def _watch_stream(body_iter: Any, req: BaseRequest, out: Outgoing) -> Any:
    """On a threadless WSGI server: warn now for SSE, or once a stream runs long."""
    ctype = next((v for k, v in out.headers if k.lower() == "content-type"), "")
    if ctype.startswith("text/event-stream"):
        _warn_stream(req, "Server-Sent Events")
        return body_iter
    return _WatchedStream(body_iter, req)


class _WatchedStream:
    """A streamed body that logs the threadless-server warning once it has run long."""

    __slots__ = ("inner", "it", "req", "start")

    def __init__(self, inner: Any, req: BaseRequest) -> None:
        self.inner = inner
        self.it = iter(inner)
        self.req = req
        self.start = monotonic()

    def __iter__(self) -> _WatchedStream:
        return self

    def __next__(self) -> bytes:
        chunk: bytes = next(self.it)
        if not _STREAM_WARNED[0] and monotonic() - self.start > _LONG_STREAM:
            _warn_stream(self.req, f"still streaming after {_LONG_STREAM:g}s")
        return chunk

    def close(self) -> None:
        self.inner.close()


class _ClosingIter:
    __slots__ = ("out", "it")

    def __init__(self, out: Outgoing) -> None:
        self.out = out
        self.it = iter(out.body)

    def __iter__(self) -> Iterator[bytes]:
        return self.it

    def close(self) -> None:
        self.out.close_sync()


class _ClosingBytes(_ClosingIter):
    __slots__ = ()

    def __init__(self, out: Outgoing) -> None:
        self.out = out
        self.it = iter((out.body,))

    def __len__(self) -> int:  # one chunk: lets servers set Content-Length as for a list
        return 1


class _FileIter(_ClosingIter):
    __slots__ = ()

    def __init__(self, out: Outgoing) -> None:
        self.out = out
        read = out.body.read
        self.it = iter(lambda: read(65536), b"")


class _AsyncIterBridge:
    """Drive an async body from the WSGI thread, one chunk at a time, on the loop.

    If the wait for a chunk is interrupted (gunicorn's worker timeout raises
    ``SystemExit`` in this thread), the step still runs on the loop: ``close`` cancels it
    and waits for it to unwind before closing the generator, so the generator's
    ``finally`` runs instead of ``aclose(): asynchronous generator is already running``.
    """

    __slots__ = ("out", "agen", "step", "busy")

    def __init__(self, out: Outgoing) -> None:
        self.out = out
        self.agen = out.body.__aiter__()
        self.step: Any = None  # the running step's cancel scope and done event
        self.busy = False

    def __iter__(self) -> _AsyncIterBridge:
        return self

    def __next__(self) -> bytes:
        self.busy = True
        try:
            chunk = _bridge.run_async(self.out.ctx, self._anext)
        except Exception:
            self.busy = False
            raise
        self.busy = False  # not reached when a BaseException interrupted the wait
        if chunk is None:
            raise StopIteration
        return chunk

    async def _anext(self) -> bytes | None:
        import anyio

        with anyio.CancelScope() as scope:
            self.step = (scope, anyio.Event())
            try:
                return await self.agen.__anext__()
            except StopAsyncIteration:
                return None
            finally:
                self.step[1].set()
        return None  # cancelled by _abandon

    async def _abandon(self) -> None:
        import anyio

        step = self.step
        if step is not None and not step[1].is_set():
            step[0].cancel()
            with anyio.move_on_after(5):
                await step[1].wait()

    def close(self) -> None:
        try:
            if self.busy:
                _bridge.run_async(self.out.ctx, self._abandon)
        finally:
            self.out.close_sync()


def call_wsgi_app(wsgi_app: Any, req: BaseRequest) -> HTTPResponse:
    """Call a foreign WSGI app with the (path-shifted) request; return its response.

    Blocking: under ASGI the pipeline runs this in a worker thread.
    """
    env = dict(req.environ)
    env["SCRIPT_NAME"] = req.script_name
    env["PATH_INFO"] = req.path.encode("utf8").decode("latin1")
    if isinstance(req, WSGIRequest) and "wsgi.input" in env:
        env["wsgi.input"] = req.body
    else:
        env["wsgi.input"] = (
            req.body if req._body_needed or "body" in req._cache else io.BytesIO(b"")
        )
    env.setdefault("wsgi.errors", sys.stderr)
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and captured.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        captured["status"] = status
        captured["headers"] = headers
        return written.append

    result = wsgi_app(env, start_response)
    try:
        it = iter(result)
        first = next(it, None)
    except BaseException:
        if hasattr(result, "close"):
            result.close()
        raise
    if "status" not in captured:
        raise RuntimeError("mounted WSGI app returned without calling start_response")
    res = HTTPResponse(status=captured["status"])
    for k, v in captured["headers"]:
        if k.lower() == "set-cookie":
            if res._cookies is None:
                res._cookies = []
            res._cookies.append(v)
        else:
            res.add_header(k, v)

    def body() -> Iterator[bytes]:
        try:
            yield from written
            if first is not None:
                yield first
            yield from it
        finally:
            if hasattr(result, "close"):
                result.close()

    res.body = body()
    return res
