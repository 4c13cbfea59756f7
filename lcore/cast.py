"""Casting a handler's result to an :class:`Outgoing`: the common types, JSON, streams.

:func:`cast_plain` turns the common results (``str``, ``bytes``, ``None``, a ``dict`` or
``list`` when JSON conversion is on) into an :class:`Outgoing` without a generator; the
dispatcher's ``_cast`` handles the rest (responses, files, iterators) with these helpers.
JSON conversion belongs to the route's plan: ``dumps`` is the serializer of the json
plugin that applies to the route, or None when JSON conversion is off for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from .context import LAZY_JSON_RESPONSE, _current, _LazyResponse
from .outgoing import BYTES, Outgoing
from .response import BaseResponse, HTTPResponse

_log = logging.getLogger("lcore.error")

_NO_BODY_STATUS = frozenset((204, 304))


_END = object()


_HTML_TYPE = ("Content-Type", BaseResponse.default_content_type)
_JSON_TYPE = ("Content-Type", "application/json")


def cast_plain(c: Any, body: Any, dumps: Any) -> Outgoing | None:
    """Cast the common result types (str, bytes, None; dict and list when ``dumps`` is
    not None) without a generator.

    Returns None for everything else (responses, files, iterators, subclasses, a dict
    when JSON conversion is off), which the dispatcher's ``_cast`` handles.
    """
    resp = c._response
    t = type(body)
    if type(resp) is _LazyResponse:
        # The handler never touched the response: 200 and the default headers.
        if t is str:
            payload = body.encode() if body else b""
            ctype = _HTML_TYPE
        elif (t is dict or t is list) and dumps is not None:
            payload = dumps(body)
            if type(payload) is str:
                payload = payload.encode("utf8")
            ctype = _JSON_TYPE
            c._response = LAZY_JSON_RESPONSE
        elif t is bytes:
            payload = body
            ctype = _HTML_TYPE
        elif body is None or body is False:
            payload = b""
            ctype = _HTML_TYPE
        elif t is bytearray or t is memoryview:
            payload = bytes(body)
            ctype = _HTML_TYPE
        else:
            return None
        headers = [ctype, ("Content-Length", str(len(payload)))]
        if c.request.method == "HEAD":
            payload = b""
        return Outgoing(200, "200 OK", headers, payload, BYTES, c)
    if t is str:
        payload = (
            (body.encode(resp.charset) if "Content-Type" in resp._headers else body.encode())
            if body
            else b""
        )
    elif t is bytes:
        payload = body
    elif body is None or body is False:
        payload = b""
    elif (t is dict or t is list) and dumps is not None:
        ct = resp._headers.get("Content-Type")
        if not ct or ct[-1].startswith("text/html"):
            resp._headers["Content-Type"] = ["application/json"]
            charset = "utf8"
        else:  # the handler chose the type (``application/problem+json; charset=...``)
            charset = resp.charset
        payload = dumps(body)
        if type(payload) is str:
            payload = payload.encode(charset)
    elif t is bytearray or t is memoryview:
        payload = bytes(body)
    else:
        return None
    status = resp._status_code
    headers = resp.headerlist
    if status in _NO_BODY_STATUS or status < 200:
        payload = b""
    elif "Content-Length" not in resp._headers:
        headers.append(("Content-Length", str(len(payload))))
    if c.request.method == "HEAD":
        payload = b""
    return Outgoing(status, resp._status_line, headers, payload, BYTES, c)


def json_result(rv: Any, dumps: Any) -> Any:
    """The JSON step of a route's cast, for results that middleware or hooks see next.

    A ``dict`` or ``list`` (or a subclass) becomes JSON text and the response is marked
    ``application/json`` (unless the handler chose a type); so does the body of a
    returned ``HTTPResponse``. Anything else is returned as it is.
    """
    t = type(rv)
    if t is str or t is bytes:
        return rv
    if isinstance(rv, (dict, list)):
        c = _current.get(None)
        if c is not None:
            _json_type(c.response._headers)
        return dumps(rv)
    if isinstance(rv, HTTPResponse) and isinstance(rv.body, (dict, list)):
        rv.body = dumps(rv.body)
        _json_type(rv._headers)
    return rv


def _json_type(headers: dict[str, list[str]]) -> None:
    """Mark the response as JSON unless the handler chose a type (``application/problem+json``)."""
    ct = headers.get("Content-Type")
    if ct is None or ct[-1].startswith("text/html"):
        headers["Content-Type"] = ["application/json"]


def json_off_error(c: Any, body: Any) -> TypeError:
    """The error for a dict result on a route whose JSON conversion is off.

    Lcore 0.0.4 sent the dict's keys; lcore answers 500 and says why in the log.
    """
    route = c.route
    where = f"route {route.method} {route.rule!r}" if route is not None else "the error handler"
    return TypeError(
        f"{where} returned a {type(body).__name__}, but JSON conversion is off for it "
        "(json_disable=True, json.enable = False, or the json plugin skipped or "
        "uninstalled): return str or bytes, or let a plugin or @view render the dict"
    )


def exact_text(body: Any) -> Any:
    """A ``str``/``bytes`` subclass (a ``StrEnum`` member, say) as the plain type."""
    if isinstance(body, str):
        return str.__str__(body)
    return bytes(body)


_CHUNK_TYPES = (str, bytes, bytearray, memoryview)
_CONTAINERS = (tuple, AbstractSet)


def _container_body(body: Any, charset: str) -> bytes:
    """The body of a tuple of str/bytes chunks (joined, as Bottle did); a set, or a tuple
    holding anything else, is a TypeError that says what to return instead."""
    name = type(body).__name__
    if isinstance(body, AbstractSet):
        raise TypeError(
            f"handler returned a {name}, whose order is arbitrary: return a list (sent as "
            "JSON), a str or bytes, or an iterable of str/bytes chunks"
        )
    bad = next((x for x in body if not isinstance(x, _CHUNK_TYPES)), None)
    if bad is None and body:
        return b"".join(x.encode(charset) if isinstance(x, str) else bytes(x) for x in body)
    if bad is None:
        return b""
    if len(body) in (2, 3) and type(body[1]) is int:
        status = body[1]
        hint = (
            f"lcore gives a tuple no status meaning: return HTTPResponse(body, status={status}) "
            f"or set response.status = {status} and return the body"
        )
    else:
        hint = "return a list (sent as JSON), a str or bytes, or a tuple of str/bytes chunks"
    raise TypeError(f"handler returned a tuple holding a {type(bad).__name__}; {hint}")


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            _log.exception("closing a response body failed")


def _chunk_bytes(chunk: Any, charset: str) -> bytes:
    """A streamed body's chunk as bytes (str encoded); anything else is a TypeError."""
    if isinstance(chunk, str):
        return chunk.encode(charset)
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"response chunks must be str or bytes, not {type(chunk).__name__}")


