"""Live updates: task events fanned out to the clients watching a project.

Handlers call ``hub.publish(project_id, kind, **data)``; the SSE endpoint
(``GET /api/projects/<id>/events``) and the WebSocket endpoint (``/ws/projects/<id>``)
iterate ``hub.subscribe(project_id)``.

The fan-out is ``lcore_ws.Broadcast``: in-process by default, Redis pub/sub when
``TASKFLOW_REDIS_URL`` is set, so a client connected to one worker (or machine) sees
changes made through any other.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator

from lcore import ctx
from lcore_ws import Broadcast


def channel(project_id: int) -> str:
    return f"taskflow:project:{project_id}"


class LiveHub:
    """Publish task events; subscribe to a project's events as an async iterator."""

    def __init__(self, redis_url: str = ''):
        self.configure(redis_url)
        self._watchers: dict[int, int] = {}
        self._lock = threading.Lock()

    def configure(self, redis_url: str = '') -> None:
        """Use Redis pub/sub at ``redis_url``, or this process only when it is empty."""
        self.redis_url = redis_url
        self.broadcast = Broadcast(redis_url or 'memory://')

    @property
    def backend(self) -> str:
        return 'redis' if self.redis_url else 'memory'

    def publish(self, project_id: int, kind: str, **data) -> dict:
        """Queue an event for the project's watchers; it goes out once the response is sent.

        ``ctx.after_response`` runs the async ``Broadcast.publish`` on the server's event
        loop (ASGI) or on lcore's persistent loop (WSGI), so sync handlers can publish.
        """
        event = {'type': kind, 'project_id': project_id, 'at': time.time(), **data}
        message = json.dumps(event, default=str)
        ctx.after_response(self.broadcast.publish, channel(project_id), message)
        return event

    def subscriber_count(self, project_id: int | None = None) -> int:
        """Clients of this process watching ``project_id`` (or any project)."""
        with self._lock:
            if project_id is None:
                return sum(self._watchers.values())
            return self._watchers.get(project_id, 0)

    async def subscribe(self, project_id: int) -> AsyncIterator[str]:
        """Yield ``''`` once subscribed, then each event of the project (JSON text)."""
        with self._lock:
            self._watchers[project_id] = self._watchers.get(project_id, 0) + 1
        try:
            async with self.broadcast.subscribe(channel(project_id)) as subscription:
                yield ''
                async for event in subscription:
                    yield event.message
        finally:
            with self._lock:
                self._watchers[project_id] -= 1


# The process-wide hub; app.py points it at Redis when the config names one.
hub = LiveHub()
