"""A rate limit held in Redis is one limit across worker processes (gunicorn -w 2,
uvicorn --workers 2): of many concurrent requests from one client, exactly `limit` pass."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest
from redis_server import RedisServer

from .servers import serve

pytestmark = pytest.mark.e2e

LIMIT = 10
REQUESTS = 60


def _until_both_workers_answer(client: httpx.Client, timeout: float = 30.0) -> None:
    """On a loaded machine the second worker may still be importing the app when the first
    answers: wait (bounded) until two worker pids have answered /health."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        while len(seen) < 2 and time.monotonic() < deadline:
            burst = pool.map(
                lambda _: client.get("/health", headers={"Connection": "close"}), range(8)
            )
            seen.update(r.headers["x-worker"] for r in burst)
            if len(seen) < 2:
                time.sleep(0.1)
    assert len(seen) == 2, f"only {seen} answered /health within {timeout} s"


@pytest.mark.parametrize("kind", ["gunicorn-gthread", "uvicorn"])
@pytest.mark.parametrize("path", ["/limited", "/alimited"])
def test_shared_limit_across_two_workers(
    kind: str, path: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {"RL_REDIS_URL": redis_server.url, "RL_LIMIT": str(LIMIT)}
    with serve(kind, "rl_app:app", tmp_path, env=env, workers=2, threads=8) as srv:
        with httpx.Client(
            base_url=srv.url, timeout=20, limits=httpx.Limits(max_connections=REQUESTS)
        ) as client:
            _until_both_workers_answer(client)

            def one(_: int) -> httpx.Response:
                # A fresh connection each time, so the server spreads them over its workers.
                return client.get(path, headers={"Connection": "close"})

            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                responses = list(pool.map(one, range(REQUESTS)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == LIMIT, codes
    assert codes.count(429) == REQUESTS - LIMIT, codes
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)
    workers = {r.headers["x-worker"] for r in responses}
    print(
        f"\n{kind} {path}: {codes.count(200)} passed, {codes.count(429)} limited, {len(workers)} workers answered"
    )
    # Both processes took part, so the single limit really spans workers.
    assert len(workers) == 2, workers
