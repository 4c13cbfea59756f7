"""End-to-end: a real server on 127.0.0.1 and real clients (httpx, curl, h2load, sockets)."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from typing import Any

import anyio
import httpx
import pytest
from server_support import echo_app, hello_app, raw_exchange, running_server

# HTTP/1.1 cases run against both drivers (h11 and httptools).
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("h1_driver")]

NORMAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

MALFORMED = {
    "te-and-cl": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        400,
    ),
    "obs-fold": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400),
    "no-host": (b"GET / HTTP/1.1\r\n\r\n", 400),
    "duplicate-host": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    "invalid-host": (b"GET / HTTP/1.1\r\nHost: exa mple\r\n\r\n", 400),
    "bad-version": (b"GET / HTTP/1.7\r\nHost: x\r\n\r\n", 400),
    "http-0.9": (b"GET /\r\n\r\n", 400),
    "long-request-line": (b"GET /" + b"x" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "big-headers": (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 30000 + b"\r\n\r\n", 431),
    "too-many-headers": (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 200 + b"\r\n", 431),
    "body-too-large": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413),
    "invalid-bytes": (b"GET / HTTP/1.1\r\nHost: x\r\nX: \x01\x02\r\n\r\n", 400),
    "bad-chunk-size": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    ),
    "garbage": (b"\x00\xff\xfe garbage\r\n\r\n", 400),
}


@pytest.fixture(scope="module")
def server(h1_driver: str) -> Any:
    with running_server(echo_app, max_body_size=1_000_000, timeout_body=2.0) as srv:
        yield srv


def test_httpx_http11(server: Any) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        for i in range(3):
            response = client.post(f"/n/{i}", content=b"payload")
            assert response.status_code == 200
            assert response.http_version == "HTTP/1.1"
            assert response.content == b"payload"
            assert response.headers["x-path"] == f"/n/{i}"
        streamed = client.post("/s", content=iter([b"a" * 1000, b"b" * 1000]))
        assert streamed.content == b"a" * 1000 + b"b" * 1000


def test_httpx_h2c_prior_knowledge(server: Any) -> None:
    with httpx.Client(http1=False, http2=True, base_url=f"http://127.0.0.1:{server.port}") as c:
        responses = [c.post("/h2c", content=b"x" * 100_000) for _ in range(3)]
    for response in responses:
        assert response.http_version == "HTTP/2"
        assert response.headers["x-version"] == "2"
        assert len(response.content) == 100_000


def test_httpx_h2_over_tls_with_alpn(tls_files: tuple[str, str]) -> None:
    certfile, keyfile = tls_files
    with running_server(echo_app, certfile=certfile, keyfile=keyfile) as srv:
        url = f"https://127.0.0.1:{srv.port}/tls"
        context = ssl.create_default_context(cafile=certfile)
        with httpx.Client(http2=True, verify=context) as client:
            h2 = client.post(url, content=b"secret")
        with httpx.Client(verify=context) as client:
            h1 = client.post(url, content=b"secret")
    assert h2.http_version == "HTTP/2" and h2.content == b"secret"
    assert h1.http_version == "HTTP/1.1" and h1.content == b"secret"


def test_httpx_async_concurrent_h2_streams(server: Any) -> None:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            http1=False, http2=True, base_url=f"http://127.0.0.1:{server.port}"
        ) as client:
            results: list[httpx.Response] = []

            async def one(i: int) -> None:
                results.append(await client.post(f"/c/{i}", content=b"%d" % i))

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(one, i)
            return results

    results = anyio.run(main)
    assert sorted(r.content for r in results) == sorted(b"%d" % i for i in range(20))


curl = shutil.which("curl")


@pytest.mark.skipif(curl is None, reason="curl is not installed")
@pytest.mark.parametrize(
    ("flag", "status_line"),
    [
        ("--http2", b"HTTP/2 200"),
        ("--http2-prior-knowledge", b"HTTP/2 200"),
        ("--http1.0", b"HTTP/1.1 200 OK"),
        ("--http1.1", b"HTTP/1.1 200 OK"),
    ],
)
def test_curl(server: Any, flag: str, status_line: bytes) -> None:
    result = subprocess.run(
        [curl, "-sS", "-i", flag, "--max-time", "10", f"http://127.0.0.1:{server.port}/curl"],
        capture_output=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert status_line in result.stdout
    if flag == "--http2":
        assert result.stdout.startswith(b"HTTP/1.1 101 Switching Protocols")


@pytest.mark.skipif(curl is None, reason="curl is not installed")
def test_curl_h2_tls(tls_files: tuple[str, str]) -> None:
    certfile, keyfile = tls_files
    with running_server(hello_app, certfile=certfile, keyfile=keyfile) as srv:
        result = subprocess.run(
            [
                curl,
                "-sS",
                "-i",
                "--http2",
                "--cacert",
                certfile,
                "--max-time",
                "10",
                f"https://127.0.0.1:{srv.port}/",
            ],
            capture_output=True,
            timeout=20,
        )
    assert result.stdout.startswith(b"HTTP/2 200"), result.stderr


h2load = shutil.which("h2load")


@pytest.mark.skipif(h2load is None, reason="h2load (Debian package nghttp2-client) not installed")
def test_h2load_concurrent_streams() -> None:
    with running_server(hello_app, h2_max_concurrent_streams=50) as srv:
        result = subprocess.run(
            [
                h2load,
                "-n",
                "2000",
                "-c",
                "4",
                "-m",
                "20",
                "-T",
                "20",
                f"http://127.0.0.1:{srv.port}/",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert "2000 succeeded, 0 failed, 0 errored" in result.stdout, result.stdout


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_then_server_still_serves(server: Any, name: str) -> None:
    payload, status = MALFORMED[name]
    answer = raw_exchange(server.port, payload)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    ok = raw_exchange(server.port, NORMAL + b"", timeout=5, wait_close=False)
    assert ok.startswith(b"HTTP/1.1 200 OK")


def test_truncated_body_then_server_still_serves(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
        sock.shutdown(socket.SHUT_WR)
        sock.recv(100)
    assert raw_exchange(server.port, NORMAL, wait_close=False).startswith(b"HTTP/1.1 200")


def test_slow_clients_are_cut_off_and_others_served() -> None:
    with running_server(hello_app, timeout_headers=0.5, timeout_body=0.5) as srv:
        slow_header = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        slow_body = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        try:
            slow_header.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow:")
            slow_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            assert raw_exchange(srv.port, NORMAL, wait_close=False).startswith(b"HTTP/1.1 200")
            start = time.monotonic()
            answer = slow_header.recv(1000)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
            assert time.monotonic() - start < 8
            rest = slow_body.recv(1000)
            while rest and not rest.endswith(b"hello"):
                rest += slow_body.recv(1000)
        finally:
            slow_header.close()
            slow_body.close()


def _h2_settings(*pairs: tuple[int, int], pad: bool = False) -> bytes:
    """An ``HTTP2-Settings`` value: a SETTINGS payload in base64url."""
    value = base64.urlsafe_b64encode(b"".join(struct.pack("!HI", k, v) for k, v in pairs))
    return value if pad else value.rstrip(b"=")


H2C_BAD_SETTINGS = {
    "missing": [],
    "empty": [b""],
    "not-base64": [b"!!!!"],
    "truncated-base64": [b"AAM"],
    "wrong-length": [base64.urlsafe_b64encode(b"\x00\x03\x00\x00")],  # 4 bytes, not 6
    "wrong-length-unpadded": [base64.urlsafe_b64encode(b"\x00\x03\x00\x00").rstrip(b"=")],
    "enable-push-2": [_h2_settings((2, 2))],
    "initial-window-over-2**31-1": [_h2_settings((4, 2**31))],
    "max-frame-size-0": [_h2_settings((5, 0))],
    "connect-protocol-2": [_h2_settings((8, 2))],
    "two-headers": [_h2_settings((3, 100)), _h2_settings((3, 100))],
}


@pytest.mark.parametrize("name", sorted(H2C_BAD_SETTINGS))
def test_h2c_upgrade_with_invalid_settings_is_served_over_http11(
    server: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 7540 §3.2.1: no upgrade without exactly one valid HTTP2-Settings; no 101."""
    head = b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    for value in H2C_BAD_SETTINGS[name]:
        head += b"HTTP2-Settings: " + value + b"\r\n"
    answer = raw_exchange(server.port, head + b"\r\n", wait_close=False)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b"x-version: 1.1" in answer.lower()
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text


