"""Event loops for the concurrency seam: which one runs, a handle on it, tasks and events.

Part of :mod:`lcore.concurrency`, which re-exports every public name here; import them
from there. Each function works on every anyio backend (asyncio and trio).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import sniffio

__all__ = [
    "current_backend",
    "on_event_loop",
    "require_asyncio",
    "LoopHandle",
    "current_loop",
    "new_event",
    "wait_event",
    "Task",
    "spawn",
]

_log = logging.getLogger("lcore.error")


def current_backend() -> str | None:
    """The async library running in this thread (``'asyncio'``, ``'trio'``), or None."""
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def on_event_loop() -> bool:
    """True in code an event loop runs (where blocking on the loop would deadlock)."""
    return current_backend() is not None


def require_asyncio(feature: str, why: str) -> None:
    """Raise a clear error when ``feature`` (asyncio-only, because ``why``) runs elsewhere."""
    lib = current_backend()
    if lib is not None and lib != "asyncio":
        raise RuntimeError(
            f"{feature} needs the asyncio event loop ({why}); it is running on {lib}"
        )


class LoopHandle:
    """The running event loop, as a handle any thread can pass callbacks to.

    ``call_soon_threadsafe(fn, *args)`` never blocks (a signal handler may call it) and
    returns False when the loop has finished. ``key`` identifies the loop (the asyncio
    loop object; trio's run token).
    """

    __slots__ = ("key", "_call", "__weakref__")

    def __init__(self, key: Any, call: Callable[..., Any]) -> None:
        self.key = key
        self._call = call

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> bool:
        try:
            self._call(fn, *args)
        except RuntimeError:  # the loop is closed (trio: RunFinishedError)
            return False
        return True

    def is_current(self) -> bool:
        """True when called from this loop's own thread, inside it."""
        try:
            return _native_loop() is self.key
        except RuntimeError:
            return False

    def __repr__(self) -> str:
        return f"<LoopHandle {self.key!r}>"


def _native_loop() -> Any:
    if current_backend() == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    return asyncio.get_running_loop()


_handles: anyio.lowlevel.RunVar[LoopHandle] = anyio.lowlevel.RunVar("lcore_loop_handle")


def current_loop() -> LoopHandle:
    """A :class:`LoopHandle` on the running event loop (the same object for one loop)."""
    try:
        return _handles.get()
    except LookupError:
        pass
    key = _native_loop()
    h = LoopHandle(
        key, key.run_sync_soon if current_backend() == "trio" else key.call_soon_threadsafe
    )
    _handles.set(h)
    return h


def new_event() -> anyio.Event:
    """An event of the running loop: ``set()`` (on the loop), ``is_set()``, ``await wait()``."""
    return anyio.Event()


async def wait_event(event: anyio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds (None: no limit); True if it is set."""
    if timeout is None:
        await event.wait()
        return True
    with anyio.move_on_after(timeout):
        await event.wait()
    return event.is_set()


class Task:
    """A task started by :func:`spawn`: ``cancel()``, ``done()``, ``await wait(timeout)``.

    An exception that ends it is logged and kept as ``exception``, never lost.
    """

    __slots__ = ("_scope", "_done", "_finished", "exception", "_native")

    def __init__(self) -> None:
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._finished = False
        self.exception: BaseException | None = None
        self._native: Any = None

    async def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            with self._scope:
                await fn(*args)
        except Exception as e:  # noqa: BLE001 - a detached task has no caller to raise to
            self.exception = e
            _log.error("lcore task %r failed", fn, exc_info=e)
        finally:
            self._finished = True
            self._done.set()

    def cancel(self) -> None:
        """Cancel it (it ends at its next checkpoint).

        On asyncio this is the task's own one-shot ``cancel()``, so the cleanup of the
        code it runs (a ``finally`` that awaits) still runs as it always did there.
        """
        if self._native is not None:
            self._native.cancel()
        else:
            self._scope.cancel()

    def done(self) -> bool:
        return self._finished

    async def wait(self, timeout: float | None = None, shield: bool = False) -> bool:
        """Wait until it ended, at most ``timeout`` seconds; True if it did.

        ``shield``: the wait is not cut short by the caller's cancellation (clean-up).
        """
        if not self._finished:
            with anyio.CancelScope(shield=shield):
                await wait_event(self._done, timeout)
        return self._finished


def spawn(fn: Callable[..., Any], *args: Any) -> Task:
    """Start ``await fn(*args)`` on the running loop as a task that outlives its caller.

    It runs in a copy of the caller's context (request context included). On asyncio it
    is a loop task; on trio a system task (trio has no other detached tasks). Prefer a
    task group where the task's lifetime fits one.
    """
    task = Task()
    if current_backend() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(task._run, fn, args, context=contextvars.copy_context())
    else:
        task._native = asyncio.get_running_loop().create_task(task._run(fn, args))
    return task
