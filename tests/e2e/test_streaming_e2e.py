"""Streaming through real servers: uvicorn, hypercorn, gunicorn (gthread) and lcore's own.

Events reach a real HTTP client when they are produced, a client that leaves stops its
stream (the source's ``finally`` runs), server shutdown ends open streams, and one
uvicorn worker feeds 200 SSE clients at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from .servers import serve, stop

pytestmark = pytest.mark.e2e

SPEC = "stream_app:app"
SERVERS = ["uvicorn", "hypercorn", "gunicorn-gthread", "lcore"]
ASGI_SERVERS = ["uvicorn", "hypercorn", "lcore"]


def _read_events(client: httpx.Client, url: str, want: int) -> list[tuple[float, dict]]:
    """(arrival time, data) of the first ``want`` events; heartbeats are skipped."""
    got: list[tuple[float, dict]] = []
    buf = b""
    with client.stream("GET", url) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        for chunk in r.iter_raw():
            buf += chunk
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                for line in frame.split(b"\n"):
                    if line.startswith(b"data: "):
                        got.append((time.time(), json.loads(line[6:])))
            if len(got) >= want:
                break
    return got


def _wait_for(path: Path, timeout: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists():
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("route", ["/sse", "/sse-sync"])
@pytest.mark.parametrize("kind", SERVERS)
def test_events_arrive_when_produced(kind: str, route: str, tmp_path: Path) -> None:
    with serve(kind, SPEC, tmp_path) as srv, httpx.Client(timeout=10) as client:
        events = _read_events(client, f"{srv.url}{route}?n=5&gap=0.3", 5)
    assert [e["i"] for _, e in events] == [0, 1, 2, 3, 4]
    arrivals = [t for t, _ in events]
    gaps = [round(b - a, 3) for a, b in zip(arrivals, arrivals[1:])]
    lags = [round(t - e["t"], 3) for t, e in events]
    print(f"\n{kind} {route}: arrival gaps {gaps}, produced-to-received {lags}")
    assert all(0.15 < g < 0.9 for g in gaps), gaps
    assert all(lag < 0.25 for lag in lags), lags  # nothing sat in a buffer


@pytest.mark.parametrize("route", ["/stream", "/astream"])
@pytest.mark.parametrize("kind", SERVERS)
def test_streamed_bodies_arrive_when_produced(kind: str, route: str, tmp_path: Path) -> None:
    lines = []
    with serve(kind, SPEC, tmp_path) as srv, httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{srv.url}{route}?n=4&gap=0.3") as r:
            for line in r.iter_lines():
                if line:
                    lines.append((time.time(), float(line.split()[1])))
    assert len(lines) == 4
    lags = [round(t - produced, 3) for t, produced in lines]
    print(f"\n{kind} {route}: produced-to-received {lags}")
    assert all(lag < 0.25 for lag in lags), lags


@pytest.mark.parametrize("route", ["/sse", "/sse-sync"])
@pytest.mark.parametrize("kind", SERVERS)
def test_a_disconnect_runs_the_cleanup(kind: str, route: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    marker = marks / "gone"
    with serve(kind, SPEC, tmp_path, env={"E2E_MARKS": str(marks)}) as srv:
        with httpx.Client(timeout=10) as client:
            events = _read_events(client, f"{srv.url}{route}?n=100000&gap=0.1&hb=0.2&mark=gone", 2)
            assert len(events) == 2
            # The stream was running (the source had not ended) until the client left.
            assert marker.exists() is False or float(marker.read_text()) > events[-1][1]["t"]
        # The connection is closed: ASGI servers tell the app at once; a WSGI server
        # finds out at its next write (a heartbeat at most 0.2 s later).
        took = _wait_for(marker, 2.0)
        print(f"\n{kind} {route}: cleanup ran {took} s after the disconnect")
        assert took is not None, srv.output()[-2000:]


def test_200_concurrent_sse_clients_on_one_uvicorn_worker(tmp_path: Path) -> None:
    n_clients, n_events = 200, 5

    async def one(client: httpx.AsyncClient, url: str) -> int:
        count = 0
        buf = b""
        async with client.stream("GET", url) as r:
            assert r.status_code == 200
            async for chunk in r.aiter_raw():
                buf += chunk
                count = buf.count(b"data: ")
        return count

    async def run(base: str) -> tuple[list[int], float]:
        limits = httpx.Limits(
            max_connections=n_clients + 50, max_keepalive_connections=n_clients + 50
        )
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            t0 = time.monotonic()
            counts = await asyncio.wait_for(
                asyncio.gather(
                    *(one(client, f"{base}/sse?n={n_events}&gap=0.2") for _ in range(n_clients))
                ),
                30,
            )
            return counts, time.monotonic() - t0

    with serve("uvicorn", SPEC, tmp_path, workers=1) as srv:
        counts, elapsed = asyncio.run(run(srv.url))
    print(f"\nuvicorn, 1 worker: {n_clients} SSE clients x {n_events} events in {elapsed:.2f}s")
    assert counts == [n_events] * n_clients
    assert elapsed < 15  # concurrent: one client alone takes 0.8 s


@pytest.mark.parametrize("kind", ASGI_SERVERS)
def test_shutdown_ends_open_streams(kind: str, tmp_path: Path) -> None:
    """SIGTERM with endless SSE streams open: the sources' ``finally`` runs and the
    server exits within its graceful timeout (5 s); uvicorn and lcore's server at once."""
    marks = tmp_path / "marks"
    marks.mkdir()
    ended: list[str] = []

    def listen(url: str, name: str) -> None:
        try:
            with httpx.Client(timeout=20) as client, client.stream("GET", url) as r:
                for _ in r.iter_raw():
                    pass
            ended.append("clean")
        except httpx.HTTPError as e:
            ended.append(f"error {type(e).__name__}")

    with serve(kind, SPEC, tmp_path, env={"E2E_MARKS": str(marks)}) as srv:
        threads = [
            threading.Thread(
                target=listen, args=(f"{srv.url}{route}?n=100000&gap=0.1&mark={route[1:]}", route)
            )
            for route in ("/sse", "/sse-sync")
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        code = stop(srv.proc, timeout=10)
        took = time.monotonic() - t0
        for t in threads:
            t.join(10)
    print(
        f"\n{kind}: exited with {code} {took:.2f}s after SIGTERM with 2 open streams; clients: {ended}"
    )
    assert sorted(p.name for p in marks.iterdir()) == ["sse", "sse-sync"]
    if kind == "hypercorn":
        # hypercorn's workers learn about the shutdown from their parent through an
        # event the app cannot see: streams are cancelled at the graceful timeout (5 s).
        assert took < 5.0 + 2.0, srv.output()[-3000:]
    else:
        # The streams ended at the signal: the server did not wait for its timeout.
        assert took < 3.0, srv.output()[-3000:]
        assert ended == ["clean", "clean"]


@pytest.mark.parametrize("kind", SERVERS)
def test_request_bodies_stream_in(kind: str, tmp_path: Path) -> None:
    sent = []

    def body():
        # 64 KiB pieces: a WSGI server's wsgi.input.read(65536) (gunicorn) returns once
        # that much has arrived; ASGI servers pass on whatever arrived.
        for _ in range(3):
            sent.append(time.time())
            yield b"x" * 65536
            time.sleep(0.3)

    with serve(kind, SPEC, tmp_path) as srv:
        r = httpx.post(srv.url + "/upload", content=body(), timeout=10)
    assert r.status_code == 200, r.text
    chunks = r.json()["chunks"]
    assert sum(n for n, _ in chunks) == 3 * 65536
    # Each chunk reached the handler soon after it was sent, not at the end.
    first_arrival = chunks[0][1]
    print(
        f"\n{kind}: first request chunk reached the handler {first_arrival - sent[0]:.3f}s after it was sent"
    )
    assert first_arrival - sent[0] < 0.25


@pytest.mark.parametrize("kind", SERVERS)
def test_after_response_work_runs(kind: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    with serve(kind, SPEC, tmp_path, env={"E2E_MARKS": str(marks)}) as srv:
        assert httpx.get(srv.url + "/after?mark=done", timeout=10).text == "sent"
        assert _wait_for(marks / "done", 3.0) is not None
