"""Fixtures for the TaskFlow example: one app import per session, on a temporary database.

The example is imported as ``examples.taskflow.app`` (the same module path the servers
serve). Its config comes from ``APP_*`` environment variables, set (``load.py``) before the
import so the database, uploads and secret live in a temporary directory.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from .load import ROOT, import_taskflow

if str(ROOT) not in sys.path:  # `examples` is a namespace package at the repository root
    sys.path.insert(0, str(ROOT))

try:  # fixtures (tests/redis_server.py, tests/browser.py)
    from browser import browser  # noqa: F401
    from redis_server import redis_url  # noqa: F401
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import browser  # noqa: F401
    from redis_server import redis_url  # noqa: F401

# Each protocol gets its own client address, so the per-IP rate limits (login: 5 per
# 5 minutes) of one protocol's tests do not spend the other's budget.
CLIENT_ADDR = {"wsgi": ("10.0.0.1", 50001), "asgi": ("10.0.0.2", 50002)}


def multipart(field: str, filename: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """A one-file multipart/form-data body and its Content-Type."""
    boundary = "taskflow" + uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def taskflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The imported ``examples.taskflow.app`` module, configured for a temp directory."""
    return import_taskflow(tmp_path_factory.mktemp("taskflow"))


@pytest.fixture
def app(taskflow: Any) -> Any:
    return taskflow.app


@pytest.fixture
def client(app: Any, make_client: Any, proto: str) -> Any:
    """A TestClient for the current protocol (``[wsgi]`` and ``[asgi]`` runs)."""
    return make_client(app, client=CLIENT_ADDR[proto])


_TOKENS: dict[tuple[str, str], str] = {}
PASSWORDS = {"admin": "admin123", "alice": "alice123", "bob": "bob123"}


@pytest.fixture
def token(client: Any, proto: str) -> Any:
    """``token('admin')``: a Bearer token got through /auth/login (once per protocol and user)."""

    def get(username: str = "admin") -> str:
        key = (proto, username)
        if key not in _TOKENS:
            r = client.post(
                "/auth/login", json={"username": username, "password": PASSWORDS[username]}
            )
            assert r.status_code == 200, r.text
            _TOKENS[key] = r.json["token"]
        return _TOKENS[key]

    return get


@pytest.fixture
def auth(token: Any) -> Any:
    """``auth('alice')``: the Authorization header dict for that user."""
    return lambda username="admin": {"Authorization": f"Bearer {token(username)}"}
