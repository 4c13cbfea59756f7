"""The 30 checks of the TaskFlow reference app (seed 002), each under WSGI and ASGI."""

from __future__ import annotations

import base64

from .conftest import unique


# -- Authentication (4) ----------------------------------------------------------------
def test_01_unauthenticated_is_401(client):
    r = client.get("/api/users/")
    assert r.status_code == 401
    assert r.json == {"error": "Missing or invalid Authorization header"}
    r = client.get("/api/projects/", headers={"Authorization": "Bearer forged.token"})
    assert r.status_code == 401
    assert r.json["error"] == "Invalid or expired token"


def test_02_login(client):
    r = client.post("/auth/login", json={"username": "admin", "password": "admin123"})
    assert r.status_code == 200
    assert r.json["user"] == {"id": 1, "username": "admin", "role": "admin"}
    payload, _, signature = r.json["token"].rpartition(".")
    assert len(signature) == 64 and base64.urlsafe_b64decode(payload)
    # the signed session cookie is set and read back by /auth/me
    assert (
        r.headers["set-cookie"].startswith('session_user="!')
        or "session_user=" in r.headers["set-cookie"]
    )
    me = client.get("/auth/me")
    assert me.status_code == 200
    assert me.json["user"]["username"] == "admin"
    assert me.json["via"] == "signed_cookie"


def test_03_register(client):
    name = unique("carol")
    r = client.post(
        "/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "carol123"},
    )
    assert r.status_code == 201, r.text
    assert r.json["user"]["role"] == "member"
    users = client.get(
        "/api/users/search",
        query_string={"q": name},
        headers={"Authorization": f"Bearer {r.json['token']}"},
    )
    assert users.status_code == 200
    assert [u["username"] for u in users.json["users"]] == [name]
    again = client.post(
        "/auth/register",
        json={"username": name, "email": f"x{name}@example.com", "password": "carol123"},
    )
    assert again.status_code == 409


