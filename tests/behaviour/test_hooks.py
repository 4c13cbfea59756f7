"""The per-request hooks: documented order, reversed '*' hooks, hooks raising responses."""

from __future__ import annotations

import pytest

from lcore import HTTPError, HTTPResponse, Lcore, Middleware, abort, ctx, request, response

ORDER = [
    "on_request_start",
    "before_request",
    "pre_mw",
    "on_auth_resolved",
    "on_handler_enter",
    "handler",
    "on_handler_exit",
    "on_response_build",
    "after_request",
    "on_response_send",
]
HOOKS = [h for h in ORDER if h not in ("pre_mw", "handler")]


def _recording_app(log, handler_behaviour="ok", async_hooks=False):
    app = Lcore()
    for name in HOOKS:
        if async_hooks:

            async def hook(name=name):
                log.append(name)
        else:

            def hook(name=name):
                log.append(name)

        app.add_hook(name, hook)

    class Pre(Middleware):
        phase = "pre"

        def __call__(self, c, next_handler):
            log.append("pre_mw")
            return next_handler(c)

    app.use(Pre())

    @app.route("/")
    def h():
        log.append("handler")
        if handler_behaviour == "abort":
            abort(400, "bad")
        if handler_behaviour == "raise_response":
            raise HTTPResponse("raised", status=202)
        return "ok"

    return app


@pytest.mark.parametrize("async_hooks", [False, True], ids=["sync-hooks", "async-hooks"])
def test_hook_order(make_client, async_hooks):
    log = []
    app = _recording_app(log, async_hooks=async_hooks)
    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (200, "ok")
    assert log == ORDER


@pytest.mark.parametrize("behaviour,status", [("abort", 400), ("raise_response", 202)])
def test_hook_order_when_handler_raises(make_client, behaviour, status):
    log = []
    app = _recording_app(log, behaviour)
    r = make_client(app).get("/")
    assert r.status_code == status
    assert log == ORDER


def test_hooks_for_404(make_client):
    log = []
    app = _recording_app(log)
    assert make_client(app).get("/missing").status_code == 404
    assert log == [
        "on_request_start",
        "before_request",
        "pre_mw",
        "on_response_build",
        "after_request",
        "on_response_send",
    ]


def test_after_hooks_run_on_unhandled_exception(make_client):
    """after_request runs even when the handler crashed (cleanup hooks must not be skipped)."""
    log = []
    app = Lcore()
    app.add_hook("after_request", lambda: log.append(("after", response.status_code)))
    app.route("/", callback=lambda: 1 / 0)
    r = make_client(app).get("/")
    assert r.status_code == 500
    assert log == [("after", 500)]


def test_after_hook_failing_gives_plain_500_once(make_client):
    calls = []
    app = Lcore()

    @app.hook("after_request")
    def bad():
        calls.append(1)
        raise RuntimeError("hook broke")

    app.route("/", callback=lambda: "ok")
    r = make_client(app).get("/")
    assert r.status_code == 500
    assert calls == [1]


def test_reverse_order_hooks(make_client):
    log = []
    app = Lcore()
    for name in HOOKS:
        for i in (1, 2):
            app.add_hook(name, lambda name=name, i=i: log.append(f"{name}{i}"))
    app.route("/", callback=lambda: "ok")
    make_client(app).get("/")
    expected = []
    for name in HOOKS:
        pair = [f"{name}1", f"{name}2"]
        if name in ("on_handler_exit", "on_response_build", "after_request", "on_response_send"):
            pair.reverse()
        expected += pair
    assert log == expected


def test_hook_sees_request_and_can_change_response(make_client):
    app = Lcore()

    @app.hook("before_request")
    def before():
        ctx.state["seen"] = request.path

    @app.hook("after_request")
    def after():
        response.set_header("X-Seen", ctx.state["seen"])

    app.route("/p", callback=lambda: "ok")
    assert make_client(app).get("/p").headers["x-seen"] == "/p"


@pytest.mark.parametrize(
    "hook_name", ["on_request_start", "before_request", "on_auth_resolved", "on_handler_enter"]
)
def test_early_hook_raising_response_short_circuits(make_client, hook_name):
    called = []
    app = Lcore()

    @app.hook(hook_name)
    def stop():
        raise HTTPResponse("stopped early", status=299)

    @app.route("/")
    def h():
        called.append(1)
        return "handler"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (299, "stopped early")
    assert called == []


def test_hook_raising_http_error_uses_error_handler(make_client):
    app = Lcore()
    app.error(401, lambda e: "please log in")

    @app.hook("before_request")
    def auth():
        if not request.get_header("X-Token"):
            raise HTTPError(401)

    app.route("/", callback=lambda: "secret")
    c = make_client(app)
    r = c.get("/")
    assert (r.status_code, r.text) == (401, "please log in")
    assert c.get("/", headers={"X-Token": "t"}).text == "secret"


@pytest.mark.parametrize(
    "hook_name", ["on_handler_exit", "on_response_build", "after_request", "on_response_send"]
)
def test_late_hook_raising_response_replaces_result(make_client, hook_name):
    app = Lcore()

    @app.hook(hook_name)
    def swap():
        raise HTTPResponse("replaced", status=203)

    app.route("/", callback=lambda: "original")
    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (203, "replaced")


def test_add_remove_trigger_hook():
    app = Lcore()
    assert app.trigger_hook("custom") is None
    f = app.add_hook("custom", lambda x: x * 2)
    assert app.trigger_hook("custom", 21) == [42]
    assert app.remove_hook("custom", f) is True
    assert app.remove_hook("custom", f) is False
    assert app.trigger_hook("custom", 1) is None


def test_async_hook_triggered_from_sync():
    app = Lcore()

    @app.hook("custom")
    async def h(v):
        return v + 1

    assert app.trigger_hook("custom", 1) == [2]


def test_config_and_app_reset_hooks():
    app = Lcore()
    seen = []
    app.add_hook("config", lambda k, v: seen.append((k, v)))
    app.add_hook("app_reset", lambda: seen.append("reset"))
    app.config["my.key"] = 5
    app.reset()
    assert seen == [("my.key", 5), "reset"]


def test_hooks_run_in_async_handler_request(make_client):
    log = []
    app = Lcore()
    for name in HOOKS:
        app.add_hook(name, lambda name=name: log.append(name))

    @app.route("/")
    async def h():
        log.append("handler")
        return "ok"

    make_client(app).get("/")
    assert log == [h for h in ORDER if h != "pre_mw"]
