"""The request pipeline, written once and run by two drivers.

:func:`pipeline` is a generator holding the whole request logic: hooks in their
documented order, pre-routing middleware, routing, post-routing middleware, plugins,
the handler, error mapping and casting the result to an :class:`Outgoing` response.
Wherever that logic must wait for something it *yields an effect* instead of blocking:

- ``_Await(awaitable)``: a coroutine to run (an ``async def`` handler, hook, ...);
- ``_Thread(fn, args)``: a blocking function to run off the event loop.

:func:`drive_sync` runs the generator from blocking code (the WSGI adapter, or a worker
thread under ASGI): it calls sync things inline and sends coroutines to the event loop.
:func:`drive_async` runs it on an event loop (the ASGI adapter): it awaits coroutines and
sends blocking functions to worker threads. The logic never forks into two copies.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
import types
from collections.abc import AsyncIterator, Generator, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from . import _bridge
from ._utils import html_escape, json_dumps
from .context import LAZY_JSON_RESPONSE, LAZY_RESPONSE, RequestContext, _current, _LazyResponse
from .plugins import JSONPlugin
from .response import BaseResponse, HTTPError, HTTPResponse

__all__ = ["Outgoing", "pipeline", "drive_sync", "drive_async", "handle_sync", "handle_async"]

_log = logging.getLogger("lcore.error")

SYNC = 0
ASYNC = 1

#: Body kinds of an :class:`Outgoing`.
BYTES, ITER, AITER, FILE = 0, 1, 2, 3

_NO_BODY_STATUS = frozenset((204, 304))
# PERF: results of these types are never awaitable; skip inspect.isawaitable for them.
_PLAIN = frozenset((str, bytes, dict, list, type(None), bool, int, float, tuple))


def _isawaitable(value: Any) -> bool:
    """``inspect.isawaitable`` without its ABC check (a dear isinstance) on the hot path."""
    t = type(value)
    if t in _PLAIN:
        return False
    if t is _CoroutineType or hasattr(t, "__await__"):
        return True
    return t is _GeneratorType and bool(value.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE)


_CoroutineType = types.CoroutineType
_GeneratorType = types.GeneratorType


class _Await:
    __slots__ = ("aw",)

    def __init__(self, aw: Any) -> None:
        self.aw = aw


class _Thread:
    __slots__ = ("fn", "args")

    def __init__(self, fn: Any, args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args


Effects = Generator[Any, Any, Any]


class Outgoing:
    """The neutral response an adapter sends: status, header list and a body.

    ``kind`` says what ``body`` is: ``BYTES`` (bytes), ``ITER`` (a sync iterator of
    bytes), ``AITER`` (an async iterator of bytes) or ``FILE`` (a binary file object).
    Adapters call ``close_sync()`` or ``await aclose()`` when done sending.
    """

    __slots__ = ("status_code", "status_line", "headers", "body", "kind", "ctx", "_closed")

    def __init__(
        self, status_code: int, status_line: str, headers: list[tuple[str, str]], body: Any, kind: int, ctx: Any
    ) -> None:
        self.status_code = status_code
        self.status_line = status_line
        self.headers = headers
        self.body = body
        self.kind = kind
        self.ctx = ctx
        self._closed = False

    @property
    def streaming(self) -> bool:
        return self.kind != BYTES

    def close_sync(self) -> None:
        """Close the body and the request's scoped dependencies (blocking code)."""
        if self._closed:
            return
        self._closed = True
        body = self.body
        try:
            if self.kind in (ITER, FILE) and hasattr(body, "close"):
                body.close()
            elif self.kind == AITER and hasattr(body, "aclose"):
                _bridge.run_async(self.ctx, body.aclose)
        finally:
            _teardown_sync(self.ctx)

    async def aclose(self) -> None:
        """Close the body and the request's scoped dependencies (async code)."""
        if self._closed:
            return
        self._closed = True
        body = self.body
        try:
            if self.kind == AITER and hasattr(body, "aclose"):
                await body.aclose()
            elif self.kind in (ITER, FILE) and hasattr(body, "close"):
                await _bridge.run_sync(self.ctx, body.close)
        finally:
            await _teardown_async(self.ctx)


