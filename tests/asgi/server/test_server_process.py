"""A real server process (``python -m lcore_asgi``): HTTP/2 shutdown on SIGTERM, its log."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]

APP = textwrap.dedent(
    """
    import anyio

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            print("slow-started", flush=True)
            await anyio.sleep(1.0)
        if scope["path"] == "/big":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(100):  # 6.5 MB over at least a second
                await send({"type": "http.response.body", "body": b"x" * 65536,
                            "more_body": True})
                await anyio.sleep(0.01)
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    """
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "procapp.py").write_text(APP)
    return tmp_path


def start(app_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcore_asgi",
            "procapp:app",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *args,
        ],
        cwd=app_dir,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_port(process: subprocess.Popen, timeout: float = 15.0) -> int:
    """Read stderr until the 'Serving on' line and return the port it names."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited with {process.wait(5)}")
        match = re.search(r"Serving on https?://127\.0\.0\.1:(\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError("server did not start in time")


def stop(process: subprocess.Popen, timeout: float = 20.0) -> tuple[int, str, str]:
    """SIGTERM the server (by its pid) and collect its exit status and output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, out, err


def test_sigterm_lets_httpx_http2_streams_in_flight_finish(app_dir: Path) -> None:
    """50 requests in flight over h2c (httpx) all get their 200 across a SIGTERM."""
    process = start(app_dir, "--timeout-graceful-shutdown", "10", "--no-access-log")
    statuses: list[Any] = []
    try:
        port = wait_port(process)

        async def main() -> None:
            async with httpx.AsyncClient(
                http1=False, http2=True, base_url=f"http://127.0.0.1:{port}", timeout=15
            ) as client:

                async def one() -> None:
                    try:
                        response = await client.get("/slow")
                    except httpx.HTTPError as exc:
                        statuses.append(repr(exc))
                    else:
                        statuses.append((response.status_code, response.http_version))

                async with anyio.create_task_group() as tg:
                    for _ in range(50):
                        tg.start_soon(one)

        thread = threading.Thread(target=anyio.run, args=(main,), daemon=True)
        thread.start()
        assert process.stdout is not None
        printed = b""
        deadline = time.monotonic() + 10
        while printed.count(b"slow-started") < 50 and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:  # raw reads: a buffered readline() would hide lines from select()
                printed += os.read(process.stdout.fileno(), 65536)
        assert printed.count(b"slow-started") == 50, printed
        process.send_signal(signal.SIGTERM)
        thread.join(30)
        assert not thread.is_alive()
        # The one SIGTERM is enough: let the shutdown finish (a second signal forces it).
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
    finally:
        code, _, err = stop(process)
    assert statuses == [(200, "HTTP/2")] * 50, statuses
    assert code == 0, err
    assert "ERROR" not in err and "Traceback" not in err, err


curl = shutil.which("curl")


def _tls_request(port: int, certfile: str, alpn: str, request: bytes, abort: bool) -> bytes:
    """Send ``request`` over TLS, read the start of the answer, then close without
    close_notify (``abort``: with a TCP reset, mid-response)."""
    context = ssl.create_default_context(cafile=certfile)
    context.set_alpn_protocols([alpn])
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(request)
        data = sock.recv(65536)
        if abort:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return data


@pytest.mark.skipif(curl is None, reason="curl is not installed")
def test_tls_client_disconnects_log_no_errors(app_dir: Path, tls_files: tuple[str, str]) -> None:
    """Ordinary and abrupt client disconnects over TLS (h2 and HTTP/1.1) are not errors."""
    assert curl is not None
    certfile, keyfile = tls_files
    process = start(app_dir, "--certfile", certfile, "--keyfile", keyfile)
    outcomes: list[Any] = []
    try:
        port = wait_port(process)
        base = f"https://127.0.0.1:{port}"
        for flag, path in [("--http2", "/")] * 4 + [("--http1.1", "/")] * 2:
            result = subprocess.run(
                [curl, "-sS", "-k", flag, "--max-time", "10", "-o", "/dev/null",
                 "-w", "%{http_version} %{http_code}", base + path],
                capture_output=True, text=True, timeout=20,
            )  # fmt: skip
            outcomes.append(result.stdout)
        for flag in ("--http2", "--http1.1"):
            # Gives up mid-response (6.5 MB) and drops the connection.
            result = subprocess.run(
                [curl, "-sS", "-k", flag, "--max-time", "0.3", "-o", "/dev/null", base + "/big"],
                capture_output=True, text=True, timeout=20,
            )  # fmt: skip
            outcomes.append(result.returncode)
        context = ssl.create_default_context(cafile=certfile)
        for http2 in (True, False):
            with httpx.Client(http1=not http2, http2=http2, verify=context, base_url=base) as c:
                outcomes += [(c.get("/").status_code, c.get("/").http_version)]
                with c.stream("GET", "/big") as response:
                    next(response.iter_raw())  # then close the stream mid-response
                outcomes.append(response.status_code)
        h1 = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
        outcomes.append(_tls_request(port, certfile, "http/1.1", h1, abort=False)[:12])
        outcomes.append(_tls_request(port, certfile, "http/1.1", h1, abort=True)[:12])
        h2_request = _h2_request_bytes()
        outcomes.append(len(_tls_request(port, certfile, "h2", h2_request, abort=False)) > 0)
        outcomes.append(len(_tls_request(port, certfile, "h2", h2_request, abort=True)) > 0)
        time.sleep(0.5)  # let the server notice the last disconnects before it stops
    finally:
        code, _, err = stop(process)
    assert outcomes == [
        "2 200", "2 200", "2 200", "2 200", "1.1 200", "1.1 200", 28, 28,
        (200, "HTTP/2"), 200, (200, "HTTP/1.1"), 200,
        b"HTTP/1.1 200", b"HTTP/1.1 200", True, True,
    ], outcomes  # fmt: skip
    assert code == 0
    assert err.count('"GET / HTTP/2" 200') == 6, err
    assert "ERROR" not in err and "Traceback" not in err, err


def _h2_request_bytes() -> bytes:
    import h2.config
    import h2.connection

    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    conn.send_headers(
        1,
        [(b":method", b"GET"), (b":path", b"/big"), (b":scheme", b"https"), (b":authority", b"x")],
        end_stream=True,
    )
    return conn.data_to_send()
