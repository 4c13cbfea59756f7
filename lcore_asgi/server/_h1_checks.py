"""HTTP/1.1 request checks beyond what a parser enforces (RFC 9112), for every HTTP/1.1 driver.

No I/O and no parser: a driver calls these with the raw head bytes it fed its parser
and the fields the parser produced. Each check raises :class:`BadRequest`, which says
what status to answer; the driver answers it and closes the connection.

- :func:`check_partial_head` while a head is still arriving (answers before the rest),
- :func:`check_head_bytes` on the raw bytes of a complete head,
- :func:`check_request` on the parsed request line and fields (the body size limit is not
  checked here but in the stream layer, ``streams.HTTPStream``, for both HTTP versions),
- :func:`check_raw_framing` to refine the status when the parser itself refused a head.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .config import Config

__all__ = [
    "MAX_METHOD_LENGTH",
    "BadRequest",
    "check_head_bytes",
    "check_partial_head",
    "check_raw_framing",
    "check_request",
    "check_transfer_coding",
    "head_end",
]

#: The longest method accepted; longer ones get 501. The longest registered method
#: (``UPDATEREDIRECTREF``) has 17 characters.
MAX_METHOD_LENGTH = 32

_HEAD_END = re.compile(rb"\n\r?\n").search
#: Control characters other than CR, LF and HTAB (those are checked separately).
_RAW_CTL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]").search
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+").fullmatch
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?").fullmatch
_VERSIONS = frozenset((b"1.1", b"1.0"))
_KNOWN_METHODS = frozenset(
    (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT")
)
_DEFAULT_PORTS = {b"http": b":80", b"https": b":443"}
#: Field names already seen to be tokens (bounded); a set lookup instead of a regex.
_GOOD_NAMES: set[bytes] = set()


class BadRequest(Exception):
    """The request must be refused with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def head_end(data: bytes) -> int:
    """Return the index just past the blank line ending the head in ``data``, or -1."""
    match = _HEAD_END(data)
    return -1 if match is None else match.end()


def check_partial_head(pending: bytes, config: Config) -> None:
    """Refuse an unfinished head as soon as it is over a limit: 501, 414 or 431."""
    line_end = pending.find(b"\n")
    if line_end == -1:
        line_end = len(pending)
    elif line_end and pending[line_end - 1] == 13:
        line_end -= 1
    if line_end > MAX_METHOD_LENGTH and pending.find(b" ", 0, MAX_METHOD_LENGTH + 1) == -1:
        if _TOKEN(pending, 0, MAX_METHOD_LENGTH + 1) is not None:
            raise BadRequest(501, "method too long")
        raise BadRequest(400, "invalid request line")
    if line_end > config.max_request_line_size:
        raise BadRequest(414, "request line too long")
    if len(pending) > config.h11_max_incomplete_event_size:
        raise BadRequest(431, "header section too large")
    if pending.count(b"\n") > config.max_header_count + 1:
        raise BadRequest(431, "too many header fields")


def check_head_bytes(data: bytes) -> None:
    """Refuse what a lenient parser lets through in a raw head at the start of ``data``.

    ``data`` must hold a complete head (as h11 finds one: up to ``LF [CR] LF``). Line
    ends other than CRLF (bare LF or CR), obs-fold (a line starting with SP or HTAB) and
    control characters anywhere in the head are all 400 (RFC 9112 §2.2, §5.2).
    """
    # PERF: a few C-level scans instead of one regex with lookarounds (2-3x slower).
    # If the head ends anywhere but at the first CRLF CRLF, it holds a bare LF.
    end = data.find(b"\r\n\r\n") + 4
    crlf = data.count(b"\r\n", 0, end)
    if end == 3 or data.count(b"\n", 0, end) != crlf or data.count(b"\r", 0, end) != crlf:
        raise BadRequest(400, "line ending other than CRLF")
    if data.find(b"\n ", 0, end) != -1 or data.find(b"\n\t", 0, end) != -1:
        raise BadRequest(400, "obs-fold")
    if _RAW_CTL(data, 0, end) is not None:
        raise BadRequest(400, "control character in the head")


def check_transfer_coding(codings: bytes, http_version: bytes) -> None:
    """Refuse a request ``Transfer-Encoding`` (all its field lines joined by commas).

    Only ``chunked`` is implemented. RFC 9112 §6.3: a request whose final coding is not
    ``chunked`` has no reliable length (400); §6.1: chunked only once (400), not in
    HTTP/1.0 (400); a coding we do not implement before ``chunked`` is 501.
    """
    if http_version != b"1.1":
        raise BadRequest(400, "Transfer-Encoding in an HTTP/1.0 request")
    names = [name.strip(b" \t").lower() for name in codings.split(b",")]
    names = [name for name in names if name]
    if not names or names[-1] != b"chunked":
        raise BadRequest(400, "chunked is not the final transfer coding")
    if len(names) > 1:
        if b"chunked" in names[:-1]:
            raise BadRequest(400, "chunked applied more than once")
        for name in names[:-1]:
            if _TOKEN(name.partition(b";")[0].rstrip(b" \t")) is None:
                raise BadRequest(400, "invalid transfer coding")
        raise BadRequest(501, "transfer coding not implemented")


