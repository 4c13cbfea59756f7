"""TaskFlow's OpenAPI document: valid (openapi-spec-validator), and every status it
answers is one its operations declare (requests under WSGI and ASGI)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from openapi_spec_validator import validate
from taskflow.load import import_taskflow


@pytest.fixture(scope="module")
def taskflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``examples.taskflow.app`` on a temporary database (the one already imported, if any)."""
    return import_taskflow(tmp_path_factory.mktemp("taskflow-openapi"))


@pytest.fixture(scope="module")
def doc(taskflow: Any) -> dict[str, Any]:
    d = taskflow.app.openapi()
    validate(d)
    return d


def _codes(doc: dict[str, Any], path: str, method: str = "get") -> list[str]:
    return list(doc["paths"][path][method]["responses"])


def test_taskflow_document_is_valid_with_unique_ids_and_no_405(doc):
    ops = [op for item in doc["paths"].values() for op in item.values()]
    assert len(ops) >= 40
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    assert not [op for op in ops if "405" in op["responses"]]
    assert {t["name"] for t in doc["tags"]} >= {"auth", "users", "projects", "notifications"}


def test_taskflow_statuses_per_operation(doc):
    assert _codes(doc, "/auth/register", "post") == ["201", "400", "409", "413", "422", "429"]
    assert _codes(doc, "/auth/login", "post") == ["200", "400", "401", "413", "422", "429"]
    assert _codes(doc, "/auth/basic-demo") == ["200", "401"]
    assert _codes(doc, "/api/users/", "post") == [
        "201",
        "400",
        "401",
        "403",
        "409",
        "413",
        "422",
        "429",
    ]
    assert _codes(doc, "/api/users/{id}", "delete") == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "429",
    ]
    assert _codes(doc, "/api/projects/{project_id}/tasks", "post") == [
        "201",
        "400",
        "401",
        "404",
        "413",
        "422",
        "429",
    ]
    assert _codes(doc, "/admin/overview") == ["200", "401", "403"]
    assert _codes(doc, "/old-api") == ["200", "301"]
    assert _codes(doc, "/health") == ["200"]
    conflict = doc["paths"]["/api/users/"]["post"]["responses"]["409"]
    assert conflict["description"] == "Username already exists"


def test_taskflow_security(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"}
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "session_user"}
    paths = doc["paths"]
    assert paths["/api/projects/"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/auth/basic-demo"]["get"]["security"] == [{"basicAuth": []}]
    assert paths["/auth/me"]["get"]["security"] == [{"cookieAuth": []}]
    assert (
        "security" not in paths["/health"]["get"] and "security" not in paths["/auth/login"]["post"]
    )


def test_taskflow_answers_only_declared_statuses(taskflow, doc, make_client, proto):
    c = make_client(taskflow.app, client=("10.0.16." + ("1" if proto == "wsgi" else "2"), 50016))
    name = "oa" + uuid.uuid4().hex[:8]
    seen = []

    def check(method: str, path: str, template: str, expected: int, **kw: Any) -> Any:
        r = c.request(method.upper(), path, **kw)
        assert r.status_code == expected, (method, path, r.status_code, r.text[:300])
        assert str(r.status_code) in doc["paths"][template][method]["responses"], (method, template)
        seen.append(r.status_code)
        return r

    body = {"username": name, "email": f"{name}@example.com", "password": "secret123"}
    token = check("post", "/auth/register", "/auth/register", 201, json=body).json["token"]
    check("post", "/auth/register", "/auth/register", 409, json=body)
    check("post", "/auth/register", "/auth/register", 422, json={"username": name})
    check("get", "/api/users/", "/api/users/", 401)
    member = {"Authorization": f"Bearer {token}"}
    check("get", "/api/users/", "/api/users/", 200, headers=member)
    check("get", "/api/users/999999", "/api/users/{id}", 404, headers=member)
    check("post", "/api/projects/", "/api/projects/", 403, headers=member, json={"name": "x"})
    check("get", "/admin/overview", "/admin/overview", 403, headers=member)
    check("get", "/auth/basic-demo", "/auth/basic-demo", 401)
    check("get", "/old-api", "/old-api", 301)
    assert sorted(set(seen)) == [200, 201, 301, 401, 403, 404, 409, 422]
