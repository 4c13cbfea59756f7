"""The context variable behind ``ctx``, ``request`` and ``response``.

A leaf module (it imports nothing of lcore), so that the response helpers and the
concurrency bridge can find the current request without importing ``lcore.context``,
which imports them.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["current", "current_context"]

#: The current request's ``RequestContext`` (unset outside a request).
current: ContextVar[Any] = ContextVar("lcore.ctx")


def current_context() -> Any:
    """The current request's :class:`~lcore.context.RequestContext`, or None outside a request.

    For code that carries the context elsewhere itself (a blocking facade that hops to
    the event loop, say); handlers use the ``ctx`` proxy.
    """
    return current.get(None)
