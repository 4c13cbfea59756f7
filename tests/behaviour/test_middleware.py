"""Middleware: phases, order, route filters, skip, MiddlewareHook, sync/async mixing."""

from __future__ import annotations

import re

from lcore import HTTPResponse, Lcore, Middleware, MiddlewareHook, ctx, response


class Tag(Middleware):
    """Records its name around the rest of the chain."""

    def __init__(self, name, log, order=50, phase="post"):
        self.name, self.log, self.order, self.phase = name, log, order, phase

    def __call__(self, c, next_handler):
        self.log.append(f"{self.name}>")
        rv = next_handler(c)
        self.log.append(f"<{self.name}")
        return rv


class ATag(Tag):
    async def __call__(self, c, next_handler):
        self.log.append(f"{self.name}>")
        rv = await next_handler(c)
        self.log.append(f"<{self.name}")
        return rv


def test_order_and_phases(make_client):
    log = []
    app = Lcore()
    app.use(Tag("post90", log, order=90))
    app.use(Tag("pre5", log, order=5, phase="pre"))
    app.use(Tag("post1", log, order=1))
    app.use(Tag("pre-1", log, order=-1, phase="pre"))

    @app.hook("on_auth_resolved")
    def routed():
        log.append("routed")

    @app.route("/")
    def h():
        log.append("handler")
        return "ok"

    assert make_client(app).get("/").text == "ok"
    assert log == [
        "pre-1>",
        "pre5>",
        "routed",
        "post1>",
        "post90>",
        "handler",
        "<post90",
        "<post1",
        "<pre5",
        "<pre-1",
    ]
    assert [m["name"] for m in app.show_middleware()] == ["pre-1", "post1", "pre5", "post90"]


def test_equal_order_keeps_insertion(make_client):
    log = []
    app = Lcore()
    for n in "abcd":
        app.use(Tag(n, log, order=10))
    app.route("/", callback=lambda: "ok")
    make_client(app).get("/")
    assert log == ["a>", "b>", "c>", "d>", "<d", "<c", "<b", "<a"]


def test_use_returns_middleware_and_order_override(make_client):
    log = []
    app = Lcore()
    first = Tag("first", log, order=100)
    assert app.use(first, order=0) is first
    app.use(Tag("second", log, order=1))
    app.route("/", callback=lambda: "ok")
    make_client(app).get("/")
    assert log[:2] == ["first>", "second>"]


def test_pre_middleware_runs_for_404(make_client):
    log = []
    app = Lcore()
    app.use(Tag("pre", log, phase="pre"))
    app.use(Tag("post", log))
    assert make_client(app).get("/nothing").status_code == 404
    # The routing error propagates out of next_handler (a middleware may catch it).
    assert log == ["pre>"]


def test_pre_middleware_can_catch_routing_error(make_client):
    from lcore import HTTPError

    app = Lcore()

    class Fallback(Middleware):
        phase = "pre"

        def __call__(self, c, next_handler):
            try:
                return next_handler(c)
            except HTTPError as e:
                if e.status_code == 404:
                    return "fallback page"
                raise

    app.use(Fallback())
    app.post("/only-post", callback=lambda: "")
    c = make_client(app)
    r = c.get("/anything")
    assert (r.status_code, r.text) == (200, "fallback page")
    assert c.get("/only-post").status_code == 405


def test_pre_middleware_short_circuit(make_client):
    app = Lcore()

    class Preflight(Middleware):
        phase = "pre"

        def __call__(self, c, next_handler):
            if c.request.method == "OPTIONS":
                return HTTPResponse("", status=204, X_Pre="1")
            return next_handler(c)

    app.use(Preflight())
    app.route("/", callback=lambda: "ok")
    c = make_client(app)
    r = c.options("/")
    assert (r.status_code, r.headers["x-pre"]) == (204, "1")
    assert c.get("/").text == "ok"


