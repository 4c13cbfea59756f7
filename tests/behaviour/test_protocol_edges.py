"""What each adapter maps: script name / root path, body chunks, disconnects, bad paths.

These tests drive the raw protocol (an environ, or a scope with receive/send) because
the point is the mapping itself; each protocol gets the same assertions.
"""

from __future__ import annotations

import io
import time

import anyio
import pytest

from lcore import Lcore, request


def call_wsgi(
    app, path="/", method="GET", script_name="", body=b"", headers=None, protocol="HTTP/1.1"
):
    env = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "srv",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": protocol,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "10.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
    }
    for k, v in (headers or {}).items():
        key = k.upper().replace("-", "_")
        env[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key] = v
    got = {}

    def start_response(status, hdrs, exc_info=None):
        got["status"], got["headers"] = status, hdrs

    result = app(env, start_response)
    try:
        got["body"] = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(got["status"].split()[0]), dict(got["headers"]), got["body"]


def call_asgi(
    app,
    path="/",
    method="GET",
    root_path="",
    chunks=(b"",),
    headers=None,
    disconnect_after=None,
    http_version="1.1",
):
    sent = []

    async def main():
        msgs = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": http_version,
            "method": method,
            "scheme": "http",
            "path": root_path + path,
            "raw_path": (root_path + path).encode(),
            "root_path": root_path,
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
            + [(b"host", b"srv:8080")]
            + (
                [(b"content-length", str(sum(map(len, chunks))).encode())]
                if method == "POST" and http_version != "2"
                else []
            ),
            "client": ("10.0.0.1", 1234),
            "server": ("srv", 8080),
        }

        gone_at = time.monotonic() + (disconnect_after or 0)

        async def receive():
            # Like real servers: once the client is gone, answer at once (no checkpoint).
            if msgs:
                return msgs.pop(0)
            if time.monotonic() < gone_at:
                await anyio.sleep(gone_at - time.monotonic())
            return {"type": "http.disconnect"}

        async def send(m):
            sent.append(m)

        await app(scope, receive, send)

    anyio.run(main)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def _info_app():
    app = Lcore()

    @app.route("/p/<x>", name="p")
    def p(x):
        return {
            "path": request.path,
            "script": request.script_name,
            "fullpath": request.fullpath,
            "url": request.url,
            "built": app.get_url("p", x="z"),
            "remote": request.remote_addr,
        }

    return app


def test_wsgi_script_name():
    import json

    status, _, body = call_wsgi(_info_app(), "/p/1", script_name="/app")
    assert status == 200
    assert json.loads(body) == {
        "path": "/p/1",
        "script": "/app",
        "fullpath": "/app/p/1",
        "url": "http://srv:8080/app/p/1",
        "built": "/app/p/z",
        "remote": "10.0.0.1",
    }


def test_asgi_root_path():
    import json

    status, _, body = call_asgi(_info_app(), "/p/1", root_path="/app")
    assert status == 200
    assert json.loads(body) == {
        "path": "/p/1",
        "script": "/app",
        "fullpath": "/app/p/1",
        "url": "http://srv:8080/app/p/1",
        "built": "/app/p/z",
        "remote": "10.0.0.1",
    }


def test_asgi_body_in_many_messages():
    app = Lcore()
    app.post("/s", callback=lambda: request.body.read())

    @app.post("/a")
    async def a():
        return request.body.read()

    chunks = (b"ab", b"", b"cd", b"e")
    assert call_asgi(app, "/s", "POST", chunks=chunks)[2] == b"abcde"
    assert call_asgi(app, "/a", "POST", chunks=chunks)[2] == b"abcde"


def test_wsgi_non_utf8_path_is_400():
    app = Lcore()
    app.route("/<x>", callback=lambda x: x)
    status, _, _ = call_wsgi(app, "/\xff\xfe")
    assert status == 400


def test_head_content_length_both():
    app = Lcore()
    app.route("/", callback=lambda: "12345")
    for status, headers, body in (call_wsgi(app, method="HEAD"), call_asgi(app, method="HEAD")):
        assert status == 200 and body == b""
        assert {k.lower(): v for k, v in headers.items()}["content-length"] == "5"


def test_asgi_header_names_lowercase():
    app = Lcore()
    app.route("/", callback=lambda: "x")
    _, headers, _ = call_asgi(app)
    assert all(k == k.lower() for k in headers)


