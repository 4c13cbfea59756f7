"""What a WSGI server (or the embedded server without ``websockets``) cannot do, said
clearly: WebSocket routes answer 426, a stream on a threadless worker is warned about
and torn down cleanly, an in-memory broadcast under several workers is warned about."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from .servers import free_port, gunicorn_flags, launch, serve

pytestmark = pytest.mark.e2e

SPEC = "ws_limits_app:app"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
WS_LOG = "WebSocket route(s) (/ws/<room>)"


def _assert_426(r: httpx.Response) -> None:
    assert r.status_code == 426, r.text
    assert r.headers["upgrade"] == "websocket"
    assert "/ws/lobby is a WebSocket route" in r.text and "python -m lcore_ws" in r.text


def _wait_for(srv, needle: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while needle not in srv.output():
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in the log:\n{srv.output()}")
        time.sleep(0.1)
    return str(srv.output())


def test_gunicorn_answers_426_for_websocket_routes_and_logs_once(tmp_path: Path) -> None:
    with serve("gunicorn-sync", SPEC, tmp_path) as srv:
        for _ in range(3):
            _assert_426(httpx.get(srv.url + "/ws/lobby", headers=UPGRADE, timeout=5))
        assert (
            httpx.get(srv.url + "/ws/lobby", timeout=5).status_code == 404
        )  # no Upgrade: plain HTTP
        log = _wait_for(srv, WS_LOG)
    assert log.count(WS_LOG) == 1, log
    assert "a WSGI server cannot serve" in log


def test_embedded_server_without_websockets_answers_426(tmp_path: Path) -> None:
    """A real import failure: ``sys.modules['websockets'] = None`` before the server loads."""
    port = free_port()
    boot = textwrap.dedent(f"""
        import runpy, sys
        sys.modules["websockets"] = None  # 'import websockets' now raises ImportError
        sys.argv = ["lcore_asgi", {SPEC!r}, "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]
        runpy.run_module("lcore_asgi", run_name="__main__", alter_sys=True)
    """)
    with launch(
        "lcore-no-websockets", [sys.executable, "-c", boot], f"http://127.0.0.1:{port}", tmp_path
    ) as srv:
        r = httpx.get(srv.url + "/ws/lobby", headers=UPGRADE, timeout=5)
        _assert_426(r)
        assert (
            httpx.get(srv.url + "/health", headers=UPGRADE, timeout=5).text == "ok"
        )  # not a WS route
        log = _wait_for(srv, WS_LOG)
    assert "the websockets package is missing" in log and "lcore[ws]" in log
    assert log.count(WS_LOG) == 1, log


def test_sse_on_gunicorn_sync_worker_warns_once_and_tears_down_cleanly(tmp_path: Path) -> None:
    """The worker is killed at its 3 s timeout mid-stream: no aclose() error, cleanup ran."""
    marks = tmp_path / "marks"
    marks.mkdir()
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-k",
        "sync",
        "--timeout",
        "3",
        "--graceful-timeout",
        "2",
        *gunicorn_flags(),
        "-b",
        f"127.0.0.1:{port}",
        SPEC,
    ]
    with launch(
        "gunicorn-sync-timeout",
        cmd,
        f"http://127.0.0.1:{port}",
        tmp_path,
        env={"E2E_MARKS": str(marks)},
    ) as srv:
        short = httpx.get(srv.url + "/sse?n=2&gap=0.1", timeout=10)
        assert short.status_code == 200 and short.text.count("data:") == 2
        try:
            with httpx.stream("GET", srv.url + "/sse", timeout=15) as r:
                for _ in r.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass  # the worker was killed mid-stream
        log = _wait_for(srv, "WORKER TIMEOUT")
        deadline = time.monotonic() + 10
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        log = srv.output()
    warning = "is served by a WSGI server without threads"
    assert log.count(warning) == 1, log
    assert "gunicorn -k gthread" in log
    assert "already running" not in log, log
    assert len(list(marks.iterdir())) == 2, log  # the killed stream's finally ran too


def test_gthread_worker_gives_no_stream_warning(tmp_path: Path) -> None:
    with serve("gunicorn-gthread", SPEC, tmp_path, threads=4) as srv:
        assert httpx.get(srv.url + "/sse?n=2&gap=0.1", timeout=10).text.count("data:") == 2
        log = srv.output()
    assert "without threads" not in log


def test_memory_broadcast_under_two_gunicorn_workers_warns(tmp_path: Path) -> None:
    with serve("gunicorn-sync", SPEC, tmp_path, workers=2) as srv:
        pids = set()
        for _ in range(12):
            r = httpx.post(srv.url + "/publish/news", timeout=5)
            assert r.json()["sent"] is True
            pids.add(r.json()["pid"])
        log = _wait_for(srv, "in-memory backend is used")
    assert "wsgi.multiprocess" in log and "redis://" in log
    assert 1 <= log.count("in-memory backend is used") <= len(pids), log  # once per worker


def test_memory_broadcast_warns_in_a_forked_process(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import os, sys, anyio
        from lcore_ws import Broadcast
        b = Broadcast()
        anyio.run(b.publish, "c", "before fork")  # the creating process: no warning
        pid = os.fork()
        if pid == 0:
            anyio.run(b.publish, "c", "in the child")
            anyio.run(b.publish, "c", "again")  # still once
            os._exit(0)
        os.waitpid(pid, 0)
        anyio.run(b.publish, "c", "parent again")
        print("child", pid)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    child = done.stdout.split()[-1]
    assert done.stderr.count("in-memory backend is used") == 1, done.stderr
    assert (
        "in a process forked after it was made (pid " in done.stderr
        and f"-> {child})" in done.stderr
    )
