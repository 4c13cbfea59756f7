"""HTTP Basic authentication for a handler: ``@auth_basic(check)``."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from .. import _bridge
from ..context import _current_or_none, request
from ..response import HTTPError

__all__ = ["auth_basic"]


def auth_basic(check: Any, realm: str = "private", text: str = "Access denied") -> Any:
    """Protect a handler with HTTP Basic auth: ``check(username, password) -> bool``.

    Without credentials, or when ``check`` says no, the answer is ``401`` with
    ``WWW-Authenticate: Basic realm="<realm>"`` (browsers then ask for a login) and
    ``text`` as the error message. Works on ``def`` and ``async def`` handlers;
    ``check`` may be ``async def`` too. For an ``async def`` handler a plain ``check``
    runs in a worker thread, so a database lookup in it does not block the event loop.
    """
    realm_q = realm.replace("\\", "\\\\").replace('"', '\\"')
    challenge = f'Basic realm="{realm_q}"'
    check_is_async = _bridge.is_async_callable(check)
    # What the OpenAPI document says of a guarded route (lcore._openapi reads it).
    declared = {"security": ["basic"], "responses": {401: text}}

    def deny() -> HTTPError:
        err = HTTPError(401, text)
        err.set_header("WWW-Authenticate", challenge)
        return err

    def decorator(func: Any) -> Any:
        if _bridge.is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*a: Any, **ka: Any) -> Any:
                creds = request.auth
                if creds is None:
                    raise deny()
                if check_is_async:
                    ok = await check(*creds)
                else:
                    ok = await _bridge.run_sync(_current_or_none(), check, *creds)
                    if inspect.isawaitable(ok):
                        ok = await ok
                if not ok:
                    raise deny()
                return await func(*a, **ka)

            async_wrapper.__lcore_openapi__ = declared  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*a: Any, **ka: Any) -> Any:
            creds = request.auth
            if creds is None:
                raise deny()
            if not _bridge.resolve_sync(check(*creds)):
                raise deny()
            return func(*a, **ka)

        wrapper.__lcore_openapi__ = declared  # type: ignore[attr-defined]
        return wrapper

    return decorator