def test_routes_string_list_regex(make_client):
    # A string is a regular expression matched with re.match (Lcore 0.0.4).
    log = []
    app = Lcore()
    app.use(Tag("glob", log), routes="/api/*")
    app.use(Tag("list", log), routes=["/a$", "/b/"])
    app.use(Tag("regex", log), routes=re.compile(r"^/re/\d+$"))
    app.use(Tag("pre-glob", log, phase="pre"), routes="/api/*")
    for p in ("/api/x", "/a", "/a/x", "/b/c", "/re/12", "/re/x", "/other"):
        app.route(p, callback=lambda: "ok")
    c = make_client(app)

    def names(path):
        log.clear()
        assert c.get(path).status_code == 200
        return [x[:-1] for x in log if x.endswith(">")]

    assert names("/api/x") == ["pre-glob", "glob"]
    assert names("/a") == ["list"]
    assert names("/a/x") == []
    assert names("/b/c") == ["list"]
    assert names("/re/12") == ["regex"]
    assert names("/re/x") == []
    assert names("/other") == []


def test_route_skip_by_name(make_client):
    log = []
    app = Lcore()
    app.use(Tag("auth", log))
    app.use(Tag("logger", log))
    app.route("/public", callback=lambda: "p", skip=["auth"])
    app.route("/none", callback=lambda: "n", skip=[True])
    app.route("/all", callback=lambda: "a")
    c = make_client(app)
    c.get("/public")
    assert log == ["logger>", "<logger"]
    log.clear()
    c.get("/none")
    # skip=[True] removes plugins, not middleware (Lcore 0.0.4).
    assert log == ["auth>", "logger>", "<logger", "<auth"]
    log.clear()
    c.get("/all")
    assert log == ["auth>", "logger>", "<logger", "<auth"]


def test_middleware_hook_pre_short_circuit_and_post(make_client):
    calls = []
    app = Lcore()

    class Gate(MiddlewareHook):
        name = "gate"

        def pre(self, c):
            calls.append("pre")
            if c.request.query.get("deny"):
                return HTTPResponse("denied", status=403)
            return None

        def post(self, c, result):
            calls.append("post")
            c.response.set_header("X-Post", "1")
            return result.upper() if isinstance(result, str) else result

    app.use(Gate())

    @app.route("/")
    def h():
        calls.append("handler")
        return "hello"

    c = make_client(app)
    r = c.get("/")
    assert (r.text, r.headers["x-post"]) == ("HELLO", "1")
    assert calls == ["pre", "handler", "post"]
    calls.clear()
    r = c.get("/?deny=1")
    assert (r.status_code, r.text) == (403, "denied")
    assert calls == ["pre", "post"]


def test_middleware_hook_post_sees_http_error(make_client):
    app = Lcore()
    seen = []

    class Watch(MiddlewareHook):
        def post(self, c, result):
            seen.append(type(result).__name__)
            return result

    app.use(Watch())

    @app.route("/")
    def conflict():
        from lcore import abort

        abort(409, "conflict")

    r = make_client(app).get("/")
    assert r.status_code == 409
    assert seen == ["HTTPError"]


def test_async_middleware_hook(make_client):
    app = Lcore()

    class AHook(MiddlewareHook):
        async def pre(self, c):
            c.state["pre"] = "async"

        async def post(self, c, result):
            return result + "|" + c.state["pre"]

    app.use(AHook())
    app.route("/s", callback=lambda: "sync")

    @app.route("/a")
    async def a():
        return "async"

    c = make_client(app)
    assert c.get("/s").text == "sync|async"
    assert c.get("/a").text == "async|async"


def test_async_middleware_around_sync_and_async(make_client):
    log = []
    app = Lcore()
    app.use(ATag("amw", log))
    app.route("/s", callback=lambda: "sync")

    @app.route("/a")
    async def a():
        return "async"

    c = make_client(app)
    assert c.get("/s").text == "sync"
    assert log == ["amw>", "<amw"]
    assert c.get("/a").text == "async"


def test_sync_middleware_wrapping_async_handler(make_client):
    log = []
    app = Lcore()
    app.use(Tag("smw", log))

    @app.route("/a")
    async def a():
        log.append("handler")
        return {"ok": True}

    r = make_client(app).get("/a")
    assert r.json == {"ok": True}
    assert log == ["smw>", "handler", "<smw"]


