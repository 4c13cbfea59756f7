"""Routing through a real request: filters, 404/405, HEAD, URL building, groups."""

from __future__ import annotations

import re
import uuid

import pytest

from lcore import Lcore, request


def test_plain_and_default_segment(make_client):
    app = Lcore()

    @app.route("/hello/<name>")
    def hello(name):
        return f"hi {name}"

    c = make_client(app)
    r = c.get("/hello/bob")
    assert (r.status_code, r.text) == (200, "hi bob")
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert c.get("/hello/bob/x").status_code == 404
    assert c.get("/hello/").status_code == 404


def test_int_filter(make_client):
    app = Lcore()

    @app.route("/n/<n:int>")
    def n(n):
        return {"n": n, "type": type(n).__name__}

    c = make_client(app)
    assert c.get("/n/42").json == {"n": 42, "type": "int"}
    assert c.get("/n/-7").json == {"n": -7, "type": "int"}
    assert c.get("/n/abc").status_code == 404
    assert c.get("/n/1.5").status_code == 404


def test_float_filter(make_client):
    app = Lcore()

    @app.route("/f/<x:float>")
    def f(x):
        return {"x": x, "type": type(x).__name__}

    c = make_client(app)
    assert c.get("/f/1.5").json == {"x": 1.5, "type": "float"}
    assert c.get("/f/3").json == {"x": 3.0, "type": "float"}
    assert c.get("/f/x").status_code == 404


def test_path_filter(make_client):
    app = Lcore()

    @app.route("/files/<p:path>")
    def files(p):
        return p

    c = make_client(app)
    assert c.get("/files/a/b/c.txt").text == "a/b/c.txt"
    assert c.get("/files/x").text == "x"
    assert c.get("/files/").status_code == 404


def test_re_filter(make_client):
    app = Lcore()

    @app.route("/code/<code:re:[A-Z]{3}>")
    def code(code):
        return code

    @app.route("/grp/<v:re:(a|b)+>")
    def grp(v):
        return v

    c = make_client(app)
    assert c.get("/code/ABC").text == "ABC"
    assert c.get("/code/abc").status_code == 404
    assert c.get("/code/ABCD").status_code == 404
    # A capturing group inside the user regex does not shift the arguments.
    assert c.get("/grp/abba").text == "abba"


def test_uuid_filter(make_client):
    app = Lcore()

    @app.route("/u/<id:uuid>")
    def u(id):
        return id

    c = make_client(app)
    uid = str(uuid.uuid4())
    assert c.get(f"/u/{uid}").text == uid
    assert c.get("/u/not-a-uuid").status_code == 404


def test_custom_filter(make_client):
    app = Lcore()
    app.add_route_filter(
        "csv", r"[a-z]+(?:,[a-z]+)*", to_python=lambda s: s.split(","), to_url=lambda v: ",".join(v)
    )

    @app.route("/tags/<tags:csv>", name="tags")
    def tags(tags):
        return {"tags": tags, "url": app.get_url("tags", tags=["x", "y"])}

    c = make_client(app)
    assert c.get("/tags/a,b,c").json == {"tags": ["a", "b", "c"], "url": "/tags/x,y"}
    assert c.get("/tags/A").status_code == 404


def test_multiple_args_and_order(make_client):
    app = Lcore()

    @app.route("/a/<x>/<y:int>")
    def two(x, y):
        return f"{x}-{y}"

    @app.route("/a/static/<y:int>")
    def later(y):
        return "later"

    c = make_client(app)
    # Both match; the first registered wins.
    assert c.get("/a/static/1").text == "static-1"
    assert c.get("/a/q/2").text == "q-2"


def test_static_beats_dynamic_and_first_wins(make_client):
    app = Lcore()
    app.route("/x/<name>", callback=lambda name: "dyn " + name)
    app.route("/x/me", callback=lambda: "static")
    c = make_client(app)
    assert c.get("/x/me").text == "static"
    assert c.get("/x/you").text == "dyn you"


