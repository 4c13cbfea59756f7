"""Set-Cookie header values, built only from checked or typed attributes.

Every attribute is either formatted from a typed value (dates, ages, booleans) or
checked against what RFC 6265 allows, so text from a request cannot end an attribute
(``;``), add one, or split the header. A bad attribute is a ``ValueError`` that names it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ._utils import http_date
from .datastructures import _TOKEN

_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
#: RFC 9110 IMF-fixdate, the only date form RFC 6265 servers send.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d\d):(\d\d):(\d\d) GMT"
)
#: Refused in a cookie value: controls (DEL too), ';', and text that is not latin-1.
_BAD_VALUE = re.compile(r"[\x00-\x1f\x7f;]|[^\x00-\xff]")
#: Refused in Path: the same, and ',' (old parsers split Set-Cookie on it).
_BAD_PATH = re.compile(r"[\x00-\x1f\x7f;,]|[^\x00-\xff]")
#: Refused in Domain: the same, and spaces (no host name has one).
_BAD_DOMAIN = re.compile(r"[\x00-\x20\x7f;,]|[^\x00-\xff]")


def format_set_cookie(
    name: Any,
    value: str,
    *,
    max_age: Any,
    expires: Any,
    path: Any,
    domain: Any,
    secure: Any,
    httponly: Any,
    samesite: Any,
    partitioned: Any,
) -> str:
    """Return the Set-Cookie value for ``name=value`` and its attributes, or raise ValueError."""
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(
            f"Invalid cookie name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only."
        )
    if len(value) > 4096:
        raise ValueError("Cookie value too long (more than 4096 bytes).")
    if _BAD_VALUE.search(value):
        raise ValueError(
            "Cookie value must not contain control characters or ';', and must be latin-1 text."
        )
    if any(c in value for c in ' ",\\'):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={_max_age(max_age)}")
    if expires is not None:
        parts.append(f"Expires={_expires(expires)}")
    if path is not None and path != "":
        parts.append(f"Path={_attr('path', path, _BAD_PATH)}")
    if domain is not None and domain != "":
        parts.append(f"Domain={_attr('domain', domain, _BAD_DOMAIN)}")
    for flag, flag_value in (
        ("secure", secure),
        ("httponly", httponly),
        ("partitioned", partitioned),
    ):
        if type(flag_value) is not bool:
            raise ValueError(f"Cookie {flag} must be True or False, not {flag_value!r}.")
    if samesite is not None:
        ss = _SAMESITE.get(samesite.lower()) if isinstance(samesite, str) else None
        if ss is None:
            raise ValueError(
                f"Cookie samesite must be 'Strict', 'Lax', 'None' or None, not {samesite!r}."
            )
        parts.append(f"SameSite={ss}")
        if ss == "None":
            secure = True  # browsers drop SameSite=None cookies that are not Secure
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def _max_age(max_age: Any) -> int:
    if isinstance(max_age, timedelta):
        return max_age // timedelta(seconds=1)
    if isinstance(max_age, int) and not isinstance(max_age, bool):
        return int(max_age)
    raise ValueError(f"Cookie max_age must be an int (seconds) or a timedelta, not {max_age!r}.")


def _expires(expires: Any) -> str:
    if isinstance(expires, str):
        when = _parse_imf_fixdate(expires)
        if when is None:
            raise ValueError(
                f"Cookie expires {expires!r} is not an HTTP date ('Wed, 21 Oct 2015 07:28:00 GMT'); "
                "pass a datetime, a date or a timestamp instead."
            )
        return http_date(when)
    if isinstance(expires, (datetime, date)) or (
        isinstance(expires, (int, float)) and not isinstance(expires, bool)
    ):
        try:
            return http_date(expires)
        except (OverflowError, ValueError, OSError) as e:
            raise ValueError(
                f"Cookie expires {expires!r} is not a date that can be sent: {e}"
            ) from None
    raise ValueError(
        f"Cookie expires must be a datetime, a date, a timestamp or an HTTP date, not {expires!r}."
    )


def _parse_imf_fixdate(text: str) -> datetime | None:
    m = _IMF_FIXDATE.fullmatch(text)
    if m is None:
        return None
    day, month, year, hour, minute, second = m.groups()
    try:
        return datetime(
            int(year),
            _MONTHS[month],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:  # 31 Feb, hour 25, ...
        return None


def _attr(what: str, value: Any, bad: re.Pattern[str]) -> str:
    if not isinstance(value, str):
        raise ValueError(f"Cookie {what} must be a string, not {value!r}.")
    found = bad.search(value)
    if found is not None:
        raise ValueError(f"Cookie {what} {value!r} must not contain {found.group()!r}.")
    return value
