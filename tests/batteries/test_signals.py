"""lcore.signals: Signal connect/disconnect/send/send_robust, sync and async receivers,
and the built-in signals sent from an app's hooks, under WSGI and ASGI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from lcore import Lcore, TestClient
from lcore.signals import (
    Signal,
    got_exception,
    request_finished,
    request_started,
    shutdown,
    startup,
)


@pytest.fixture
def disconnect_all() -> Iterator[list[tuple[Signal, Any, Any]]]:
    """Receivers a test connects to the global built-in signals, disconnected after it."""
    made: list[tuple[Signal, Any, Any]] = []
    yield made
    for sig, fn, sender in made:
        sig.disconnect(fn, sender=sender)


def _connect(made: list[Any], sig: Signal, fn: Any, sender: Any = None) -> Any:
    sig.connect(fn, sender=sender)
    made.append((sig, fn, sender))
    return fn


def test_send_calls_receivers_in_order_with_sender_filter() -> None:
    sig = Signal("paid")
    a, b = object(), object()

    @sig.connect
    def first(sender, **kw):
        return ("first", kw["amount"])

    @sig.connect(sender=a)
    def only_a(sender, **kw):
        return "only a"

    assert sig.send(a, amount=3) == [(first, ("first", 3)), (only_a, "only a")]
    assert sig.send(b, amount=4) == [(first, ("first", 4))]
    sig.connect(first)  # twice: still once
    assert sig.receivers == [first, only_a]
    assert sig.disconnect(first) is True
    assert sig.disconnect(first) is False
    assert sig.send(b, amount=1) == []
    with pytest.raises(TypeError):
        sig.connect(42)  # type: ignore[arg-type]


def test_send_propagates_and_send_robust_captures() -> None:
    sig = Signal("x")
    calls = []

    @sig.connect
    def bad(sender, **kw):
        raise ValueError("receiver failed")

    @sig.connect
    def good(sender, **kw):
        calls.append(sender)
        return "ok"

    with pytest.raises(ValueError, match="receiver failed"):
        sig.send("s")
    assert calls == []  # send stops at the first failure
    out = sig.send_robust("s")
    assert isinstance(out[0][1], ValueError) and out[1] == (good, "ok")
    assert calls == ["s"]


def test_async_receivers_from_blocking_code_run_on_the_persistent_loop() -> None:
    sig = Signal("async")
    seen = []

    @sig.connect
    async def on_it(sender, **kw):
        seen.append(threading.current_thread().name)
        return kw["n"] * 2

    assert sig.send(None, n=21) == [(on_it, 42)]
    # The same persistent loop thread every time (a loop-bound client keeps working).
    sig.send(None, n=1)
    assert len(seen) == 2 and seen[0] == seen[1] != threading.current_thread().name


def test_asend_awaits_async_and_threads_sync_receivers() -> None:
    sig = Signal("mixed")
    where: dict[str, str] = {}

    @sig.connect
    def sync_one(sender, **kw):
        where.setdefault("sync", threading.current_thread().name)
        return 1

    @sig.connect
    async def async_one(sender, **kw):
        where["async"] = threading.current_thread().name
        raise KeyError("async failed")

    async def main():
        loop_thread = threading.current_thread().name
        out = await sig.asend_robust("s")
        with pytest.raises(KeyError):
            await sig.asend("s")
        with pytest.raises(RuntimeError, match="asend"):
            sig.send("s")  # would block the loop this runs on
        return loop_thread, out

    loop_thread, out = anyio.run(main)
    assert out[0] == (sync_one, 1) and isinstance(out[1][1], KeyError)
    assert where["async"] == loop_thread and where["sync"] != loop_thread


def _app() -> Lcore:
    app = Lcore()
    app.route("/", callback=lambda: "home")

    @app.route("/boom")
    def boom():
        raise ZeroDivisionError("boom")

    return app


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_request_signals_under_both_protocols(make_client, disconnect_all, kind: str) -> None:
    app = _app()
    other = _app()
    log: list[Any] = []
    if kind == "sync":

        def started(sender, request):
            log.append(("started", sender is app, request.path))

        def finished(sender, request, response):
            log.append(("finished", response.status_code))

        def failed(sender, exception, request):
            log.append(("exception", type(exception).__name__))
    else:

        async def started(sender, request):
            log.append(("started", sender is app, request.path))

        async def finished(sender, request, response):
            log.append(("finished", response.status_code))

        async def failed(sender, exception, request):
            log.append(("exception", type(exception).__name__))

    _connect(disconnect_all, request_started, started, sender=app)
    _connect(disconnect_all, request_finished, finished, sender=app)
    _connect(disconnect_all, got_exception, failed, sender=app)
    c = make_client(app)
    assert c.get("/").text == "home"
    assert c.get("/boom").status_code == 500
    assert c.get("/missing").status_code == 404
    assert log == [
        ("started", True, "/"),
        ("finished", 200),
        ("started", True, "/boom"),
        ("exception", "ZeroDivisionError"),
        ("finished", 500),
        ("started", True, "/missing"),
        ("finished", 404),
    ]
    log.clear()
    make_client(other).get("/")  # receivers for `app` only
    assert log == []


def test_no_receiver_no_hook(disconnect_all) -> None:
    app = _app()
    route = app.routes[0]
    assert route.plan.plain  # nothing added to a request while nobody listens

    def fn(sender, **kw):
        pass

    _connect(disconnect_all, request_started, fn)
    assert not route.plan.plain
    assert "hook on_request_start: signal request_started" in route.plan.stages()
    request_started.disconnect(fn)
    assert route.plan.plain
    # An app made while a receiver is connected gets the hook too.
    _connect(disconnect_all, request_finished, fn)
    assert not _app().routes[0].plan.plain


def test_failing_request_started_receiver_is_a_500(make_client, disconnect_all) -> None:
    app = _app()

    def bad(sender, request):
        raise RuntimeError("receiver broke")

    _connect(disconnect_all, request_started, bad, sender=app)
    assert make_client(app).get("/").status_code == 500


def test_startup_and_shutdown_under_asgi_lifespan(disconnect_all) -> None:
    app = _app()
    log = []

    async def up(sender):
        log.append("startup")

    def down(sender):
        log.append("shutdown")

    @app.hook("shutdown")
    def hook():
        log.append("shutdown hook")

    _connect(disconnect_all, startup, up, sender=app)
    _connect(disconnect_all, shutdown, down, sender=app)

    async def main():
        msgs = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent = []

        async def receive():
            return msgs.pop(0)

        async def send(m):
            sent.append(m["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    assert anyio.run(main) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    # The shutdown signal comes before the app's own shutdown hooks tear things down.
    assert log == ["startup", "shutdown", "shutdown hook"]


def test_startup_once_per_process_under_wsgi(disconnect_all) -> None:
    app = _app()
    log = []
    _connect(disconnect_all, startup, lambda sender: log.append(sender), sender=app)
    with TestClient(app) as c:
        c.get("/")
        c.get("/")
    assert log == [app]
