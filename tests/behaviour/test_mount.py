"""Mounting: Lcore children, module hooks, parent middleware, foreign WSGI and ASGI apps."""

from __future__ import annotations

import pytest

from lcore import HTTPResponse, Lcore, Middleware, ctx, request, response


def _child():
    child = Lcore()

    @child.route("/")
    def index():
        return {
            "where": "child index",
            "path": request.path,
            "script": request.script_name,
            "fullpath": request.fullpath,
            "url": request.url,
        }

    @child.route("/<id:int>")
    def item(id):
        return {"id": id}

    return child


def test_mount_lcore_child(make_client):
    app = Lcore()
    app.route("/", callback=lambda: "parent")
    app.mount("/api/users/", _child())
    c = make_client(app)
    assert c.get("/").text == "parent"
    assert c.get("/api/users/").json == {
        "where": "child index",
        "path": "/",
        "script": "/api/users",
        "fullpath": "/api/users/",
        "url": "http://localhost/api/users/",
    }
    assert c.get("/api/users/7").json == {"id": 7}
    r = c.get("/api/users/nope")
    assert r.status_code == 404


def test_mount_prefix_without_slash_and_bare_prefix(make_client):
    app = Lcore()
    app.mount("/sub", _child())
    c = make_client(app)
    assert c.get("/sub/3").json == {"id": 3}
    assert c.get("/sub").json["where"] == "child index"


def test_mount_empty_prefix_rejected():
    with pytest.raises(ValueError):
        Lcore().mount("/", _child())


def test_child_hooks_and_error_handlers(make_client):
    app, child = Lcore(), Lcore()
    log = []
    app.add_hook("before_request", lambda: log.append("parent before"))
    child.add_hook("before_request", lambda: log.append("child before " + request.path))
    child.add_hook("after_request", lambda: response.set_header("X-Child", "1"))
    child.error(404, lambda e: "child 404")
    app.error(404, lambda e: "parent 404")
    child.route("/x", callback=lambda: "x")
    app.mount("/c", child)
    c = make_client(app)
    r = c.get("/c/x")
    assert (r.text, r.headers["x-child"]) == ("x", "1")
    assert log == ["parent before", "child before /x"]
    assert c.get("/c/missing").text == "child 404"
    assert c.get("/missing").text == "parent 404"


def test_child_config_error_format(make_client):
    app, child = Lcore(), Lcore()
    child.config["error.format"] = "json"
    app.mount("/c", child)
    c = make_client(app)
    assert c.get("/c/none").json == {"error": "Not Found", "status": 404}
    assert "<html>" in c.get("/none").text


def test_parent_middleware_wraps_child(make_client):
    app, child = Lcore(), Lcore()
    log = []

    class Outer(Middleware):
        name = "outer"

        def __call__(self, c, next_handler):
            log.append("outer " + c.request.path)
            c.user = "u1"
            rv = next_handler(c)
            response.set_header("X-Outer", "1")
            return rv

    app.use(Outer())
    child.route("/who", callback=lambda: {"user": ctx.user, "path": request.path})
    app.mount("/c", child)
    r = make_client(app).get("/c/who")
    assert r.json == {"user": "u1", "path": "/who"}
    assert r.headers["x-outer"] == "1"
    assert log == ["outer /c/who"]


def test_child_middleware_only_for_child(make_client):
    app, child = Lcore(), Lcore()
    log = []
    child.use(lambda c, n: log.append("child mw") or n(c))
    child.route("/x", callback=lambda: "x")
    app.route("/y", callback=lambda: "y")
    app.mount("/c", child)
    c = make_client(app)
    c.get("/y")
    assert log == []
    c.get("/c/x")
    assert log == ["child mw"]


def test_child_state_shared_with_parent(make_client):
    app, child = Lcore(), Lcore()

    @app.hook("before_request")
    def before():
        ctx.state["tenant"] = "t1"

    child.route("/t", callback=lambda: ctx.state["tenant"])
    app.mount("/c", child)
    assert make_client(app).get("/c/t").text == "t1"


def test_module_hook_and_on_module_mount(make_client):
    app = Lcore()
    mounted = []
    app.add_hook("on_module_mount", lambda prefix, child: mounted.append(prefix))
    log = []

    @app.module_hook("/api/users/", "before_request")
    def users_before():
        log.append("users before " + request.path)

    @app.module_hook("/api/users", "after_request")
    def users_after():
        response.set_header("X-Module", "users")

    @app.hook("on_module_request")
    def on_req(prefix, c):
        log.append(("module request", prefix))

    child, other = _child(), _child()
    app.mount("/api/users/", child)
    app.mount("/api/other/", other)
    assert mounted == ["/api/users/", "/api/other/"]
    c = make_client(app)
    r = c.get("/api/users/5")
    assert r.headers["x-module"] == "users"
    assert log == [("module request", "/api/users/"), "users before /5"]
    log.clear()
    r = c.get("/api/other/5")
    assert "x-module" not in r.headers
    assert log == [("module request", "/api/other/")]


