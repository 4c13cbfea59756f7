"""One lazily made, fork-safe Redis client for the batteries that keep state in Redis.

Sessions, the cache and rate limiting share this: ``redis-py`` is imported on first use
(never at ``import lcore``, nor when a backend is made), the client and its pool are made on the first call and made again in
a forked child (a gunicorn worker must not reuse its master's sockets), failures are
answered at once (no retries while a request waits), and an outage is logged once per
``warn_every`` seconds with the password masked, plus one line when Redis is back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any


class RedisLink:
    """A sync ``redis.Redis`` client made on first use, again after a fork."""

    def __init__(
        self,
        url: str,
        *,
        logger: logging.Logger,
        what: str,
        socket_timeout: float = 2.0,
        health_check_interval: int = 30,
        warn_every: float = 30.0,
        feature: str | None = None,
    ) -> None:
        from ._extras import require_installed

        # Fail when the object is made, not on a request; the import waits for first use.
        require_installed("redis", "redis", feature or what)
        self.url = url
        self.socket_timeout = socket_timeout
        self.health_check_interval = health_check_interval
        self.warn_every = warn_every
        self._log = logger
        self._what = what
        self._client: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._last_warning = 0.0
        self._failing = False
        self._scripts: dict[str, Any] = {}
        #: What a failed call raises: redis errors and OSError (filled on first use).
        self.errors: tuple[type[BaseException], ...] = (OSError,)

    def client(self) -> Any:
        """The client for this process (made now if needed)."""
        pid = os.getpid()
        if self._pid != pid:
            # Forked: the parent's sockets and a lock held at fork time stay with it.
            self._lock = threading.Lock()
            self._client = None
            self._pid = pid
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self.errors = (redis.RedisError, OSError)
                self._client = redis.Redis.from_url(
                    self.url,
                    socket_connect_timeout=self.socket_timeout,
                    socket_timeout=self.socket_timeout,
                    health_check_interval=self.health_check_interval,
                    retry=Retry(NoBackoff(), 0),
                )
            return self._client

    def script(self, client: Any, source: str) -> Any:
        """The Lua script ``source`` registered with ``client`` (once per client)."""
        script = self._scripts.get(source)
        if script is None or script.registered_client is not client:
            script = self._scripts[source] = client.register_script(source)
        return script

    def run(self, fn: Any, consequence: str, unavailable: type[Exception]) -> Any:
        """``fn(client)``; an outage is logged and raised as ``unavailable``.

        An error Redis answered with (``ResponseError``: a wrong type, a script error) is
        not an outage: it is raised as it is.
        """
        try:
            out = fn(self.client())
        except self.errors as e:
            import redis

            if isinstance(e, redis.ResponseError):
                raise
            self.failed(e, consequence)
            raise unavailable(str(e)) from e
        self.succeeded()
        return out

    def safe_url(self) -> str:
        """The URL with any password masked (for logs)."""
        url = self.url
        if "@" in url:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return url

    def failed(self, exc: BaseException, consequence: str) -> None:
        """Log that Redis is unreachable (at most once per ``warn_every`` seconds)."""
        now = time.monotonic()
        if not self._failing or now - self._last_warning >= self.warn_every:
            self._last_warning = now
            self._log.warning(
                "%s: Redis at %s unreachable (%s: %s); %s",
                self._what,
                self.safe_url(),
                type(exc).__name__,
                exc,
                consequence,
            )
        self._failing = True

    def succeeded(self) -> None:
        """Note a call that worked (logs once when Redis is back after failures)."""
        if self._failing:
            self._failing = False
            self._log.warning("%s: Redis at %s is reachable again", self._what, self.safe_url())

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except self.errors:  # pragma: no cover - best effort
                pass


class RedisBacked:
    """Base of the Redis batteries: keys under ``prefix``, one :class:`RedisLink`."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        socket_timeout: float,
        health_check_interval: int,
        *,
        logger: logging.Logger,
        what: str,
        feature: str | None = None,
    ) -> None:
        self.prefix = prefix
        self._link = RedisLink(
            redis_url,
            logger=logger,
            what=what,
            socket_timeout=socket_timeout,
            health_check_interval=health_check_interval,
            feature=feature,
        )

    @property
    def redis_url(self) -> str:
        """The Redis server's URL."""
        return self._link.url

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        self._link.close()