def test_04_basic_auth(client):
    r = client.get("/auth/basic-demo")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="TaskFlow"'
    good = base64.b64encode(b"bob:bob123").decode()
    r = client.get("/auth/basic-demo", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 200
    assert r.json["message"] == "Authenticated via HTTP Basic Auth!"
    assert r.json["user"] == "bob"
    bad = base64.b64encode(b"bob:wrong").decode()
    assert (
        client.get("/auth/basic-demo", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    )


# -- System (1) ------------------------------------------------------------------------
def test_05_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json["status"] == "ok"
    assert r.json["_api_version"] == "0.0.1"  # APIVersionPlugin
    assert r.headers["x-api-version"] == "0.0.1"
    assert r.headers["x-powered-by"] == "Lcore"  # after_request hook


# -- Users CRUD (5) --------------------------------------------------------------------
def test_06_list_users(client, auth):
    r = client.get("/api/users/", headers=auth("alice"))
    assert r.status_code == 200
    names = {u["username"] for u in r.json["users"]}
    assert {"admin", "alice", "bob"} <= names
    assert r.json["page"] == 1 and r.json["total"] >= 3
    assert all("password_hash" not in u for u in r.json["users"])
    admins = client.get("/api/users/?role=admin", headers=auth("alice")).json
    assert [u["username"] for u in admins["users"]] == ["admin"] and admins["total"] == 1


def test_07_get_user(client, auth):
    r = client.get("/api/users/2", headers=auth())
    assert r.status_code == 200
    assert r.json["username"] == "alice" and r.json["role"] == "member"
    assert client.get("/api/users/9999", headers=auth()).status_code == 404


def test_08_create_user(client, auth):
    name = unique("dave")
    body = {"username": name, "email": f"{name}@example.com", "password": "dave1234"}
    r = client.post("/api/users/", json=body, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json["created"] is True and r.json["username"] == name
    # members may not invite people; a missing field is a 422
    assert (
        client.post(
            "/api/users/", json=dict(body, username=name + "x"), headers=auth("alice")
        ).status_code
        == 403
    )
    assert client.post("/api/users/", json={"username": "x"}, headers=auth()).status_code == 422
    assert client.post("/api/users/", json=body, headers=auth()).status_code == 409


def test_09_patch_user(client, auth):
    name = unique("erin")
    uid = client.post(
        "/api/users/",
        json={"username": name, "email": f"{name}@example.com", "password": "erin1234"},
        headers=auth(),
    ).json["id"]
    r = client.patch(f"/api/users/{uid}", json={"role": "admin", "is_active": 0}, headers=auth())
    assert r.status_code == 200
    assert sorted(r.json["fields"]) == ["is_active", "role"]
    assert client.get(f"/api/users/{uid}", headers=auth()).json["role"] == "admin"
    assert (
        client.patch(
            f"/api/users/{uid}", json={"role": "member"}, headers=auth("alice")
        ).status_code
        == 403
    )
    assert client.patch(f"/api/users/{uid}", json={"bogus": 1}, headers=auth()).status_code == 400


def test_10_search_users(client, auth):
    r = client.get("/api/users/search?q=ali", headers=auth("bob"))
    assert r.status_code == 200
    assert [u["username"] for u in r.json["users"]] == ["alice"]
    assert client.get("/api/users/search", headers=auth("bob")).status_code == 400  # q required


# -- Projects & Tasks (8) --------------------------------------------------------------
def test_11_list_projects(client, auth):
    r = client.get("/api/projects/", headers=auth("alice"))
    assert r.status_code == 200
    names = [p["name"] for p in r.json["projects"]]
    assert names[:2] == ["Website Redesign", "Mobile App"]


def test_12_get_project(client, auth):
    r = client.get("/api/projects/1", headers=auth("bob"))
    assert r.status_code == 200
    assert r.json["name"] == "Website Redesign"
    assert "Design mockups" in [t["title"] for t in r.json["tasks"]]
    missing = client.get("/api/projects/9999", headers=auth("bob"))
    assert missing.status_code == 404
    assert missing.json == {"error": "Project not found", "status": 404}


def test_13_create_project(client, auth):
    name = unique("Launch")
    r = client.post(
        "/api/projects/", json={"name": name, "description": "Go live"}, headers=auth("admin")
    )
    assert r.status_code == 201
    assert r.json["created"] is True
    assert client.get(f"/api/projects/{r.json['id']}", headers=auth()).json["name"] == name
    # endpoint-level RBAC: members cannot create, update or delete projects
    assert (
        client.post("/api/projects/", json={"name": "nope"}, headers=auth("alice")).status_code
        == 403
    )
    assert (
        client.put(
            f"/api/projects/{r.json['id']}", json={"name": "x"}, headers=auth("alice")
        ).status_code
        == 403
    )
    assert client.delete(f"/api/projects/{r.json['id']}", headers=auth("alice")).status_code == 403


def test_14_list_tasks(client, auth):
    r = client.get("/api/projects/1/tasks", headers=auth("alice"))
    assert r.status_code == 200
    assert r.json["total"] >= 2
    done = client.get("/api/projects/1/tasks?status=done", headers=auth("alice")).json
    assert done["tasks"] and all(t["status"] == "done" for t in done["tasks"])


def test_15_create_task(client, auth):
    title = unique("Write tests")
    r = client.post(
        "/api/projects/2/tasks",
        json={"title": title, "priority": "high", "assignee_id": 3, "due_date": "2030-01-01"},
        headers=auth("alice"),
    )
    assert r.status_code == 201, r.text
    assert r.json["title"] == title and r.json["status"] == "todo"
    assert r.json["assignee_name"] == "bob" and r.json["creator_id"] == 2
    assert (
        client.post(
            "/api/projects/2/tasks", json={"title": "x", "priority": "urgent"}, headers=auth()
        ).status_code
        == 422
    )
    assert (
        client.post("/api/projects/9999/tasks", json={"title": "x"}, headers=auth()).status_code
        == 404
    )


def test_16_update_task(client, auth):
    tid = client.post(
        "/api/projects/1/tasks", json={"title": unique("Move me")}, headers=auth("bob")
    ).json["id"]
    r = client.put(
        f"/api/projects/1/tasks/{tid}", json={"status": "in_progress"}, headers=auth("bob")
    )
    assert r.status_code == 200
    assert r.json["status"] == "in_progress"
    assert (
        client.put(
            f"/api/projects/1/tasks/{tid}", json={"status": "nope"}, headers=auth("bob")
        ).status_code
        == 422
    )


def test_17_get_task(client, auth):
    r = client.get("/api/projects/1/tasks/1", headers=auth("alice"))
    assert r.status_code == 200
    assert r.json["title"] == "Design mockups"
    assert isinstance(r.json["comments"], list)
    assert client.get("/api/projects/2/tasks/1", headers=auth()).status_code == 404  # wrong project


def test_18_add_comment(client, auth):
    text = unique("Looks good")
    r = client.post("/api/projects/1/tasks/2/comments", json={"body": text}, headers=auth("alice"))
    assert r.status_code == 201
    assert r.json["username"] == "alice" and r.json["body"] == text
    comments = client.get("/api/projects/1/tasks/2", headers=auth()).json["comments"]
    assert text in [c["body"] for c in comments]


# -- Notifications (3) -----------------------------------------------------------------
def test_19_send_email(client, auth):
    r = client.post(
        "/api/notifications/email",
        json={"to": "team@example.com", "subject": "Hi", "body": "Standup at 10"},
        headers=auth(),
    )
    assert r.status_code == 200
    assert r.json["status"] == "simulated"
    assert r.json["to"] == "team@example.com"


def test_20_batch_notify(client, auth):
    r = client.post(
        "/api/notifications/batch",
        json={"user_ids": [1, 2, 3], "subject": "Release", "body": "v2 is out"},
        headers=auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json["sent"] == 3
    assert {x["to"] for x in r.json["results"]} == {
        "admin@taskflow.local",
        "alice@taskflow.local",
        "bob@taskflow.local",
    }
    assert (
        client.post(
            "/api/notifications/batch",
            json={"user_ids": "all", "subject": "x", "body": "y"},
            headers=auth(),
        ).status_code
        == 422
    )


def test_21_history(client, auth):
    client.post("/api/notifications/task-assigned/3", headers=auth())
    r = client.get("/api/notifications/history", headers=auth())
    assert r.status_code == 200
    subjects = [n["subject"] for n in r.json["notifications"]]
    assert "[TaskFlow] You've been assigned: Set up CI" in subjects
    assert r.json["total"] >= 1


# -- Dashboard (2) ---------------------------------------------------------------------
def test_22_dashboard_async(client, auth):
    r = client.get("/api/projects/dashboard/overview", headers=auth("alice"))
    assert r.status_code == 200
    totals = r.json["totals"]
    assert totals["projects"] >= 2 and totals["tasks"] >= 3 and totals["users"] >= 3
    assert "Set up CI" in [t["title"] for t in r.json["overdue_tasks"]]


def test_23_activity(client, auth):
    text = unique("activity")
    client.post("/api/projects/1/tasks/1/comments", json={"body": text}, headers=auth("bob"))
    r = client.get("/api/projects/activity?limit=5", headers=auth())
    assert r.status_code == 200
    assert r.json["activity"][0]["text"] == text
    assert r.json["activity"][0]["username"] == "bob"


# -- Admin & RBAC (2) ------------------------------------------------------------------
def test_24_admin_as_admin(client, auth):
    r = client.get("/admin/overview", headers=auth("admin"))
    assert r.status_code == 200
    assert r.json["admin"] == "admin" and r.json["users"] >= 3
    assert isinstance(r.json["audit"], list)


def test_25_admin_as_member_is_403(client, auth):
    r = client.get("/admin/overview", headers=auth("alice"))
    assert r.status_code == 403
    assert r.json == {"error": "Admin access required"}
    assert client.delete("/api/users/3", headers=auth("alice")).status_code == 403


# -- Debug (4) -------------------------------------------------------------------------
def test_26_routes(client):
    r = client.get("/debug/routes")
    assert r.status_code == 200
    rules = {(x["method"], x["rule"]) for x in r.json["routes"]}
    assert ("GET", "/health") in rules
    assert ("POST", "/auth/login") in rules
    assert ("GET", "/api/projects/dashboard/overview") in rules
    assert ("DELETE", "/api/users/<id:int>") in rules


def test_27_middleware(client):
    r = client.get("/debug/middleware")
    assert r.status_code == 200
    names = [m["name"] for m in r.json["middleware"]]
    assert len(names) == 10
    for name in ("body_limit", "request_id", "timing", "token_auth", "admin_guard", "audit_log"):
        assert name in names
    assert names[-1] == "compression"


def test_28_config_redacted(client):
    r = client.get("/debug/config")
    assert r.status_code == 200
    config = r.json["config"]
    assert config["secret_key"] == "***"
    assert config["debug"] is True  # validated: the string from the environment became a bool
    assert config["smtp_port"] == 587
    assert config["max_upload_size"] == 10_485_760


def test_29_stats(client, auth):
    client.get("/health")
    r = client.get("/debug/stats")
    assert r.status_code == 200
    assert r.json["request_counts"]["/health"] >= 1


def test_30_redirect_301(client):
    r = client.get("/old-api")
    assert r.status_code == 301
    assert r.headers["location"].endswith("/api/projects/")
