"""Broadcast: publish a message on a channel, every subscriber of the channel gets it.

::

    broadcast = Broadcast("redis://localhost:6379/0")   # or Broadcast() in-process

    @app.websocket("/chat/<room>")
    async def chat(ws, room):
        await ws.accept()
        async with broadcast.subscribe(room) as sub, anyio.create_task_group() as tg:
            async def relay():
                async for event in sub:
                    await ws.send_text(event.message)
            tg.start_soon(relay)
            async for text in ws:
                await broadcast.publish(room, text)
            tg.cancel_scope.cancel()

The in-memory backend (``memory://``, the default) reaches subscribers in this process,
on any event loop. The Redis backend (``redis://...``, ``redis.asyncio`` pub/sub) reaches
every worker and machine using the same Redis; each event loop keeps one pub/sub
connection for all its subscriptions, and when Redis goes away that connection is
re-established with exponential backoff and its channels subscribed again, so
subscribers resume by themselves.

Publishing while Redis is unreachable does not raise: pub/sub stores nothing, so the
message is dropped, a WARNING is logged (at most one per ``drop_log_interval`` seconds,
with a count) and ``publish()`` returns False. It returns True once a message reached
Redis again. A handler that publishes therefore behaves the same under WSGI and ASGI
and never answers 500 because Redis is down.

A subscriber that falls behind by ``max_buffer`` messages loses the oldest ones (counted
in ``Subscription.dropped``): a slow client never blocks publishers.

The in-memory backend runs on every anyio backend (asyncio, trio), and a message crosses
loops and threads through ``lcore.concurrency``. The Redis backend needs asyncio:
redis-py's async client is written on asyncio's streams; on trio it raises a
``RuntimeError`` saying so.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator
from time import monotonic
from typing import Any

import anyio

from lcore.concurrency import LoopHandle, Task, current_loop, require_asyncio, spawn

__all__ = ["Broadcast", "Event", "Subscription", "MemoryBackend", "RedisBackend"]

_log = logging.getLogger("lcore.ws.broadcast")


class Event:
    """One published message: ``channel`` and ``message`` (``str`` or ``bytes``)."""

    __slots__ = ("channel", "message")

    def __init__(self, channel: str, message: str | bytes) -> None:
        self.channel = channel
        self.message = message

    def json(self) -> Any:
        """The message parsed as JSON."""
        import json

        return json.loads(self.message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and (other.channel, other.message) == (
            self.channel,
            self.message,
        )

    def __repr__(self) -> str:
        return f"Event({self.channel!r}, {self.message!r})"


def _encode(message: str | bytes) -> bytes:
    # One byte of type, so a str comes back a str and bytes come back bytes.
    if isinstance(message, str):
        return b"t" + message.encode("utf8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return b"b" + bytes(message)
    raise TypeError(
        f"broadcast messages are str or bytes, not {type(message).__name__} (json.dumps it)"
    )


def _decode(payload: bytes) -> str | bytes:
    return payload[1:].decode("utf8") if payload[:1] == b"t" else payload[1:]


class Subscription:
    """Messages of one channel: ``async with`` it, then ``async for event in sub``.

    ``async for event in broadcast.subscribe(ch)`` also works on its own (it subscribes
    for as long as the loop runs).
    """

    def __init__(self, backend: Any, channel: str, max_buffer: int) -> None:
        self.backend = backend
        self.channel = channel
        self.max_buffer = max_buffer
        #: Messages lost because this subscriber fell ``max_buffer`` behind.
        self.dropped = 0
        self._queue: deque[Event] | None = None
        self._waiter: anyio.Event | None = None
        self._loop: LoopHandle | None = None

    async def __aenter__(self) -> Subscription:
        self._loop = current_loop()
        self._queue = deque()
        await self.backend._add(self)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._queue is not None:
            await self.backend._remove(self)
            self._queue = None

    def _put(self, event: Event) -> None:
        """Called on the subscriber's loop."""
        q = self._queue
        if q is None:
            return
        if len(q) >= self.max_buffer:
            q.popleft()
            self.dropped += 1
            if self.dropped == 1:
                _log.warning(
                    "a subscriber of %r is too slow; dropping its oldest messages", self.channel
                )
        q.append(event)
        w = self._waiter
        if w is not None:
            w.set()

    def _deliver(self, event: Event) -> None:
        """Called from any loop or thread."""
        loop = self._loop
        if loop is None:
            return
        if loop.is_current():
            self._put(event)
        else:
            loop.call_soon_threadsafe(self._put, event)  # False: that loop is gone

    async def get(self) -> Event:
        """The next event (waits for it)."""
        q = self._queue
        if q is None:
            raise RuntimeError("use 'async with broadcast.subscribe(channel) as sub' first")
        while not q:
            self._waiter = w = anyio.Event()
            await w.wait()
            if self._queue is not q:
                raise RuntimeError("the subscription was closed")
        return q.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        if self._queue is not None:
            while True:
                yield await self.get()
        async with self:
            while True:
                yield await self.get()


class MemoryBackend:
    """Channels within this process (any event loop, any thread).

    Under several worker processes each worker has its own channels, so a message
    reaches only the subscribers of the worker that published it. That is logged once
    per process: when the backend is used in a process forked after it was made, or
    when the WSGI server says it runs several processes (``wsgi.multiprocess``).
    """

    #: Always reachable: nothing is ever dropped.
    dropped = 0
    #: Logged once per process (see the class docstring).
    _warned_pid = 0

    def __init__(self) -> None:
        import os

        self._subs: dict[str, set[Subscription]] = {}
        self._pid = os.getpid()

    def _check_workers(self) -> None:
        import os
        import sys

        pid = os.getpid()
        if MemoryBackend._warned_pid == pid:
            return
        wsgi = sys.modules.get("lcore.wsgi")
        if pid != self._pid:
            why = f"in a process forked after it was made (pid {self._pid} -> {pid})"
        elif wsgi is not None and wsgi.multiprocess_server():
            why = "under a WSGI server that runs several worker processes (wsgi.multiprocess)"
        else:
            return
        MemoryBackend._warned_pid = pid
        _log.warning(
            "broadcast: the in-memory backend is used %s; each worker has its own channels, "
            "so messages do not reach subscribers in other workers. Use "
            "Broadcast('redis://host:6379/0') to share channels across workers.",
            why,
        )

    async def publish(self, channel: str, message: str | bytes) -> bool:
        self._check_workers()
        _encode(message)  # same type rules as Redis
        event = Event(channel, message)
        for sub in list(self._subs.get(channel, ())):
            sub._deliver(event)
        return True

    async def _add(self, sub: Subscription) -> None:
        self._check_workers()
        self._subs.setdefault(sub.channel, set()).add(sub)

    async def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]

    async def aclose(self) -> None:
        self._subs.clear()


class _RedisHub:
    """One event loop's pub/sub connection and its local subscribers."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend
        self.subs: dict[str, set[Subscription]] = {}
        self.confirmed: dict[str, anyio.Event] = {}
        self.pubsub: Any = None
        self.task: Task | None = None

    async def add(self, sub: Subscription) -> None:
        ch = sub.channel
        new = ch not in self.subs
        self.subs.setdefault(ch, set()).add(sub)
        if not new:
            return
        event = self.confirmed.setdefault(ch, anyio.Event())
        if self.task is None or self.task.done():
            self.task = spawn(self._run)
        elif self.pubsub is not None:
            try:
                await self.pubsub.subscribe(ch)
            except Exception:  # noqa: BLE001 - the reconnect loop subscribes it again
                pass
        # Wait until Redis confirmed, so a message published right after we return is ours.
        with anyio.move_on_after(self.backend.subscribe_timeout):
            await event.wait()
        if not event.is_set():
            _log.warning("Redis did not confirm the subscription to %r yet; it will resume", ch)

    async def remove(self, sub: Subscription) -> None:
        ch = sub.channel
        subs = self.subs.get(ch)
        if subs is None:
            return
        subs.discard(sub)
        if subs:
            return
        del self.subs[ch]
        self.confirmed.pop(ch, None)
        if not self.subs:
            await self.stop()
        elif self.pubsub is not None:
            try:
                await self.pubsub.unsubscribe(ch)
            except Exception:  # noqa: BLE001 - gone with the connection anyway
                pass

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await task.wait(shield=True)

    async def _run(self) -> None:
        import redis.asyncio as aioredis

        backend = self.backend
        delay = backend.reconnect_min
        while True:
            client = aioredis.from_url(backend.url, **backend.redis_options)
            pubsub = client.pubsub()
            try:
                channels = list(self.subs)
                if not channels:
                    return
                await pubsub.subscribe(*channels)
                self.pubsub = pubsub
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                    if msg is None:
                        continue
                    kind = msg["type"]
                    ch = msg["channel"]
                    ch = ch.decode("utf8") if isinstance(ch, bytes) else ch
                    if kind == "message":
                        event = Event(ch, _decode(msg["data"]))
                        for sub in list(self.subs.get(ch, ())):
                            sub._put(event)
                    elif kind == "subscribe":
                        delay = backend.reconnect_min
                        if ch in self.confirmed:
                            self.confirmed[ch].set()
            except Exception as exc:  # noqa: BLE001 - any Redis/network failure: reconnect
                _log.warning(
                    "broadcast: Redis pub/sub connection lost (%s); reconnecting in %.1fs",
                    exc,
                    delay,
                )
            finally:
                self.pubsub = None
                # anyio events cannot be cleared: a confirmed channel gets a new event and
                # waits for Redis to confirm it again (an unconfirmed one keeps its waiters).
                for key, ev in self.confirmed.items():
                    if ev.is_set():
                        self.confirmed[key] = anyio.Event()
                with anyio.CancelScope(shield=True):
                    await _quietly(pubsub.aclose())
                    await _quietly(client.aclose())
            await anyio.sleep(delay)
            delay = min(delay * 2, backend.reconnect_max)


async def _quietly(aw: Any) -> None:
    try:
        await aw
    except Exception:  # noqa: BLE001 - closing a broken connection
        pass


class _DropLog:
    """Counts messages dropped while Redis is unreachable; logs a WARNING per interval at most."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        #: Messages dropped since this backend was made.
        self.total = 0
        self._unlogged = 0
        self._since_ok = 0  # dropped since the last message that reached Redis
        self._last_log = float("-inf")
        self._lock = threading.Lock()  # publishers may run on several loops and threads

    def dropped(self, channel: str, exc: BaseException) -> None:
        with self._lock:
            self.total += 1
            self._since_ok += 1
            self._unlogged += 1
            now = monotonic()
            if now - self._last_log < self.interval:
                return
            self._last_log, count, self._unlogged = now, self._unlogged, 0
        _log.warning(
            "broadcast: Redis is unreachable (%s); dropped %d message(s), the last on %r. "
            "Messages published while Redis is down are lost.",
            exc,
            count,
            channel,
        )

    def reached(self) -> None:
        if not self._since_ok:
            return
        with self._lock:
            count, self._since_ok, self._unlogged = self._since_ok, 0, 0
            self._last_log = float("-inf")
        _log.warning(
            "broadcast: Redis is reachable again; %d message(s) were dropped meanwhile", count
        )


def _asyncio_loop() -> Any:
    """The running asyncio loop (redis.asyncio's clients are bound to it)."""
    require_asyncio(
        "Broadcast('redis://...')", "redis-py's async client is built on asyncio streams"
    )
    return current_loop().key


