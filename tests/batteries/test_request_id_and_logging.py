"""RequestIDMiddleware and RequestLoggerMiddleware: IDs in and out, one JSON log line."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from datetime import datetime

from lcore import (
    Lcore,
    RequestIDMiddleware,
    RequestLoggerMiddleware,
    TimeoutMiddleware,
    abort,
    ctx,
)

KEYS = {"timestamp", "request_id", "method", "path", "status", "duration_ms", "remote_addr"}


def _app(**logger_kw):
    app = Lcore()
    app.use(RequestIDMiddleware())
    app.use(RequestLoggerMiddleware(**logger_kw))

    @app.route("/id")
    def rid():
        return ctx.request_id

    @app.route("/aid")
    async def arid():
        await asyncio.sleep(0)
        return ctx.request_id

    @app.route("/teapot")
    def teapot():
        abort(418, "short and stout")

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.route("/aboom")
    async def aboom():
        raise RuntimeError("boom")

    return app


def _lines(caplog, name="lcore.access"):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == name]


def test_new_uuid4_when_absent(make_client):
    c = make_client(_app())
    for path in ("/id", "/aid"):
        r = c.get(path)
        rid = r.headers["X-Request-ID"]
        assert uuid.UUID(rid).version == 4
        assert r.text == rid


def test_incoming_id_is_reused(make_client):
    c = make_client(_app())
    r = c.get("/id", headers={"X-Request-ID": "abc-123.trace"})
    assert r.headers["X-Request-ID"] == "abc-123.trace"
    assert r.text == "abc-123.trace"


def test_unsafe_incoming_id_is_replaced(make_client):
    c = make_client(_app())
    r = c.get("/id", headers={"X-Request-ID": "x" * 500})
    assert uuid.UUID(r.headers["X-Request-ID"]).version == 4
    r = c.get("/id", headers={"X-Request-ID": 'bad "id" <script>'})
    assert uuid.UUID(r.headers["X-Request-ID"]).version == 4


def test_error_responses_carry_the_id(make_client):
    c = make_client(_app())
    r = c.get("/teapot", headers={"X-Request-ID": "err-1"})
    assert r.status_code == 418
    assert r.headers["X-Request-ID"] == "err-1"


def test_one_json_line_per_request_with_the_documented_keys(make_client, caplog):
    caplog.set_level(logging.INFO, logger="lcore.access")
    c = make_client(_app())
    r = c.get("/id", headers={"X-Request-ID": "log-1"})
    assert r.status_code == 200
    (line,) = _lines(caplog)
    assert set(line) == KEYS
    assert line["request_id"] == "log-1"
    assert line["method"] == "GET"
    assert line["path"] == "/id"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert line["remote_addr"] == "127.0.0.1"
    ts = datetime.fromisoformat(line["timestamp"])
    assert ts.utcoffset().total_seconds() == 0


def test_errors_are_logged_with_their_status(make_client, caplog):
    caplog.set_level(logging.INFO, logger="lcore.access")
    c = make_client(_app())
    assert c.get("/teapot").status_code == 418
    assert c.get("/boom").status_code == 500
    assert c.get("/aboom").status_code == 500
    assert c.post("/aid").status_code == 405  # not routed: no post-routing middleware
    assert [line["status"] for line in _lines(caplog)] == [418, 500, 500]


def test_async_handler_logged(make_client, caplog):
    caplog.set_level(logging.INFO, logger="lcore.access")
    make_client(_app()).get("/aid", headers={"X-Request-ID": "a-1"})
    (line,) = _lines(caplog)
    assert line["request_id"] == "a-1" and line["status"] == 200


def test_custom_logger_object_and_name(make_client, caplog):
    caplog.set_level(logging.INFO)
    # A logger of the test's own (an example app imported earlier may configure "http").
    c = make_client(_app(logger=logging.getLogger("tests.custom_access")))
    c.get("/id")
    assert len(_lines(caplog, "tests.custom_access")) == 1
    c = make_client(_app(logger="myapp.access"))
    c.get("/id")
    assert len(_lines(caplog, "myapp.access")) == 1
    assert _lines(caplog, "lcore.access") == []


def test_nothing_logged_when_the_level_is_off(make_client, caplog):
    caplog.set_level(logging.WARNING, logger="lcore.access")
    make_client(_app()).get("/id")
    assert _lines(caplog) == []


def test_timeouts_are_logged_as_503(make_client, caplog):
    caplog.set_level(logging.INFO, logger="lcore.access")
    app = _app()
    app.use(TimeoutMiddleware(0.1))
    release = threading.Event()
    app.route("/hang", callback=lambda: release.wait(3) and "late")

    @app.route("/ahang")
    async def ahang():
        await asyncio.sleep(3)

    c = make_client(app)
    assert c.get("/ahang").status_code == 503
    assert c.get("/hang").status_code == 503
    release.set()
    deadline = time.monotonic() + 5
    while len(_lines(caplog)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [line["status"] for line in _lines(caplog)] == [503, 503]


def test_log_line_escapes_what_the_client_sent(make_client, caplog):
    """The path is the client's: quotes, control characters and non-ASCII letters come out
    escaped, as ``json.dumps`` writes them, and the line parses back to what was sent."""
    caplog.set_level(logging.INFO, logger="lcore.access")
    app = _app()
    app.route("/<name:path>", callback=lambda name: "ok")
    c = make_client(app)
    assert c.get("/caf%C3%A9/%22q%22/%0A").status_code == 200
    (record,) = [r for r in caplog.records if r.name == "lcore.access"]
    raw = record.getMessage()
    assert raw.isascii() and "\n" not in raw
    line = json.loads(raw)
    assert line["path"] == '/café/"q"/\n'
    assert raw == json.dumps(line, separators=(",", ":"))


def test_timestamp_is_now_in_utc_with_milliseconds():
    from datetime import timedelta, timezone

    from lcore.middleware.logging import _utc_timestamp

    for _ in range(3):  # the second part is remembered: a second call must still be right
        before = datetime.now(timezone.utc)
        stamp = _utc_timestamp()
        after = datetime.now(timezone.utc)
        ts = datetime.fromisoformat(stamp)
        assert len(stamp) == len("2026-01-02T03:04:05.678+00:00") and stamp.endswith("+00:00")
        assert before - timedelta(milliseconds=1) <= ts <= after
        time.sleep(0.4)


def test_made_up_ids_are_rfc4122_version4():
    from lcore.middleware.requestid import _uuid4

    seen = set()
    for _ in range(2000):
        text = _uuid4()
        u = uuid.UUID(text)
        assert (u.version, u.variant) == (4, uuid.RFC_4122) and str(u) == text
        seen.add(text)
    assert len(seen) == 2000
