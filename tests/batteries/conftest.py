"""Fixtures for the batteries tests: a real Redis server (``redis_url``, ``redis_server``)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from redis_server import redis_server, redis_url
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from redis_server import redis_server, redis_url

__all__ = ["redis_server", "redis_url"]  # fixtures, shared with tests/ws and tests/e2e
