"""Under ASGI a ``def`` handler's small declared body is read on the loop, before the hop.

The worker thread would otherwise come back to the event loop for the body (a second
round trip per request). These tests watch the ASGI ``receive`` calls from the outside:
for a plain route with a declared body up to ``MEMFILE_MAX`` every ``receive`` happens
before the handler starts; larger, chunked or ``stream_body`` bodies are still read by
the handler as it asks. Failures (413, 400, a client gone mid-body) answer as before.
"""

from __future__ import annotations

import threading

import anyio
import pytest

from lcore import Lcore, request
from lcore.request import BaseRequest

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def _scope(body_headers: list[tuple[bytes, bytes]], path: str = "/echo") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t"), *body_headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


def _call(app, backend, scope, chunks, log, *, disconnect_after=None):
    """Run ``app`` on one request, logging each ``receive`` in ``log``; (status, body)."""
    sent: list[dict] = []
    pending = list(chunks)

    async def receive():
        if disconnect_after is not None and log.count("receive") >= disconnect_after:
            log.append("disconnect")
            return {"type": "http.disconnect"}
        log.append("receive")
        chunk = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def main():
        await app(scope, receive, send)

    anyio.run(main, backend=backend)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


def _app(log, **route_options):
    """An app whose def handler at /echo logs its start (and thread) and echoes the body."""
    app = Lcore()

    @app.post("/echo", **route_options)
    def echo():
        log.append(("handler", threading.current_thread() is threading.main_thread()))
        if route_options.get("stream_body"):
            return b"".join(request.stream())
        return request.body.read()

    return app


def test_small_body_is_read_before_the_handler_starts(backend):
    log: list = []
    scope = _scope([(b"content-length", b"10"), (b"content-type", b"text/plain")])
    status, body = _call(_app(log), backend, scope, [b"01234", b"56789"], log)
    assert (status, body) == (200, b"0123456789")
    # Both chunks were taken before the handler ran, and it still ran off the loop.
    assert log == ["receive", "receive", ("handler", False)]


def test_a_body_above_memfile_max_is_read_by_the_handler(backend):
    log: list = []
    size = BaseRequest.MEMFILE_MAX + 1
    scope = _scope([(b"content-length", str(size).encode())])
    status, body = _call(_app(log), backend, scope, [b"x" * (size - 1), b"x"], log)
    assert (status, len(body)) == (200, size)
    assert log == [("handler", False), "receive", "receive"]


def test_a_chunked_body_is_read_by_the_handler(backend):
    log: list = []
    scope = _scope([(b"transfer-encoding", b"chunked")])
    status, body = _call(_app(log), backend, scope, [b"ab", b"cd"], log)
    assert (status, body) == (200, b"abcd")
    assert log == [("handler", False), "receive", "receive"]


def test_stream_body_routes_keep_reading_in_the_handler(backend):
    log: list = []
    scope = _scope([(b"content-length", b"4")])
    status, body = _call(_app(log, stream_body=True), backend, scope, [b"ab", b"cd"], log)
    assert (status, body) == (200, b"abcd")
    assert log == [("handler", False), "receive", "receive"]


def test_a_route_with_a_hook_keeps_reading_in_the_handler(backend):
    log: list = []
    app = _app(log)
    app.add_hook("before_request", lambda: log.append("hook"))
    status, body = _call(app, backend, _scope([(b"content-length", b"2")]), [b"ok"], log)
    assert (status, body) == (200, b"ok")
    assert log == ["hook", ("handler", False), "receive"]


def test_declared_length_over_the_limit_is_413_without_reading(backend):
    log: list = []
    app = _app(log)
    app.config["request.max_body"] = 5
    status, _ = _call(app, backend, _scope([(b"content-length", b"10")]), [b"0123456789"], log)
    assert status == 413
    assert log == []  # refused on the declared length: no receive, no handler


def test_body_shorter_than_declared_then_disconnect_is_not_a_500(backend):
    log: list = []
    scope = _scope([(b"content-length", b"10")])
    status, _ = _call(_app(log), backend, scope, [b"0123", b"4567"], log, disconnect_after=1)
    assert log == ["receive", "disconnect"]  # the handler never ran on a half body
    assert 400 <= status < 500


def test_invalid_json_from_a_def_handler_is_400(backend):
    app = Lcore()

    @app.post("/j")
    def j():
        return {"got": request.json}

    log: list = []
    scope = _scope([(b"content-length", b"5"), (b"content-type", b"application/json")], "/j")
    status, _ = _call(app, backend, scope, [b"{bad:"], log)
    assert status == 400
    good = _scope([(b"content-length", b"8"), (b"content-type", b"application/json")], "/j")
    status, body = _call(app, backend, good, [b'{"a": 1}'], log)
    assert (status, body) == (200, b'{"got":{"a":1}}')
