"""One app module, served by gunicorn (sync, gthread), uvicorn, hypercorn and lcore's own
server: the responses are the same, and the concurrency model holds under real load."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from .servers import serve

pytestmark = pytest.mark.e2e

SERVERS = ["gunicorn-sync", "gunicorn-gthread", "uvicorn", "hypercorn", "lcore"]
SPEC = "e2e_app:app"

# Each request is (method, path, kwargs); responses are compared across servers.
REQUESTS = [
    ("GET", "/", {}),
    ("GET", "/users/42?q=x", {}),
    ("GET", "/ausers/42?q=x", {}),
    ("HEAD", "/users/1", {}),
    ("POST", "/echo", {"json": {"a": [1, 2], "b": "ü"}}),
    (
        "POST",
        "/form",
        {"data": {"name": "n"}, "files": {"upload": ("a.txt", b"12345", "text/plain")}},
    ),
    ("GET", "/stream", {}),
    ("GET", "/astream", {}),
    ("GET", "/missing", {}),
    ("GET", "/nope", {}),
    ("DELETE", "/users/1", {}),
    ("GET", "/boom", {}),
    ("GET", "/redirect", {}),
    ("GET", "/cookie", {}),
]

_COMPARED_HEADERS = ("content-type", "allow", "location", "x-user", "set-cookie")


def _snapshot(base: str) -> list[tuple]:
    out = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for method, path, kw in REQUESTS:
            r = client.request(method, path, **kw)
            headers = tuple((h, r.headers.get(h)) for h in _COMPARED_HEADERS)
            body = r.content.replace(base.encode(), b"BASE")
            if r.status_code == 500:
                body = b"500"  # the page names no server detail; keep the comparison strict on status only
            if "location" in r.headers:
                headers = tuple((h, v.replace(base, "BASE") if v else v) for h, v in headers)
            out.append((method, path, r.status_code, headers, body))
    return out


def test_every_server_serves_the_same_responses(tmp_path: Path) -> None:
    results = {}
    for kind in SERVERS:
        with serve(kind, SPEC, tmp_path) as srv:
            results[kind] = _snapshot(srv.url)
    reference = results["gunicorn-sync"]
    # Sanity: the reference itself is right, so "all equal" cannot mean "all broken".
    by_path = {(m, p): (s, h, b) for m, p, s, h, b in reference}
    assert by_path[("GET", "/")][0] == 200 and by_path[("GET", "/")][2] == b"Hello, World!"
    assert by_path[("GET", "/users/42?q=x")][2] == b'{"id":42,"q":"x","async":false}'
    assert by_path[("GET", "/ausers/42?q=x")][2] == b'{"id":42,"q":"x","async":true}'
    assert by_path[("POST", "/form")][2] == b'{"name":"n","file":"a.txt","size":5}'
    assert by_path[("GET", "/stream")][2] == b"chunk0\nchunk1\nchunk2\n"
    assert by_path[("GET", "/astream")][2] == b"chunk0\nchunk1\nchunk2\n"
    assert by_path[("GET", "/nope")][0] == 404
    assert by_path[("DELETE", "/users/1")][0] == 405
    assert dict(by_path[("DELETE", "/users/1")][1])["allow"] == "GET,HEAD"
    assert by_path[("GET", "/boom")][0] == 500
    assert by_path[("GET", "/redirect")][0] == 303
    assert by_path[("HEAD", "/users/1")][2] == b""
    for kind, res in results.items():
        for ref, got in zip(reference, res):
            assert got == ref, (
                f"{kind} differs from gunicorn-sync on {ref[0]} {ref[1]}:\n{got}\n!=\n{ref}"
            )


def _concurrent_get(url: str, n: int) -> tuple[float, list[httpx.Response]]:
    def one(_: int) -> httpx.Response:
        return httpx.get(url, timeout=30)

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    return time.monotonic() - t0, responses


def test_gunicorn_async_handlers_share_one_persistent_loop(tmp_path: Path) -> None:
    """16 concurrent async requests on 1 worker x 16 threads finish in about one sleep."""
    with serve("gunicorn-gthread", SPEC, tmp_path, workers=1, threads=16) as srv:
        httpx.get(srv.url + "/sleep-async", timeout=10)  # warm: makes the loop-bound singleton
        elapsed, responses = _concurrent_get(srv.url + "/sleep-async", 16)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    uses = sorted(r.json()["uses"] for r in responses)
    assert uses == list(range(2, 18))  # one singleton, used by every request, on one loop
    print(f"\ngunicorn gthread: 16 x async sleep(0.5) took {elapsed:.2f}s")
    assert elapsed < 0.5 * 16 / 3  # generous: sixteen sequential sleeps would take 8 s


def test_uvicorn_sync_handlers_run_in_threads(tmp_path: Path) -> None:
    """16 concurrent blocking `def` requests on one uvicorn worker finish in about one sleep."""
    with serve("uvicorn", SPEC, tmp_path) as srv:
        elapsed, responses = _concurrent_get(srv.url + "/sleep-sync", 16)
        # The loop stayed free: a quick request is answered while the sleepers run.
        assert all(r.status_code == 200 for r in responses)
    print(f"\nuvicorn: 16 x sync sleep(0.5) took {elapsed:.2f}s")
    assert elapsed < 0.5 * 16 / 3


def test_singleton_async_client_survives_requests_under_wsgi(tmp_path: Path) -> None:
    """An httpx.AsyncClient made once keeps working across requests and threads (gunicorn)."""
    with serve("uvicorn", SPEC, tmp_path) as upstream:
        env = {"E2E_UPSTREAM": upstream.url}
        with serve("gunicorn-gthread", SPEC, tmp_path, env=env, workers=1, threads=8) as srv:
            _, responses = _concurrent_get(srv.url + "/proxy", 24)
    assert all(r.status_code == 200 for r in responses), [r.text[:300] for r in responses]
    assert {r.json()["client"] for r in responses} == {responses[0].json()["client"]}
    assert responses[0].json()["upstream"]["id"] == 7


@pytest.mark.parametrize("kind", ["gunicorn-sync", "uvicorn", "hypercorn", "lcore"])
def test_startup_and_shutdown_run(kind: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    with serve(kind, SPEC, tmp_path, env={"E2E_MARKS": str(marks)}) as srv:
        assert httpx.get(srv.url + "/", timeout=10).status_code == 200
    names = sorted(p.name.split("-")[0] for p in marks.iterdir())
    # on_shutdown callbacks and the app's own shutdown hooks (sync and async) run on every
    # server: at lifespan shutdown under ASGI, at worker exit under WSGI.
    assert {"startup", "shutdown", "apphook_shutdown", "asynchook_shutdown"} <= set(names), (
        names,
        srv.output()[-2000:],
    )
