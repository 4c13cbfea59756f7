"""Fixtures for the WebSocket tests: a real redis-server (stopped by its pid)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from redis_server import RedisServer, redis_binary
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from redis_server import RedisServer, redis_binary



@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for one test (which may stop and restart it)."""
    if redis_binary() is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server, or set REDIS_SERVER)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
