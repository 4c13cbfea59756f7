"""The request: a protocol-neutral view of one HTTP request.

Adapters build a :class:`BaseRequest` from their protocol's input (a WSGI environ, an
ASGI scope); the core reads only the neutral fields. ``request.environ`` stays available
for compatibility: under WSGI it is the real environ, under ASGI it is built on first
access.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import SplitResult, quote, urlunsplit

from ._utils import _cookie_unsign, _json_loads_limited, _JSONTooDeep, parse_auth, parse_qsl
from .datastructures import FormsDict, WSGIHeaderDict
from .exceptions import MultipartError
from .multipart import FileUpload, MultipartParser, parse_options_header
from .response import HTTPError, HTTPResponse

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


_UNSET: Any = object()


class WSGIBody(BodySource):
    """Body chunks from a WSGI ``wsgi.input``: exactly Content-Length bytes, or until EOF
    when the server says the input is terminated (it de-chunked a chunked body)."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    @property
    def length(self) -> int | None:  # type: ignore[override]
        cl = self.environ.get("CONTENT_LENGTH", "")
        try:
            return int(cl) if cl else None
        except ValueError:
            return None

    def iter_sync(self) -> Iterator[bytes]:
        env = self.environ
        read = env["wsgi.input"].read
        remaining = self.length
        if remaining is not None:
            while remaining > 0:
                try:
                    chunk = read(min(65536, remaining))
                except HTTPResponse:
                    raise  # our own (a body limit's 413 from a wrapped input)
                except Exception as e:
                    raise _unreadable(e) from e
                if not chunk:
                    raise _http_error(400, "Request body shorter than Content-Length.")
                remaining -= len(chunk)
                yield chunk
            return
        te = env.get("HTTP_TRANSFER_ENCODING", "").lower()
        if env.get("wsgi.input_terminated") or "chunked" in te:
            while True:
                try:
                    chunk = read(65536)
                except HTTPResponse:
                    raise  # our own (a body limit's 413 from a wrapped input)
                except Exception as e:
                    raise _unreadable(e) from e
                if not chunk:
                    return
                yield chunk

    async def iter_async(self) -> AsyncIterator[bytes]:
        # An async handler under WSGI runs on the shared event loop: each blocking read
        # of ``wsgi.input`` goes to a worker thread instead of stalling the loop.
        from ._bridge import run_sync

        it = self.iter_sync()
        while True:
            chunk = await run_sync(None, next, it, None)
            if chunk is None:
                return
            yield chunk


class _EmptyBody(BodySource):
    length = 0


_EMPTY_BODY = _EmptyBody()


def _http_error(status: int, text: str) -> Exception:
    return HTTPError(status, text)


def _unreadable(exc: Exception) -> Exception:
    """A 400 for an error the server's ``wsgi.input`` raised while the body was read.

    Bad chunk framing, a truncated chunked body, a client gone mid-body: each WSGI server
    reports these its own way (gunicorn's ``InvalidChunkSize``/``NoMoreData``, a socket
    error); they are the client's fault, so every server answers the same 400.
    """
    import logging

    logging.getLogger("lcore.request").info("request body could not be read: %r", exc)
    return _http_error(400, "Bad request body: it could not be read.")


