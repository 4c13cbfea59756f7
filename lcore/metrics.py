"""Prometheus metrics for an app: ``app.install(Metrics())`` serves ``/metrics``.

Needs ``prometheus-client`` (``pip install "lcore[metrics]"``); without it, ``Metrics()``
raises an ImportError that says so. Opt-in: nothing is measured until it is installed.

Measured, with the metric names under the ``prefix`` setting (default ``lcore``):

- ``lcore_http_requests_total`` (counter) and ``lcore_http_request_duration_seconds``
  (histogram, ``buckets`` setting), labelled ``method``, ``route`` (the route's rule,
  such as ``/items/<id:int>``, never the raw path: one series per route; a request
  no route matched is ``<unmatched>``) and ``status``. The duration is the time to the
  response's start (a streamed body may take longer to send);
- ``lcore_http_requests_in_progress`` (gauge);
- ``lcore_websocket_connections`` (gauge): WebSocket connections being served;
- ``lcore_sse_streams`` (gauge): Server-Sent Events streams being sent.

Several worker processes (gunicorn ``-w``, uvicorn ``--workers``, ``python -m lcore_asgi
--workers``) each count their own requests; prometheus-client's multiprocess mode sums
them. Set the environment variable ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before the server starts (the workers inherit it): ``/metrics``, whichever worker
answers, then reports every worker's numbers. See docs/metrics.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

from ._extras import require
from .components import Component
from .middleware._util import aobserved, observed
from .middleware.base import Middleware
from .response import HTTPResponse
from .sse import EventStream

__all__ = ["Metrics", "UNMATCHED"]

#: The ``route`` label of a request no route matched (404, 405).
UNMATCHED = "<unmatched>"

_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics(Component):
    """Request, in-flight, WebSocket and SSE metrics, served at ``path`` (a component).

    Settings (``configure(app, {"metrics": {...}})`` or config ``metrics.<key>``):
    ``path`` where the metrics are served (GET; not counted itself), ``prefix`` of the
    metric names, ``buckets`` of the latency histogram, ``registry`` (a
    ``prometheus_client.CollectorRegistry``; None: one of the component's own, so that
    several apps in one process do not clash), ``multiprocess`` (None: on when
    ``PROMETHEUS_MULTIPROC_DIR`` is set) and ``enable``.
    """

    name = "metrics"
    path = "/metrics"
    prefix = "lcore"
    buckets: tuple[float, ...] = _DEFAULT_BUCKETS
    registry: Any = None
    multiprocess: Any = None

    def __init__(self, **settings: Any) -> None:
        self._prom = require("prometheus_client", "metrics", "Metrics")
        super().__init__(**settings)
        self._made = False

    def init(self, app: Any) -> None:
        """Make the metrics and add the middleware that measures (installed: ``app.install``)."""
        self._make()
        app.use(_MetricsMiddleware(self))

    def _make(self) -> None:
        prom = self._prom
        if self.registry is None:
            self.registry = prom.CollectorRegistry(auto_describe=True)
        reg = self.registry
        p = self.prefix.rstrip("_") + "_" if self.prefix else ""
        labels = ("method", "route", "status")
        self.requests = prom.Counter(
            f"{p}http_requests_total", "HTTP requests answered.", labels, registry=reg
        )
        self.latency = prom.Histogram(
            f"{p}http_request_duration_seconds",
            "Time to the start of the HTTP response, in seconds.",
            labels,
            buckets=tuple(self.buckets),
            registry=reg,
        )
        self.in_progress = prom.Gauge(
            f"{p}http_requests_in_progress",
            "HTTP requests being handled.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.websockets = prom.Gauge(
            f"{p}websocket_connections",
            "WebSocket connections open.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.sse_streams = prom.Gauge(
            f"{p}sse_streams",
            "Server-Sent Events streams open.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self._made = True

    def is_multiprocess(self) -> bool:
        """Whether ``/metrics`` reports every worker process (prometheus-client multiprocess mode)."""
        if self.multiprocess is not None:
            return bool(self.multiprocess)
        return bool(
            os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")
        )

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (every worker's in multiprocess mode)."""
        prom = self._prom
        if self.is_multiprocess():
            from prometheus_client import multiprocess

            reg = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(reg)
            return bytes(prom.generate_latest(reg))
        return bytes(prom.generate_latest(self.registry))

    def provide(self) -> Metrics:
        """Handlers reach the component as ``ctx.metrics`` (its metric objects are attributes)."""
        return self


class _MetricsMiddleware(Middleware):
    """Outermost pre-routing middleware: counts and times every request, serves ``path``.

    A sync ``__call__`` and an async ``acall``: no thread hop under either protocol.
    """

    name = "metrics"
    order = -1000
    phase = "pre"

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def _scrape(self, ctx: Any) -> Any:
        req = ctx.request
        m = self.m
        if req.path == m.path and req.method in ("GET", "HEAD"):
            return HTTPResponse(m.exposition(), 200, {"Content-Type": m._prom.CONTENT_TYPE_LATEST})
        return None

    def _done(self, ctx: Any, status: int, start: float) -> None:
        m = self.m
        m.in_progress.dec()
        route = ctx.route
        labels = (ctx.request.method, route.rule if route is not None else UNMATCHED, str(status))
        m.requests.labels(*labels).inc()
        m.latency.labels(*labels).observe(time.perf_counter() - start)

    def _counted(self, result: Any) -> Any:
        if isinstance(result, EventStream):
            result.body = _count_stream(result.body, self.m.sse_streams)
        return result

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        m = self.m
        if not m.enable:
            return next_handler(ctx)
        scrape = self._scrape(ctx)
        if scrape is not None:
            return scrape
        if "websocket" in ctx.state:
            m.websockets.inc()
            try:
                return next_handler(ctx)
            finally:
                m.websockets.dec()
        m.in_progress.inc()  # _done takes it off
        return self._counted(observed(ctx, next_handler, self._done))

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        m = self.m
        if not m.enable:
            return await next_handler(ctx)
        scrape = self._scrape(ctx)
        if scrape is not None:
            return scrape
        if "websocket" in ctx.state:
            m.websockets.inc()
            try:
                return await next_handler(ctx)
            finally:
                m.websockets.dec()
        m.in_progress.inc()  # _done takes it off
        return self._counted(await aobserved(ctx, next_handler, self._done))


async def _count_stream(body: Any, gauge: Any) -> AsyncIterator[bytes]:
    """An SSE body that counts itself open while it is being sent."""
    gauge.inc()
    try:
        async for chunk in body:
            yield chunk
    finally:
        gauge.dec()
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
