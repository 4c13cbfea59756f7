"""Waits and timers of a WebSocket session, lean enough for thousands of idle connections.

On asyncio (the embedded server, uvicorn, hypercorn) they are a bare future and a timer
handle; on trio (``TestClient(backend='trio')``) an ``anyio.Event`` and a sleeping task.
An idle connection holds one of each, so their size is the per-connection memory that
``bench/bench_ws.py`` measures: anyio's event and a task asleep in a cancel scope cost
~6 KiB per connection more.
"""

from __future__ import annotations

import asyncio
import logging
import os
from time import monotonic
from typing import Any

import anyio
import anyio.abc
from websockets.protocol import OPEN

from .options import ConnectionClosedError

__all__ = ["Deadline", "Keepalive", "Waiter", "running_loop", "SHUTDOWN"]

_log = logging.getLogger("lcore.ws")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio event loop we run on; None on another anyio backend (trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Waiter:
    """What one task waits on until another sets it: a lean, single-waiter ``anyio.Event``.

    PERF: on asyncio a bare future (~100 bytes) instead of anyio's event over asyncio's
    (~1 KiB with its waiter deque, and two more coroutine frames while waiting): the app
    of an idle WebSocket waits on one. Only one task may wait (cancelling it cancels the
    future); elsewhere (trio) an ``anyio.Event``.
    """

    __slots__ = ("_future", "_event")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None:
            self._future: asyncio.Future[None] | None = loop.create_future()
            self._event: anyio.Event | None = None
        else:
            self._future = None
            self._event = anyio.Event()

    def set(self) -> None:
        future = self._future
        if future is None:
            self._event.set()  # type: ignore[union-attr]
        elif not future.done():
            future.set_result(None)

    def wait(self) -> Any:
        """An awaitable that ends once set (the future itself: no frame of ours)."""
        future = self._future
        return self._event.wait() if future is None else future  # type: ignore[union-attr]


class Deadline:
    """Calls ``callback()`` at a ``time.monotonic()`` time, with no task waiting for it.

    PERF: on asyncio this is a timer handle (~100 bytes) instead of a task asleep in a
    cancel scope (~5 KiB with anyio's task handle, its event and scope): what an idle
    WebSocket holds for its keepalive. Elsewhere (trio, in tests) a task sleeps until then.
    """

    __slots__ = ("_callback", "_tg", "_loop", "_handle")

    def __init__(
        self, tg: anyio.abc.TaskGroup, loop: asyncio.AbstractEventLoop | None, callback: Any
    ) -> None:
        self._callback = callback
        self._tg = tg
        self._loop = loop
        self._handle: Any = None

    def set(self, when: float) -> None:
        """Call back at ``when`` (and not at the time set before)."""
        self.cancel()
        delay = max(0.0, when - monotonic())
        if self._loop is not None:
            self._handle = self._loop.call_later(delay, self._callback)
        else:
            self._handle = scope = anyio.CancelScope()
            self._tg.start_soon(self._sleep, delay, scope)

    async def _sleep(self, delay: float, scope: anyio.CancelScope) -> None:
        with scope:
            await anyio.sleep(delay)
            self._handle = None
            self._callback()

    def cancel(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()


# What the deadline found due (see Keepalive._on_deadline).
_STALLED, _SHUTDOWN, _PING_TIMEOUT, _IDLE, _PING = range(5)


#: Start the server-shutdown close (1001) through :meth:`Keepalive._on_time`.
SHUTDOWN = _SHUTDOWN


class Keepalive:
    """The session's keepalive pings, idle timeout and write-stall check, on one deadline.

    A mixin of ``lcore_ws.protocol._Session`` (whose fields it reads: ``options``,
    ``proto``, ``stream``, ``_last_activity``, ``_write_started``, ``_done``, ``_tg``;
    and whose ``_flush``, ``_fail`` and ``_abort`` it calls).
    """

    # Its own state; the session sets it up in __init__.
    __slots__ = ("_deadline", "_ping", "_next_ping")
    _deadline: Deadline | None
    _ping: tuple[bytes, float] | None
    _next_ping: float
    _done: bool
    _tg: anyio.abc.TaskGroup | None
    _last_activity: float
    _write_started: float
    options: Any
    proto: Any
    stream: Any

    async def _flush(self) -> None:
        raise NotImplementedError

    async def _fail(self, code: int, reason: str) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        raise NotImplementedError

    def _arm(self) -> None:
        """Set the deadline to the earliest time something may be due."""
        deadline = self._deadline
        if deadline is None or self._done or self.proto.state is not OPEN:
            return
        opts = self.options
        now = monotonic()
        when = self._next_ping
        if self._ping is not None and opts.ping_timeout:
            when = min(when, self._ping[1] + opts.ping_timeout)
        if opts.idle_timeout:
            when = min(when, self._last_activity + opts.idle_timeout)
        # A write in progress must finish by its deadline; check again within one timeout.
        when = min(when, (self._write_started or now) + opts.write_timeout)
        deadline.set(when)

    def _on_deadline(self) -> None:
        """The deadline passed: start what is due in a task, or set the next deadline.

        Called by the timer, so it only looks; the sends happen in :meth:`_on_time`.
        """
        if self._done or self.proto.state is not OPEN or self._tg is None:
            return
        opts = self.options
        now = monotonic()
        started = self._write_started
        ping = self._ping
        if started and now >= started + opts.write_timeout:
            due = _STALLED
        elif ping is not None and opts.ping_timeout and now >= ping[1] + opts.ping_timeout:
            due = _PING_TIMEOUT
        elif opts.idle_timeout and now >= self._last_activity + opts.idle_timeout:
            due = _IDLE
        elif now >= self._next_ping:
            due = _PING
        else:
            self._arm()  # activity moved the idle deadline, or a write was in progress
            return
        self._tg.start_soon(self._on_time, due)

    async def _on_time(self, due: int) -> None:
        """Do what the deadline (or the server's shutdown) found due."""
        proto = self.proto
        if proto.state is not OPEN or self._done:
            return
        opts = self.options
        try:
            if due == _STALLED:
                _log.info(
                    "WebSocket client stopped reading for %.0fs; dropping it", opts.write_timeout
                )
                self._abort()
                await anyio.aclose_forcefully(self.stream)
            elif due == _SHUTDOWN:
                proto.send_close(1001, "server shutting down")
                await self._flush()
            elif due == _PING_TIMEOUT:
                await self._fail(1011, "keepalive ping timeout")
            elif due == _IDLE:
                proto.send_close(1001, "idle timeout")
                await self._flush()
            else:
                now = monotonic()
                self._next_ping = now + (opts.ping_interval or 0)
                if self._ping is None:
                    payload = os.urandom(4)
                    self._ping = (payload, now)
                    proto.send_ping(payload)
                # Armed before the write, so a ping the client does not read is caught.
                self._arm()
                await self._flush()
        except ConnectionClosedError:
            return
