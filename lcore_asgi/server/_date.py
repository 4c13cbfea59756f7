"""The ``Date`` header value, formatted at most once a second."""

from __future__ import annotations

from email.utils import formatdate
from time import time

__all__ = ["http_date"]

_cache: list = [0, b""]


def http_date() -> bytes:
    """Return the current IMF-fixdate as bytes, cached for the current second."""
    # PERF: a module-level list and one int() per call instead of formatting per response.
    now = int(time())
    if now != _cache[0]:
        _cache[0] = now
        _cache[1] = formatdate(now, usegmt=True).encode("ascii")
    return _cache[1]
