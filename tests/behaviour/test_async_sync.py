"""async def and def handlers under both protocols: where they run, and that they mix."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio

from lcore import Lcore, request
from lcore.concurrency import current_backend, current_loop


def test_async_handler_awaits(make_client):
    app = Lcore()

    @app.route("/a/<n:int>")
    async def a(n):
        await anyio.sleep(0.001)
        return {"n": n * 2}

    assert make_client(app).get("/a/21").json == {"n": 42}


def test_async_handlers_share_one_loop(make_client):
    """Under WSGI coroutines run on one persistent loop; under ASGI on the server's loop."""
    app = Lcore()
    loops = []

    @app.route("/")
    async def h():
        loops.append(current_loop().key)
        return "ok"

    c = make_client(app)
    for _ in range(3):
        c.get("/")
    assert len({id(loop) for loop in loops}) == 1


def test_loop_bound_object_survives_requests(make_client):
    app = Lcore()
    holder = {}

    @app.route("/")
    async def h():
        if "q" not in holder:
            holder["q"] = asyncio.Queue()
        q = holder["q"]
        await q.put(1)
        return str(await q.get())

    c = make_client(app)
    assert [c.get("/").text for _ in range(3)] == ["1", "1", "1"]


def test_sync_handler_never_on_event_loop_thread(make_client, proto):
    app = Lcore()

    @app.route("/")
    def h():
        if current_backend() is not None:
            return "on loop"
        else:
            return "no loop"

    assert make_client(app).get("/").text == "no loop"


def test_sync_handler_does_not_block_async_ones(make_client, proto):
    app = Lcore()
    release = threading.Event()

    @app.route("/slow")
    def slow():
        release.wait(5)
        return "slow"

    @app.route("/fast")
    async def fast():
        return "fast"

    c = make_client(app)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(lambda: c.get("/slow").text)
        time.sleep(0.05)
        t0 = time.monotonic()
        assert c.get("/fast").text == "fast"
        assert time.monotonic() - t0 < 2
        release.set()
        assert fut.result(5) == "slow"


def test_sync_handler_returning_awaitable(make_client):
    app = Lcore()

    async def compute():
        await anyio.sleep(0)
        return "from coroutine"

    app.route("/", callback=lambda: compute())
    assert make_client(app).get("/").text == "from coroutine"


def test_partial_and_callable_objects(make_client):
    app = Lcore()

    async def greet(greeting, name):
        return f"{greeting} {name}"

    class Handler:
        async def __call__(self, name):
            return "obj " + name

    app.route("/p/<name>", callback=functools.partial(greet, "hi"))
    app.route("/o/<name>", callback=Handler())
    c = make_client(app)
    assert c.get("/p/bob").text == "hi bob"
    assert c.get("/o/bob").text == "obj bob"


def test_async_route_registration_does_not_warn():
    import warnings

    app = Lcore()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @app.route("/")
        async def h():
            return ""

    assert [str(w.message) for w in caught] == []


def test_async_handler_reads_body_and_forms(make_client):
    app = Lcore()

    @app.post("/")
    async def h():
        return {"form": request.forms.a, "len": len(request.body.read())}

    r = make_client(app).post("/", body="a=1&b=2", content_type="application/x-www-form-urlencoded")
    assert r.json == {"form": "1", "len": 7}


def test_many_concurrent_async_requests(make_client):
    app = Lcore()

    @app.route("/<n:int>")
    async def h(n):
        await anyio.sleep(0.01)
        return str(n)

    c = make_client(app)
    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(lambda n: c.get(f"/{n}").text, range(16)))
    assert out == [str(n) for n in range(16)]


def test_sync_generator_under_asgi_sees_ctx(make_client):
    from lcore import ctx

    app = Lcore()

    @app.hook("before_request")
    def before():
        ctx.state["k"] = "v"

    @app.route("/")
    def h():
        yield "a"
        yield ctx.state["k"]

    assert make_client(app).get("/").text == "av"


def test_async_generator_sees_ctx(make_client):
    from lcore import ctx

    app = Lcore()

    @app.route("/")
    async def h():
        async def body():
            yield request.path
            await anyio.sleep(0)
            yield ctx.route.rule

        return body()

    assert make_client(app).get("/").text == "//"


def test_sync_request_runs_in_one_thread(make_client):
    """Hooks, middleware and a sync handler of one request share one thread (no hops)."""
    app = Lcore()
    seen = []
    rec = lambda *_: seen.append(threading.get_ident())  # noqa: E731
    app.add_hook("before_request", rec)
    app.add_hook("after_request", rec)
    app.use(lambda c, n: (rec(), n(c))[1])
    app.route("/", callback=lambda: rec() or "ok")
    make_client(app).get("/")
    assert len(seen) == 4 and len(set(seen)) == 1


def test_sync_hooks_of_async_request_are_off_the_loop(make_client):
    app = Lcore()
    seen = []

    def hook():
        if current_backend() is not None:
            seen.append("on loop")
        else:
            seen.append("off loop")

    app.add_hook("before_request", hook)

    @app.route("/")
    async def h():
        return "ok"

    make_client(app).get("/")
    assert seen == ["off loop"]
