"""SessionMiddleware: ``ctx.session``, loaded on first use and saved only when changed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .. import _bridge
from .._utils import json_dumps
from ..middleware._util import add_vary
from ..middleware.base import Middleware
from ..response import HTTPResponse
from .session import _MAX_COOKIE, Session, Signer
from .stores import CookieSessionStore, SessionStore, SessionUnavailable

__all__ = ["SessionMiddleware"]

_log = logging.getLogger("lcore.sessions")
_PURPOSE = b"lcore.sessions.v1"
_MODES = ("error", "empty")


class SessionMiddleware(Middleware):
    """Give every request ``ctx.session``, a dict-like :class:`Session`.

    ``secret`` signs the session cookie: a string, or a list of strings whose first
    item signs and all of which verify (key rotation: put the new key first, keep the
    old ones until their cookies have expired; a cookie signed with an old key is
    signed again with the new one when it is next sent). The cookie carries a
    timestamp; one older than ``max_age`` seconds (default 14 days) is an empty session.

    ``store`` holds the data: :class:`CookieSessionStore` (default: the signed data
    is the cookie), :class:`MemorySessionStore` (one process) or
    :class:`RedisSessionStore` (every worker and machine; the cookie holds only the
    signed id). Server-side data expires ``max_age`` seconds after it was last saved.

    Cookie defaults: ``HttpOnly``, ``SameSite=Lax``, path ``/``, ``Max-Age=max_age``,
    and ``Secure`` when the request came over https (``secure=None``; pass True or
    False to decide). A forged, corrupt, expired or oversized cookie, or an unknown
    session id, is an empty session, never an error.

    ``on_unavailable`` says what a request gets when the store cannot be reached:
    ``'error'`` (default) answers ``503 Service Unavailable`` with ``Retry-After``;
    ``'empty'`` goes on with an empty session whose changes are not saved (and a
    logged warning), so pages that do not need a login keep working.

    When the store may block (Redis) and the client sent a session cookie, a request
    for an ``async def`` handler has its session read before the handler runs, outside
    the event loop (a worker thread under ASGI, the request's thread under WSGI), and
    saves happen outside it too: the event loop never waits on Redis. With :class:`CSRFMiddleware` installed too, the CSRF token is bound
    to the session id (see ``Session.csrf_binding``).
    """

    name = "session"
    order = 8  # before CSRFMiddleware (10), which binds its token to the session
    phase = "pre"

    def __init__(
        self,
        secret: str | bytes | Iterable[str | bytes],
        store: SessionStore | None = None,
        *,
        cookie_name: str = "lcore_session",
        max_age: int = 14 * 24 * 3600,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: str | None = "Lax",
        on_unavailable: str = "error",
    ) -> None:
        if on_unavailable not in _MODES:
            raise ValueError(f"on_unavailable must be one of {_MODES}, not {on_unavailable!r}")
        if int(max_age) < 1:
            raise ValueError("max_age must be at least 1 second")
        self._signer = Signer(secret, _PURPOSE)
        self.store = store if store is not None else CookieSessionStore()
        self.cookie_name = cookie_name
        self.max_age = int(max_age)
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httponly = httponly
        self.samesite = samesite
        self.on_unavailable = on_unavailable

    # -- the middleware ------------------------------------------------------------
    def _attach(self, ctx: Any) -> Session:
        session = Session(self, ctx.request.cookies.get(self.cookie_name))
        ctx.session = session
        return session

    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        session = self._attach(ctx)
        if session._cookie and not self.store.nonblocking and _ends_in_async_handler(ctx):
            # The handler runs on the event loop: read the session here, in this thread.
            session._ensure_loaded()
        result = next_handler(ctx)
        return self._save(ctx, session, result)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        session = self._attach(ctx)
        blocking = not self.store.nonblocking
        if blocking and session._cookie and _ends_in_async_handler(ctx):
            # The handler runs on the loop: read the session now, in a worker thread.
            await _bridge.run_sync(ctx, session._ensure_loaded)
        result = await next_handler(ctx)
        if blocking and session.modified:
            return await _bridge.run_sync(ctx, self._save, ctx, session, result)
        return self._save(ctx, session, result)

    # -- reading and saving ---------------------------------------------------------
    def _load(self, session: Session) -> dict[str, Any] | None:
        """The stored data of ``session`` (parsed), None when there is none."""
        if self.store.in_cookie:
            return session._cookie_data
        sid = session._sid
        if sid is None:
            return None
        try:
            return self.store.load(sid)
        except SessionUnavailable:
            if self.on_unavailable == "error":
                raise
            session.unavailable = True
            return {}

    def _save(self, ctx: Any, session: Session, result: Any) -> Any:
        """Save a changed session and set (or delete) its cookie; returns the result."""
        if session._data is None:
            return result  # never read: nothing changed, nothing to say about the cookie
        add_vary(ctx, result, "Cookie")
        if session.unavailable:
            if session.modified:
                _log.warning(
                    "sessions: the store is unavailable; this request's session changes are lost"
                )
            return result
        if not (session.modified or session.resign):
            return result
        store = self.store
        data = session._data
        try:
            if not data:
                if session._old_ids and not store.in_cookie:
                    store.delete(*session._old_ids)
                if session._cookie is not None:
                    ctx.response.delete_cookie(self.cookie_name, **self._attributes(ctx))
                return result
            sid = session._sid
            if sid is None:  # resigned but never changed
                return result
            if store.in_cookie:
                value = self._signer.sign({"i": sid, "d": data})
                if len(value) > _MAX_COOKIE - len(self.cookie_name) - 200:
                    raise ValueError(
                        f"session too large for a cookie ({len(value)} bytes signed, from "
                        f"{len(json_dumps(data))} bytes of JSON): store less in it, or use "
                        "RedisSessionStore"
                    )
            else:
                store.save(sid, data, self.max_age)
                if session._old_ids:
                    store.delete(*session._old_ids)
                value = self._signer.sign(sid)
        except SessionUnavailable as e:
            if self.on_unavailable == "error":
                return e
            _log.warning(
                "sessions: the store is unavailable; this request's session changes are lost"
            )
            return result
        ctx.response.set_cookie(
            self.cookie_name, value, max_age=self.max_age, **self._attributes(ctx)
        )
        return result

    def _attributes(self, ctx: Any) -> dict[str, Any]:
        """The cookie's attributes for this request (Secure: as configured, or https)."""
        secure = self.secure if self.secure is not None else ctx.request.urlparts.scheme == "https"
        return {
            "path": self.path,
            "domain": self.domain,
            "secure": bool(secure),
            "httponly": self.httponly,
            "samesite": self.samesite,
        }

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()


def _ends_in_async_handler(ctx: Any) -> bool:
    """Whether the request's route (matched ahead of routing) runs an ``async def``."""
    app, req = ctx.app, ctx.request
    try:
        route, _args = app.router.match(req.method, req._path)
    except HTTPResponse:
        return False  # 404/405: the error page does not read the session
    except Exception:  # pragma: no cover - routing errors surface later, in routing
        return True
    if route._mount is not None:
        return bool(app._mount_is_async(route, req))
    return bool(route.is_async)
