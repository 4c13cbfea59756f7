"""The request: a protocol-neutral view of one HTTP request and its body.

:class:`BaseRequest` is an :class:`~lcore.connection.HTTPConnection` (addresses, URL,
headers, query, cookies) with a body: adapters build it from the neutral description
plus a :class:`BodySource` (the WSGI request lives in ``lcore.wsgi_request``, the ASGI
one in ``lcore_asgi.adapter``). Values are parsed on first access and cached.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._utils import _json_loads_limited, _JSONTooDeep, parse_qsl
from .connection import HTTPConnection, _wsgi_edge
from .datastructures import FormsDict
from .exceptions import MultipartError
from .multipart import FileUpload, MultipartParser, parse_options_header
from .response import HTTPError

__all__ = ["BaseRequest", "BodySource"]

#: Most form fields accepted in one request (query strings are not limited).
MAX_FORM_FIELDS = 1000


class BodySource:
    """Where a request body comes from; adapters subclass it.

    ``iter_sync()`` yields chunks from blocking code; ``iter_async()`` from async code.
    ``length`` is the declared Content-Length or None (chunked / unknown).
    """

    length: int | None = None
    #: True/False when the adapter knows whether a body follows; None: look at headers.
    may_have_body: bool | None = None

    def iter_sync(self) -> Iterator[bytes]:
        return iter(())

    async def probe(self) -> bool:
        """True when the client is known to have disconnected (checked without waiting)."""
        return False

    async def iter_async(self) -> AsyncIterator[bytes]:
        for chunk in self.iter_sync():
            yield chunk

    async def read_async(self, add: Any) -> None:
        """Pass every chunk of the body to ``add`` (from async code)."""
        async for chunk in self.iter_async():
            add(chunk)


class _EmptyBody(BodySource):
    length = 0


_EMPTY_BODY = _EmptyBody()


class _BytesBody(BodySource):
    """A body given whole, as bytes."""

    __slots__ = ("data", "length", "may_have_body")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)
        self.may_have_body = bool(data)  # known without a Content-Length header

    def iter_sync(self) -> Iterator[bytes]:
        if self.data:
            yield self.data


def _http_error(status: int, text: str) -> Exception:
    return HTTPError(status, text)


class BaseRequest(HTTPConnection):
    """One HTTP request: the connection's headers, query and cookies, plus the body
    (``body``, ``json``, ``forms``, ``files``, ``stream()``).

    Built from the neutral description (see :class:`~lcore.connection.HTTPConnection`)
    and ``body``: a :class:`BodySource`, ``bytes``, or None (no body)::

        BaseRequest("POST", "/items", headers=[(b"content-type", b"application/json")],
                    body=b'{"name": "tea"}')

    ``BaseRequest(environ)``, the WSGI constructor of older Lcore and Bottle, still
    works: the request then reads that environ (see ``lcore.wsgi_request``).
    """

    __slots__ = ("_src", "max_body")

    #: Bodies larger than this are spooled to a temporary file instead of memory.
    MEMFILE_MAX = 102400
    #: ``request.json`` refuses (400) arrays and objects nested deeper than this.
    MAX_JSON_DEPTH = 128

    _src: BodySource | None
    max_body: int | None

    def __init__(
        self,
        method: Any = "GET",
        path: str = "/",
        query_string: bytes | str = b"",
        headers: Any = None,
        *,
        body: BodySource | bytes | None = None,
        environ: Any = None,
        **description: Any,
    ) -> None:
        if environ is not None or not isinstance(method, (str, type(None))):
            # BaseRequest(environ): the old WSGI constructor; the WSGI edge reads it.
            _wsgi_edge().init_from_environ(self, environ if environ is not None else method)
            return
        HTTPConnection.__init__(self, method or "GET", path, query_string, headers, **description)
        self._src = _BytesBody(body) if isinstance(body, bytes) else body or _EMPTY_BODY
        self.max_body = None

    @property
    def _source(self) -> BodySource:
        """Where the body comes from (made on first use by :meth:`_new_source`)."""
        src = self._src
        if src is None:
            src = self._src = self._new_source()
        return src

    @_source.setter
    def _source(self, value: BodySource) -> None:
        self._src = value

    def _new_source(self) -> BodySource:
        """The body source of a request whose adapter makes it on first use."""
        return _EMPTY_BODY

    @property
    def content_type(self) -> str:
        """The Content-Type header, lower-cased ('' when absent)."""
        return self.headers.get("Content-Type", "").lower()

    @property
    def content_length(self) -> int:
        """The Content-Length as int: 0 when absent or empty, -1 when not a number."""
        value = self.headers.get("Content-Length", "")
        if not value:
            return 0
        try:
            return int(value)
        except ValueError:
            return -1

    @property
    def chunked(self) -> bool:
        """True when the body uses chunked transfer encoding."""
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    # -- body ------------------------------------------------------------------------
    def _body_limit(self) -> int | None:
        limit = self.max_body
        if limit is None and self.app is not None:
            limit = self.app.config.get("request.max_body")
        return int(limit) if limit else None

    def _check_declared_length(self) -> int | None:
        """Refuse a bad or too large Content-Length before reading; return the limit."""
        limit = self._body_limit()
        length = self.content_length
        if length < 0:
            raise _http_error(400, "Invalid Content-Length header.")
        if limit is not None and length > limit:
            raise _http_error(413, "Request body too large.")
        return limit

    def _read_body_sync(self) -> Any:
        if not self._body_needed:
            # Nothing follows the headers: never touch the source (under ASGI that would
            # mean blocking on the event loop from async code).
            return io.BytesIO()
        spool = _Spool(self._check_declared_length(), self.MEMFILE_MAX)
        for chunk in self._source.iter_sync():
            spool.add(chunk)
        return spool.result()

    async def _aread_body(self) -> Any:
        """Read the whole body from async code (the ASGI driver calls this)."""
        body = self._cache.get("body")
        if body is not None:
            return body
        spool = _Spool(self._check_declared_length(), self.MEMFILE_MAX)
        await self._source.read_async(spool.add)
        body = self._cache["body"] = spool.result()
        return body

    async def _aprefetch_body(self) -> Exception | None:
        """From async code, read a body declared up to ``MEMFILE_MAX`` long; the error met.

        A ``def`` handler's thread (under ASGI) then finds it read; larger and chunked
        bodies are left for the handler to read as it asks. The error (400, 413, a client
        gone mid-body) is returned for the handler's thread to raise, not raised here.
        """
        if not self._body_needed or not 0 < self.content_length <= self.MEMFILE_MAX:
            return None
        try:
            await self._aread_body()
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as e:
            return e
        return None

    @property
    def _body_needed(self) -> bool:
        src = self._source
        if src is _EMPTY_BODY or "body" in self._cache:
            return False
        # PERF: adapters that know the framing say so (``may_have_body``); otherwise
        # fall back to the headers.
        hint = src.may_have_body
        if hint is not None:
            return hint
        return self.content_length != 0 or self.chunked

    @property
    def body(self) -> Any:
        """The request body as a seekable file-like object (spooled above MEMFILE_MAX)."""
        body = self._cache.get("body")
        if body is None:
            body = self._cache["body"] = self._read_body_sync()
        body.seek(0)
        return body

    def _body_bytes(self) -> bytes:
        b = self.body
        if type(b) is io.BytesIO:
            return b.getvalue()
        data = b.read()
        b.seek(0)
        return data

    def stream(self) -> Any:
        """Iterate the body in chunks (``for`` in sync code, ``async for`` in async code).

        If the body was already read, the stored copy is replayed.
        """
        return _BodyStream(self)

    @property
    def json(self) -> Any:
        """The parsed JSON body, or None when the Content-Type is not JSON.

        Invalid JSON with a JSON Content-Type is a 400, and so is JSON that nests arrays
        and objects more than ``MAX_JSON_DEPTH`` (128) deep.
        """
        if "json" in self._cache:
            return self._cache["json"]
        ctype = self.content_type.split(";", 1)[0].strip()
        if ctype != "application/json" and not (
            ctype.startswith("application/") and ctype.endswith("+json")
        ):
            value = None
        else:
            raw = self._body_bytes()
            if not raw:
                value = None
            else:
                try:
                    value = _json_loads_limited(raw, self.MAX_JSON_DEPTH)
                except _JSONTooDeep as e:
                    raise _http_error(400, f"Invalid JSON body: {e}.") from None
                except ValueError:  # UnicodeDecodeError too
                    raise _http_error(400, "Invalid JSON body.") from None
        self._cache["json"] = value
        return value

    def _parse_post(self) -> FormsDict:
        post = self._cache.get("post")
        if post is not None:
            return post
        post = FormsDict()
        ctype = self.content_type
        if ctype.startswith("multipart/"):
            self._parse_multipart(post)
        elif ctype.startswith("application/x-www-form-urlencoded") or (
            not ctype and self.method in ("POST", "PUT", "PATCH") and self._body_needed
        ):
            raw = self._body_bytes()
            try:
                text = raw.decode("utf8")
            except UnicodeDecodeError:
                text = raw.decode("latin1")
            try:
                pairs = parse_qsl(text, max_fields=MAX_FORM_FIELDS)
            except ValueError:
                raise _http_error(
                    400, f"Too many form fields (at most {MAX_FORM_FIELDS})."
                ) from None
            for k, v in pairs:
                post.append(k, v)
        self._cache["post"] = post
        return post

    def _multipart_chunks(self) -> Iterator[bytes]:
        """The body for the multipart parser: the stored copy, or straight from the client.

        Read from the client, parts are parsed as the body arrives (uploads are spooled
        to disk once, by the parser). The raw body is kept only while it is small
        (``MEMFILE_MAX``); after a larger one, ``request.body`` raises RuntimeError.
        """
        if "body" in self._cache or not self._body_needed:
            body = self.body
            while chunk := body.read(65536):
                yield chunk
            return
        self._check_declared_length()
        limit, total, small = self._body_limit(), 0, self.MEMFILE_MAX
        keep: io.BytesIO | None = io.BytesIO()
        self._cache["body"] = _CONSUMED  # partly read from here on, whatever happens
        for chunk in self._source.iter_sync():
            total += len(chunk)
            if limit is not None and total > limit:
                raise _http_error(413, "Request body too large.")
            if keep is not None:
                if total <= small:
                    keep.write(chunk)
                else:
                    keep = None
            yield chunk
        if keep is not None:
            keep.seek(0)
            self._cache["body"] = keep

    def _parse_multipart(self, post: FormsDict) -> None:
        _, options = parse_options_header(self.headers.get("Content-Type", ""))
        boundary = options.get("boundary")
        if not boundary:
            raise _http_error(400, "multipart body without a boundary.")
        charset = options.get("charset", "utf8")
        try:
            parser = MultipartParser(
                boundary.encode("latin1", "replace"),
                charset=charset,
                max_fields=MAX_FORM_FIELDS,
                memfile_limit=self.MEMFILE_MAX,
                max_total_size=self._body_limit(),
            )
            for chunk in self._multipart_chunks():
                parser.feed(chunk)
            parts = parser.close()
        except MultipartError as e:
            if "too many multipart fields" in str(e):
                # The same rule answers the same way for every form encoding.
                raise _http_error(
                    400, f"Too many form fields (at most {MAX_FORM_FIELDS})."
                ) from None
            raise _http_error(getattr(e, "status", 400), f"Malformed multipart body: {e}") from None
        finally:
            self.body.seek(0)
        for part in parts:
            if part.filename is not None:
                post.append(
                    part.name, FileUpload(part.file, part.name, part.filename, part.headers)
                )
                continue
            try:
                post.append(part.name, part.value)
            except MultipartError as e:
                for p in parts:
                    p.close()
                raise _http_error(
                    getattr(e, "status", 400), f"Malformed multipart body: {e}"
                ) from None
            part.close()

    @property
    def POST(self) -> FormsDict:  # noqa: N802 - historic name
        """Form fields and file uploads from a urlencoded or multipart body."""
        return self._parse_post()

    @property
    def forms(self) -> FormsDict:
        """Form fields (not files) from the body."""
        f = self._cache.get("forms")
        if f is None:
            f = self._cache["forms"] = FormsDict()
            for k, v in self._parse_post().allitems():
                if not isinstance(v, FileUpload):
                    f.append(k, v)
        return f

    @property
    def files(self) -> FormsDict:
        """File uploads (:class:`FileUpload`) from a multipart body."""
        f = self._cache.get("files")
        if f is None:
            f = self._cache["files"] = FormsDict()
            for k, v in self._parse_post().allitems():
                if isinstance(v, FileUpload):
                    f.append(k, v)
        return f

    @property
    def params(self) -> FormsDict:
        """Query values and form fields together (form fields win)."""
        p = self._cache.get("params")
        if p is None:
            p = self._cache["params"] = FormsDict()
            for k, v in self.query.allitems():
                p.append(k, v)
            for k, v in self.forms.allitems():
                p.append(k, v)
        return p

    def _close_files(self) -> None:
        """Close a body spooled to disk and uploaded files (at the end of the request)."""
        cache = self._cache
        body = cache.get("body")
        if body is not None and not isinstance(body, io.BytesIO):
            body.close()
        post = cache.get("post")
        if post:
            for _k, v in post.allitems():
                if isinstance(v, FileUpload):
                    v.close()

    # -- misc -----------------------------------------------------------------------
    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` header an ``EventSource`` sends when it reconnects, or None."""
        return self.headers.get("Last-Event-ID")

    async def is_disconnected(self) -> bool:
        """True when the client has gone away (ASGI; always False under WSGI)."""
        return bool(await self._source.probe())

    def copy(self) -> BaseRequest:
        """Return a shallow copy sharing the body source."""
        self._source  # noqa: B018 - made now, so that both copies share one source
        return HTTPConnection.copy(self)  # type: ignore[return-value]


