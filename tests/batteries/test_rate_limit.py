"""rate_limit with the in-process token bucket: 429 + Retry-After, keys, eviction."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lcore import Lcore, RateLimitBackend, TestClient, rate_limit
from lcore.security.ratelimit import MemoryRateLimitBackend, _client_key


def _app(limit=3, per=60, **kw):
    app = Lcore()

    @app.route("/a")
    @rate_limit(limit, per=per, **kw)
    def a():
        return "a"

    @app.route("/b")
    @rate_limit(limit, per=per, **kw)
    async def b():
        await asyncio.sleep(0)
        return "b"

    return app


@pytest.mark.parametrize("path", ["/a", "/b"])
def test_limit_then_429_with_retry_after(make_client, path):
    c = make_client(_app(limit=3, per=60))
    assert [c.get(path).status_code for _ in range(3)] == [200, 200, 200]
    r = c.get(path)
    assert r.status_code == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 20  # one token comes back after per/limit = 20 s


def test_json_error_format(make_client):
    app = _app(limit=1)
    app.config["error.format"] = "json"
    c = make_client(app)
    c.get("/a")
    r = c.get("/a")
    assert r.status_code == 429
    assert r.json == {"error": "Too Many Requests", "status": 429}
    assert r.headers["Retry-After"].isdigit()


def test_endpoints_and_clients_have_separate_buckets(proto):
    app = _app(limit=1)
    with (
        TestClient(app, protocol=proto, client=("192.0.2.1", 1)) as one,
        TestClient(app, protocol=proto, client=("192.0.2.2", 1)) as two,
    ):
        assert one.get("/a").status_code == 200
        assert one.get("/a").status_code == 429
        assert one.get("/b").status_code == 200  # another endpoint
        assert two.get("/a").status_code == 200  # another client


def test_shared_backend_keys_by_route(make_client):
    backend = MemoryRateLimitBackend()
    app = Lcore()
    app.route("/x", callback=rate_limit(1, backend=backend)(lambda: "x"))
    app.route("/y", callback=rate_limit(1, backend=backend)(lambda: "y"))
    c = make_client(app)
    assert c.get("/x").status_code == 200
    assert c.get("/y").status_code == 200
    assert c.get("/x").status_code == 429
    keys = {k for stripe in backend._stripes for k in stripe}
    assert keys == {"127.0.0.1:GET /x", "127.0.0.1:GET /y"}


def test_unknown_client_address_keys_as_zero():
    from lcore import Lcore
    from lcore.context import RequestContext, _current
    from lcore.request import BaseRequest
    from lcore.response import BaseResponse

    req = BaseRequest({"REQUEST_METHOD": "GET", "PATH_INFO": "/"})
    c = RequestContext(req, BaseResponse(), Lcore())
    req.app = c.app
    token = _current.set(c)
    try:
        assert _client_key("mod.fn") == "0.0.0.0:mod.fn"
    finally:
        _current.reset(token)


def test_tokens_refill_over_time():
    b = MemoryRateLimitBackend()
    now = [1000.0]
    b._clock = lambda: now[0]
    assert [b.consume("k", 2, 10) for _ in range(3)] == [True, True, False]
    allowed, retry = b.hit("k", 2, 10)
    assert not allowed and retry == pytest.approx(5.0)
    now[0] += 5.0  # one token back (2 per 10 s)
    assert b.consume("k", 2, 10) is True
    assert b.consume("k", 2, 10) is False


def test_buckets_are_bounded_with_eviction():
    b = MemoryRateLimitBackend(max_buckets=5)
    now = [0.0]
    b._clock = lambda: now[0]
    for i in range(100):
        b.consume(f"client-{i}", 5, 60)
    assert len(b) <= 5
    # Stale buckets (full again) go first; a recently limited client keeps its bucket.
    big = MemoryRateLimitBackend(max_buckets=10000)
    big._clock = lambda: now[0]
    for _ in range(3):
        big.consume("hot", 3, 60)
    for i in range(20000):
        big.consume(f"c{i}", 3, 60)
    assert len(big) <= 10000


def test_striped_locks_under_threads():
    b = MemoryRateLimitBackend()
    results = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def worker():
        start.wait()
        for _ in range(5):
            ok = b.consume("same-key", 50, 3600)
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 50
    assert len(b._locks) == 64


def test_custom_backend_with_only_consume(make_client):
    class Counting(RateLimitBackend):
        def __init__(self):
            self.calls = []

        def consume(self, key, limit, per):
            self.calls.append(key)
            return len(self.calls) <= limit

    backend = Counting()
    app = Lcore()
    app.route("/c", callback=rate_limit(2, per=300, backend=backend)(lambda: "c"))

    @app.route("/ac")
    @rate_limit(100, per=300, backend=backend)
    async def ac():
        return "ac"

    c = make_client(app)
    assert [c.get("/c").status_code for _ in range(3)] == [200, 200, 429]
    assert c.get("/c").headers["Retry-After"] == "300"  # the default: the whole window
    assert c.get("/ac").status_code == 200
    assert backend.calls[0] == "127.0.0.1:GET /c"


def test_invalid_arguments():
    with pytest.raises(ValueError):
        rate_limit(0)
    with pytest.raises(ValueError):
        rate_limit(1, per=0)
    with pytest.raises(ValueError):
        MemoryRateLimitBackend(max_buckets=0)


def test_decorator_keeps_the_handler_signature():
    import inspect

    @rate_limit(5)
    def search(q: str = "", page: int = 1):
        """Search things."""

    assert search.__doc__ == "Search things."
    assert list(inspect.signature(search).parameters) == ["q", "page"]
    assert search.__lcore_rate_limit__ == {"limit": 5, "per": 60}
