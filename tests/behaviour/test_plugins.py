"""Plugins (API 2): setup/apply/close, skip, route config, JSON and template plugins."""

from __future__ import annotations

import functools

import pytest

from lcore import JSONPlugin, Lcore, PluginError, TemplatePlugin, response


class Upper:
    name = "upper"
    api = 2

    def __init__(self):
        self.setup_with = None
        self.closed = False
        self.applied = []

    def setup(self, app):
        self.setup_with = app

    def apply(self, callback, route):
        self.applied.append(route.rule)
        suffix = route.config.get("suffix", "")

        @functools.wraps(callback)
        def wrapper(*a, **ka):
            rv = callback(*a, **ka)
            if hasattr(rv, "__await__"):

                async def finish():
                    return (await rv).upper() + suffix

                return finish()
            return rv.upper() + suffix

        return wrapper

    def close(self):
        self.closed = True


def test_plugin_lifecycle(make_client):
    app = Lcore()
    p = Upper()
    assert app.install(p) is p
    assert p.setup_with is app
    app.route("/", callback=lambda: "hi", suffix="!")
    c = make_client(app)
    assert c.get("/").text == "HI!"
    c.get("/")
    assert p.applied == ["/"]  # applied once, cached
    assert app.uninstall(p) == [p]
    assert p.closed is True
    assert c.get("/").text == "hi"


def test_plugin_wrapping_async_handler(make_client):
    app = Lcore()
    app.install(Upper())

    @app.route("/")
    async def h():
        return "async"

    assert make_client(app).get("/").text == "ASYNC"


def test_decorator_plugin(make_client):
    app = Lcore()

    def add_header(callback):
        def wrapper(*a, **ka):
            response.set_header("X-Plugin", "yes")
            return callback(*a, **ka)

        return wrapper

    app.install(add_header)
    app.route("/", callback=lambda: "x")
    assert make_client(app).get("/").headers["x-plugin"] == "yes"


@pytest.mark.parametrize("skip", ["upper", "UPPER_OBJ", Upper, True])
def test_skip(make_client, skip):
    app = Lcore()
    p = app.install(Upper())
    app.route("/s", callback=lambda: "skipped", skip=[p if skip == "UPPER_OBJ" else skip])
    app.route("/n", callback=lambda: "normal")
    c = make_client(app)
    assert c.get("/s").text == "skipped"
    assert c.get("/n").text == "NORMAL"


def test_skip_true_skips_json_too(make_client, caplog):
    app = Lcore()
    app.route("/", callback=lambda: {"a": 1}, skip=True)
    app.route("/s", callback=lambda: "text", skip=True)
    c = make_client(app)
    # skip=True removes every plugin, the json plugin too: a dict is a 500 that says why.
    assert c.get("/").status_code == 500
    assert "JSON conversion is off" in caplog.text
    assert c.get("/s").text == "text"


def test_route_apply(make_client):
    app = Lcore()
    app.route("/", callback=lambda: "x", apply=[Upper()])
    app.route("/b", callback=lambda: "y")
    c = make_client(app)
    assert c.get("/").text == "X"
    assert c.get("/b").text == "y"


def test_uninstall_variants():
    app = Lcore()
    a, b = app.install(Upper()), app.install(Upper())
    assert app.uninstall("upper") == [b, a]
    app.install(Upper())
    assert len(app.uninstall(Upper)) == 1
    assert [p.name for p in app.plugins] == ["json", "template"]
    assert len(app.uninstall(True)) == 2
    assert app.plugins == []


def test_bad_plugin_api():
    app = Lcore()

    class Old:
        api = 3

        def apply(self, cb, route):
            return cb

    with pytest.raises(PluginError):
        app.install(Old())
    with pytest.raises(PluginError):
        app.install(object())


def test_reset_rebuilds(make_client):
    app = Lcore()
    p = app.install(Upper())
    app.route("/", callback=lambda: "x")
    c = make_client(app)
    c.get("/")
    app.reset()
    c.get("/")
    app.reset(0)
    c.get("/")
    assert p.applied == ["/", "/", "/"]


def test_json_disable(make_client):
    app = Lcore()

    @app.route("/", json_disable=True)
    def h():
        return {"a": 1}

    @app.route("/other")
    def other():
        return {"a": 2}

    c = make_client(app)
    # JSON conversion is off for "/" only: its dict is a 500; the other route is JSON.
    assert c.get("/").status_code == 500
    assert c.get("/other").json == {"a": 2}
    assert [x["plugins"] for x in app.show_routes()] == [["template", "json"], ["template", "json"]]
    assert [x["plan"][-1] for x in app.show_routes()] == [
        "cast: JSON off (a dict is a 500)",
        "cast: dict/list to JSON",
    ]


def test_json_plugin_custom_dumps(make_client):
    app = Lcore()
    app.uninstall("json")
    app.install(JSONPlugin(json_dumps=lambda obj: "custom:" + str(sorted(obj))))
    app.route("/", callback=lambda: {"b": 1, "a": 2})
    r = make_client(app).get("/")
    assert r.text == "custom:['a', 'b']"
    assert r.headers["content-type"] == "application/json"


