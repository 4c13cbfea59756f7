"""Where session data lives: in the signed cookie, in process memory, or in Redis."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from .._redis import RedisBacked
from .._utils import json_dumps
from ..response import HTTPError

__all__ = [
    "SessionStore",
    "CookieSessionStore",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionUnavailable",
]

_log = logging.getLogger("lcore.sessions")


class SessionUnavailable(HTTPError):
    """The session store cannot be reached: answered ``503 Service Unavailable``.

    Raised by a store's ``load``/``save``/``delete``. ``SessionMiddleware`` answers the
    request with it (``on_unavailable='error'``, the default) or goes on with an empty
    session (``on_unavailable='empty'``).
    """

    def __init__(
        self, reason: str = "Session store unavailable.", exception: BaseException | None = None
    ) -> None:
        super().__init__(503, reason, exception)
        self.set_header("Retry-After", "5")


class _Down(SessionUnavailable):
    """SessionUnavailable as ``RedisLink.run`` raises it: the Redis error (which names
    internal addresses) is its cause, never its body."""

    def __init__(self, _message: str) -> None:
        super().__init__()


class SessionStore:
    """Base class of server-side session stores: data by session id, with a TTL.

    ``load(sid)`` returns the stored dict or None; ``save(sid, data, ttl)`` stores it
    for ``ttl`` seconds; ``delete(*sids)`` forgets them. A store that cannot reach its
    backend raises :class:`SessionUnavailable`. Set ``nonblocking = True`` on a store
    whose calls never block (they then run on the event loop); the others are called
    in a worker thread from async code. ``close()`` releases connections.
    """

    #: True for the cookie store: the data travels in the cookie, not here.
    in_cookie = False
    nonblocking = False

    def load(self, sid: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def save(self, sid: str, data: dict[str, Any], ttl: int) -> None:
        raise NotImplementedError

    def delete(self, *sids: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (connections, pools)."""


class CookieSessionStore(SessionStore):
    """The data itself, signed, in the session cookie (the default store).

    Nothing is kept on the server, so every worker and machine that shares the secret
    reads the same session. The client can read the data (base64 JSON) but not change
    it; keep secrets out of it, and keep it small: a cookie holds about 4 KB, and a
    session that does not fit is an error when it is saved.
    """

    in_cookie = True
    nonblocking = True

    def load(self, sid: str) -> dict[str, Any] | None:  # pragma: no cover - not called
        return None

    def save(self, sid: str, data: dict[str, Any], ttl: int) -> None:
        pass

    def delete(self, *sids: str) -> None:
        pass


class MemorySessionStore(SessionStore):
    """Sessions in this process's memory (development and tests; one process only).

    At most ``max_sessions`` are kept; past that the least recently used goes. A
    restart forgets every session, and other worker processes do not see them.
    """

    nonblocking = True

    def __init__(self, max_sessions: int = 10000) -> None:
        if int(max_sessions) < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = int(max_sessions)
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def load(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(sid)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._items[sid]
                return None
            self._items.move_to_end(sid)
        # Stored as JSON text, so a session reads back as it would from Redis.
        data: dict[str, Any] = json.loads(item[1])
        return data

    def save(self, sid: str, data: dict[str, Any], ttl: int) -> None:
        text = json_dumps(data)
        with self._lock:
            self._items[sid] = (time.monotonic() + ttl, text)
            self._items.move_to_end(sid)
            while len(self._items) > self.max_sessions:
                self._items.popitem(last=False)

    def delete(self, *sids: str) -> None:
        with self._lock:
            for sid in sids:
                self._items.pop(sid, None)


class RedisSessionStore(RedisBacked, SessionStore):
    """Sessions in Redis, shared by every worker and machine (``SET`` with ``EX``).

    The session cookie carries only the signed id; the data is JSON under
    ``prefix + id`` and expires ``max_age`` seconds after it was last saved. The client
    (``redis-py``) is made on first use and again in a forked worker. When Redis cannot
    be reached, ``load``/``save``/``delete`` raise :class:`SessionUnavailable` at once
    (no retry) and a warning is logged to ``lcore.sessions`` (once per 30 s while it
    lasts, the URL's password masked); what the request then gets is
    ``SessionMiddleware``'s ``on_unavailable``.
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379/0",
        prefix: str = "lcore:session:",
        socket_timeout: float = 2,
        health_check_interval: int = 30,
    ) -> None:
        super().__init__(
            redis_url, prefix, socket_timeout, health_check_interval, logger=_log, what="sessions"
        )

    def _call(self, fn: Any) -> Any:
        return self._link.run(fn, "sessions cannot be read or saved", _Down)

    def load(self, sid: str) -> dict[str, Any] | None:
        raw = self._call(lambda r: r.get(self.prefix + sid))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            _log.warning(
                "sessions: unreadable data under %s%s ignored", self.prefix, sid[:6] + "..."
            )
            return None
        return data if isinstance(data, dict) else None

    def save(self, sid: str, data: dict[str, Any], ttl: int) -> None:
        text = json_dumps(data)
        self._call(lambda r: r.set(self.prefix + sid, text, ex=max(1, int(ttl))))

    def delete(self, *sids: str) -> None:
        if sids:
            self._call(lambda r: r.delete(*(self.prefix + s for s in sids)))
