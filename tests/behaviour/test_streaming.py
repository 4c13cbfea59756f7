"""Streaming both ways, under WSGI and ASGI: response chunks leave as they are produced,
request chunks reach the handler as they arrive, limits hold while streaming."""

from __future__ import annotations

import asyncio
import io
import queue
import re
import threading
import time
from pathlib import Path

import anyio
import pytest

from lcore import Lcore, request
from lcore.concurrency import current_loop
from lcore.request import _CONSUMED

from .test_uploads import CT, multipart

# -- responses -----------------------------------------------------------------------


def test_generator_chunks_are_sent_as_they_are_produced(make_client):
    """The generator produces its second chunk only after the client got the first."""
    app = Lcore()
    got_first = threading.Event()

    @app.get("/sync")
    def sync_gen():
        def gen():
            yield b"first;"
            assert got_first.wait(5), "the first chunk was held back"
            yield b"second"

        return gen()

    @app.get("/async")
    async def async_gen():
        async def gen():
            yield "first;"
            deadline = time.monotonic() + 5
            while not got_first.is_set():
                assert time.monotonic() < deadline, "the first chunk was held back"
                await anyio.sleep(0.005)
            yield "second"

        return gen()

    c = make_client(app)
    for path in ("/sync", "/async"):
        got_first.clear()
        body = b""
        with c.stream("GET", path) as r:
            assert r.status_code == 200 and "content-length" not in r.headers
            for chunk in r.iter_bytes():
                body += chunk
                if b"first;" in body:
                    got_first.set()
        assert body == b"first;second"


class _Chunk(bytes):
    """A bytes subclass, as some libraries yield."""


def test_every_chunk_type_the_first_chunk_may_have_later_chunks_may_have_too(make_client):
    """str, bytes (and subclasses), bytearray and memoryview, sync and async generators alike."""
    app = Lcore()
    chunks = [_Chunk(b"a"), "b", _Chunk(b"c"), bytearray(b"d"), memoryview(b"e")]

    @app.get("/sync")
    def sync_body():
        yield from chunks

    @app.get("/async")
    async def async_body():
        for chunk in chunks:
            yield chunk

    c = make_client(app)
    assert c.get("/sync").body == b"abcde"
    assert c.get("/async").body == b"abcde"


def test_file_bodies_are_streamed(make_client):
    app = Lcore()
    data = bytes(range(256)) * 2000  # 512 KB

    @app.get("/file")
    def file():
        return io.BytesIO(data)

    with make_client(app).stream("GET", "/file") as r:
        chunks = list(r.iter_raw())
    assert b"".join(chunks) == data
    assert len(chunks) > 1


def test_async_generators_run_on_one_persistent_loop(make_client, proto):
    """Under WSGI an async generator body is driven from the process's persistent loop
    (the same one for every request); under ASGI from the server's loop."""
    app = Lcore()
    loops = []

    @app.get("/a")
    def a():
        async def gen():
            loops.append(current_loop().key)
            yield request.path  # the request context is there while the server iterates
            await anyio.sleep(0)
            yield "!"

        return gen()

    c = make_client(app)
    assert c.get("/a").text == "/a!"
    assert c.get("/a").text == "/a!"
    assert loops[0] is loops[1]
    if proto == "wsgi":
        from lcore import concurrency

        assert concurrency.portal().call(asyncio.get_running_loop) is loops[0]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_client_that_leaves_closes_the_generator(make_client, kind):
    app = Lcore()
    closed = threading.Event()

    @app.get("/forever")
    def forever():
        if kind == "sync":

            def gen():
                try:
                    while True:
                        yield b"x" * 1000
                        time.sleep(0.005)
                finally:
                    closed.set()

            return gen()

        async def agen():
            try:
                while True:
                    yield b"x" * 1000
                    await anyio.sleep(0.005)
            finally:
                closed.set()

        return agen()

    with make_client(app).stream("GET", "/forever") as r:
        for n, _chunk in enumerate(r.iter_bytes()):
            if n == 3:
                break
    assert closed.wait(3)


# -- requests ------------------------------------------------------------------------


