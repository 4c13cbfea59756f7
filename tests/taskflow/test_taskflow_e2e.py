"""TaskFlow served by real servers: the same ``examples.taskflow.app:app`` under gunicorn
(gthread, WSGI), uvicorn, hypercorn and lcore's embedded server (ASGI), driven with httpx."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

try:
    from e2e.servers import ROOT, free_port, serve, stop
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from e2e.servers import ROOT, free_port, serve, stop

pytestmark = pytest.mark.e2e

SERVERS = ["gunicorn-gthread", "uvicorn", "hypercorn", "lcore"]
SPEC = "examples.taskflow.app:app"


def taskflow_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment that points the app's database and uploads at ``tmp_path``."""
    env = {
        "APP_DB_PATH": str(tmp_path / "taskflow.db"),
        "APP_UPLOAD_DIR": str(tmp_path / "uploads"),
        "APP_SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "APP_DEBUG": "true",
        "TASKFLOW_REDIS_URL": "",
        "APP_SSE_HEARTBEAT": "0.5",  # idle streams write often: a gone client is noticed soon
    }
    env.update(extra)
    return env


def read_event(lines, event: str = "task") -> dict:
    """Read SSE lines until one ``event`` message is complete; return its JSON data."""
    name, data = None, []
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            if name == event:
                return json.loads("\n".join(data))
            name, data = None, []
    raise AssertionError("stream ended before an event arrived")


def wait_subscribed(lines) -> int:
    """Read up to the ``: watching project ...`` comment sent once the stream is subscribed.

    Returns the pid of the worker serving the stream (the comment names it).
    """
    for line in lines:
        if line.startswith(": watching"):
            return int(line.rsplit(" ", 1)[1].rstrip(")"))
    raise AssertionError("stream ended before it was subscribed")


