"""TaskFlow served by real servers: the same ``examples.taskflow.app:app`` under gunicorn
(gthread, WSGI), uvicorn, hypercorn and lcore's embedded server (ASGI), driven with httpx."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

try:
    from e2e.servers import serve
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from e2e.servers import serve

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


def wait_subscribed(lines) -> None:
    """Skip the stream's preamble (a retry field and a comment) up to its blank line."""
    for line in lines:
        if line == "":
            return
    raise AssertionError("stream ended before the preamble")


@pytest.mark.parametrize("kind", SERVERS)
def test_taskflow_through_server(kind, tmp_path):
    with serve(kind, SPEC, tmp_path, env=taskflow_env(tmp_path)) as srv, \
            httpx.Client(base_url=srv.url, timeout=15) as http:
        # log in
        r = http.post("/auth/login", json={"username": "admin", "password": "admin123"})
        assert r.status_code == 200, srv.output()
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert http.get("/auth/me").json()["user"]["username"] == "admin"  # signed cookie

        # create a project and a task
        r = http.post("/api/projects/", json={"name": f"E2E {kind}"}, headers=h)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = http.post(f"/api/projects/{pid}/tasks", json={"title": "Ship it", "assignee_id": 2}, headers=h)
        assert r.status_code == 201, r.text
        tid = r.json()["id"]

        # upload and download an attachment
        payload = b"quarterly report\n" + bytes(range(256)) * 40
        r = http.post(f"/api/projects/{pid}/tasks/{tid}/attachment",
                      files={"file": ("report.bin", payload, "application/octet-stream")}, headers=h)
        assert r.status_code == 200, r.text
        filename = r.json()["filename"]
        assert filename == f"task_{tid}_report.bin"
        r = http.get(f"/api/projects/attachments/{filename}", headers=h)
        assert r.status_code == 200
        assert r.content == payload
        assert r.headers["cache-control"] == "max-age=3600"
        assert len(r.headers["etag"].strip('"')) == 64

        # comment
        r = http.post(f"/api/projects/{pid}/tasks/{tid}/comments", json={"body": f"via {kind}"}, headers=h)
        assert r.status_code == 201
        task = http.get(f"/api/projects/{pid}/tasks/{tid}", headers=h).json()
        assert [c["body"] for c in task["comments"]] == [f"via {kind}"]
        assert task["attachment"] == filename

        # dashboard (async handler with asyncio.gather)
        r = http.get("/api/projects/dashboard/overview", headers=h)
        assert r.status_code == 200
        dash = r.json()
        assert dash["totals"]["projects"] == 3 and dash["totals"]["tasks"] == 4
        assert {"id": pid, "name": f"E2E {kind}", "status": "active", "task_count": 1,
                "done_count": 0} in dash["projects"]

        # the pages and the middleware work through the server too
        page = http.get("/frontend", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "TaskFlow" in page.text
        assert page.headers["content-encoding"] == "gzip"  # CompressionMiddleware
        assert page.headers["x-frame-options"] == "DENY"  # SecurityHeadersMiddleware
        assert page.headers["x-request-id"]
        assert http.get("/nope", headers={"Accept": "application/json"}).json()["status"] == 404


@pytest.mark.parametrize("kind", SERVERS)
def test_live_updates_through_server(kind, tmp_path):
    """A client watching a project's SSE stream sees a task change made by another client."""
    with serve(kind, SPEC, tmp_path, env=taskflow_env(tmp_path)) as srv, \
            httpx.Client(base_url=srv.url, timeout=15) as http:
        token = http.post("/auth/login", json={"username": "alice", "password": "alice123"}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", f"{srv.url}/api/projects/1/events?access_token={token}",
                          timeout=httpx.Timeout(15, read=10)) as stream:
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


try:
    from redis_server import RedisServer, redis_binary
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from redis_server import RedisServer, redis_binary


@pytest.fixture(scope="module")
def redis_url():
    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def open_stream(stack, url: str):
    """Open an SSE stream; return (worker pid from its preamble, its line iterator)."""
    stream = stack.enter_context(httpx.stream("GET", url, timeout=httpx.Timeout(15, read=10)))
    assert stream.status_code == 200
    lines = stream.iter_lines()
    pid = None
    for line in lines:
        if line.startswith(": watching"):
            pid = int(line.rsplit(" ", 1)[1].rstrip(")"))
        if line == "":
            break
    return pid, lines


@pytest.mark.parametrize("kind", ["gunicorn-gthread", "uvicorn", "lcore"])
def test_live_updates_across_workers_through_redis(kind, tmp_path, redis_url):
    """Two worker processes: a change made through one reaches watchers on the other."""
    from contextlib import ExitStack

    env = taskflow_env(tmp_path, TASKFLOW_REDIS_URL=redis_url)
    with serve(kind, SPEC, tmp_path, env=env, workers=2) as srv, \
            httpx.Client(base_url=srv.url, timeout=15) as http, ExitStack() as stack:
        token = http.post("/auth/login", json={"username": "bob", "password": "bob123"}).json()["token"]
        url = f"{srv.url}/api/projects/2/events?access_token={token}"
        streams: dict[int, object] = {}
        for _ in range(24):  # new connections until both workers hold a watcher
            pid, lines = open_stream(stack, url)
            streams.setdefault(pid, lines)
            if len(streams) == 2:
                break
        assert len(streams) == 2, f"every stream landed on one worker: {list(streams)}"
        r = httpx.put(f"{srv.url}/api/projects/2/tasks/3", json={"priority": "high"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=15)
        assert r.status_code == 200, r.text
        for pid, lines in streams.items():
            event = read_event(lines)
            assert event["task"]["id"] == 3 and event["task"]["priority"] == "high", pid
            assert event["by"] == "bob"
