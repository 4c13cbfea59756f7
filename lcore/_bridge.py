"""The seam between the protocol-neutral core and the concurrency edge.

The core never starts event loops or threads itself, and never imports asyncio or anyio.
When it must run a coroutine from sync code, or a blocking function from async code, or
needs a task, an event or a thread-safe callback on the running loop, it calls the
functions here;
``lcore.concurrency`` (which owns anyio) installs the real implementations when
``lcore`` is imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ._ctxvar import current_context


def _not_installed(*_a: Any, **_k: Any) -> Any:
    raise RuntimeError("lcore.concurrency is not installed; import lcore first")


#: ``run_async(ctx, async_fn, *args)``: from blocking code, run ``async_fn(*args)`` on the
#: event loop with ``ctx`` as the current request context, and wait for its result.
run_async: Callable[..., Any] = _not_installed
#: ``await run_sync(ctx, fn, *args)``: run blocking ``fn(*args)`` in a worker thread with
#: ``ctx`` as the current request context.
run_sync: Callable[..., Awaitable[Any]] = _not_installed


#: ``await with_timeout(seconds, async_fn, *args)`` -> ``(finished, result)``: cancel the
#: call at the deadline (``finished`` is False then).
with_timeout: Callable[..., Awaitable[tuple[bool, Any]]] = _not_installed


#: ``call_with_timeout(ctx, seconds, owner, slots, fn, *args)`` -> ``(finished, result)``:
#: from blocking code, run blocking ``fn(*args)`` in a worker thread and stop waiting for
#: it at the deadline (at most ``slots`` such calls per ``owner`` at once).
call_with_timeout: Callable[..., tuple[bool, Any]] = _not_installed


#: ``current_loop()`` -> a handle on the running event loop: ``call_soon_threadsafe(fn, *args)``
#: from any thread (never blocks; False once the loop is gone) and ``is_current()``.
current_loop: Callable[[], Any] = _not_installed
#: ``new_event()`` -> an event of the running loop (``set``, ``is_set``, ``await wait()``).
new_event: Callable[[], Any] = _not_installed
#: ``await wait_event(event, timeout)`` -> True when ``event`` was set within ``timeout``
#: seconds (None: no limit).
wait_event: Callable[..., Awaitable[bool]] = _not_installed
#: ``spawn(async_fn, *args)`` -> a task outliving its caller: ``cancel()``, ``done()``,
#: ``await wait(timeout)``.
spawn: Callable[..., Any] = _not_installed
#: ``on_event_loop()`` -> True in code an event loop runs (blocking on it would deadlock).
on_event_loop: Callable[[], bool] = _not_installed

_EXTRA = ("current_loop", "new_event", "wait_event", "spawn", "on_event_loop")


def _default_thread_limit() -> int:
    return 64


#: ``thread_limit()``: how many blocking calls may run in worker threads at once.
thread_limit: Callable[[], int] = _default_thread_limit


def install(
    run_async_impl: Callable[..., Any],
    run_sync_impl: Callable[..., Any],
    with_timeout_impl: Callable[..., Any] | None = None,
    thread_limit_impl: Callable[[], int] | None = None,
    call_with_timeout_impl: Callable[..., tuple[bool, Any]] | None = None,
    **extra: Callable[..., Any],
) -> None:
    """Install the concurrency implementations (called by ``lcore.concurrency``).

    ``extra`` sets the loop primitives by name (``current_loop``, ``new_event``,
    ``wait_event``, ``spawn``, ``on_event_loop``).
    """
    global run_async, run_sync, with_timeout, thread_limit, call_with_timeout
    unknown = set(extra) - set(_EXTRA)
    if unknown:
        raise TypeError(f"unknown concurrency primitives: {sorted(unknown)}")
    globals().update(extra)
    run_async = run_async_impl
    run_sync = run_sync_impl
    if with_timeout_impl is not None:
        with_timeout = with_timeout_impl
    if thread_limit_impl is not None:
        thread_limit = thread_limit_impl
    if call_with_timeout_impl is not None:
        call_with_timeout = call_with_timeout_impl


def is_async_callable(obj: Any) -> bool:
    """Return True for ``async def`` functions and objects whose ``__call__`` is one."""
    while hasattr(obj, "func") and hasattr(obj, "args"):  # functools.partial
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004
    return call is not None and inspect.iscoroutinefunction(call)


async def _await(value: Any) -> Any:
    return await value


def resolve_sync(value: Any) -> Any:
    """Return ``value``, first running it to completion if it is awaitable."""
    if inspect.isawaitable(value):
        return run_async(current_context(), _await, value)
    return value
