"""Fixtures for the embedded server tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import server_support
from certs import tls_files  # noqa: F401 - a fixture (tests/certs.py)

#: The HTTP/1.1 drivers every HTTP/1.1 test runs against (httptools when installed).
H1_DRIVERS = ["h11"] + (["httptools"] if server_support.HAVE_HTTPTOOLS else [])


@pytest.fixture(scope="module", params=H1_DRIVERS)
def h1_driver(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests once per HTTP/1.1 driver (``Config.http``).

    Servers started by ``server_support`` (and in-memory connections) use it.
    """
    previous = server_support.H1_DRIVER
    server_support.H1_DRIVER = request.param
    try:
        yield request.param
    finally:
        server_support.H1_DRIVER = previous


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
