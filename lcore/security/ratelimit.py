"""Rate limiting: ``@rate_limit(limit, per)`` with in-process or Redis-backed buckets."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import zlib
from collections import OrderedDict
from typing import Any

from .. import _bridge
from .._redis import RedisBacked
from ..context import _current_or_none
from ..response import HTTPError

__all__ = ["rate_limit", "RateLimitBackend", "MemoryRateLimitBackend", "RedisRateLimitBackend"]

_log = logging.getLogger("lcore.ratelimit")

_STRIPES = 64


class RateLimitBackend:
    """Where rate-limit counts live. Subclasses implement ``consume``.

    ``consume(key, limit, per) -> bool`` counts one request for ``key`` and says whether
    it is allowed (at most ``limit`` per ``per`` seconds); it must be atomic if several
    processes share the store. ``close()`` releases connections. A backend may also
    override ``hit`` to say how long a refused client should wait (``Retry-After``);
    by default that is ``per`` seconds. Set ``nonblocking = True`` on a backend whose
    calls never block, so ``async def`` handlers call it on the event loop directly.
    """

    nonblocking = False

    def consume(self, key: str, limit: int, per: float) -> bool:
        raise NotImplementedError

    def hit(self, key: str, limit: int, per: float) -> tuple[bool, float]:
        """Count one request: ``(allowed, seconds until the client may retry)``."""
        return bool(self.consume(key, limit, per)), float(per)

    def close(self) -> None:
        """Release resources (connections, pools)."""


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class MemoryRateLimitBackend(RateLimitBackend):
    """Token buckets in process memory (the default; per process, not shared).

    Each key's bucket holds ``limit`` tokens and refills at ``limit / per`` per second.
    Keys are spread over 64 stripes, each with its own lock and its own LRU order, so
    threads rarely wait on each other. At most ``max_buckets`` buckets are kept: when a
    stripe is full, buckets idle long enough to be full again are dropped first (they
    carry no information), then the least recently used ones.
    """

    nonblocking = True

    def __init__(self, max_buckets: int = 10000) -> None:
        if int(max_buckets) < 1:
            raise ValueError("max_buckets must be at least 1")
        self.max_buckets = int(max_buckets)
        n = min(_STRIPES, self.max_buckets)
        self._per_stripe = max(1, self.max_buckets // n)
        self._locks = [threading.Lock() for _ in range(n)]
        self._stripes: list[OrderedDict[str, _Bucket]] = [OrderedDict() for _ in range(n)]
        self._clock = time.monotonic

    def __len__(self) -> int:
        return sum(len(s) for s in self._stripes)

    def consume(self, key: str, limit: int, per: float) -> bool:
        return self.hit(key, limit, per)[0]

    def hit(self, key: str, limit: int, per: float) -> tuple[bool, float]:
        i = zlib.crc32(key.encode("utf8", "surrogatepass")) % len(self._stripes)
        rate = limit / per
        with self._locks[i]:
            stripe = self._stripes[i]
            now = self._clock()
            bucket = stripe.get(key)
            if bucket is None:
                if len(stripe) >= self._per_stripe:
                    self._evict(stripe, now, per)
                bucket = stripe[key] = _Bucket(float(limit), now)
            else:
                stripe.move_to_end(key)
                bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.stamp) * rate)
                bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - bucket.tokens) / rate

    def _evict(self, stripe: OrderedDict[str, _Bucket], now: float, per: float) -> None:
        stale = [k for k, b in stripe.items() if now - b.stamp >= per]
        for k in stale:
            del stripe[k]
        while len(stripe) >= self._per_stripe:
            stripe.popitem(last=False)

    def clear(self) -> None:
        """Forget every bucket."""
        for lock, stripe in zip(self._locks, self._stripes, strict=True):
            with lock:
                stripe.clear()


# INCR and PEXPIRE in one atomic step; returns the count and the window's time left (ms).
_LUA = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimitBackend(RedisBacked, RateLimitBackend):
    """Counts shared by every worker and machine through Redis (fixed windows).

    Each request runs one Lua script (``INCR`` plus ``PEXPIRE`` on the first hit of a
    window) in one round trip, so concurrent workers never race. The client
    (``redis-py``, imported on first use) and its connection pool are made lazily, on
    the first request, and again in a forked child, so a backend created at import time
    in a gunicorn master works in every worker. When Redis cannot be reached the request
    is allowed (fail open) and a warning is logged (at most every 30 s while it lasts),
    so a Redis outage does not take the app down. ``async def`` handlers call it in a
    worker thread, never blocking the event loop.
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379/0",
        prefix: str = "lcore:rl:",
        socket_connect_timeout: float = 2,
        health_check_interval: int = 30,
    ) -> None:
        super().__init__(
            redis_url,
            prefix,
            socket_connect_timeout,
            health_check_interval,
            logger=_log,
            what="rate limiting",
            feature="RedisRateLimitBackend",
        )

    @property
    def socket_connect_timeout(self) -> float:
        """Seconds to wait to connect to Redis, or for an answer."""
        return self._link.socket_timeout

    @property
    def health_check_interval(self) -> int:
        """Seconds a pooled connection may idle before it is checked."""
        return self._link.health_check_interval

    def hit(self, key: str, limit: int, per: float) -> tuple[bool, float]:
        window_ms = max(1, int(per * 1000))
        link = self._link
        try:
            r = link.client()
            count, ttl = link.script(r, _LUA)(keys=[self.prefix + key], args=[window_ms])
        except link.errors as e:
            # Any failure, an error Redis answered with included, fails open.
            link.failed(e, "allowing requests (fail open)")
            return True, 0.0
        link.succeeded()
        return int(count) <= limit, max(int(ttl), 0) / 1000.0

    def consume(self, key: str, limit: int, per: float) -> bool:
        return self.hit(key, limit, per)[0]


