"""TimeoutMiddleware: answer 503 when a handler takes longer than ``timeout`` seconds."""

from __future__ import annotations

import logging
import time
from typing import Any

from .. import _bridge
from ..response import HTTPError
from .base import Middleware

__all__ = ["TimeoutMiddleware"]

_log = logging.getLogger("lcore.timeout")


class TimeoutMiddleware(Middleware):
    """Answer ``503 Service Unavailable`` when a handler runs past ``timeout`` seconds.

    An ``async def`` handler is cancelled at the deadline. A ``def`` handler runs in one
    of lcore's worker threads (``lcore.concurrency``, like every other hop between
    threads and loops: it reads the request body and calls async code as it would
    without this middleware) while the request waits for it; at the deadline the
    request is answered 503 at once. Python cannot kill a thread, so the handler keeps
    running and keeps its slot until it returns (its result is discarded);
    ``ctx.timed_out`` becomes True, which a long handler can check to stop early. At
    most ``max_workers`` ``def`` handlers (default: lcore's worker-thread limit, 64) run
    under one middleware at once, abandoned ones included; further requests wait for a
    slot and are answered 503 at their own deadline without ever starting. The deadline
    covers producing the response, not streaming a generator body.
    """

    name = "timeout"
    order = -5
    phase = "post"

    def __init__(self, timeout: float = 30, max_workers: int | None = None) -> None:
        if not timeout or float(timeout) <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_workers is not None and int(max_workers) < 1:
            raise ValueError("max_workers must be at least 1")
        self.timeout = float(timeout)
        self.max_workers = int(max_workers) if max_workers else None

    def _expired(self, ctx: Any) -> HTTPError:
        ctx.timed_out = True
        req = ctx.request
        _log.warning(
            "%s %s timed out after %.3g s; answered 503", req.method, req.path, self.timeout
        )
        return HTTPError(503, "Request timed out.")

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        ctx.timeout_deadline = time.monotonic() + self.timeout
        finished, result = _bridge.call_with_timeout(
            ctx, self.timeout, self, self.max_workers, next_handler, ctx
        )
        if finished:
            return result
        return self._expired(ctx)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        ctx.timeout_deadline = time.monotonic() + self.timeout
        finished, result = await _bridge.with_timeout(self.timeout, next_handler, ctx)
        if finished:
            return result
        return self._expired(ctx)
