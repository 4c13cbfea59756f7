"""CSRFMiddleware: HMAC-signed double-submit cookie protection, the token bound to the client."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from .. import _bridge
from ..response import HTTPError
from .base import Middleware

__all__ = ["CSRFMiddleware"]

_log = logging.getLogger("lcore.security")
_NEED_FORM = object()
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_HEX = frozenset("0123456789abcdef")


class CSRFMiddleware(Middleware):
    """Refuse state-changing requests that do not prove they come from the app's pages.

    The token travels twice: in the cookie ``cookie_name``, whose value is
    ``<token hex>.<HMAC-SHA256 hex of the token>`` (``httponly=False`` so scripts can
    read it, ``samesite=Strict``, ``secure`` as given), and in the ``header_name``
    header or the ``form_field`` form field, which carry the bare token. A request whose
    method is not in ``safe_methods`` is answered ``403`` unless the cookie's signature
    is valid, the submitted token equals it, and the token belongs to this client.

    The token is bound to the client: it is the HMAC (keyed with ``secret``) of a
    per-client value, so a cookie + token pair fetched by one client is refused from
    another. That value is what ``bind(ctx)`` returns (a session id, when the app has
    sessions), or, when there is no ``bind`` or it returns None, a random secret kept in
    the ``HttpOnly`` cookie ``bind_cookie_name`` (default ``<cookie_name>_bind``), set
    with the token cookie. Without ``bind``, when ``SessionMiddleware`` is installed the
    binding is the session id (``ctx.session.csrf_binding()``); when a handler changes it
    (``session.regenerate()`` at login, ``session.clear()`` at logout) the response
    carries the new token. See docs/security.md for what this does and does not stop.

    A safe request without a valid token for its client gets a fresh one. The token is
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
        bind: Callable[[Any], Any] | None = None,
        bind_cookie_name: str | None = None,
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
        self.bind = bind
        self.bind_cookie_name = bind_cookie_name or f"{cookie_name}_bind"

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

    def token_for(self, binding: str) -> str:
        """The token of the client whose binding is ``binding`` (HMAC-SHA256 hex)."""
        msg = b"lcore-csrf-binding\x00" + binding.encode("utf8", "surrogateescape")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def _binding(self, ctx: Any) -> str | None:
        """This client's binding: ``s:<bind(ctx)>``, ``c:<binding cookie>``, or None."""
        if self.bind is not None:
            value = self.bind(ctx)
            if value is not None and value != "":
                return f"s:{value}"
        else:
            # SessionMiddleware (which runs first) put the session here: bind to its id.
            binding = getattr(ctx.__dict__.get("session"), "csrf_binding", None)
            value = binding() if binding is not None else None
            if value:
                return f"s:{value}"
        value = ctx.request.cookies.get(self.bind_cookie_name)
        if value and len(value) == 64 and all(ch in _HEX for ch in value):
            return f"c:{value}"
        return None

    def _issue(self, ctx: Any, binding: str | None) -> str:
        """Set a fresh token cookie for ``binding`` (and a binding cookie if there is none)."""
        if binding is None:
            value = secrets.token_hex(32)
            binding = ctx.request._cache["csrf_binding"] = f"c:{value}"
            ctx.response.set_cookie(
                self.bind_cookie_name,
                value,
                httponly=True,
                samesite="Strict",
                secure=self.secure,
                path="/",
            )
        token = self.token_for(binding)
        ctx.response.set_cookie(
            self.cookie_name,
            self.sign(token),
            httponly=False,
            samesite="Strict",
            secure=self.secure,
            path="/",
        )
        return token

    def _rebind(self, ctx: Any) -> None:
        """After the handler: a new binding (a login regenerated the session, a logout
        cleared it) gets its token now, so the client's next request carries it."""
        if self.bind is None and not hasattr(ctx.__dict__.get("session"), "csrf_binding"):
            return
        before = ctx.request._cache.get("csrf_binding")
        binding = self._binding(ctx)
        if binding is None and before is not None and before.startswith("c:"):
            binding = before  # the binding cookie set by this very response
        if binding == before:
            return
        ctx.csrf_token = self._issue(ctx, binding)

    def _deny(self) -> HTTPError:
        return HTTPError(403, "CSRF token missing or invalid.")

    def _check(self, ctx: Any) -> Any:
        """None to go on, a response to refuse, or ``_NEED_FORM`` to look in the form."""
        req = ctx.request
        binding = self._binding(ctx)
        token = self.unsign(req.cookies.get(self.cookie_name))
        if token is not None and (
            binding is None or not hmac.compare_digest(token, self.token_for(binding))
        ):
            token = None  # signed by us, but for another client (or an older binding)
        req._cache["csrf_binding"] = binding
        if req.method in self.safe_methods:
            if token is None:
                token = self._issue(ctx, binding)
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
        result = next_handler(ctx)
        self._rebind(ctx)
        return result

    async def acall(self, ctx: Any, next_handler: Any) -> Any:
        verdict = self._check(ctx)
        if verdict is _NEED_FORM:
            # Reading and parsing the body may block: do it in a worker thread.
            value = await _bridge.run_sync(ctx, self._form_value, ctx.request)
            verdict = self._compare(ctx.csrf_token, value)
        if verdict is not None:
            return verdict
        result = await next_handler(ctx)
        self._rebind(ctx)
        return result