def test_mixed_chain(make_client):
    log = []
    app = Lcore()
    app.use(Tag("s1", log, order=1))
    app.use(ATag("a2", log, order=2))
    app.use(Tag("s3", log, order=3))
    app.use(Tag("pre-s", log, order=0, phase="pre"))
    app.use(ATag("pre-a", log, order=1, phase="pre"))

    @app.route("/a")
    async def a():
        log.append("h")
        return "A"

    app.route("/s", callback=lambda: log.append("h") or "S")
    c = make_client(app)
    expected = [
        "pre-s>",
        "pre-a>",
        "s1>",
        "a2>",
        "s3>",
        "h",
        "<s3",
        "<a2",
        "<s1",
        "<pre-a",
        "<pre-s",
    ]
    assert c.get("/a").text == "A"
    assert log == expected
    log.clear()
    assert c.get("/s").text == "S"
    assert log == expected


def test_middleware_returning_dict_becomes_json(make_client):
    app = Lcore()

    class Wrap(Middleware):
        def __call__(self, c, next_handler):
            return {"wrapped": next_handler(c)}

    app.use(Wrap())
    app.route("/", callback=lambda: "inner")
    r = make_client(app).get("/")
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"wrapped": "inner"}


def test_middleware_sees_plugin_output(make_client):
    """Post middleware wrap the plugin-wrapped handler: a dict arrives as JSON text."""
    app = Lcore()
    seen = []

    class Peek(Middleware):
        def __call__(self, c, next_handler):
            rv = next_handler(c)
            seen.append(type(rv).__name__)
            return rv

    app.use(Peek())
    app.route("/", callback=lambda: {"a": 1})
    assert make_client(app).get("/").json == {"a": 1}
    assert seen == ["str"]


def test_plain_function_middleware_and_ctx(make_client):
    app = Lcore()

    def timing(c, next_handler):
        c.user = "alice"
        rv = next_handler(c)
        response.set_header("X-User", ctx.user)
        return rv

    app.use(timing)
    app.route("/", callback=lambda: ctx.user)
    r = make_client(app).get("/")
    assert (r.text, r.headers["x-user"]) == ("alice", "alice")


def test_middleware_raising_http_error(make_client):
    app = Lcore()
    app.config["error.format"] = "json"

    class Deny(Middleware):
        def __call__(self, c, next_handler):
            from lcore import abort

            abort(403, "nope")

    app.use(Deny())
    app.route("/", callback=lambda: "never")
    r = make_client(app).get("/")
    assert r.status_code == 403
    assert r.json == {"error": "nope", "status": 403}


def test_middleware_exception_is_500(make_client):
    app = Lcore()
    app.use(lambda c, n: 1 / 0)
    app.route("/", callback=lambda: "x")
    assert make_client(app).get("/").status_code == 500


def test_remove_middleware(make_client):
    log = []
    app = Lcore()
    mw = app.use(Tag("gone", log))
    app.use(Tag("named", log))
    app.route("/", callback=lambda: "x")
    c = make_client(app)
    c.get("/")
    assert app.middleware.remove(mw) is True
    assert app.middleware.remove("named") is True
    assert app.middleware.remove(mw) is False
    log.clear()
    c.get("/")
    assert log == []
    assert len(app.middleware) == 0


def test_subclass_without_super_init(make_client):
    app = Lcore()

    class Bare(Middleware):
        def __init__(self):
            pass

    m = app.use(Bare())
    assert (m.name, m.order, m.phase) == (None, 50, "post")
    app.route("/", callback=lambda: "ok")
    assert make_client(app).get("/").text == "ok"


def test_hooks_with_one_callback_or_instance_callbacks(make_client):
    """A hook that defines only ``pre`` or only ``post`` (in its class or on the instance)
    has that one called, in order, in both phases; one that defines neither is a no-op."""
    log = []

    class PreOnly(MiddlewareHook):
        def pre(self, c):
            log.append(f"pre:{self.phase}")

    class PostOnly(MiddlewareHook):
        def post(self, c, result):
            log.append(f"post:{self.phase}")
            return result + "!"

    class Neither(MiddlewareHook):
        pass

    class OnInstance(MiddlewareHook):
        def __init__(self):
            self.post = lambda c, result: log.append("instance-post") or result + "?"

    app = Lcore()
    app.route("/", callback=lambda: "r")
    for phase in ("pre", "post"):
        for cls in (PreOnly, PostOnly, Neither):
            mw = cls()
            mw.phase = phase
            app.use(mw)
    app.use(OnInstance())
    assert make_client(app).get("/").text == "r?!!"
    assert log == ["pre:pre", "pre:post", "instance-post", "post:post", "post:pre"]
