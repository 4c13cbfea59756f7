"""The application object: routes, hooks, plugins, middleware, DI, mounting, config.

``Lcore()`` is protocol-neutral. Called with ``(environ, start_response)`` it is a WSGI
application; called with ``(scope, receive, send)`` it is an ASGI 3 application. The
adapters live at the edge (``lcore.wsgi`` and ``lcore_asgi.adapter``) and are loaded by
name on first use, so this module imports neither.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

from ._bridge import is_async_callable
from ._utils import makelist
from .config import ConfigDict
from .context import RequestContext, _current_or_none
from .di import DependencyContainer
from .exceptions import PluginError, RouteError
from .hooks import KNOWN_HOOKS, REVERSED_HOOKS, Hooks  # noqa: F401 - KNOWN_HOOKS kept importable here
from .middleware.base import MiddlewarePipeline
from .mounting import Mounts
from .plan import check_handler
from .plugins import JSONPlugin, TemplatePlugin
from .request import BaseRequest
from .routing import (
    Route,
    RouteGroup,
    Router,
    yieldroutes,
)
from .signals import _track_app

__all__ = ["Lcore", "AppStack", "app", "default_app", "default"]

_NO_GROUP = RouteGroup("", MappingProxyType({}))

_log = logging.getLogger("lcore")

#: Where the protocol adapters live; loaded on first use (the seam between core and edge).
_ADAPTERS = {
    "wsgi": "lcore.wsgi",
    "asgi": "lcore_asgi.adapter",
    "server": "lcore.server",
    "ws": "lcore_ws.endpoint",
}


_NO_ARG: Any = object()
#: What ``ctx`` answers itself (slots, properties, methods): not available to ``inject``.
_CTX_NAMES = frozenset(
    name for klass in RequestContext.__mro__ for name in vars(klass) if not name.startswith("_")
)


def _adapter(kind: str) -> Any:
    return importlib.import_module(_ADAPTERS[kind])


class Lcore(Hooks, Mounts):
    """A WSGI *and* ASGI application: ``gunicorn mod:app`` and ``uvicorn mod:app`` both work.

    Keyword arguments are config values (``Lcore(catchall=False, debug=True)``).
    """

    def __init__(self, **config: Any) -> None:
        self._hooks: dict[str, list[Callable[..., Any]]] = {}
        self._hook_plan: dict[str, tuple[tuple[Callable[..., Any], bool], ...]] = {}
        self.config = ConfigDict()
        self.config.update(
            {"catchall": True, "debug": False, "json.enable": True, "error.format": "html"}
        )
        self.config._add_change_listener(self._config_changed)
        self.routes: list[Route] = []
        self.router = Router()
        self.error_handler: dict[int, Callable[..., Any]] = {}
        self.plugins: list[Any] = []
        self.middleware = MiddlewarePipeline(self)
        self._container = DependencyContainer()
        self._container._on_change = self._invalidate_plans
        self._module_hooks: dict[tuple[str, str], list[Callable[..., Any]]] = {}
        self._module_hook_plan: dict[
            tuple[str, str], tuple[tuple[Callable[..., Any], bool], ...]
        ] = {}
        self._group_stack: list[tuple[str, dict[str, Any]]] = []
        self._mounts: list[tuple[str, Any]] = []
        self._docs_path: str | None = None
        self._wsgi_adapter: Any = None
        self._asgi_adapter: Any = None
        self._lock = threading.Lock()
        self.resources = _resource_manager()
        self.install(JSONPlugin())
        self.install(TemplatePlugin())
        if config:
            self.config.update(config)
        # ASGI servers decide "ASGI 3" by inspecting ``app.__call__``; WSGI servers call
        # ``app(environ, start_response)``, which Python resolves on the class. An async
        # bound method on the instance satisfies the first without changing the second.
        self.__call__ = self._asgi_entry  # type: ignore[method-assign,assignment]
        _track_app(self)  # wires the built-in signals (lcore.signals) that have receivers

    # -- protocol entry points ------------------------------------------------------
    def __call__(
        self, environ_or_scope: Any, start_response_or_receive: Any, send: Any = _NO_ARG
    ) -> Any:
        """WSGI with two arguments, ASGI (returns a coroutine) with three."""
        if send is _NO_ARG:
            adapter = self._wsgi_adapter
            if adapter is None:
                adapter = self._wsgi_adapter = _adapter("wsgi").WSGIAdapter(self)
            return adapter(environ_or_scope, start_response_or_receive)
        # PERF: the adapter's coroutine is returned as it is (no wrapping coroutine).
        adapter = self._asgi_adapter
        if adapter is None:
            adapter = self._asgi_adapter = _adapter("asgi").ASGIAdapter(self)
        return adapter(environ_or_scope, start_response_or_receive, send)

    async def _asgi_entry(self, scope: Any, receive: Any, send: Any) -> None:
        await type(self).__call__(self, scope, receive, send)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI callable (for servers that insist on a plain function)."""
        return self(environ, start_response)

    @property
    def asgi(self) -> Callable[..., Any]:
        """The ASGI 3 callable (for servers that need a plain coroutine function)."""
        return self._asgi_entry

    # -- config -----------------------------------------------------------------------
    @property
    def catchall(self) -> bool:
        """Turn unhandled exceptions into 500 pages (config ``catchall``, default True)."""
        return bool(self.config.get("catchall", True))

    @catchall.setter
    def catchall(self, value: bool) -> None:
        self.config["catchall"] = value

    def _config_changed(self, key: str, value: Any) -> None:
        if (
            key == "debug"
            and value
            and self._docs_path is None
            and self.__dict__.get("routes") is not None
        ):
            self.enable_docs()
        if key == "json.enable":
            self._invalidate_plans()
        self.trigger_hook("config", key, value)

    def _invalidate_plans(self) -> None:
        """Forget every route's plan (rebuilt on the route's next request)."""
        for r in self.__dict__.get("routes", ()):
            r._plan = None

    # -- plugins ------------------------------------------------------------------------
    def install(self, plugin: Any) -> Any:
        """Install a plugin (API 2: ``apply(callback, route)``, or a decorator callable)."""
        if hasattr(plugin, "setup"):
            plugin.setup(self)
        if not callable(plugin) and not hasattr(plugin, "apply"):
            raise PluginError("Plugins must be callable or implement .apply()")
        api = getattr(plugin, "api", 2)
        if api not in (1, 2):
            raise PluginError(f"Plugin API version {api!r} is not supported (expected 2)")
        self.plugins.append(plugin)
        self.reset()
        return plugin

    def uninstall(self, plugin: Any) -> list[Any]:
        """Uninstall plugins by object, type, name, or ``True`` for all; returns them."""
        removed = []
        for i, p in list(enumerate(self.plugins))[::-1]:
            if (
                plugin is True
                or plugin is p
                or (isinstance(plugin, type) and isinstance(p, plugin))
                or getattr(p, "name", True) == plugin
            ):
                removed.append(p)
                del self.plugins[i]
                if hasattr(p, "close"):
                    p.close()
        if removed:
            self.reset()
        return removed

    def reset(self, route: Any = None) -> None:
        """Rebuild route plans (all, or one route by object or index) on their next request.

        A plan holds the route's plugins applied to its callback, its middleware and its
        cast (:attr:`Route.plan`).
        """
        if route is None:
            routes = self.routes
        elif isinstance(route, Route):
            routes = [route]
        else:
            routes = [self.routes[route]]
        for r in routes:
            r.reset()
        self.trigger_hook("app_reset")

    # -- middleware ----------------------------------------------------------------------
    def use(self, middleware: Any, routes: Any = None, order: int | None = None) -> Any:
        """Add middleware; returns it.

        ``routes`` limits it to the paths a regular expression matches with ``re.match``
        (a string such as ``r'^/api/'``, a compiled pattern, or a list of them);
        ``order`` overrides the middleware's own and is set on it (``mw.order``).
        """
        return self.middleware.add(middleware, routes=routes, order=order)

    def show_middleware(self) -> list[dict[str, Any]]:
        """Describe the middleware in the order it runs."""
        return self.middleware.show()

    # -- dependency injection -----------------------------------------------------------
    def inject(self, name: str, factory: Callable[..., Any], lifetime: str = "singleton") -> None:
        """Register a dependency reached as ``ctx.<name>`` (singleton, scoped or transient).

        A name that ``ctx`` already has (``request``, ``response``, ``app``, ``route``,
        ``request_id``, ``user``, ``state``, its methods) would never be reached, so it
        is refused with ValueError.
        """
        if name in _CTX_NAMES:
            hint = " (RequestIDMiddleware sets ctx.request_id)" if name == "request_id" else ""
            raise ValueError(
                f"app.inject({name!r}, ...): ctx.{name} is a built-in RequestContext attribute "
                f"and would hide the dependency; register it under another name{hint}"
            )
        self._container.register(name, factory, lifetime)

    @property
    def dependencies(self) -> DependencyContainer:
        """The app's :class:`DependencyContainer`."""
        return self._container

    # -- routing --------------------------------------------------------------------------
    def add_route(self, route: Route) -> Route:
        """Add a :class:`Route` object (its handler's kind is checked now)."""
        if route._mount is None:
            check_handler(route.callback, route.rule, route.method)
        self.routes.append(route)
        self.router.add(route.rule, route.method, route, name=route.name)
        if self.config.get("debug"):
            route.prepare()
        return route

    def route(
        self,
        path: str | list[str] | None = None,
        method: str | list[str] = "GET",
        callback: Callable[..., Any] | None = None,
        name: str | None = None,
        apply: Any = None,
        skip: Any = None,
        **config: Any,
    ) -> Any:
        """Register a handler for a URL rule (decorator, or direct call with ``callback``).

        ``path`` is a rule such as ``'/users/<id:int>'`` (filters ``int``, ``float``,
        ``path``, ``re:REGEX`` and those added with ``add_route_filter``) or a list of
        rules; None derives the rules from the function's name and arguments. ``method``
        is one method or a list (every GET route answers HEAD too). ``name`` is what
        ``get_url`` builds URLs from. ``apply`` adds plugins to this route only; ``skip``
        leaves plugins or middleware out (names, objects, types, or True for every plugin).

        Route config lcore reads (other keys stay in ``route.config`` for plugins):
        ``status`` (the default success status, also declared in OpenAPI), ``responses``
        (``{409: 'description', ...}``, declared in OpenAPI), ``security`` (``'bearer'``,
        ``'basic'``, ``'cookie'`` or ``'cookie:<name>'``), ``tags``, ``template`` (render
        the returned dict), ``json_disable``, ``stream_body`` (the handler reads the body
        itself). The handler gets the rule's values as keyword arguments; a handler that
        can never be called (a coroutine object, a generator) is refused with ``RouteError``.
        """
        if callable(path):
            path, callback = None, path

        def decorator(callback: Callable[..., Any]) -> Callable[..., Any]:
            if isinstance(callback, str):
                raise TypeError("route callback must be a function, not a string")
            check_handler(
                callback,
                ", ".join(map(str, makelist(path))) or "(from the function name)",
                "/".join(makelist(method)),
            )
            group = self.current_group
            plugins, skiplist, cfg = group.options(apply, skip, config)
            for rule in makelist(path) or list(yieldroutes(callback)):
                rule = group.rule(rule)
                for verb in makelist(method):
                    r = Route(
                        self,
                        rule,
                        verb.upper(),
                        callback,
                        name=name,
                        plugins=plugins,
                        skiplist=skiplist,
                        **cfg,
                    )
                    self.add_route(r)
            return callback

        return decorator(callback) if callback else decorator

    def get(self, path: Any = None, method: str = "GET", **options: Any) -> Any:
        """Shorthand for ``route(method='GET')``."""
        return self.route(path, method, **options)

    def post(self, path: Any = None, method: str = "POST", **options: Any) -> Any:
        """Shorthand for ``route(method='POST')``."""
        return self.route(path, method, **options)

    def put(self, path: Any = None, method: str = "PUT", **options: Any) -> Any:
        """Shorthand for ``route(method='PUT')``."""
        return self.route(path, method, **options)

    def delete(self, path: Any = None, method: str = "DELETE", **options: Any) -> Any:
        """Shorthand for ``route(method='DELETE')``."""
        return self.route(path, method, **options)

    def patch(self, path: Any = None, method: str = "PATCH", **options: Any) -> Any:
        """Shorthand for ``route(method='PATCH')``."""
        return self.route(path, method, **options)

    def websocket(
        self,
        path: str,
        callback: Callable[..., Any] | None = None,
        name: str | None = None,
        **config: Any,
    ) -> Any:
        """Register a WebSocket handler ``handler(ws, **url_args)`` (decorator or direct).

        Same rule syntax and filters as :meth:`route`; routes live in ``app.ws_router``.
        See ``lcore_ws`` and docs/websockets.md.
        """
        return _adapter("ws").register(self, path, callback, name, **config)

    def error(self, code: int = 500, callback: Callable[..., Any] | None = None) -> Any:
        """Register an error handler for a status code (decorator or direct)."""

        def decorator(callback: Callable[..., Any]) -> Callable[..., Any]:
            if isinstance(callback, str):
                raise TypeError("error handler must be callable")
            self.error_handler[int(code)] = callback
            return callback

        return decorator(callback) if callback else decorator

    @property
    def current_group(self) -> RouteGroup:
        """The innermost :meth:`group` being entered: its full prefix and shared config.

        ``RouteGroup('', {})`` outside any group. For code that adds routes of its own
        (``lcore_ws`` does for WebSockets): ``group.rule(path)`` puts a rule under the
        prefix, ``group.options(apply, skip, config)`` merges the shared config.
        """
        stack = self._group_stack
        if not stack:
            return _NO_GROUP
        prefix, common = stack[-1]
        return RouteGroup(prefix, MappingProxyType(common))

    @contextmanager
    def group(self, prefix: str, **common_config: Any) -> Iterator[Lcore]:
        """Context manager: routes added inside get ``prefix`` and the common config."""
        outer_prefix, outer_cfg = self._group_stack[-1] if self._group_stack else ("", {})
        full = (
            outer_prefix.rstrip("/") + "/" + prefix.strip("/")
            if prefix.strip("/")
            else outer_prefix
        )
        # ``_lcore_group``: the OpenAPI document tags the group's routes with its prefix.
        self._group_stack.append((full, {**outer_cfg, "_lcore_group": full, **common_config}))
        try:
            yield self
        finally:
            self._group_stack.pop()

    def add_route_filter(
        self,
        name: str,
        pattern: str,
        to_python: Callable[[str], Any] | None = None,
        to_url: Callable[[Any], str] | None = None,
    ) -> None:
        """Add a route filter ``<arg:name>`` matching ``pattern``, with converters."""
        try:
            re.compile(pattern)
        except re.error as e:
            raise RouteError(f"invalid pattern for filter {name!r}: {e}") from None
        self.router.add_filter(name, lambda conf: (pattern, to_python, to_url))

    def get_url(self, routename: str, **kargs: Any) -> str:
        """Build a URL for a named route (script name of the current request included)."""
        c = _current_or_none()
        scriptname = (
            c.request.script_name.strip("/") + "/"
            if c is not None and c.request.script_name.strip("/")
            else ""
        )
        location = self.router.build(routename, **kargs).lstrip("/")
        return urljoin(urljoin("/", scriptname), location)

    def match(
        self, method_or_environ: Any, path: str | None = None
    ) -> tuple[Route, dict[str, Any]]:
        """Find the route for ``(method, path)`` or a WSGI environ; HTTPError when none."""
        if isinstance(method_or_environ, dict):
            req = BaseRequest(method_or_environ)
            return self.router.match(req.method, req.path)
        return self.router.match(method_or_environ, path or "/")

    def show_routes(self) -> list[dict[str, Any]]:
        """Describe every route: method, rule, name, callback, plugin names and its plan.

        ``plan`` lists what runs for a request to the route, in order (hooks,
        middleware, plugins, the handler and whether it is async, the cast); see
        :class:`lcore.plan.RoutePlan`.
        """
        out = []
        for r in self.routes:
            cb = r.get_undecorated_callback()
            out.append(
                {
                    "method": r.method,
                    "rule": r.rule,
                    "name": r.name,
                    "callback": getattr(cb, "__qualname__", repr(cb)),
                    "plugins": [getattr(p, "name", type(p).__name__) for p in r.all_plugins()],
                    "plan": r.plan.stages(),
                }
            )
        return out

    def merge(self, routes: Any) -> None:
        """Add the routes of another app (or a list of routes) to this one."""
        if isinstance(routes, Lcore):
            routes = routes.routes
        for route in routes:
            self.add_route(route)

    # -- after-response work -----------------------------------------------------------
    def _run_after_response_sync(self, c: RequestContext, tasks: list[Any]) -> None:
        from ._bridge import resolve_sync

        for fn, args, kwargs in tasks:
            try:
                resolve_sync(fn(*args, **kwargs))
            except Exception:
                _log.exception("after-response task %r failed", fn)

    async def _run_after_response_async(self, c: RequestContext, tasks: list[Any]) -> None:
        from . import _bridge

        for fn, args, kwargs in tasks:
            try:
                if is_async_callable(fn):
                    await fn(*args, **kwargs)
                else:
                    rv = await _bridge.run_sync(c, functools.partial(fn, *args, **kwargs))
                    if inspect.isawaitable(rv):
                        await rv
            except Exception:
                _log.exception("after-response task %r failed", fn)

    # -- docs -------------------------------------------------------------------------------
    def api_docs(self) -> dict[str, Any]:
        """Describe the routes (method, rule, name, docstring, parameters, return type)."""
        from .apidocs import api_docs

        return api_docs(self)

    def api_docs_json(self) -> str:
        """:meth:`api_docs` as a JSON string."""
        from ._utils import json_dumps

        return json_dumps(self.api_docs(), indent=2)

    def openapi(
        self, title: str | None = None, version: str | None = None, description: str | None = None
    ) -> dict[str, Any]:
        """An OpenAPI 3.1 document of the routes (also served at ``<docs path>/openapi.json``)."""
        from .apidocs import openapi

        return openapi(self, title, version, description)

    def configure(self, settings: dict[str, dict[str, Any]]) -> Lcore:
        """Override component settings by component name:
        ``app.configure({"mailer": {"host": "smtp.example"}})`` (see :class:`lcore.Component`).
        Returns the app."""
        from .components import configure

        configure(self, settings)
        return self

    def command(self, name: Any = None, help: str | None = None) -> Any:
        """Register a function as a management command, run as
        ``python -m lcore APP NAME [args]`` (arguments come from its signature; see
        :mod:`lcore.commands`). Usable bare (``@app.command``) or called."""
        from .commands import command

        return command(self, name, help)

    def enable_docs(self, path: str = "/docs") -> None:
        """Serve an HTML page of the API at ``path``, its JSON at ``path/json`` and
        OpenAPI 3.1 at ``path/openapi.json``."""
        from .apidocs import enable_docs

        enable_docs(self, path)

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self, **kwargs: Any) -> None:
        """Run the app on a server (``server=`` name; the embedded ASGI server by default)."""
        _adapter("server").run(self, **kwargs)

    def close(self) -> None:
        """Close plugins and singleton dependencies."""
        for plugin in self.plugins:
            if hasattr(plugin, "close"):
                plugin.close()
        self._container.close()

    def __enter__(self) -> Lcore:
        default_app.push(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        default_app.pop()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "config" and "config" in self.__dict__:
            raise AttributeError("Attribute 'config' is read-only; use app.config.update().")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.routes)} routes>"


def _resource_manager() -> Any:
    from .resources import ResourceManager

    return ResourceManager()


class AppStack(list):
    """A stack of apps; ``default_app()`` returns the top one (made on first use)."""

    def __call__(self) -> Lcore:
        """Return the current default app."""
        if not self:
            self.push()
        return self[-1]

    def push(self, value: Lcore | None = None) -> Lcore:
        """Push a new (or the given) app onto the stack and return it."""
        if not isinstance(value, Lcore):
            value = Lcore()
        self.append(value)
        return value

    new_app = push

    @property
    def default(self) -> Lcore:
        return self()


app = default_app = AppStack()
"""The stack of default apps: ``app()`` (or ``default_app()``) returns the current one."""
default = default_app
