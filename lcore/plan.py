"""Each route's plan: what runs for a request to it, in order, decided once.

A :class:`RoutePlan` is built the first time a route is served after it was added or
after anything that changes what runs for it (``reset()``, ``install()``,
``uninstall()``, ``use()``, adding or removing a hook, an ``async def`` dependency, the
``json.enable`` config), and kept on the route (``route.plan``). It holds:

- ``hooks``: the app's per-request hooks, by phase, in the order they run;
- ``post``: the post-routing middleware for this route (``skip=`` applied);
- ``call``: the handler with the route's plugins applied, and ``is_async``: whether it
  is awaited (on the loop) or called (in a worker thread under ASGI);
- ``status``: the route's default success status (``@app.route(..., status=201)``),
  or None for 200; ``call`` sets it on the response before the handler runs, so a
  status the handler (or an earlier hook) sets itself wins;
- ``dumps``: the JSON serializer of the route's cast, or None when JSON conversion is
  off for it (``json_disable=True``, ``json.enable = False``, the json plugin skipped
  or uninstalled): then a plugin or ``@view`` may take dicts over, and a dict that is
  left over is a 500 whose log line names the route.

A plan with no stages is ``plain``: no hooks, no middleware, no ``async def``
dependencies to prepare. Both drivers (WSGI and ASGI) serve a plain plan with one short
branch (match, ``plan.call``, ``cast_plain``); anything else runs the pipeline. The
drivers never decide this themselves: the plan does, once.
"""

from __future__ import annotations

import inspect
import logging
from time import perf_counter
from typing import Any

from . import _bridge
from ._bridge import is_async_callable
from .context import _current
from .exceptions import PluginError, RouteError
from .plugins import JSONPlugin

__all__ = ["RoutePlan", "build_plan", "check_handler", "app_dumps"]


class RoutePlan:
    """What runs for a request to one route, in order (see the module docstring)."""

    # PERF: slots; the drivers read ``plain``, ``call``, ``dumps`` and ``is_async``.
    __slots__ = (
        "route",
        "call",
        "is_async",
        "dumps",
        "plugins",
        "hooks",
        "post",
        "post_filtered",
        "plain",
        "read_body",
        "status",
        "inline",
    )

    def __init__(
        self,
        route: Any,
        call: Any,
        is_async: bool,
        dumps: Any,
        plugins: tuple[Any, ...],
        hooks: dict[str, Any],
        post: tuple[Any, ...],
        post_filtered: bool,
        plain: bool,
        read_body: bool,
        status: int | None = None,
        inline: bool = False,
    ) -> None:
        self.route = route
        self.call = call
        self.is_async = is_async
        self.dumps = dumps
        self.plugins = plugins
        self.hooks = hooks
        self.post = post
        self.post_filtered = post_filtered
        self.plain = plain
        self.read_body = read_body
        self.status = status
        #: A ``def`` handler declared non-blocking (``blocking=False`` on the route or the
        #: app): under ASGI it runs on the event loop, not in a worker thread.
        self.inline = inline

    def stages(self) -> list[str]:
        """The steps of a request to this route, in the order they run."""
        route = self.route
        app = route.app
        out: list[str] = []
        hooks = self.hooks
        for phase in ("on_request_start", "before_request"):
            out += [f"hook {phase}: {_name(f)}" for f, _a in hooks.get(phase, ())]
        out += [f"middleware (pre-routing): {_name(e.mw)}" for e in app.middleware.pre]
        out.append(f"route {route.method} {route.rule}")
        for phase in ("on_auth_resolved", "on_handler_enter"):
            out += [f"hook {phase}: {_name(f)}" for f, _a in hooks.get(phase, ())]
        if app._container._async_eager:
            out.append("prepare async dependencies")
        out += [
            f"middleware: {_name(e.mw)}" + (" (routes=)" if e.matcher is not None else "")
            for e in self.post
        ]
        if route._mount is not None:
            kind, child, prefix, _depth = route._mount
            out.append(f"mount {prefix} ({kind} app)")
        else:
            out += [
                f"plugin: {_name(p)}"
                for p in reversed(self.plugins)
                if not isinstance(p, JSONPlugin)
            ]
            kind = "async" if self.is_async else "sync"
            out.append(f"handler {_name(route.get_undecorated_callback())} ({kind})")
            if self.status is not None:
                out.append(f"default status {self.status}")
        for phase in ("on_handler_exit", "on_response_build", "after_request", "on_response_send"):
            out += [f"hook {phase}: {_name(f)}" for f, _a in hooks.get(phase, ())]
        out.append(
            "cast: "
            + ("dict/list to JSON" if self.dumps is not None else "JSON off (a dict is a 500)")
        )
        return out

    def __repr__(self) -> str:
        tag = " plain" if self.plain else ""
        return f"<RoutePlan{tag}: " + " -> ".join(self.stages()) + ">"


