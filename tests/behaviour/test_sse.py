"""Server-Sent Events (``EventStream`` / ``sse``) under WSGI and ASGI."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import anyio
import pytest

from lcore import CompressionMiddleware, EventStream, Lcore, ServerSentEvent, request, sse
from lcore.sse import close_streams


def frames(body: bytes) -> list[bytes]:
    """The frames of an event stream (without the blank line that ends each)."""
    return [f for f in body.split(b"\n\n") if f]


def test_headers_and_event_formats(make_client):
    app = Lcore()

    @app.get("/events")
    def events():
        def gen():
            yield "hello"
            yield "two\nlines"
            yield {"a": 1}
            yield ["x", 2]
            yield ServerSentEvent("d", event="update", id=7, retry=1500)
            yield ServerSentEvent(comment="just a comment")
            yield ServerSentEvent("", event="empty")
            yield b"data: raw\n\n"

        return sse(gen(), heartbeat=None)

    r = make_client(app).get("/events")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"
    assert "content-length" not in r.headers
    assert frames(r.body) == [
        b"data: hello",
        b"data: two\ndata: lines",
        b'data: {"a":1}',
        b'data: ["x",2]',
        b"event: update\nid: 7\nretry: 1500\ndata: d",
        b": just a comment",
        b"event: empty\ndata:",
        b"data: raw",
    ]


def test_event_stream_class_status_headers_and_retry(make_client):
    app = Lcore()

    @app.get("/s")
    async def s():
        async def gen():
            yield ServerSentEvent("x\r\ny\rz")

        return EventStream(gen(), heartbeat=None, retry=3000, status=201, headers={"X-Extra": "1"})

    r = make_client(app).get("/s")
    assert r.status_code == 201 and r.headers["x-extra"] == "1"
    assert frames(r.body) == [b"retry: 3000", b"data: x\ndata: y\ndata: z"]


def test_invalid_fields_are_refused():
    with pytest.raises(ValueError):
        ServerSentEvent("x", id="a\nb").encode()
    with pytest.raises(ValueError):
        ServerSentEvent("x", event="a\nb").encode()
    with pytest.raises(ValueError):
        sse(iter(()), heartbeat=0)
    with pytest.raises(TypeError):
        sse(42)


@pytest.mark.parametrize("handler_kind", ["sync", "async"])
@pytest.mark.parametrize("source_kind", ["sync", "async"])
def test_sync_and_async_sources_in_sync_and_async_handlers(make_client, handler_kind, source_kind):
    app = Lcore()

    def source():
        if source_kind == "sync":

            def gen():
                for i in range(3):
                    yield ServerSentEvent(f"{request.path}:{i}", id=i)

            return gen()

        async def agen():
            for i in range(3):
                await anyio.sleep(0)
                yield ServerSentEvent(f"{request.path}:{i}", id=i)

        return agen()

    if handler_kind == "sync":
        app.route("/e", callback=lambda: sse(source(), heartbeat=None))
    else:

        async def handler():
            return sse(source(), heartbeat=None)

        app.route("/e", callback=handler)

    r = make_client(app).get("/e")
    assert frames(r.body) == [b"id: 0\ndata: /e:0", b"id: 1\ndata: /e:1", b"id: 2\ndata: /e:2"]


def test_events_arrive_as_they_are_produced(make_client):
    """The second event is produced only after the client has received the first."""
    app = Lcore()
    got_first = threading.Event()

    @app.get("/sync")
    def sync_source():
        def gen():
            yield "first"
            assert got_first.wait(5), "the first event was held back"
            yield "second"

        return sse(gen(), heartbeat=None)

    @app.get("/async")
    async def async_source():
        async def gen():
            yield "first"
            deadline = time.monotonic() + 5
            while not got_first.is_set():
                assert time.monotonic() < deadline, "the first event was held back"
                await anyio.sleep(0.005)
            yield "second"

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    for path in ("/sync", "/async"):
        got_first.clear()
        seen = []
        with c.stream("GET", path) as r:
            for chunk in r.iter_bytes():
                seen.append(chunk)
                if b"first" in chunk:
                    got_first.set()
        assert b"".join(seen) == b"data: first\n\ndata: second\n\n"


def test_heartbeat_comments_when_idle(make_client):
    app = Lcore()

    @app.get("/slow")
    async def slow():
        async def gen():
            yield "a"
            await anyio.sleep(0.35)
            yield "b"

        return sse(gen(), heartbeat=0.1)

    @app.get("/slow-sync")
    def slow_sync():
        def gen():
            yield "a"
            time.sleep(0.35)
            yield "b"

        return sse(gen(), heartbeat=0.1)

    @app.get("/quiet")
    async def quiet():
        async def gen():
            yield "a"
            await anyio.sleep(0.3)
            yield "b"

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    for path in ("/slow", "/slow-sync"):
        fs = frames(c.get(path).body)
        assert fs[0] == b"data: a" and fs[-1] == b"data: b"
        assert 2 <= fs.count(b": ping") <= 4, fs
    assert frames(c.get("/quiet").body) == [b"data: a", b"data: b"]


def test_last_event_id(make_client):
    app = Lcore()

    @app.get("/resume")
    def resume():
        start = int(request.last_event_id or 0)

        def gen():
            for i in range(start + 1, start + 3):
                yield ServerSentEvent(i, id=i)

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    assert frames(c.get("/resume").body) == [b"id: 1\ndata: 1", b"id: 2\ndata: 2"]
    r = c.get("/resume", headers={"Last-Event-ID": "41"})
    assert frames(r.body) == [b"id: 42\ndata: 42", b"id: 43\ndata: 43"]


@pytest.mark.parametrize("source_kind", ["sync", "async"])
def test_client_disconnect_closes_the_source(make_client, source_kind):
    """Under ASGI the disconnect cancels the source; under WSGI the server closes the
    iterable (here at once; a real server at its next failed write)."""
    app = Lcore()
    closed = threading.Event()

    @app.get("/forever")
    def forever():
        if source_kind == "sync":

            def gen():
                try:
                    i = 0
                    while True:
                        yield str(i)
                        i += 1
                        time.sleep(0.02)
                finally:
                    closed.set()

            return sse(gen(), heartbeat=0.05)

        async def agen():
            try:
                i = 0
                while True:
                    yield str(i)
                    i += 1
                    await anyio.sleep(0.02)
            finally:
                closed.set()

        return sse(agen(), heartbeat=0.05)

    c = make_client(app)
    with c.stream("GET", "/forever") as r:
        for chunk in r.iter_bytes():
            if b"data: 2" in chunk:
                break
    assert closed.wait(3), "the source's finally did not run after the client left"


def test_is_disconnected_inside_an_async_source(make_client, proto):
    """``await request.is_disconnected()`` turns True under ASGI (WSGI has no way to
    know, so it stays False and the server's failed write ends the stream instead)."""
    app = Lcore()
    seen = []
    done = threading.Event()

    @app.get("/watch")
    async def watch():
        async def gen():
            try:
                for i in range(200):
                    if await request.is_disconnected():
                        seen.append("disconnected")
                        return
                    yield str(i)
                    await anyio.sleep(0.01)
            finally:
                done.set()

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    with c.stream("GET", "/watch") as r:
        for chunk in r.iter_bytes():
            if b"data: 1" in chunk:
                break
    assert done.wait(3)
    # ASGI: the source saw the disconnect, or was cancelled by it first; WSGI: closed.
    assert seen in (([], ["disconnected"]) if proto == "asgi" else ([],))


def test_is_disconnected_in_a_long_poll_handler():
    """ASGI only: an ASGI server tells the app about a disconnect; WSGI servers cannot."""
    app = Lcore()
    polls = []

    @app.get("/poll")
    async def poll():
        while not await request.is_disconnected():
            polls.append(1)
            await anyio.sleep(0.01)
        return "gone"

    async def main():
        msgs = [{"type": "http.request", "body": b"", "more_body": False}]
        sent = []

        gone_at = time.monotonic() + 0.1  # the client leaves after 0.1 s

        async def receive():
            if msgs:
                return msgs.pop(0)
            while time.monotonic() < gone_at:
                await anyio.sleep(0.01)
            return {"type": "http.disconnect"}

        async def send(msg):
            sent.append(msg)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/poll",
            "headers": [],
            "query_string": b"",
        }
        await asyncio.wait_for(app(scope, receive, send), 5)
        return sent

    sent = asyncio.run(main())
    assert polls and sent[0]["status"] == 200


