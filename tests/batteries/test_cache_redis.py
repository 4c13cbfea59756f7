"""RedisCacheBackend against a real redis-server: shared values, TTLs in Redis, calls off
the event loop, and what callers get while Redis is down."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from lcore import Lcore
from lcore.cache import Cache, CacheUnavailable, RedisCacheBackend, cached

redis = pytest.importorskip("redis")


def _prefix() -> str:
    return f"c{uuid.uuid4().hex[:8]}:"


def test_shared_between_two_caches_and_stored_in_redis(redis_url):
    prefix = _prefix()
    one = Cache(RedisCacheBackend(redis_url, prefix=prefix))
    two = Cache(RedisCacheBackend(redis_url, prefix=prefix))  # as another worker would
    one.set("greeting", "hello", ttl=30)
    one.set("n", 5, ttl=0)
    assert two.get("greeting") == "hello"
    assert two.incr("n") == 6 and one.get("n") == 6
    r = redis.Redis.from_url(redis_url)
    assert r.get(prefix + "greeting") == b"s:hello" and r.get(prefix + "n") == b"6"
    assert 29_000 < r.pttl(prefix + "greeting") <= 30_000 and r.pttl(prefix + "n") == -1
    assert one.incr("fresh", ttl=20) == 1 and 19_000 < r.pttl(prefix + "fresh") <= 20_000
    r.set("other:key", "kept")
    one.clear()
    assert r.exists(prefix + "greeting") == 0 and r.get("other:key") == b"kept"
    r.delete("other:key")
    r.close()
    one.close()
    two.close()


def test_prefix_with_glob_characters_clears_only_its_own(redis_url):
    a = Cache(RedisCacheBackend(redis_url, prefix="t[1]*:"))
    b = Cache(RedisCacheBackend(redis_url, prefix="t1x:"))
    a.set("k", 1)
    b.set("k", 2)
    a.clear()
    assert a.get("k") is None and b.get("k") == 2
    b.clear()
    a.close()
    b.close()


def test_async_calls_run_off_the_event_loop(redis_url, make_client):
    backend = RedisCacheBackend(redis_url, prefix=_prefix())
    threads = {}
    real = backend.get_many

    def spy(keys):
        threads["redis"] = threading.get_ident()
        return real(keys)

    backend.get_many = spy
    app = Lcore()

    @app.get("/a")
    @cached(ttl=30, cache=Cache(backend))
    async def a():
        threads["handler"] = threading.get_ident()
        return {"ok": True}

    c = make_client(app)
    assert c.get("/a").json == {"ok": True} and c.get("/a").json == {"ok": True}
    assert threads["redis"] != threads["handler"]
    backend.close()


def test_redis_stopped_mid_test(redis_server, caplog, make_client):
    caplog.set_level(logging.WARNING, logger="lcore.cache")
    cache = Cache(RedisCacheBackend(redis_server.url, prefix=_prefix(), socket_timeout=1))
    calls = []
    app = Lcore()

    @app.get("/value")
    @cached(ttl=60, key="value", cache=cache)
    def value():
        calls.append(1)
        return {"n": len(calls)}

    c = make_client(app)
    cache.set("k", "v")
    assert c.get("/value").json == {"n": 1} and c.get("/value").json == {"n": 1}

    redis_server.stop()
    assert cache.get("k", "default") == "default"  # reads miss
    assert cache.get_many(["k"]) == {}
    cache.set("k", "new")  # writes are skipped, not raised
    assert cache.delete("k") is False
    with pytest.raises(CacheUnavailable):
        cache.incr("counter")  # no count to make up
    # @cached handlers keep answering, computing every time
    assert [c.get("/value").json["n"] for _ in range(2)] == [2, 3]
    warnings = [
        x for x in caplog.records if x.name == "lcore.cache" and x.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()

    redis_server.start()  # same port, empty
    assert cache.get("k") is None
    assert c.get("/value").json == {"n": 4} and c.get("/value").json == {"n": 4}
    assert any("reachable again" in x.getMessage() for x in caplog.records)
    cache.close()
