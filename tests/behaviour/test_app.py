"""The app object: entry points, default app stack, module shortcuts, lifespan."""

from __future__ import annotations

import inspect
import io

import anyio
import pytest

import lcore
from lcore import Lcore, TestClient


def test_one_object_both_protocols():
    app = Lcore()
    app.route("/", callback=lambda: "same")
    with TestClient(app, protocol="wsgi") as w, TestClient(app, protocol="asgi") as a:
        assert w.get("/").text == a.get("/").text == "same"
    # ASGI servers inspect __call__ to decide the interface version.
    assert inspect.iscoroutinefunction(app.__call__)
    assert inspect.iscoroutinefunction(app.asgi)


def test_plain_wsgi_entry():
    app = Lcore()
    app.route("/", callback=lambda: "w")
    got = {}
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    body = b"".join(app.wsgi(env, lambda s, h, e=None: got.setdefault("s", s)))
    assert (got["s"], body) == ("200 OK", b"w")


def test_wrong_arity():
    with pytest.raises(TypeError):
        Lcore()(1)


def test_default_app_stack_and_shortcuts(make_client):
    mine = Lcore()
    with mine:
        assert lcore.default_app() is mine

        @lcore.route("/r")
        def r():
            return "route"

        lcore.get("/g", callback=lambda: "get")
        lcore.post("/p", callback=lambda: "post")
        lcore.error(404, lambda e: "custom")
        lcore.hook("after_request")(lambda: lcore.response.set_header("X-Hook", "1"))
        lcore.use(lambda c, n: n(c))
        named = lcore.route("/n/<x>", name="named", callback=lambda x: x)
        assert lcore.url("named", x="1") == "/n/1"
        assert named is not None
    assert lcore.default_app() is not mine
    c = make_client(mine)
    assert c.get("/r").text == "route"
    assert c.get("/g").headers["x-hook"] == "1"
    assert c.post("/p").text == "post"
    assert c.get("/missing").text == "custom"


def test_lifespan_startup_shutdown():
    app = Lcore()
    log = []
    app.add_hook("startup", lambda: log.append("startup"))

    @app.hook("shutdown")
    async def down():
        log.append("shutdown")

    sent = []

    async def main():
        msgs = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive():
            return msgs.pop(0)

        async def send(m):
            sent.append(m["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    anyio.run(main)
    assert log == ["startup", "shutdown"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_startup_hook_runs_once_under_wsgi():
    app = Lcore()
    log = []
    app.add_hook("startup", lambda: log.append(1))
    app.route("/", callback=lambda: "x")
    with TestClient(app) as c:
        c.get("/")
        c.get("/")
    assert log == [1]


def test_repr_and_show_middleware():
    app = Lcore()
    app.route("/", callback=lambda: "")
    assert repr(app) == "<Lcore 1 routes>"

    class M(lcore.Middleware):
        name = "m"
        order = 7

    app.use(M())
    assert app.show_middleware() == [
        {"name": "m", "type": "M", "order": 7, "phase": "post", "routes": False, "async": False}
    ]
