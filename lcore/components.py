"""Components: plugins with settings, a start and a stop, middleware and an API.

A :class:`Component` is a plugin (``app.install(component)``) that also takes part in
the app's life::

    install -> init(app) -> [app starts] -> settings from config -> configure(app)
            -> start(app) -> requests (middleware) -> [app stops] -> stop(app)

- ``name`` is unique per app; every other public class attribute is a *setting*,
  overridable per app with ``app.configure({name: {key: value}})`` or the config key
  ``name.key`` (``app.config['cache.size'] = 100``, an INI section ``[cache]``, an
  environment variable through ``load_env``). A string from the config is converted to
  the type of the class default (``int``, ``float``, ``bool``). ``enable`` (default
  True) switches the component off: it is not configured, not started, its middleware
  does not run and its API is refused.
- ``init``, ``configure``, ``start`` and ``stop`` may be ``def`` or ``async def``.
  ``start``/``stop`` run at ASGI lifespan startup/shutdown, and under WSGI at the first
  request of each process and at process exit (the app's ``startup`` and ``shutdown``
  hooks). Components start in install order and stop in the reverse order. When a
  ``start`` raises, the components already started are stopped (reverse order), the
  error propagates (an ASGI server refuses to start) and every request of that process
  is answered 503 until a start succeeds.
- ``middleware(request, call_next)`` (optional, sync or async) wraps the handler of
  every route like post-routing middleware: ``return call_next(request)`` (``await``
  it in an ``async def``). ``middleware_order`` places it; routes skip it with
  ``skip=[name]``.
- ``provide()`` (optional) returns the API handlers reach as ``ctx.<name>`` (through
  ``app.inject``; called on each access, so it may return what ``start`` made).
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from . import _bridge, signals
from .exceptions import LcoreException, PluginError
from .middleware.base import Middleware, MiddlewareHook
from .response import HTTPResponse

__all__ = ["Component", "ComponentError", "configure", "get_component", "list_components"]

_log = logging.getLogger("lcore.components")

#: Class attributes of a component that are not settings.
_NOT_SETTINGS = frozenset(("name", "api"))


class ComponentError(LcoreException, RuntimeError):
    """A component could not be installed or started (the message names it)."""


class Component:
    """Base class for components (see the module docstring).

    Subclasses set ``name`` and their settings as class attributes::

        class Cache(Component):
            name = "cache"
            size = 1000          # a setting: app.configure({"cache": {"size": 10}})

            async def start(self, app):
                self.client = await connect(self.size)

            def provide(self):   # handlers: ctx.cache
                return self.client
    """

    #: Unique per app; the key of the component's settings and its ``ctx`` name.
    name: str = ""
    #: A setting every component has: False leaves it out (no start, no middleware).
    enable: bool = True
    #: Where the component's middleware (if any) runs among the app's middleware.
    middleware_order: int = 50
    #: Plugin API version (components are plugins).
    api = 2

    def __init__(self, **settings: Any) -> None:
        known = self.settings()
        for key, value in settings.items():
            if key not in known:
                raise TypeError(
                    f"{type(self).__name__}() has no setting {key!r}; settings: {sorted(known)}"
                )
            setattr(self, key, value)

    # -- the lifecycle (override what you need; def or async def) -----------------------
    def init(self, app: Any) -> Any:
        """Called once when the component is installed."""

    def configure(self, app: Any) -> Any:
        """Called when the app starts, after the settings were read from the config."""

    def start(self, app: Any) -> Any:
        """Start (open pools, clients...); ``def`` runs in a worker thread, ``async def`` on the loop."""

    def stop(self, app: Any) -> Any:
        """Release what :meth:`start` made."""

    # -- settings -----------------------------------------------------------------------
    @classmethod
    def settings(cls) -> dict[str, Any]:
        """The setting names and their class defaults."""
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if key.startswith("_") or key in _NOT_SETTINGS:
                    continue
                if isinstance(value, (property, classmethod, staticmethod)) or _is_method(
                    klass, value
                ):
                    continue
                out[key] = value
        return out

    def apply_settings(self, config: Mapping[str, Any]) -> None:
        """Set every setting found in ``config`` under ``<name>.<setting>`` on this instance."""
        for key, default in self.settings().items():
            ckey = f"{self.name}.{key}"
            if ckey in config:
                setattr(self, key, _coerce(config[ckey], default, ckey))

    # -- plugin protocol ----------------------------------------------------------------
    def setup(self, app: Any) -> None:
        """Plugin API: called by ``app.install``; registers the component with the app."""
        _manager(app).add(self)

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        """Plugin API: components leave handlers as they are (override to wrap them)."""
        return callback

    def close(self) -> None:
        """Plugin API: called by ``app.uninstall`` / ``app.close``; detaches the component."""
        app = getattr(self, "_app", None)
        if app is not None:
            _manager(app).remove(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} enable={self.enable!r}>"


def _is_method(klass: type, value: Any) -> bool:
    """A function written in the class body (a function-valued setting is kept)."""
    return inspect.isfunction(value) and value.__qualname__.startswith(klass.__qualname__ + ".")


def _coerce(value: Any, default: Any, key: str) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise ComponentError(f"config {key}={value!r}: expected {type(default).__name__}") from None
    return value


def configure(app: Any, settings: Mapping[str, Mapping[str, Any]]) -> Any:
    """Override component settings: ``configure(app, {"cache": {"size": 10, "enable": False}})``.

    The values go to the app's config (``cache.size``, ``cache.enable``), read when the
    app starts; returns the app.
    """
    for name, values in settings.items():
        if not isinstance(values, Mapping):
            raise TypeError(
                f"configure(): settings for {name!r} must be a dict, got {type(values).__name__}"
            )
        for key, value in values.items():
            app.config[f"{name}.{key}"] = value
    return app


def get_component(app: Any, name: str) -> Component:
    """The component installed on ``app`` under ``name`` (KeyError if none)."""
    for comp in _manager(app).components:
        if comp.name == name:
            return comp
    raise KeyError(f"no component named {name!r} is installed")


def list_components(app: Any) -> list[Component]:
    """The components installed on ``app``, in start order."""
    return list(_manager(app).components)


# -- the per-app manager ---------------------------------------------------------------------


def _manager(app: Any) -> _Manager:
    m = app.__dict__.get("_lcore_components")
    if m is None:
        with _create_lock:
            m = app.__dict__.get("_lcore_components")
            if m is None:
                m = _Manager(app)
                app.__dict__["_lcore_components"] = m
    return m


_create_lock = threading.Lock()


class _Manager:
    """Starts and stops the components of one app; lives in ``app.__dict__``."""

    def __init__(self, app: Any) -> None:
        self.app_ref = weakref.ref(app)
        self.components: list[Component] = []
        self.started: list[Component] = []
        self.middleware: dict[int, Middleware] = {}
        self.guard: _Unavailable | None = None
        self.exit_pid: int | None = None
        self.lock = threading.Lock()
        signals._managed.add(app)
        app.add_hook("startup", self.start_all)
        app.add_hook("shutdown", self.stop_all)

    @property
    def app(self) -> Any:
        app = self.app_ref()
        if app is None:  # pragma: no cover - the app owns the manager
            raise ComponentError("the app of this component manager is gone")
        return app

    def add(self, comp: Component) -> None:
        app = self.app
        if not isinstance(comp.name, str) or not comp.name:
            raise PluginError(f"{type(comp).__name__} has no name: set the class attribute `name`")
        for p in app.plugins:
            if getattr(p, "name", None) == comp.name:
                raise PluginError(f"a plugin or component named {comp.name!r} is already installed")
        comp._app = app  # type: ignore[attr-defined]
        comp.apply_settings(app.config)
        _bridge.resolve_sync(comp.init(app))
        if getattr(type(comp), "provide", None) is not None:
            app.inject(comp.name, _provider(comp), "transient")
        self.components.append(comp)
        self.sync_middleware(comp)

    def remove(self, comp: Component) -> None:
        if comp in self.components:
            self.components.remove(comp)
        mw = self.middleware.pop(id(comp), None)
        if mw is not None:
            self.app.middleware.remove(mw)

    def sync_middleware(self, comp: Component) -> None:
        """Add the component's middleware when it is enabled, remove it when not."""
        fn = getattr(type(comp), "middleware", None)
        if fn is None:
            return
        mw = self.middleware.get(id(comp))
        if comp.enable and mw is None:
            mw = (
                _AsyncComponentMiddleware if _bridge.is_async_callable(fn) else _ComponentMiddleware
            )(comp)
            self.middleware[id(comp)] = mw
            self.app.use(mw)
        elif not comp.enable and mw is not None:
            del self.middleware[id(comp)]
            self.app.middleware.remove(mw)

    async def start_all(self) -> None:
        """The app's ``startup`` hook: settings, ``configure`` then ``start``, in order."""
        app = self.app
        if self.started:
            return
        enabled = []
        for comp in list(self.components):
            comp.apply_settings(app.config)
            self.sync_middleware(comp)
            if comp.enable:
                await _run(comp.configure, app)
                enabled.append(comp)
            else:
                _log.info("component %s is disabled", comp.name)
        for comp in enabled:
            try:
                await _run(comp.start, app)
            except Exception as e:
                _log.error(
                    "component %s failed to start (%s: %s); stopping the %d started before it",
                    comp.name,
                    type(e).__name__,
                    e,
                    len(self.started),
                )
                await self._stop_started()
                self._refuse(comp.name, e)
                raise ComponentError(
                    f"component {comp.name!r} failed to start: {type(e).__name__}: {e}"
                ) from e
            self.started.append(comp)
            _log.info("component %s started", comp.name)
        if self.guard is not None:
            app.middleware.remove(self.guard)
            self.guard = None
        pid = os.getpid()
        if self.exit_pid != pid:
            self.exit_pid = pid
            atexit.register(_stop_at_exit, self.app_ref)
        await signals.send_startup(app)

    async def stop_all(self) -> None:
        """The app's ``shutdown`` hook: the ``shutdown`` signal, then ``stop`` in reverse order."""
        app = self.app_ref()
        if app is not None:
            await signals.send_shutdown(app)
        await self._stop_started()

    async def _stop_started(self) -> None:
        with self.lock:
            started, self.started = self.started, []
        app = self.app_ref()
        for comp in reversed(started):
            try:
                await _run(comp.stop, app)
                _log.info("component %s stopped", comp.name)
            except Exception:
                _log.exception("component %s failed to stop", comp.name)

    def _refuse(self, name: str, exc: Exception) -> None:
        if self.guard is None:
            self.guard = _Unavailable()
            self.app.use(self.guard)
        self.guard.reason = f"component {name!r} failed to start: {type(exc).__name__}"


