"""SecurityHeadersMiddleware: the usual protective response headers."""

from __future__ import annotations

from typing import Any

from ..datastructures import _hkey, _hval
from ..response import HTTPResponse
from ._util import get_header
from .base import MiddlewareHook

__all__ = ["SecurityHeadersMiddleware"]

_DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",  # Lcore 0.0.4's default; DENY is one keyword away
    "X-Xss-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'",
}

_ALIASES = {"csp": "Content-Security-Policy", "hsts_value": "Strict-Transport-Security"}


def _header_name(keyword: str) -> str:
    alias = _ALIASES.get(keyword.lower())
    if alias:
        return alias
    return "-".join(part.capitalize() for part in keyword.split("_") if part)


class SecurityHeadersMiddleware(MiddlewareHook):
    """Add security headers to every response (a handler's own values are kept).

    Defaults: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: SAMEORIGIN``,
    ``X-Xss-Protection: 1; mode=block``, ``Referrer-Policy:
    strict-origin-when-cross-origin`` and ``Content-Security-Policy: default-src
    'self'``; with ``hsts=True`` also ``Strict-Transport-Security: max-age=<hsts_max_age>;
    includeSubDomains``. Override or add headers by keyword, the name written with
    underscores (``x_frame_options='DENY'`` to refuse framing even by your own pages,
    ``content_security_policy="default-src 'self' cdn.example.com"``,
    ``permissions_policy='geolocation=()'``; ``csp=`` is short for the CSP); ``None``
    drops a default.
    """

    name = "security_headers"
    order = 5
    phase = "post"
    _lcore_nonblocking = True

    def __init__(self, hsts: bool = False, hsts_max_age: int = 31536000, **overrides: Any) -> None:
        headers: dict[str, str | None] = dict(_DEFAULTS)
        if hsts:
            headers["Strict-Transport-Security"] = f"max-age={int(hsts_max_age)}; includeSubDomains"
        for keyword, value in overrides.items():
            name = _header_name(keyword)
            headers[name] = None if value is None or value is False else str(value)
        self.hsts = bool(hsts)
        self.hsts_max_age = int(hsts_max_age)
        self.headers: tuple[tuple[str, str], ...] = tuple(
            (k, v) for k, v in headers.items() if v is not None
        )
        self._items = tuple((_hkey(k), _hval(v)) for k, v in self.headers)

    def post(self, ctx: Any, result: Any) -> Any:
        if isinstance(result, HTTPResponse):
            for name, value in self.headers:
                if get_header(ctx, result, name) is None:
                    result.set_header(name, value)
            return result
        # PERF: the usual case writes the response's header dict directly (keys are
        # already in its canonical form); this runs on every request.
        headers = ctx.response._headers
        for key, value in self._items:
            if key not in headers:
                headers[key] = [value]
        return result
