"""BodyLimitMiddleware: refuse request bodies larger than ``max_size`` bytes (413)."""

from __future__ import annotations

from typing import Any

from ..response import HTTPError
from .base import MiddlewareHook

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware(MiddlewareHook):
    """Answer ``413 Payload Too Large`` for bodies over ``max_size`` bytes (default 10 MiB).

    A declared ``Content-Length`` over the limit is refused before routing and before a
    byte of the body is read. Chunked or otherwise undeclared bodies are counted while
    they are read (``request.body``, ``json``, ``forms``, ``files`` and
    ``request.stream()`` all obey the one limit): reading past it raises the 413. A limit
    set lower by other code for this request is kept.
    """

    name = "body_limit"
    order = 0
    phase = "pre"
    _lcore_nonblocking = True

    def __init__(self, max_size: int = 10 * 1024 * 1024) -> None:
        if int(max_size) < 0:
            raise ValueError("max_size must not be negative")
        self.max_size = int(max_size)

    def pre(self, ctx: Any) -> Any:
        req = ctx.request
        limit = self.max_size
        if req.content_length > limit:
            return HTTPError(413, "Request body too large.")
        current = req.max_body
        if current is None or current > limit:
            # 0 would mean "no limit" to the request; -1 never admits a byte.
            req.max_body = limit if limit > 0 else -1
        return None
