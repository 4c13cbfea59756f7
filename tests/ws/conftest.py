"""Fixtures for the WebSocket tests: a real redis-server (stopped by its pid), TLS files."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from certs import tls_files
    from redis_server import redis_server
except ImportError:  # pytest's importlib mode does not put tests/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from certs import tls_files
    from redis_server import redis_server

__all__ = ["redis_server", "tls_files"]  # fixtures (tests/redis_server.py, tests/certs.py)
