"""CompressionMiddleware: gzip (and Brotli, when installed) response bodies."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from .._utils import json_dumps
from ..response import HTTPError, HTTPResponse
from ._util import add_vary, get_header, remove_header, status_of, target
from .base import MiddlewareHook

__all__ = ["CompressionMiddleware"]

_UNSET: Any = object()
_brotli: Any = _UNSET


def _brotli_module() -> Any:
    """The ``brotli`` module, or None when it is not installed (imported on first use)."""
    global _brotli
    if _brotli is _UNSET:
        try:
            import brotli
        except ImportError:
            _brotli = None
        else:
            _brotli = brotli
    return _brotli


#: Types compressed by default (plus any ``+json`` / ``+xml`` type).
DEFAULT_TYPES = frozenset(
    (
        "text/html",
        "text/plain",
        "text/css",
        "text/javascript",
        "text/xml",
        "text/csv",
        "text/markdown",
        "text/calendar",
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/ld+json",
        "application/manifest+json",
        "application/geo+json",
        "application/wasm",
        "application/x-javascript",
        "image/svg+xml",
    )
)
_NEVER = frozenset(("text/event-stream",))
_FILE_CHUNK = 65536


def _parse_accept_encoding(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[coding] = q
    return out


class _Gzip:
    __slots__ = ("_c",)
    encoding = "gzip"

    def __init__(self, level: int) -> None:
        self._c = zlib.compressobj(level, zlib.DEFLATED, 31)

    def chunk(self, data: bytes) -> bytes:
        # A sync flush after each chunk: the client can decode what it has received.
        return self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)

    @staticmethod
    def whole(data: bytes, level: int) -> bytes:
        c = zlib.compressobj(level, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()


class _Brotli:
    __slots__ = ("_c",)
    encoding = "br"

    def __init__(self, level: int) -> None:
        self._c = _brotli_module().Compressor(quality=_br_quality(level))

    def chunk(self, data: bytes) -> bytes:
        return bytes(self._c.process(data)) + bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())

    @staticmethod
    def whole(data: bytes, level: int) -> bytes:
        return bytes(_brotli_module().compress(data, quality=_br_quality(level)))


def _br_quality(level: int) -> int:
    return max(0, min(11, level - 1))


def _to_bytes(chunk: Any, charset: str) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode(charset)
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"response chunks must be str or bytes, not {type(chunk).__name__}")


def _compress_iter(body: Iterable[Any], coder: Any, charset: str) -> Iterator[bytes]:
    it = iter(body)
    try:
        for chunk in it:
            out = coder.chunk(_to_bytes(chunk, charset))
            if out:
                yield out
        tail = coder.finish()
        if tail:
            yield tail
    finally:
        close = getattr(it, "close", None) or getattr(body, "close", None)
        if close is not None:
            close()


def _compress_file(fileobj: Any, coder: Any) -> Iterator[bytes]:
    try:
        read = fileobj.read
        while True:
            data = read(_FILE_CHUNK)
            if not data:
                break
            out = coder.chunk(_to_bytes(data, "latin1"))
            if out:
                yield out
        tail = coder.finish()
        if tail:
            yield tail
    finally:
        close = getattr(fileobj, "close", None)
        if close is not None:
            close()


async def _compress_aiter(body: Any, coder: Any, charset: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            out = coder.chunk(_to_bytes(chunk, charset))
            if out:
                yield out
        tail = coder.finish()
        if tail:
            yield tail
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


class CompressionMiddleware(MiddlewareHook):
    """Compress response bodies for clients that accept it.

    Brotli (``br``) when the ``brotli`` package is installed and the client prefers or
    accepts it, else ``gzip``. Bodies of at least ``min_size`` bytes whose type is in
    ``content_types`` (default: text, JSON, JavaScript, XML, SVG and the like; entries
    ending in ``/`` or ``/*`` match a whole family) are compressed at ``level`` (1-9).
    Streamed bodies (generators, async generators, files) are compressed chunk by chunk
    as they are produced, never buffered; each chunk is flushed so the client can use it
    at once. Never touched: ``text/event-stream``, bodies that already have a
    ``Content-Encoding``, ``Cache-Control: no-transform``, partial (206) and bodiless
    responses. Sets ``Vary: Accept-Encoding`` on every compressible response and fixes
    ``Content-Length`` (dropped for streams; a strong ``ETag`` becomes weak).

    ``brotli``: None (default) uses Brotli when the package is installed; True requires it
    (a missing package is an ImportError naming ``pip install "lcore[compression]"``);
    False never uses it.
    """

    name = "compression"
    order = 90
    phase = "post"
    _lcore_nonblocking = True
    brotli: bool | None = None

    def __init__(
        self,
        min_size: int = 256,
        level: int = 6,
        content_types: Iterable[str] | None = None,
        brotli: bool | None = None,
    ) -> None:
        if not 1 <= int(level) <= 9:
            raise ValueError("level must be between 1 and 9")
        if brotli:
            from .._extras import require

            require("brotli", "compression", "CompressionMiddleware(brotli=True)")
        self.brotli = brotli
        self.min_size = int(min_size)
        self.level = int(level)
        types = (
            DEFAULT_TYPES
            if content_types is None
            else frozenset(t.strip().lower() for t in content_types)
        )
        self.content_types = types
        self._prefixes = tuple(t.rstrip("*") for t in types if t.endswith("/") or t.endswith("/*"))
        self._exact = frozenset(t for t in types if not (t.endswith("/") or t.endswith("/*")))
        self._suffixes = ("+json", "+xml") if content_types is None else ()

    def compressible(self, content_type: str) -> bool:
        """Whether a body of ``content_type`` may be compressed."""
        mime = content_type.split(";", 1)[0].strip().lower()
        if not mime or mime in _NEVER:
            return False
        return (
            mime in self._exact or mime.startswith(self._prefixes) or mime.endswith(self._suffixes)
        )

    def _choose(self, ctx: Any) -> Any:
        header = ctx.request.headers.get("Accept-Encoding", "")
        if not header:
            return None
        accepted = _parse_accept_encoding(header)
        star = accepted.get("*", 0.0)
        q_gzip = accepted.get("gzip", accepted.get("x-gzip", star))
        use_br = self.brotli is not False and _brotli_module() is not None
        q_br = accepted.get("br", star) if use_br else 0.0
        if q_br > 0 and q_br >= q_gzip:
            return _Brotli
        if q_gzip > 0:
            return _Gzip
        return None

    def post(self, ctx: Any, result: Any) -> Any:
        t = type(result)
        # PERF: small plain bodies (most API answers) leave at once; a str encodes to at
        # most 4 bytes per character.
        if (t is bytes and len(result) < self.min_size) or (
            t is str and len(result) * 4 < self.min_size
        ):
            return result
        if isinstance(result, HTTPError) or result is None or result is False:
            return result  # error pages are rendered later; nothing to compress
        status = status_of(ctx, result)
        if status < 200 or status in (204, 206, 304):
            return result
        if get_header(ctx, result, "Content-Encoding") or get_header(ctx, result, "Content-Range"):
            return result
        if "no-transform" in get_header(ctx, result, "Cache-Control", "").lower():
            return result
        body = result.body if isinstance(result, HTTPResponse) else result
        resp = ctx.response
        if isinstance(body, (dict, list)):
            # What the response would be cast to anyway (JSON plugin off or bypassed).
            declared = get_header(ctx, result, "Content-Type")
            if declared is None or declared.startswith("text/html"):
                target(ctx, result).set_header("Content-Type", "application/json")
            body = json_dumps(body)
        ctype = get_header(ctx, result, "Content-Type") or resp.default_content_type
        if not self.compressible(ctype):
            return result
        charset = resp.charset if not isinstance(result, HTTPResponse) else result.charset
        if isinstance(body, str):
            body = body.encode(charset)
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        if isinstance(body, bytes):
            if len(body) < self.min_size:
                return result
            add_vary(ctx, result, "Accept-Encoding")
            coder = self._choose(ctx)
            if coder is None:
                return result
            data = coder.whole(body, self.level)
            self._encoded(ctx, result, coder.encoding)
            target(ctx, result).set_header("Content-Length", str(len(data)))
            return self._with_body(result, data)
        if hasattr(body, "read"):
            make: Any = lambda coder: _compress_file(body, coder)  # noqa: E731
        elif hasattr(body, "__aiter__"):
            make = lambda coder: _compress_aiter(body, coder, charset)  # noqa: E731
        elif hasattr(body, "__iter__"):
            make = lambda coder: _compress_iter(body, coder, charset)  # noqa: E731
        else:
            return result
        add_vary(ctx, result, "Accept-Encoding")
        coder_cls = self._choose(ctx)
        if coder_cls is None:
            return result
        self._encoded(ctx, result, coder_cls.encoding)
        remove_header(ctx, result, "Content-Length")
        remove_header(ctx, result, "Accept-Ranges")
        return self._with_body(result, make(coder_cls(self.level)))

    @staticmethod
    def _encoded(ctx: Any, result: Any, encoding: str) -> None:
        resp = target(ctx, result)
        resp.set_header("Content-Encoding", encoding)
        etag = get_header(ctx, result, "ETag")
        if etag and not etag.startswith("W/"):
            resp.set_header("ETag", "W/" + etag)  # another representation of the resource

    @staticmethod
    def _with_body(result: Any, body: Any) -> Any:
        if isinstance(result, HTTPResponse):
            result.body = body
            return result
        return body
