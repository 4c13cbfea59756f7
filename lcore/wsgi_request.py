"""The WSGI request: a :class:`~lcore.request.BaseRequest` read from a PEP 3333 environ.

Part of the WSGI edge, with :mod:`lcore.wsgi`. Here live everything that knows CGI keys
and ``wsgi.input``: the request the WSGI adapter builds, its body reader, and the
compatibility views the core asks for by name (an environ built for ``request.environ``
outside WSGI, and the old ``BaseRequest(environ)`` constructor).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .connection import _UNSET, HTTPConnection
from .datastructures import RequestHeaders, WSGIHeaderDict, _headers_from_environ
from .request import _EMPTY_BODY, BaseRequest, BodySource
from .response import HTTPError, HTTPResponse

__all__ = ["WSGIRequest", "WSGIBody", "build_environ", "sync_environ", "init_from_environ"]


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
                    raise HTTPError(400, "Request body shorter than Content-Length.")
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


def _unreadable(exc: Exception) -> Exception:
    """A 400 for an error the server's ``wsgi.input`` raised while the body was read.

    Bad chunk framing, a truncated chunked body, a client gone mid-body: each WSGI server
    reports these its own way (gunicorn's ``InvalidChunkSize``/``NoMoreData``, a socket
    error); they are the client's fault, so every server answers the same 400.
    """
    logging.getLogger("lcore.request").info("request body could not be read: %r", exc)
    return HTTPError(400, "Bad request body: it could not be read.")


class WSGIRequest(BaseRequest):
    """The request of one WSGI call: ``environ`` is the server's environ itself.

    PERF: every slot is set in ``__init__`` with cheap reads of the environ and nothing
    parsed; the client and server addresses, the header pairs and the body source are
    read on first use.
    """

    __slots__ = ("environ",)

    environ: dict[str, Any]

    def __init__(self, environ: dict[str, Any]) -> None:
        self._cache = {}
        self.environ = environ
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
        self._client = self._server = _UNSET
        self.app = self.route = self.max_body = None
        self.url_args = {}

    def _read_client(self) -> tuple[str, int] | None:
        env = self.environ
        addr = env.get("REMOTE_ADDR")
        try:
            port = int(env.get("REMOTE_PORT") or 0)
        except ValueError:
            port = 0
        return (addr, port) if addr else None

    def _read_server(self) -> tuple[str, int]:
        env = self.environ
        try:
            port = int(env.get("SERVER_PORT") or 0)
        except ValueError:
            port = 0
        return (env.get("SERVER_NAME", ""), port)

    def _read_header_pairs(self) -> list[tuple[bytes, bytes]]:
        return _headers_from_environ(self.environ)

    @property
    def headers(self) -> RequestHeaders:
        """Request headers: a read-only, case-insensitive dict."""
        h = self._cache.get("headers")
        if h is None:
            raw = self._raw_headers
            # PERF: over the environ, a single lookup reads its CGI key directly.
            h = self._cache["headers"] = WSGIHeaderDict(raw if raw is not None else self.environ)
        return h

    @property
    def content_type(self) -> str:
        """The Content-Type header, lower-cased ('' when absent)."""
        if self._raw_headers is None:
            return (self.environ.get("CONTENT_TYPE") or "").lower()
        return BaseRequest.content_type.fget(self)  # type: ignore[attr-defined]

    @property
    def content_length(self) -> int:
        """The Content-Length as int: 0 when absent or empty, -1 when not a number."""
        if self._raw_headers is not None:
            return BaseRequest.content_length.fget(self)  # type: ignore[attr-defined]
        value = self.environ.get("CONTENT_LENGTH") or ""
        if not value:
            return 0
        try:
            return int(value)
        except ValueError:
            return -1

    def _new_source(self) -> BodySource:
        env = self.environ
        return WSGIBody(env) if "wsgi.input" in env else _EMPTY_BODY

    def _sync_view(self) -> None:
        sync_environ(self.environ, self)

    def copy(self) -> WSGIRequest:
        """Return a shallow copy sharing the body source, with its own environ dict."""
        new: WSGIRequest = BaseRequest.copy(self)  # type: ignore[assignment]
        new.environ = dict(self.environ)
        return new


def init_from_environ(req: BaseRequest, environ: dict[str, Any]) -> None:
    """Fill ``req`` from a WSGI environ: the old ``BaseRequest(environ)`` constructor.

    The request reads as a :class:`WSGIRequest` would, and ``req.environ`` is ``environ``.
    """
    w = WSGIRequest(environ)
    BaseRequest.__init__(req, **w.describe(), body=w._source)
    if "bad_path" in w._cache:
        req._cache["bad_path"] = True
    req._cache["environ"] = environ


def sync_environ(environ: dict[str, Any], conn: HTTPConnection) -> None:
    """Write a connection's path, scheme, client and Host back into its environ."""
    environ["SCRIPT_NAME"] = conn.script_name
    environ["PATH_INFO"] = conn.path.encode("utf8").decode("latin1")
    environ["wsgi.url_scheme"] = conn.scheme
    if conn._client is not _UNSET and conn._client:
        environ["REMOTE_ADDR"] = conn._client[0]
    if conn._raw_headers is not None:
        host = conn.headers.get("Host")
        if host is not None:
            environ["HTTP_HOST"] = host


def build_environ(conn: HTTPConnection) -> dict[str, Any]:
    """A WSGI environ for a connection that did not come with one (``request.environ``
    under ASGI, or for a request built from a neutral description)."""
    server = conn.server
    env: dict[str, Any] = {
        "REQUEST_METHOD": conn.method,
        "SCRIPT_NAME": conn.script_name,
        "PATH_INFO": conn.path.encode("utf8").decode("latin1"),
        "QUERY_STRING": conn.query_string,
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/" + conn.http_version,
        "wsgi.url_scheme": conn.scheme,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.errors": _ErrorStream(),
        "lcore.request": conn,
    }
    client = conn.client
    if client:
        env["REMOTE_ADDR"] = client[0]
        env["REMOTE_PORT"] = str(client[1])
    for k, v in conn.header_pairs():
        key = k.decode("latin1").upper().replace("-", "_")
        val = v.decode("latin1")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if key in env:
            val = env[key] + ("; " if key == "HTTP_COOKIE" else ",") + val
        env[key] = val
    return env


class _ErrorStream:
    """A ``wsgi.errors`` stand-in that writes to the ``lcore.error`` logger."""

    def write(self, s: str) -> None:
        if s.strip():
            logging.getLogger("lcore.error").error(s.rstrip())

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass
