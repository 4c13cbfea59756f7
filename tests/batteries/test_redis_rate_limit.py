"""RedisRateLimitBackend against a real redis-server: atomic counts, fail open, fork."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from lcore import Lcore, RedisRateLimitBackend, TestClient, rate_limit

redis = pytest.importorskip("redis")


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


def test_exactly_limit_pass_under_concurrent_threads(redis_url):
    backend = RedisRateLimitBackend(redis_url, prefix=_prefix())
    start = threading.Barrier(50)

    def one(_):
        start.wait()
        return backend.consume("1.2.3.4:GET /login", 25, 60)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(200)))
    assert results.count(True) == 25
    assert results.count(False) == 175
    backend.close()


def test_two_backends_share_the_limit(redis_url):
    prefix = _prefix()
    one = RedisRateLimitBackend(redis_url, prefix=prefix)
    two = RedisRateLimitBackend(redis_url, prefix=prefix)  # as in another worker process
    results = [b.consume("k", 4, 60) for b in (one, two, one, two, one, two)]
    assert results == [True, True, True, True, False, False]
    one.close()
    two.close()


def test_key_and_window_in_redis(redis_url):
    prefix = _prefix()
    backend = RedisRateLimitBackend(redis_url, prefix=prefix)
    allowed, retry = backend.hit("k", 1, 30)
    assert allowed and 29 < retry <= 30
    allowed, retry = backend.hit("k", 1, 30)
    assert not allowed and 0 < retry <= 30
    r = redis.Redis.from_url(redis_url)
    assert int(r.get(prefix + "k")) == 2
    assert 0 < r.pttl(prefix + "k") <= 30000
    r.close()
    backend.close()


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_through_the_app_with_concurrent_requests(redis_url, proto, path):
    prefix = _prefix()
    backend = RedisRateLimitBackend(redis_url, prefix=prefix)
    app = Lcore()

    @app.route("/sync")
    @rate_limit(10, per=60, backend=backend)
    def sync_view():
        return "ok"

    @app.route("/async")
    @rate_limit(10, per=60, backend=backend)
    async def async_view():
        return "ok"

    with TestClient(app, protocol=proto) as c:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: c.get(path).status_code, range(40)))
        assert statuses.count(200) == 10
        assert statuses.count(429) == 30
        r = c.get(path)
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = redis.Redis.from_url(redis_url)
    assert r.exists(f"{prefix}127.0.0.1:GET {path}")
    r.close()
    backend.close()


def test_fails_open_with_a_warning_when_redis_stops(redis_server, caplog, make_client):
    caplog.set_level(logging.WARNING, logger="lcore.ratelimit")
    backend = RedisRateLimitBackend(redis_server.url, prefix=_prefix(), socket_connect_timeout=1)
    app = Lcore()
    app.route("/x", callback=rate_limit(2, per=60, backend=backend)(lambda: "x"))
    c = make_client(app)
    assert [c.get("/x").status_code for _ in range(3)] == [200, 200, 429]

    redis_server.stop()
    assert [c.get("/x").status_code for _ in range(3)] == [200, 200, 200]  # fail open
    warnings = [
        r for r in caplog.records if r.name == "lcore.ratelimit" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1  # not one per request
    assert "fail open" in warnings[0].getMessage()
    assert redis_server.url.split("//")[1].split("/")[0] in warnings[0].getMessage()

    redis_server.start()  # same port, empty data
    assert [c.get("/x").status_code for _ in range(3)] == [200, 200, 429]
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    backend.close()


def test_unreachable_from_the_start_fails_open(caplog, make_client):
    from redis_server import free_port

    caplog.set_level(logging.WARNING, logger="lcore.ratelimit")
    backend = RedisRateLimitBackend(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5
    )
    app = Lcore()

    @app.route("/a")
    @rate_limit(1, backend=backend)
    async def a():
        return "a"

    c = make_client(app)
    assert [c.get("/a").status_code for _ in range(3)] == [200, 200, 200]
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_password_never_logged(caplog):
    caplog.set_level(logging.WARNING, logger="lcore.ratelimit")
    from redis_server import free_port

    backend = RedisRateLimitBackend(
        f"redis://user:hunter2@127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5
    )
    assert backend.consume("k", 1, 60) is True
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "hunter2" not in text and "***@" in text


def test_lazy_and_fork_safe(redis_url):
    """Made before a fork (as in a gunicorn master), used in the parent and the child."""
    script = textwrap.dedent(
        f"""
        import os, sys
        import lcore
        from lcore import RedisRateLimitBackend
        b = RedisRateLimitBackend({redis_url!r}, prefix="fork{uuid.uuid4().hex[:6]}:")
        assert b._link._client is None  # nothing connects at construction
        assert b.consume("k", 3, 60)
        pid = os.fork()
        if pid == 0:
            ok = b.consume("k", 3, 60) and b.consume("k", 3, 60) and not b.consume("k", 3, 60)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert not b.consume("k", 3, 60)  # the child's hits counted for everyone
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "make",
    [
        "lcore.RedisRateLimitBackend()",
        "lcore.cache.RedisCacheBackend()",
        "lcore.sessions.RedisSessionStore()",
    ],
)
def test_import_lcore_does_not_import_redis(make):
    """Nor does making a Redis backend: redis-py is imported on first use (lcore/_redis.py)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, lcore, lcore.cache, lcore.sessions; {make}; print('redis' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr


def test_one_script_call_per_request(redis_server):
    backend = RedisRateLimitBackend(redis_server.url, prefix=_prefix())
    backend.consume("warm", 5, 60)  # loads the script once
    r = redis.Redis.from_url(redis_server.url)
    r.config_resetstat()
    for _ in range(7):
        backend.consume("k", 5, 60)
    stats = r.info("commandstats")
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
    assert calls.get("evalsha") == 7  # one round trip each: INCR/PEXPIRE run inside it
    assert "eval" not in calls and "multi" not in calls
    r.close()
    backend.close()


def test_async_handler_calls_redis_off_the_event_loop(redis_url, make_client, proto):
    backend = RedisRateLimitBackend(redis_url, prefix=_prefix())
    threads = {}
    real_hit = backend.hit

    def spy(*a):
        threads["redis"] = threading.get_ident()
        return real_hit(*a)

    backend.hit = spy
    app = Lcore()

    @app.route("/a")
    @rate_limit(5, backend=backend)
    async def a():
        threads["handler"] = threading.get_ident()
        return "a"

    assert make_client(app).get("/a").text == "a"
    assert threads["redis"] != threads["handler"]
    backend.close()