def test_a_failing_source_ends_the_stream_and_is_logged(make_client, caplog):
    app = Lcore()

    @app.get("/boom")
    async def boom():
        async def gen():
            yield "ok"
            raise ValueError("source broke")

        return sse(gen(), heartbeat=None)

    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        r = make_client(app).get("/boom")
    assert r.status_code == 200
    assert frames(r.body) == [b"data: ok"]
    assert any("source broke" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_close_streams_ends_open_streams_cleanly(make_client):
    """What lifespan shutdown and SIGTERM do: the stream ends normally, the source's
    finally runs, and the response is complete (no error)."""
    app = Lcore()
    cleaned = threading.Event()
    started = threading.Event()

    @app.get("/forever")
    async def forever():
        async def gen():
            try:
                started.set()
                while True:
                    yield "tick"
                    await anyio.sleep(0.02)
            finally:
                cleaned.set()

        return sse(gen(), heartbeat=None)

    c = make_client(app)
    timer = threading.Timer(0.2, close_streams, args=(app,))
    timer.start()
    try:
        r = c.get("/forever")
    finally:
        timer.join()
    assert r.status_code == 200 and frames(r.body)[0] == b"data: tick"
    assert cleaned.wait(3)
    # A stream opened while the app is shutting down ends at once.
    assert frames(c.get("/forever").body) in ([], [b"data: tick"])


def test_head_sends_headers_only(make_client):
    app = Lcore()
    started = []

    @app.get("/e")
    def e():
        def gen():
            started.append(1)
            yield "x"

        return sse(gen())

    r = make_client(app).head("/e")
    assert r.status_code == 200 and r.body == b""
    assert r.headers["content-type"].startswith("text/event-stream")
    assert started == []


def test_compression_middleware_leaves_event_streams_alone(make_client):
    app = Lcore()
    app.use(CompressionMiddleware(min_size=1))

    @app.get("/e")
    def e():
        return sse(iter(["x" * 500, "y"]), heartbeat=None)

    r = make_client(app).get("/e", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers
    assert frames(r.body) == [b"data: " + b"x" * 500, b"data: y"]


def test_cookies_set_before_returning_the_stream_are_sent(make_client):
    app = Lcore()

    @app.get("/e")
    def e():
        from lcore import response

        response.set_cookie("seen", "1")
        return sse(iter(["x"]), heartbeat=None)

    r = make_client(app).get("/e")
    assert "seen=1" in r.headers["set-cookie"]