def test_404_body_and_json_format(make_client):
    app = Lcore()
    c = make_client(app)
    r = c.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert "Error: 404 Not Found" in r.text
    app.config["error.format"] = "json"
    r = c.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"error": "Not Found", "status": 404}


def test_405_with_allow(make_client):
    app = Lcore()
    app.route("/r", method=["GET", "POST"], callback=lambda: "ok")
    app.route("/r", method="DELETE", callback=lambda: "del")
    c = make_client(app)
    r = c.put("/r")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE,GET,HEAD,POST"
    assert c.delete("/r").text == "del"
    assert c.post("/r").text == "ok"


def test_405_dynamic(make_client):
    app = Lcore()
    app.post("/item/<id:int>", callback=lambda id: "x")
    c = make_client(app)
    r = c.get("/item/3")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert c.get("/item/x").status_code == 404


def test_head_for_get_routes(make_client):
    app = Lcore()

    @app.get("/h")
    def h():
        from lcore import response

        response.set_header("X-Thing", "1")
        return "hello body"

    c = make_client(app)
    r = c.head("/h")
    assert r.status_code == 200
    assert r.body == b""
    assert r.headers["x-thing"] == "1"
    assert r.headers["content-length"] == "10"
    assert r.headers["content-type"] == "text/html; charset=UTF-8"


def test_head_streamed_body_dropped(make_client):
    app = Lcore()

    @app.get("/gen")
    def gen():
        yield "a"
        yield "b"

    c = make_client(app)
    r = c.head("/gen")
    assert r.status_code == 200
    assert r.body == b""


def test_explicit_head_route_wins(make_client):
    app = Lcore()
    app.get("/x", callback=lambda: "get")

    @app.route("/x", method="HEAD")
    def head():
        from lcore import response

        response.set_header("X-Head", "yes")
        return ""

    r = make_client(app).head("/x")
    assert r.headers["x-head"] == "yes"


def test_any_method(make_client):
    app = Lcore()
    app.route("/any", method="ANY", callback=lambda: request.method)
    c = make_client(app)
    assert c.get("/any").text == "GET"
    assert c.patch("/any").text == "PATCH"
    assert c.request("PROPFIND", "/any").text == "PROPFIND"


def test_method_list_and_shorthands(make_client):
    app = Lcore()
    app.put("/p", callback=lambda: "put")
    app.patch("/p", callback=lambda: "patch")
    app.delete("/p", callback=lambda: "delete")
    app.post("/p", callback=lambda: "post")
    app.get("/p", callback=lambda: "get")
    c = make_client(app)
    for m in ("get", "post", "put", "patch", "delete"):
        assert getattr(c, m)("/p").text == m


def test_url_building(make_client):
    app = Lcore()

    @app.route("/users/<id:int>/posts/<slug>", name="post")
    def post(id, slug):
        return app.get_url("post", id=id + 1, slug="a b", page=2)

    @app.route("/files/<p:path>", name="file")
    def file(p):
        return app.get_url("file", p="x/y z")

    c = make_client(app)
    assert c.get("/users/1/posts/s").text == "/users/2/posts/a%20b?page=2"
    assert c.get("/files/q").text == "/files/x/y%20z"


def test_url_building_under_mount(make_client):
    parent, child = Lcore(), Lcore()

    @child.route("/item/<n:int>", name="item")
    def item(n):
        return child.get_url("item", n=n * 2)

    parent.mount("/sub", child)
    assert make_client(parent).get("/sub/item/4").text == "/sub/item/8"


def test_url_building_outside_request():
    app = Lcore()
    app.route("/a/<x>", name="a", callback=lambda x: x)
    assert app.get_url("a", x="1") == "/a/1"
    from lcore import RouteBuildError

    with pytest.raises(RouteBuildError):
        app.get_url("missing")
    with pytest.raises(RouteBuildError):
        app.get_url("a")


