"""The response: status, headers, cookies and body, plus HTTPResponse/HTTPError."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit

from ._cookies import format_set_cookie
from ._ctxvar import current_context
from ._utils import _cookie_sign, http_date
from .datastructures import _BAD_HVAL, HeaderDict, HeaderProperty, _hkey, _hval

__all__ = [
    "BaseResponse",
    "HTTPResponse",
    "HTTPError",
    "abort",
    "redirect",
    "safe_redirect",
    "HTTP_CODES",
]

HTTP_CODES: dict[int, str] = {int(k): v for k, v in http.client.responses.items()}
"""Reason phrases by status code (the stdlib's table plus 418 and a few more)."""
HTTP_CODES[418] = "I'm a teapot"
HTTP_CODES[428] = "Precondition Required"
HTTP_CODES[429] = "Too Many Requests"
HTTP_CODES[431] = "Request Header Fields Too Large"
HTTP_CODES[451] = "Unavailable For Legal Reasons"
HTTP_CODES[511] = "Network Authentication Required"
_STATUS_LINES = {k: f"{k} {v}" for k, v in HTTP_CODES.items()}


class BaseResponse:
    """Status, headers, cookies and body of the response being built.

    ``status`` accepts an int (``404``) or a status line (``'404 Brain not found'``).
    """

    default_status = 200
    default_content_type = "text/html; charset=UTF-8"

    #: Headers that must not be sent with these status codes.
    bad_headers = {
        204: frozenset(("Content-Type", "Content-Length")),
        304: frozenset(
            (
                "Allow",
                "Content-Encoding",
                "Content-Language",
                "Content-Length",
                "Content-Range",
                "Content-Type",
                "Content-Md5",
                "Last-Modified",
            )
        ),
    }

    def __init__(
        self, body: Any = "", status: Any = None, headers: Any = None, **more_headers: Any
    ) -> None:
        self._cookies: list[str] | None = None
        self._headers: dict[str, list[str]] = {}
        self.body = body
        if status is None and self.default_status == 200:
            # PERF: the default status needs no parsing.
            self._status_code = 200
            self._status_line = "200 OK"
        else:
            self._status_code = 200
            self._status_line = "200 OK"
            self.status = status or self.default_status
        if headers:
            items = headers.items() if hasattr(headers, "items") else headers
            for name, value in items:
                self.add_header(name, value)
        if more_headers:
            for name, value in more_headers.items():
                self.add_header(name, value)

    def copy(self, cls: type | None = None) -> Any:
        """Return a copy (optionally as another BaseResponse subclass)."""
        cls = cls or BaseResponse
        copy = cls.__new__(cls)  # type: ignore[call-overload]
        copy._status_code = self._status_code
        copy._status_line = self._status_line
        copy._headers = {k: v[:] for k, v in self._headers.items()}
        copy._cookies = list(self._cookies) if self._cookies else None
        copy.body = self.body
        return copy

    def __iter__(self) -> Iterator[Any]:
        return iter(self.body)

    def close(self) -> None:
        """Close the body if it has ``close()``."""
        if hasattr(self.body, "close"):
            self.body.close()

    # -- status ------------------------------------------------------------------
    @property
    def status_line(self) -> str:
        """The status line, e.g. ``'200 OK'``."""
        return self._status_line

    @property
    def status_code(self) -> int:
        """The status as an int, e.g. ``200``."""
        return self._status_code

    def _set_status(self, status: Any) -> None:
        if isinstance(status, int):
            code = status
            line = _STATUS_LINES.get(code) or f"{code} Unknown"
        elif isinstance(status, str) and " " in status.strip():
            status = status.strip()
            code = int(status.split()[0])
            line = status
            if _BAD_HVAL.search(line):  # the reason phrase goes out like a header value
                raise ValueError(
                    f"Status line {line!r} must be latin-1 text without control characters."
                )
        elif isinstance(status, str) and status.strip().isdigit():
            code = int(status)
            line = _STATUS_LINES.get(code) or f"{code} Unknown"
        else:
            raise ValueError(f"String status line without a reason phrase: {status!r}")
        if not 100 <= code <= 999:
            raise ValueError("Status code out of range.")
        self._status_code = code
        self._status_line = line

    def _get_status(self) -> str:
        return self._status_line

    status = property(
        _get_status, _set_status, doc="The status (set: int or 'NNN Reason'; get: line)."
    )

    # -- headers -------------------------------------------------------------------
    @property
    def headers(self) -> HeaderDict:
        """The response headers as a case-insensitive, writable dict."""
        hdict = HeaderDict()
        hdict.dict = self._headers
        return hdict

    def __contains__(self, name: str) -> bool:
        return _hkey(name) in self._headers

    def __delitem__(self, name: str) -> None:
        del self._headers[_hkey(name)]

    def __getitem__(self, name: str) -> str:
        return self._headers[_hkey(name)][-1]

    def __setitem__(self, name: str, value: Any) -> None:
        key = _hkey(name)
        self._headers[key] = [_hval(value, key)]

    def get_header(self, name: str, default: Any = None) -> Any:
        """Return the last value of a header, or ``default``."""
        values = self._headers.get(_hkey(name))
        return values[-1] if values else default

    def set_header(self, name: str, value: Any) -> None:
        """Set a header, replacing previous values.

        The name must be an RFC 9110 token and the value latin-1 text without control
        characters (HTAB aside); anything else is a ``ValueError`` here, not at send time.
        """
        key = _hkey(name)
        self._headers[key] = [_hval(value, key)]

    def add_header(self, name: str, value: Any) -> None:
        """Add a header value (keeps previous values); checked as in :meth:`set_header`."""
        key = _hkey(name)
        self._headers.setdefault(key, []).append(_hval(value, key))

    def iter_headers(self) -> Iterator[tuple[str, str]]:
        """Yield ``(name, value)`` pairs as they will be sent."""
        return iter(self.headerlist)

    @property
    def headerlist(self) -> list[tuple[str, str]]:
        """Headers as a list of ``(name, value)`` (Content-Type defaulted, cookies added)."""
        out: list[tuple[str, str]] = []
        headers = self._headers
        if "Content-Type" not in headers and self._status_code not in (204, 304):
            out.append(("Content-Type", self.default_content_type))
        bad = self.bad_headers.get(self._status_code)
        for name, vals in headers.items():
            if bad and name in bad:
                continue
            for v in vals:
                out.append((name, v))
        if self._cookies:
            for c in self._cookies:
                out.append(("Set-Cookie", c))
        return out

    content_type = HeaderProperty("Content-Type")
    content_length = HeaderProperty("Content-Length", reader=int, default=-1)
    expires = HeaderProperty(
        "Expires",
        reader=lambda x: datetime.utcfromtimestamp(_parse_date_or_0(x)),
        writer=lambda x: http_date(x),
    )

    @property
    def charset(self) -> str:
        """The charset from Content-Type (default UTF-8)."""
        values = self._headers.get("Content-Type")
        ct = values[-1] if values else self.default_content_type
        if "charset=" in ct:
            return ct.split("charset=")[-1].split(";")[0].strip()
        return "UTF-8"

    # -- cookies --------------------------------------------------------------------
    def set_cookie(
        self,
        name: str,
        value: Any,
        secret: Any = None,
        digestmod: Any = None,
        max_age: Any = None,
        expires: Any = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
        partitioned: bool = False,
    ) -> None:
        """Add a Set-Cookie header (secure defaults: HttpOnly, SameSite=Lax, path /).

        With ``secret``, any JSON-serialisable value is signed (HMAC-SHA256) and can be
        read back with ``request.get_cookie(name, secret=...)``. Without it the value
        must be a string.

        Every attribute is checked here, so request text cannot add attributes or split
        the header: ``max_age`` is an int (seconds) or a timedelta; ``expires`` a
        datetime, date, timestamp or an HTTP date string; ``samesite`` ``'Strict'``,
        ``'Lax'``, ``'None'`` (any case) or None; ``path`` and ``domain`` text without
        control characters, ``;`` or ``,``; ``secure``, ``httponly`` and ``partitioned``
        booleans. Names are tokens; values hold no control characters or ``;``. Anything
        else is a ``ValueError`` naming the attribute.
        """
        if secret:
            value = _cookie_sign(value, secret, digestmod).decode("ascii")
        elif not isinstance(value, str):
            raise TypeError("Secret key required for non-string cookies.")
        header = format_set_cookie(
            name,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = []
        prefix = name + "="
        cookies[:] = [c for c in cookies if not c.startswith(prefix)]
        cookies.append(header)

    def delete_cookie(self, key: str, **kwargs: Any) -> None:
        """Tell the client to delete a cookie (same path/domain as when it was set)."""
        kwargs["max_age"] = -1
        kwargs["expires"] = 0
        kwargs.pop("secret", None)
        self.set_cookie(key, "", **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._status_line}>"


def _parse_date_or_0(value: str) -> float:
    from ._utils import parse_date

    return parse_date(value) or 0


class HTTPResponse(BaseResponse, Exception):
    """A response that can be returned or raised; its status and headers win."""

    def __init__(
        self, body: Any = "", status: Any = None, headers: Any = None, **more_headers: Any
    ) -> None:
        BaseResponse.__init__(self, body, status, headers, **more_headers)

    def apply(self, other: BaseResponse) -> None:
        """Copy status, headers and cookies onto ``other`` (headers set here win)."""
        other._status_code = self._status_code
        other._status_line = self._status_line
        for name, values in self._headers.items():
            other._headers[name] = values[:]
        if self._cookies:
            cookies = other._cookies
            if cookies is None:
                cookies = other._cookies = []
            for cookie in self._cookies:
                # One Set-Cookie per name, as set_cookie() keeps it (a redirect copies
                # the response's cookies: they must not be sent twice).
                prefix = cookie.split("=", 1)[0] + "="
                cookies[:] = [c for c in cookies if not c.startswith(prefix)]
                cookies.append(cookie)
        other.body = self.body

    def __str__(self) -> str:
        return self._status_line


class HTTPError(HTTPResponse):
    """An error response, rendered by ``@app.error(code)`` handlers or the error page."""

    default_status = 500

    def __init__(
        self,
        status: Any = None,
        body: Any = None,
        exception: BaseException | None = None,
        traceback: str | None = None,
        content_type: str | None = None,
        **more_headers: Any,
    ) -> None:
        HTTPResponse.__init__(self, body, status, **more_headers)
        if content_type:
            self.set_header("Content-Type", content_type)
        #: The exception that caused a 500, if any.
        self.exception = exception
        #: The formatted traceback of ``exception`` (shown only in debug mode).
        self.traceback = traceback

    @property
    def reason(self) -> str:
        """The reason phrase of the status line."""
        return self._status_line.split(" ", 1)[1] if " " in self._status_line else ""


def abort(code: int = 500, text: str = "Unknown Error.") -> NoReturn:
    """Stop the request and answer with an HTTP error."""
    raise HTTPError(code, text)


def redirect(url: str, code: int | None = None) -> NoReturn:
    """Stop the request and redirect to ``url`` (303 for HTTP/1.1, 302 for 1.0).

    Relative URLs are resolved against the current request URL. The Location is
    percent-encoded as browsers do (non-ASCII as UTF-8, valid ``%XX`` escapes kept, a
    non-ASCII host name in IDNA form); control characters are a ``ValueError``.
    ``url`` is followed wherever it points: for a target taken from the request (a
    ``?next=`` parameter), use :func:`safe_redirect`.
    """
    c = current_context()
    req = c.request if c is not None else None
    if not code:
        code = 303 if req is None or req.http_version != "1.0" else 302
    if _CONTROL.search(url):
        raise ValueError("Redirect URL must not contain control characters.")
    res = HTTPResponse("", status=code)
    if c is not None and c.response is not None:
        res = c.response.copy(cls=HTTPResponse)
        res.status = code
        res.body = ""
    location = urljoin(req.url, url) if req is not None else url
    res.set_header("Location", _encode_location(location))
    raise res


def safe_redirect(target: str | None, fallback: str = "/", code: int | None = None) -> NoReturn:
    """Redirect to ``target`` if it stays on this site, else to ``fallback``.

    For targets taken from the request (``?next=``, a form field): a same-site path such
    as ``/account?tab=2`` or ``../up`` is followed; an absolute URL
    (``https://evil.example``), a scheme-relative one (``//evil.example``,
    ``/\\evil.example``), another scheme (``javascript:...``), a backslash, control
    characters (tabs and newlines too) or surrounding whitespace send the client to
    ``fallback`` instead (browsers read several of these as another host). None or
    ``''`` goes to ``fallback``, which must itself be a same-site path.
    """
    if not _is_same_site(fallback):
        raise ValueError(f"safe_redirect() fallback {fallback!r} is not a same-site path.")
    redirect(target if target and _is_same_site(target) else fallback, code)


#: C0 controls and DEL: never part of a URL (browsers drop tabs and newlines silently).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: ``%`` that does not start a valid escape; sent as ``%25``.
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: RFC 3986 reserved characters and ``%`` stay as they are; ``quote`` keeps the unreserved.
_URI_KEEP = "!#$%&'()*+,/:;=?@[]~"


def _encode_location(url: str) -> str:
    """Percent-encode ``url`` as browsers do: UTF-8 for non-ASCII, valid escapes kept."""
    netloc = urlsplit(url).netloc
    if netloc and not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # not a name IDNA can spell: percent-encoded below, as browsers send it
        else:
            url = url.replace(netloc, userinfo + at + host + colon + port, 1)
    return quote(_STRAY_PERCENT.sub("%25", url), safe=_URI_KEEP)


def _is_same_site(target: str) -> bool:
    """Whether ``target`` is a reference that no browser resolves to another origin."""
    if not isinstance(target, str) or not target or target != target.strip():
        return False
    if "\\" in target or target.startswith("//") or _CONTROL.search(target):
        return False
    try:
        parts = urlsplit(target)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc
