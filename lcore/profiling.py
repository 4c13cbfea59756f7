"""Find slow requests: a slow-request log and, in debug mode, a cProfile report on demand.

``app.install(Profiling())`` (a component, name ``profiling``):

- every request taking ``slow_threshold`` seconds or more (to the start of its
  response) is logged on the ``logger`` setting (default ``lcore.slow``, WARNING) with
  its method, path, route, total time, time in the handler, and the rest (middleware,
  hooks, routing) as ``middleware`` time;
- only while the app is in debug mode (``debug=True`` config), a request with the
  query parameter ``profile_param`` (default ``?_profile=1``) is answered with a
  cProfile report of its handler (``text/plain``, sorted by ``profile_sort``, the top
  ``profile_limit`` lines) instead of its response. Without debug the parameter is
  ignored: it never exposes anything in production.
"""

from __future__ import annotations

import cProfile
import functools
import io
import logging
import pstats
import time
from typing import Any

from ._bridge import is_async_callable
from .components import Component
from .context import _current_or_none
from .middleware.base import Middleware
from .response import HTTPResponse

__all__ = ["Profiling"]

_HANDLER = "_lcore_handler_seconds"
_PROFILE = "_lcore_profile"


class Profiling(Component):
    """Slow-request logging and on-demand profiling in debug mode (see the module docstring).

    Settings: ``slow_threshold`` (seconds, default 1.0; 0 turns the log off),
    ``logger`` (a logger name), ``profile_param`` (default ``_profile``),
    ``profile_sort`` (a ``pstats`` sort key, default ``cumulative``), ``profile_limit``
    (lines of the report, default 40) and ``enable``.
    """

    name = "profiling"
    slow_threshold = 1.0
    logger = "lcore.slow"
    profile_param = "_profile"
    profile_sort = "cumulative"
    profile_limit = 40

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)

    def init(self, app: Any) -> None:
        """Add the timing middleware (outermost but for metrics)."""
        self._app = app
        app.use(_ProfilingMiddleware(self))

    def apply(self, callback: Any, route: Any) -> Any:
        """Time the handler itself (and profile it when asked), for every route."""
        if is_async_callable(callback):

            @functools.wraps(callback)
            async def timed_async(*a: Any, **ka: Any) -> Any:
                c, prof, start = _handler_starts()
                try:
                    return await callback(*a, **ka)
                finally:
                    _handler_ends(c, prof, start)

            return timed_async

        @functools.wraps(callback)
        def timed(*a: Any, **ka: Any) -> Any:
            c, prof, start = _handler_starts()
            try:
                return callback(*a, **ka)
            finally:
                _handler_ends(c, prof, start)

        return timed


def _handler_starts() -> tuple[Any, Any, float]:
    """The request's context, its profiler (when profiled) and the handler's start time."""
    c = _current_or_none()
    prof = c.state.get(_PROFILE) if c is not None else None
    if prof is not None:
        prof.enable()
    return c, prof, time.perf_counter()


def _handler_ends(c: Any, prof: Any, start: float) -> None:
    """Stop the profiler and note the handler's time (for the slow-request log)."""
    if prof is not None:
        prof.disable()
    if c is not None:
        c.state[_HANDLER] = time.perf_counter() - start


class _ProfilingMiddleware(Middleware):
    name = "profiling"
    order = -999
    phase = "pre"

    def __init__(self, owner: Profiling) -> None:
        self.p = owner

    def _begin(self, ctx: Any) -> bool:
        p = self.p
        if not (p.enable and ctx.app.config.get("debug")):
            return False
        if p.profile_param not in ctx.request.query:
            return False
        ctx.state[_PROFILE] = cProfile.Profile()
        return True

    def _end(self, ctx: Any, start: float, profiled: bool, result: Any) -> Any:
        p = self.p
        total = time.perf_counter() - start
        threshold = float(p.slow_threshold or 0)
        if threshold > 0 and total >= threshold:
            handler = ctx.state.get(_HANDLER, 0.0)
            req = ctx.request
            route = ctx.route
            logging.getLogger(p.logger).warning(
                "slow request: %s %s (route %s) took %.3fs: handler %.3fs, middleware %.3fs",
                req.method,
                req.path,
                route.rule if route is not None else "-",
                total,
                handler,
                max(0.0, total - handler),
                extra={
                    "method": req.method,
                    "path": req.path,
                    "route": route.rule if route is not None else None,
                    "total_s": total,
                    "handler_s": handler,
                    "middleware_s": max(0.0, total - handler),
                },
            )
        if profiled:
            return _report(ctx, p, total)
        return result

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        if not self.p.enable:
            return next_handler(ctx)
        profiled = self._begin(ctx)
        start = time.perf_counter()
        try:
            result = next_handler(ctx)
        except HTTPResponse as e:
            result = e
        return self._end(ctx, start, profiled, result)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        if not self.p.enable:
            return await next_handler(ctx)
        profiled = self._begin(ctx)
        start = time.perf_counter()
        try:
            result = await next_handler(ctx)
        except HTTPResponse as e:
            result = e
        return self._end(ctx, start, profiled, result)


def _report(ctx: Any, p: Profiling, total: float) -> HTTPResponse:
    """The profile of the request's handler as a text/plain response."""
    out = io.StringIO()
    req = ctx.request
    route = ctx.route
    out.write(
        f"cProfile of {req.method} {req.path} (route {route.rule if route is not None else '-'}): "
        f"{total:.6f}s in total, {ctx.state.get(_HANDLER, 0.0):.6f}s in the handler\n\n"
    )
    prof = ctx.state.get(_PROFILE)
    try:
        stats = pstats.Stats(prof, stream=out)
    except TypeError:  # the handler never ran (no route, a middleware answered first)
        out.write("(nothing was profiled: the handler did not run)\n")
    else:
        stats.sort_stats(p.profile_sort).print_stats(int(p.profile_limit))
    return HTTPResponse(
        out.getvalue(),
        200,
        {
            "Content-Type": "text/plain; charset=UTF-8",
            "Cache-Control": "no-store",
            "X-Lcore-Profile": "1",
        },
    )