def test_asgi_disconnect_probe():
    app = Lcore()
    seen = []

    @app.route("/")
    async def h():
        seen.append(await request.is_disconnected())
        return "x"

    call_asgi(app, disconnect_after=5)
    assert seen == [False]


def test_asgi_is_disconnected_after_client_left():
    app = Lcore()
    polls = []

    @app.route("/")
    async def h():
        while not await request.is_disconnected():
            polls.append(1)
            await anyio.sleep(0.01)
            if len(polls) > 500:
                return "never noticed"
        return "noticed"

    assert call_asgi(app, disconnect_after=0.05)[2] == b"noticed"


def test_asgi_streaming_stops_on_disconnect():
    app = Lcore()
    produced = []
    closed = []

    @app.route("/")
    async def h():
        async def body():
            try:
                for i in range(1000):
                    produced.append(i)
                    yield "x"
                    await anyio.sleep(0.005)
            finally:
                closed.append(True)

        return body()

    call_asgi(app, disconnect_after=0.05)
    assert closed == [True]
    assert len(produced) < 1000


def test_async_get_handler_reads_empty_body(make_client):
    app = Lcore()

    @app.route("/")
    async def h():
        return {
            "body": request.body.read().decode(),
            "json": request.json,
            "forms": dict(request.forms),
        }

    assert make_client(app).get("/").json == {"body": "", "json": None, "forms": {}}


def test_wsgi_is_disconnected_false():
    app = Lcore()

    @app.route("/")
    async def h():
        return str(await request.is_disconnected())

    assert call_wsgi(app)[2] == b"False"


def test_wsgi_early_close_runs_generator_cleanup_and_teardown():
    app = Lcore()
    log = []

    class Res:
        def close(self):
            log.append("scoped closed")

    app.inject("res", Res, lifetime="scoped")

    @app.route("/sync")
    def sync_gen():
        from lcore import ctx

        ctx.res  # noqa: B018

        def gen():
            try:
                for i in range(100):
                    yield str(i)
            finally:
                log.append("sync gen closed")

        return gen()

    @app.route("/async")
    async def async_gen():
        from lcore import ctx

        ctx.res  # noqa: B018

        async def gen():
            try:
                for i in range(100):
                    yield str(i)
            finally:
                log.append("async gen closed")

        return gen()

    env = {
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    for path, name in (("/sync", "sync gen closed"), ("/async", "async gen closed")):
        log.clear()
        result = app(dict(env, PATH_INFO=path), lambda *a: None)
        it = iter(result)
        assert next(it) == b"0"
        result.close()  # the server gives up after one chunk
        assert log == [name, "scoped closed"]


def test_asgi_http2_body_without_content_length():
    """HTTP/2 frames bodies itself: no Content-Length, no chunked, still a body."""
    app = Lcore()
    app.post("/s", callback=lambda: request.body.read())

    @app.post("/a")
    async def a():
        return {"json": request.json}

    chunks = (b'{"a":', b" 1}")
    assert call_asgi(app, "/s", "POST", chunks=chunks, http_version="2")[2] == b'{"a": 1}'
    status, _, body = call_asgi(
        app,
        "/a",
        "POST",
        chunks=chunks,
        http_version="2",
        headers={"content-type": "application/json"},
    )
    assert (status, body) == (200, b'{"json":{"a":1}}')


@pytest.mark.parametrize("bad", ["abc", "-5", "1.5"])
def test_bad_content_length_is_400_before_the_body_is_read(bad):
    """A Content-Length that is not a length is refused with 400 when the body is first
    read (sync or async handler, body or JSON), under both protocols; the framing is
    taken from the headers before any body message is read."""
    app = Lcore()
    app.route("/sync", method="PUT", callback=lambda: request.body.read())
    app.route("/json", method="PUT", callback=lambda: {"got": request.json})

    @app.route("/async", method="PUT")
    async def read_async():
        return request.body.read()

    headers = {"Content-Length": bad, "Content-Type": "application/json"}
    for path in ("/sync", "/json", "/async"):
        status, _, body = call_wsgi(app, path, "PUT", body=b'"hello"', headers=headers)
        assert (status, body.count(b"Invalid Content-Length")) == (400, 1), ("wsgi", path)
        status, _, body = call_asgi(app, path, "PUT", chunks=(b'"hello"',), headers=headers)
        assert (status, body.count(b"Invalid Content-Length")) == (400, 1), ("asgi", path)