def _normal_authority(authority: bytes, default_port: bytes) -> bytes:
    authority = authority.lower()
    if authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return authority.rstrip(b":")


def _target_authority(method: bytes, target: bytes) -> tuple[bytes, bytes] | None:
    """Return (authority, default port) of an absolute-form target; refuse unusable forms."""
    if target == b"*":
        if method != b"OPTIONS":
            raise BadRequest(400, "asterisk-form target outside OPTIONS")
        return None
    if method == b"CONNECT":
        return None  # authority-form
    scheme, sep, rest = target.partition(b"://")
    default_port = _DEFAULT_PORTS.get(scheme.lower()) if sep else None
    if default_port is None:
        raise BadRequest(400, "request target is not origin-form or an http(s) URI")
    end = len(rest)
    for stop in (b"/", b"?", b"#"):
        index = rest.find(stop, 0, end)
        if index != -1:
            end = index
    if not end:
        raise BadRequest(400, "absolute-form target without a host")
    return _normal_authority(rest[:end], default_port), default_port


def check_request(
    config: Config,
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[bytes | None, int | None]:
    """Refuse a parsed request h11 (or another parser) accepts but we do not; cheap.

    ``headers`` are (lower-case name, value) pairs. Returns the request's first
    ``Upgrade`` token, lower-cased, or None, and its ``Content-Length``, or None.
    """
    if http_version not in _VERSIONS:
        raise BadRequest(400, "unsupported HTTP version")
    if method not in _KNOWN_METHODS:
        if len(method) > MAX_METHOD_LENGTH:
            raise BadRequest(501, "method too long")
        if _TOKEN(method) is None:
            raise BadRequest(400, "invalid method")
    # The request line is "METHOD SP target SP HTTP/1.x".
    if len(method) + len(target) + 10 > config.max_request_line_size:
        raise BadRequest(414, "request target too long")
    authority = None if target[:1] == b"/" else _target_authority(method, target)
    good = _GOOD_NAMES
    count = 0
    size = 0
    hosts = 0
    host = b""
    content_length = None
    codings = None
    upgrade = None
    for name, value in headers:
        if name not in good:
            if _TOKEN(name) is None:
                raise BadRequest(400, "invalid field name")
            if len(good) < 512:
                good.add(name)
        count += 1
        size += len(name) + len(value) + 4
        if name == b"host":
            hosts += 1
            host = value
        elif name == b"content-length":
            if content_length is not None and value != content_length:
                raise BadRequest(400, "conflicting Content-Length")
            content_length = value
        elif name == b"transfer-encoding":
            codings = value if codings is None else codings + b"," + value
        elif name == b"upgrade":
            upgrade = value.split(b",", 1)[0].strip().lower()
    if count > config.max_header_count:
        raise BadRequest(431, "too many header fields")
    if size > config.h11_max_incomplete_event_size:
        raise BadRequest(431, "header section too large")
    if hosts != 1:
        if hosts or http_version == b"1.1":
            raise BadRequest(400, "missing or repeated Host")
    elif _HOST(host) is None:
        raise BadRequest(400, "invalid Host")
    if codings is not None:
        if content_length is not None:
            raise BadRequest(400, "Transfer-Encoding together with Content-Length")
        if codings != b"chunked" or http_version != b"1.1":
            check_transfer_coding(codings, http_version)
    elif content_length is not None:
        if not content_length.isdigit() or len(content_length) > 18:
            raise BadRequest(400, "invalid Content-Length")
    if authority is not None and authority[0] != _normal_authority(host, authority[1]):
        raise BadRequest(400, "absolute-form target and Host disagree")
    return upgrade, None if content_length is None else int(content_length)


def _raw_field_values(data: bytes, end: int, name: bytes) -> bytes | None:
    values = []
    for line in data[:end].split(b"\r\n")[1:]:
        field, sep, value = line.partition(b":")
        if sep and field.lower() == name:
            values.append(value.strip(b" \t"))
    return b",".join(values) if values else None


def check_raw_framing(data: bytes, end: int) -> None:
    """Check the framing fields of a raw head a parser refused, to answer the right status.

    For error paths only (it splits the head): h11 refuses every transfer coding but a
    lone ``chunked`` with 501, where RFC 9112 wants 400 for most of them.
    """
    codings = _raw_field_values(data, end, b"transfer-encoding")
    if codings is not None:
        first_line = data[: data.find(b"\r\n")]
        check_transfer_coding(codings, first_line.rpartition(b" HTTP/")[2])
