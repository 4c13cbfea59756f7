"""Every hop between event loops and threads goes through this module.

- ``run_async(ctx, fn, *args)``: from blocking code, run a coroutine function and wait.
  In a worker thread started from an event loop (ASGI) it goes back to that loop; in
  any other thread (a WSGI server's request thread) it goes to the *persistent* event
  loop of the process: one anyio blocking portal, started on first use and started
  again in a forked child. Loop-bound objects (an ``httpx.AsyncClient``, a
  ``redis.asyncio`` pool) made there keep working across requests and threads.
- ``run_sync(ctx, fn, *args)``: from async code, run a blocking function in a worker
  thread (anyio's, bounded by a capacity limiter: ``set_thread_limit``).
- ``call_with_timeout(ctx, seconds, owner, slots, fn, *args)``: from blocking code, run a
  blocking function in a worker thread of the same loop ``run_async`` would use, and
  stop waiting for it at a deadline (``TimeoutMiddleware``'s ``def`` handlers).
- ``iterate_in_thread(ctx, iterator)``: from async code, iterate a blocking iterator in
  worker threads; ``iterate_from_thread(ctx, aiter)``: from blocking code, iterate an
  async iterator on the event loop.
- ``start_portal(backend)``: an event loop of its own in a thread (test clients).
- ``current_loop()``: a handle on the running loop that other threads (and signal
  handlers) can hand callbacks to; ``spawn(fn, *args)``: a task that outlives its
  caller; ``new_event()`` / ``wait_event(event, timeout)``.
- ``require_asyncio(feature)``: a clear error for the few asyncio-only features.

They carry the request context across, so ``ctx``/``request``/``response`` stay right.
The event-loop helpers (``current_loop``, ``spawn``, ``Task``, events, backends) live in
``lcore/_loops.py``, part of this seam; import them from here.
The functions run on every anyio backend (asyncio and trio); nothing else in lcore,
lcore_asgi or lcore_ws touches asyncio's loop/thread API (tests/test_architecture.py).
"""

from __future__ import annotations

import atexit
import collections
import logging
import math
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from . import _bridge
from ._bridge import is_async_callable
from ._loops import (
    LoopHandle,
    Task,
    current_backend,
    current_loop,
    new_event,
    on_event_loop,
    require_asyncio,
    spawn,
    wait_event,
)
from ._thread_hop import hop_for_running_loop
from .context import _current

__all__ = [
    "run_async",
    "run_sync",
    "iterate_in_thread",
    "iterate_from_thread",
    "set_thread_limit",
    "get_thread_limit",
    "portal",
    "shutdown_portal",
    "call_with_timeout",
    "start_portal",
    "PortalThread",
    "current_loop",
    "LoopHandle",
    "spawn",
    "Task",
    "new_event",
    "wait_event",
    "on_event_loop",
    "current_backend",
    "require_asyncio",
    "BACKENDS",
    "is_async_callable",
]

#: The anyio backends lcore runs on.
BACKENDS = ("asyncio", "trio")

_log = logging.getLogger("lcore.error")
_tl = threading.local()
_lock = threading.Lock()
_portal: Any = None
_portal_cm: Any = None
_portal_pid: int | None = None
_portal_thread_ident: int | None = None

_thread_limit = int(os.environ.get("LCORE_THREAD_LIMIT", "64") or 64)
_limiter_set: anyio.lowlevel.RunVar[bool] = anyio.lowlevel.RunVar(
    "lcore_limiter_set", default=False
)


def set_thread_limit(n: int) -> None:
    """Set how many blocking calls may run in worker threads at once, per event loop."""
    global _thread_limit
    if n < 1:
        raise ValueError("thread limit must be at least 1")
    _thread_limit = int(n)


def get_thread_limit() -> int:
    """The worker-thread limit (default 64, or ``LCORE_THREAD_LIMIT``)."""
    return _thread_limit


def portal() -> Any:
    """The process's persistent event loop portal (started on first use)."""
    global _portal, _portal_cm, _portal_pid, _portal_thread_ident
    p = _portal
    if p is not None and _portal_pid == os.getpid():
        return p
    if _exiting:
        # A loop thread started now would never run (at finalization Python freezes
        # daemon threads) and whoever waits for it would hang the exit.
        raise RuntimeError("the interpreter is exiting: lcore's persistent event loop is closed")
    with _lock:
        if _portal is None or _portal_pid != os.getpid():
            cm = start_portal("asyncio")
            _portal = cm.__enter__()
            _portal_cm = cm
            _portal_pid = os.getpid()
            _portal_thread_ident = cm.thread.ident if cm.thread is not None else None
        return _portal


