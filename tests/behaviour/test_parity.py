"""The same request gets the same response through WSGI and through ASGI.

Runs each request on both sides of one app and compares status, headers (names
case-insensitively, minus the few a transport may add) and body byte for byte.
"""

from __future__ import annotations

import asyncio

import pytest

from lcore import HTTPResponse, Lcore, TestClient, abort, redirect, request, response


def _app():
    app = Lcore()

    @app.route("/text")
    def text():
        return "caf\u00e9"

    @app.route("/json/<n:int>")
    def js(n):
        return {"n": n, "q": request.query.getall("q")}

    @app.route("/async/<x>")
    async def asy(x):
        await asyncio.sleep(0)
        response.set_header("X-Async", "1")
        return [x, request.method]

    @app.route("/gen")
    def gen():
        yield "a"
        yield b"b"

    @app.route("/agen")
    async def agen():
        async def body():
            yield "c"
            yield "d"

        return body()

    @app.route("/cookie")
    def cookie():
        response.set_cookie("a", "1", max_age=10)
        response.set_cookie("s", {"v": 1}, secret="k")
        return ""

    @app.route("/abort")
    def ab():
        abort(418, "teapot <here>")

    @app.route("/raise")
    def rs():
        raise HTTPResponse("raised", status=202, X_R="r")

    @app.route("/redirect")
    def rd():
        redirect("/text")

    @app.route("/crash")
    def crash():
        raise RuntimeError("x")

    @app.post("/form")
    def form():
        return {"f": dict(request.forms), "j": request.json}

    @app.route("/status")
    def st():
        response.status = 299
        return "custom"

    return app


REQUESTS = [
    ("GET", "/text", {}),
    ("HEAD", "/text", {}),
    ("GET", "/json/3?q=1&q=2", {}),
    ("GET", "/async/z", {}),
    ("POST", "/async/z", {}),
    ("GET", "/gen", {}),
    ("GET", "/agen", {}),
    ("GET", "/cookie", {}),
    ("GET", "/abort", {}),
    ("GET", "/raise", {}),
    ("GET", "/redirect", {}),
    ("GET", "/crash", {}),
    ("GET", "/missing", {}),
    ("DELETE", "/text", {}),
    ("GET", "/status", {}),
    (
        "POST",
        "/form",
        {"body": "a=1&b=%C3%A9", "content_type": "application/x-www-form-urlencoded"},
    ),
    ("POST", "/form", {"json": {"k": [1]}}),
]


@pytest.fixture(scope="module")
def clients():
    app = _app()
    w, a = TestClient(app, protocol="wsgi"), TestClient(app, protocol="asgi")
    yield w, a
    w.close()
    a.close()


@pytest.mark.parametrize("method,path,kw", REQUESTS, ids=[f"{m} {p}" for m, p, _ in REQUESTS])
def test_same_response(clients, method, path, kw):
    w, a = clients
    rw, ra = w.request(method, path, **kw), a.request(method, path, **kw)
    assert rw.status_code == ra.status_code
    assert rw.body == ra.body

    def norm(r):
        return sorted((k.lower(), v) for k, v in r.headers.multi_items())

    assert norm(rw) == norm(ra)