def _serve_body_in_two_halves(proto, app, path, first, second, got_first, headers=()):
    """Call ``app`` directly through ``proto``; the second half of the body is sent only
    once ``got_first`` is set (by the handler), so buffering the body would deadlock."""
    hdrs = [("content-length", str(len(first) + len(second))), *headers]
    if proto == "wsgi":

        class SlowInput:
            def __init__(self):
                self.parts = [first, second]

            def read(self, n=-1):
                if not self.parts:
                    return b""
                if len(self.parts) == 1 and not got_first.wait(5):
                    raise AssertionError("the handler did not see the first half in time")
                return self.parts.pop(0)

        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "t",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": SlowInput(),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.errors": io.StringIO(),
        }
        for k, v in hdrs:
            key = k.upper().replace("-", "_")
            environ[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key] = v
        status = []
        body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        return int(status[0].split()[0]), body

    async def main():
        msgs = [
            {"type": "http.request", "body": first, "more_body": True},
            {"type": "http.request", "body": second, "more_body": False},
        ]
        sent = []

        async def receive():
            if len(msgs) == 1:
                deadline = time.monotonic() + 5
                while not got_first.is_set():
                    assert time.monotonic() < deadline, (
                        "the handler did not see the first half in time"
                    )
                    await anyio.sleep(0.005)
            if msgs:
                return msgs.pop(0)
            await anyio.sleep(10)
            return {"type": "http.disconnect"}

        async def send(msg):
            sent.append(msg)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in hdrs],
        }
        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return asyncio.run(main())


def test_request_chunks_reach_the_handler_as_they_arrive(proto):
    app = Lcore()
    got_first = threading.Event()

    # A small declared body is read before a def handler under ASGI (one hop less);
    # stream_body=True hands the chunks over as they arrive, as for async handlers.
    @app.post("/sync", stream_body=True)
    def sync_stream():
        seen = []
        for chunk in request.stream():
            seen.append(chunk)
            got_first.set()
        return b"|".join(seen)

    @app.post("/async", stream_body=True)
    async def async_stream():
        seen = []
        async for chunk in request.stream():
            seen.append(chunk)
            got_first.set()
        return b"|".join(seen)

    for path in ("/sync", "/async"):
        got_first.clear()
        status, body = _serve_body_in_two_halves(proto, app, path, b"a" * 10, b"b" * 10, got_first)
        assert (status, body) == (200, b"a" * 10 + b"|" + b"b" * 10)


def test_multipart_is_parsed_as_the_body_arrives(proto):
    """The parser sees the first field before the rest of the body has been sent."""
    app = Lcore()
    got_first = threading.Event()
    body = multipart(
        fields=[("a", "1")], files=[("f", "f.bin", "application/octet-stream", b"z" * 50)]
    )
    cut = body.index(b"\r\n--", 10) + 2  # right after field a

    @app.post("/form", stream_body=True)  # a small body: else read before the handler
    def form():
        from lcore import multipart as mp

        feed = mp.MultipartParser.feed

        def spying_feed(self, chunk):
            rv = feed(self, chunk)
            got_first.set()
            return rv

        mp.MultipartParser.feed = spying_feed
        try:
            f = request.files["f"]
            return f"{request.forms['a']}:{f.filename}:{len(f.file.read())}"
        finally:
            mp.MultipartParser.feed = feed

    status, out = _serve_body_in_two_halves(
        proto, app, "/form", body[:cut], body[cut:], got_first, headers=[("content-type", CT)]
    )
    assert (status, out) == (200, b"1:f.bin:50")


def test_large_multipart_bodies_are_not_spooled_twice(make_client):
    app = Lcore()
    big = b"q" * 300_000

    @app.post("/up")
    def up():
        f = request.files["doc"]
        size = len(f.file.read())
        try:
            request.body.read()
            kept = True
        except RuntimeError:
            kept = False
        return {
            "size": size,
            "title": request.forms.title,
            "raw_kept": kept,
            "consumed": request._cache.get("body") is _CONSUMED,
        }

    @app.post("/small")
    def small():
        title = request.forms.title
        return {"title": title, "raw": len(request.body.read())}

    c = make_client(app)
    body = multipart(
        fields=[("title", "T")], files=[("doc", "d.bin", "application/octet-stream", big)]
    )
    r = c.post("/up", body=body, content_type=CT)
    assert r.json == {"size": 300_000, "title": "T", "raw_kept": False, "consumed": True}
    small_body = multipart(fields=[("title", "S")])
    assert c.post("/small", body=small_body, content_type=CT).json == {
        "title": "S",
        "raw": len(small_body),
    }