class _ConsumedBody:
    """``request.body`` after a large multipart body was parsed as it streamed in."""

    closed = False

    def read(self, *_a: Any) -> bytes:
        raise RuntimeError(
            "the multipart body was parsed while it streamed in and was too large to keep; "
            "read request.body before request.forms/files to keep a copy"
        )

    readline = read

    def seek(self, *_a: Any) -> int:
        return 0

    def close(self) -> None:
        pass


_CONSUMED: Any = _ConsumedBody()


class _Spool:
    """Collects a request body: in memory up to ``memfile_max`` bytes, then in a
    temporary file; more than ``limit`` bytes in all is a 413."""

    __slots__ = ("limit", "memfile_max", "size", "parts", "file")

    def __init__(self, limit: int | None, memfile_max: int) -> None:
        self.limit = limit
        self.memfile_max = memfile_max
        self.size = 0
        self.parts: list[bytes] = []
        self.file: Any = None

    def add(self, chunk: bytes) -> None:
        size = self.size = self.size + len(chunk)
        limit = self.limit
        if limit is not None and size > limit:
            raise _http_error(413, "Request body too large.")
        file = self.file
        if file is None:
            if size <= self.memfile_max:
                self.parts.append(chunk)
                return
            file = self.file = tempfile.TemporaryFile(mode="w+b")
            file.writelines(self.parts)
            self.parts = []
        file.write(chunk)

    def result(self) -> Any:
        """The body as a file positioned at its start."""
        file = self.file
        if file is None:
            parts = self.parts
            return io.BytesIO(parts[0] if len(parts) == 1 else b"".join(parts))
        file.seek(0)
        return file


class _BodyStream:
    __slots__ = ("_req",)

    def __init__(self, req: BaseRequest) -> None:
        self._req = req

    def __iter__(self) -> Iterator[bytes]:
        req = self._req
        body = req._cache.get("body")
        if body is not None:
            body.seek(0)
            yield from iter(lambda: body.read(65536), b"")
            return
        req._check_declared_length()
        limit, total = req._body_limit(), 0
        for chunk in req._source.iter_sync():
            total += len(chunk)
            if limit is not None and total > limit:
                raise _http_error(413, "Request body too large.")
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        req = self._req
        body = req._cache.get("body")
        if body is not None:
            body.seek(0)
            while chunk := body.read(65536):
                yield chunk
            return
        req._check_declared_length()
        limit, total = req._body_limit(), 0
        async for chunk in req._source.iter_async():
            total += len(chunk)
            if limit is not None and total > limit:
                raise _http_error(413, "Request body too large.")
            yield chunk