def _client_key(endpoint: str) -> str:
    c = _current_or_none()
    addr = None
    if c is not None:
        req = c.request
        addr = req.remote_addr
        route = c.route
        if route is not None:
            endpoint = f"{route.method} {req.script_name.rstrip('/')}{route.rule}"
    return f"{addr or '0.0.0.0'}:{endpoint}"


def _refuse(retry_after: float) -> HTTPError:
    seconds = max(1, math.ceil(retry_after))
    err = HTTPError(429, "Too Many Requests")
    err.set_header("Retry-After", str(seconds))
    return err


def rate_limit(
    limit: int, per: float = 60, max_buckets: int = 10000, backend: RateLimitBackend | None = None
) -> Any:
    """Allow each client at most ``limit`` requests per ``per`` seconds to a handler.

    Clients are told apart by ``request.remote_addr`` (after trusted-proxy handling;
    ``0.0.0.0`` when unknown), and each route has its own buckets. Over the limit the
    answer is ``429 Too Many Requests`` with ``Retry-After`` (seconds). The default
    backend is an in-process token bucket (per worker process; at most ``max_buckets``
    clients tracked); pass ``backend=RedisRateLimitBackend(...)`` (or any
    :class:`RateLimitBackend`) to share the limit across workers. Works on ``def`` and
    ``async def`` handlers.
    """
    if int(limit) < 1:
        raise ValueError("limit must be at least 1")
    if per <= 0:
        raise ValueError("per must be a positive number of seconds")
    store = backend if backend is not None else MemoryRateLimitBackend(max_buckets)
    nonblocking = bool(getattr(store, "nonblocking", False))
    limit = int(limit)

    def decorator(func: Any) -> Any:
        endpoint = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"

        if _bridge.is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*a: Any, **ka: Any) -> Any:
                key = _client_key(endpoint)
                if nonblocking:
                    allowed, retry = store.hit(key, limit, per)
                else:
                    allowed, retry = await _bridge.run_sync(
                        _current_or_none(), store.hit, key, limit, per
                    )
                if not allowed:
                    raise _refuse(retry)
                return await func(*a, **ka)

            async_wrapper.__lcore_rate_limit__ = {"limit": limit, "per": per}  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*a: Any, **ka: Any) -> Any:
            allowed, retry = store.hit(_client_key(endpoint), limit, per)
            if not allowed:
                raise _refuse(retry)
            return func(*a, **ka)

        wrapper.__lcore_rate_limit__ = {"limit": limit, "per": per}  # type: ignore[attr-defined]
        return wrapper

    return decorator