def _teardown_sync(c: Any) -> None:
    if c is None:
        return
    app = c.app
    if c.request._cache:
        c.request._close_files()
    if c._scoped:
        app._container.close_scoped(c)
    after = c._after_response
    if after:
        c._after_response = None
        token = _current.set(c)  # tasks may use ctx/request/response
        try:
            app._run_after_response_sync(c, after)
        finally:
            _current.reset(token)


async def _teardown_async(c: Any) -> None:
    if c is None:
        return
    app = c.app
    if c.request._cache:
        c.request._close_files()
    if c._scoped:
        await app._container.aclose_scoped(c)
    after = c._after_response
    if after:
        c._after_response = None
        token = _current.set(c)  # tasks may use ctx/request/response
        try:
            await app._run_after_response_async(c, after)
        finally:
            _current.reset(token)


# -- drivers -------------------------------------------------------------------------


def _step(gen: Effects, value: Any, exc: BaseException | None) -> tuple[bool, Any]:
    """Advance the pipeline: ``(True, result)`` when it finished, else ``(False, effect)``."""
    try:
        if exc is not None:
            return False, gen.throw(exc)
        return False, gen.send(value)
    except StopIteration as stop:
        return True, stop.value


def drive_sync(gen: Effects) -> Any:
    """Run a pipeline generator from blocking code; coroutines go to the event loop."""
    value: Any = None
    exc: BaseException | None = None
    while True:
        done, eff = _step(gen, value, exc)
        if done:
            return eff
        try:
            if type(eff) is _Await:
                value, exc = _bridge.run_async(_current.get(None), _await, eff.aw), None
            else:  # a _Thread effect in sync mode: we may block, so just call it
                value, exc = eff.fn(*eff.args), None
                if _isawaitable(value):
                    value = _bridge.run_async(_current.get(None), _await, value)
        except BaseException as e:  # noqa: BLE001 - thrown back into the pipeline
            exc, value = e, None


async def drive_async(gen: Effects) -> Any:
    """Run a pipeline generator on an event loop; blocking calls go to worker threads."""
    value: Any = None
    exc: BaseException | None = None
    while True:
        done, eff = _step(gen, value, exc)
        if done:
            return eff
        try:
            if type(eff) is _Await:
                value, exc = await eff.aw, None
            else:
                value, exc = await _bridge.run_sync(_current.get(None), eff.fn, *eff.args), None
                if _isawaitable(value):
                    value = await value
        except BaseException as e:  # noqa: BLE001 - thrown back into the pipeline
            exc, value = e, None


async def _await(aw: Any) -> Any:
    return await aw


def _call(mode: int, is_async: bool, fn: Any, *args: Any) -> Effects:
    """Call a user callable the way the current mode requires."""
    if is_async:
        return (yield _Await(fn(*args)))
    if mode == ASYNC:
        rv = yield _Thread(fn, args)
    else:
        rv = fn(*args)
        if _isawaitable(rv):
            rv = yield _Await(rv)
    return rv


def _hooks(app: Any, mode: int, c: Any, name: str) -> Effects:
    for fn, is_async in app._hook_plan.get(name, ()):
        yield from _call(mode, is_async, fn)
    if c._module_chain:
        for parent, prefix, _pctx in c._module_chain:
            for fn, is_async in parent._module_hook_plan.get((prefix, name), ()):
                yield from _call(mode, is_async, fn)


# -- the pipeline ------------------------------------------------------------------


def pipeline(app: Any, mode: int, c: RequestContext) -> Effects:
    """The whole request: returns an :class:`Outgoing`."""
    req = c.request
    out: Any = None
    hp = app._hook_plan
    try:
        try:
            if hp or c._module_chain:
                if "on_request_start" in hp or c._module_chain:
                    yield from _hooks(app, mode, c, "on_request_start")
                if "before_request" in hp or c._module_chain:
                    yield from _hooks(app, mode, c, "before_request")
            mw = app.middleware
            pre = mw.pre
            if pre and mw.pre_filtered:
                pre = mw.pre_for(req._path)
            if pre:
                out = yield from _chain(app, mode, c, pre, 0, _routed)
            else:
                out = yield from _routed(app, mode, c)
        except HTTPResponse as e:
            out = e
        if not hp and not c._module_chain:
            # PERF: no after-hooks to run and a plain result: cast it directly.
            done = _cast_plain(c, out)
            if done is not None:
                return done
        return (yield from _finish(app, mode, c, out))
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except Exception as e:
        if not app.catchall:
            raise
        return (yield from _finish_exception(app, mode, c, e))


