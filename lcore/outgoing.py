"""The neutral response an adapter sends (:class:`Outgoing`) and the end of a request.

An adapter sends ``status_line``, ``headers`` and ``body`` in its protocol's terms, then
calls ``close_sync()`` or ``await aclose()``, which closes the body and tears the request
down: spooled uploads, scoped dependencies, ``ctx.after_response`` work.
"""

from __future__ import annotations

from typing import Any

from . import _bridge
from .context import _current

__all__ = ["Outgoing", "BYTES", "ITER", "AITER", "FILE"]

#: Body kinds of an :class:`Outgoing`.
BYTES, ITER, AITER, FILE = 0, 1, 2, 3


class Outgoing:
    """The neutral response an adapter sends: status, header list and a body.

    ``kind`` says what ``body`` is: ``BYTES`` (bytes), ``ITER`` (a sync iterator of
    bytes), ``AITER`` (an async iterator of bytes) or ``FILE`` (a binary file object).
    Adapters call ``close_sync()`` or ``await aclose()`` when done sending.
    """

    __slots__ = ("status_code", "status_line", "headers", "body", "kind", "ctx", "_closed")

    def __init__(
        self,
        status_code: int,
        status_line: str,
        headers: list[tuple[str, str]],
        body: Any,
        kind: int,
        ctx: Any,
    ) -> None:
        self.status_code = status_code
        self.status_line = status_line
        self.headers = headers
        self.body = body
        self.kind = kind
        self.ctx = ctx
        self._closed = False

    @property
    def streaming(self) -> bool:
        return self.kind != BYTES

    def close_sync(self) -> None:
        """Close the body and the request's scoped dependencies (blocking code)."""
        if self._closed:
            return
        self._closed = True
        body = self.body
        try:
            if self.kind in (ITER, FILE) and hasattr(body, "close"):
                body.close()
            elif self.kind == AITER and hasattr(body, "aclose"):
                _bridge.run_async(self.ctx, body.aclose)
        finally:
            _teardown_sync(self.ctx)

    async def aclose(self) -> None:
        """Close the body and the request's scoped dependencies (async code)."""
        if self._closed:
            return
        self._closed = True
        body = self.body
        try:
            if self.kind == AITER and hasattr(body, "aclose"):
                await body.aclose()
            elif self.kind in (ITER, FILE) and hasattr(body, "close"):
                await _bridge.run_sync(self.ctx, body.close)
        finally:
            await _teardown_async(self.ctx)


def _teardown_sync(c: Any) -> None:
    if c is None:
        return
    app = c.app
    if c.request._cache:
        c.request._close_files()
    if c._scoped:
        app._container.close_scoped(c)
    after = c._after_response
    if after:
        c._after_response = None
        token = _current.set(c)  # tasks may use ctx/request/response
        try:
            app._run_after_response_sync(c, after)
        finally:
            _current.reset(token)


async def _teardown_async(c: Any) -> None:
    if c is None:
        return
    app = c.app
    if c.request._cache:
        c.request._close_files()
    if c._scoped:
        await app._container.aclose_scoped(c)
    after = c._after_response
    if after:
        c._after_response = None
        token = _current.set(c)  # tasks may use ctx/request/response
        try:
            await app._run_after_response_async(c, after)
        finally:
            _current.reset(token)


# -- drivers -------------------------------------------------------------------------