class _iter_bytes:  # noqa: N801 - iterator class used like a function
    """Chunks of a sync iterable as bytes (str encoded), first chunk already taken.

    The request's context is set around each step, so generator bodies still see
    ``ctx``/``request``/``response`` when the server iterates them later.
    """

    __slots__ = ("first", "it", "charset", "ctx")

    def __init__(self, first: Any, it: Iterator[Any], charset: str) -> None:
        self.first = first
        self.it = it
        self.charset = charset
        self.ctx = _current.get(None)

    def __iter__(self) -> _iter_bytes:
        return self

    def __next__(self) -> bytes:
        first = self.first
        if first is not _END:
            self.first = _END
            chunk = first
        else:
            token = _current.set(self.ctx) if self.ctx is not None else None
            try:
                chunk = next(self.it)
            finally:
                if token is not None:
                    _current.reset(token)
        # PERF: bytes, the common chunk, skips the call.
        return chunk if type(chunk) is bytes else _chunk_bytes(chunk, self.charset)

    def close(self) -> None:
        _close(self.it)


async def _aiter_bytes(body: Any, charset: str, c: Any) -> AsyncIterator[bytes]:
    """Chunks of an async iterable as bytes, with the request's context set around each step.

    The server iterates the body after the pipeline has returned and reset the context.
    """
    ait = body.__aiter__()
    try:
        while True:
            token = _current.set(c) if c is not None else None
            try:
                chunk = await ait.__anext__()
            except StopAsyncIteration:
                return
            finally:
                if token is not None:
                    _current.reset(token)
            yield chunk if type(chunk) is bytes else _chunk_bytes(chunk, charset)
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


# -- entry points for adapters ------------------------------------------------------
