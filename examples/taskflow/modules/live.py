"""Live updates: task events fanned out to the clients watching a project.

Handlers publish with ``hub.publish(project_id, kind, **data)`` from any thread; the SSE
endpoint (``GET /api/projects/<id>/events``) and the WebSocket endpoint
(``/ws/projects/<id>``) iterate ``hub.subscribe(project_id)``.

In one process a small in-memory hub delivers each event to every subscriber's queue.
With ``TASKFLOW_REDIS_URL`` set, events go through Redis pub/sub instead, so a client
connected to one worker (or machine) sees changes made through any other.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator


def channel(project_id: int) -> str:
    return f"taskflow:project:{project_id}"


class LiveHub:
    """Publish task events; subscribe to a project's events as an async iterator."""

    def __init__(self, redis_url: str = '', heartbeat: float | None = None):
        self.redis_url = redis_url
        self.heartbeat = heartbeat  # None: wait for events; else yield None when idle this long
        self._subscribers: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}
        self._lock = threading.Lock()
        self._redis = None

    @property
    def backend(self) -> str:
        return 'redis' if self.redis_url else 'memory'

    def publish(self, project_id: int, kind: str, **data) -> dict:
        """Send an event to the project's watchers; callable from any thread."""
        event = {'type': kind, 'project_id': project_id, 'at': time.time(), **data}
        message = json.dumps(event, default=str)
        if self.redis_url:
            self._sync_redis().publish(channel(project_id), message)
        else:
            self._deliver(project_id, message)
        return event

    def _sync_redis(self):
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        return self._redis

    def close(self) -> None:
        """Close the Redis connection used for publishing (at shutdown)."""
        client, self._redis = self._redis, None
        if client is not None:
            client.close()

    def _deliver(self, project_id: int, message: str) -> None:
        with self._lock:
            targets = list(self._subscribers.get(project_id, ()))
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # that subscriber's loop is gone
                pass

    def subscriber_count(self, project_id: int | None = None) -> int:
        """Clients of this process watching ``project_id`` (or any project)."""
        with self._lock:
            if project_id is None:
                return sum(len(s) for s in self._subscribers.values())
            return len(self._subscribers.get(project_id, ()))

    async def subscribe(self, project_id: int) -> AsyncIterator[str | None]:
        """Yield ``''`` once subscribed, then each event as JSON (None when idle a heartbeat)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        entry = (loop, queue)
        with self._lock:
            self._subscribers.setdefault(project_id, set()).add(entry)
        try:
            if self.redis_url:
                # Redis delivers; the local registration only counts the watchers.
                async for item in self._subscribe_redis(project_id):
                    yield item
                return
            yield ''
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), self.heartbeat)
                except asyncio.TimeoutError:
                    yield None
        finally:
            with self._lock:
                self._subscribers.get(project_id, set()).discard(entry)

    async def _subscribe_redis(self, project_id: int) -> AsyncIterator[str | None]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel(project_id))
            yield ''
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True,
                                               timeout=self.heartbeat)
                if msg is None:
                    if self.heartbeat is not None:
                        yield None
                elif msg.get('type') == 'message':
                    data = msg['data']
                    yield data.decode() if isinstance(data, bytes) else data
        finally:
            await pubsub.aclose()
            await client.aclose()


# The process-wide hub; app.py sets its Redis URL from the config.
hub = LiveHub()
