"""A real ``redis-server`` for tests: started on a free 127.0.0.1 port, stopped by pid.

``RedisServer()`` starts nothing until ``start()``; ``stop()`` terminates the process
it started (and only that one). ``redis_binary()`` finds the executable or returns
None, so callers can skip with a clear reason when it is not installed.

The fixtures ``redis_url`` (one server for the session) and ``redis_server`` (a private
one a test may stop and restart) skip when it is not installed; a ``conftest.py`` (or a
test module) that wants them imports them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

__all__ = ["RedisServer", "redis_binary", "free_port", "redis_url", "redis_server"]


def redis_binary() -> str | None:
    """Path of ``redis-server`` (``$REDIS_SERVER``, PATH, /usr/bin), or None."""
    for candidate in (
        os.environ.get("REDIS_SERVER"),
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
    ):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process with no persistence (``--save '' --appendonly no``)."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or redis_binary()
        if self.binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server (on a fresh free port unless one was used before) and wait for PING."""
        last_error = "did not answer PING"
        for _attempt in range(3):
            port = self.port or free_port()
            proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    last_error = (proc.stderr.read() if proc.stderr else b"").decode(
                        errors="replace"
                    )
                    break
                if _ping(port):
                    self.port, self.proc = port, proc
                    return self
                time.sleep(0.02)
            else:
                self._kill(proc)
                break
            self.port = 0  # the port was taken meanwhile: try another one
        raise RuntimeError(f"redis-server failed to start: {last_error}")

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()

    def stop(self) -> None:
        """Stop the server this object started (by its pid)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            self._kill(proc)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _started() -> Iterator[RedisServer]:
    if redis_binary() is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server, or set REDIS_SERVER)"
        )
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real redis-server started for this test session."""
    with _started() as server:
        yield server.url


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for one test (which may stop and restart it)."""
    with _started() as server:
        yield server