def test_group(make_client):
    app = Lcore()
    with app.group("/api", json_disable=True) as g:
        assert g is app

        @app.get("/items")
        def items():
            return "items"

        with app.group("/v2"):

            @app.get("/things")
            def things():
                from lcore import ctx

                return str(ctx.route.config.get("json_disable"))

        @app.get("/")
        def root():
            return "api root"

    @app.get("/items")
    def outside():
        return "outside"

    c = make_client(app)
    assert c.get("/api/items").text == "items"
    assert c.get("/api/v2/things").text == "True"
    assert c.get("/api/").text == "api root"
    assert c.get("/items").text == "outside"
    assert [r["rule"] for r in app.show_routes()] == [
        "/api/items",
        "/api/v2/things",
        "/api/",
        "/items",
    ]


def test_signature_derived_routes(make_client):
    app = Lcore()

    @app.route
    def index():
        return "index"

    @app.route()
    def show(name, page="1"):
        return f"{name}:{page}"

    @app.route
    def api__status():
        return "status"

    c = make_client(app)
    assert [r["rule"] for r in app.show_routes()] == [
        "/index",
        "/show/<name>",
        "/show/<name>/<page>",
        "/api/status",
    ]
    assert c.get("/index").text == "index"
    assert c.get("/show/bob").text == "bob:1"
    assert c.get("/show/bob/3").text == "bob:3"
    assert c.get("/api/status").text == "status"


def test_show_routes_shape():
    app = Lcore()

    @app.get("/x", name="x")
    def x():
        return ""

    [info] = app.show_routes()
    assert info == {
        "method": "GET",
        "rule": "/x",
        "name": "x",
        "callback": "test_show_routes_shape.<locals>.x",
        "plugins": ["template", "json"],
        "plan": [
            "route GET /x",
            "plugin: template",
            "handler test_show_routes_shape.<locals>.x (sync)",
            "cast: dict/list to JSON",
        ],
    }


def test_match_and_merge():
    app = Lcore()
    app.route("/a/<n:int>", callback=lambda n: n)
    route, args = app.match("GET", "/a/5")
    assert args == {"n": 5} and route.rule == "/a/<n:int>"
    other = Lcore()
    other.merge(app)
    route, args = other.match({"REQUEST_METHOD": "GET", "PATH_INFO": "/a/6"})
    assert args == {"n": 6}


def test_route_filter_value_error_400(make_client):
    app = Lcore()
    app.add_route_filter(
        "even", r"\d+", to_python=lambda s: int(s) if int(s) % 2 == 0 else int("x")
    )
    app.route("/e/<n:even>", callback=lambda n: str(n))
    c = make_client(app)
    assert c.get("/e/4").text == "4"
    assert c.get("/e/3").status_code == 400


def test_percent_encoded_path(make_client):
    app = Lcore()
    app.route("/p/<x>", callback=lambda x: x)
    app.route("/caf\u00e9", callback=lambda: "cafe")
    c = make_client(app)
    assert c.get("/p/a%20b").text == "a b"
    assert c.get("/caf%C3%A9").text == "cafe"


def test_bad_filter_pattern_rejected():
    from lcore import RouteError

    app = Lcore()
    with pytest.raises(RouteError):
        app.add_route_filter("bad", "(")
    assert issubclass(RouteError, ValueError)
    assert re.compile("x")


def test_group_skip_and_apply(make_client):
    from lcore import Middleware

    log = []
    app = Lcore()

    class Auth(Middleware):
        name = "auth"

        def __call__(self, c, n):
            log.append(c.request.path)
            return n(c)

    def exclaim(callback):
        return lambda *a, **k: callback(*a, **k) + "!"

    app.use(Auth())
    with app.group("/public", skip=["auth"], apply=[exclaim]):
        app.get("/a", callback=lambda: "a")
        app.get("/b", callback=lambda: "b", skip=["json"])
    app.get("/private", callback=lambda: "p")
    c = make_client(app)
    assert c.get("/public/a").text == "a!"
    assert c.get("/public/b").text == "b!"
    assert c.get("/private").text == "p"
    assert log == ["/private"]
    assert app.routes[1].skiplist == ["auth", "json"]
