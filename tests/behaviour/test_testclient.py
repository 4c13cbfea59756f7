"""The TestClient interface itself, under both protocols."""

from __future__ import annotations

import functools
import subprocess
import sys
import time

import pytest

from lcore import Lcore, request, response


def _echo_app():
    app = Lcore()

    @app.route("/echo", method="ANY")
    def echo():
        return {
            "method": request.method,
            "query": dict(request.query),
            "ctype": request.content_type,
            "body": request.body.read().decode(),
            "hdr": request.get_header("X-T"),
        }

    @app.route("/set")
    def set_():
        response.set_cookie("sid", "1")
        return "set"

    app.route("/cookie", callback=lambda: request.get_cookie("sid", "none"))
    return app


def test_request_arguments(make_client):
    c = make_client(_echo_app())
    r = c.request(
        "PUT",
        "/echo",
        body="raw",
        headers={"X-T": "t"},
        query_string="a=1",
        content_type="text/plain",
    )
    assert r.status == "200 OK"
    assert r.status_code == 200
    assert r.json == {
        "method": "PUT",
        "query": {"a": "1"},
        "ctype": "text/plain",
        "body": "raw",
        "hdr": "t",
    }
    assert c.get("/echo", query_string={"x": ["1", "2"]}).json["query"] == {"x": "2"}
    assert c.get("/echo?a=1", query_string="b=2").json["query"] == {"a": "1", "b": "2"}
    assert c.post("/echo", json={"k": 1}).json["ctype"] == "application/json"
    assert c.options("/echo").json["method"] == "OPTIONS"
    assert c.delete("/echo").json["method"] == "DELETE"
    assert c.patch("/echo", body=b"p").json["body"] == "p"
    assert c.head("/echo").body == b""


def test_response_fields(make_client):
    r = make_client(_echo_app()).get("/missing")
    assert r.status == "404 Not Found"
    assert isinstance(r.body, bytes) and "Not Found" in r.text
    assert r.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert repr(r) == "<TestResponse 404 Not Found>"


def test_cookie_jar(make_client):
    c = make_client(_echo_app())
    assert c.get("/cookie").text == "none"
    r = c.get("/set")
    assert r.cookies["sid"] == "1"
    assert c.cookies["sid"] == "1"
    assert c.get("/cookie").text == "1"


def test_context_manager(proto):
    from lcore import TestClient

    with TestClient(_echo_app(), protocol=proto) as c:
        assert c.get("/echo").status_code == 200


def test_bad_protocol():
    import pytest

    from lcore import TestClient

    with pytest.raises(ValueError):
        TestClient(Lcore(), protocol="cgi")


# -- a client never closed does not keep the interpreter from exiting -------------------
# Regression (issue 12): an ASGI TestClient left open made the interpreter hang at exit
# (``__del__`` at module teardown waited for the loop thread, already frozen). Each run is
# a real interpreter that exits; both protocols, though the hang was the ASGI side's.

_EXIT_SCRIPT = """
import sys, threading, time
from lcore import Lcore, TestClient

app = Lcore()
app.route("/", callback=lambda: "hi")

@app.route("/forever")
async def forever():
    import asyncio
    yield "first"
    await asyncio.sleep(3600)

@app.route("/stuck")
def stuck():
    time.sleep(3600)

proto, variant = sys.argv[1], sys.argv[2]

def make():
    c = TestClient(app, protocol=proto)
    assert c.get("/").text == "hi"
    return c

if variant == "global":
    client = make()
elif variant == "cycle":
    c = make()
    c.me = c  # only the cyclic gc frees it
    del c
elif variant == "open-stream":
    client = make()
    cm = client.stream("GET", "/forever")
    assert next(cm.__enter__().iter_bytes()) == b"first"
elif variant == "stuck-handler":
    client = make()
    threading.Thread(target=client.get, args=("/stuck",), daemon=True).start()
    time.sleep(0.3)
print("exiting")
"""


# The same open stream with httpx's own WSGI transport and a plain generator app: no
# lcore code at all. CPython 3.13.0 crashes (SIGSEGV) collecting it at exit.
_BARE_HTTPX_OPEN_STREAM = """
import httpx, time
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def gen():
        yield b"first"
        while True:
            time.sleep(0.01)
            yield b"x"
    return gen()
client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t")
cm = client.stream("GET", "/")
assert next(cm.__enter__().iter_bytes()) == b"first"
"""


@functools.lru_cache(maxsize=1)
def _interpreter_crashes_on_a_bare_open_httpx_stream() -> bool:
    done = subprocess.run(
        [sys.executable, "-c", _BARE_HTTPX_OPEN_STREAM], capture_output=True, timeout=20
    )
    return done.returncode < 0


@pytest.mark.parametrize("variant", ["global", "cycle", "open-stream", "stuck-handler"])
def test_an_unclosed_client_never_hangs_the_interpreter_at_exit(proto, variant):
    if variant == "open-stream" and _interpreter_crashes_on_a_bare_open_httpx_stream():
        pytest.skip(
            f"this CPython ({sys.version.split()[0]}) crashes at exit on an open httpx "
            "stream with no lcore code involved (CPython 3.13.0's GC at finalization)"
        )
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _EXIT_SCRIPT, proto, variant],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:  # run() killed it
        pytest.fail(f"the interpreter hung at exit ({proto}, {variant})")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "exiting"
    assert time.monotonic() - t0 < 15
