"""TaskFlow beyond the 30 checks: uploads, live updates, middleware, errors, RBAC details.

Each test runs under WSGI and under ASGI (the ``client`` fixture), except the Redis hub
test, which involves no request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from .conftest import multipart, unique


def test_upload_and_download_attachment(client, auth):
    data = b"%PDF-1.4 fake report " + bytes(range(256)) * 8
    body, ctype = multipart("file", "report.pdf", "application/pdf", data)
    r = client.post(
        "/api/projects/1/tasks/1/attachment", body=body, content_type=ctype, headers=auth("alice")
    )
    assert r.status_code == 200, r.text
    assert r.json == {
        "task_id": 1,
        "filename": "task_1_report.pdf",
        "content_type": "application/pdf",
        "uploaded": True,
    }
    r = client.get("/api/projects/attachments/task_1_report.pdf", headers=auth("bob"))
    assert r.status_code == 200
    assert r.body == data
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "max-age=3600"
    again = client.get(
        "/api/projects/attachments/task_1_report.pdf",
        headers=dict(auth("bob"), **{"If-None-Match": r.headers["etag"]}),
    )
    assert again.status_code == 304
    # no file field, traversal, and unauthenticated downloads are refused
    body, ctype = multipart("other", "x.txt", "text/plain", b"x")
    assert (
        client.post(
            "/api/projects/1/tasks/1/attachment", body=body, content_type=ctype, headers=auth()
        ).status_code
        == 400
    )
    assert client.get(
        "/api/projects/attachments/../../taskflow.db", headers=auth()
    ).status_code in (403, 404)
    assert client.get("/api/projects/attachments/task_1_report.pdf").status_code == 401


def _read_event(lines):
    name, data = None, []
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            return name, json.loads("\n".join(data))
    raise AssertionError("stream ended")


def test_live_updates_sse(client, auth, taskflow):
    hub = taskflow.hub
    with client.stream("GET", "/api/projects/1/events", headers=auth("alice")) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        for line in lines:  # a comment says when the stream is subscribed
            if line.startswith(": watching project 1"):
                break
        assert hub.subscriber_count(1) >= 1
        title = unique("live")
        created = client.post("/api/projects/1/tasks", json={"title": title}, headers=auth("bob"))
        assert created.status_code == 201
        name, event = _read_event(lines)
        assert name == "task"
        assert event["type"] == "task_created" and event["task"]["title"] == title
        assert event["by"] == "bob" and event["project_id"] == 1
        client.post(
            f"/api/projects/1/tasks/{created.json['id']}/comments",
            json={"body": "on it"},
            headers=auth("alice"),
        )
        name, event = _read_event(lines)
        assert event["type"] == "comment_added" and event["comment"]["body"] == "on it"
    deadline = time.monotonic() + 5
    while hub.subscriber_count(1) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.subscriber_count(1) == 0  # closing the stream ends the subscription


def test_live_events_need_a_token_and_a_project(client, auth, token):
    assert client.get("/api/projects/1/events").status_code == 401
    assert client.get("/api/projects/999/events", headers=auth()).status_code == 404
    assert client.get(f"/api/projects/999/events?access_token={token()}").status_code == 404


def test_redis_hubs_deliver_between_processes(redis_url):
    """Two hubs on one Redis, as two worker processes hold: what one publishes, the other's
    watchers get. (Publishing from a request through Redis is covered end to end, across
    two worker processes, in test_taskflow_e2e.py.)"""
    from examples.taskflow.modules.live import LiveHub, channel

    watcher, publisher = LiveHub(redis_url), LiveHub(redis_url)
    assert watcher.backend == publisher.backend == "redis"

    async def scenario():
        events = watcher.subscribe(7)
        assert await events.__anext__() == ""  # subscribed (Redis confirmed it)
        assert watcher.subscriber_count(7) == 1
        await publisher.broadcast.publish(
            channel(7), json.dumps({"type": "task_updated", "task": {"id": 1}})
        )
        message = await asyncio.wait_for(events.__anext__(), 10)
        await events.aclose()
        await watcher.broadcast.aclose()
        await publisher.broadcast.aclose()
        return json.loads(message)

    assert asyncio.run(scenario()) == {"type": "task_updated", "task": {"id": 1}}
    assert watcher.subscriber_count(7) == 0


def test_member_rbac_and_self_profile(client, auth):
    # a member may edit their own profile, not someone else's
    me = client.get("/api/users/3", headers=auth("bob")).json
    r = client.put(
        "/api/users/3", json={"username": "bob", "email": me["email"]}, headers=auth("bob")
    )
    assert r.status_code == 200 and r.json["updated"] is True
    assert (
        client.put(
            "/api/users/2", json={"username": "alice", "email": "a@b.c"}, headers=auth("bob")
        ).status_code
        == 403
    )
    # deleting tasks is for admins
    tid = client.post(
        "/api/projects/2/tasks", json={"title": unique("tmp")}, headers=auth("bob")
    ).json["id"]
    assert client.delete(f"/api/projects/2/tasks/{tid}", headers=auth("bob")).status_code == 403
    assert (
        client.delete(f"/api/projects/2/tasks/{tid}", headers=auth("admin")).json["deleted"] is True
    )


def test_admin_deletes_user_and_project(client, auth):
    name = unique("temp")
    uid = client.post(
        "/api/users/",
        json={"username": name, "email": f"{name}@x.io", "password": "pw123456"},
        headers=auth(),
    ).json["id"]
    assert client.delete(f"/api/users/{uid}", headers=auth()).json == {"id": uid, "deleted": True}
    assert client.get(f"/api/users/{uid}", headers=auth()).status_code == 404
    pid = client.post("/api/projects/", json={"name": unique("p")}, headers=auth()).json["id"]
    client.post(f"/api/projects/{pid}/tasks", json={"title": "t"}, headers=auth())
    assert client.put(f"/api/projects/{pid}", json={"status": "archived"}, headers=auth()).json[
        "updated"
    ]
    assert client.delete(f"/api/projects/{pid}", headers=auth()).json["deleted"] is True
    assert client.get(f"/api/projects/{pid}/tasks", headers=auth()).status_code == 404


def test_pages_render(client):
    home = client.get("/")
    assert home.status_code == 200 and "<h1>TaskFlow API</h1>" in home.text
    assert (
        "_api_version" not in home.text and "x-api-version" not in home.headers
    )  # skip_versioning
    front = client.get("/frontend")
    assert front.status_code == 200
    assert 'id="login-form"' in front.text and "/static/frontend.js" in front.text
    assert 'data-username="alice"' in front.text
    live = client.get("/live?project=2")
    assert live.status_code == 200 and 'value="2"' in live.text
    js = client.get("/static/frontend.js")
    assert js.status_code == 200 and "EventSource" in js.text


def test_error_pages_negotiate(client):
    html = client.get("/missing")
    assert html.status_code == 404
    assert html.headers["content-type"].startswith("text/html")
    assert "The path &#039;/missing&#039; does not exist." in html.text or "/missing" in html.text
    js = client.get("/missing", headers={"Accept": "application/json"})
    assert js.json == {"error": "Not Found", "path": "/missing", "status": 404}


def test_middleware_headers_and_preflight(client, auth):
    r = client.get("/health", headers={"X-Request-ID": "req-123", "Accept-Encoding": "identity"})
    assert r.headers["x-request-id"] == "req-123"
    assert r.headers["x-response-time"].endswith("ms")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert r.headers["x-content-type-options"] == "nosniff"
    pre = client.options(
        "/api/projects/",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert pre.headers["access-control-allow-credentials"] == "true"
    evil = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    big = client.get("/api/projects/", headers=dict(auth(), **{"Accept-Encoding": "gzip"}))
    assert big.headers["content-encoding"] == "gzip" and big.json["projects"]


def test_body_limit(client, auth):
    r = client.post(
        "/api/projects/1/tasks",
        body=b"x" * (10_485_760 + 1),
        content_type="application/json",
        headers=auth(),
    )
    assert r.status_code == 413


def test_login_rate_limit(app, make_client, proto):
    c = make_client(app, client=("10.9.9.1" if proto == "wsgi" else "10.9.9.2", 40000))
    codes = [
        c.post("/auth/login", json={"username": "nobody", "password": "x"}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    limited = c.post("/auth/login", json={"username": "nobody", "password": "x"})
    assert limited.status_code == 429
    assert "retry-after" in limited.headers


def test_dependency_lifetimes(client):
    r = client.get("/debug/di").json
    assert r["trace_id_1"] != r["trace_id_2"]  # transient
    assert r["cache_type"] == "AppCache" and r["db_type"] == "Database"


def test_audit_log_records_writes(client, auth):
    title = unique("audited")
    client.post("/api/projects/2/tasks", json={"title": title}, headers=auth("alice"))
    audit = client.get("/admin/overview", headers=auth()).json["audit"]
    assert any(
        e["method"] == "POST" and e["path"] == "/api/projects/2/tasks" and e["user"] == "alice"
        for e in audit
    )


def test_logout_forgets_the_cookie(app, make_client, proto):
    # its own client address: the login rate limit (5 per 5 minutes) is per address
    client = make_client(app, client=("10.9.8.1" if proto == "wsgi" else "10.9.8.2", 40000))
    client.post("/auth/login", json={"username": "bob", "password": "bob123"})
    assert client.get("/auth/me").status_code == 200
    client.post("/auth/logout")
    assert client.get("/auth/me").status_code == 401
    forged = base64.b64encode(b'"admin"').decode()
    client.cookies.set("session_user", f"!AAAA?{forged}")
    assert client.get("/auth/me").status_code == 401  # a tampered signed cookie reads as None


def test_live_updates_websocket(client, auth, token, taskflow):
    from lcore_ws.testing import HandshakeRejected

    with pytest.raises(HandshakeRejected) as rejected:
        client.websocket_connect("/ws/projects/1")
    assert rejected.value.status_code == 401  # TokenAuthMiddleware runs on the handshake
    with client.websocket_connect(f"/ws/projects/1?access_token={token('alice')}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "subscribed" and hello["project_id"] == 1
        ws.send_text("ping")
        assert ws.receive_text() == "pong"
        r = client.put("/api/projects/1/tasks/1", json={"priority": "low"}, headers=auth("bob"))
        assert r.status_code == 200
        event = ws.receive_json()
        assert event["type"] == "task_updated" and event["task"]["priority"] == "low"
        assert event["by"] == "bob"
    deadline = time.monotonic() + 5
    while taskflow.hub.subscriber_count(1) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert taskflow.hub.subscriber_count(1) == 0


def test_bad_input_is_a_client_error(client, auth):
    assert client.get("/api/users/?page=abc", headers=auth()).status_code == 400
    assert client.get("/api/projects/1/tasks?assignee_id=x", headers=auth()).status_code == 400
    assert client.get("/live?project=zz").status_code == 400
    r = client.post(
        "/api/projects/1/tasks", json={"title": "x", "assignee_id": 999}, headers=auth()
    )
    assert r.status_code == 422 and r.json["error"] == "assignee_id is not a user"
    assert (
        client.put("/api/projects/1/tasks/1", json={"assignee_id": 999}, headers=auth()).status_code
        == 422
    )
    assert (
        client.post(
            "/api/projects/1/tasks",
            body=b"{not json",
            content_type="application/json",
            headers=auth(),
        ).status_code
        == 400
    )