def test_child_cookies_and_status(make_client):
    app, child = Lcore(), Lcore()

    @child.route("/c")
    def c_():
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        response.status = 201
        return "created"

    app.mount("/m", child)
    r = make_client(app).get("/m/c")
    assert r.status_code == 201
    assert sorted(v.split(";")[0] for v in r.headers.get_list("set-cookie")) == ["a=1", "b=2"]


def test_child_streams_and_async(make_client):
    app, child = Lcore(), Lcore()

    @child.route("/gen")
    def gen():
        yield "a"
        yield "b"

    @child.route("/async")
    async def a():
        return {"async": request.path}

    @child.route("/body", method="POST")
    def body():
        return request.body.read()

    app.mount("/m", child)
    c = make_client(app)
    assert c.get("/m/gen").text == "ab"
    assert c.get("/m/async").json == {"async": "/async"}
    assert c.post("/m/body", body=b"payload").body == b"payload"


def test_child_scoped_dependencies_closed(make_client):
    app, child = Lcore(), Lcore()
    log = []

    class Res:
        def close(self):
            log.append("closed")

    child.inject("res", Res, lifetime="scoped")
    child.route("/b", callback=lambda: type(ctx.res).__name__)

    @child.route("/s")
    def s():
        ctx.res  # noqa: B018
        yield "x"

    app.mount("/m", child)
    c = make_client(app)
    assert c.get("/m/b").text == "Res"
    assert log == ["closed"]
    assert c.get("/m/s").text == "x"
    assert log == ["closed", "closed"]


def test_child_url_building(make_client):
    app, child = Lcore(), Lcore()
    child.route("/p/<n>", name="p", callback=lambda n: child.get_url("p", n="z"))
    app.mount("/deep/er", child)
    assert make_client(app).get("/deep/er/p/a").text == "/deep/er/p/z"


def _wsgi_app(environ, start_response):
    body = "{}|{}|{}|{}".format(
        environ["SCRIPT_NAME"],
        environ["PATH_INFO"],
        environ.get("QUERY_STRING", ""),
        environ["wsgi.input"].read().decode(),
    )
    start_response(
        "202 Accepted", [("Content-Type", "text/plain"), ("X-Wsgi", "1"), ("Set-Cookie", "w=1")]
    )
    return [body.encode()]


def test_mount_foreign_wsgi_app(make_client):
    app = Lcore()
    app.mount("/legacy/", _wsgi_app)
    c = make_client(app)
    r = c.get("/legacy/a/b?q=1")
    assert r.status_code == 202
    assert r.text == "/legacy|/a/b|q=1|"
    assert r.headers["x-wsgi"] == "1"
    assert r.headers["set-cookie"] == "w=1"
    r = c.post("/legacy/post", body=b"data")
    assert r.text == "/legacy|/post||data"