async def _run(fn: Callable[..., Any], app: Any) -> Any:
    """Run a lifecycle method: ``async def`` awaited, ``def`` in a worker thread."""
    if _bridge.is_async_callable(fn):
        return await fn(app)
    rv = await _bridge.run_sync(None, fn, app)
    if inspect.isawaitable(rv):
        rv = await rv
    return rv


def _stop_at_exit(ref: Any) -> None:
    app = ref()
    if app is None:
        return
    m = app.__dict__.get("_lcore_components")
    if m is None or not (m.started or signals._up.get(app) == os.getpid()):
        return
    try:
        _bridge.resolve_sync(m.stop_all())
    except Exception:
        _log.exception("stopping components at exit failed")


def _provider(comp: Component) -> Callable[[], Any]:
    def provide() -> Any:
        if not comp.enable:
            raise ComponentError(f"component {comp.name!r} is disabled (config {comp.name}.enable)")
        return comp.provide()  # type: ignore[attr-defined]

    provide.__qualname__ = provide.__name__ = f"{comp.name}.provide"
    return provide


class _ComponentMiddleware(Middleware):
    """A component's sync ``middleware(request, call_next)`` as app middleware."""

    def __init__(self, comp: Component) -> None:
        self.comp = comp
        self.name = comp.name
        self.order = comp.middleware_order

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        return self.comp.middleware(ctx.request, lambda request=None: next_handler(ctx))  # type: ignore[attr-defined]


class _AsyncComponentMiddleware(_ComponentMiddleware):
    """A component's ``async def middleware(request, call_next)`` as app middleware."""

    async def __call__(self, ctx: Any, next_handler: Any) -> Any:
        async def call_next(request: Any = None) -> Any:
            return await next_handler(ctx)

        return await self.comp.middleware(ctx.request, call_next)  # type: ignore[attr-defined]


class _Unavailable(MiddlewareHook):
    """Answers 503 while the app's components failed to start."""

    name = "components_unavailable"
    order = -1_000_000
    phase = "pre"
    reason = "a component failed to start"

    def pre(self, ctx: Any) -> Any:
        return HTTPResponse(
            f"Service Unavailable: {self.reason}\n",
            status=503,
            headers={"Content-Type": "text/plain; charset=UTF-8", "Retry-After": "5"},
        )