def _finish_exception(app: Any, mode: int, c: Any, e: Exception) -> Effects:
    """Turn an unexpected exception into a 500 (logged; traceback shown only in debug)."""
    tb = traceback.format_exc()
    req = c.request
    _log.error("Unhandled error in %s %s\n%s", req.method, req.path, tb)
    c.response = BaseResponse()
    req._cache["exc"] = e
    err = HTTPError(500, "Internal Server Error", e, tb)
    # The response hooks still run for a crash (Bottle ran ``after_request`` in a
    # ``finally``: cleanup hooks must not be skipped), unless they are what failed.
    run_hooks = not req._cache.get("post_hooks")
    try:
        return (yield from _finish(app, mode, c, err, run_hooks=run_hooks))
    except Exception:
        _log.exception("error while rendering the 500 page")
        body = b"Internal Server Error"
        return Outgoing(500, "500 Internal Server Error",
                        [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
                        body, BYTES, c)


def _routed(app: Any, mode: int, c: Any) -> Effects:
    """Routing, auth/enter hooks, post-middleware + handler, exit hook."""
    req = c.request
    peek = req._cache.get("peek")
    if peek is not None and peek[0] == req.method and peek[1] == req._path:
        route, args = peek[2], peek[3]
    else:
        route, args = app.router.match(req.method, req._path)
    c.route = route
    req.route = route
    req.url_args = args
    hp = app._hook_plan
    if hp or c._module_chain:
        yield from _hooks(app, mode, c, "on_auth_resolved")
        yield from _hooks(app, mode, c, "on_handler_enter")
    if app._container._async_eager:  # (has_async, without the property call)
        yield _Await(app._container.aprepare(c))
    if mode == ASYNC and req._body_needed and route._mount is None and not route.config.get("stream_body"):
        # Async code cannot block on the body later, so read it now (after pre-routing
        # middleware, which may have set a body limit). Spooled to disk above MEMFILE_MAX.
        # A route with ``stream_body=True`` reads it itself: ``async for c in request.stream()``.
        yield _Await(req._aread_body())
    try:
        mw = app.middleware
        post = mw.post_for(route, req._path) if mw.post else ()
        if post:
            out = yield from _chain(app, mode, c, post, 0, _handler)
        else:
            # PERF: the handler is called without a generator frame; only an effect
            # (a coroutine to await, a call to send to a thread) goes to the driver.
            out = _call_handler(app, mode, c)
            t = type(out)
            if t is _Await or t is _Thread:
                out = yield out
            elif t is _Mount:
                out = yield from app._dispatch_mount(mode, c, out.mount)
    except HTTPResponse as e:
        out = e
    if hp or c._module_chain:
        try:
            yield from _hooks(app, mode, c, "on_handler_exit")
        except HTTPResponse as e:
            out = e
    return out


class _Mount:
    __slots__ = ("mount",)

    def __init__(self, mount: Any) -> None:
        self.mount = mount


def _call_handler(app: Any, mode: int, c: Any) -> Any:
    """Call the route's handler; returns its result, or an effect / _Mount to resolve."""
    route = c.route
    mount = route._mount
    if mount is not None:
        return _Mount(mount)
    args = c.request.url_args
    call = route.call
    if mode == ASYNC and not route.is_async:
        return _Thread(functools.partial(call, **args) if args else call, ())
    rv = call(**args)
    if _isawaitable(rv):
        return _Await(rv)
    return rv


def _handler(app: Any, mode: int, c: Any) -> Effects:
    """The handler as a generator step (the innermost link of a middleware chain)."""
    out = _call_handler(app, mode, c)
    t = type(out)
    if t is _Await or t is _Thread:
        out = yield out
    elif t is _Mount:
        out = yield from app._dispatch_mount(mode, c, out.mount)
    return out


def _chain(app: Any, mode: int, c: Any, entries: tuple[Any, ...], i: int, terminal: Any) -> Effects:
    """Run middleware ``entries[i:]`` around ``terminal``."""
    if i == len(entries):
        return (yield from terminal(app, mode, c))
    e = entries[i]
    mw = e.mw
    if e.is_hook:
        hmode = SYNC if e.inline else mode
        # PERF: a sync pre/post that may run right here is called without a generator;
        # one the hook does not define is not called at all; the last link runs the
        # terminal without a _chain frame of its own.
        if not e.has_pre:
            early = None
        elif hmode == SYNC and not e.pre_async:
            early = mw.pre(c)
            if _isawaitable(early):
                early = yield _Await(early)
        else:
            early = yield from _call(hmode, e.pre_async, mw.pre, c)
        if early is not None:
            result = early
        else:
            try:
                if i + 1 == len(entries):
                    result = yield from terminal(app, mode, c)
                else:
                    result = yield from _chain(app, mode, c, entries, i + 1, terminal)
            except HTTPResponse as err:
                result = err
        if not e.has_post:
            return result
        if hmode == SYNC and not e.post_async:
            result = mw.post(c, result)
            if _isawaitable(result):
                result = yield _Await(result)
            return result
        return (yield from _call(hmode, e.post_async, mw.post, c, result))
    if e.is_async or (e.dual and (mode == ASYNC or (c.route is not None and c.route.is_async))):
        # A middleware with both ``__call__`` and ``async def acall`` uses ``acall`` when
        # the handler is async (or the request runs on the loop): no thread hop either way.
        call = mw.acall if e.dual else mw

        async def next_async(c2: Any = c) -> Any:
            return await drive_async(_chain(app, ASYNC, c2, entries, i + 1, terminal))

        return (yield _Await(call(c, next_async)))

    def next_sync(c2: Any = c) -> Any:
        return drive_sync(_chain(app, SYNC, c2, entries, i + 1, terminal))

    if mode == ASYNC:
        # A sync wrapping middleware runs, with the rest of the chain, in a worker thread.
        return (yield _Thread(mw, (c, next_sync)))
    rv = mw(c, next_sync)
    if _isawaitable(rv):
        rv = yield _Await(rv)
    return rv


# -- results to responses ----------------------------------------------------------


def _finish(app: Any, mode: int, c: Any, out: Any, run_hooks: bool = True) -> Effects:
    resp = c.response
    if isinstance(out, HTTPResponse):
        out.apply(resp)
        body = out.body
        if isinstance(out, HTTPError):
            body = yield from _error_body(app, mode, c, out)
    else:
        body = out
    hp = app._hook_plan
    if run_hooks and (hp or c._module_chain):
        c.request._cache["post_hooks"] = True
        try:
            yield from _hooks(app, mode, c, "on_response_build")
            yield from _hooks(app, mode, c, "after_request")
            yield from _hooks(app, mode, c, "on_response_send")
        except HTTPResponse as e:
            e.apply(resp)
            body = e.body
            if isinstance(e, HTTPError):
                body = yield from _error_body(app, mode, c, e)
    return (yield from _cast(app, mode, c, body))


def _error_body(app: Any, mode: int, c: Any, err: HTTPError) -> Effects:
    handler = app.error_handler.get(err.status_code)
    if handler is not None:
        try:
            rv = yield from _call(mode, _bridge.is_async_callable(handler), handler, err)
            if isinstance(rv, HTTPResponse):
                rv.apply(c.response)
                rv = rv.body
            return rv
        except HTTPResponse as e:
            e.apply(c.response)
            return e.body
        except Exception:
            _log.exception("error handler for %s failed", err.status_code)
    return default_error_body(app, c, err)


def default_error_body(app: Any, c: Any, err: HTTPError) -> Any:
    """The built-in error page: JSON (``error.format = 'json'``) or HTML."""
    resp = c.response
    fmt = app.config.get("error.format", "html")
    debug = app.config.get("debug", False)
    text = err.body if isinstance(err.body, str) and err.body else err.reason
    if fmt == "json":
        resp._headers["Content-Type"] = ["application/json"]
        doc: dict[str, Any] = {"error": text, "status": err.status_code}
        if debug and err.exception is not None:
            doc["exception"] = repr(err.exception)
            doc["traceback"] = err.traceback
        return json_dumps(doc)
    # The page is HTML whatever type the handler had chosen before it failed (a JSON
    # handler that aborts must not label this page JSON), unless the error names one.
    if "Content-Type" not in err._headers:
        resp._headers["Content-Type"] = ["text/html; charset=UTF-8"]
    parts = [
        "<!DOCTYPE html>\n<html><head><title>Error: ", html_escape(err.status_line),
        "</title><style>html{background:#eee;font-family:sans-serif}"
        "body{background:#fff;border:1px solid #ddd;padding:15px;margin:15px}"
        "pre{background:#eee;border:1px solid #ddd;padding:5px}</style></head><body>",
        "<h1>Error: ", html_escape(err.status_line), "</h1>",
        "<p>Sorry, the requested URL <tt>", html_escape(repr(c.request.url)),
        "</tt> caused an error:</p><pre>", html_escape(text), "</pre>",
    ]
    if debug and err.exception is not None:
        parts += ["<h2>Exception:</h2><pre>", html_escape(repr(err.exception)), "</pre>"]
        if err.traceback:
            parts += ["<h2>Traceback:</h2><pre>", html_escape(err.traceback), "</pre>"]
    parts.append("</body></html>\n")
    return "".join(parts)


_END = object()


_HTML_TYPE = ("Content-Type", BaseResponse.default_content_type)
_JSON_TYPE = ("Content-Type", "application/json")


def _cast_plain(c: Any, body: Any) -> Outgoing | None:
    """Cast the common result types (str, bytes, None, dict, list) without a generator.

    Returns None for everything else (responses, files, iterators), which
    :func:`_cast` handles.
    """
    resp = c._response
    t = type(body)
    if type(resp) is _LazyResponse:
        # The handler never touched the response: 200 and the default headers.
        if t is str:
            payload = body.encode() if body else b""
            ctype = _HTML_TYPE
        elif t is dict or t is list:
            payload = json_dumps(body).encode("utf8")
            ctype = _JSON_TYPE
            c._response = LAZY_JSON_RESPONSE
        elif t is bytes:
            payload = body
            ctype = _HTML_TYPE
        elif body is None or body is False:
            payload = b""
            ctype = _HTML_TYPE
        elif t is bytearray or t is memoryview:
            payload = bytes(body)
            ctype = _HTML_TYPE
        else:
            return None
        headers = [ctype, ("Content-Length", str(len(payload)))]
        if c.request.method == "HEAD":
            payload = b""
        return Outgoing(200, "200 OK", headers, payload, BYTES, c)
    if t is str:
        payload = (body.encode(resp.charset) if "Content-Type" in resp._headers else body.encode()) if body else b""
    elif t is bytes:
        payload = body
    elif body is None or body is False:
        payload = b""
    elif t is dict or t is list:
        ct = resp._headers.get("Content-Type")
        if not ct or ct[-1].startswith("text/html"):
            resp._headers["Content-Type"] = ["application/json"]
            payload = json_dumps(body).encode("utf8")
        else:  # the handler chose the type (``application/problem+json; charset=...``)
            payload = json_dumps(body).encode(resp.charset)
    elif t is bytearray or t is memoryview:
        payload = bytes(body)
    else:
        return None
    status = resp._status_code
    headers = resp.headerlist
    if status in _NO_BODY_STATUS or status < 200:
        payload = b""
    elif "Content-Length" not in resp._headers:
        headers.append(("Content-Length", str(len(payload))))
    if c.request.method == "HEAD":
        payload = b""
    return Outgoing(status, resp._status_line, headers, payload, BYTES, c)


def _cast(app: Any, mode: int, c: Any, body: Any) -> Effects:
    """Turn a handler result into an :class:`Outgoing` (status and headers from response)."""
    done = _cast_plain(c, body)
    if done is not None:
        return done
    resp = c.response
    if isinstance(body, (dict, list, str, bytes, bytearray, memoryview)):  # subclasses
        return _cast_plain(c, type(body).__mro__[-2](body) if not isinstance(body, (dict, list)) else (dict(body) if isinstance(body, dict) else list(body)))
    kind = BYTES
    if isinstance(body, HTTPResponse):
        body.apply(resp)
        if isinstance(body, HTTPError):
            inner = yield from _error_body(app, mode, c, body)
        else:
            inner = body.body
        return (yield from _cast(app, mode, c, inner))
    elif isinstance(body, _CONTAINERS):
        # A bounded container is checked whole now, before the response starts: a bad
        # one is a 500 under every server, never a started response that breaks.
        return _cast_plain(c, _container_body(body, resp.charset))
    elif hasattr(body, "read"):
        payload, kind = body, FILE
    elif hasattr(body, "__aiter__"):
        payload, kind = _aiter_bytes(body, resp.charset, c), AITER
    elif hasattr(body, "__iter__"):
        it = iter(body)
        # Peek at the first chunk so errors raised before any output become error pages.
        try:
            if mode == ASYNC:
                first = yield _Thread(next, (it, _END))
            else:
                first = next(it, _END)
        except HTTPResponse as e:
            _close(it)
            return (yield from _finish(app, mode, c, e, run_hooks=False))
        except Exception:
            _close(it)
            raise
        if first is _END:
            _close(it)
            return _cast_plain(c, b"")
        if not isinstance(first, _CHUNK_TYPES):
            _close(it)  # the first chunk is taken before the start: check it there too
            raise TypeError(f"response chunks must be str or bytes, not {type(first).__name__}")
        payload, kind = _iter_bytes(first, it, resp.charset), ITER
    elif not body:
        return _cast_plain(c, b"")  # a falsy result (0, 0.0) is an empty body, as in Bottle
    else:
        raise TypeError(f"Unsupported response type: {type(body).__name__}")
    status = resp._status_code
    headers = resp.headerlist
    if c.request.method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        _close(payload)
        payload, kind = b"", BYTES
    return Outgoing(status, resp._status_line, headers, payload, kind, c)


_CHUNK_TYPES = (str, bytes, bytearray, memoryview)
_CONTAINERS = (tuple, AbstractSet)


def _container_body(body: Any, charset: str) -> bytes:
    """The body of a tuple of str/bytes chunks (joined, as Bottle did); a set, or a tuple
    holding anything else, is a TypeError that says what to return instead."""
    name = type(body).__name__
    if isinstance(body, AbstractSet):
        raise TypeError(
            f"handler returned a {name}, whose order is arbitrary: return a list (sent as "
            "JSON), a str or bytes, or an iterable of str/bytes chunks"
        )
    bad = next((x for x in body if not isinstance(x, _CHUNK_TYPES)), None)
    if bad is None and body:
        return b"".join(x.encode(charset) if isinstance(x, str) else bytes(x) for x in body)
    if bad is None:
        return b""
    if len(body) in (2, 3) and type(body[1]) is int:
        status = body[1]
        hint = (
            f"lcore gives a tuple no status meaning: return HTTPResponse(body, status={status}) "
            f"or set response.status = {status} and return the body"
        )
    else:
        hint = "return a list (sent as JSON), a str or bytes, or a tuple of str/bytes chunks"
    raise TypeError(f"handler returned a tuple holding a {type(bad).__name__}; {hint}")


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            _log.exception("closing a response body failed")


class _iter_bytes:  # noqa: N801 - iterator class used like a function
    """Chunks of a sync iterable as bytes (str encoded), first chunk already taken.

    The request's context is set around each step, so generator bodies still see
    ``ctx``/``request``/``response`` when the server iterates them later.
    """

    __slots__ = ("first", "it", "charset", "ctx")

    def __init__(self, first: Any, it: Iterator[Any], charset: str) -> None:
        self.first = first
        self.it = it
        self.charset = charset
        self.ctx = _current.get(None)

    def __iter__(self) -> _iter_bytes:
        return self

    def __next__(self) -> bytes:
        first = self.first
        if first is not _END:
            self.first = _END
            chunk = first
        else:
            token = _current.set(self.ctx) if self.ctx is not None else None
            try:
                chunk = next(self.it)
            finally:
                if token is not None:
                    _current.reset(token)
        if type(chunk) is bytes:
            return chunk
        if isinstance(chunk, str):
            return chunk.encode(self.charset)
        if isinstance(chunk, (bytearray, memoryview)):
            return bytes(chunk)
        raise TypeError(f"response chunks must be str or bytes, not {type(chunk).__name__}")

    def close(self) -> None:
        _close(self.it)


async def _aiter_bytes(body: Any, charset: str, c: Any) -> AsyncIterator[bytes]:
    """Chunks of an async iterable as bytes, with the request's context set around each step.

    The server iterates the body after the pipeline has returned and reset the context.
    """
    ait = body.__aiter__()
    try:
        while True:
            token = _current.set(c) if c is not None else None
            try:
                chunk = await ait.__anext__()
            except StopAsyncIteration:
                return
            finally:
                if token is not None:
                    _current.reset(token)
            if type(chunk) is bytes:
                yield chunk
            elif isinstance(chunk, str):
                yield chunk.encode(charset)
            elif isinstance(chunk, (bytearray, memoryview)):
                yield bytes(chunk)
            else:
                raise TypeError(f"response chunks must be str or bytes, not {type(chunk).__name__}")
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


# -- entry points for adapters ------------------------------------------------------


def _new_ctx(app: Any, req: Any) -> RequestContext:
    req.app = app
    return RequestContext(req, LAZY_RESPONSE, app)


def handle_sync(app: Any, req: Any) -> Outgoing:
    """Handle a request from blocking code (WSGI); the caller sends the Outgoing."""
    req.app = app
    c = RequestContext(req, LAZY_RESPONSE, app)
    token = _current.set(c)
    try:
        return _run_sync_pipeline(app, c)
    finally:
        _current.reset(token)


def _complete(app: Any, mode: int, c: Any, out: Any) -> Effects:
    """The pipeline's last step on its own: result to Outgoing, exceptions to 500s."""
    try:
        return (yield from _finish(app, mode, c, out))
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except Exception as e:
        if not app.catchall:
            raise
        return (yield from _finish_exception(app, mode, c, e))


# PERF: for a plain app (no request hooks, no middleware, no async dependencies: the
# test is written out in both places, a call of its own costs as much) a request is
# route match, handler call and cast. _run_sync_pipeline and handle_async do exactly that
# inline, without generator frames (about 3 us saved per request); every other case, and
# every unusual result (error pages, streams, exceptions), goes through the pipeline's own
# functions. The inline ``type(rv) not in _PLAIN`` test before _isawaitable saves a call
# for the usual results; a handler called without URL arguments is called without ``**``.


def _json_convert(rv: Any) -> Any:
    """What a default JSONPlugin does to a result the fast path's cast does not take.

    The fast path calls ``route.fast_call``, which leaves that plugin out
    (:meth:`lcore.routing.Route._make_fast_callback`); ``_cast_plain`` covers plain
    ``dict``/``list`` results, and this covers the rest (subclasses, an
    ``HTTPResponse`` whose body is a dict).
    """
    return JSONPlugin._convert(rv, json_dumps)


def _fast_unusual(app: Any, mode: int, c: Any, route: Any, rv: Any, exc: Exception | None) -> Effects:
    """The fast paths' rare endings (inline in :func:`_run_sync_pipeline` and
    :func:`handle_async`): an exception (called inside its ``except`` block, so the error
    page and the log see it), or a result ``_cast_plain`` does not take."""
    if exc is not None:
        if not app.catchall:
            raise exc
        return (yield from _finish_exception(app, mode, c, exc))
    if route.fast_call is not route.call:
        rv = _json_convert(rv)
    return (yield from _complete(app, mode, c, rv))


def _run_sync_pipeline(app: Any, c: Any, route: Any = None, args: Any = None) -> Outgoing:
    """Serve ``c`` in blocking code: the fast path for a plain app, else the pipeline.

    ``route``/``args`` are passed when :func:`handle_async` has matched the route already.
    """
    try:
        out = None
        mw = app.middleware
        if not app._hook_plan and not mw.pre and not mw.post and not app._container._async_eager:
            req = c.request
            if route is None:
                try:
                    route, args = app.router.match(req.method, req._path)
                except HTTPResponse:
                    route = None
            if route is not None and route._mount is None and not route.is_async:
                # The fast path (see above), inline: route, handler, cast.
                c.route = route
                req.route = route
                req.url_args = args
                try:
                    rv = route.fast_call(**args) if args else route.fast_call()
                    if type(rv) not in _PLAIN and _isawaitable(rv):
                        rv = _bridge.run_async(c, _await, rv)
                except HTTPResponse as e:
                    rv = e
                except (KeyboardInterrupt, SystemExit, MemoryError):
                    raise
                except Exception as e:
                    out = drive_sync(_fast_unusual(app, SYNC, c, route, None, e))
                if out is None:
                    out = _cast_plain(c, rv)
                    if out is None:
                        out = drive_sync(_fast_unusual(app, SYNC, c, route, rv, None))
        if out is None:
            out = drive_sync(pipeline(app, SYNC, c))
    except BaseException:
        _teardown_sync(c)
        raise
    # Work scheduled for after the response waits for the adapter to close ``out``.
    if out.kind == BYTES and not c._after_response:
        out._closed = True
        cache = c.request._cache
        if c._scoped or "body" in cache or "post" in cache:
            _teardown_sync(c)
    return out


async def handle_async(app: Any, req: Any) -> Outgoing:
    """Handle a request on an event loop (ASGI).

    A request for a sync handler runs, whole, in one worker thread (hooks, middleware,
    handler and scoped dependencies together); one for an async handler runs on the loop.
    """
    req.app = app
    c = RequestContext(req, LAZY_RESPONSE, app)
    token = _current.set(c)
    try:
        route = None
        mw = app.middleware
        if not app._hook_plan and not mw.pre and not mw.post and not app._container._async_eager:
            # PERF: one route match decides the execution mode and serves the fast path.
            try:
                route, args = app.router.match(req.method, req._path)
            except HTTPResponse:
                is_async = True  # the pipeline renders the error page on the loop
            else:
                if route._mount is not None:
                    route = None
                    is_async = app._route_is_async(req)
                else:
                    is_async = route.is_async
        else:
            is_async = app._route_is_async(req)
        if not is_async:
            if route is not None:
                return await _bridge.run_sync(c, _run_sync_pipeline, app, c, route, args)
            return await _bridge.run_sync(c, _run_sync_pipeline, app, c)
        try:
            if route is not None:
                # The fast path, inline (PERF: no coroutine of its own): route, handler, cast.
                c.route = route
                req.route = route
                req.url_args = args
                out = None
                try:
                    if req._body_needed and not route.config.get("stream_body"):
                        await req._aread_body()
                    rv = route.fast_call(**args) if args else route.fast_call()
                    if type(rv) not in _PLAIN and _isawaitable(rv):
                        rv = await rv
                except HTTPResponse as e:
                    rv = e
                except (KeyboardInterrupt, SystemExit, MemoryError):
                    raise
                except Exception as e:
                    out = await drive_async(_fast_unusual(app, ASYNC, c, route, None, e))
                if out is None:
                    out = _cast_plain(c, rv)
                    if out is None:
                        out = await drive_async(_fast_unusual(app, ASYNC, c, route, rv, None))
            else:
                out = await drive_async(pipeline(app, ASYNC, c))
        except BaseException:
            await _teardown_async(c)
            raise
        if out.kind == BYTES and not c._after_response:
            out._closed = True
            cache = c.request._cache
            if c._scoped or c._after_response or "body" in cache or "post" in cache:
                await _teardown_async(c)
        return out
    finally:
        _current.reset(token)