class RedisBackend:
    """Channels across processes and machines through Redis pub/sub (``redis.asyncio``)."""

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        subscribe_timeout: float = 5.0,
        drop_log_interval: float = 10.0,
        **redis_options: Any,
    ) -> None:
        from lcore._extras import require_installed

        require_installed("redis", "redis", "Broadcast's RedisBackend")  # fail now, not on publish
        self.url = url
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.subscribe_timeout = subscribe_timeout
        self.redis_options = redis_options
        self._drops = _DropLog(drop_log_interval)
        # Redis clients are bound to the loop that made them: one of each per loop.
        self._hubs: weakref.WeakKeyDictionary[Any, _RedisHub] = weakref.WeakKeyDictionary()
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def _hub(self) -> _RedisHub:
        loop = _asyncio_loop()
        hub = self._hubs.get(loop)
        if hub is None:
            hub = self._hubs[loop] = _RedisHub(self)
        return hub

    @property
    def dropped(self) -> int:
        """Messages dropped because Redis was unreachable (since this backend was made)."""
        return self._drops.total

    async def publish(self, channel: str, message: str | bytes) -> bool:
        """Publish; False (and a rate-limited WARNING) when Redis is unreachable."""
        import redis.asyncio as aioredis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        unreachable = (RedisConnectionError, RedisTimeoutError, OSError)
        payload = _encode(message)
        loop = _asyncio_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.from_url(self.url, **self.redis_options)
        try:
            await client.publish(channel, payload)
        except unreachable:
            # A connection broken by a Redis restart: one fresh try.
            try:
                await client.connection_pool.disconnect()
                await client.publish(channel, payload)
            except unreachable as exc:
                self._drops.dropped(channel, exc)
                return False
        self._drops.reached()
        return True

    async def _add(self, sub: Subscription) -> None:
        await self._hub().add(sub)

    async def _remove(self, sub: Subscription) -> None:
        await self._hub().remove(sub)

    async def aclose(self) -> None:
        """Close this loop's pub/sub connection and publishing client."""
        loop = _asyncio_loop()
        hub = self._hubs.pop(loop, None)
        if hub is not None:
            await hub.stop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await _quietly(client.aclose())


class Broadcast:
    """Publish/subscribe on named channels; ``url`` picks the backend.

    ``Broadcast()`` or ``Broadcast('memory://')``: in this process.
    ``Broadcast('redis://host:6379/0')``: across workers and machines; keywords go to
    :class:`RedisBackend` (``reconnect_min``, ``reconnect_max``, ``subscribe_timeout``,
    ``drop_log_interval``, and redis-py's own options).
    """

    def __init__(self, url: str = "memory://", *, max_buffer: int = 1000, **options: Any) -> None:
        if url.startswith("memory://"):
            self.backend: Any = MemoryBackend()
        elif url.startswith(("redis://", "rediss://", "unix://")):
            self.backend = RedisBackend(url, **options)
        else:
            raise ValueError(f"unknown broadcast backend URL {url!r} (memory:// or redis://)")
        self.max_buffer = max_buffer

    async def publish(self, channel: str, message: str | bytes) -> bool:
        """Send ``message`` (str or bytes) to every subscriber of ``channel``.

        Returns True once the message is on its way; False when the backend is
        unreachable (Redis down): the message is dropped and a WARNING logged, at most
        one per ``drop_log_interval`` seconds. It never raises for that.
        """
        return bool(await self.backend.publish(channel, message))

    @property
    def dropped(self) -> int:
        """Messages dropped because the backend was unreachable (0 for ``memory://``)."""
        return int(self.backend.dropped)

    def subscribe(self, channel: str) -> Subscription:
        """A subscription to ``channel`` (``async with`` it, or iterate it)."""
        return Subscription(self.backend, channel, self.max_buffer)

    async def aclose(self) -> None:
        """Release the backend's connections made on the current event loop."""
        await self.backend.aclose()
