"""The WSGI adapter (PEP 3333): environ in, the core's Outgoing response out.

``start_response`` is called exactly once, with ``exc_info`` when the response is an
error page made from an exception; returned iterables are closed by the server, which
closes the body and the request's scoped dependencies; files go through
``wsgi.file_wrapper`` when the server offers one.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from typing import Any

from . import _bridge, concurrency  # noqa: F401 - concurrency installs the loop/thread bridge
from .dispatch import AITER, BYTES, FILE, ITER, Outgoing, handle_sync
from .request import BaseRequest
from .response import HTTPResponse

__all__ = ["WSGIAdapter", "call_wsgi_app"]

# PERF: the process id, refreshed after fork, instead of a getpid() call per request.
_PID = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


class WSGIAdapter:
    """Serve an Lcore app to a WSGI server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._started_pid: int | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        app = self.app
        if self._started_pid != _PID[0]:
            self._startup()
        req = BaseRequest(environ)
        if "bad_path" in req._cache:
            body = b"Bad Request: the path is not valid UTF-8."
            start_response("400 Bad Request", [("Content-Type", "text/plain; charset=UTF-8"),
                                               ("Content-Length", str(len(body)))])
            return [body]
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
            if wrapper is not None and not (c is not None and (
                c._scoped or c._after_response or "body" in c.request._cache or "post" in c.request._cache
            )):
                out._closed = True
                return wrapper(out.body, 65536)
            return _FileIter(out)
        if kind == ITER:
            return _ClosingIter(out)
        if kind == AITER:
            return _AsyncIterBridge(out)
        raise AssertionError(f"unknown body kind {kind}")  # pragma: no cover

    def _startup(self) -> None:
        self._started_pid = _PID[0] = os.getpid()
        app = self.app
        if app._hooks.get("startup"):
            app.trigger_hook("startup")


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
    """Drive an async body from the WSGI thread, one chunk at a time, on the loop."""

    __slots__ = ("out", "agen")

    def __init__(self, out: Outgoing) -> None:
        self.out = out
        self.agen = out.body.__aiter__()

    def __iter__(self) -> _AsyncIterBridge:
        return self

    def __next__(self) -> bytes:
        chunk = _bridge.run_async(self.out.ctx, _anext, self.agen)
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self.out.close_sync()


async def _anext(agen: Any) -> bytes | None:
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return None


def call_wsgi_app(wsgi_app: Any, req: BaseRequest) -> HTTPResponse:
    """Call a foreign WSGI app with the (path-shifted) request; return its response.

    Blocking: under ASGI the pipeline runs this in a worker thread.
    """
    env = dict(req.environ)
    env["SCRIPT_NAME"] = req.script_name
    env["PATH_INFO"] = req.path.encode("utf8").decode("latin1")
    if req._environ is None or "wsgi.input" not in env:
        env["wsgi.input"] = req.body if req._body_needed or "body" in req._cache else io.BytesIO(b"")
    else:
        env["wsgi.input"] = req.body
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
