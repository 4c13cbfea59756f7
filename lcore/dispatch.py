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

What runs for a route is its plan (:mod:`lcore.plan`). A plan with no stages is
``plain``: both drivers serve it with one short branch (the route's ``plan.call``, then
:func:`lcore.cast.cast_plain`); its rare endings (an exception, an unusual result) go to
this module's shared generators like every other request.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any

from . import _bridge
from .cast import (
    _CHUNK_TYPES,
    _CONTAINERS,
    _END,
    _NO_BODY_STATUS,
    _aiter_bytes,
    _close,
    _container_body,
    _iter_bytes,
    cast_plain,
    exact_text,
    json_off_error,
    json_result,
)
from .context import LAZY_RESPONSE, RequestContext, _current
from .effects import (  # noqa: F401 - re-exported: dispatch is where the drivers were documented
    _PLAIN,
    ASYNC,
    SYNC,
    Effects,
    _Await,
    _await,
    _call,
    _isawaitable,
    _step,
    _Thread,
    drive_async,
    drive_sync,
)
from .errorpage import default_error_body
from .outgoing import AITER, BYTES, FILE, ITER, Outgoing, _teardown_async, _teardown_sync
from .plan import app_dumps
from .response import BaseResponse, HTTPError, HTTPResponse

__all__ = [
    "Outgoing",
    "pipeline",
    "drive_sync",
    "drive_async",
    "handle_sync",
    "handle_async",
    "BYTES",
    "ITER",
    "AITER",
    "FILE",
    "default_error_body",
    "new_context",
    "run_route",
]

_log = logging.getLogger("lcore.error")


def _hooks(app: Any, mode: int, c: Any, name: str) -> Effects:
    for fn, is_async in app._hook_plan.get(name, ()):
        yield from _call(mode, is_async, fn)
    if c._module_chain:
        for parent, prefix, _pctx in c._module_chain:
            for fn, is_async in parent._module_hook_plan.get((prefix, name), ()):
                yield from _call(mode, is_async, fn)


# -- the pipeline ------------------------------------------------------------------


def pipeline(
    app: Any, mode: int, c: RequestContext, route: Any = None, args: Any = None
) -> Effects:
    """The whole request: returns an :class:`Outgoing`.

    ``route``/``args`` are a match a driver already made for the request's method and
    path; routing uses it while they are unchanged (hooks and pre-routing middleware may
    rewrite them), so a request is not matched twice.
    """
    req = c.request
    out: Any = None
    hp = app._hook_plan
    at = (req.method, req._path) if route is not None else None
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
                terminal = (
                    _routed
                    if route is None
                    else functools.partial(_routed, route=route, args=args, at=at)
                )
                out = yield from _chain(app, mode, c, pre, 0, terminal)
            else:
                out = yield from _routed(app, mode, c, route, args, at)
        except HTTPResponse as e:
            out = e
        if not hp and not c._module_chain:
            # PERF: no after-hooks to run and a plain result: cast it directly.
            done = cast_plain(c, out, _dumps_for(c))
            if done is not None:
                return done
        return (yield from _finish(app, mode, c, out))
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except Exception as e:
        if not app.catchall:
            raise
        return (yield from _finish_exception(app, mode, c, e))


