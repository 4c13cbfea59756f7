"""BodyLimitMiddleware: 413 from Content-Length, and while reading undeclared bodies."""

from __future__ import annotations

import pytest

from lcore import BodyLimitMiddleware, Lcore, request


def _app(limit=100):
    app = Lcore()
    app.use(BodyLimitMiddleware(max_size=limit))
    calls = []

    @app.post("/body")
    def body():
        calls.append(1)
        return str(len(request.body.read()))

    @app.post("/abody")
    async def abody():
        calls.append(1)
        return str(len(request.body.read()))

    @app.post("/json")
    def js():
        return {"n": len(request.json["x"])}

    @app.post("/form")
    def form():
        return str(len(request.forms.get("x", "")))

    @app.post("/stream")
    def stream():
        return str(sum(len(c) for c in request.stream()))

    @app.post("/astream")
    async def astream():
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        return str(total)

    return app, calls


def _chunks(data: bytes, size: int = 10):
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("path", ["/body", "/abody"])
def test_declared_length_over_the_limit_is_refused_before_the_handler(make_client, path):
    app, calls = _app(100)
    c = make_client(app)
    r = c.post(path, body=b"x" * 101)
    assert r.status_code == 413
    assert calls == []
    assert c.post(path, body=b"x" * 100).text == "100"
    assert calls == [1]


@pytest.mark.parametrize("path", ["/body", "/abody", "/stream", "/astream"])
def test_chunked_body_is_counted_while_read(make_client, path):
    app, _ = _app(100)
    c = make_client(app)
    r = c.post(path, body=_chunks(b"y" * 150))
    assert r.status_code == 413
    r = c.post(path, body=_chunks(b"y" * 90))
    assert r.status_code == 200 and r.text == "90"


def test_json_and_forms_obey_the_same_limit(make_client):
    app, _ = _app(50)
    c = make_client(app)
    assert c.post("/json", json={"x": "a" * 10}).json == {"n": 10}
    assert c.post("/json", json={"x": "a" * 100}).status_code == 413
    assert (
        c.post("/form", body="x=" + "b" * 10, content_type="application/x-www-form-urlencoded").text
        == "10"
    )
    r = c.post(
        "/form",
        body=_chunks(("x=" + "b" * 100).encode()),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 413


def test_default_limit_is_ten_mebibytes():
    assert BodyLimitMiddleware().max_size == 10 * 1024 * 1024


def test_a_lower_per_request_limit_is_kept(make_client):
    app = Lcore()

    @app.hook("before_request")
    def lower():
        request.max_body = 5

    app.use(BodyLimitMiddleware(max_size=100))
    app.post("/b", callback=lambda: str(len(request.body.read())))
    c = make_client(app)
    assert c.post("/b", body=b"123456").status_code == 413
    assert c.post("/b", body=b"12345").text == "5"


def test_get_without_body_is_untouched(make_client):
    app, _ = _app(1)
    app.route("/", callback=lambda: "ok")
    assert make_client(app).get("/").text == "ok"


def test_negative_limit_is_refused():
    with pytest.raises(ValueError):
        BodyLimitMiddleware(-1)
