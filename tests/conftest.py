"""Shared fixtures: run the same behaviour test under WSGI and under ASGI.

A test that asks for ``make_client`` (or ``proto``) runs twice, ids ``[wsgi]`` and
``[asgi]``::

    def test_hello(make_client):
        app = Lcore()
        app.route('/', callback=lambda: 'hi')
        assert make_client(app).get('/').text == 'hi'

``make_client(app, **kw)`` returns ``TestClient(app, protocol=proto, **kw)``; every
client made is closed when the test ends. Server-process fixtures do not belong here.

In the suites of ``TRIO_SUITES`` they run a third time, id ``[asgi-trio]``: ``proto`` is
``'asgi'`` and every TestClient of the test (``LCORE_TEST_BACKEND``) runs the app on
trio instead of asyncio. A test that is asyncio-only by nature says so and why with
``@pytest.mark.asyncio_only("reason")``. ``LCORE_TRIO_SUITES=all`` adds trio everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lcore import TestClient

PROTOCOLS = ["wsgi", "asgi"]
#: The suites (folders under tests/) whose ASGI side runs on asyncio and on trio.
TRIO_SUITES = ("behaviour", "ws")
_TESTS = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "asyncio_only(reason): the test's ASGI side runs on asyncio only (say why)"
    )


def _runs_on_trio(metafunc: pytest.Metafunc) -> bool:
    marker = metafunc.definition.get_closest_marker("asyncio_only")
    if marker is not None:
        if not (marker.args or marker.kwargs.get("reason")):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: asyncio_only needs a reason")
        return False
    rel = Path(str(metafunc.definition.fspath)).resolve().relative_to(_TESTS)
    return os.environ.get("LCORE_TRIO_SUITES") == "all" or rel.parts[0] in TRIO_SUITES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "proto" in metafunc.fixturenames:
        params = PROTOCOLS + (["asgi-trio"] if _runs_on_trio(metafunc) else [])
        metafunc.parametrize("proto", params, ids=params, indirect=True)


@pytest.fixture
def proto(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The protocol under test: ``'wsgi'`` or ``'asgi'`` (on trio for ``[asgi-trio]``)."""
    if request.param == "asgi-trio":
        monkeypatch.setenv("LCORE_TEST_BACKEND", "trio")
        return "asgi"
    monkeypatch.delenv("LCORE_TEST_BACKEND", raising=False)
    return str(request.param)


@pytest.fixture
def make_client(proto: str) -> Iterator[Callable[..., TestClient]]:
    """A factory ``make_client(app, **kw) -> TestClient`` for the current protocol."""
    clients: list[TestClient] = []

    def factory(app: Any, **kw: Any) -> TestClient:
        c = TestClient(app, protocol=proto, **kw)
        clients.append(c)
        return c

    yield factory
    for c in clients:
        c.close()


# Alias: some suites call it ``client_factory``.
client_factory = make_client
