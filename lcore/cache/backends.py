"""Where cached values live: process memory (TTL + LRU bound) or Redis (shared)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from .._redis import RedisBacked

__all__ = ["CacheBackend", "MemoryCacheBackend", "RedisCacheBackend", "CacheUnavailable"]

_log = logging.getLogger("lcore.cache")


class CacheUnavailable(ConnectionError):
    """The cache's store cannot be reached (only ``incr`` lets it through; see ``Cache``)."""


class CacheBackend:
    """Base class of cache stores. Values arrive encoded (bytes); keys are strings.

    ``get_many(keys)`` returns one ``bytes | None`` per key; ``set_many(items, ttl)``
    stores them for ``ttl`` seconds (None: no expiry); ``delete(key)`` says whether
    something was deleted; ``incr(key, delta, ttl)`` adds atomically to an integer
    (created at 0, with ``ttl``, when missing; ValueError when the value is not an
    integer); ``clear()`` empties it. A store that cannot be reached raises
    :class:`CacheUnavailable`. Set ``nonblocking = True`` when calls never block (async
    code then calls them on the event loop; otherwise in a worker thread).
    """

    nonblocking = False

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        raise NotImplementedError

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> bool:
        raise NotImplementedError

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (connections, pools)."""


def _as_int(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("cache value is not an integer; incr() needs one") from None


class MemoryCacheBackend(CacheBackend):
    """Values in this process's memory: each with its TTL, at most ``max_entries``.

    When full, the least recently used entry goes. Expired entries are dropped when
    they are next read. Every worker process has its own.
    """

    nonblocking = True

    def __init__(self, max_entries: int = 10000) -> None:
        if int(max_entries) < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = int(max_entries)
        self._items: OrderedDict[str, tuple[float | None, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = time.monotonic

    def __len__(self) -> int:
        return len(self._items)

    def _live(self, key: str, now: float) -> tuple[float | None, bytes] | None:
        # Called with the lock held.
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] is not None and item[0] <= now:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item

    def _put(self, key: str, expires: float | None, raw: bytes) -> None:
        items = self._items
        items[key] = (expires, raw)
        items.move_to_end(key)
        while len(items) > self.max_entries:
            items.popitem(last=False)

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        now = self._clock()
        with self._lock:
            out = []
            for key in keys:
                item = self._live(key, now)
                out.append(None if item is None else item[1])
            return out

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        with self._lock:
            for key, raw in items.items():
                self._put(key, expires, raw)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        now = self._clock()
        with self._lock:
            item = self._live(key, now)
            if item is None:
                value, expires = delta, (None if ttl is None else now + ttl)
            else:
                value, expires = _as_int(item[1]) + delta, item[0]
            self._put(key, expires, str(value).encode("ascii"))
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# INCRBY, and a TTL on the key only when this call created it; one round trip, atomic.
_INCR = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


class RedisCacheBackend(RedisBacked, CacheBackend):
    """Values in Redis under ``prefix + key``, shared by every worker and machine.

    ``SET`` with ``PX`` for TTLs, ``MGET`` for ``get_many``, one Lua script for
    ``incr``. The client (``redis-py``) is made on first use and again in a forked
    worker. A call that cannot reach Redis fails at once (no retry) with
    :class:`CacheUnavailable`, and a warning goes to ``lcore.cache`` (once per 30 s while
    it lasts, the URL's password masked); see ``Cache`` for what callers then get.
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379/0",
        prefix: str = "lcore:cache:",
        socket_timeout: float = 2,
        health_check_interval: int = 30,
    ) -> None:
        super().__init__(
            redis_url, prefix, socket_timeout, health_check_interval, logger=_log, what="cache"
        )

    def _call(self, fn: Any) -> Any:
        import redis

        try:
            return self._link.run(
                fn,
                "reads miss, writes are skipped, incr() raises CacheUnavailable",
                CacheUnavailable,
            )
        except redis.ResponseError as e:  # Redis answered (not an integer, say)
            raise ValueError(f"cache: {e}") from None

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        p = self.prefix
        return self._call(lambda r: r.mget([p + k for k in keys]))

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        p = self.prefix

        def run(r: Any) -> None:
            if len(items) == 1:
                ((key, raw),) = items.items()
                r.set(p + key, raw, px=px)
                return
            pipe = r.pipeline(transaction=False)
            for key, raw in items.items():
                pipe.set(p + key, raw, px=px)
            pipe.execute()

        self._call(run)

    def delete(self, key: str) -> bool:
        return bool(self._call(lambda r: r.delete(self.prefix + key)))

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        px = 0 if ttl is None else max(1, int(ttl * 1000))

        def run(r: Any) -> int:
            script = self._link.script(r, _INCR)
            return int(script(keys=[self.prefix + key], args=[int(delta), px]))

        return self._call(run)

    def clear(self) -> None:
        """Delete every key under ``prefix`` (SCAN + UNLINK, in batches)."""
        pattern = _glob_escape(self.prefix) + "*"

        def run(r: Any) -> None:
            batch: list[Any] = []
            for key in r.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    r.unlink(*batch)
                    batch = []
            if batch:
                r.unlink(*batch)

        self._call(run)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _keys(keys: Iterable[str]) -> list[str]:
    out = list(keys)
    for key in out:
        if not isinstance(key, str):
            raise TypeError(f"cache keys are strings, not {type(key).__name__}")
    return out