def test_json_enable_config(make_client):
    app = Lcore()
    app.uninstall("json")
    app.install(JSONPlugin(json_dumps=lambda obj: "plugin"))
    app.route("/", callback=lambda: {"a": 1})
    c = make_client(app)
    assert c.get("/").text == "plugin"
    app.config["json.enable"] = False  # takes effect at once (the plans are rebuilt)
    assert c.get("/").status_code == 500


def test_json_non_serialisable_is_500(make_client):
    app = Lcore()
    app.route("/", callback=lambda: {"x": object()})
    assert make_client(app).get("/").status_code == 500


def test_template_plugin_route_config(make_client):
    app = Lcore()

    @app.route("/hello/<name>", template="Hello {{name}}! {{extra}}")
    def hello(name):
        return {"name": name, "extra": "<b>"}

    @app.route("/defaults", template=("{{a}}-{{b}}", {"a": "A", "b": "B"}))
    def defaults():
        return {"b": "b"}

    @app.route("/async", template="async {{v}}")
    async def a():
        return {"v": 1}

    @app.route("/passthrough", template="ignored {{x}}")
    def passthrough():
        return "not a dict"

    c = make_client(app)
    assert c.get("/hello/bob").text == "Hello bob! &lt;b&gt;"
    assert c.get("/defaults").text == "A-b"
    assert c.get("/async").text == "async 1"
    assert c.get("/passthrough").text == "not a dict"
    assert isinstance(app.tpl, TemplatePlugin)


def test_plugin_sees_route_and_url_args(make_client):
    app = Lcore()
    seen = []

    class Rec:
        name = "rec"
        api = 2

        def apply(self, callback, route):
            def wrapper(**kw):
                seen.append((route.rule, route.method, kw))
                return callback(**kw)

            return wrapper

    app.install(Rec())
    app.post("/x/<n:int>", callback=lambda n: str(n))
    assert make_client(app).post("/x/3").text == "3"
    assert seen == [("/x/<n:int>", "POST", {"n": 3})]


def test_app_close_closes_plugins():
    app = Lcore()
    p = app.install(Upper())
    app.close()
    assert p.closed is True


def test_async_plugin_wrapping_sync_handler(make_client):
    import anyio

    app = Lcore()

    class AsyncWrap:
        name = "awrap"
        api = 2

        def apply(self, callback, route):
            async def wrapper(*a, **ka):
                await anyio.sleep(0)
                return "<" + callback(*a, **ka) + ">"

            return wrapper

    app.install(AsyncWrap())
    app.route("/<x>", callback=lambda x: x)
    assert make_client(app).get("/v").text == "<v>"


class _Items(dict):
    pass


def _json_results_app(with_hook: bool) -> Lcore:
    from lcore import HTTPResponse

    app = Lcore()
    if with_hook:  # a hook moves every request off the fast path onto the pipeline
        app.hook("before_request")(lambda: None)

    @app.route("/sub")
    def sub():
        return _Items(a=1)

    @app.route("/async-sub")
    async def async_sub():
        return _Items(a=2)

    @app.route("/httpresponse")
    def http_response():
        return HTTPResponse({"made": "here"}, status=201)

    @app.route("/charset")
    def charset():
        response.content_type = "application/problem+json; charset=latin-1"
        return {"title": "é"}

    @app.route("/html")
    def html():
        response.content_type = "text/html; charset=UTF-8"
        return ["x"]

    @app.route("/unicode")
    async def unicode():
        return {"name": "Zoë"}

    return app


@pytest.mark.parametrize("with_hook", [False, True], ids=["fast-path", "pipeline"])
def test_json_results_same_on_fast_path_and_pipeline(make_client, with_hook):
    client = make_client(_json_results_app(with_hook))
    for path, n in (("/sub", 1), ("/async-sub", 2)):
        r = client.get(path)
        assert (r.status_code, r.headers["Content-Type"], r.body) == (
            200,
            "application/json",
            b'{"a":%d}' % n,
        )
    r = client.get("/httpresponse")
    assert (r.status_code, r.headers["Content-Type"], r.json) == (
        201,
        "application/json",
        {"made": "here"},
    )
    r = client.get("/charset")
    assert r.headers["Content-Type"] == "application/problem+json; charset=latin-1"
    assert r.body == '{"title":"é"}'.encode("latin-1")
    r = client.get("/html")
    assert (r.headers["Content-Type"], r.body) == ("application/json", b'["x"]')
    r = client.get("/unicode")
    assert r.body == '{"name":"Zoë"}'.encode() and r.headers["Content-Length"] == str(len(r.body))


def test_json_is_the_plans_cast_not_a_wrapper():
    app = Lcore()
    app.route("/a", callback=lambda: {"x": 1})
    app.route("/off", callback=lambda: {"x": 1}, json_disable=True)
    a, off = app.routes
    # The json plugin adds no wrapper: its work is the plan's cast.
    assert a.call() == {"x": 1} and a.plan.dumps is not None and off.plan.dumps is None
    custom = Lcore()
    custom.uninstall(JSONPlugin)
    custom.install(JSONPlugin(json_dumps=lambda obj: "custom"))
    custom.route("/c", callback=lambda: {"x": 1})
    (c,) = custom.routes
    assert c.plan.dumps({"x": 1}) == "custom"