def test_the_body_limit_holds_while_streaming(make_client):
    app = Lcore()
    app.config["request.max_body"] = 1000

    # A small declared body is read before a def handler under ASGI (one hop less);
    # stream_body=True hands the chunks over as they arrive, as for async handlers.
    @app.post("/sync", stream_body=True)
    def sync_stream():
        return str(sum(len(c) for c in request.stream()))

    @app.post("/async", stream_body=True)
    async def async_stream():
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return str(n)

    @app.post("/form")
    def form():
        return str(len(request.files["doc"].file.read()))

    c = make_client(app)

    def chunks(n):
        for _ in range(n):
            yield b"x" * 100

    for path in ("/sync", "/async"):
        assert c.post(path, body=b"x" * 900).text == "900"
        with c.stream("POST", path, body=chunks(30)) as r:  # chunked: no length to check first
            r.read()
            assert r.status_code == 413, path
    big_form = multipart(files=[("doc", "d", "application/octet-stream", b"y" * 5000)])
    with c.stream(
        "POST", "/form", body=iter([big_form[:2000], big_form[2000:]]), headers={"Content-Type": CT}
    ) as r:
        r.read()
        assert r.status_code == 413


def test_stream_body_route_reads_nothing_before_the_handler(make_client):
    app = Lcore()
    seen = queue.Queue()

    @app.post("/raw", stream_body=True)
    async def raw():
        seen.put("handler")
        total = b""
        async for chunk in request.stream():
            total += chunk
        return total

    assert make_client(app).post("/raw", body=b"abc" * 1000).body == b"abc" * 1000
    assert seen.get_nowait() == "handler"


# -- the examples in docs/streaming.md ---------------------------------------------------

_DOC = Path(__file__).resolve().parents[2] / "docs" / "streaming.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _doc_blocks():
    text = _DOC.read_text(encoding="utf8")
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 2
        yield pytest.param(m.group(1), id=f"streaming.md:{line}")


def test_the_streaming_docs_have_examples():
    assert len(list(_doc_blocks())) >= 6


@pytest.mark.parametrize("code", list(_doc_blocks()))
def test_doc_example_runs(code, proto, monkeypatch):
    import lcore

    clients = []
    real = lcore.TestClient

    def client_for_protocol(app, *a, **kw):
        kw.setdefault("protocol", proto)
        c = real(app, *a, **kw)
        clients.append(c)
        return c

    monkeypatch.setattr(lcore, "TestClient", client_for_protocol)
    try:
        exec(compile(code, str(_DOC), "exec"), {"__name__": "__docs__"})
    finally:
        for c in clients:
            c.close()


def test_stream_body_route_that_reads_request_body_says_what_to_do(make_client, proto, caplog):
    """With ``stream_body=True`` an async handler must read the body itself: under ASGI
    the blocking ``request.body`` cannot wait on the loop and fails with advice; under
    WSGI blocking reads are how the body arrives anyway, so it works."""
    app = Lcore()

    @app.post("/raw", stream_body=True)
    async def raw():
        return request.body.read()

    with caplog.at_level("ERROR", logger="lcore.error"):
        r = make_client(app).post("/raw", body=b"abc")
    if proto == "asgi":
        assert r.status_code == 500
        assert any(
            "async for chunk in request.stream()" in rec.getMessage()
            or (rec.exc_info and "request.stream()" in str(rec.exc_info[1]))
            for rec in caplog.records
        )
    else:
        assert r.body == b"abc"


def test_iterate_in_thread_hands_over_every_item_in_order_and_closes():
    """Protocol-independent: the worker-thread iterator behind sync bodies under ASGI
    (a lost wake-up once made it hang; this runs many short, jittery iterations)."""
    import random

    from lcore.concurrency import iterate_in_thread

    closed = []

    def gen(n):
        try:
            for i in range(n):
                if random.random() < 0.3:
                    time.sleep(random.random() * 0.0005)
                yield i
        finally:
            closed.append(n)

    async def consume(n, stop_at):
        agen = iterate_in_thread(None, gen(n), 3)
        out = []
        try:
            async for x in agen:
                out.append(x)
                if x == stop_at:
                    break
                if random.random() < 0.3:
                    await anyio.sleep(0)
        finally:
            await agen.aclose()
        assert out == list(range(min(n, stop_at + 1)))

    async def main():
        for _ in range(400):
            closed.clear()
            n = random.randint(0, 12)
            await asyncio.wait_for(consume(n, random.randint(0, 14)), 5)
            assert closed == [n]

    asyncio.run(main())
