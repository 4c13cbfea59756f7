"""``blocking=False``: a ``def`` handler run on the event loop under ASGI, unchanged under WSGI."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from lcore import Lcore
from lcore.concurrency import current_backend


def _where() -> str:
    return "loop" if current_backend() is not None else "thread"


def test_route_option_runs_a_def_handler_on_the_loop_under_asgi_only(make_client, proto):
    app = Lcore()

    @app.route("/inline", blocking=False)
    def inline():
        return {"where": _where(), "thread": threading.current_thread().name}

    @app.route("/default")
    def default():
        return {"where": _where()}

    client = make_client(app)
    # Under ASGI the inline handler runs on the loop; under WSGI nothing changes.
    assert client.get("/inline").json["where"] == ("loop" if proto == "asgi" else "thread")
    assert client.get("/default").json == {"where": "thread"}


def test_app_setting_makes_every_def_handler_inline_unless_a_route_says_blocking(
    make_client, proto
):
    app = Lcore(blocking=False)

    @app.route("/a")
    def a():
        return _where()

    @app.route("/b", blocking=True)
    def b():
        return _where()

    client = make_client(app)
    assert client.get("/a").text == ("loop" if proto == "asgi" else "thread")
    assert client.get("/b").text == "thread"
    assert app.routes[0].plan.inline and not app.routes[1].plan.inline


def test_inline_handler_with_hooks_and_body(make_client, proto):
    app = Lcore()
    seen: list[str] = []

    @app.hook("before_request")
    def before():
        seen.append("before")

    @app.route("/echo", method="POST", blocking=False)
    def echo():
        from lcore import request

        return {"got": request.json, "where": _where()}

    response = make_client(app).post("/echo", json={"a": 1})
    assert response.json == {"got": {"a": 1}, "where": "loop" if proto == "asgi" else "thread"}
    assert seen == ["before"]


def test_debug_watchdog_names_an_inline_handler_that_holds_the_loop(
    make_client, proto, caplog: pytest.LogCaptureFixture
):
    app = Lcore(debug=True)
    app.config["blocking.threshold"] = 0.05

    @app.route("/slow", blocking=False)
    def slow():
        time.sleep(0.1)  # deliberately blocking: exactly what inline handlers must not do
        return "done"

    @app.route("/fast", blocking=False)
    def fast():
        return "done"

    with caplog.at_level(logging.WARNING, logger="lcore.error"):
        client = make_client(app)
        assert client.get("/slow").text == "done"
        assert client.get("/fast").text == "done"
    lines = [r.getMessage() for r in caplog.records if "held the event loop" in r.getMessage()]
    if proto == "asgi":
        assert len(lines) == 1
        assert "GET /slow" in lines[0] and "slow" in lines[0]
    else:
        assert lines == []  # under WSGI there is no loop to hold
