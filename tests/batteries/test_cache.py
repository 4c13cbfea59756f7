"""Cache: one contract for the memory and Redis backends; @cached with single flight."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from lcore import Lcore, ctx, request
from lcore.cache import Cache, MemoryCacheBackend, RedisCacheBackend, cached


@pytest.fixture(params=["memory", "redis"])
def cache(request):
    if request.param == "memory":
        yield Cache()
        return
    pytest.importorskip("redis")
    url = request.getfixturevalue("redis_url")
    c = Cache(RedisCacheBackend(url, prefix=f"c{uuid.uuid4().hex[:8]}:"))
    yield c
    c.clear()
    c.close()


# -- the contract ---------------------------------------------------------------------
VALUES = [
    0,
    -7,
    2**62,
    "text",
    "ünïcode ✓",
    "",
    b"\x00\xffbytes",
    b"",
    1.5,
    True,
    False,
    None,
    {"a": [1, {"b": None}]},
    [1, "two", 3.0],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_round_trip(cache, value):
    cache.set("k", value)
    got = cache.get("k", "MISSING")
    assert got == value and type(got) is type(value)


def test_as_json_gives_them(cache):
    cache.set("t", {"tuple": (1, 2), 3: "int key"})
    assert cache.get("t") == {"tuple": [1, 2], "3": "int key"}
    with pytest.raises(TypeError):
        cache.set("bad", object())
    with pytest.raises(TypeError):
        cache.set(42, "key not a string")


def test_get_many_delete_and_miss(cache):
    assert cache.get("nope") is None and cache.get("nope", 5) == 5
    assert not cache.has("nope")
    cache.set("none", None)
    assert cache.has("none") and cache.get("none", 5) is None  # a cached None is a hit
    cache.set_many({"a": 1, "b": "two", "c": None})
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": "two", "c": None}
    assert cache.get_many([]) == {}
    assert cache.delete("a") is True and cache.delete("a") is False
    assert cache.get_many(["a", "b"]) == {"b": "two"}


def test_incr(cache):
    assert cache.incr("n") == 1
    assert cache.incr("n", 10) == 11
    assert cache.incr("n", -12) == -1
    assert cache.get("n") == -1
    cache.set("s", "text")
    with pytest.raises(ValueError):
        cache.incr("s")
    cache.set("i", 41)
    assert cache.incr("i") == 42
    with pytest.raises(TypeError):
        cache.incr("n", 1.5)


def test_incr_is_atomic_under_threads(cache):
    start = threading.Barrier(20)

    def bump(_):
        start.wait()
        return [cache.incr("hits") for _ in range(25)]

    with ThreadPoolExecutor(20) as pool:
        seen = [v for chunk in pool.map(bump, range(20)) for v in chunk]
    assert sorted(seen) == list(range(1, 501)) and cache.get("hits") == 500


def test_ttl_expires(cache):
    cache.set("short", "x", ttl=0.2)
    cache.set("forever", "y", ttl=0)
    assert cache.incr("counter", ttl=0.2) == 1
    assert cache.get("short") == "x"
    time.sleep(0.35)
    assert cache.get("short") is None and cache.get("forever") == "y"
    assert cache.incr("counter") == 1  # expired, so it started again
    with pytest.raises(ValueError):
        cache.set("neg", 1, ttl=-1)


def test_clear(cache):
    cache.set_many({"a": 1, "b": 2})
    cache.clear()
    assert cache.get_many(["a", "b"]) == {}


def test_async_methods(cache):
    async def main():
        await cache.aset("a", {"x": 1})
        await cache.aset_many({"b": 2, "c": 3}, ttl=60)
        assert await cache.aget("a") == {"x": 1}
        assert await cache.aget_many(["a", "b", "zz"]) == {"a": {"x": 1}, "b": 2}
        assert await cache.aincr("b", 5) == 7
        assert await cache.ahas("c") and not await cache.ahas("zz")
        assert await cache.adelete("c") is True
        await cache.aclear()
        assert await cache.aget("a", "gone") == "gone"

    asyncio.run(main())


# -- the memory backend ---------------------------------------------------------------
def test_memory_lru_bound_and_ttl_with_a_clock():
    backend = MemoryCacheBackend(max_entries=3)
    now = [1000.0]
    backend._clock = lambda: now[0]
    c = Cache(backend, default_ttl=10)
    for k in "abcd":
        c.set(k, k)
    assert len(backend) == 3 and c.get("a") is None
    c.get("b")  # recently used now
    c.set("e", "e")
    assert c.get("b") == "b" and c.get("c") is None
    now[0] += 10.5
    assert c.get_many(["b", "d", "e"]) == {}
    assert c.incr("n", ttl=5) == 1
    now[0] += 3
    assert c.incr("n") == 2  # an existing key keeps its expiry...
    now[0] += 2.5
    assert c.get("n") is None  # ...which has now passed
    with pytest.raises(ValueError):
        MemoryCacheBackend(max_entries=0)


# -- @cached ----------------------------------------------------------------------------
def test_cached_function_and_key_template():
    store = Cache()
    calls = []

    @cached(ttl=60, key="product:{pid}", cache=store)
    def product(pid, currency="EUR"):
        calls.append(pid)
        return {"id": pid, "currency": currency}

    assert product(7) == product(7) == {"id": 7, "currency": "EUR"}
    assert calls == [7]
    assert store.get("product:7") == {"id": 7, "currency": "EUR"}
    store.delete("product:7")  # invalidate by name
    product(pid=7)
    assert calls == [7, 7]


def test_default_key_covers_the_arguments():
    calls = []

    @cached(ttl=60, cache=Cache())
    def add(a, b=0):
        calls.append((a, b))
        return a + b

    assert [add(1), add(1), add(1, 2), add(1, b=2), add(2)] == [1, 1, 3, 3, 2]
    assert calls == [(1, 0), (1, 2), (1, 2), (2, 0)]  # positional and keyword are separate keys


def test_callable_key_and_results_not_cached():
    store = Cache()
    calls = []

    @cached(key=lambda n: f"gen:{n}", cache=store)
    def numbers(n):
        calls.append(n)
        return (i for i in range(n))

    assert list(numbers(3)) == [0, 1, 2] and list(numbers(3)) == [0, 1, 2]
    assert calls == [3, 3] and store.get("gen:3") is None  # a generator is not cacheable


def test_cached_ttl_and_exceptions():
    backend = MemoryCacheBackend()
    now = [0.0]
    backend._clock = lambda: now[0]
    calls = []

    @cached(ttl=5, cache=Cache(backend))
    def flaky(x):
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return x * 2

    with pytest.raises(RuntimeError):
        flaky(1)
    assert flaky(1) == 2 and flaky(1) == 2 and len(calls) == 2  # errors are not cached
    now[0] += 6
    assert flaky(1) == 2 and len(calls) == 3


def test_single_flight_threads():
    calls = []
    start = threading.Barrier(16)

    @cached(ttl=60, cache=Cache())
    def slow(x):
        calls.append(x)
        time.sleep(0.3)
        return {"x": x, "t": time.monotonic()}

    def one(_):
        start.wait()
        return slow(1)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert calls == [1]  # sixteen concurrent misses, one computation
    assert all(r == results[0] for r in results)


def test_single_flight_threads_share_the_error():
    calls = []
    start = threading.Barrier(8)

    @cached(cache=Cache())
    def broken():
        calls.append(1)
        time.sleep(0.2)
        raise KeyError("nope")

    def one(_):
        start.wait()
        try:
            broken()
        except KeyError as e:
            return e

    with ThreadPoolExecutor(8) as pool:
        errors = list(pool.map(one, range(8)))
    assert len(calls) == 1 and all(isinstance(e, KeyError) for e in errors)


def test_single_flight_asyncio_tasks():
    calls = []

    @cached(ttl=60, cache=Cache())
    async def slow(x):
        calls.append(x)
        await asyncio.sleep(0.2)
        return [x, len(calls)]

    async def main():
        return await asyncio.gather(*(slow(5) for _ in range(20)), slow(6))

    results = asyncio.run(main())
    assert sorted(calls) == [5, 6]
    assert results[:20] == [[5, results[0][1]]] * 20


def test_single_flight_task_cancelled_lets_the_others_compute():
    calls = []

    @cached(cache=Cache())
    async def slow():
        calls.append(1)
        await asyncio.sleep(0.3)
        return "done"

    async def main():
        leader = asyncio.ensure_future(slow())
        await asyncio.sleep(0.05)
        follower = asyncio.ensure_future(slow())
        await asyncio.sleep(0.05)
        leader.cancel()
        return await follower

    assert asyncio.run(main()) == "done" and len(calls) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_cached_handler_single_flight_and_vary(make_client, kind):
    app = Lcore()
    calls = []

    if kind == "sync":

        @app.get("/greet/<name>")
        @cached(ttl=60, vary=["Accept-Language"], cache=Cache())
        def greet(name):
            calls.append(name)
            time.sleep(0.3)
            lang = request.get_header("Accept-Language", "en")
            return {"hello": name, "lang": lang}
    else:

        @app.get("/greet/<name>")
        @cached(ttl=60, vary=["Accept-Language"], cache=Cache())
        async def greet(name):
            calls.append(name)
            await asyncio.sleep(0.3)
            lang = request.get_header("Accept-Language", "en")
            return {"hello": name, "lang": lang}

    c = make_client(app)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: c.get("/greet/ann").json, range(12)))
    assert calls == ["ann"]
    assert all(r == {"hello": "ann", "lang": "en"} for r in results)
    assert c.get("/greet/ann", headers={"Accept-Language": "fr"}).json["lang"] == "fr"
    assert c.get("/greet/bob").json["hello"] == "bob"
    assert calls == ["ann", "ann", "bob"]


def test_vary_callable(make_client):
    app = Lcore()
    calls = []

    @app.hook("before_request")
    def who():
        ctx.user = request.query.get("user")

    @app.get("/feed")
    @cached(vary=[lambda: ctx.user], cache=Cache())
    def feed():
        calls.append(ctx.user)
        return f"feed of {ctx.user}"

    c = make_client(app)
    assert c.get("/feed?user=a").text == "feed of a"
    assert c.get("/feed?user=b").text == "feed of b"
    assert c.get("/feed?user=a").text == "feed of a"
    assert calls == ["a", "b"]
    with pytest.raises(TypeError):
        cached(vary=[42])
