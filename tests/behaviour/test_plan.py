"""Each route has a plan (lcore/plan.py): what runs for it, decided once, run by both drivers."""

from __future__ import annotations

import enum

import pytest

from lcore import Lcore, Middleware, RouteError, response, view

if hasattr(enum, "StrEnum"):  # Python 3.11+

    class Color(enum.StrEnum):
        RED = "red"

else:  # 3.10: a str-mixin Enum is the same kind of str subclass

    class Color(str, enum.Enum):  # type: ignore[no-redef]
        RED = "red"


class Tag(Middleware):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def __call__(self, ctx, next_handler):
        self.log.append(self.name)
        return next_handler(ctx)


class Msgpackish:
    """A plugin that takes dicts over (as a msgpack plugin would) on routes without JSON."""

    name = "kv"
    api = 2

    def apply(self, callback, route):
        def wrapper(*a, **ka):
            rv = callback(*a, **ka)
            if isinstance(rv, dict):
                response.content_type = "text/x-kv"
                return ";".join(f"{k}={v}" for k, v in rv.items())
            return rv

        return wrapper


@pytest.mark.parametrize("with_hook", [False, True], ids=["plain", "hooked"])
def test_json_disable_turns_json_off_for_that_route(make_client, caplog, with_hook):
    app = Lcore()
    if with_hook:
        app.add_hook("after_request", lambda: None)
    app.route("/off", callback=lambda: {"a": 1}, json_disable=True)
    app.route("/on", callback=lambda: {"a": 1})
    app.route("/taken", callback=lambda: {"a": 1, "b": 2}, json_disable=True, apply=[Msgpackish()])
    c = make_client(app)
    r = c.get("/off")
    assert r.status_code == 500
    assert "route GET '/off' returned a dict, but JSON conversion is off for it" in caplog.text
    assert c.get("/on").json == {"a": 1}
    r = c.get("/taken")  # a plugin took the dict over
    assert (r.status_code, r.headers["Content-Type"], r.text) == (200, "text/x-kv", "a=1;b=2")


def test_json_enable_false_lets_view_take_dicts(make_client, caplog):
    app = Lcore(**{"json.enable": False})
    app.route("/v", callback=view("<b>{{name}}</b>")(lambda: {"name": "x"}))
    app.route("/d", callback=lambda: {"name": "x"})
    c = make_client(app)
    assert c.get("/v").text == "<b>x</b>"
    assert c.get("/d").status_code == 500
    assert "route GET '/d' returned a dict, but JSON conversion is off" in caplog.text


@pytest.mark.parametrize("with_hook", [False, True], ids=["plain", "hooked"])
def test_strenum_result_is_text(make_client, with_hook):
    app = Lcore()
    if with_hook:
        app.add_hook("before_request", lambda: None)
    app.route("/", callback=lambda: Color.RED)

    async def async_color():
        return Color.RED

    app.route("/async", callback=async_color)
    c = make_client(app)
    for path in ("/", "/async"):
        r = c.get(path)
        assert (r.status_code, r.text, r.headers["Content-Length"]) == (200, "red", "3")


def test_skip_true_removes_plugins_but_middleware_still_runs(make_client, caplog):
    log: list[str] = []
    app = Lcore()
    app.use(Tag("auth", log))
    app.use(Tag("timing", log))
    app.route("/all", callback=lambda: "a", skip=True)
    app.route("/named", callback=lambda: "n", skip=[True, "auth"])
    app.route("/typed", callback=lambda: "t", skip=[Tag])
    app.route("/dict", callback=lambda: {"a": 1}, skip=True)
    c = make_client(app)
    assert c.get("/all").text == "a" and log == ["auth", "timing"]
    log.clear()
    assert c.get("/named").text == "n" and log == ["timing"]
    log.clear()
    assert c.get("/typed").text == "t" and log == []
    # skip=True removed the json plugin too: the dict is a 500 that says why.
    assert c.get("/dict").status_code == 500
    assert "route GET '/dict' returned a dict, but JSON conversion is off" in caplog.text


def test_skip_json_by_name_keeps_other_plugins(make_client):
    class Upper:
        name = "upper"
        api = 2

        def apply(self, callback, route):
            return lambda *a, **ka: str(callback(*a, **ka)).upper()

    app = Lcore()
    app.install(Upper())
    app.route("/", callback=lambda: {"a": 1}, skip=["json"])
    assert make_client(app).get("/").text == "{'A': 1}"


async def _coro_handler():
    return "x"


def _gen_handler():
    yield "x"


@pytest.mark.parametrize(
    ("make_bad", "words"),
    [
        (
            lambda: _coro_handler(),
            "coroutine object, not a function; pass the `async def` function itself",
        ),
        (lambda: _gen_handler(), "generator object, not a function; pass the function itself"),
        (lambda: 42, "is not callable; pass a function"),
    ],
    ids=["coroutine-object", "generator-object", "not-callable"],
)
def test_handler_kind_is_checked_when_the_route_is_added(make_client, make_bad, words):
    app = Lcore()
    with pytest.raises(RouteError, match="route GET '/x'") as info:
        app.route("/x", callback=make_bad())
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)
    assert app.routes == []
    # The function itself is fine, under either protocol.
    app.route("/x", callback=_coro_handler)
    app.route("/g", callback=_gen_handler)
    c = make_client(app)
    assert c.get("/x").text == "x" and c.get("/g").text == "x"


def test_plugin_that_breaks_the_handler_is_named(make_client):
    class Broken:
        api = 2

        def apply(self, callback, route):
            return None

    app = Lcore()
    app.route("/", callback=lambda: "x", apply=[Broken()])
    r = make_client(app).get("/")
    assert r.status_code == 500
    with pytest.raises(TypeError, match="apply\\(callback, route\\) must return a callable"):
        app.routes[0].plan  # noqa: B018


def test_sync_plugin_around_async_handler_still_works(make_client):
    class Sync:
        api = 2

        def apply(self, callback, route):
            def wrapper(*a, **ka):
                return callback(*a, **ka)  # a coroutine: the plan awaits it

            return wrapper

    app = Lcore()
    app.install(Sync())

    async def h():
        return {"async": True}

    app.route("/", callback=h)
    assert app.routes[0].plan.is_async
    assert make_client(app).get("/").json == {"async": True}


def test_plan_is_inspectable_and_rebuilt_on_change(make_client):
    log: list[str] = []
    app = Lcore()
    app.route("/p/<n:int>", callback=lambda n: {"n": n})
    (route,) = app.routes
    plan = route.plan
    assert plan.plain and repr(plan).startswith("<RoutePlan plain: route GET /p/<n:int>")
    c = make_client(app)
    assert c.get("/p/1").json == {"n": 1}
    app.use(Tag("mw", log))  # use() rebuilds the plan on the next request
    assert route._plan is None
    assert c.get("/p/2").json == {"n": 2} and log == ["mw"]
    assert not route.plan.plain and "middleware: mw" in route.plan.stages()

    def audit():
        pass

    hook = app.add_hook("before_request", audit)
    assert any(
        s.startswith("hook before_request: ") and s.endswith("audit") for s in route.plan.stages()
    )
    app.remove_hook("before_request", hook)
    assert c.get("/p/3").json == {"n": 3}

    async def dep():
        return 1

    app.inject("thing", dep)
    assert "prepare async dependencies" in route.plan.stages()
    assert c.get("/p/4").json == {"n": 4}
    assert app.show_routes()[0]["plan"] == route.plan.stages()


def test_after_response_runs_for_a_plain_plan(make_client):
    from lcore import ctx

    done: list[str] = []
    app = Lcore()

    def h():
        ctx.after_response(done.append, "sent")
        return "x"

    async def ah():
        ctx.after_response(done.append, "async sent")
        return "y"

    app.route("/", callback=h)
    app.route("/a", callback=ah)
    c = make_client(app)
    assert c.get("/").text == "x" and c.get("/a").text == "y"
    assert done == ["sent", "async sent"]
