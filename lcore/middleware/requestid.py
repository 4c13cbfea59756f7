"""RequestIDMiddleware: one ID per request, taken from X-Request-ID or made up."""

from __future__ import annotations

import re
import uuid
from typing import Any

from .base import MiddlewareHook

__all__ = ["RequestIDMiddleware"]

# Incoming IDs end up in logs and headers: accept only short, plain tokens.
_VALID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,200}\Z")


class RequestIDMiddleware(MiddlewareHook):
    """Give every request an ID: ``ctx.request_id`` and the ``X-Request-ID`` response header.

    An incoming ``X-Request-ID`` (up to 200 characters of letters, digits and
    ``._:/+=@-``) is reused, so one ID follows a request through proxies and services;
    otherwise a new uuid4 is made. The header is set before the handler runs, so error
    responses and timeouts carry it too.
    """

    name = "request_id"
    order = 1
    phase = "post"
    _lcore_nonblocking = True

    header = "X-Request-ID"

    def pre(self, ctx: Any) -> Any:
        rid = ctx.request.headers.get(self.header)
        if not rid or not _VALID.match(rid):
            rid = str(uuid.uuid4())
        ctx.request_id = rid
        ctx.response.set_header(self.header, rid)
        return None
