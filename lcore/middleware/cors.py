"""CORSMiddleware: Cross-Origin Resource Sharing headers and preflight answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..response import HTTPResponse
from ._util import add_vary, target
from .base import MiddlewareHook

__all__ = ["CORSMiddleware"]

_DEFAULT_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_DEFAULT_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Language",
    "Content-Type",
    "Authorization",
    "X-Requested-With",
    "X-CSRF-Token",
    "X-Request-ID",
)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


class _Preflight(HTTPResponse):
    """The 204 answer to a CORS preflight (marks it so ``post`` leaves it alone)."""


class CORSMiddleware(MiddlewareHook):
    """Answer CORS preflights and add CORS headers for allowed origins.

    ``allow_origins`` is ``'*'`` or a list (or comma-separated string) of origins such
    as ``'https://app.example.com'``. A preflight (``OPTIONS`` with an ``Origin``) from an
    allowed origin is answered ``204`` before routing, with ``Access-Control-Allow-Methods``,
    ``-Allow-Headers`` and ``-Max-Age``, whether or not a route matches. As in Lcore 0.0.4,
    ``Access-Control-Request-Method`` is not required: every cross-origin ``OPTIONS`` is
    taken for a preflight.
    Other requests from an allowed origin get ``Access-Control-Allow-Origin`` (and
    ``-Expose-Headers`` when set). Requests without an ``Origin``, or from an origin not
    allowed, get no CORS headers at all (a disallowed preflight is routed like any
    ``OPTIONS`` request).

    With ``allow_credentials=True`` the origin is echoed, never ``*``, with
    ``Access-Control-Allow-Credentials: true`` and ``Vary: Origin``; combining it with
    ``allow_origins='*'`` raises ``ValueError``. ``allow_headers='*'`` echoes what the
    preflight asks for.
    """

    name = "cors"
    order = 3
    phase = "pre"
    _lcore_nonblocking = True

    def __init__(
        self,
        allow_origins: str | Iterable[str] = "*",
        allow_methods: str | Iterable[str] = _DEFAULT_METHODS,
        allow_headers: str | Iterable[str] = _DEFAULT_HEADERS,
        expose_headers: str | Iterable[str] | None = None,
        allow_credentials: bool = False,
        max_age: int = 86400,
    ) -> None:
        origins = _as_list(allow_origins)
        self.allow_all = "*" in origins
        if allow_credentials and self.allow_all:
            raise ValueError(
                "CORSMiddleware: allow_credentials=True cannot be combined with allow_origins='*'; "
                "list the allowed origins explicitly"
            )
        self.allow_origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self.allow_methods = ", ".join(m.upper() for m in _as_list(allow_methods))
        headers = _as_list(allow_headers)
        self.allow_any_header = "*" in headers
        self.allow_headers = ", ".join(h for h in headers if h != "*")
        self.expose_headers = ", ".join(_as_list(expose_headers))
        self.allow_credentials = bool(allow_credentials)
        self.max_age = int(max_age)

    def is_allowed(self, origin: str) -> bool:
        """Whether requests from ``origin`` get CORS headers."""
        return self.allow_all or origin.rstrip("/") in self.allow_origins

    def _origin_headers(self, resp: Any, origin: str) -> None:
        if self.allow_all and not self.allow_credentials:
            resp.set_header("Access-Control-Allow-Origin", "*")
        else:
            resp.set_header("Access-Control-Allow-Origin", origin)
        if self.allow_credentials:
            resp.set_header("Access-Control-Allow-Credentials", "true")

    def pre(self, ctx: Any) -> Any:
        req = ctx.request
        if req.method != "OPTIONS":
            return None
        headers = req.headers
        origin = headers.get("Origin")
        if not origin or not self.is_allowed(origin):
            return None
        res = _Preflight(status=204)
        self._origin_headers(res, origin)
        res.set_header("Access-Control-Allow-Methods", self.allow_methods)
        allow_headers = self.allow_headers
        if self.allow_any_header:
            asked = headers.get("Access-Control-Request-Headers", "")
            allow_headers = ", ".join(h for h in (allow_headers, asked.strip()) if h)
        if allow_headers:
            res.set_header("Access-Control-Allow-Headers", allow_headers)
        res.set_header("Access-Control-Max-Age", str(self.max_age))
        if not self.allow_all or self.allow_credentials:
            res.set_header("Vary", "Origin")
        return res

    def post(self, ctx: Any, result: Any) -> Any:
        if isinstance(result, _Preflight):
            return result
        origin = ctx.request.headers.get("Origin")
        if not origin or not self.is_allowed(origin):
            return result
        resp = target(ctx, result)
        self._origin_headers(resp, origin)
        if self.expose_headers:
            resp.set_header("Access-Control-Expose-Headers", self.expose_headers)
        if not self.allow_all or self.allow_credentials:
            add_vary(ctx, result, "Origin")
        return result
