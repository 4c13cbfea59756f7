"""Issue 14's deliverable: a Lcore 0.0.4-style service (apps/legacy004, written from the
0.0.4 guides, seeds 000 and 001, not from lcore's tests) runs unchanged under gunicorn,
uvicorn, granian (WSGI and ASGI) and lcore's own server, and answers each request the same
on all five.

The reference is the same app driven in-process through the WSGI test client; every
server must give the same status, content type and body (normalised only for values that
differ per request: request ids, timings).
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .servers import APPS, Running, serve

pytestmark = pytest.mark.e2e

SPEC = "legacy004.app:app"
KINDS = ["gunicorn-sync", "uvicorn", "granian-wsgi", "granian-asgi", "lcore"]

_BASIC = "Basic " + base64.b64encode(b"admin:s3cret").decode()
_WRONG = "Basic " + base64.b64encode(b"admin:nope").decode()

#: (name, method, path, request kwargs)
SCRIPT: list[tuple[str, str, str, dict[str, Any]]] = [
    ("hello world", "GET", "/", {}),
    ("health skip=True", "GET", "/health", {}),
    ("DI singleton+scoped", "GET", "/api/data", {}),
    ("ctx and config", "GET", "/info", {}),
    ("SimpleTemplate", "GET", "/hello/bob", {}),
    ("@view escapes", "GET", "/page", {}),
    ("mounted list", "GET", "/api/users/", {}),
    ("mounted item", "GET", "/api/users/1", {}),
    ("mounted abort 404", "GET", "/api/users/9", {}),
    ("bad route filter value", "GET", "/api/users/x", {}),
    ("async handler", "GET", "/async", {}),
    ("validate body ok", "POST", "/api/items?category=t", {"json": {"name": "w", "price": 9.99}}),
    ("validate body 422", "POST", "/api/items?category=t", {"json": {"name": "w"}}),
    ("validate query 400", "GET", "/api/search", {}),
    ("validate query ok", "GET", "/api/search?q=x&page=2", {}),
    ("auth_basic none", "GET", "/admin", {}),
    ("auth_basic wrong", "GET", "/admin", {"headers": {"Authorization": _WRONG}}),
    ("auth_basic ok", "GET", "/admin", {"headers": {"Authorization": _BASIC}}),
    ("rate limit 1", "POST", "/api/login", {}),
    ("rate limit 2", "POST", "/api/login", {}),
    ("rate limit 3", "POST", "/api/login", {}),
    ("rate limit 4 (429)", "POST", "/api/login", {}),
    ("background task", "POST", "/api/users", {"json": {"email": "a@example.com"}}),
    (
        "body limit 413",
        "POST",
        "/api/users",
        {"content": b"x" * (65 * 1024), "headers": {"Content-Type": "application/json"}},
    ),
    (
        "CORS preflight",
        "OPTIONS",
        "/api/data",
        {"headers": {"Origin": "https://myapp.com", "Access-Control-Request-Method": "GET"}},
    ),
    ("signed cookie set", "GET", "/cookie", {}),
    ("signed cookie read", "GET", "/cookie", {}),
    ("404 as JSON", "GET", "/nope", {}),
]

#: Response headers every server must agree on (the middleware stack and hooks set them).
HEADERS = [
    "content-type",
    "x-frame-options",
    "strict-transport-security",
    "x-user-api",
    "access-control-allow-origin",
    "www-authenticate",
]


def _normal(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    text = re.sub(
        r"http://(localhost|127\.0\.0\.1:\d+)", "<origin>", text
    )  # error pages echo the URL
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    return text


def _answer(status: int, headers: Any, body: bytes, has_id: bool, has_time: bool) -> dict[str, Any]:
    return {
        "status": status,
        "headers": {h: headers.get(h) for h in HEADERS},
        "body": _normal(body),
        "request id": has_id,
        "response time": has_time,
    }


def _over_wire(base: str) -> list[dict[str, Any]]:
    out = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for _name, method, path, kw in SCRIPT:
            r = client.request(method, path, **kw)
            out.append(
                _answer(
                    r.status_code,
                    r.headers,
                    r.content,
                    "x-request-id" in r.headers,
                    bool(re.fullmatch(r"\d+\.\dms", r.headers.get("x-response-time", ""))),
                )
            )
    return out


def _in_process() -> list[dict[str, Any]]:
    """The reference: a fresh import of the app, driven by the WSGI test client."""
    import importlib

    sys.path.insert(0, str(APPS))
    try:
        for mod in [m for m in sys.modules if m.startswith("legacy004")]:
            del sys.modules[mod]
        app = importlib.import_module("legacy004.app").app
    finally:
        sys.path.remove(str(APPS))
    from lcore import TestClient

    out = []
    with TestClient(app) as client:
        for _name, method, path, kw in SCRIPT:
            kw = dict(kw)
            if "content" in kw:
                kw["body"] = kw.pop("content")
            if "?" in path:
                path, kw["query_string"] = path.split("?", 1)
            r = client.request(method, path, **kw)
            headers = {k.lower(): v for k, v in r.headers.items()}
            out.append(
                _answer(
                    r.status_code,
                    headers,
                    r.body,
                    "x-request-id" in headers,
                    bool(re.fullmatch(r"\d+\.\dms", headers.get("x-response-time", ""))),
                )
            )
    return out


@pytest.fixture(scope="module")
def reference() -> list[dict[str, Any]]:
    return _in_process()


@pytest.fixture(scope="module", params=KINDS)
def server(request: Any, tmp_path_factory: Any) -> Iterator[tuple[str, Running]]:
    with serve(request.param, SPEC, tmp_path_factory.mktemp(request.param)) as srv:
        yield request.param, srv


def test_reference_answers_are_what_the_guides_promise(reference: list[dict[str, Any]]) -> None:
    by_name = {case[0]: answer for case, answer in zip(SCRIPT, reference)}
    assert by_name["hello world"]["body"] == "Hello, World!"
    assert json.loads(by_name["DI singleton+scoped"]["body"])["cached"] == "data"
    assert "<h1>Hello, bob!</h1>" in by_name["SimpleTemplate"]["body"]
    assert "&lt;script&gt;" in by_name["@view escapes"]["body"]
    assert by_name["mounted item"]["headers"]["x-user-api"] == "yes"
    assert by_name["mounted abort 404"]["status"] == 404
    assert by_name["validate body ok"]["status"] == 201
    assert by_name["validate body 422"]["status"] == 422
    assert by_name["validate query 400"]["status"] == 400
    assert [by_name[f"auth_basic {k}"]["status"] for k in ("none", "wrong", "ok")] == [
        401,
        401,
        200,
    ]
    assert [by_name[f"rate limit {k}"]["status"] for k in ("1", "2", "3", "4 (429)")] == [
        200,
        200,
        200,
        429,
    ]
    assert by_name["body limit 413"]["status"] == 413
    assert by_name["CORS preflight"]["status"] == 204
    assert (
        by_name["CORS preflight"]["headers"]["access-control-allow-origin"] == "https://myapp.com"
    )
    assert by_name["ctx and config"]["request id"] and by_name["hello world"]["response time"]
    assert by_name["hello world"]["headers"]["x-frame-options"] == "SAMEORIGIN"
    assert json.loads(by_name["signed cookie set"]["body"]) == {"seen": None}
    assert json.loads(by_name["signed cookie read"]["body"]) == {"seen": "alice"}
    assert json.loads(by_name["404 as JSON"]["body"])["status"] == 404
    assert all(a["status"] < 500 for a in reference), [
        (c[0], a["status"]) for c, a in zip(SCRIPT, reference)
    ]


def test_the_same_answers_on_every_server(
    server: tuple[str, Running], reference: list[dict[str, Any]], tmp_path: Path
) -> None:
    kind, srv = server
    got = _over_wire(srv.url)
    diffs = [
        (case[0], want, have) for case, want, have in zip(SCRIPT, reference, got) if want != have
    ]
    assert not diffs, f"{kind} differs from the in-process reference:\n" + "\n".join(
        f"- {name}:\n    want {want}\n    got  {have}" for name, want, have in diffs
    )
    assert "Traceback" not in srv.output(), srv.output()
