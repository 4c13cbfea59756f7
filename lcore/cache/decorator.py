"""``@cached``: a function's or handler's result in a Cache, computed once per key at a time."""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .. import _bridge
from .._utils import json_dumps
from ..context import _current_or_none
from .core import _MISSING, Cache

__all__ = ["cached"]

_log = logging.getLogger("lcore.cache")
_default: Cache | None = None
_default_lock = threading.Lock()


def default_cache() -> Cache:
    """The in-process cache ``@cached`` uses when it is given none (made on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Cache()
    return _default


class _Flight:
    """One computation in progress; callers that want the same key wait for it."""

    __slots__ = ("event", "value", "error", "done")

    def __init__(self, event: Any) -> None:
        self.event = event
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False

    def succeeded(self, value: Any) -> Any:
        self.value = value
        self.done = True
        return value

    def outcome(self) -> tuple[bool, Any]:
        """Once the event is set: the leader's error raised, or ``(done, value)``.

        Not done: the leader was interrupted (not an error of the function); try again.
        """
        if self.error is not None:
            raise self.error
        return self.done, self.value


class _Flights:
    """The flights in progress, by key; ``_end`` lets a flight's followers go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Any, _Flight] = {}

    def _end(self, key: Any, flight: _Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.event.set()


class _SyncFlights(_Flights):
    """Single flight for threads: the first miss computes, the others wait for it."""

    def run(self, key: str, compute: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight(threading.Event())
            if leader:
                try:
                    return flight.succeeded(compute())
                except Exception as e:
                    flight.error = e
                    raise
                finally:
                    self._end(key, flight)
            flight.event.wait()
            done, value = flight.outcome()
            if done:
                return value


class _AsyncFlights(_Flights):
    """Single flight for tasks of one event loop (each loop has its own flights)."""

    async def run(self, key: str, compute: Callable[[], Any]) -> Any:
        where = (_bridge.current_loop().key, key)
        while True:
            flight = self._flights.get(where)
            if flight is None:
                flight = self._flights[where] = _Flight(_bridge.new_event())
                try:
                    return flight.succeeded(await compute())
                except Exception as e:
                    flight.error = e
                    raise
                finally:
                    self._end(where, flight)
            await flight.event.wait()
            done, value = flight.outcome()
            if done:
                return value


def _not_cached(name: str, result: Any) -> None:
    _log.debug("%s returned a %s: not cached", name, type(result).__name__)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf8", "surrogatepass")).hexdigest()[:32]


def _vary_values(vary: tuple[Any, ...]) -> list[str]:
    c = _current_or_none()
    req = c.request if c is not None else None
    out = []
    for item in vary:
        if callable(item):
            out.append(str(item()))
        elif req is not None:
            out.append(str(req.get_header(item, "")))
        else:
            out.append("")
    return out


def cached(
    ttl: float | None = None,
    key: str | Callable[..., Any] | None = None,
    vary: Iterable[str | Callable[[], Any]] | None = None,
    cache: Cache | None = None,
) -> Callable[[Any], Any]:
    """Cache what a function (or a handler) returns, for ``ttl`` seconds.

    ``key`` names the entry: None (default) is the function's qualified name plus a hash
    of its arguments (for a handler: its URL arguments); a string is a format template
    filled with the arguments by name (``'product:{id}'``), so the entry can be
    deleted by that name when the data changes; a callable gets the arguments and
    returns the key. ``vary`` adds request headers (``'Accept-Language'``) or callables
    (``lambda: ctx.user['id']``) whose values become part of the key, for results that
    depend on more than the arguments. ``cache`` is the :class:`Cache` to use (default:
    one in-process cache shared by every ``@cached`` without one).

    Only results a cache can hold are stored (JSON values, str, bytes); others (a
    response object, a generator) are returned and not cached, and neither are
    exceptions. On a hit the function does not run, so headers it would have set on
    ``response`` are not set. Concurrent misses for one key in a process compute it
    once: the first caller runs the function, the others (threads, or tasks of the same
    event loop) wait for its result (or its exception). Works on ``def`` and ``async
    def`` functions; async ones use the cache's async calls.
    """
    vary_items = tuple(vary or ())
    for item in vary_items:
        if not (callable(item) or isinstance(item, str)):
            raise TypeError(f"vary takes header names or callables, not {item!r}")

    def decorator(func: Any) -> Any:
        name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"
        signature = inspect.signature(func) if isinstance(key, str) else None

        def make_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if key is None:
                text = json_dumps([args, kwargs], sort_keys=True, default=repr)
                k = f"{name}:{_digest(text)}"
            elif isinstance(key, str):
                assert signature is not None
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                k = key.format(**bound.arguments)
            else:
                k = str(key(*args, **kwargs))
            if vary_items:
                k += "|" + _digest("\x00".join(_vary_values(vary_items)))
            return k

        def store() -> Cache:
            return cache if cache is not None else default_cache()

        info = {"ttl": ttl, "key": key}  # what the wrapper was made with, for introspection

        if _bridge.is_async_callable(func):
            flights = _AsyncFlights()

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                c = store()
                k = make_key(args, kwargs)
                value = await c.aget(k, _MISSING)
                if value is not _MISSING:
                    return value

                async def compute() -> Any:
                    again = await c.aget(k, _MISSING)  # a flight may have just ended
                    if again is not _MISSING:
                        return again
                    result = await func(*args, **kwargs)
                    try:
                        await c.aset(k, result, ttl)
                    except TypeError:
                        _not_cached(name, result)
                    return result

                return await flights.run(k, compute)

            async_wrapper.__lcore_cached__ = info  # type: ignore[attr-defined]
            return async_wrapper

        sync_flights = _SyncFlights()

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c = store()
            k = make_key(args, kwargs)
            value = c.get(k, _MISSING)
            if value is not _MISSING:
                return value

            def compute() -> Any:
                again = c.get(k, _MISSING)
                if again is not _MISSING:
                    return again
                result = func(*args, **kwargs)
                try:
                    c.set(k, result, ttl)
                except TypeError:
                    _not_cached(name, result)
                return result

            return sync_flights.run(k, compute)

        wrapper.__lcore_cached__ = info  # type: ignore[attr-defined]
        return wrapper

    return decorator