@pytest.mark.parametrize("kind", SERVERS)
def test_taskflow_through_server(kind, tmp_path):
    with (
        serve(kind, SPEC, tmp_path, env=taskflow_env(tmp_path)) as srv,
        httpx.Client(base_url=srv.url, timeout=15) as http,
    ):
        # log in
        r = http.post("/auth/login", json={"username": "admin", "password": "admin123"})
        assert r.status_code == 200, srv.output()
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert http.get("/auth/me").json()["user"]["username"] == "admin"  # signed cookie

        # create a project and a task
        r = http.post("/api/projects/", json={"name": f"E2E {kind}"}, headers=h)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = http.post(
            f"/api/projects/{pid}/tasks", json={"title": "Ship it", "assignee_id": 2}, headers=h
        )
        assert r.status_code == 201, r.text
        tid = r.json()["id"]

        # upload and download an attachment
        payload = b"quarterly report\n" + bytes(range(256)) * 40
        r = http.post(
            f"/api/projects/{pid}/tasks/{tid}/attachment",
            files={"file": ("report.bin", payload, "application/octet-stream")},
            headers=h,
        )
        assert r.status_code == 200, r.text
        filename = r.json()["filename"]
        assert filename == f"task_{tid}_report.bin"
        r = http.get(f"/api/projects/attachments/{filename}", headers=h)
        assert r.status_code == 200
        assert r.content == payload
        assert r.headers["cache-control"] == "max-age=3600"
        assert len(r.headers["etag"].strip('"')) == 64

        # comment
        r = http.post(
            f"/api/projects/{pid}/tasks/{tid}/comments", json={"body": f"via {kind}"}, headers=h
        )
        assert r.status_code == 201
        task = http.get(f"/api/projects/{pid}/tasks/{tid}", headers=h).json()
        assert [c["body"] for c in task["comments"]] == [f"via {kind}"]
        assert task["attachment"] == filename

        # dashboard (async handler with asyncio.gather)
        r = http.get("/api/projects/dashboard/overview", headers=h)
        assert r.status_code == 200
        dash = r.json()
        assert dash["totals"]["projects"] == 3 and dash["totals"]["tasks"] == 4
        assert {
            "id": pid,
            "name": f"E2E {kind}",
            "status": "active",
            "task_count": 1,
            "done_count": 0,
        } in dash["projects"]

        # the pages and the middleware work through the server too
        page = http.get("/frontend", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "TaskFlow" in page.text
        assert page.headers["content-encoding"] == "gzip"  # CompressionMiddleware
        assert page.headers["x-frame-options"] == "SAMEORIGIN"  # SecurityHeadersMiddleware
        assert page.headers["x-request-id"]
        assert http.get("/nope", headers={"Accept": "application/json"}).json()["status"] == 404


@pytest.mark.parametrize("kind", SERVERS)
def test_live_updates_through_server(kind, tmp_path):
    """A client watching a project's SSE stream sees a task change made by another client."""
    with (
        serve(kind, SPEC, tmp_path, env=taskflow_env(tmp_path)) as srv,
        httpx.Client(base_url=srv.url, timeout=15) as http,
    ):
        token = http.post("/auth/login", json={"username": "alice", "password": "alice123"}).json()[
            "token"
        ]
        h = {"Authorization": f"Bearer {token}"}
        with httpx.stream(
            "GET",
            f"{srv.url}/api/projects/1/events?access_token={token}",
            timeout=httpx.Timeout(15, read=10),
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            wait_subscribed(lines)
            r = http.put("/api/projects/1/tasks/2", json={"status": "done"}, headers=h)
            assert r.status_code == 200
            event = read_event(lines)
        assert event["type"] == "task_updated"
        assert event["task"]["id"] == 2 and event["task"]["status"] == "done"
        assert event["by"] == "alice" and event["fields"] == ["status"]
        # the server notices the client went away and drops the subscription
        wait_for(lambda: http.get("/debug/stats").json()["live_subscribers"] == 0, srv)


def wait_for(condition, srv, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s:\n{srv.output()[-3000:]}")
        time.sleep(0.1)


def open_stream(stack, url: str):
    """Open an SSE stream; return (worker pid from its preamble, its line iterator)."""
    stream = stack.enter_context(httpx.stream("GET", url, timeout=httpx.Timeout(15, read=10)))
    assert stream.status_code == 200
    lines = stream.iter_lines()
    return wait_subscribed(lines), lines


@pytest.mark.parametrize("kind", ["gunicorn-gthread", "uvicorn", "lcore"])
def test_live_updates_across_workers_through_redis(kind, tmp_path, redis_url):
    """Two worker processes: a change made through one reaches watchers on the other."""
    from contextlib import ExitStack

    env = taskflow_env(tmp_path, TASKFLOW_REDIS_URL=redis_url)
    with (
        serve(kind, SPEC, tmp_path, env=env, workers=2) as srv,
        httpx.Client(base_url=srv.url, timeout=15) as http,
        ExitStack() as stack,
    ):
        token = http.post("/auth/login", json={"username": "bob", "password": "bob123"}).json()[
            "token"
        ]
        url = f"{srv.url}/api/projects/2/events?access_token={token}"
        streams: dict[int, object] = {}
        for _ in range(24):  # new connections until both workers hold a watcher
            pid, lines = open_stream(stack, url)
            streams.setdefault(pid, lines)
            if len(streams) == 2:
                break
        assert len(streams) == 2, f"every stream landed on one worker: {list(streams)}"
        r = httpx.put(
            f"{srv.url}/api/projects/2/tasks/3",
            json={"priority": "high"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        assert r.status_code == 200, r.text
        for pid, lines in streams.items():
            event = read_event(lines)
            assert event["task"]["id"] == 3 and event["task"]["priority"] == "high", pid
            assert event["by"] == "bob"


def ws_url(http_url: str, path: str) -> str:
    return "ws" + http_url[len("http") :] + path


@pytest.mark.parametrize("kind", ["uvicorn", "hypercorn", "lcore"])
def test_live_updates_websocket_through_asgi_server(kind, tmp_path):
    """The same app's @app.websocket route, served natively by each ASGI server."""
    from websockets.sync.client import connect

    with (
        serve(kind, SPEC, tmp_path, env=taskflow_env(tmp_path)) as srv,
        httpx.Client(base_url=srv.url, timeout=15) as http,
    ):
        token = http.post("/auth/login", json={"username": "alice", "password": "alice123"}).json()[
            "token"
        ]
        with connect(
            ws_url(srv.url, f"/ws/projects/1?access_token={token}"), open_timeout=10
        ) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            ws.send("ping")
            assert ws.recv(timeout=10) == "pong"
            r = http.put(
                "/api/projects/1/tasks/1",
                json={"status": "in_progress"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200
            event = json.loads(ws.recv(timeout=10))
        assert event["type"] == "task_updated" and event["task"]["status"] == "in_progress"
        wait_for(lambda: http.get("/debug/stats").json()["live_subscribers"] == 0, srv)


@contextlib.contextmanager
def side_by_side_ws(tmp_path: Path, env: dict[str, str]):
    """lcore_ws's side-by-side WebSocket server for the app (what a WSGI deployment runs)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "lcore_ws",
        SPEC,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    full_env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    full_env.update(env)
    log = tmp_path / f"ws-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(tmp_path),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"side-by-side server exited:\n{log.read_text(errors='replace')}"
                )
            try:
                if httpx.get(url + "/", timeout=1).status_code == 426:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"side-by-side server did not start:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)


def test_live_updates_websocket_wsgi_deployment(tmp_path, redis_url):
    """gunicorn serves HTTP, lcore_ws's side-by-side server the WebSockets; Redis joins them:
    a task changed through gunicorn reaches a WebSocket client of the other process."""
    from websockets.sync.client import connect

    env = taskflow_env(tmp_path, TASKFLOW_REDIS_URL=redis_url)
    with (
        serve("gunicorn-gthread", SPEC, tmp_path, env=env, workers=2) as srv,
        side_by_side_ws(tmp_path, env) as ws_http,
        httpx.Client(base_url=srv.url, timeout=15) as http,
    ):
        token = http.post("/auth/login", json={"username": "admin", "password": "admin123"}).json()[
            "token"
        ]
        with connect(
            ws_url(ws_http, f"/ws/projects/2?access_token={token}"), open_timeout=10
        ) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "subscribed" and hello["backend"] == "redis"
            r = http.post(
                "/api/projects/2/tasks",
                json={"title": "From gunicorn"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201
            event = json.loads(ws.recv(timeout=10))
        assert event["type"] == "task_created" and event["task"]["title"] == "From gunicorn"
        assert hello["pid"] != http.get("/debug/stats").json()["pid"]
