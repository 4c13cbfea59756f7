"""Small helpers shared by the core (encoding, dates, headers, escaping, loading).

Not API except for the names re-exported by ``lcore`` (``tob``, ``touni``, ``makelist``,
``cached_property``, ``html_escape``, ``html_quote``, ``json_dumps``, ``json_loads``,
``http_date``, ``parse_date``, ``parse_auth``, ``parse_range_header``, ``load``).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import email.utils
import hashlib
import hmac
import json
import json.encoder as _json_encoder
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import date as _date
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

__all__ = [
    "tob",
    "touni",
    "makelist",
    "cached_property",
    "DictProperty",
    "html_escape",
    "html_quote",
    "json_dumps",
    "json_loads",
    "http_date",
    "parse_date",
    "parse_auth",
    "parse_range_header",
    "parse_qsl",
    "cookie_encode",
    "cookie_decode",
    "cookie_is_encoded",
    "load",
]


def tob(s: Any, enc: str = "utf8") -> bytes:
    """Return ``s`` as bytes (str is encoded, None becomes b'')."""
    if isinstance(s, str):
        return s.encode(enc)
    return b"" if s is None else bytes(s)


def touni(s: Any, enc: str = "utf8", err: str = "strict") -> str:
    """Return ``s`` as str (bytes are decoded, None becomes '')."""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s).decode(enc, err)
    return "" if s is None else str(s)


def makelist(data: Any) -> list[Any]:
    """Turn a single value, tuple, set or list into a list (None and '' give [])."""
    if isinstance(data, (tuple, list, set, dict)):
        return list(data)
    if data:
        return [data]
    return []


class cached_property:  # noqa: N801 - lower case to match the historic name
    """A property computed once per instance and then stored in its ``__dict__``.

    Thread-safe, as in Lcore 0.0.4: threads that read it at the same time wait for one
    computation instead of each running the getter (one re-entrant lock per property).
    Delete the attribute to compute it again.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.__doc__ = func.__doc__
        self.func = func
        self.attrname = func.__name__
        self.lock = threading.RLock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.attrname = name

    def __get__(self, obj: Any, cls: Any) -> Any:
        if obj is None:
            return self
        # Only reached while the value is not stored yet (this is a non-data
        # descriptor: once set, the instance ``__dict__`` answers first).
        name = self.attrname
        with self.lock:
            cache = obj.__dict__
            if name in cache:  # another thread computed it while this one waited
                return cache[name]
            value = cache[name] = self.func(obj)
            return value


class DictProperty:
    """A property that maps to a key in a dict attribute of the instance (with caching)."""

    def __init__(self, attr: str, key: str | None = None, read_only: bool = False) -> None:
        self.attr, self.key, self.read_only = attr, key, read_only

    def __call__(self, func: Callable[[Any], Any]) -> DictProperty:
        self.getter, self.key = func, self.key or func.__name__
        self.__doc__ = func.__doc__
        return self

    def __get__(self, obj: Any, cls: Any) -> Any:
        if obj is None:
            return self
        key, storage = self.key, getattr(obj, self.attr)
        if key not in storage:
            storage[key] = self.getter(obj)
        return storage[key]

    def __set__(self, obj: Any, value: Any) -> None:
        if self.read_only:
            raise AttributeError("Read-Only property.")
        getattr(obj, self.attr)[self.key] = value

    def __delete__(self, obj: Any) -> None:
        if self.read_only:
            raise AttributeError("Read-Only property.")
        del getattr(obj, self.attr)[self.key]


_HTML_ESCAPE = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("'"): "&#039;",
}


def html_escape(string: Any) -> str:
    """Escape HTML special characters ``&<>"'``."""
    return str(string).translate(_HTML_ESCAPE)


def html_quote(string: Any) -> str:
    """Escape and quote a string to be used as an HTML attribute value."""
    text = html_escape(string).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return f'"{text}"'


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (datetime, _date)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf8", "replace")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


# PERF: the C encoder that ``_encoder.encode`` builds on every call, built once. It
# keeps no state between calls; without a markers dict (which a shared encoder could not
# keep thread-safe) a self-containing value ends in RecursionError instead of
# ValueError, an error either way.
_c_make_encoder = getattr(_json_encoder, "c_make_encoder", None)


def _compact_c_encoder(encode_str: Any) -> Any:
    if _c_make_encoder is None:
        return None
    return _c_make_encoder(None, _json_default, encode_str, None, ":", ",", False, False, True)


_c_encode = _compact_c_encoder(_json_encoder.encode_basestring)
_c_encode_ascii = _compact_c_encoder(_json_encoder.encode_basestring_ascii)
_ascii_encoder = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def json_dumps(obj: Any, **kw: Any) -> str:
    """Serialize ``obj`` to compact JSON (dates as ISO strings, sets as lists)."""
    if kw:
        kw.setdefault("default", _json_default)
        return json.dumps(obj, **kw)
    if _c_encode is not None:
        return "".join(_c_encode(obj, 0))
    return _encoder.encode(obj)


def json_dumps_ascii(obj: Any) -> str:
    """:func:`json_dumps` with every non-ASCII character escaped (for log lines)."""
    if _c_encode_ascii is not None:
        return "".join(_c_encode_ascii(obj, 0))
    return _ascii_encoder.encode(obj)


_decoder = json.JSONDecoder()


def json_loads(s: str | bytes, **kw: Any) -> Any:
    """Parse JSON text (str, or bytes in UTF-8, UTF-16 or UTF-32 as ``json.loads`` takes)."""
    if not kw:
        if type(s) is str:
            return _decoder.decode(s)
        # PERF: UTF-8 without a BOM (what clients send) skips json.loads's detection.
        if type(s) is bytes and len(s) > 1 and 0 < s[0] < 0x80 and s[1]:
            return _decoder.decode(s.decode("utf-8"))
    return json.loads(s, **kw)


# A JSON string (its brackets do not nest), matched on UTF-8 bytes: a multi-byte
# sequence never holds an ASCII byte such as '"', '\\' or a bracket.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_OBJECT_AS_ARRAY = bytes.maketrans(b"{}", b"[]")


def _json_too_deep(s: str | bytes, max_depth: int) -> bool:
    """Return True when JSON text nests arrays and objects more than ``max_depth`` deep.

    Brackets inside strings do not count. Every step runs in C: text with no more than
    ``max_depth`` opening brackets (most bodies) costs two ``count`` calls; otherwise
    strings are cut out, only brackets kept, and the innermost level taken away once per
    level (a pass over what is left, which shrinks fast in wide documents).
    """
    if isinstance(s, str):
        if s.count("[") + s.count("{") <= max_depth:
            return False
        data = s.encode("utf-8", "surrogatepass")
    else:
        # In UTF-16/32 every bracket is such a byte too: the count is never too low.
        if s.count(b"[") + s.count(b"{") <= max_depth:
            return False
        data = bytes(s)
        encoding = json.detect_encoding(data)
        if not encoding.startswith("utf-8"):
            data = data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    if b"\\" in data:  # an escaped quote does not end a string: find strings by regex
        brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    else:
        # PERF: without escapes quotes alternate open/close. Keep quotes and brackets; two
        # adjacent quotes (an empty string, or two strings with nothing between) go in
        # one replace, then every other piece between quotes is a string's inside.
        brackets = data.translate(None, _NOT_QUOTE_OR_BRACKET).replace(b'""', b"")
        if b'"' in brackets:
            brackets = b"".join(brackets.split(b'"')[::2])
    brackets = brackets.translate(_OBJECT_AS_ARRAY)  # b'{"a": [1, {}]}' is b'[[[]]]' now
    for _ in range(max_depth):
        inner = brackets.replace(b"[]", b"")  # every pair at the deepest level goes
        if len(inner) == len(brackets):  # no pair left: balanced nesting all gone
            # Unclosed openers left: invalid JSON, but as deep as their number at least.
            return brackets.count(b"[") > max_depth
        brackets = inner
    return b"[" in brackets  # a level below max_depth levels


class _JSONTooDeep(ValueError):
    """JSON text nests arrays and objects deeper than allowed."""


def _json_loads_limited(s: str | bytes, max_depth: int) -> Any:
    """Parse JSON from a client: ValueError for anything invalid, never RecursionError.

    Arrays and objects nested more than ``max_depth`` deep are refused before parsing
    (``_JSONTooDeep``), so they cannot exhaust the stack of the decoder or of the code
    given the result.
    """
    # PERF: text no longer than max_depth cannot nest deeper; small bodies skip the scan.
    if len(s) > max_depth and _json_too_deep(s, max_depth):
        raise _JSONTooDeep(f"arrays and objects nested more than {max_depth} deep")
    try:
        return json_loads(s)
    except RecursionError:  # only when max_depth is more than the decoder can take
        raise _JSONTooDeep("arrays and objects nested too deep to parse") from None


def http_date(value: Any) -> str:
    """Format a timestamp, datetime, date or string as an RFC 7231 HTTP date."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        value = value.utctimetuple()
    elif isinstance(value, _date):
        value = value.timetuple()
    if not isinstance(value, (int, float)):
        value = calendar.timegm(value)
    return email.utils.formatdate(value, usegmt=True)


def parse_date(ims: str) -> float | None:
    """Parse an HTTP date (RFC 7231, RFC 850 or asctime) into a UTC timestamp, or None."""
    try:
        ts = email.utils.parsedate_tz(ims)
        if ts is None:
            return None
        return calendar.timegm(ts[:8] + (0,)) - (ts[9] or 0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_auth(header: str) -> tuple[str, str] | None:
    """Parse a Basic ``Authorization`` header into ``(user, password)``, or None."""
    try:
        method, data = header.split(None, 1)
        if method.lower() == "basic":
            user, pwd = touni(base64.b64decode(tob(data), validate=False)).split(":", 1)
            return user, pwd
    except (KeyError, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return None


def parse_range_header(header: str, maxlen: int = 0) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` byte ranges (end exclusive) from a ``Range`` header.

    Unsatisfiable or malformed ranges are skipped.
    """
    if not header or header[:6] != "bytes=":
        return
    ranges = [r.split("-", 1) for r in header[6:].split(",") if "-" in r]
    for start, end in ranges:
        try:
            start, end = start.strip(), end.strip()
            if not start:  # bytes=-100 -> last 100 bytes
                s, e = max(0, maxlen - int(end)), maxlen
            elif not end:  # bytes=100- -> all but the first 99 bytes
                s, e = int(start), maxlen
            else:  # bytes=100-200 -> bytes 100-200 (inclusive)
                s, e = int(start), min(int(end) + 1, maxlen)
            if 0 <= s < e <= maxlen:
                yield s, e
        except ValueError:
            pass


def parse_qsl(qs: str, max_fields: int | None = None) -> list[tuple[str, str]]:
    """Parse a query string into ``(key, value)`` pairs; ``+`` and ``%XX`` decoded.

    Raises ``ValueError`` when more than ``max_fields`` pairs are present.
    """
    r = []
    for pair in qs.split("&"):
        if not pair:
            continue
        nv = pair.split("=", 1)
        if len(nv) != 2:
            nv.append("")
        key = unquote_plus(nv[0]) if ("%" in nv[0] or "+" in nv[0]) else nv[0]
        value = unquote_plus(nv[1]) if ("%" in nv[1] or "+" in nv[1]) else nv[1]
        r.append((key, value))
        if max_fields is not None and len(r) > max_fields:
            raise ValueError(f"too many fields (more than {max_fields})")
    return r


def _lscmp(a: str | bytes, b: str | bytes) -> bool:
    """Compare two strings in constant time (False for values that are not strings)."""
    try:
        return hmac.compare_digest(tob(a), tob(b))
    except TypeError:
        return False


def cookie_encode(data: Any, key: str | bytes, digestmod: Any = None) -> bytes:
    """Encode and sign a JSON-serializable value (deprecated helper; use ``set_cookie``).

    Format: ``!`` + base64(HMAC(key, msg)) + ``?`` + msg, msg = base64(JSON(data)).
    """
    warnings.warn(
        "cookie_encode() is deprecated; use response.set_cookie(..., secret=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return _cookie_sign(data, key, digestmod)


def _cookie_sign(data: Any, key: str | bytes, digestmod: Any = None) -> bytes:
    digestmod = digestmod or hashlib.sha256
    msg = base64.b64encode(json_dumps(data).encode("utf8"))
    sig = base64.b64encode(hmac.new(tob(key), msg, digestmod=digestmod).digest())
    return b"!" + sig + b"?" + msg


def cookie_decode(data: str | bytes, key: str | bytes, digestmod: Any = None) -> Any:
    """Verify and decode a signed cookie value; None when tampered or unsigned (deprecated)."""
    warnings.warn(
        "cookie_decode() is deprecated; use request.get_cookie(..., secret=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return _cookie_unsign(data, key, digestmod)


def _cookie_unsign(data: str | bytes, key: str | bytes, digestmod: Any = None) -> Any:
    raw = tob(data)
    if not _cookie_is_signed(raw):
        return None
    sig, msg = raw[1:].split(b"?", 1)
    digestmod = digestmod or hashlib.sha256
    expected = base64.b64encode(hmac.new(tob(key), msg, digestmod=digestmod).digest())
    if not hmac.compare_digest(sig, expected):
        return None
    try:
        return json.loads(base64.b64decode(msg, validate=True).decode("utf8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def cookie_is_encoded(data: str | bytes) -> bool:
    """Return True if the value looks like a signed cookie (deprecated)."""
    warnings.warn("cookie_is_encoded() is deprecated", DeprecationWarning, stacklevel=2)
    return _cookie_is_signed(tob(data))


def _cookie_is_signed(raw: bytes) -> bool:
    return raw.startswith(b"!") and b"?" in raw


class LoadTargetError(ValueError, AttributeError):
    """``load()`` refused a target string: not a plain dotted name.

    Both a ValueError and an AttributeError, so code written for Lcore 0.0.4's ``load``
    (which raised AttributeError for a bad attribute name) still catches it.
    """


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def load(target: str, **namespace: Any) -> Any:
    """Import a module or fetch an object by a ``package.module:name.attr`` string.

    Only a chain of attribute names is followed after the colon; nothing is evaluated.
    Anything else (a call such as ``mod:factory()``, ``;``, spaces, a dunder name such
    as ``mod:obj.__class__``) raises :class:`LoadTargetError`, which is a ValueError and
    an AttributeError.
    """
    import importlib

    module, _, target = target.partition(":")
    if not all(part.isidentifier() for part in module.split(".")):
        raise LoadTargetError(f"invalid module name {module!r}: only dotted names are allowed")
    parts = target.split(".") if target else []
    for part in parts:
        if not part.isidentifier() or _is_dunder(part):
            raise LoadTargetError(
                f"invalid attribute path {target!r}: only dotted names, without dunders, "
                "are allowed after ':'"
            )
    mod = importlib.import_module(module)
    obj: Any = mod
    for i, part in enumerate(parts):
        if i == 0 and part in namespace:
            obj = namespace[part]
            continue
        obj = getattr(obj, part)
    return obj


def _monotonic() -> float:
    return time.monotonic()
