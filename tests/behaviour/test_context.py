"""The request context: ctx fields, state, lazy values, proxies in threads and tasks."""

from __future__ import annotations

import threading

import anyio
import pytest

from lcore import Lcore, RequestContext, ctx, request, response


def test_ctx_fields(make_client):
    app = Lcore()

    @app.route("/r/<x>", name="r")
    def h(x):
        return {
            "request": ctx.request.path,
            "response": ctx.response.status_code,
            "app": ctx.app is app,
            "route": ctx.route.name,
            "user": ctx.user,
            "request_id": ctx.request_id,
            "state": ctx.state,
        }

    assert make_client(app).get("/r/1").json == {
        "request": "/r/1",
        "response": 200,
        "app": True,
        "route": "r",
        "user": None,
        "request_id": None,
        "state": {},
    }


def test_state_and_arbitrary_attributes(make_client):
    app = Lcore()

    @app.hook("before_request")
    def before():
        ctx.tenant = "acme"
        ctx.state["direct"] = 1

    @app.route("/")
    def h():
        return {
            "tenant": ctx.tenant,
            "state": dict(ctx.state),
            "get": ctx.get("nothing", "dflt"),
            "in": "tenant" in ctx,
        }

    c = make_client(app)
    assert c.get("/").json == {
        "tenant": "acme",
        "state": {"tenant": "acme", "direct": 1},
        "get": "dflt",
        "in": True,
    }


def test_ctx_get_reads_every_source(make_client):
    app = Lcore()
    app.inject("svc", lambda: "from-di", lifetime="transient")
    calls = []

    @app.route("/")
    def h():
        ctx.tenant = "acme"
        ctx.lazy("heavy", lambda: calls.append(1) or "computed")
        return {
            "state": ctx.get("tenant"),
            "slot": ctx.get("request") is ctx.request,
            "unset_slot": ctx.get("user", "dflt"),
            "di": ctx.get("svc"),
            "lazy": [ctx.get("heavy"), ctx.get("heavy")],
            "missing": ctx.get("nothing", "dflt"),
            "none_default": ctx.get("nothing"),
            "method": callable(ctx.get("after_response")),
        }

    assert make_client(app).get("/").json == {
        "state": "acme",
        "slot": True,
        "unset_slot": None,
        "di": "from-di",
        "lazy": ["computed", "computed"],
        "missing": "dflt",
        "none_default": None,
        "method": True,
    }
    assert calls == [1]


def test_state_is_per_request(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        before = dict(ctx.state)
        ctx.state["x"] = 1
        return before

    c = make_client(app)
    assert c.get("/").json == {}
    assert c.get("/").json == {}


def test_lazy_computed_once(make_client):
    app = Lcore()
    calls = []

    @app.hook("before_request")
    def before():
        ctx.lazy("expensive", lambda: calls.append(1) or len(calls) * 10)

    app.route("/", callback=lambda: [ctx.expensive, ctx.expensive])
    app.route("/unused", callback=lambda: "x")
    c = make_client(app)
    assert c.get("/").json == [10, 10]
    c.get("/unused")
    assert calls == [1]


def test_unknown_attribute_error(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        try:
            ctx.nothing_here  # noqa: B018
        except AttributeError as e:
            return str(e)
        return "no error"

    assert make_client(app).get("/").text == "RequestContext has no attribute 'nothing_here'"


def test_request_context_standalone():
    c = RequestContext()
    assert c.request is None and c.response is None and c.app is None
    c.x = 1
    assert c.state == {"x": 1}
    del c.x
    with pytest.raises(AttributeError, match="RequestContext has no attribute 'x'"):
        c.x  # noqa: B018
    # Deleting goes through Python's own attribute machinery (a __delattr__ override
    # would slow every assignment on ctx), so only the gist of the message is fixed:
    # CPython 3.10 says just the name, 3.11+ "... has no attribute 'y'".
    with pytest.raises(AttributeError, match=r"^(.*has no attribute 'y'|y)$"):
        del c.y


def test_ctx_in_async_handler_across_awaits(make_client):
    app = Lcore()

    @app.route("/a/<n>")
    async def a(n):
        await anyio.sleep(0)
        first = request.path
        await anyio.sleep(0.01)
        ctx.state["n"] = n
        return {"path": first, "again": request.path, "n": ctx.state["n"]}

    c = make_client(app)
    assert c.get("/a/1").json == {"path": "/a/1", "again": "/a/1", "n": "1"}


def test_ctx_in_sync_handler_thread(make_client):
    app = Lcore()
    app.route(
        "/",
        callback=lambda: {"path": request.path, "thread": threading.current_thread().name != ""},
    )
    assert make_client(app).get("/").json == {"path": "/", "thread": True}


def test_concurrent_requests_isolated(make_client):
    """Two requests in flight at once each see their own request."""
    from concurrent.futures import ThreadPoolExecutor

    app = Lcore()
    barrier = threading.Barrier(2, timeout=5)

    @app.route("/s/<n>")
    def s(n):
        barrier.wait()
        return request.path + "|" + ctx.route.rule + "|" + n

    c = make_client(app)
    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(lambda n: c.get(f"/s/{n}").text, ["1", "2"]))
    assert results == ["/s/1|/s/<n>|1", "/s/2|/s/<n>|2"]


def test_concurrent_async_requests_isolated(make_client):
    from concurrent.futures import ThreadPoolExecutor

    app = Lcore()
    started = []

    @app.route("/a/<n>")
    async def a(n):
        started.append(n)
        for _ in range(200):
            if len(started) >= 2:
                break
            await anyio.sleep(0.005)
        return request.path + "|" + n

    c = make_client(app)
    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(lambda n: c.get(f"/a/{n}").text, ["1", "2"]))
    assert results == ["/a/1|1", "/a/2|2"]


def test_proxies_outside_request():
    assert bool(ctx) is False
    assert bool(request) is False
    with pytest.raises(RuntimeError):
        response.status  # noqa: B018
    assert "unbound" in repr(request)


def test_ctx_in_threads_started_by_handler_needs_copy(make_client):
    """contextvars do not flow into a plain Thread; contextvars.copy_context does."""
    import contextvars

    app = Lcore()

    @app.route("/")
    def h():
        out = {}
        cv = contextvars.copy_context()
        t = threading.Thread(target=lambda: cv.run(lambda: out.setdefault("p", request.path)))
        t.start()
        t.join()
        return out["p"]

    assert make_client(app).get("/").text == "/"
