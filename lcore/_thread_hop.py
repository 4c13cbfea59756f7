"""The cheap hop from an asyncio event loop to worker threads, and inline-call watching.

``lcore.concurrency.run_sync`` sends a blocking call to a worker thread and awaits its
result. anyio's ``to_thread.run_sync`` costs ~40-120 µs a hop (a cancel scope, a
capacity-limiter token, a new future and a ``call_soon_threadsafe`` wake-up per call);
:class:`ThreadHop` does the same job for ~1-20 µs on asyncio (and uvloop): calls go
through one queue to the loop's own worker threads, and finished calls come back
through one deque, drained by a single loop wake-up however many finished meanwhile.

Kept from anyio's hop: a capacity limit (at most ``limit`` calls run at once; more wait
in the queue), the caller's ``contextvars`` (each call runs in a copy of its context),
cancellation that never abandons a running call (a cancelled caller waits for the call
to finish, shielded, then sees the cancellation; a call not started yet never starts),
and ``anyio.from_thread.run``/``run_sync`` from the worker (the thread is claimed for
the loop as anyio claims its own). Other backends (trio), or an anyio without that
seam, keep anyio's hop. Idle workers exit after ``idle`` seconds."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

import anyio
import sniffio

try:  # how anyio marks its worker threads, so anyio.from_thread works from ours too
    from anyio._backends._asyncio import AsyncIOBackend as _AsyncIOBackend
    from anyio._core._eventloop import claim_worker_thread as _claim_worker_thread
except ImportError:  # pragma: no cover - another anyio: its own hop is used
    _claim_worker_thread = None  # type: ignore[assignment]

__all__ = ["ThreadHop", "hop_for_running_loop"]

_CancelledError = asyncio.CancelledError
_library_var = sniffio.current_async_library_cvar


class _Call:
    __slots__ = ("fn", "args", "context", "future", "claim", "ok", "value", "finished")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: Any) -> None:
        self.fn = fn
        self.args = args
        self.context = context = contextvars.copy_context()
        # The worker is no event loop's thread: as in anyio's hop, sniffio must say so.
        context.run(_library_var.set, None)
        self.future = future
        #: Whoever pops it first owns the call: the worker (runs it) or a cancelled
        #: caller (it never runs). ``list.pop`` is atomic.
        self.claim = [None]
        self.ok = False
        self.value: Any = None
        self.finished = False


class ThreadHop:
    """Worker threads for one asyncio event loop; ``await hop.run(fn, *args)``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: Callable[[], int],
        idle: float = 10.0,
    ) -> None:
        self._loop = loop
        self._limit = limit
        self._idle_timeout = idle
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._done: collections.deque[_Call] = collections.deque()
        self._wake_pending = False
        self._lock = threading.Lock()
        #: Worker threads alive, and those waiting for a call (changed under ``_lock``).
        self.threads = 0
        self.idle = 0
        #: Calls submitted and not yet handed back (loop thread only).
        self.pending = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker thread (in a copy of this context); its result."""
        loop = self._loop
        call = _Call(fn, args, loop.create_future())
        self.pending += 1
        self._queue.put(call)
        with self._lock:
            # PERF: a new thread only when none waits for work: fast calls then run one
            # after another on few threads (fewer wake-ups and GIL hand-offs), while a
            # call never waits behind busy threads below the limit (see _serve).
            if not self.idle:
                self._spawn()
        try:
            return await call.future
        except _CancelledError:
            try:
                call.claim.pop()
            except IndexError:
                pass
            else:
                self.pending -= 1  # it never starts
                raise
            # Running: wait for it, as anyio's hop does; never abandon a blocking call.
            if not call.finished:
                call.future = loop.create_future()
                with anyio.CancelScope(shield=True):
                    await call.future
            raise

    def _spawn(self) -> None:
        # Under _lock.
        if self.threads < self._limit():
            self.threads += 1
            threading.Thread(target=self._work, name="lcore-worker", daemon=True).start()

    def _work(self) -> None:
        assert _claim_worker_thread is not None
        with _claim_worker_thread(_AsyncIOBackend, self._loop):
            self._serve()

    def _serve(self) -> None:
        get = self._queue.get
        done = self._done
        lock = self._lock
        queue_empty = self._queue.empty
        while True:
            with lock:
                self.idle += 1
            try:
                call = get(timeout=self._idle_timeout)
            except queue.Empty:
                with lock:
                    self.idle -= 1
                    if queue_empty():
                        self.threads -= 1
                        return
                continue
            with lock:
                self.idle -= 1
                if not self.idle and not queue_empty():
                    self._spawn()  # more calls wait and nobody else is free
            try:
                call.claim.pop()
            except IndexError:
                continue  # its caller was cancelled before it started
            try:
                call.value = call.context.run(call.fn, *call.args)
                call.ok = True
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                call.value = exc
            done.append(call)
            if not self._wake_pending:
                # PERF: one loop wake-up for every call finished until the loop drains.
                self._wake_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._drain)
                except RuntimeError:
                    return  # the loop is closed: nobody waits for results any more

    def _drain(self) -> None:
        self._wake_pending = False
        done = self._done
        while done:
            call = done.popleft()
            self.pending -= 1
            call.finished = True
            future = call.future
            if not future.done():
                if call.ok:
                    future.set_result(call.value)
                else:
                    future.set_exception(call.value)
            call.value = None


_hops: weakref.WeakKeyDictionary[Any, ThreadHop] = weakref.WeakKeyDictionary()
_last: list[Any] = [None, None]


def hop_for_running_loop(limit: Callable[[], int]) -> ThreadHop | None:
    """The :class:`ThreadHop` of the running asyncio loop (made on first use); None off asyncio."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None  # trio (or no loop): anyio's hop
    if _last[0] is loop:
        hop: ThreadHop = _last[1]
        return hop
    if _claim_worker_thread is None:  # pragma: no cover
        return None
    found = _hops.get(loop)
    if found is None:
        found = _hops[loop] = ThreadHop(loop, limit)
    _last[0] = loop
    _last[1] = found
    return found


def _forget_after_fork() -> None:
    # The child has none of the parent's worker threads.
    _hops.clear()
    _last[0] = _last[1] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
