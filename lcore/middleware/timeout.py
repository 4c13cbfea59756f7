"""TimeoutMiddleware: answer 503 when a handler takes longer than ``timeout`` seconds."""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as _FutureTimeout
from typing import Any

from .. import _bridge
from ..response import HTTPError
from .base import Middleware

__all__ = ["TimeoutMiddleware"]

_log = logging.getLogger("lcore.timeout")


class _Pool:
    """A persistent, bounded pool of daemon worker threads.

    Threads start on demand up to ``max_workers`` and then wait for work forever, so a
    timeout never costs a new thread. They are daemon threads: a handler stuck for good
    does not keep the process from exiting.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.pid = os.getpid()

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self._queue.put((fut, fn, args))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if len(self._threads) < self.max_workers:
                    t = threading.Thread(
                        target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                    )
                    self._threads.append(t)
                    t.start()
        return fut

    @property
    def size(self) -> int:
        """How many worker threads exist."""
        return len(self._threads)

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            fut, fn, args = item
            del item
            if fut.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as e:  # noqa: BLE001 - handed to the waiting request
                    fut.set_exception(e)
                else:
                    fut.set_result(result)
                    del result
            del fut, fn, args
            self._idle.release()

    def shutdown(self) -> None:
        """Ask idle workers to exit (busy ones exit after their current call)."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []


class TimeoutMiddleware(Middleware):
    """Answer ``503 Service Unavailable`` when a handler runs past ``timeout`` seconds.

    An ``async def`` handler is cancelled at the deadline. A ``def`` handler runs in a
    persistent pool of at most ``max_workers`` threads (default: lcore's worker-thread
    limit, 64) while the request waits for it; at the deadline the request is answered
    503 at once. Python cannot kill a thread, so the handler keeps running and keeps its
    pool slot until it returns (its result is discarded); ``ctx.timed_out`` becomes True,
    which a long handler can check to stop early. When every slot is taken, new requests
    wait in the queue and are answered 503 at their own deadline without ever starting.
    The deadline covers producing the response, not streaming a generator body. (In the
    pool thread, ``async def`` hooks or middleware further down the chain of a ``def``
    handler run on lcore's persistent event loop.)
    """

    name = "timeout"
    order = -5
    phase = "post"

    def __init__(self, timeout: float = 30, max_workers: int | None = None) -> None:
        if not timeout or float(timeout) <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_workers is not None and int(max_workers) < 1:
            raise ValueError("max_workers must be at least 1")
        self.timeout = float(timeout)
        self.max_workers = int(max_workers) if max_workers else None
        self._pool: _Pool | None = None
        self._pool_lock = threading.Lock()

    def _get_pool(self) -> _Pool:
        pool = self._pool
        if pool is not None and pool.pid == os.getpid():
            return pool
        if pool is not None:  # forked: the threads (and maybe the lock) stayed in the parent
            self._pool_lock = threading.Lock()
        with self._pool_lock:
            if self._pool is None or self._pool.pid != os.getpid():
                size = self.max_workers or _bridge.thread_limit()
                self._pool = _Pool(size, "lcore-timeout")
            return self._pool

    def _expired(self, ctx: Any) -> HTTPError:
        ctx.timed_out = True
        req = ctx.request
        _log.warning(
            "%s %s timed out after %.3g s; answered 503", req.method, req.path, self.timeout
        )
        return HTTPError(503, "Request timed out.")

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        ctx.timeout_deadline = time.monotonic() + self.timeout
        fut = self._get_pool().submit(contextvars.copy_context().run, next_handler, ctx)
        try:
            return fut.result(self.timeout)
        except _FutureTimeout:  # builtin TimeoutError on 3.11+
            if fut.done():  # the handler's own TimeoutError
                raise
            fut.cancel()  # still queued: it never starts
            return self._expired(ctx)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        ctx.timeout_deadline = time.monotonic() + self.timeout
        finished, result = await _bridge.with_timeout(self.timeout, next_handler, ctx)
        if finished:
            return result
        return self._expired(ctx)

    def close(self) -> None:
        """Let the pool's idle threads exit."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