@pytest.mark.parametrize("pad", [False, True])
def test_h2c_upgrade_with_valid_settings_switches(server: Any, pad: bool) -> None:
    """Limit values are valid, padded base64url is tolerated: 101, then HTTP/2 frames."""
    value = _h2_settings((2, 0), (3, 100), (4, 2**31 - 1), (5, 2**24 - 1), (99, 7), pad=pad)
    request = (
        b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + value + b"\r\n\r\n"
    )
    answer = raw_exchange(server.port, request, timeout=1)
    assert answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), answer[:200]
    # The server's SETTINGS frame follows the 101 (type 4 on stream 0).
    frames = answer.partition(b"\r\n\r\n")[2]
    assert frames[3:4] == b"\x04" and frames[5:9] == b"\x00\x00\x00\x00"


def test_client_disconnect_reaches_app() -> None:
    seen: list[dict] = []
    done = threading.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(await receive())
        seen.append(await receive())
        done.set()

    with running_server(app) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(NORMAL)
            time.sleep(0.1)
        assert done.wait(5)
    assert seen[-1] == {"type": "http.disconnect"}


def test_app_exception_is_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise RuntimeError("kaboom")

    with running_server(app) as srv:
        answer = raw_exchange(srv.port, NORMAL)
        again = raw_exchange(srv.port, NORMAL)
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert again.startswith(b"HTTP/1.1 500")
    errors = [r for r in caplog.records if r.name == "lcore_asgi.error" and r.levelname == "ERROR"]
    assert errors and all("kaboom" in (r.exc_text or "") or r.exc_info for r in errors)


