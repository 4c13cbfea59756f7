"""Status reason phrases and status lines, built once at import."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["H2_STATUS", "REASONS", "STATUS_LINES", "reason_phrase"]

#: Reason phrase for every status code the stdlib knows, as bytes.
REASONS: dict[int, bytes] = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
# RFC 9110 names, where older Pythons still carry the RFC 2616 ones.
REASONS.update(
    {
        413: b"Content Too Large",
        414: b"URI Too Long",
        416: b"Range Not Satisfiable",
        422: b"Unprocessable Content",
    }
)
#: Full HTTP/1.1 status line (with CRLF) for every known status code.
STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in REASONS.items()
}
#: The ``:status`` pseudo-header value for HTTP/2, for every code from 100 to 599.
H2_STATUS: dict[int, bytes] = {code: b"%d" % code for code in range(100, 600)}


def reason_phrase(status: int) -> bytes:
    """Return the reason phrase for ``status``, a generic one for unknown codes."""
    phrase = REASONS.get(status)
    if phrase is not None:
        return phrase
    return _CLASS_PHRASES.get(status // 100, b"Unknown")


_CLASS_PHRASES = {
    1: b"Informational",
    2: b"Success",
    3: b"Redirection",
    4: b"Client Error",
    5: b"Server Error",
}
