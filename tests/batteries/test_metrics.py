"""lcore.metrics (Prometheus) and lcore.profiling (slow-request log, cProfile in debug),
under WSGI and ASGI. The multiprocess side is tests/e2e/test_metrics_workers.py."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

import anyio
import pytest

from lcore import Lcore, abort, ctx, sse
from lcore.metrics import Metrics
from lcore.profiling import Profiling

pytest.importorskip("prometheus_client")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
            if got == want:
                return float(m.group(3))
    return 0.0


def _app() -> tuple[Lcore, Metrics]:
    app = Lcore()
    metrics = app.install(Metrics())

    @app.route("/items/<n:int>")
    def item(n):
        return {"n": n}

    @app.route("/forbidden")
    async def forbidden():
        abort(403)

    @app.route("/crash")
    def crash():
        raise RuntimeError("crash")

    @app.route("/inflight")
    def inflight():
        return str(sample(ctx.metrics.exposition().decode(), "lcore_http_requests_in_progress"))

    return app, metrics


def test_requests_counted_by_route_template_method_and_status(make_client) -> None:
    app, _ = _app()
    c = make_client(app)
    for n in (1, 2, 3):
        assert c.get(f"/items/{n}").status_code == 200
    c.post("/items/1")  # 405
    c.get("/forbidden")
    c.get("/crash")
    c.get("/no/such/page")
    r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    total = "lcore_http_requests_total"
    assert sample(text, total, method="GET", route="/items/<n:int>", status="200") == 3
    assert sample(text, total, method="POST", route="<unmatched>", status="405") == 1
    assert sample(text, total, method="GET", route="/forbidden", status="403") == 1
    assert sample(text, total, method="GET", route="/crash", status="500") == 1
    assert sample(text, total, method="GET", route="<unmatched>", status="404") == 1
    assert (
        sample(
            text,
            "lcore_http_request_duration_seconds_count",
            method="GET",
            route="/items/<n:int>",
            status="200",
        )
        == 3
    )
    assert "/items/1" not in text  # the template, never the raw path
    assert (
        sample(text, total, method="GET", route="<unmatched>", status="200") == 0
    )  # scrapes not counted
    assert c.get("/inflight").text == "1.0"  # this request itself
    assert sample(c.get("/metrics").text, "lcore_http_requests_in_progress") == 0


def test_sse_streams_open_gauge(make_client) -> None:
    app, metrics = _app()
    release = threading.Event()

    @app.route("/events")
    def events():
        def gen():
            yield "first"
            release.wait(10)
            yield "last"

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    with c.stream("GET", "/events") as r:
        it = r.iter_bytes()
        assert b"first" in next(it)
        assert sample(metrics.exposition().decode(), "lcore_sse_streams") == 1
        release.set()
        rest = b"".join(it)
    assert b"last" in rest
    deadline = time.monotonic() + 5
    while (
        sample(metrics.exposition().decode(), "lcore_sse_streams") != 0
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert sample(metrics.exposition().decode(), "lcore_sse_streams") == 0


def test_websocket_connections_gauge(make_client) -> None:
    pytest.importorskip("websockets")
    app, metrics = _app()

    @app.websocket("/ws")
    async def echo(ws):
        await ws.accept()
        async for msg in ws:
            await ws.send_text(msg)

    with make_client(app).websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        assert sample(metrics.exposition().decode(), "lcore_websocket_connections") == 1
    deadline = time.monotonic() + 5
    while (
        sample(metrics.exposition().decode(), "lcore_websocket_connections") != 0
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert sample(metrics.exposition().decode(), "lcore_websocket_connections") == 0


def test_settings_path_and_disable(make_client) -> None:
    app = Lcore()
    app.route("/", callback=lambda: "ok")
    app.install(Metrics(path="/_internal/metrics", prefix="shop"))
    c = make_client(app)
    c.get("/")
    text = c.get("/_internal/metrics").text
    assert sample(text, "shop_http_requests_total", method="GET", route="/", status="200") == 1
    assert c.get("/metrics").status_code == 404
    app.config["metrics.enable"] = False
    app2 = Lcore(**{"metrics.enable": False})
    app2.install(Metrics())
    assert make_client(app2).get("/metrics").status_code == 404


def test_without_prometheus_client_the_error_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "lcore\[metrics\]"'):
        Metrics()


def test_slow_requests_are_logged_with_handler_and_middleware_time(make_client, caplog) -> None:
    app = Lcore()
    app.install(Profiling(slow_threshold=0.05))

    @app.route("/slow")
    def slow():
        time.sleep(0.06)
        return "slow"

    @app.route("/aslow")
    async def aslow():
        await anyio.sleep(0.06)
        return "aslow"

    app.route("/fast", callback=lambda: "fast")
    c = make_client(app)
    with caplog.at_level(logging.WARNING, logger="lcore.slow"):
        assert c.get("/fast").text == "fast"
        assert c.get("/slow").text == "slow"
        assert c.get("/aslow").text == "aslow"
    records = [r for r in caplog.records if r.name == "lcore.slow"]
    assert [r.route for r in records] == ["/slow", "/aslow"]  # type: ignore[attr-defined]
    for r in records:
        assert r.total_s >= 0.05 and r.handler_s >= 0.05  # type: ignore[attr-defined]
        assert 0 <= r.middleware_s < r.total_s  # type: ignore[attr-defined]
        assert "handler" in r.getMessage() and "middleware" in r.getMessage()


def test_profile_report_only_in_debug(make_client) -> None:
    app = Lcore()
    app.install(Profiling())

    def busy_work():
        return sum(range(1000))

    @app.route("/work")
    def work():
        busy_work()
        return "done"

    c = make_client(app)
    r = c.get("/work?_profile=1")
    assert r.text == "done" and "x-lcore-profile" not in r.headers  # debug off: ignored
    app.config["debug"] = True
    r = c.get("/work?_profile=1")
    assert r.headers["x-lcore-profile"] == "1" and r.headers["content-type"].startswith(
        "text/plain"
    )
    assert "cProfile of GET /work" in r.text and "busy_work" in r.text
    assert c.get("/work").text == "done"  # without the parameter: the normal response