class BaseRequest:
    """A view of one request: headers, query, forms, files, JSON, cookies, body.

    Values are parsed on first access and cached for the rest of the request.
    """

    __slots__ = (
        "method",
        "_path",
        "raw_path",
        "query_string",
        "_raw_headers",
        "_client",
        "_server",
        "scheme",
        "http_version",
        "script_name",
        "_src",
        "_environ",
        "_cache",
        "app",
        "route",
        "url_args",
        "max_body",
        "_scope",
        "_receive",
        "__weakref__",
    )

    #: Bodies larger than this are spooled to a temporary file instead of memory.
    MEMFILE_MAX = 102400
    #: ``request.json`` refuses (400) arrays and objects nested deeper than this.
    MAX_JSON_DEPTH = 128

    method: str
    _path: str
    raw_path: bytes | None
    query_string: str
    _raw_headers: list[tuple[bytes, bytes]] | None
    _client: Any
    _server: Any
    scheme: str
    http_version: str
    script_name: str
    _src: BodySource | None
    _environ: dict[str, Any] | None
    _cache: dict[str, Any]
    app: Any
    route: Any
    url_args: dict[str, Any]
    max_body: int | None
    _scope: Any
    _receive: Any

    def __init__(self, environ: dict[str, Any] | None = None) -> None:
        # PERF: every slot is set here (cheap reads of the environ, nothing parsed); the
        # class has no __getattr__, which would make every attribute read slower.
        if environ is None:
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1",
                       "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
        self._cache: dict[str, Any] = {}
        self._environ = environ
        try:  # keys PEP 3333 requires; an environ without them takes the long way
            method = environ["REQUEST_METHOD"]
            proto = environ["SERVER_PROTOCOL"]
            self.scheme = environ["wsgi.url_scheme"]
        except KeyError:
            method = environ.get("REQUEST_METHOD", "GET")
            proto = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
            self.scheme = environ.get("wsgi.url_scheme", "http")
        self.method = method.upper()
        raw = environ.get("PATH_INFO") or "/"
        if raw.isascii():
            path = raw
        else:
            try:
                path = raw.encode("latin1").decode("utf8")
            except UnicodeError:
                path = raw
                self._cache["bad_path"] = True
        self._path = path if path[:1] == "/" else "/" + path
        self.query_string = environ.get("QUERY_STRING", "")
        self.script_name = environ.get("SCRIPT_NAME", "")
        self.http_version = proto[5:] if proto[:5] == "HTTP/" else "1.1"
        self._src = None  # the WSGIBody, made when the body is first needed
        self._raw_headers = None
        self.raw_path = None
        self._client = self._server = _UNSET  # read from the environ on first use
        self.app = self.route = self.max_body = self._scope = self._receive = None
        self.url_args = {}

    @property
    def client(self) -> tuple[str, int] | None:
        """The peer address ``(host, port)``, or None when unknown."""
        c = self._client
        if c is _UNSET:
            env = self._environ or {}
            addr = env.get("REMOTE_ADDR")
            try:
                port = int(env.get("REMOTE_PORT") or 0)
            except ValueError:
                port = 0
            c = self._client = (addr, port) if addr else None
        return c  # type: ignore[return-value]

    @client.setter
    def client(self, value: tuple[str, int] | None) -> None:
        self._client = value
        self._cache.pop("remote_addr", None)

    @property
    def server(self) -> tuple[str, int]:
        """The server address ``(host, port)`` the request came to."""
        srv = self._server
        if srv is _UNSET:
            env = self._environ or {}
            try:
                port = int(env.get("SERVER_PORT") or 0)
            except ValueError:
                port = 0
            srv = self._server = (env.get("SERVER_NAME", ""), port)
        return srv  # type: ignore[return-value]

    @server.setter
    def server(self, value: tuple[str, int]) -> None:
        self._server = value

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
        """The body source of a request that was built without one (under WSGI: reads
        ``wsgi.input``). Adapters' request subclasses make their own."""
        env = self._environ
        return WSGIBody(env) if env is not None and "wsgi.input" in env else _EMPTY_BODY

    # -- basics ----------------------------------------------------------------
    @property
    def path(self) -> str:
        """The path below the mount point (``/`` at least), percent-decoded."""
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        self._path = "/" + value.lstrip("/")
        self._cache.pop("urlparts", None)

    @property
    def headers(self) -> WSGIHeaderDict:
        """Request headers: a read-only, case-insensitive dict."""
        h = self._cache.get("headers")
        if h is None:
            raw = self._raw_headers
            h = self._cache["headers"] = WSGIHeaderDict(raw if raw is not None else self._environ)
        return h

    def get_header(self, name: str, default: Any = None) -> Any:
        """Return a request header value or ``default``."""
        return self.headers.get(name, default)

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI environ (real under WSGI; built on first access under ASGI)."""
        env = self._environ
        if env is None:
            env = self._environ = self._build_environ()
        return env

    def _build_environ(self) -> dict[str, Any]:
        path = self._path
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": self.script_name,
            "PATH_INFO": path.encode("utf8").decode("latin1"),
            "QUERY_STRING": self.query_string,
            "SERVER_NAME": self.server[0],
            "SERVER_PORT": str(self.server[1]),
            "SERVER_PROTOCOL": "HTTP/" + self.http_version,
            "wsgi.url_scheme": self.scheme,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.errors": _ErrorStream(),
            "lcore.request": self,
        }
        if self.client:
            env["REMOTE_ADDR"] = self.client[0]
            env["REMOTE_PORT"] = str(self.client[1])
        for k, v in self._raw_headers or ():
            key = k.decode("latin1").upper().replace("-", "_")
            val = v.decode("latin1")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            if key in env:
                val = env[key] + ("; " if key == "HTTP_COOKIE" else ",") + val
            env[key] = val
        return env

    @property
    def content_type(self) -> str:
        """The Content-Type header, lower-cased ('' when absent)."""
        if self._raw_headers is None and self._environ is not None:
            # PERF: a WSGI environ has it at hand; no need to build the header view.
            return (self._environ.get("CONTENT_TYPE") or "").lower()
        return self.headers.get("Content-Type", "").lower()

    @property
    def content_length(self) -> int:
        """The Content-Length as int: 0 when absent or empty, -1 when not a number."""
        if self._raw_headers is None and self._environ is not None:
            value = self._environ.get("CONTENT_LENGTH") or ""
        else:
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

    @property
    def is_xhr(self) -> bool:
        """True for requests sent with ``X-Requested-With: XMLHttpRequest``."""
        return self.headers.get("X-Requested-With", "").lower() == "xmlhttprequest"

    is_ajax = is_xhr

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(user, password)`` from Basic auth, else None."""
        header = self.headers.get("Authorization", "")
        return parse_auth(header) if header else None

    # -- addresses ---------------------------------------------------------------
    def _trusted_proxies(self) -> frozenset[str]:
        app = self.app
        if app is None:
            return frozenset()
        trusted = app.config.get("proxy.trusted")
        if not trusted:
            return frozenset()
        if isinstance(trusted, str):
            trusted = [t for t in (x.strip() for x in trusted.split(",")) if t]
        return frozenset(trusted)

    @property
    def remote_route(self) -> list[str]:
        """Client addresses: X-Forwarded-For entries (when trusted) then the peer."""
        peer = self.client[0] if self.client else None
        trusted = self._trusted_proxies()
        if peer and peer in trusted:
            fwd = self.headers.get("X-Forwarded-For")
            if fwd:
                return [ip.strip() for ip in fwd.split(",") if ip.strip()] + [peer]
        return [peer] if peer else []

    @property
    def remote_addr(self) -> str | None:
        """The client's IP address.

        With ``proxy.trusted`` set, X-Forwarded-For is walked from the right, skipping
        trusted proxies; an untrusted peer's forwarded headers are ignored.
        """
        cached = self._cache.get("remote_addr", False)
        if cached is not False:
            return cached
        peer = self.client[0] if self.client else None
        addr = peer
        trusted = self._trusted_proxies()
        if peer and trusted and peer in trusted:
            fwd = self.headers.get("X-Forwarded-For")
            if fwd:
                for ip in reversed([p.strip() for p in fwd.split(",")]):
                    if ip and ip not in trusted:
                        addr = ip
                        break
        self._cache["remote_addr"] = addr
        return addr

    @remote_addr.setter
    def remote_addr(self, value: str | None) -> None:
        self._cache["remote_addr"] = value

    # -- URL ---------------------------------------------------------------------
    @property
    def urlparts(self) -> SplitResult:
        """The full URL as a SplitResult (scheme, host, path, query, fragment)."""
        parts = self._cache.get("urlparts")
        if parts is not None:
            return parts
        h = self.headers
        scheme = self.scheme
        host = h.get("X-Forwarded-Host") if self.client and self.client[0] in self._trusted_proxies() else None
        if self.client and self.client[0] in self._trusted_proxies():
            scheme = h.get("X-Forwarded-Proto", scheme)
        host = host or h.get("Host")
        if not host:
            name, port = self.server
            host = name or "127.0.0.1"
            if port and str(port) != ("80" if scheme == "http" else "443"):
                host += f":{port}"
        path = quote(self.fullpath)
        parts = self._cache["urlparts"] = SplitResult(scheme, host, path, self.query_string, "")
        return parts

    @property
    def url(self) -> str:
        """The full request URL including scheme, host and query string."""
        return urlunsplit(self.urlparts)

    @property
    def fullpath(self) -> str:
        """``script_name`` + ``path``: the path as the client sent it (decoded)."""
        return self.script_name.rstrip("/") + self._path

    def path_shift(self, shift: int = 1) -> None:
        """Move ``shift`` path segments from ``path`` to ``script_name`` (negative: back)."""
        script = self.script_name.strip("/").split("/") if self.script_name.strip("/") else []
        path = self._path.strip("/").split("/") if self._path.strip("/") else []
        if shift > 0 and shift <= len(path):
            moved = path[:shift]
            script, path = script + moved, path[shift:]
        elif shift < 0 and -shift <= len(script):
            moved = script[shift:]
            script, path = script[:shift], moved + path
        else:
            raise AssertionError("Cannot shift. Nothing left from %s" % ("path" if shift > 0 else "script_name"))
        trail = "/" if self._path.endswith("/") and path else ""
        self.script_name = "/" + "/".join(script) if script else ""
        self._path = "/" + "/".join(path) + trail
        self._cache.pop("urlparts", None)
        if self._environ is not None:
            self._environ["SCRIPT_NAME"] = self.script_name
            self._environ["PATH_INFO"] = self._path.encode("utf8").decode("latin1")

    # -- query, cookies -----------------------------------------------------------
    @property
    def query(self) -> FormsDict:
        """Query string values (str); ``getall()`` gives repeated keys."""
        q = self._cache.get("query")
        if q is None:
            q = self._cache["query"] = FormsDict()
            if self.query_string:
                for k, v in parse_qsl(self.query_string):
                    q.append(k, v)
        return q

    GET = query

    @property
    def cookies(self) -> FormsDict:
        """Cookies sent by the client (raw values; see ``get_cookie`` for signed ones)."""
        c = self._cache.get("cookies")
        if c is None:
            c = self._cache["cookies"] = FormsDict()
            header = self.headers.get("Cookie", "")
            for part in header.split(";"):
                name, sep, value = part.partition("=")
                name = name.strip()
                if not sep or not name:
                    continue
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                c.append(name, value)
        return c

    def get_cookie(self, key: str, default: Any = None, secret: Any = None, digestmod: Any = None) -> Any:
        """Return a cookie value, or ``default``.

        With ``secret``, the cookie must be a value signed by ``response.set_cookie`` with
        the same secret; tampered, truncated or unsigned values read as ``default``.
        """
        value = self.cookies.get(key)
        if value is None:
            return default
        if secret:
            decoded = _cookie_unsign(value, secret, digestmod)
            return default if decoded is None else decoded
        return value

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
        if ctype != "application/json" and not (ctype.startswith("application/") and ctype.endswith("+json")):
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
                raise _http_error(400, f"Too many form fields (at most {MAX_FORM_FIELDS}).") from None
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
                boundary.encode("latin1", "replace"), charset=charset, max_fields=MAX_FORM_FIELDS,
                memfile_limit=self.MEMFILE_MAX, max_total_size=self._body_limit(),
            )
            for chunk in self._multipart_chunks():
                parser.feed(chunk)
            parts = parser.close()
        except MultipartError as e:
            if "too many multipart fields" in str(e):
                # The same rule answers the same way for every form encoding.
                raise _http_error(400, f"Too many form fields (at most {MAX_FORM_FIELDS}).") from None
            raise _http_error(getattr(e, "status", 400), f"Malformed multipart body: {e}") from None
        finally:
            self.body.seek(0)
        for part in parts:
            if part.filename is not None:
                post.append(part.name, FileUpload(part.file, part.name, part.filename, part.headers))
                continue
            try:
                post.append(part.name, part.value)
            except MultipartError as e:
                for p in parts:
                    p.close()
                raise _http_error(getattr(e, "status", 400), f"Malformed multipart body: {e}") from None
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
        new = BaseRequest.__new__(type(self))
        for cls in type(self).__mro__:
            for slot in cls.__dict__.get("__slots__", ()):
                if slot == "__weakref__":
                    continue
                try:
                    object.__setattr__(new, slot, getattr(self, slot))
                except AttributeError:
                    pass
        new._cache = {k: v for k, v in self._cache.items() if k not in ("urlparts",)}
        if self._environ is not None:
            new._environ = dict(self._environ)
        return new

    def __getitem__(self, key: str) -> Any:
        return self.environ[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Read an environ key (compatibility)."""
        return self.environ.get(key, default)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.method} {self.url}>"


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


class _ErrorStream:
    """A ``wsgi.errors`` stand-in that writes to the ``lcore.error`` logger."""

    def write(self, s: str) -> None:
        import logging

        if s.strip():
            logging.getLogger("lcore.error").error(s.rstrip())

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass
