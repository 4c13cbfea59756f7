"""Dependency injection: singleton, scoped, transient, async factories, closing."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lcore import DependencyContainer, Lcore, abort, ctx
from lcore.concurrency import current_loop


class Resource:
    made = itertools.count()

    def __init__(self, log=None):
        self.n = next(Resource.made)
        self.log = log
        self.closed = False

    def close(self):
        self.closed = True
        if self.log is not None:
            self.log.append(("close", self.n))


def test_singleton_shared(make_client):
    app = Lcore()
    calls = []
    app.inject("cache", lambda: calls.append(1) or {"id": len(calls)})

    @app.route("/s")
    def s():
        return {"id": ctx.cache["id"], "same": ctx.cache is ctx.cache}

    @app.route("/a")
    async def a():
        return {"id": ctx.cache["id"]}

    c = make_client(app)
    assert c.get("/s").json == {"id": 1, "same": True}
    assert c.get("/a").json == {"id": 1}
    assert c.get("/s").json == {"id": 1, "same": True}
    assert calls == [1]


def test_singleton_thread_safe(make_client):
    app = Lcore()
    made = []
    gate = threading.Barrier(8, timeout=5)

    def slow():
        made.append(1)
        import time

        time.sleep(0.05)
        return object()

    app.inject("thing", slow)

    @app.route("/")
    def h():
        try:
            gate.wait()
        except threading.BrokenBarrierError:
            pass
        return str(id(ctx.thing))

    c = make_client(app)
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: c.get("/").text, range(8)))
    assert len(made) == 1
    assert len(ids) == 1


def test_scoped_once_per_request_and_closed(make_client):
    app = Lcore()
    log = []
    app.inject("db", lambda: Resource(log), lifetime="scoped")

    @app.route("/")
    def h():
        first = ctx.db
        assert ctx.db is first
        assert not first.closed
        return str(first.n)

    c = make_client(app)
    n1 = int(c.get("/").text)
    n2 = int(c.get("/").text)
    assert n1 != n2
    assert log == [("close", n1), ("close", n2)]


@pytest.mark.parametrize("failure", ["exception", "abort", "async-exception"])
def test_scoped_closed_on_error(make_client, failure):
    app = Lcore()
    log = []
    app.inject("db", lambda: Resource(log), lifetime="scoped")

    if failure == "async-exception":

        @app.route("/")
        async def h():
            ctx.db  # noqa: B018
            raise RuntimeError("x")
    else:

        @app.route("/")
        def h():
            ctx.db  # noqa: B018
            if failure == "abort":
                abort(409)
            raise RuntimeError("x")

    r = make_client(app).get("/")
    assert r.status_code == (409 if failure == "abort" else 500)
    assert len(log) == 1 and log[0][0] == "close"


def test_scoped_not_made_when_unused(make_client):
    app = Lcore()
    made = []
    app.inject("db", lambda: made.append(1), lifetime="scoped")
    app.route("/", callback=lambda: "x")
    make_client(app).get("/")
    assert made == []


def test_scoped_closed_after_streaming(make_client):
    app = Lcore()
    log = []
    app.inject("db", lambda: Resource(log), lifetime="scoped")

    @app.route("/")
    def h():
        db = ctx.db

        def gen():
            yield "a"
            # Still open while the body streams.
            yield "closed" if db.closed else "open"

        return gen()

    assert make_client(app).get("/").text == "aopen"
    assert len(log) == 1


def test_scoped_aclose(make_client):
    app = Lcore()
    log = []

    class AsyncSession:
        async def aclose(self):
            log.append("aclose")

    app.inject("session", AsyncSession, lifetime="scoped")

    @app.route("/s")
    def s():
        return type(ctx.session).__name__

    @app.route("/a")
    async def a():
        return type(ctx.session).__name__

    c = make_client(app)
    assert c.get("/s").text == "AsyncSession"
    assert c.get("/a").text == "AsyncSession"
    assert log == ["aclose", "aclose"]


def test_transient(make_client):
    app = Lcore()
    counter = itertools.count()
    app.inject("rid", lambda: next(counter), lifetime="transient")
    app.route("/", callback=lambda: [ctx.rid, ctx.rid])
    c = make_client(app)
    assert c.get("/").json == [0, 1]
    assert c.get("/").json == [2, 3]


def test_async_factories(make_client):
    app = Lcore()
    log = []

    async def make_client_obj():
        return {"kind": "singleton"}

    class Conn:
        def __init__(self):
            self.closed = False

        async def aclose(self):
            log.append("aclosed")

    async def make_conn():
        return Conn()

    counter = itertools.count()

    async def make_transient():
        return next(counter)

    app.inject("client", make_client_obj)
    app.inject("conn", make_conn, lifetime="scoped")
    app.inject("tick", make_transient, lifetime="transient")

    @app.route("/a")
    async def a():
        return {
            "client": ctx.client,
            "conn": type(ctx.conn).__name__,
            "same": ctx.conn is ctx.conn,
            "tick": await ctx.tick,
        }

    @app.route("/s")
    def s():
        return {"client": ctx.client, "conn": type(ctx.conn).__name__}

    c = make_client(app)
    assert c.get("/a").json == {
        "client": {"kind": "singleton"},
        "conn": "Conn",
        "same": True,
        "tick": 0,
    }
    assert c.get("/s").json == {"client": {"kind": "singleton"}, "conn": "Conn"}
    assert log == ["aclosed", "aclosed"]


def test_async_singleton_on_persistent_loop(make_client):
    """An async singleton made once keeps working on later requests (one loop)."""

    app = Lcore()

    class LoopBound:
        def __init__(self):
            self.loop = current_loop().key

    async def make():
        return LoopBound()

    app.inject("bound", make)

    @app.route("/")
    async def h():
        return str(ctx.bound.loop is current_loop().key)

    c = make_client(app)
    assert [c.get("/").text for _ in range(3)] == ["True"] * 3


def test_app_close_closes_singletons(make_client):
    app = Lcore()
    log = []
    app.inject("res", lambda: Resource(log))
    app.route("/", callback=lambda: str(ctx.res.n))
    n = int(make_client(app).get("/").text)
    app.close()
    assert log == [("close", n)]


def test_ctx_in_middleware_and_hooks(make_client):
    app = Lcore()
    app.inject("db", lambda: Resource(), lifetime="scoped")
    seen = []

    @app.hook("before_request")
    def hook():
        seen.append(ctx.db.n)

    def mw(c, nxt):
        seen.append(c.db.n)
        return nxt(c)

    app.use(mw)
    app.route("/", callback=lambda: seen.append(ctx.db.n) or "x")
    make_client(app).get("/")
    assert len(set(seen)) == 1 and len(seen) == 3


def test_container_api():
    dc = DependencyContainer()
    dc.register("a", lambda: 1)
    assert "a" in dc and len(dc) == 1
    with pytest.raises(ValueError):
        dc.register("b", lambda: 1, "forever")
    with pytest.raises(KeyError):
        dc.resolve("nope")
    assert dc.resolve("a") == 1
    app = Lcore()
    app.inject("x", lambda: 2)
    assert app.dependencies.resolve("x") == 2


def test_factory_failure_is_500_and_others_closed(make_client):
    app = Lcore()
    log = []

    def broken():
        raise RuntimeError("factory broke")

    app.inject("bad", broken, lifetime="scoped")
    app.inject("ok", lambda: Resource(log), lifetime="scoped")

    @app.route("/")
    def h():
        ctx.ok  # noqa: B018
        return ctx.bad

    assert make_client(app).get("/").status_code == 500
    assert [e[0] for e in log] == ["close"]


def test_app_close_awaits_async_singleton_aclose(make_client):
    app = Lcore()
    log = []

    class Pool:
        async def aclose(self):
            log.append("aclosed")

    async def make_pool():
        return Pool()

    app.inject("pool", make_pool)

    @app.route("/")
    async def h():
        return type(ctx.pool).__name__

    assert make_client(app).get("/").text == "Pool"
    app.close()
    assert log == ["aclosed"]
