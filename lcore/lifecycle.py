"""Process lifecycle: ``on_shutdown`` callbacks and ``BackgroundTaskPool``.

Shutdown callbacks run once per process: at ASGI lifespan shutdown, when ``app.run()``
gets SIGTERM, or at interpreter exit (a WSGI worker exiting), whichever comes first.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ._bridge import resolve_sync

__all__ = ["on_shutdown", "run_shutdown", "BackgroundTaskPool"]

_log = logging.getLogger("lcore")
_callbacks: list[Callable[[], Any]] = []
_done = threading.Event()
_lock = threading.Lock()


def on_shutdown(func: Callable[[], Any]) -> Callable[[], Any]:
    """Register ``func`` (sync or async) to run once when the process shuts down."""
    with _lock:
        _callbacks.append(func)
        _done.clear()
    return func


def run_shutdown() -> None:
    """Run the shutdown callbacks now (in reverse order), once; errors are logged."""
    with _lock:
        if _done.is_set():
            return
        _done.set()
        callbacks = list(reversed(_callbacks))
    for func in callbacks:
        try:
            resolve_sync(func())
        except Exception:
            _log.exception("shutdown callback %r failed", func)


atexit.register(run_shutdown)


class BackgroundTaskPool:
    """A thread pool for fire-and-forget work: ``submit(fn, *args)`` returns a Future.

    Failures are logged to the ``lcore`` logger.
    """

    def __init__(self, max_workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lcore-bg")
        self._pending = 0
        self._plock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)``; returns its Future."""
        with self._plock:
            self._pending += 1
        fut = self._pool.submit(fn, *args, **kwargs)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, fut: Future[Any]) -> None:
        with self._plock:
            self._pending -= 1
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None:
            _log.error("background task failed", exc_info=exc)

    @property
    def pending(self) -> int:
        """Tasks queued or running."""
        with self._plock:
            return self._pending

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks; with ``wait`` block until queued ones finish."""
        self._pool.shutdown(wait=wait)
