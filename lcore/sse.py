"""Server-Sent Events: a response type that streams events to an ``EventSource``.

Return ``sse(source)`` (or ``EventStream(source)``) from a handler. ``source`` is a
generator or async generator (or any iterable / async iterable) yielding events:

- a :class:`ServerSentEvent` (``data``, ``event``, ``id``, ``retry``, ``comment``);
- a ``str`` (sent as ``data``; several lines become several ``data:`` lines);
- a ``dict`` or ``list`` (sent as JSON ``data``);
- ``bytes``, sent unchanged (an already formatted frame).

The stream sends a comment (``: ping``) when no event was sent for ``heartbeat``
seconds, which keeps proxies from closing an idle connection and lets a WSGI server
notice a client that went away. The incoming ``Last-Event-ID`` header is
``request.last_event_id``.

The source runs on the event loop (async) or, one item at a time, in a worker thread
(sync); it is closed, and its ``finally`` runs, when the client disconnects, when the
stream ends, and when the server shuts down (``close_streams``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from . import _bridge
from ._utils import json_dumps
from .context import _current
from .response import HTTPResponse

__all__ = ["EventStream", "ServerSentEvent", "sse", "close_streams"]

_log = logging.getLogger("lcore.error")

#: The comment frame sent when the stream has been idle for a heartbeat interval.
HEARTBEAT = b": ping\n\n"
#: Events a source may run ahead of the client before it waits (backpressure).
_BUFFER = 16

_END: Any = object()


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class ServerSentEvent:
    """One event: ``data`` (str, or dict/list sent as JSON), ``event``, ``id``, ``retry``
    (milliseconds the client waits before reconnecting) and a ``comment``."""

    __slots__ = ("data", "event", "id", "retry", "comment")

    def __init__(
        self,
        data: Any = None,
        event: str | None = None,
        id: str | int | None = None,  # noqa: A002 - the SSE field is called id
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def encode(self) -> bytes:
        """The event as wire bytes (UTF-8), ending with the blank line."""
        parts: list[str] = []
        if self.comment is not None:
            parts += [": " + line if line else ":" for line in _lines(str(self.comment))]
        if self.event is not None:
            event = str(self.event)
            if "\n" in event or "\r" in event:
                raise ValueError("an SSE event name cannot contain a line break")
            parts.append("event: " + event)
        if self.id is not None:
            ident = str(self.id)
            if "\n" in ident or "\r" in ident or "\0" in ident:
                raise ValueError("an SSE id cannot contain a line break or NUL")
            parts.append("id: " + ident)
        if self.retry is not None:
            parts.append(f"retry: {int(self.retry)}")
        data = self.data
        if data is not None:
            if not isinstance(data, str):
                data = json_dumps(data) if isinstance(data, (dict, list)) else str(data)
            parts += ["data: " + line if line else "data:" for line in _lines(data)]
        if not parts:
            return b""
        parts.append("\n")
        return "\n".join(parts).encode("utf8")

    def __repr__(self) -> str:
        return f"<ServerSentEvent event={self.event!r} id={self.id!r} data={self.data!r}>"


def _encode(item: Any) -> bytes:
    t = type(item)
    # PERF: the common items (a one-line str, a dict) skip building an event object.
    if t is dict:
        # Compact JSON escapes line breaks inside strings: always one ``data:`` line.
        return b"data: " + json_dumps(item).encode() + b"\n\n"
    if t is str and "\n" not in item and "\r" not in item:
        return b"data: " + item.encode() + b"\n\n" if item else b"data:\n\n"
    if t is ServerSentEvent:
        return item.encode()
    if t is str:
        return ServerSentEvent(item).encode()
    if t is bytes:
        return item
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, (dict, list, str)):
        return ServerSentEvent(item).encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise TypeError(
        f"an SSE source yields ServerSentEvent, str, dict, list or bytes, not {t.__name__}"
    )


class EventStream(HTTPResponse):
    """A ``text/event-stream`` response; return it from a handler.

    ``heartbeat``: seconds of silence after which a ``: ping`` comment is sent (None: no
    heartbeats). ``retry``: when set, a first ``retry:`` field tells clients how many
    milliseconds to wait before reconnecting. ``status`` and ``headers`` as for
    :class:`HTTPResponse`.
    """

    def __init__(
        self,
        source: Any,
        *,
        heartbeat: float | None = 15.0,
        retry: int | None = None,
        status: int = 200,
        headers: Any = None,
    ) -> None:
        if heartbeat is not None and heartbeat <= 0:
            raise ValueError("heartbeat must be a positive number of seconds, or None")
        if not (hasattr(source, "__aiter__") or hasattr(source, "__iter__")):
            raise TypeError("an EventStream source must be an iterable or an async iterable")
        super().__init__(None, status, headers)
        h = self._headers
        h["Content-Type"] = ["text/event-stream; charset=utf-8"]
        h["Cache-Control"] = ["no-cache"]
        h["X-Accel-Buffering"] = ["no"]
        h.pop("Content-Length", None)
        self.source = source
        self.heartbeat = heartbeat
        self.retry = retry
        self.body = _frames(source, heartbeat, retry)


def sse(
    source: Any,
    *,
    heartbeat: float | None = 15.0,
    retry: int | None = None,
    status: int = 200,
    headers: Any = None,
) -> EventStream:
    """Stream the events ``source`` yields as Server-Sent Events (see :class:`EventStream`)."""
    return EventStream(source, heartbeat=heartbeat, retry=retry, status=status, headers=headers)


# -- shutdown -----------------------------------------------------------------------

# Re-entrant: close_streams() may run in a signal handler on a thread holding it.
_streams_lock = threading.RLock()
#: Open streams: id -> (loop handle, its stream's channel, apps the stream belongs to).
_open: dict[int, tuple[Any, Any, tuple[Any, ...]]] = {}
#: Apps shutting down: their new streams end at once.
_closing: weakref.WeakSet[Any] = weakref.WeakSet()


def close_streams(app: Any = None) -> None:
    """End the open event streams of ``app`` (of every app when None) cleanly.

    The ASGI adapter calls this at lifespan shutdown and when the server gets
    SIGTERM/SIGINT, so that endless streams do not hold a graceful shutdown open:
    each source is closed (its ``finally`` runs) and the response ends normally.
    """
    with _streams_lock:
        if app is not None:
            _closing.add(app)
        entries = list(_open.values())
    for loop, chan, apps in entries:
        if app is None or app in apps:
            # False when that loop is closed: its stream is gone too.
            loop.call_soon_threadsafe(chan.close)


def _reopen_streams(app: Any) -> None:
    """Let ``app`` stream again (a lifespan that starts after a shutdown)."""
    with _streams_lock:
        _closing.discard(app)


def _apps_of(c: Any) -> tuple[Any, ...]:
    if c is None:
        return ()
    return (c.app, *(parent for parent, _prefix, _pctx in c._module_chain))


# -- the stream -----------------------------------------------------------------------


class _Channel:
    """A small bounded queue between the source task and the response (one loop)."""

    __slots__ = ("items", "getter", "putter", "closing")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.getter: Any = None  # the response waits for an item (or for closing)
        self.putter: Any = None  # the source waits for room
        self.closing = False

    async def put(self, item: Any) -> None:
        while len(self.items) >= _BUFFER:
            self.putter = p = _bridge.new_event()
            await p.wait()
        self.push(item)

    def push(self, item: Any) -> None:
        self.items.append(item)
        g = self.getter
        if g is not None:
            g.set()

    def close(self) -> None:
        """End the stream (shutdown); called on the stream's loop."""
        self.closing = True
        g = self.getter
        if g is not None:
            g.set()

    def pop_frames(self) -> tuple[bytes, Any]:
        """Every encoded frame waiting, joined, and the control item after them (or None)."""
        items = self.items
        frames = []
        ctl = None
        while items:
            item = items.popleft()
            if type(item) is not bytes:
                ctl = item
                break
            frames.append(item)
        p = self.putter
        if p is not None:
            p.set()
        return b"".join(frames), ctl


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Source:
    """Runs the event source in its own task, feeding a channel."""

    __slots__ = ("source", "ctx", "chan", "stop", "in_thread", "task")

    def __init__(self, source: Any, ctx: Any, chan: _Channel) -> None:
        self.source = source
        self.ctx = ctx
        self.chan = chan
        self.stop = False
        self.in_thread = False
        self.task: Any = None

    async def run(self) -> None:
        chan = self.chan
        try:
            if hasattr(self.source, "__aiter__"):
                await self._run_async(chan)
            else:
                await self._run_sync(chan)
        except Exception as e:  # noqa: BLE001 - reported by the response side
            chan.push(_Failed(e))
            return
        chan.push(_END)

    async def _run_async(self, chan: _Channel) -> None:
        ait = self.source.__aiter__()
        try:
            async for item in ait:
                await chan.put(_encode(item))
                if self.stop:
                    return
        finally:
            aclose = getattr(ait, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _run_sync(self, chan: _Channel) -> None:
        # PERF: a sync source is stepped in a worker thread one item at a time; a
        # thread is held only while the source computes its next event.
        it = iter(self.source)
        run_sync, ctx = _bridge.run_sync, self.ctx
        try:
            while not self.stop:
                self.in_thread = True
                try:
                    item = await run_sync(ctx, next, it, _END)
                finally:
                    self.in_thread = False
                if item is _END or self.stop:
                    return
                await chan.put(_encode(item))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                await run_sync(ctx, close)

    def end(self) -> None:
        """Stop the source: cancel it, or (a sync step is running) stop after the step."""
        self.stop = True
        task = self.task
        if task is not None and not task.done() and not self.in_thread:
            task.cancel()


async def _frames(source: Any, heartbeat: float | None, retry: int | None) -> AsyncIterator[bytes]:
    """The response body: encoded events, heartbeats, until the source ends or is stopped."""
    loop = _bridge.current_loop()
    c = _current.get(None)
    chan = _Channel()
    src = _Source(source, c, chan)
    key = id(chan)
    apps = _apps_of(c)
    with _streams_lock:
        _open[key] = (loop, chan, apps)
        if any(a in _closing for a in apps):
            chan.closing = True
    src.task = _bridge.spawn(src.run)
    # PERF: one wait per idle period covers the next event, the heartbeat and shutdown.
    new_event, wait_event = _bridge.new_event, _bridge.wait_event
    try:
        if retry is not None:
            yield f"retry: {int(retry)}\n\n".encode()
        items = chan.items
        while True:
            if items:
                # PERF: events that are already waiting leave in one write (a fast source
                # runs up to _BUFFER events ahead); nothing waits to be batched.
                data, ctl = chan.pop_frames()
                if data:
                    yield data
                if ctl is _END:
                    return
                if type(ctl) is _Failed:
                    _log.error("event stream source failed; ending the stream", exc_info=ctl.exc)
                    return
                continue
            if chan.closing:
                return
            getter = chan.getter = new_event()
            woken = await wait_event(getter, heartbeat)
            chan.getter = None
            if not woken:
                yield HEARTBEAT
            elif chan.closing and not items:
                return
    finally:
        with _streams_lock:
            _open.pop(key, None)
        src.end()
        task = src.task
        if not task.done() and not src.in_thread:
            # The source's own cleanup (its ``finally``) runs now, before the request's
            # teardown; a sync source busy in a thread ends after its current step.
            await task.wait(5.0, shield=True)
