"""Dependency injection: singleton, scoped and transient factories reached as ``ctx.<name>``."""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any

from . import _bridge
from .context import _current_or_none

__all__ = ["DependencyContainer", "LIFETIMES"]

LIFETIMES = ("singleton", "scoped", "transient")
_log = logging.getLogger("lcore.di")
_UNSET = object()


class _Provider:
    __slots__ = ("name", "factory", "lifetime", "is_async", "value")

    def __init__(self, name: str, factory: Any, lifetime: str) -> None:
        self.name = name
        self.factory = factory
        self.lifetime = lifetime
        self.is_async = _bridge.is_async_callable(factory)
        self.value: Any = _UNSET


class DependencyContainer:
    """Holds named factories and the objects they made.

    - ``singleton``: made once per app (thread-safe), shared by every request.
    - ``scoped``: made once per request on first use and closed at the end of it
      (``close()`` or ``await aclose()``), error or not.
    - ``transient``: made anew on every access.

    An ``async def`` factory works too. Async singleton and scoped factories are awaited
    before the handler runs (singletons once, scoped ones for every request), so
    ``ctx.<name>`` is a plain attribute in sync and async code alike. Accessing an async
    transient dependency gives a coroutine to ``await``.
    """

    def __init__(self) -> None:
        self._providers: dict[str, _Provider] = {}
        self._lock = threading.RLock()
        self._async_eager: tuple[_Provider, ...] = ()
        #: Called after a registration (the app forgets its route plans: whether a request
        #: must prepare async dependencies is part of each plan).
        self._on_change: Any = None

    def register(self, name: str, factory: Any, lifetime: str = "singleton") -> None:
        """Register ``factory`` under ``name`` with a lifetime (ValueError if unknown)."""
        if lifetime not in LIFETIMES:
            raise ValueError(f"Unknown lifetime {lifetime!r}; expected one of {LIFETIMES}")
        if not callable(factory):
            raise TypeError(f"factory for {name!r} must be callable, got {factory!r}")
        if not name.isidentifier():
            raise ValueError(f"dependency name {name!r} must be a valid identifier")
        with self._lock:
            self._providers[name] = _Provider(name, factory, lifetime)
            self._async_eager = tuple(
                p
                for p in self._providers.values()
                if p.is_async and p.lifetime in ("singleton", "scoped")
            )
        if self._on_change is not None:
            self._on_change()

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def __len__(self) -> int:
        return len(self._providers)

    def names(self) -> list[str]:
        """Return the registered names."""
        return list(self._providers)

    def resolve(self, name: str, ctx: Any = None) -> Any:
        """Return the object for ``name`` (KeyError if unknown)."""
        p = self._providers[name]
        if p.lifetime == "singleton":
            value = p.value
            if value is _UNSET:
                with self._lock:
                    if p.value is _UNSET:
                        p.value = self._make_sync(p)
                    value = p.value
            return value
        if p.lifetime == "scoped":
            if ctx is None:
                raise RuntimeError(f"scoped dependency {name!r} needs a request context")
            scoped = ctx._scoped
            if scoped is None:
                scoped = ctx._scoped = {}
            elif name in scoped:
                return scoped[name]
            value = scoped[name] = self._make_sync(p)
            return value
        if p.is_async:
            return p.factory()
        return p.factory()

    def _make_sync(self, p: _Provider) -> Any:
        return _bridge.resolve_sync(p.factory())

    @property
    def has_async(self) -> bool:
        """True when async singleton/scoped factories need awaiting before a handler."""
        return bool(self._async_eager)

    async def aprepare(self, ctx: Any) -> None:
        """Await the async singleton and scoped factories for this request."""
        for p in self._async_eager:
            if p.lifetime == "singleton":
                if p.value is _UNSET:
                    value = await p.factory()
                    if p.value is _UNSET:
                        p.value = value
                    else:  # another request won the race
                        await _aclose_quietly(value)
            else:
                scoped = ctx._scoped
                if scoped is None:
                    scoped = ctx._scoped = {}
                if p.name not in scoped:
                    scoped[p.name] = await p.factory()

    def close_scoped(self, ctx: Any) -> None:
        """Close the request's scoped objects from sync code."""
        scoped = ctx._scoped
        if not scoped:
            return
        ctx._scoped = None
        for name, obj in reversed(list(scoped.items())):
            try:
                aclose = getattr(obj, "aclose", None)
                if aclose is not None and _bridge.is_async_callable(aclose):
                    _bridge.run_async(_current_or_none(), aclose)
                    continue
                close = getattr(obj, "close", None)
                if close is not None:
                    _bridge.resolve_sync(close())
            except Exception:
                _log.exception("closing scoped dependency %r failed", name)

    async def aclose_scoped(self, ctx: Any) -> None:
        """Close the request's scoped objects from async code."""
        scoped = ctx._scoped
        if not scoped:
            return
        ctx._scoped = None
        for name, obj in reversed(list(scoped.items())):
            try:
                await _aclose_quietly(obj, raise_errors=True)
            except Exception:
                _log.exception("closing scoped dependency %r failed", name)

    def close(self) -> None:
        """Close singletons that have ``close()``/``aclose()`` (app shutdown)."""
        for p in list(self._providers.values()):
            if p.lifetime != "singleton" or p.value is _UNSET:
                continue
            value, p.value = p.value, _UNSET
            try:
                aclose = getattr(value, "aclose", None)
                if aclose is not None and _bridge.is_async_callable(aclose):
                    _bridge.run_async(_current_or_none(), aclose)
                elif callable(getattr(value, "close", None)):
                    _bridge.resolve_sync(value.close())
            except Exception:
                _log.exception("closing singleton dependency %r failed", p.name)


async def _aclose_quietly(obj: Any, raise_errors: bool = False) -> None:
    try:
        aclose = getattr(obj, "aclose", None)
        if aclose is not None and _bridge.is_async_callable(aclose):
            await aclose()
            return
        close = getattr(obj, "close", None)
        if close is not None:
            if _bridge.is_async_callable(close):
                await close()
            else:
                rv = await _bridge.run_sync(_current_or_none(), close)
                if inspect.isawaitable(rv):
                    await rv
    except Exception:
        if raise_errors:
            raise
        _log.exception("closing dependency failed")