def _dumps_for(c: Any) -> Any:
    """The JSON serializer of the request's cast (its route's plan; the app's outside one)."""
    route = c.route
    if route is not None and route._mount is None:
        return route.plan.dumps
    return app_dumps(c.app)


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
        return Outgoing(
            500,
            "500 Internal Server Error",
            [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
            body,
            BYTES,
            c,
        )


def _routed(
    app: Any, mode: int, c: Any, route: Any = None, args: Any = None, at: Any = None
) -> Effects:
    """Routing, auth/enter hooks, post-middleware + handler, exit hook."""
    req = c.request
    if route is None or at[0] != req.method or at[1] != req._path:
        route, args = app.router.match(req.method, req._path)
    c.route = route
    req.route = route
    req.url_args = args
    plan = route._plan
    if plan is None:
        plan = route._build_plan()
    hp = app._hook_plan
    if hp or c._module_chain:
        yield from _hooks(app, mode, c, "on_auth_resolved")
        yield from _hooks(app, mode, c, "on_handler_enter")
    if app._container._async_eager:  # (has_async, without the property call)
        yield _Await(app._container.aprepare(c))
    if mode == ASYNC and req._body_needed and plan.read_body:
        # Async code cannot block on the body later, so read it now (after pre-routing
        # middleware, which may have set a body limit). Spooled to disk above MEMFILE_MAX.
        # A route with ``stream_body=True`` reads it itself: ``async for c in request.stream()``.
        yield _Await(req._aread_body())
    try:
        post = plan.post
        if post and plan.post_filtered:
            path = req._path
            post = tuple(e for e in post if e.matcher is None or e.matcher(path))
        if post:
            out = yield from _chain(app, mode, c, post, 0, _handler)
        else:
            out = yield from _handler(app, mode, c)
    except HTTPResponse as e:
        out = e
    if hp or c._module_chain:
        try:
            yield from _hooks(app, mode, c, "on_handler_exit")
        except HTTPResponse as e:
            out = e
    return out


def _handler(app: Any, mode: int, c: Any) -> Effects:
    """The handler (the innermost link of a middleware chain), then the JSON step of the
    route's cast, so middleware and response hooks see what the json plugin gave them."""
    route = c.route
    mount = route._mount
    if mount is not None:
        return (yield from app._dispatch_mount(mode, c, mount))
    plan = route._plan
    args = c.request.url_args
    call = plan.call
    if plan.is_async:
        out = yield _Await(call(**args))
    elif mode == ASYNC and not plan.inline:
        out = yield _Thread(functools.partial(call, **args) if args else call, ())
    else:
        out = call(**args)
        if type(out) not in _PLAIN and _isawaitable(out):
            out = yield _Await(out)
    dumps = plan.dumps
    if dumps is not None and type(out) is not str:
        out = json_result(out, dumps)
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
    if e.is_async or (
        e.dual and (mode == ASYNC or (c.route is not None and c.route.plan.is_async))
    ):
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


def _cast(app: Any, mode: int, c: Any, body: Any) -> Effects:
    """Turn a handler result into an :class:`Outgoing` (status and headers from response)."""
    dumps = _dumps_for(c)
    done = cast_plain(c, body, dumps)
    if done is not None:
        return done
    resp = c.response
    if isinstance(body, (str, bytes, bytearray, memoryview)):  # subclasses: a StrEnum is text
        return cast_plain(c, exact_text(body), dumps)
    if isinstance(body, dict):
        if dumps is None:
            raise json_off_error(c, body)
        return cast_plain(c, dict(body), dumps)
    if isinstance(body, list) and dumps is not None:
        return cast_plain(c, list(body), dumps)
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
        return cast_plain(c, _container_body(body, resp.charset), None)
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
            return cast_plain(c, b"", None)
        if not isinstance(first, _CHUNK_TYPES):
            _close(it)  # the first chunk is taken before the start: check it there too
            raise TypeError(f"response chunks must be str or bytes, not {type(first).__name__}")
        payload, kind = _iter_bytes(first, it, resp.charset), ITER
    elif not body:
        return cast_plain(c, b"", None)  # a falsy result (0, 0.0) is an empty body, as in Bottle
    else:
        raise TypeError(f"Unsupported response type: {type(body).__name__}")
    status = resp._status_code
    headers = resp.headerlist
    if c.request.method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        _close(payload)
        payload, kind = b"", BYTES
    return Outgoing(status, resp._status_line, headers, payload, kind, c)


def handle_sync(app: Any, req: Any) -> Outgoing:
    """Handle a request from blocking code (WSGI); the caller sends the Outgoing."""
    req.app = app
    c = RequestContext(req, LAZY_RESPONSE, app)
    token = _current.set(c)
    try:
        return _serve_sync(app, c, None, None)
    finally:
        _current.reset(token)


def _serve_sync(app: Any, c: Any, route: Any, args: Any, error: Any = None) -> Outgoing:
    """Serve ``c`` in blocking code (WSGI, or a worker thread under ASGI).

    ``route``/``args`` are the match :func:`handle_async` made; None: match here, unless
    pre-routing middleware must run first (it may rewrite the path). ``error``: what
    reading the body before the hop met (plain plans), raised as the handler's.
    """
    try:
        out = None
        req = c.request
        if route is None and not app.middleware.pre:
            try:
                route, args = app.router.match(req.method, req._path)
            except HTTPResponse:
                route = None  # the pipeline renders the error page
        if route is not None:
            plan = route._plan
            if plan is None:
                plan = route._build_plan()
            if plan.plain:
                # PERF: a plain plan's short branch, the same steps as in handle_async:
                # no generator frames for the usual request (about 3 us).
                c.route = route
                req.route = route
                req.url_args = args
                try:
                    if error is not None:
                        raise error
                    rv = plan.call(**args) if args else plan.call()
                    if type(rv) not in _PLAIN and _isawaitable(rv):
                        rv = _bridge.run_async(c, _await, rv)
                except HTTPResponse as e:
                    rv = e
                except (KeyboardInterrupt, SystemExit, MemoryError):
                    raise
                except Exception as e:
                    out = drive_sync(_failed(app, SYNC, c, e))
                if out is None:
                    out = cast_plain(c, rv, plan.dumps)
                    if out is None:
                        out = drive_sync(_complete(app, SYNC, c, rv))
        if out is None:
            out = drive_sync(pipeline(app, SYNC, c, route, args))
    except BaseException:
        _teardown_sync(c)
        raise
    if _settled(c, out):
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
        # One route match decides the execution mode and is passed on (never made twice).
        plan: Any = None
        try:
            route, args = app.router.match(req.method, req._path)
        except HTTPResponse:
            route = args = None
            is_async = True  # the pipeline renders the error page on the loop
        else:
            plan = route._plan
            if plan is None:
                plan = route._build_plan()
            is_async = plan.is_async if route._mount is None else app._mount_is_async(route, req)
        if not is_async and not plan.inline:  # an inline def runs on the loop, below
            error = await req._aprefetch_body() if plan.plain and plan.read_body else None
            return await _bridge.run_sync(c, _serve_sync, app, c, route, args, error)
        try:
            out = None
            if plan is not None and plan.plain:
                # PERF: a plain plan's short branch, the same steps as in _serve_sync.
                c.route = route
                req.route = route
                req.url_args = args
                try:
                    if req._body_needed and plan.read_body:
                        await req._aread_body()
                    rv = plan.call(**args) if args else plan.call()
                    if type(rv) not in _PLAIN and _isawaitable(rv):
                        rv = await rv
                except HTTPResponse as e:
                    rv = e
                except (KeyboardInterrupt, SystemExit, MemoryError):
                    raise
                except Exception as e:
                    out = await drive_async(_failed(app, ASYNC, c, e))
                if out is None:
                    out = cast_plain(c, rv, plan.dumps)
                    if out is None:
                        out = await drive_async(_complete(app, ASYNC, c, rv))
            else:
                out = await drive_async(pipeline(app, ASYNC, c, route, args))
        except BaseException:
            await _teardown_async(c)
            raise
        if _settled(c, out):
            await _teardown_async(c)
        return out
    finally:
        _current.reset(token)


def new_context(app: Any, req: Any) -> RequestContext:
    """The ``ctx`` of a request ``app`` serves (for transports that match routes
    themselves, such as lcore_ws's WebSocket handshake): pass it to :func:`run_route`."""
    req.app = app
    return RequestContext(req, LAZY_RESPONSE, app)


def _pipeline_sync(app: Any, c: Any, route: Any, args: Any) -> Outgoing:
    return drive_sync(pipeline(app, SYNC, c, route, args))


async def run_route(c: RequestContext, route: Any, args: dict[str, Any]) -> Outgoing:
    """Run an already matched ``route``'s pipeline for ``c`` (hooks, middleware, handler).

    An async handler runs on this loop; a ``def`` one, with its hooks and middleware, in
    one worker thread. ``c`` is the current ctx meanwhile. If the pipeline raises, the
    request is torn down (uploads, scoped dependencies, after-response tasks) and the
    exception propagates; otherwise the caller sends the Outgoing and closes it.
    """
    app = c.app
    token = _current.set(c)
    try:
        if route.is_async:
            return await drive_async(pipeline(app, ASYNC, c, route, args))
        return await _bridge.run_sync(c, _pipeline_sync, app, c, route, args)
    except BaseException:
        await _teardown_async(c)
        raise
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


def _failed(app: Any, mode: int, c: Any, exc: Exception) -> Effects:
    """A plain plan's handler raised: the 500 page. Driven inside the ``except`` block,
    so the log line and the debug page see the traceback."""
    if not app.catchall:
        raise exc
    return (yield from _finish_exception(app, mode, c, exc))


def _settled(c: Any, out: Outgoing) -> bool:
    """Whether the request ends now, before the adapter sends ``out`` (True: tear it down).

    A bytes body with no after-response work needs no close from the adapter; work
    scheduled for after the response waits for the adapter to close ``out``.
    """
    if out.kind != BYTES or c._after_response:
        return False
    out._closed = True
    if c._scoped:
        return True
    cache = c.request._cache
    return "body" in cache or "post" in cache
