"""ConditionalGetMiddleware: ETags for dynamic responses, ``304 Not Modified`` on a match."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .._utils import parse_date
from ..response import HTTPError, HTTPResponse
from ._util import get_header, status_of, target
from .base import MiddlewareHook

__all__ = ["ConditionalGetMiddleware", "parse_etags", "etag_matches"]

#: One entity-tag (RFC 9110 8.8.3): optional ``W/``, then a quoted opaque tag.
_ETAG = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*')
#: Headers a 304 carries over from the 200 it stands for (RFC 9110 15.4.5).
_KEEP_ON_304 = ("ETag", "Cache-Control", "Content-Location", "Date", "Expires", "Vary")


def parse_etags(value: str) -> list[tuple[bool, str]] | str | None:
    """``If-Match``/``If-None-Match`` as ``[(weak, '"tag"'), ...]``, ``'*'``, or None.

    None when the header is malformed (RFC 9110 lists: commas between entity-tags,
    empty elements allowed; commas inside a quoted tag belong to the tag).
    """
    if value.strip() == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    pos, end = 0, len(value)
    while pos < end:
        if value[pos] in " \t,":
            pos += 1
            continue
        m = _ETAG.match(value, pos)
        if m is None:
            return None
        tags.append((m.group(1) is not None, m.group(2)))
        pos = m.end()
        if pos < end and value[pos] != ",":
            return None
    return tags


def etag_matches(header: str, etag: str, *, weak: bool) -> bool | None:
    """Whether ``etag`` matches the list in ``header`` (None: the header is malformed).

    ``weak=True`` is the weak comparison of ``If-None-Match`` (opaque tags equal, ``W/``
    ignored); ``weak=False`` the strong one of ``If-Match`` (neither tag weak).
    """
    tags = parse_etags(header)
    if tags is None:
        return None
    if isinstance(tags, str):  # "*"
        return True
    mine_weak = etag.startswith("W/")
    mine = etag[2:] if mine_weak else etag
    for their_weak, theirs in tags:
        if theirs == mine and (weak or not (their_weak or mine_weak)):
            return True
    return False


class ConditionalGetMiddleware(MiddlewareHook):
    """Give bounded dynamic ``GET``/``HEAD`` responses an ETag and answer conditions on it.

    A ``200`` whose body is text or bytes of at most ``max_size`` bytes (default 1 MiB)
    gets ``ETag: "<hash of the body>"`` (``W/"..."`` with ``weak=True``) unless it has one
    already. Streams (generators, files, async generators) are left alone: they are not
    hashed and not buffered. Then the request's preconditions are evaluated in RFC 9110's
    order: ``If-Match`` (strong comparison) failing is ``412``; otherwise
    ``If-Unmodified-Since`` against ``Last-Modified``; ``If-None-Match`` (weak
    comparison, ``*`` and lists) matching is ``304 Not Modified`` with no body, keeping
    ``ETag``, ``Cache-Control``, ``Vary``, ``Expires``, ``Date``, ``Content-Location``
    and cookies; only without ``If-None-Match``, ``If-Modified-Since`` against
    ``Last-Modified``. Malformed condition headers are ignored.

    The handler still runs (the ETag is of what it returned); what is saved is the
    bandwidth. Order 80 puts it outside ``CompressionMiddleware`` (90), so the tag is of
    the bytes sent: gzip and identity bodies get different tags, as they must.
    """

    name = "conditional"
    order = 80
    phase = "post"
    _lcore_nonblocking = True

    def __init__(self, max_size: int = 1024 * 1024, weak: bool = False) -> None:
        self.max_size = int(max_size)
        self.weak = bool(weak)

    def post(self, ctx: Any, result: Any) -> Any:
        req = ctx.request
        if req.method not in ("GET", "HEAD"):
            return result
        if isinstance(result, HTTPError) or status_of(ctx, result) != 200:
            return result
        body = result.body if isinstance(result, HTTPResponse) else result
        if isinstance(body, str):
            charset = result.charset if isinstance(result, HTTPResponse) else ctx.response.charset
            data = body.encode(charset)
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
        elif body is None:
            data = b""
        else:
            return result  # a stream, a file, or a value not cast yet: no tag
        if len(data) > self.max_size:
            return result
        etag = get_header(ctx, result, "ETag")
        if not etag:
            etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
            if self.weak:
                etag = "W/" + etag
            target(ctx, result).set_header("ETag", etag)
        return self._evaluate(ctx, result, etag)

    def _evaluate(self, ctx: Any, result: Any, etag: str) -> Any:
        req = ctx.request
        last_modified = _date(get_header(ctx, result, "Last-Modified"))
        if_match = req.get_header("If-Match")
        match = etag_matches(if_match, etag, weak=False) if if_match is not None else None
        if match is False:
            return HTTPError(412, "Precondition Failed")
        if match is None:
            since = _date(req.get_header("If-Unmodified-Since"))
            if since is not None and last_modified is not None and last_modified > since:
                return HTTPError(412, "Precondition Failed")
        if_none_match = req.get_header("If-None-Match")
        none_match = (
            etag_matches(if_none_match, etag, weak=True) if if_none_match is not None else None
        )
        if none_match:
            return self._not_modified(ctx, result)
        if none_match is None:  # no If-None-Match (or a malformed one): dates decide
            since = _date(req.get_header("If-Modified-Since"))
            if since is not None and last_modified is not None and last_modified <= since:
                return self._not_modified(ctx, result)
        return result

    @staticmethod
    def _not_modified(ctx: Any, result: Any) -> HTTPResponse:
        out = HTTPResponse("", status=304)
        for name in _KEEP_ON_304:
            value = get_header(ctx, result, name)
            if value is not None:
                out.set_header(name, value)
        if isinstance(result, HTTPResponse):
            if result._cookies:
                out._cookies = list(result._cookies)
            result.close()
        return out


def _date(value: str | None) -> float | None:
    if not value:
        return None
    return parse_date(value.split(";")[0].strip())
