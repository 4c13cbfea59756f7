"""Effects and the two drivers that run the request pipeline (:mod:`lcore.dispatch`).

The pipeline is a generator. Wherever it must wait for something it *yields an effect*
instead of blocking:

- ``_Await(awaitable)``: a coroutine to run (an ``async def`` handler, hook, ...);
- ``_Thread(fn, args)``: a blocking function to run off the event loop.

:func:`drive_sync` runs the generator from blocking code (the WSGI adapter, or a worker
thread under ASGI): it calls sync things inline and sends coroutines to the event loop.
:func:`drive_async` runs it on an event loop (the ASGI adapter): it awaits coroutines and
sends blocking functions to worker threads. Both hops go through :mod:`lcore._bridge`
(which the concurrency seam installs), so this module imports no loop library.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Generator
from typing import Any

from . import _bridge
from .context import _current

__all__ = ["SYNC", "ASYNC", "Effects", "drive_sync", "drive_async"]

SYNC = 0
ASYNC = 1

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
