"""Sessions and the cache in Redis are one state across worker processes (gunicorn -w 2,
uvicorn --workers 2): a login through one worker is seen by the other, a value cached
through one is read through the other; and with Redis stopped mid-test, sessions answer
503 (the default) while the cache misses and the app keeps serving."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from redis_server import RedisServer

from .servers import serve

pytestmark = pytest.mark.e2e

SERVERS = ["gunicorn-gthread", "uvicorn"]


def spread(
    request: Callable[[httpx.Client], httpx.Response], url: str, rounds: int = 6
) -> list[httpx.Response]:
    """Send batches of concurrent requests, each on its own connection, until both
    workers have answered (the kernel hands new connections to whichever accepts)."""
    out: list[httpx.Response] = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):

            def one(_: int) -> httpx.Response:
                with httpx.Client(base_url=url, timeout=20, headers={"Connection": "close"}) as c:
                    return request(c)

            out += list(pool.map(one, range(8)))
            if len({r.headers["x-worker"] for r in out}) >= 2:
                break
    return out


@pytest.mark.parametrize("kind", SERVERS)
def test_sessions_and_cache_across_two_workers(
    kind: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {"STATE_REDIS_URL": redis_server.url}
    with serve(kind, "state_app:app", tmp_path, env=env, workers=2, threads=8) as srv:
        with httpx.Client(base_url=srv.url, timeout=20, headers={"Connection": "close"}) as c:
            login = c.post("/login/alice")
            assert login.status_code == 200, srv.output()
            cookie = {"Cookie": f"lcore_session={c.cookies['lcore_session']}"}
            login_worker = login.headers["x-worker"]
            stored = c.put("/cache/color", params={"value": "teal"})
            cache_worker = stored.headers["x-worker"]

        # a login made through one worker, read through both (sync and async handlers)
        reads = spread(lambda h: h.get("/me", headers=cookie), srv.url)
        reads += spread(lambda h: h.get("/ame", headers=cookie), srv.url)
        assert all(r.json() == {"user": "alice"} for r in reads), [r.text for r in reads]
        assert {r.headers["x-worker"] for r in reads} - {login_worker}, "no other worker answered"

        # a value cached through one worker, read through both
        reads = spread(lambda h: h.get("/cache/color"), srv.url)
        reads += spread(lambda h: h.get("/acache/color"), srv.url)
        assert all(r.json() == {"value": "teal"} for r in reads)
        assert {r.headers["x-worker"] for r in reads} - {cache_worker}
        # @cached: once computed by one worker, the value in Redis is served by both.
        # (Single flight is per process: two workers that miss at the same instant may
        # both compute; so the first request goes alone.)
        first = httpx.get(srv.url + "/computed", headers={"Connection": "close"}, timeout=20)
        computed = spread(lambda h: h.get("/computed"), srv.url)
        assert {r.json()["computed_by"] for r in computed} == {first.json()["computed_by"]}
        assert len({r.headers["x-worker"] for r in computed}) == 2

        # Redis stops: sessions answer 503 (Retry-After), the cache misses, the app serves
        redis_server.stop()
        down = spread(lambda h: h.get("/me", headers=cookie), srv.url)
        assert {r.status_code for r in down} == {503} and all(
            r.headers["retry-after"] for r in down
        )
        misses = spread(lambda h: h.get("/cache/color"), srv.url)
        assert all(r.status_code == 200 and r.json() == {"value": None} for r in misses)
        computed = spread(lambda h: h.get("/computed"), srv.url)
        assert all(r.json()["computed_by"] == int(r.headers["x-worker"]) for r in computed)
        assert httpx.get(srv.url + "/health").status_code == 200

        # Redis is back (empty): the old session is gone, a new login works everywhere
        redis_server.start()
        assert httpx.get(srv.url + "/me", headers=cookie).json() == {"user": None}
        with httpx.Client(base_url=srv.url, timeout=20) as c:
            assert c.post("/login/bob").status_code == 200
            cookie = {"Cookie": f"lcore_session={c.cookies['lcore_session']}"}
        reads = spread(lambda h: h.get("/ame", headers=cookie), srv.url)
        assert all(r.json() == {"user": "bob"} for r in reads)
    log = srv.output()
    print(
        f"\n{kind}: login in {login_worker}, read in {len({r.headers['x-worker'] for r in reads})} workers"
    )
    assert "unreachable" in log  # the outage was logged by the workers