def test_mount_foreign_wsgi_streaming(make_client):
    def app_(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"one "
            yield b"two"

        return gen()

    app = Lcore()
    app.mount("/w", app_)
    assert make_client(app).get("/w/").text == "one two"


async def _asgi_app(scope, receive, send):
    assert scope["type"] == "http"
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    text = "{}|{}|{}|{}".format(
        scope["root_path"], scope["path"], scope["query_string"].decode(), body.decode()
    )
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-asgi", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()[:3], "more_body": True})
    await send({"type": "http.response.body", "body": text.encode()[3:]})


def test_mount_foreign_asgi_app(make_client):
    app = Lcore()
    app.mount("/modern", _asgi_app)
    c = make_client(app)
    r = c.get("/modern/x/y?z=2")
    assert r.status_code == 201
    assert r.headers["x-asgi"] == "1"
    assert r.text == "/modern|/modern/x/y|z=2|"
    r = c.post("/modern/p", body=b"hello")
    assert r.text == "/modern|/modern/p||hello"


def test_parent_middleware_wraps_foreign_apps(make_client):
    app = Lcore()
    app.use(lambda c, n: (response.set_header("X-Outer", "yes"), n(c))[1])
    app.mount("/w", _wsgi_app)
    app.mount("/a", _asgi_app)
    c = make_client(app)
    assert c.get("/w/").headers["x-outer"] == "yes"
    assert c.get("/a/").headers["x-outer"] == "yes"


def test_mount_not_an_app():
    with pytest.raises(TypeError):
        Lcore().mount("/x", 42)


def test_mount_raises_http_response_from_child_hook(make_client):
    app, child = Lcore(), Lcore()

    @child.hook("before_request")
    def deny():
        raise HTTPResponse("child says no", status=403)

    child.route("/x", callback=lambda: "x")
    app.mount("/c", child)
    r = make_client(app).get("/c/x")
    assert (r.status_code, r.text) == (403, "child says no")


def test_child_sees_parent_dependencies(make_client):
    app, child = Lcore(), Lcore()
    log = []

    class Db:
        def close(self):
            log.append("closed")

    app.inject("db", Db, lifetime="scoped")
    app.inject("cache", dict)

    @app.hook("before_request")
    def before():
        ctx.state["parent_db"] = id(ctx.db)

    @child.route("/x")
    def x():
        return {"same_db": id(ctx.db) == ctx.state["parent_db"], "cache": ctx.cache}

    app.mount("/c", child)
    assert make_client(app).get("/c/x").json == {"same_db": True, "cache": {}}
    assert log == ["closed"]


def test_child_dependency_shadows_parent(make_client):
    app, child = Lcore(), Lcore()
    app.inject("name", lambda: "parent")
    child.inject("name", lambda: "child")
    child.route("/n", callback=lambda: ctx.name)
    app.route("/n", callback=lambda: ctx.name)
    app.mount("/c", child)
    c = make_client(app)
    assert (c.get("/c/n").text, c.get("/n").text) == ("child", "parent")


def test_nested_mounts(make_client):
    outer, middle, inner = Lcore(), Lcore(), Lcore()
    outer.inject("v", lambda: "outer")
    middle.inject("v", lambda: "middle")
    inner.route(
        "/leaf",
        name="leaf",
        callback=lambda: {
            "v": ctx.v,
            "path": request.path,
            "script": request.script_name,
            "url": inner.get_url("leaf"),
        },
    )
    middle.mount("/b", inner)
    outer.mount("/a", middle)
    # The closest enclosing app's dependency wins.
    assert make_client(outer).get("/a/b/leaf").json == {
        "v": "middle",
        "path": "/leaf",
        "script": "/a/b",
        "url": "/a/b/leaf",
    }


def test_parent_and_child_hook_and_middleware_order(make_client):
    import anyio

    log = []
    app, child = Lcore(), Lcore()

    @app.hook("before_request")
    async def parent_before():
        log.append("p-before")

    @child.hook("before_request")
    def child_before():
        log.append("c-before")

    @child.hook("after_request")
    async def child_after():
        log.append("c-after")

    @app.hook("after_request")
    def parent_after():
        log.append("p-after")

    class AsyncMw(Middleware):
        async def __call__(self, c, n):
            log.append("p-mw")
            return await n(c)

    app.use(AsyncMw())
    child.use(lambda c, n: (log.append("c-mw"), n(c))[1])

    @child.route("/a")
    async def a():
        await anyio.sleep(0)
        log.append("handler")
        return {"path": request.path}

    child.route("/s", callback=lambda: log.append("handler") or {"path": request.path})
    app.mount("/c", child)
    c = make_client(app)
    for path in ("/a", "/s"):
        log.clear()
        assert c.get("/c" + path).json == {"path": path}
        assert log == ["p-before", "p-mw", "c-before", "c-mw", "handler", "c-after", "p-after"]


def test_mount_skip_parent_middleware_by_name(make_client):
    app = Lcore()
    log = []

    class Auth(Middleware):
        name = "auth"

        def __call__(self, c, n):
            log.append("auth " + c.request.path)
            return n(c)

    app.use(Auth())
    app.mount("/public", _child(), skip=["auth"])
    app.mount("/private", _child())
    c = make_client(app)
    assert c.get("/public/1").json == {"id": 1}
    assert c.get("/private/2").json == {"id": 2}
    assert log == ["auth /private/2"]


def test_foreign_app_errors_become_500(make_client):
    def bad_wsgi(environ, start_response):
        raise RuntimeError("wsgi app broke")

    async def bad_asgi(scope, receive, send):
        raise RuntimeError("asgi app broke")

    async def silent_asgi(scope, receive, send):
        return None

    app = Lcore()
    app.mount("/w", bad_wsgi)
    app.mount("/a", bad_asgi)
    app.mount("/s", silent_asgi)
    c = make_client(app)
    assert c.get("/w/x").status_code == 500
    assert c.get("/a/x").status_code == 500
    assert c.get("/s/x").status_code == 500
