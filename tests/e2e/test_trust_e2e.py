"""Issue 12's defects, checked on real servers (gunicorn sync and gthread, uvicorn,
lcore's own): each answers the same status for the same request.

- a ``def`` handler reading the body under TimeoutMiddleware: 200 (was a 500 under ASGI);
  past the deadline 503; an over-limit chunked body under BodyLimit + Timeout: 413;
- a handler returning a set or a ``('body', 201)`` tuple: a complete 500 (uvicorn sent a
  200 and then cut the connection);
- bad chunk framing / a truncated chunked body: 400, whoever answers it (gunicorn's
  ``wsgi.input`` errors were a 500 "Unhandled error").
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .servers import Running, serve

pytestmark = pytest.mark.e2e

SPEC = "trust_app:app"
KINDS = ["gunicorn-sync", "gunicorn-gthread", "uvicorn", "lcore"]


@pytest.fixture(scope="module", params=KINDS)
def server(request: Any, tmp_path_factory: Any) -> Iterator[tuple[str, Running]]:
    kind = request.param
    with serve(kind, SPEC, tmp_path_factory.mktemp(kind)) as srv:
        yield kind, srv


def _raw(url: str, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers until it closes."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)  # the client sends nothing more: the body is cut
        out = b""
        while True:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            out += got
    return out


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0


def test_def_handlers_read_the_body_under_timeout(server: tuple[str, Running]) -> None:
    kind, srv = server
    boundary = "xx"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        f"\r\n12345\r\n--{boundary}--\r\n"
    )
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        r = c.post("/t/json", json={"a": 1})
        assert (r.status_code, r.json()) == (200, {"json": {"a": 1}}), (kind, r.text[:300])
        r = c.post("/t/body", content=b"x" * 50)
        assert (r.status_code, r.json()) == (200, {"size": 50}), (kind, r.text[:300])
        r = c.post(
            "/t/forms",
            content=b"name=n",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert (r.status_code, r.json()) == (200, {"name": "n"}), (kind, r.text[:300])
        r = c.post(
            "/t/files",
            content=multipart.encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert (r.status_code, r.json()) == (200, {"file": "a.txt", "size": 5}), (
            kind,
            r.text[:300],
        )
        r = c.post("/t/body", content=iter([b"x" * 80, b"y" * 80]))  # chunked, over BodyLimit's 100
        assert r.status_code == 413, (kind, r.status_code, r.text[:300])
        r = c.get("/t/slow")
        assert r.status_code == 503, (kind, r.status_code)
    assert "Unhandled error in POST /t/" not in srv.output(), srv.output()[-3000:]


@pytest.mark.parametrize("path", ["/bad/set", "/bad/set-of-int", "/bad/tuple", "/bad/atuple"])
def test_a_result_that_is_not_a_body_is_a_complete_500(
    server: tuple[str, Running], path: str
) -> None:
    kind, srv = server
    raw = _raw(srv.url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    # Not a 200 whose connection is then cut: the 500 page arrives whole.
    assert _status(raw) == 500, (kind, raw[:200])
    head, _, body = raw.partition(b"\r\n\r\n")
    length = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    assert length and len(body) == length[0], (kind, head, len(body))
    assert b"Internal Server Error" in body


def test_bad_chunk_framing_is_a_400(server: tuple[str, Running]) -> None:
    kind, srv = server
    raw = _raw(
        srv.url,
        b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    # The server may refuse it before the app runs; either way never a 500. The WSGI
    # servers pass it to the app as a wsgi.input error: lcore's 400. (lcore's own server
    # may also just close the connection: its HTTP/1.1 framing errors are its own tests'
    # business, tests/asgi/server.)
    if kind == "lcore":
        assert _status(raw) in (0, 400), (kind, raw[:300])
    else:
        assert _status(raw) == 400, (kind, raw[:300])
    assert "Unhandled error in POST /body" not in srv.output(), srv.output()[-3000:]


def test_a_truncated_chunked_body_is_a_400_under_gunicorn(server: tuple[str, Running]) -> None:
    kind, srv = server
    if not kind.startswith("gunicorn"):
        # uvicorn and lcore's server take the half-closed connection for a client that
        # went away and answer nothing (asserted: never a 500); gunicorn passes the cut
        # body to the app as a wsgi.input error.
        raw = _raw(
            srv.url,
            b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
            half_close=True,
        )
        assert _status(raw) in (0, 400), (kind, raw[:300])
        return
    raw = _raw(
        srv.url,
        b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        half_close=True,
    )
    assert _status(raw) == 400, (kind, raw[:300])
    assert "Unhandled error in POST /body" not in srv.output(), srv.output()[-3000:]