def test_client_faults_are_not_logged_at_error(caplog: pytest.LogCaptureFixture) -> None:
    with running_server(hello_app) as srv:
        for payload, _ in MALFORMED.values():
            raw_exchange(srv.port, payload, timeout=3)
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHo")
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text


def test_access_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="lcore_asgi.access")
    with running_server(hello_app, access_log=True) as srv:
        raw_exchange(srv.port, b"GET /logged?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    lines = [r.getMessage() for r in caplog.records if r.name == "lcore_asgi.access"]
    assert any('"GET /logged?x=1 HTTP/1.1" 200' in line for line in lines), lines


def test_slow_reader_is_not_buffered_without_bound_then_dropped() -> None:
    sent = 0
    finished = threading.Event()
    chunk = b"x" * 1_000_000

    async def app(scope: dict, receive: Any, send: Any) -> None:
        nonlocal sent
        if scope["type"] != "http":
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(200):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += 1
            await send({"type": "http.response.body", "body": b""})
        finally:
            finished.set()

    with running_server(app, timeout_write=1.0) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(NORMAL)
            time.sleep(0.5)
            # 200 MB were offered; only socket buffers' worth may have left the app.
            assert sent < 50
            assert finished.wait(10), "a client that stops reading must be dropped"
        assert raw_exchange(srv.port, NORMAL, wait_close=False).startswith(b"HTTP/1.1 200")


def test_tls_port_with_bad_clients_logs_no_errors(
    tls_files: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    certfile, keyfile = tls_files
    with running_server(
        hello_app, certfile=certfile, keyfile=keyfile, timeout_tls_handshake=1
    ) as srv:
        raw_exchange(srv.port, NORMAL, timeout=3)  # plain HTTP to a TLS port
        raw_exchange(srv.port, b"\x16\x03\x01\x00\x05hello", timeout=3)  # broken ClientHello
        with socket.create_connection(("127.0.0.1", srv.port)):
            pass  # connect and leave
        context = ssl.create_default_context(cafile=certfile)
        with httpx.Client(verify=context) as client:
            assert client.get(f"https://127.0.0.1:{srv.port}/").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text


def test_h2_garbage_after_preface_logs_no_errors(caplog: pytest.LogCaptureFixture) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    with running_server(hello_app) as srv:
        # An empty SETTINGS, then DATA on stream 0: a connection error (PROTOCOL_ERROR).
        garbage = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x"
        answer = raw_exchange(srv.port, preface + garbage, timeout=3)
        assert raw_exchange(srv.port, NORMAL, wait_close=False).startswith(b"HTTP/1.1 200")
    assert b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" in answer  # a GOAWAY frame came back
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text


@pytest.mark.parametrize("version", ["h2c", "h2-tls", "http/1.1"])
def test_large_bodies_both_ways(version: str, tls_files: tuple[str, str]) -> None:
    payload = bytes(range(256)) * 20_000  # ~5 MB: many flow-control windows
    certfile, keyfile = tls_files
    options: dict[str, Any] = {"max_body_size": 10_000_000}
    if version == "h2-tls":
        options.update(certfile=certfile, keyfile=keyfile)
    with running_server(echo_app, **options) as srv:
        scheme = "https" if version == "h2-tls" else "http"
        client = httpx.Client(
            http1=version == "http/1.1",
            http2=version != "http/1.1",
            verify=ssl.create_default_context(cafile=certfile),
            timeout=30,
        )
        with client:
            response = client.post(f"{scheme}://127.0.0.1:{srv.port}/big", content=payload)
    assert response.http_version == ("HTTP/1.1" if version == "http/1.1" else "HTTP/2")
    assert response.content == payload


def test_send_after_disconnect_raises_oserror_quietly(caplog: pytest.LogCaptureFixture) -> None:
    raised: list[BaseException] = []
    done = threading.Event()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:  # an endless stream that never looks at receive()
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        except OSError as exc:
            raised.append(exc)
            raise
        finally:
            done.set()

    with running_server(app) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(NORMAL)
            assert sock.recv(1000).startswith(b"HTTP/1.1 200")
        assert done.wait(10), "the app kept streaming to a closed connection"
        assert raw_exchange(srv.port, NORMAL, wait_close=False).startswith(b"HTTP/1.1 200")
    assert raised and isinstance(raised[0], OSError)
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text
