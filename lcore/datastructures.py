"""Multi-value dicts and header containers used by requests and responses."""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from typing import Any

from ._utils import touni

__all__ = [
    "MultiDict",
    "FormsDict",
    "HeaderDict",
    "RequestHeaders",
    "WSGIHeaderDict",
    "HeaderProperty",
]


class MultiDict(MutableMapping):
    """A dict that keeps every value of a repeated key.

    Item access returns the newest value; ``getall(key)`` returns all of them.
    """

    __slots__ = ("dict",)

    def __init__(self, *a: Any, **k: Any) -> None:
        self.dict: dict[Any, list[Any]] = {}
        if a or k:
            for key, value in dict(*a, **k).items() if not (a and isinstance(a[0], list)) else a[0]:
                self.append(key, value)

    def __len__(self) -> int:
        return len(self.dict)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.dict)

    def __contains__(self, key: object) -> bool:
        return key in self.dict

    def __delitem__(self, key: Any) -> None:
        del self.dict[key]

    def __getitem__(self, key: Any) -> Any:
        return self.dict[key][-1]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.append(key, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {list(self.allitems())!r}>"

    def keys(self):
        return self.dict.keys()

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return (v[-1] for v in self.dict.values())

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        return ((k, v[-1]) for k, v in self.dict.items())

    def allitems(self) -> Iterator[tuple[Any, Any]]:
        """Yield every ``(key, value)`` pair, repeats included."""
        return ((k, v) for k, vl in self.dict.items() for v in vl)

    iterallitems = allitems

    def get(self, key: Any, default: Any = None, index: int = -1, type: Any = None) -> Any:  # noqa: A002
        """Return the newest (or ``index``-th) value for a key, optionally converted.

        A conversion that fails with ValueError/TypeError returns ``default``.
        """
        try:
            val = self.dict[key][index]
            return type(val) if type else val
        except (KeyError, IndexError, ValueError, TypeError):
            return default

    def append(self, key: Any, value: Any) -> None:
        """Add a value to the list of values for ``key``."""
        self.dict.setdefault(key, []).append(value)

    def replace(self, key: Any, value: Any) -> None:
        """Replace all values of ``key`` with a single value."""
        self.dict[key] = [value]

    def getall(self, key: Any) -> list[Any]:
        """Return all values of ``key`` (an empty list if missing)."""
        return self.dict.get(key) or []

    getone = get
    getlist = getall

    def copy(self) -> MultiDict:
        new = self.__class__()
        new.dict = {k: list(v) for k, v in self.dict.items()}
        return new


class FormsDict(MultiDict):
    """A MultiDict for query and form values with attribute access.

    ``forms.name`` returns the value or ``''`` when missing (never raises).
    """

    __slots__ = ()
    input_encoding = "utf8"

    def decode(self, encoding: str | None = None) -> FormsDict:
        """Return a copy (values are already text in lcore)."""
        return self.copy()  # type: ignore[return-value]

    def getunicode(self, name: str, default: Any = None, encoding: str | None = None) -> Any:
        """Return the value as text, or ``default`` (non-text values, e.g. uploads, as is)."""
        try:
            value = self[name]
            return touni(value) if isinstance(value, (str, bytes)) else value
        except (KeyError, UnicodeError):
            return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.getunicode(name, default="")


def _hkey(key: Any) -> str:
    """Return a header name in its normal form; refuse one that is not an RFC 9110 token."""
    # PERF: header names are mostly the same few constants; their normal form is
    # remembered (up to _HKEYS_MAX names, so names taken from requests cannot grow it),
    # and only names that passed the check are remembered.
    if type(key) is not str:
        key = str(key)
    done = _HKEYS.get(key)
    if done is None:
        if _TOKEN.fullmatch(key) is None:
            raise ValueError(_bad_hkey(key))
        done = key.title().replace("_", "-")
        if len(_HKEYS) < _HKEYS_MAX:
            _HKEYS[key] = done
    return done


_HKEYS: dict[str, str] = {}
_HKEYS_MAX = 512
#: RFC 9110 ``token``: what a header name (and a cookie name) may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a header value must not hold: controls other than HTAB, and anything past latin-1.
_BAD_HVAL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")


def _bad_hkey(key: str) -> str:
    if not key:
        return "Header names must not be empty."
    if any(c < " " or c == "\x7f" for c in key):
        return f"Header name {key!r} must not contain control characters."
    return f"Header name {key!r} is not a token: use letters, digits and !#$%&'*+-.^_`|~ only."


def _hval(value: Any, name: str = "") -> str:
    """Return a header value as text; refuse controls (but HTAB) and text past latin-1.

    Surrounding spaces and tabs are not part of a field value (RFC 9110 5.5) and are
    dropped (some servers refuse to send them). ``name`` is for the error message.
    """
    if type(value) is not str:
        value = str(value)
    # PERF: the common value (printable ASCII, no surrounding space) costs two C scans.
    if (
        value.isascii()
        and value.isprintable()
        and (not value or (value[0] != " " and value[-1] != " "))
    ):
        return value
    bad = _BAD_HVAL.search(value)
    if bad is not None:
        what = f"Header {name} value {value!r}" if name else f"Header value {value!r}"
        if bad.group() < "\x80":
            raise ValueError(f"{what} must not contain control characters.")
        raise ValueError(f"{what} is not latin-1 text: percent-encode it (or use RFC 8187).")
    return value.strip(" \t")


class HeaderDict(MultiDict):
    """A case-insensitive MultiDict for HTTP headers (keys stored Title-Case)."""

    __slots__ = ()

    def __init__(self, *a: Any, **ka: Any) -> None:
        self.dict = {}
        if a or ka:
            self.update(*a, **ka)

    def __contains__(self, key: object) -> bool:
        return _hkey(key) in self.dict

    def __delitem__(self, key: Any) -> None:
        del self.dict[_hkey(key)]

    def __getitem__(self, key: Any) -> Any:
        return self.dict[_hkey(key)][-1]

    def __setitem__(self, key: Any, value: Any) -> None:
        key = _hkey(key)
        self.dict[key] = [_hval(value, key)]

    def append(self, key: Any, value: Any) -> None:
        key = _hkey(key)
        self.dict.setdefault(key, []).append(_hval(value, key))

    def replace(self, key: Any, value: Any) -> None:
        key = _hkey(key)
        self.dict[key] = [_hval(value, key)]

    def getall(self, key: Any) -> list[Any]:
        return self.dict.get(_hkey(key)) or []

    def get(self, key: Any, default: Any = None, index: int = -1, type: Any = None) -> Any:  # noqa: A002
        return MultiDict.get(self, _hkey(key), default, index, type)

    def filter(self, names: Any) -> None:
        """Remove the named headers."""
        for name in (_hkey(n) for n in names):
            self.dict.pop(name, None)

    def update(self, *a: Any, **ka: Any) -> None:
        for k, v in dict(*a, **ka).items():
            self[k] = v


class RequestHeaders(MutableMapping):
    """A read-only, case-insensitive view of a request's headers.

    Built from the neutral request's raw ``(bytes, bytes)`` header pairs; values are
    decoded (latin-1) only when asked. Repeated headers are joined with ``', '``
    (``Cookie`` with ``'; '``), as a CGI environ would present them.
    """

    __slots__ = ("_raw", "_map")

    def __init__(self, raw: Any) -> None:
        self._raw: list[tuple[bytes, bytes]] | None = raw
        self._map: dict[str, str] | None = None

    def _pairs(self) -> list[tuple[bytes, bytes]]:
        return self._raw or []

    def _build(self) -> dict[str, str]:
        m: dict[str, str] = {}
        for k, v in self._pairs():
            key = k.decode("latin1").lower()
            val = v.decode("latin1")
            if key in m:
                m[key] = m[key] + ("; " if key == "cookie" else ", ") + val
            else:
                m[key] = val
        self._map = m
        return m

    def __getitem__(self, key: str) -> str:
        m = self._map if self._map is not None else self._build()
        return m[key.lower().replace("_", "-")]

    def get(self, key: str, default: Any = None) -> Any:
        m = self._map if self._map is not None else self._build()
        return m.get(key.lower().replace("_", "-"), default)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        m = self._map if self._map is not None else self._build()
        return key.lower().replace("_", "-") in m

    def __iter__(self) -> Iterator[str]:
        m = self._map if self._map is not None else self._build()
        return (k.title() for k in m)

    def __len__(self) -> int:
        m = self._map if self._map is not None else self._build()
        return len(m)

    def keys(self):
        return [k for k in self]

    def raw(self, key: str, default: Any = None) -> Any:
        """Return the header value as sent (latin-1 text)."""
        return self.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is read-only.")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{type(self).__name__} is read-only.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict(self.items())!r}>"


class WSGIHeaderDict(RequestHeaders):
    """Request headers read from a WSGI environ (Bottle's class), or from header pairs.

    Over an environ, single lookups read the CGI key (``HTTP_X_TOKEN``) directly; the
    full map is built only for iteration. The WSGI request uses it; the core reads
    headers through :class:`RequestHeaders`.
    """

    __slots__ = ("_env",)

    def __init__(self, raw: Any) -> None:
        self._env: dict[str, Any] | None = None
        if isinstance(raw, dict):
            self._env = raw
            raw = None
        RequestHeaders.__init__(self, raw)

    def _pairs(self) -> list[tuple[bytes, bytes]]:
        if self._raw is None:
            self._raw = _headers_from_environ(self._env or {})
        return self._raw

    def _env_get(self, key: str, default: Any) -> Any:
        name = key.upper().replace("-", "_")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = "HTTP_" + name
        value = self._env.get(name)  # type: ignore[union-attr]
        return default if value is None or (value == "" and name[0] == "C") else value

    def __getitem__(self, key: str) -> str:
        if self._env is not None:
            value = self._env_get(key, None)
            if value is None:
                raise KeyError(key)
            return value
        return RequestHeaders.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        if self._env is not None:
            return self._env_get(key, default)
        return RequestHeaders.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if self._env is not None:
            return isinstance(key, str) and self._env_get(key, None) is not None
        return RequestHeaders.__contains__(self, key)


def _headers_from_environ(environ: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").lower()
        else:
            continue
        out.append((name.encode("latin1"), str(value).encode("latin1")))
    return out


class HeaderProperty:
    """A property backed by a response header, with optional reader/writer conversion."""

    def __init__(self, name: str, reader: Any = None, writer: Any = str, default: Any = "") -> None:
        self.name, self.default = name, default
        self.reader, self.writer = reader, writer
        self.__doc__ = f"Current value of the {name!r} header."

    def __get__(self, obj: Any, _cls: Any) -> Any:
        if obj is None:
            return self
        value = obj.get_header(self.name, self.default)
        return self.reader(value) if self.reader else value

    def __set__(self, obj: Any, value: Any) -> None:
        obj[self.name] = self.writer(value)

    def __delete__(self, obj: Any) -> None:
        del obj[self.name]
