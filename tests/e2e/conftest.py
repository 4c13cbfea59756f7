"""Fixtures for the end-to-end tests: a private real redis-server, headless Chromium."""

from __future__ import annotations

from browser import browser
from redis_server import redis_server

__all__ = ["browser", "redis_server"]  # fixtures (tests/browser.py, tests/redis_server.py)
