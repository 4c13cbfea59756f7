"""RequestLoggerMiddleware: one JSON access-log line per request."""

from __future__ import annotations

import logging
import time
from typing import Any

from .._utils import json_dumps_ascii
from ._util import aobserved, observed, status_of
from .base import Middleware

__all__ = ["RequestLoggerMiddleware"]

_second: tuple[int, str] = (-1, "")


def _utc_timestamp() -> str:
    """Now in UTC, ISO 8601 with milliseconds (``2026-01-02T03:04:05.678+00:00``).

    PERF: the part up to the second is formatted once per second, not per request.
    """
    global _second
    now = time.time()
    sec = int(now)
    cached = _second  # one read: another thread may replace it, never half of it
    if cached[0] == sec:
        prefix = cached[1]
    else:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _second = (sec, prefix)
    return f"{prefix}.{int((now - sec) * 1000):03d}+00:00"


class RequestLoggerMiddleware(Middleware):
    """Log one JSON object per request on ``logger`` (default ``lcore.access``, INFO).

    Keys: ``timestamp`` (UTC, ISO 8601), ``request_id``, ``method``, ``path``,
    ``status``, ``duration_ms`` and ``remote_addr``. Errors are logged too: an
    ``HTTPError`` with its status, an unhandled exception as 500, a request answered 503
    by :class:`TimeoutMiddleware` as 503. ``duration_ms`` is the time to produce the
    response (a streamed body may take longer to send). ``logger`` may be a
    ``logging.Logger`` or a logger name.
    """

    name = "request_logger"
    order = 2
    phase = "post"

    def __init__(self, logger: logging.Logger | str | None = None) -> None:
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or "lcore.access")
        self.logger = logger

    def _status(self, ctx: Any, result: Any) -> int:
        if ctx.get("timed_out"):
            return 503
        return status_of(ctx, result)

    def _emit(self, ctx: Any, status: int, start: float) -> None:
        req = ctx.request
        record = {
            "timestamp": _utc_timestamp(),
            "request_id": ctx.request_id,
            "method": req.method,
            "path": req.fullpath,
            "status": status,
            "duration_ms": round((time.perf_counter() - start) * 1000.0, 3),
            "remote_addr": req.remote_addr,
        }
        # Called only when the logger takes INFO (__call__/acall checked it first).
        # PERF: a record made directly skips logging's caller lookup (a walk up the
        # stack, the dearest part of a log call); the caller is always this line.
        logger = self.logger
        logger.handle(
            logger.makeRecord(
                logger.name,
                logging.INFO,
                __file__,
                0,
                json_dumps_ascii(record),
                None,  # type: ignore[arg-type]
                None,
                "_emit",
            )
        )

    def _cancelled_status(self, ctx: Any) -> int:
        deadline = ctx.get("timeout_deadline")
        # Cancelled at a TimeoutMiddleware deadline: answered 503; otherwise the client
        # or the server went away (499, as nginx logs it).
        return 503 if deadline is not None and time.monotonic() >= deadline else 499

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        if not self.logger.isEnabledFor(logging.INFO):
            return next_handler(ctx)
        return observed(ctx, next_handler, self._emit, self._status)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        if not self.logger.isEnabledFor(logging.INFO):
            return await next_handler(ctx)
        return await aobserved(ctx, next_handler, self._emit, self._status, self._cancelled_status)
