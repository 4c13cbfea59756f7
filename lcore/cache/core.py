"""``Cache``: get/set/delete/get_many/incr with TTLs, sync and async, on any backend."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .. import _bridge
from .._utils import json_dumps
from ..context import _current_or_none
from .backends import CacheBackend, CacheUnavailable, MemoryCacheBackend, _keys

__all__ = ["Cache"]

_MISSING: Any = object()


def encode(value: Any) -> bytes:
    """The stored form of ``value`` (TypeError when it cannot be cached).

    Integers are plain digits (so ``incr`` and Redis's ``INCRBY`` work on them), text
    and bytes are kept as they are, anything else is JSON.
    """
    t = type(value)
    if t is int:
        return str(value).encode("ascii")
    if t is str:
        return b"s:" + value.encode("utf8", "surrogatepass")
    if t is bytes:
        return b"b:" + value
    try:
        return b"j:" + json_dumps(value).encode("utf8")
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"cannot cache a {t.__name__}: values must be JSON, str or bytes ({e})"
        ) from None


def decode(raw: bytes) -> Any:
    """The value ``raw`` (made by :func:`encode`) stands for."""
    tag = raw[:2]
    if tag == b"s:":
        return raw[2:].decode("utf8", "surrogatepass")
    if tag == b"b:":
        return bytes(raw[2:])
    if tag == b"j:":
        return json.loads(raw[2:])
    return int(raw)


class Cache:
    """A cache with TTLs over a backend: in-process by default, Redis to share it.

    ``get``/``has``/``set``/``delete``/``get_many``/``set_many``/``incr``/``clear`` block;
    ``aget``/``ahas``/``aset``/``adelete``/``aget_many``/``aset_many``/``aincr``/``aclear`` are
    the same calls for async code (run in a worker thread when the backend may block,
    so the event loop never waits on Redis).

    Values are ints, str, bytes, or anything JSON can hold; they come back as JSON gives
    them (a tuple as a list), the same from every backend. ``ttl`` is in seconds: None
    uses ``default_ttl``, 0 means no expiry.

    When a Redis backend cannot be reached, reads miss (``get`` returns the default),
    writes and deletes are skipped, and ``incr`` raises :class:`CacheUnavailable`
    (there is no sensible count to return); the backend logs a warning. An app keeps
    working, only slower, while Redis is down.
    """

    def __init__(
        self, backend: CacheBackend | None = None, *, default_ttl: float | None = 300
    ) -> None:
        self.backend = backend if backend is not None else MemoryCacheBackend()
        self.default_ttl = self._ttl(default_ttl, None)

    @staticmethod
    def _ttl(ttl: float | None, default: float | None) -> float | None:
        if ttl is None:
            return default
        if ttl < 0:
            raise ValueError("ttl must be a number of seconds (0: no expiry), not negative")
        return None if ttl == 0 else float(ttl)

    # -- blocking calls -------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        """The value cached under ``key``, or ``default``."""
        try:
            (raw,) = self.backend.get_many(_keys((key,)))
        except CacheUnavailable:
            return default
        return default if raw is None else decode(raw)

    def has(self, key: str) -> bool:
        """True when ``key`` is cached (and not expired)."""
        return self.get(key, _MISSING) is not _MISSING

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """``{key: value}`` for the keys that are cached (one round trip)."""
        keys = _keys(keys)
        try:
            raws = self.backend.get_many(keys)
        except CacheUnavailable:
            return {}
        return {k: decode(raw) for k, raw in zip(keys, raws, strict=True) if raw is not None}

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds."""
        self.set_many({key: value}, ttl)

    def set_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """Cache every ``key: value`` of ``items`` for ``ttl`` seconds."""
        encoded = {k: encode(v) for k, v in zip(_keys(items), items.values(), strict=True)}
        if not encoded:
            return
        try:
            self.backend.set_many(encoded, self._ttl(ttl, self.default_ttl))
        except CacheUnavailable:
            pass

    def delete(self, key: str) -> bool:
        """Forget ``key``; True when it was cached."""
        try:
            return self.backend.delete(_keys((key,))[0])
        except CacheUnavailable:
            return False

    def incr(self, key: str, delta: int = 1, ttl: float | None = None) -> int:
        """Add ``delta`` to the integer under ``key`` atomically and return the result.

        A missing key starts at 0 and expires after ``ttl``; an existing one keeps its
        expiry. ValueError when the cached value is not an integer; CacheUnavailable when
        the backend cannot be reached.
        """
        if type(delta) is not int:
            raise TypeError("delta must be an int")
        return self.backend.incr(_keys((key,))[0], delta, self._ttl(ttl, self.default_ttl))

    def clear(self) -> None:
        """Forget everything in this cache (for Redis: every key under its prefix)."""
        try:
            self.backend.clear()
        except CacheUnavailable:
            pass

    # -- the same calls for async code ------------------------------------------------
    async def _run(self, fn: Any, *args: Any) -> Any:
        if self.backend.nonblocking:
            return fn(*args)
        return await _bridge.run_sync(_current_or_none(), fn, *args)

    async def aget(self, key: str, default: Any = None) -> Any:
        """:meth:`get` for async code."""
        return await self._run(self.get, key, default)

    async def ahas(self, key: str) -> bool:
        """:meth:`has` for async code."""
        return await self._run(self.has, key)

    async def aget_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """:meth:`get_many` for async code."""
        return await self._run(self.get_many, list(keys))

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        """:meth:`set` for async code."""
        await self._run(self.set, key, value, ttl)

    async def aset_many(self, items: Mapping[str, Any], ttl: float | None = None) -> None:
        """:meth:`set_many` for async code."""
        await self._run(self.set_many, items, ttl)

    async def adelete(self, key: str) -> bool:
        """:meth:`delete` for async code."""
        return await self._run(self.delete, key)

    async def aincr(self, key: str, delta: int = 1, ttl: float | None = None) -> int:
        """:meth:`incr` for async code."""
        return await self._run(self.incr, key, delta, ttl)

    async def aclear(self) -> None:
        """:meth:`clear` for async code."""
        await self._run(self.clear)

    def close(self) -> None:
        """Close the backend's connections."""
        self.backend.close()

    def __repr__(self) -> str:
        return f"<Cache {type(self.backend).__name__} default_ttl={self.default_ttl}>"
