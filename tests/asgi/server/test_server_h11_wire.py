"""HTTP/1.1 strictness, limits and timeouts over real sockets (a real server on 127.0.0.1).

Each refused request must get its status and ``connection: close`` and then see the
connection closed, without the app being called and without an ERROR log line.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from server_support import running_server

from lcore_asgi.server import Server

# Every test here runs against both HTTP/1.1 drivers (h11 and httptools).
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("h1_driver")]

CALLS: list[bytes] = []


async def reading_app(scope: dict, receive: Any, send: Any) -> None:
    """Read the whole body, then answer 200 with it; records each call's raw path."""
    if scope["type"] != "http":
        return
    CALLS.append(scope["raw_path"])
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server(h1_driver: str) -> Iterator[Server]:
    with running_server(reading_app) as srv:
        yield srv


def exchange(
    port: int, data: bytes, timeout: float = 5.0, rcvbuf: int | None = None
) -> tuple[bytes, bool]:
    """Send ``data``; return what came back and whether the server closed within ``timeout``."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False


HOST = b"Host: example.com\r\n"
CHUNKED = b"POST /c HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"

REFUSED = {
    # framing
    "te-and-cl": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        400,
    ),
    "chunked-on-http-1.0": (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "te-chunked-then-gzip": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    "te-gzip-only": (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    "te-chunked-twice": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-gzip-then-chunked": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
    "te-gzip-then-chunked-two-lines": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
    "cl-not-a-number": (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1e3\r\n\r\n", 400),
    "cl-conflicting": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
    ),
    # line structure
    "obs-fold": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\r\n folded\r\n\r\n", 400),
    "obs-fold-tab": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\r\n\tfolded\r\n\r\n", 400),
    "obs-fold-first-field": (b"GET / HTTP/1.1\r\n " + HOST + b"\r\n", 400),
    "bare-lf-everywhere": (b"GET / HTTP/1.1\nHost: example.com\n\n", 400),
    "bare-lf-one-field": (b"GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", 400),
    "bare-lf-end-of-head": (b"GET / HTTP/1.1\r\n" + HOST + b"\n", 400),
    "bare-cr-in-value": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\rb\r\n\r\n", 400),
    # Host
    "no-host": (b"GET / HTTP/1.1\r\n\r\n", 400),
    "two-hosts-same": (b"GET / HTTP/1.1\r\n" + HOST + HOST + b"\r\n", 400),
    "two-hosts-different": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "host-with-space": (b"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400),
    "host-with-slash": (b"GET / HTTP/1.1\r\nHost: example.com/evil\r\n\r\n", 400),
    "host-with-at": (b"GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", 400),
    "absolute-form-other-host": (b"GET http://other.example/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "absolute-form-other-port": (
        b"GET http://example.com:8080/ HTTP/1.1\r\n" + HOST + b"\r\n",
        400,
    ),
    "absolute-form-userinfo": (
        b"GET http://user@example.com/ HTTP/1.1\r\n" + HOST + b"\r\n",
        400,
    ),
    "absolute-form-other-scheme": (b"GET ftp://example.com/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "asterisk-outside-options": (b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "relative-target": (b"GET index.html HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    # versions
    "http-1.2": (b"GET / HTTP/1.2\r\n" + HOST + b"\r\n", 400),
    "http-2.0-request-line": (b"GET / HTTP/2.0\r\n" + HOST + b"\r\n", 400),
    "http-3.0": (b"GET / HTTP/3.0\r\n" + HOST + b"\r\n", 400),
    "http-0.9": (b"GET /\r\n\r\n", 400),
    "http-lowercase": (b"GET / http/1.1\r\n" + HOST + b"\r\n", 400),
    # field syntax
    "space-in-field-name": (b"GET / HTTP/1.1\r\n" + HOST + b"Bad Name: v\r\n\r\n", 400),
    "space-before-colon": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A : v\r\n\r\n", 400),
    "nul-in-value": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", 400),
    "ctl-in-value": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\x01b\r\n\r\n", 400),
    "del-in-value": (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: a\x7fb\r\n\r\n", 400),
    "ctl-in-target": (b"GET /a\x01b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "binary-garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    # limits
    "method-10kb": (b"A" * 10_000 + b" / HTTP/1.1\r\n" + HOST + b"\r\n", 501),
    "method-33-chars": (b"A" * 33 + b" / HTTP/1.1\r\n" + HOST + b"\r\n", 501),
    "method-not-a-token": (b"GE(T / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "target-9kb": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    "target-100kb": (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    "header-section-20kb": (
        b"GET / HTTP/1.1\r\n" + HOST + b"X: " + b"a" * 20_000 + b"\r\n\r\n",
        431,
    ),
    "header-section-100kb": (
        b"GET / HTTP/1.1\r\n" + HOST + b"X: " + b"a" * 100_000 + b"\r\n\r\n",
        431,
    ),
    "too-many-fields": (b"GET / HTTP/1.1\r\n" + HOST + b"A: b\r\n" * 150 + b"\r\n", 431),
    "declared-body-too-large": (
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 999999999999\r\n\r\n",
        413,
    ),
}

#: Bad chunk framing is found while the app reads the body: it is called, then 400.
BAD_CHUNKS = {
    "chunk-size-not-hex": (CHUNKED + b"Z\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-missing-crlf": (CHUNKED + b"5\r\nhello0\r\n\r\n", 400),
    "chunk-size-with-space": (CHUNKED + b"5 5\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-longer-than-size": (CHUNKED + b"3\r\nhello\r\n0\r\n\r\n", 400),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_request_gets_status_and_close(server: Server, name: str) -> None:
    payload, status = REFUSED[name]
    CALLS.clear()
    answer, closed = exchange(server.port, payload)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert b"\r\nconnection: close" in head
    assert closed, "the server must close the connection after refusing"
    assert CALLS == [], "the app must not see a refused request"


@pytest.mark.parametrize("name", sorted(BAD_CHUNKS))
def test_bad_chunk_framing_gets_400_and_close(server: Server, name: str) -> None:
    payload, status = BAD_CHUNKS[name]
    answer, closed = exchange(server.port, payload)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    assert b"\r\nconnection: close" in answer.lower()
    assert closed


def test_bad_chunk_after_response_started_just_closes() -> None:
    seen: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"started", "more_body": True})
        seen.append(await receive())
        seen.append(await receive())

    with running_server(app) as srv:
        answer, closed = exchange(srv.port, CHUNKED + b"3\r\nabc\r\nZ\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:100]
    assert b"400" not in answer
    assert not answer.endswith(b"0\r\n\r\n"), "the response must not look complete"
    assert closed
    assert seen == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]


@pytest.mark.parametrize(
    "payload",
    [
        b"GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET http://EXAMPLE.com:80/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET https://example.com:443/a?b HTTP/1.1\r\nHost: Example.com:443\r\n\r\n",
        b"POST /a?b HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
        b"POST /a?b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
        b"GET /a?b HTTP/1.0\r\n\r\n",
        b"GET /a?b HTTP/1.1\r\nHost: [::1]:8080\r\nX-Obs-Text: caf\xc3\xa9\r\n\r\n",
        b"PROPFIND /a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"A" * 32 + b" /a?b HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ],
    ids=[
        "absolute-form-same-host",
        "absolute-form-default-port",
        "https-absolute-form-default-port",
        "te-chunked-any-case",
        "content-length-zero",
        "http-1.0-without-host",
        "ipv6-host-and-obs-text",
        "extension-method",
        "method-32-chars",
    ],
)
def test_valid_requests_are_served(server: Server, payload: bytes) -> None:
    CALLS.clear()
    payload = payload.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    answer, closed = exchange(server.port, payload)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:100]
    assert CALLS == [b"/a"]


def test_client_mistakes_are_not_logged_at_error(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="lcore_asgi")
    for payload, _ in [*REFUSED.values(), *BAD_CHUNKS.values()]:
        exchange(server.port, payload, timeout=3)
    assert not [r for r in caplog.records if r.levelno >= 30], caplog.text
    assert any("refused a request" in r.getMessage() for r in caplog.records)


# -- timeouts ------------------------------------------------------------------------


def trickle(sock: socket.socket, data: bytes, interval: float, limit: float) -> tuple[bytes, float]:
    """Send ``data`` a byte per ``interval`` until the server answers or closes.

    Returns what the server sent and the seconds from the first byte until it closed
    (``inf`` if it did not within ``limit``).
    """
    sock.settimeout(interval)
    start = time.monotonic()
    received = b""
    for byte in data:
        if time.monotonic() - start > limit:
            break
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, time.monotonic() - start
        if not chunk:
            return received, time.monotonic() - start
        received += chunk
    sock.settimeout(2.0)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    else:
        return received, time.monotonic() - start
    return received, float("inf")


def test_trickled_head_gets_408_at_the_header_deadline() -> None:
    # A byte every 0.3 s; each read used to push the deadline back, so it never fired.
    head = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with running_server(reading_app, timeout_headers=1.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            received, elapsed = trickle(sock, head, 0.3, limit=6.0)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout"), received[:100]
    assert elapsed < 1.0 + 0.8, f"closed after {elapsed:.2f} s"


def test_trickled_keep_alive_head_gets_408_from_its_first_byte() -> None:
    first = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    head = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with running_server(reading_app, timeout_headers=1.0, timeout_keep_alive=5.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(first)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            time.sleep(1.5)  # idle: governed by the keep-alive timeout, not the head's
            received, elapsed = trickle(sock, head, 0.3, limit=6.0)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout"), received[:100]
    assert elapsed < 1.0 + 0.8, f"closed after {elapsed:.2f} s"


def test_trickled_body_is_cut_off_by_the_minimum_rate() -> None:
    # 5 bytes/s against min_body_rate 1024: out of credit about timeout_body after it
    # starts, though no single wait comes near timeout_body.
    head = b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1000\r\n\r\n"
    with running_server(reading_app, timeout_body=1.0, min_body_rate=1024) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(head)
            received, elapsed = trickle(sock, b"b" * 1000, 0.2, limit=6.0)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout"), received[:100]
    assert elapsed < 1.0 + 0.8, f"closed after {elapsed:.2f} s"


def test_body_above_the_minimum_rate_is_not_cut_off() -> None:
    # 250 bytes/s for 2.4 s (twice timeout_body) against min_body_rate 100.
    head = b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 600\r\n\r\n"
    with running_server(reading_app, timeout_body=1.0, min_body_rate=100) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(head)
            for _ in range(12):
                sock.sendall(b"c" * 50)
                time.sleep(0.2)
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:100]
    assert answer.endswith(b"c" * 600)
