"""The connection: what an HTTP request and a WebSocket have in common.

An adapter describes each connection in neutral terms (method, path, raw path, query
bytes, header pairs, client, server, scheme, http version, root path); an
:class:`HTTPConnection` is built from that description and derives the rest (URL,
query values, cookies, the client address behind trusted proxies). ``BaseRequest``
(HTTP) and ``lcore_ws.WebSocket`` are its subclasses, so both read the same way.

``request.environ`` stays for compatibility. The WSGI request carries the real environ;
any other connection gets one built on first access by the WSGI edge
(``lcore.wsgi_request``, loaded by name then: the core imports no protocol code).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, quote, urlunsplit

from ._utils import _cookie_unsign, parse_auth, parse_qsl
from .datastructures import FormsDict, RequestHeaders

__all__ = ["HTTPConnection"]

_UNSET: Any = object()


def _wsgi_edge() -> Any:
    """The WSGI edge module, for the compatibility views only (loaded by name)."""
    return importlib.import_module("lcore.wsgi_request")


def _header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    """Header pairs as ``(lower-case bytes, bytes)`` from pairs or a mapping (str or bytes)."""
    if not headers:
        return []
    items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for k, v in items:
        k = k.encode("latin1") if isinstance(k, str) else bytes(k)
        v = v.encode("latin1") if isinstance(v, str) else bytes(v)
        out.append((k.lower(), v))
    return out


class HTTPConnection:
    """One client connection as the core sees it: addresses, URL, headers, query, cookies.

    Build it from the neutral description (all optional)::

        HTTPConnection("GET", "/app/items", b"page=2", [(b"host", b"example.org")],
                       client=("10.0.0.1", 5000), root_path="/app")

    ``path`` is the full decoded path; a ``root_path`` it starts with (the mount point)
    moves to ``script_name``. ``headers`` are ``(name, value)`` pairs (bytes or str) or a
    mapping. Values are derived on first access and cached for the connection's life.
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
        "_cache",
        "app",
        "route",
        "url_args",
        "__weakref__",
    )

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
    _cache: dict[str, Any]
    app: Any
    route: Any
    url_args: dict[str, Any]

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        query_string: bytes | str = b"",
        headers: Any = None,
        *,
        raw_path: bytes | None = None,
        client: tuple[str, int] | None = None,
        server: tuple[str, int | None] | None = None,
        scheme: str = "http",
        http_version: str = "1.1",
        root_path: str = "",
    ) -> None:
        self._cache = {}
        self.method = method.upper()
        path = path or "/"
        root = root_path.rstrip("/")
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        self._path = path if path[:1] == "/" else "/" + path
        self.script_name = root_path if root else ""
        self.raw_path = raw_path
        self.query_string = (
            query_string.decode("latin1") if isinstance(query_string, bytes) else query_string
        )
        self._raw_headers = _header_pairs(headers)
        self._client = (client[0], int(client[1] or 0)) if client else None
        self._server = (server[0], int(server[1] or 0)) if server else ("", 0)
        self.scheme = scheme
        self.http_version = http_version
        self.app = self.route = None
        self.url_args = {}

    def describe(self) -> dict[str, Any]:
        """The neutral description of this connection, as the constructor's keywords.

        ``BaseRequest(**conn.describe())`` is a request for the same URL, headers and
        addresses (without a body): what a transport needs to hand the connection on.
        """
        return {
            "method": self.method,
            "path": self.fullpath,
            "query_string": self.query_string.encode("latin1"),
            "headers": list(self.header_pairs()),
            "raw_path": self.raw_path,
            "client": self.client,
            "server": self.server,
            "scheme": self.scheme,
            "http_version": self.http_version,
            "root_path": self.script_name,
        }

    # -- addresses ---------------------------------------------------------------
    @property
    def client(self) -> tuple[str, int] | None:
        """The peer address ``(host, port)``, or None when unknown."""
        c = self._client
        if c is _UNSET:
            c = self._client = self._read_client()
        return c

    @client.setter
    def client(self, value: tuple[str, int] | None) -> None:
        self._client = value
        self._cache.pop("remote_addr", None)

    def _read_client(self) -> tuple[str, int] | None:
        """The peer address of a connection whose adapter left it to be read on first use."""
        return None

    @property
    def server(self) -> tuple[str, int]:
        """The server address ``(host, port)`` the connection came to."""
        srv = self._server
        if srv is _UNSET:
            srv = self._server = self._read_server()
        return srv

    @server.setter
    def server(self, value: tuple[str, int]) -> None:
        self._server = value

    def _read_server(self) -> tuple[str, int]:
        """The server address, when the adapter left it to be read on first use."""
        return ("", 0)

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

    def apply_forwarded(
        self, client: str | None = None, scheme: str | None = None, host: str | None = None
    ) -> None:
        """Take the client IP, scheme and/or Host that a trusted proxy forwarded.

        What ``ProxyFixMiddleware`` calls: the neutral fields change (``client``,
        ``remote_addr``, ``scheme``, the ``Host`` header) and so do everything derived
        from them (``url``) and the compatibility environ.
        """
        if client:
            self.client = (client, self.client[1] if self.client else 0)
            self._cache["remote_addr"] = client
        if scheme:
            self.scheme = scheme
        if host:
            pairs = [(k, v) for k, v in self.header_pairs() if k.lower() != b"host"]
            pairs.append((b"host", host.encode("latin1")))
            self._set_header_pairs(pairs)
        self._cache.pop("urlparts", None)
        self._sync_view()

    # -- headers -----------------------------------------------------------------
    @property
    def headers(self) -> RequestHeaders:
        """Request headers: a read-only, case-insensitive dict."""
        h = self._cache.get("headers")
        if h is None:
            h = self._cache["headers"] = RequestHeaders(self.header_pairs())
        return h

    def header_pairs(self) -> list[tuple[bytes, bytes]]:
        """The headers as sent: ``(name, value)`` byte pairs, names lower-case."""
        raw = self._raw_headers
        if raw is None:
            raw = self._raw_headers = self._read_header_pairs()
        return raw

    def _read_header_pairs(self) -> list[tuple[bytes, bytes]]:
        """The header pairs, when the adapter left them to be read on first use."""
        return []

    def _set_header_pairs(self, pairs: list[tuple[bytes, bytes]]) -> None:
        self._raw_headers = pairs
        self._cache.pop("headers", None)
        self._cache.pop("cookies", None)

    def get_header(self, name: str, default: Any = None) -> Any:
        """Return a request header value or ``default``."""
        return self.headers.get(name, default)

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

    # -- URL ---------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The path below the mount point (``/`` at least), percent-decoded."""
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        self._path = "/" + value.lstrip("/")
        self._cache.pop("urlparts", None)

    @property
    def urlparts(self) -> SplitResult:
        """The full URL as a SplitResult (scheme, host, path, query, fragment)."""
        parts = self._cache.get("urlparts")
        if parts is not None:
            return parts
        h = self.headers
        scheme = self.scheme
        proxied = bool(self.client and self.client[0] in self._trusted_proxies())
        host = h.get("X-Forwarded-Host") if proxied else None
        if proxied:
            scheme = h.get("X-Forwarded-Proto", scheme)
        host = host or h.get("Host")
        if not host:
            name, port = self.server
            host = name or "127.0.0.1"
            if port and str(port) != ("80" if scheme in ("http", "ws") else "443"):
                host += f":{port}"
        path = quote(self.fullpath)
        parts = self._cache["urlparts"] = SplitResult(scheme, host, path, self.query_string, "")
        return parts

    @property
    def url(self) -> str:
        """The full URL including scheme, host and query string."""
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
            raise AssertionError(
                "Cannot shift. Nothing left from %s" % ("path" if shift > 0 else "script_name")
            )
        trail = "/" if self._path.endswith("/") and path else ""
        self.script_name = "/" + "/".join(script) if script else ""
        self._path = "/" + "/".join(path) + trail
        self._cache.pop("urlparts", None)
        self._sync_view()

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

    def get_cookie(
        self, key: str, default: Any = None, secret: Any = None, digestmod: Any = None
    ) -> Any:
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

    # -- compatibility: the WSGI environ --------------------------------------------
    @property
    def environ(self) -> dict[str, Any]:
        """A WSGI environ for this connection (compatibility; built on first access).

        Under WSGI the request carries the server's real environ instead.
        """
        env = self._cache.get("environ")
        if env is None:
            env = self._cache["environ"] = _wsgi_edge().build_environ(self)
        return env

    def _sync_view(self) -> None:
        """Carry a path shift or forwarded values over to an environ already built."""
        env = self._cache.get("environ")
        if env is not None:
            _wsgi_edge().sync_environ(env, self)

    def __getitem__(self, key: str) -> Any:
        return self.environ[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Read an environ key (compatibility)."""
        return self.environ.get(key, default)

    def copy(self) -> HTTPConnection:
        """Return a shallow copy (the body source, if any, is shared)."""
        new = object.__new__(type(self))
        for cls in type(self).__mro__:
            for slot in cls.__dict__.get("__slots__", ()):
                if slot == "__weakref__":
                    continue
                try:
                    object.__setattr__(new, slot, getattr(self, slot))
                except AttributeError:
                    pass
        cache = new._cache = {k: v for k, v in self._cache.items() if k != "urlparts"}
        if "environ" in cache:
            cache["environ"] = dict(cache["environ"])
        return new

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.method} {self.url}>"
