"""The command line (``python -m lcore_asgi``): app specs, workers, signals, lifespan."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from server_support import raw_exchange

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]

APP = textwrap.dedent(
    """
    import os
    import anyio

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if os.environ.get("FAIL_STARTUP"):
                        await send({"type": "lifespan.startup.failed", "message": "db down"})
                        return
                    await send({"type": "lifespan.startup.complete"})
                else:
                    print("shutdown-complete", flush=True)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/slow":
            print("slow-started", flush=True)
            await anyio.sleep(1.0)
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    application = app
    """
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "cliapp.py").write_text(APP)
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(APP)
    return tmp_path


def start(app_dir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcore_asgi",
            *args,
            "--port",
            "0",
            "--timeout-graceful-shutdown",
            "5",
        ],
        cwd=app_dir,
        env=environment,
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
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}")
            continue
        match = re.search(r"Serving on https?://127\.0\.0\.1:(\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError("server did not start in time")


def wait_line(process: subprocess.Popen, expected: str, timeout: float = 15.0) -> None:
    """Read the server's stdout until ``expected`` appears (the request reached the app)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready and process.stdout.readline().strip() == expected:
            return
    raise AssertionError(f"{expected!r} never printed")


def stop(
    process: subprocess.Popen, timeout: float = 15.0, signal_it: bool = True
) -> tuple[int, str, str]:
    if signal_it and process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, out, err


@pytest.mark.parametrize("spec", ["cliapp", "cliapp:app", "cliapp.py", "pkg.mod:application"])
def test_app_spec_forms(app_dir: Path, spec: str) -> None:
    process = start(app_dir, spec)
    try:
        port = wait_port(process)
        answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
        assert answer.startswith(b"HTTP/1.1 200 OK")
    finally:
        code, out, _ = stop(process)
    assert code == 0
    assert "shutdown-complete" in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch:app", "could not import module 'nosuch'"),
        ("cliapp:nope", "has no attribute 'nope'"),
    ],
)
def test_bad_app_spec_is_a_clear_error(app_dir: Path, spec: str, message: str) -> None:
    process = start(app_dir, spec)
    code, _, err = stop(process, signal_it=False)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_startup_failure_exits_non_zero(app_dir: Path) -> None:
    process = start(app_dir, "cliapp:app", env={"FAIL_STARTUP": "1"})
    code, _, err = stop(process, signal_it=False)
    assert code == 3
    assert "application startup failed: db down" in err


def test_sigterm_finishes_in_flight_request(app_dir: Path) -> None:
    process = start(app_dir, "cliapp:app")
    try:
        port = wait_port(process)
        result: list[bytes] = []

        def slow_request() -> None:
            result.append(raw_exchange(port, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10))

        thread = threading.Thread(target=slow_request)
        thread.start()
        wait_line(process, "slow-started")
        process.send_signal(signal.SIGTERM)
        thread.join(15)
    finally:
        code, _, _ = stop(process)
    assert code == 0
    assert result and result[0].startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in result[0].lower()


def test_workers_share_socket_and_restart(app_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcore_asgi",
            "cliapp:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--timeout-graceful-shutdown",
            "5",
            "--no-access-log",
        ],
        cwd=app_dir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    serving: list[int] = []
    log: list[str] = []

    def collect() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = re.search(r"Serving on .*\(pid (\d+)\)", line)
            if match:
                serving.append(int(match.group(1)))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 20
        while len(serving) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(serving) >= count, log

    try:
        wait_for(2)
        first, second = serving[:2]
        os.kill(first, signal.SIGKILL)
        wait_for(3)
        replacement = serving[2]
        assert replacement not in (first, second)
        os.kill(second, signal.SIGKILL)
        deadline = time.monotonic() + 20
        answered = set()
        while time.monotonic() < deadline and replacement not in answered:
            try:
                answer = raw_exchange(
                    port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
            except OSError:
                time.sleep(0.1)
                continue
            if answer.startswith(b"HTTP/1.1 200"):
                answered.add(int(answer.rsplit(b"\r\n\r\n", 1)[1]))
        assert replacement in answered
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()
        assert process.stderr is not None
        process.stderr.close()
    assert code == 0, log


def test_unix_socket(app_dir: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "lcore_asgi", "cliapp:app", "--uds", path],
        cwd=app_dir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = sock.recv(1000)
        assert data.startswith(b"HTTP/1.1 200 OK")
    finally:
        code, _, err = stop(process)
    assert code == 0, err


def test_inherited_fd(app_dir: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "lcore_asgi", "cliapp:app", "--fd", str(listener.fileno())],
            cwd=app_dir,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=[listener.fileno()],
        )
        try:
            wait_port(process)
            answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
            assert answer.startswith(b"HTTP/1.1 200 OK")
        finally:
            code, _, err = stop(process)
        assert code == 0, err
    finally:
        listener.close()


def test_reload_restarts_on_change(app_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (app_dir / "reloadapp.py").write_text(APP.replace("str(os.getpid())", "'v1'"))
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "lcore_asgi", "reloadapp:app", "--port", str(port), "--reload"],
        cwd=app_dir,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def body() -> bytes:
        try:
            answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        except OSError:
            return b""
        return answer.rsplit(b"\r\n\r\n", 1)[-1]

    def wait_body(expected: bytes) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if body() == expected:
                return True
            time.sleep(0.2)
        return False

    try:
        assert wait_body(b"v1")
        time.sleep(1.1)  # a distinct mtime
        (app_dir / "reloadapp.py").write_text(APP.replace("str(os.getpid())", "'v2'"))
        assert wait_body(b"v2")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    assert code == 0


def test_ctrl_c_on_workers_is_graceful(app_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcore_asgi",
            "cliapp:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--timeout-graceful-shutdown",
            "5",
            "--no-access-log",
        ],
        cwd=app_dir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
                    break
            except OSError:
                time.sleep(0.1)
        result: list[bytes] = []
        thread = threading.Thread(
            target=lambda: result.append(
                raw_exchange(port, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
            )
        )
        thread.start()
        wait_line(process, "slow-started")
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        thread.join(15)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the session we started, workers included
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0
    assert result and result[0].startswith(b"HTTP/1.1 200 OK")
