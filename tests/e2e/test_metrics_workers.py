"""Metrics and components on real servers with two worker processes.

- ``/metrics`` sums the requests of both workers (prometheus-client multiprocess mode,
  ``PROMETHEUS_MULTIPROC_DIR``) under gunicorn ``-w 2``, uvicorn ``--workers 2`` and
  ``python -m lcore_asgi --workers 2``;
- components with async start/stop start in install order and stop in reverse, at the
  lifespan (uvicorn) and at the first request / worker exit (gunicorn);
- a failing start stops the components already started: uvicorn refuses to start,
  gunicorn's worker answers 503.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .servers import APPS, ROOT, free_port, serve, server_command, stop

pytest.importorskip("prometheus_client")
pytestmark = pytest.mark.e2e

SPEC = "metrics_app:app"
REQUESTS = 40


def _total(text: str, route: str) -> float:
    pat = re.compile(r"^lcore_http_requests_total\{(.*)\} (\S+)$")
    total = 0.0
    for line in text.splitlines():
        m = pat.match(line)
        if m and f'route="{route}"' in m.group(1) and 'status="200"' in m.group(1):
            total += float(m.group(2))
    return total


@pytest.mark.parametrize("kind", ["gunicorn-gthread", "uvicorn", "lcore"])
def test_metrics_sum_both_workers(kind: str, tmp_path: Path) -> None:
    mp = tmp_path / "prom"
    mp.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(mp)}
    with serve(kind, SPEC, tmp_path, env=env, workers=2, threads=4) as srv:
        with httpx.Client(base_url=srv.url, timeout=20) as client:
            _both_workers_up(client)

            def one(i: int) -> httpx.Response:
                # A new connection each time, so both workers get some.
                return client.get(f"/hit/{i}", headers={"Connection": "close"})

            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                responses = list(pool.map(one, range(REQUESTS)))
            assert all(r.status_code == 200 for r in responses)
            workers = {r.headers["x-worker"] for r in responses}
            scrapes = [client.get("/metrics", headers={"Connection": "close"}) for _ in range(4)]
    assert len(workers) == 2, workers  # both processes served requests
    for s in scrapes:  # whichever worker answers the scrape reports both
        assert s.status_code == 200
        assert _total(s.text, "/hit/<n:int>") == REQUESTS, s.text[-3000:]
    print(
        f"\n{kind}: {REQUESTS} requests over workers {sorted(workers)}; /metrics from "
        f"{sorted({s.headers.get('x-worker', '?') for s in scrapes})} reports "
        f"{_total(scrapes[0].text, '/hit/<n:int>'):.0f}"
    )


def _both_workers_up(client: httpx.Client, deadline_s: float = 20.0) -> None:
    """Wait until two worker processes have answered (the second may still be booting)."""
    seen: set[str] = set()
    deadline = time.monotonic() + deadline_s
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        while len(seen) < 2 and time.monotonic() < deadline:
            rs = pool.map(
                lambda _: client.get("/health", headers={"Connection": "close"}), range(16)
            )
            seen |= {r.headers["x-worker"] for r in rs}
    assert len(seen) == 2, f"only {seen} answered"


def _events(log: Path) -> dict[str, list[str]]:
    by_pid: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        pid, _, event = line.partition(" ")
        by_pid.setdefault(pid, []).append(event)
    return by_pid


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn-gthread", "lcore"])
def test_component_start_stop_order(kind: str, tmp_path: Path) -> None:
    log = tmp_path / "components.log"
    env = {"COMPONENT_LOG": str(log), "POOL_SIZE": "5", "PROMETHEUS_MULTIPROC_DIR": ""}
    with serve(kind, SPEC, tmp_path, env=env, workers=1) as srv:
        r = httpx.get(srv.url + "/hit/1", timeout=10)
        assert r.json() == {"n": 1, "pool": 5}  # the component's API through DI, its setting
        assert httpx.get(srv.url + "/ahit", timeout=10).json() == {"same_loop": True}
    events = _events(log)
    print(f"\n{kind} component log:\n{log.read_text()}")
    assert list(events.values()) == [
        ["start pool size=5", "start mailer", "stop mailer", "stop pool"]
    ], events


def test_failing_start_under_uvicorn_refuses_to_serve(tmp_path: Path) -> None:
    log = tmp_path / "components.log"
    port = free_port()
    env = dict(
        os.environ,
        COMPONENT_LOG=str(log),
        COMPONENT_FAIL="1",
        PROMETHEUS_MULTIPROC_DIR="",
        PYTHONPATH=os.pathsep.join([str(APPS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    cmd = server_command("uvicorn", SPEC, port)
    cmd[cmd.index("warning")] = "info"
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        stop(proc)
    text = out.decode(errors="replace")
    assert proc.returncode != 0, text
    assert "component 'broken' failed to start" in text, text
    print(f"\nuvicorn, failing start:\n{log.read_text()}")
    assert list(_events(log).values()) == [
        ["start pool size=2", "start mailer", "start broken", "stop mailer", "stop pool"]
    ]


def test_failing_start_under_gunicorn_answers_503(tmp_path: Path) -> None:
    log = tmp_path / "components.log"
    env = {"COMPONENT_LOG": str(log), "COMPONENT_FAIL": "1", "PROMETHEUS_MULTIPROC_DIR": ""}
    with serve(
        "gunicorn-gthread", SPEC, tmp_path, env=env, workers=1, ready_path="/metrics"
    ) as srv:
        codes = [httpx.get(srv.url + "/health", timeout=10).status_code for _ in range(3)]
        output = srv.output()
    assert codes == [503, 503, 503], (codes, output[-2000:])
    print(f"\ngunicorn, failing start: {codes}\n{log.read_text()}")
    events = _events(log)
    assert list(events.values()) == [
        ["start pool size=2", "start mailer", "start broken", "stop mailer", "stop pool"]
    ], events
