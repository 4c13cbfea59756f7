"""Caching: ``Cache`` (in-process or Redis), ``@cached`` with single flight, and
``cache_control()`` for HTTP caches. See docs/cache.md.

(``ConditionalGetMiddleware``, which answers ``If-None-Match`` with 304, lives in
``lcore.middleware.conditional``.)
"""

from .backends import CacheBackend, CacheUnavailable, MemoryCacheBackend, RedisCacheBackend
from .core import Cache
from .decorator import cached
from .http import cache_control

__all__ = [
    "Cache",
    "CacheBackend",
    "MemoryCacheBackend",
    "RedisCacheBackend",
    "CacheUnavailable",
    "cached",
    "cache_control",
]
