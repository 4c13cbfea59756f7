"""CSRFMiddleware: HMAC-signed double-submit cookie protection."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from .. import _bridge
from ..response import HTTPError
from .base import Middleware

__all__ = ["CSRFMiddleware"]

_log = logging.getLogger("lcore.security")
_NEED_FORM = object()
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CSRFMiddleware(Middleware):
    """Refuse state-changing requests that do not prove they come from the app's pages.

    The token travels twice: in the cookie ``cookie_name``, whose value is
    ``<token hex>.<HMAC-SHA256 hex of the token>`` (``httponly=False`` so scripts can
    read it, ``samesite=Strict``, ``secure`` as given), and in the ``header_name``
    header or the ``form_field`` form field, which carry the bare token. A request whose
    method is not in ``safe_methods`` is answered ``403`` unless the cookie's signature
    is valid and the submitted token equals it. Signing with ``secret`` stops a sibling
    subdomain from planting a cookie of its own choosing.

    A safe request without a valid cookie gets a fresh one. The token is
    ``ctx.csrf_token`` (for templates: ``<input type="hidden" name="_csrf_token"
    value="{{ctx.csrf_token}}">``). Without ``secret`` a random key is made per process:
    tokens then do not survive a restart or work across workers, so pass one in
    production. Under ASGI the form body is read off the event loop.
    """

    name = "csrf"
    order = 10
    phase = "pre"

    def __init__(
        self,
        secret: str | bytes | None = None,
        cookie_name: str = "_csrf_token",
        header_name: str = "X-CSRF-Token",
        form_field: str = "_csrf_token",
        safe_methods: tuple[str, ...] | list[str] = ("GET", "HEAD", "OPTIONS"),
        secure: bool = False,
    ) -> None:
        if secret is None:
            _log.warning(
                "CSRFMiddleware has no secret=: using a random per-process key; "
                "tokens will not validate across workers or restarts"
            )
            secret = secrets.token_bytes(32)
        self._key = secret.encode("utf8") if isinstance(secret, str) else bytes(secret)
        self.cookie_name = cookie_name
        self.header_name = header_name
        self.form_field = form_field
        self.safe_methods = frozenset(m.upper() for m in safe_methods)
        self.secure = bool(secure)

    # -- tokens ---------------------------------------------------------------------
    def sign(self, token: str) -> str:
        """The cookie value for ``token``: ``<token>.<HMAC-SHA256 hex>``."""
        sig = hmac.new(self._key, token.encode("ascii"), hashlib.sha256).hexdigest()
        return f"{token}.{sig}"

    def unsign(self, value: str | None) -> str | None:
        """The token in a cookie value, or None when it is malformed or forged."""
        if not value or value.count(".") != 1:
            return None
        token, sig = value.split(".")
        if not token or len(token) > 256 or not token.isalnum() or not token.isascii():
            return None
        expected = hmac.new(self._key, token.encode("ascii"), hashlib.sha256).hexdigest()
        return (
            token
            if hmac.compare_digest(sig.encode("ascii", "replace"), expected.encode("ascii"))
            else None
        )

    def _deny(self) -> HTTPError:
        return HTTPError(403, "CSRF token missing or invalid.")

    def _check(self, ctx: Any) -> Any:
        """None to go on, a response to refuse, or ``_NEED_FORM`` to look in the form."""
        req = ctx.request
        token = self.unsign(req.cookies.get(self.cookie_name))
        if req.method in self.safe_methods:
            if token is None:
                token = secrets.token_hex(32)
                ctx.response.set_cookie(
                    self.cookie_name,
                    self.sign(token),
                    httponly=False,
                    samesite="Strict",
                    secure=self.secure,
                    path="/",
                )
            ctx.csrf_token = token
            return None
        if token is None:
            return self._deny()
        ctx.csrf_token = token
        sent = req.headers.get(self.header_name)
        if sent is None and req.content_type.startswith(_FORM_TYPES):
            return _NEED_FORM
        return self._compare(token, sent)

    def _compare(self, token: str, sent: Any) -> Any:
        if not isinstance(sent, str) or not hmac.compare_digest(
            sent.strip().encode("utf8", "replace"), token.encode("ascii")
        ):
            return self._deny()
        return None

    def _form_value(self, req: Any) -> Any:
        return req.forms.get(self.form_field)

    # -- the middleware -----------------------------------------------------------------
    def __call__(self, ctx: Any, next_handler: Any) -> Any:
        verdict = self._check(ctx)
        if verdict is _NEED_FORM:
            verdict = self._compare(ctx.csrf_token, self._form_value(ctx.request))
        if verdict is not None:
            return verdict
        return next_handler(ctx)

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        verdict = self._check(ctx)
        if verdict is _NEED_FORM:
            # Reading and parsing the body may block: do it in a worker thread.
            value = await _bridge.run_sync(ctx, self._form_value, ctx.request)
            verdict = self._compare(ctx.csrf_token, value)
        if verdict is not None:
            return verdict
        return await next_handler(ctx)
