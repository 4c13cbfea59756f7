"""Fixtures for the end-to-end tests: a private real redis-server (``redis_server``)."""

from __future__ import annotations

from redis_server import redis_server

__all__ = ["redis_server"]  # a fixture (tests/redis_server.py)