def shutdown_portal(cancel: bool = False) -> None:
    """Stop the persistent loop (at interpreter exit; safe to call more than once).

    Without ``cancel`` it waits for the calls running on it; with it, they are cancelled.
    """
    global _portal, _portal_cm, _portal_pid
    with _lock:
        cm, pid = _portal_cm, _portal_pid
        _portal = _portal_cm = _portal_pid = None
    if cm is not None and pid == os.getpid():
        cm.stop(cancel=cancel)


_exiting = False
#: How long the interpreter's exit waits for lcore's loops to stop (seconds).
EXIT_TIMEOUT = 3.0


def _at_exit() -> None:
    global _exiting, _portal, _portal_cm, _portal_pid
    _exiting = True
    with _lock:
        cm, pid = _portal_cm, _portal_pid
        _portal = _portal_cm = _portal_pid = None
    if cm is not None and pid == os.getpid():
        cm.stop(cancel=True, timeout=EXIT_TIMEOUT)


def _after_fork_in_child() -> None:
    global _portal, _portal_cm, _portal_pid, _lock
    # The loop thread did not survive the fork; forget it (a new one starts on demand).
    _portal = _portal_cm = _portal_pid = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)


async def _with_ctx(ctx: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    if ctx is not None:
        _current.set(ctx)  # this runs in its own task: the change stays local to it
    return await fn(*args)


def run_async(ctx: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """From blocking code, run ``await fn(*args)`` on an event loop and return its result."""
    if getattr(_tl, "loop_worker", False):
        return anyio.from_thread.run(_with_ctx, ctx, fn, args)
    p = portal()
    if threading.get_ident() == _portal_thread_ident:
        raise RuntimeError(
            "lcore cannot block on the event loop from the event loop's own thread; "
            "call this from async code with await instead"
        )
    return p.call(_with_ctx, ctx, fn, args)


def _in_worker(ctx: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    _tl.loop_worker = True
    token = _current.set(ctx) if ctx is not None else None
    try:
        return fn(*args)
    finally:
        if token is not None:
            _current.reset(token)


async def run_sync(ctx: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """From async code, run blocking ``fn(*args)`` in a worker thread and return its result."""
    hop = hop_for_running_loop(get_thread_limit)
    if hop is not None:
        # PERF: on asyncio, lcore's own queue of worker threads (lcore/_thread_hop.py):
        # the same limit, context and cancellation rules as anyio's hop, ~10x cheaper.
        return await hop.run(_in_worker, ctx, fn, args)
    if not _limiter_set.get():
        anyio.to_thread.current_default_thread_limiter().total_tokens = _thread_limit
        _limiter_set.set(True)
    return await anyio.to_thread.run_sync(_in_worker, ctx, fn, args)


class _Ahead:
    """State shared by :func:`iterate_in_thread` and its worker thread."""

    __slots__ = ("lock", "running", "stop", "items", "waiter", "finished")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = False
        self.stop = False
        self.items: collections.deque[Any] = collections.deque()
        self.waiter: Any = None
        self.finished = False


_DONE: Any = object()


async def iterate_in_thread(ctx: Any, iterator: Any, ahead: int = 4) -> AsyncGenerator[Any, None]:
    """From async code, iterate a blocking iterator in a worker thread.

    PERF: one thread hop per ``ahead`` items instead of per item: the worker runs up to
    ``ahead`` items ahead and hands each over the moment it exists (no added latency),
    then returns its thread (a slow client never holds a worker). Closing this async
    generator closes ``iterator`` in a worker thread, never while it is running.
    """
    loop = current_loop()
    call_soon = loop.call_soon_threadsafe
    st = _Ahead()
    items = st.items

    def wake() -> None:
        w = st.waiter
        if w is not None:
            w.set()

    def deliver(item: Any) -> None:
        items.append(item)
        wake()

    def work() -> None:
        produced = 0
        while True:
            with st.lock:
                if st.stop:
                    st.running = False
                    break
            try:
                item = next(iterator, _DONE)
            except BaseException as e:  # noqa: BLE001 - re-raised on the loop side
                item = _Failed(e)
            call_soon(deliver, item)
            produced += 1
            if item is _DONE or type(item) is _Failed or produced >= ahead:
                with st.lock:
                    st.running = False
                    stopped = st.stop
                if not stopped:
                    call_soon(wake)  # the consumer may be waiting for more
                    return
                break
        _close_quietly(iterator)

    worker: list[Task] = []

    def start() -> None:
        with st.lock:
            st.running = True
        worker[:] = [spawn(run_sync, ctx, work)]

    try:
        start()
        while True:
            if items:
                item = items.popleft()
                if item is _DONE:
                    st.finished = True
                    return
                if type(item) is _Failed:
                    st.finished = True
                    raise item.exc
                if not st.running and len(items) < ahead:
                    start()  # run ahead again while this item is being sent
                yield item
                continue
            if not st.running:
                start()
            st.waiter = w = new_event()
            await w.wait()
    finally:
        with st.lock:
            st.stop = True
            running = st.running
        with anyio.CancelScope(shield=True):
            if running:
                await worker[0].wait()  # it closes the iterator after its current step
            elif not st.finished:
                await run_sync(ctx, _close_quietly, iterator)


def iterate_from_thread(ctx: Any, aiterable: Any) -> Iterator[Any]:
    """From blocking code, iterate an async iterable on the event loop, item by item.

    The loop is the one :func:`run_async` uses from here. Closing the generator closes
    the async iterator (its ``aclose``) on that loop.
    """
    ait = aiterable.__aiter__()
    try:
        while True:
            item = run_async(ctx, _anext_or_done, ait)
            if item is _DONE:
                return
            yield item
    finally:
        aclose = getattr(ait, "aclose", None)
        if aclose is not None:
            run_async(ctx, aclose)


async def _anext_or_done(ait: Any) -> Any:
    try:
        return await ait.__anext__()
    except StopAsyncIteration:
        return _DONE


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _close_quietly(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def with_timeout(seconds: float, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Await ``fn(*args)``, cancelling it after ``seconds``; ``(finished, result)``."""
    result = None
    with anyio.move_on_after(seconds) as scope:
        result = await fn(*args)
    return (not scope.cancelled_caught, result)


# -- a blocking call with a deadline --------------------------------------------------

#: Per event loop: each owner's slot limiter (held by a call until its thread returns).
_slot_limiters: anyio.lowlevel.RunVar[weakref.WeakKeyDictionary[Any, anyio.CapacityLimiter]] = (
    anyio.lowlevel.RunVar("lcore_slot_limiters")
)
#: Per event loop: the limiter handed to anyio for those calls. It never makes a call
#: wait (the owner's slots do the bounding), and it is not the default limiter, so a
#: request already holding a default worker thread never waits for a second one.
_no_limit: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar("lcore_no_limit")


def _slots_for(owner: Any, slots: int) -> anyio.CapacityLimiter:
    try:
        table = _slot_limiters.get()
    except LookupError:
        table = weakref.WeakKeyDictionary()
        _slot_limiters.set(table)
    lim = table.get(owner)
    if lim is None:
        lim = table[owner] = anyio.CapacityLimiter(slots)
    return lim


def _unlimited() -> anyio.CapacityLimiter:
    try:
        return _no_limit.get()
    except LookupError:
        lim = anyio.CapacityLimiter(math.inf)
        _no_limit.set(lim)
        return lim


class _TimedCall:
    """One call of :func:`call_with_timeout`: whether its thread started, and its slot."""

    __slots__ = ("lock", "state", "limiter")

    PENDING, RUNNING, ABANDONED = 0, 1, 2

    def __init__(self, limiter: anyio.CapacityLimiter) -> None:
        self.lock = threading.Lock()
        self.state = self.PENDING
        self.limiter = limiter

    def release(self) -> None:
        self.limiter.release_on_behalf_of(self)

    def run(self, ctx: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """In the worker thread: run ``fn`` unless the caller gave up first; free the slot."""
        with self.lock:
            if self.state == self.ABANDONED:
                return None  # the deadline passed before the thread picked it up
            self.state = self.RUNNING
        try:
            return _in_worker(ctx, fn, args)
        finally:
            try:
                anyio.from_thread.run_sync(self.release)
            except Exception:  # noqa: BLE001 - the loop is gone: so is its limiter
                pass


async def _timed(
    ctx: Any, seconds: float, owner: Any, slots: int, fn: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[bool, Any]:
    call = _TimedCall(_slots_for(owner, slots))
    acquired = False
    with anyio.move_on_after(seconds):
        try:
            await call.limiter.acquire_on_behalf_of(call)
            acquired = True
            # abandon_on_cancel: at the deadline stop waiting; Python cannot stop the
            # thread, which keeps its slot until ``fn`` returns.
            return True, await anyio.to_thread.run_sync(
                call.run, ctx, fn, args, abandon_on_cancel=True, limiter=_unlimited()
            )
        finally:
            if acquired:
                with call.lock:
                    never_ran = call.state == call.PENDING
                    call.state = call.ABANDONED if never_ran else call.state
                if never_ran:
                    call.release()
    return False, None


def call_with_timeout(
    ctx: Any, seconds: float, owner: Any, slots: int | None, fn: Callable[..., Any], *args: Any
) -> tuple[bool, Any]:
    """From blocking code, run blocking ``fn(*args)`` in a worker thread; ``(finished, result)``.

    The thread belongs to the event loop :func:`run_async` uses from here (the server's
    loop in an ASGI worker thread, else the persistent loop), so ``fn`` runs with ``ctx``
    as a worker thread like any other: it may read the request body and call async code.
    At ``seconds`` the caller stops waiting and gets ``(False, None)``; the thread cannot
    be killed and goes on. At most ``slots`` (default: the thread limit) calls per
    ``owner`` run at once, counting abandoned ones until they return; a call still waiting
    for a slot at its deadline never starts. ``fn``'s exceptions are raised here.
    """
    return run_async(ctx, _timed, ctx, float(seconds), owner, int(slots or _thread_limit), fn, args)


# -- an event loop in a thread of its own -----------------------------------------------


class PortalThread:
    """An event loop running in a daemon thread of its own, reached through an anyio
    ``BlockingPortal``; a context manager whose ``__enter__`` returns the portal.

    ``stop(cancel, timeout)`` ends it: with ``cancel`` the calls still running are
    cancelled, and with ``timeout`` it waits at most that long for the thread (a ``def``
    handler blocked in a worker thread cannot be cancelled; the loop thread is a daemon,
    so it never holds up the interpreter's exit). ``stop`` starts no thread: it is safe at
    interpreter exit, where Python 3.12 refuses new threads.
    """

    def __init__(self, backend: str = "asyncio") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.backend = backend
        self.portal: Any = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Any:
        import concurrent.futures

        ready: concurrent.futures.Future[Any] = concurrent.futures.Future()

        async def serve() -> None:
            async with anyio.from_thread.BlockingPortal() as p:
                ready.set_result(p)
                await p.sleep_until_stopped()

        def run() -> None:
            try:
                anyio.run(serve, backend=self.backend)
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                if not ready.done():
                    ready.set_exception(exc)

        self.thread = threading.Thread(target=run, name=f"lcore-{self.backend}-loop", daemon=True)
        self.thread.start()
        self.portal = ready.result()
        return self.portal

    def __exit__(self, *exc: Any) -> None:
        self.stop(cancel=exc[0] is not None)

    def stop(self, cancel: bool = False, timeout: float | None = None) -> bool:
        """Stop the loop; True once its thread has ended (within ``timeout`` if given)."""
        p, t = self.portal, self.thread
        if p is None or t is None:
            return True
        try:
            if timeout is None:
                p.call(p.stop, cancel)
            else:
                p.start_task_soon(p.stop, cancel)
        except BaseException:  # noqa: BLE001 - stopped already, or cancelled by its own stop
            pass
        t.join(timeout)
        return not t.is_alive()


def start_portal(backend: str = "asyncio") -> PortalThread:
    """A context manager starting an event loop of its own in a thread (a ``PortalThread``).

    ``backend`` is ``'asyncio'`` or ``'trio'``. The test clients run the ASGI side on it.
    """
    return PortalThread(backend)


_bridge.install(
    run_async,
    run_sync,
    with_timeout,
    get_thread_limit,
    call_with_timeout,
    current_loop=current_loop,
    new_event=new_event,
    wait_event=wait_event,
    spawn=spawn,
    on_event_loop=on_event_loop,
)
