"""Sessions: ``SessionMiddleware`` gives each request ``ctx.session``.

The data lives in a signed cookie (default), in process memory, or in Redis (shared by
every worker and machine). See docs/sessions.md.
"""

from .middleware import SessionMiddleware
from .session import Session
from .stores import (
    CookieSessionStore,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    SessionUnavailable,
)

__all__ = [
    "SessionMiddleware",
    "Session",
    "SessionStore",
    "CookieSessionStore",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionUnavailable",
]
