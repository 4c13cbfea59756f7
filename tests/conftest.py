"""Shared fixtures: run the same behaviour test under WSGI and under ASGI.

A test that asks for ``make_client`` (or ``proto``) runs twice, ids ``[wsgi]`` and
``[asgi]``::

    def test_hello(make_client):
        app = Lcore()
        app.route('/', callback=lambda: 'hi')
        assert make_client(app).get('/').text == 'hi'

``make_client(app, **kw)`` returns ``TestClient(app, protocol=proto, **kw)``; every
client made is closed when the test ends. Server-process fixtures do not belong here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lcore import TestClient

PROTOCOLS = ["wsgi", "asgi"]


@pytest.fixture(params=PROTOCOLS, ids=PROTOCOLS)
def proto(request: pytest.FixtureRequest) -> str:
    """The protocol under test: ``'wsgi'`` or ``'asgi'``."""
    return request.param


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