def _name(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    obj = getattr(obj, "__func__", obj)
    return str(getattr(obj, "__qualname__", None) or type(obj).__name__)


def _json_plugin(plugins: list[Any]) -> JSONPlugin | None:
    for p in reversed(plugins):  # the outermost one decides
        if isinstance(p, JSONPlugin):
            return p
    return None


def app_dumps(app: Any) -> Any:
    """The JSON serializer for results outside any route (error handlers of a 404/405)."""
    if not app.config.get("json.enable", True):
        return None
    p = _json_plugin(list(app.plugins))
    return p.json_dumps if p is not None else None


def build_plan(route: Any) -> RoutePlan:
    """Build ``route``'s plan from the app's current hooks, middleware and plugins."""
    app = route.app
    mount = route._mount
    plugins = route.all_plugins()
    call = route._make_callback(plugins)
    if not callable(call):
        raise PluginError(
            f"a plugin turned the handler of {route!r} into {call!r}, which is not callable: "
            "a plugin's apply(callback, route) must return a callable"
        )
    dumps = None
    if (
        mount is None
        and not route.config.get("json_disable")
        and app.config.get("json.enable", True)
    ):
        jp = _json_plugin(plugins)
        if jp is not None:
            dumps = jp.json_dumps
    is_async = mount is None and (
        is_async_callable(route.get_undecorated_callback())
        or is_async_callable(route.callback)
        or is_async_callable(call)
    )
    status = route.config.get("status") if mount is None else None
    if status is not None:
        call = _with_status(call, int(status), is_async)
    mw = app.middleware
    post, post_filtered = mw.post_for_route(route)
    hooks = app._hook_plan
    plain = (
        mount is None and not hooks and not mw.pre and not post and not app._container._async_eager
    )
    read_body = mount is None and not route.config.get("stream_body")
    inline = (
        mount is None
        and not is_async
        and route.config.get("blocking", app.config.get("blocking", True)) is False
    )
    if inline and app.config.get("debug"):
        call = watch_inline(call, route, float(app.config.get("blocking.threshold", 0.1)))
    return RoutePlan(
        route,
        call,
        is_async,
        dumps,
        tuple(plugins),
        hooks,
        post,
        post_filtered,
        plain,
        read_body,
        status,
        inline,
    )


def _with_status(call: Any, status: int, is_async: bool) -> Any:
    """``call`` that first gives the response ``status`` unless something already chose one.

    Set before the handler, not after: whatever the handler sets (``response.status =
    200`` too), raises or returns as an ``HTTPResponse`` decides instead.
    """

    def preset() -> None:
        c = _current.get(None)
        if c is not None:
            resp = c.response
            if resp._status_code == 200:
                resp.status = status

    if is_async:

        async def call_async(*a: Any, **ka: Any) -> Any:
            preset()
            return await call(*a, **ka)

        call_async.__wrapped__ = call  # type: ignore[attr-defined]
        return call_async

    def call_sync(*a: Any, **ka: Any) -> Any:
        preset()
        return call(*a, **ka)

    call_sync.__wrapped__ = call  # type: ignore[attr-defined]
    return call_sync


def check_handler(callback: Any, rule: str, method: str) -> None:
    """Refuse, when a route is added, a handler that can never be called as one.

    The message says what to pass instead (as Falcon does at import time).
    """
    where = f"route {method} {rule!r}"
    if inspect.iscoroutine(callback):
        callback.close()  # never awaited: no "coroutine was never awaited" warning
        raise RouteError(
            f"{where}: the handler is a coroutine object, not a function; pass the "
            "`async def` function itself (callback=handler, not callback=handler())"
        )
    if inspect.isgenerator(callback) or inspect.isasyncgen(callback):
        raise RouteError(
            f"{where}: the handler is a generator object, not a function; pass the "
            "function itself (a handler may return a generator to stream its body)"
        )
    if isinstance(callback, (str, bytes)):
        raise RouteError(f"{where}: the handler is a {type(callback).__name__}, not a function")
    if not callable(callback):
        raise RouteError(f"{where}: the handler {callback!r} is not callable; pass a function")


_log = logging.getLogger("lcore.error")


def watch_inline(call: Any, route: Any, threshold: float) -> Any:
    """``call`` logging each run on an event loop longer than ``threshold`` seconds.

    For a ``def`` handler declared non-blocking (``blocking=False``) in debug mode: it
    runs on the event loop, where no other request moves until it returns. The warning
    (logger ``lcore.error``) names the route. Under WSGI (no loop) nothing is logged.
    """

    def watched(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            held = perf_counter() - start
            if held > threshold and _bridge.on_event_loop():
                _log.warning(
                    "inline handler %s %s (%s) held the event loop for %.0f ms (threshold "
                    "%.0f ms); no other request moved meanwhile: make it async, or drop "
                    "blocking=False so it runs in a worker thread",
                    route.method,
                    route.rule,
                    _name(route.callback),
                    held * 1000,
                    threshold * 1000,
                )

    watched.__wrapped__ = call  # type: ignore[attr-defined]
    return watched
