"""Start servers for the WebSocket e2e tests on 127.0.0.1; every process stopped by its pid."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from e2e.servers import gunicorn_flags

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(
    kind: str,
    port: int,
    workers: int = 1,
    spec: str = "ws_app:app",
    tls: tuple[str, str] | None = None,
) -> list[str]:
    """The command line serving ``spec`` with server ``kind`` on 127.0.0.1:port (TLS: cert, key)."""
    py = sys.executable
    if kind == "uvicorn":
        cert = ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]] if tls else []
        return [
            py,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
            *cert,
            spec,
        ]
    if kind == "hypercorn":
        cert = ["--certfile", tls[0], "--keyfile", tls[1]] if tls else []
        return [
            py,
            "-m",
            "hypercorn",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--graceful-timeout",
            "3",
            *cert,
            spec,
        ]
    cert = ["--certfile", tls[0], "--keyfile", tls[1]] if tls else []
    if kind == "lcore":
        return [
            py,
            "-m",
            "lcore_asgi",
            spec,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
            *cert,
        ]
    if kind == "side-by-side":
        return [
            py,
            "-m",
            "lcore_ws",
            spec,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
            *cert,
        ]
    if kind == "gunicorn":
        return [
            py,
            "-m",
            "gunicorn",
            *gunicorn_flags(),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "3",
            spec,
        ]
    raise ValueError(kind)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process we started (by pid); SIGKILL its session if it lingers."""
    import signal

    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


@contextmanager
def serve(
    kind: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    spec: str = "ws_app:app",
    tls: tuple[str, str] | None = None,
) -> Iterator[str]:
    """Run a server until the block ends; yields ``127.0.0.1:port`` once it answers.

    ``tls=(certfile, keyfile)`` serves https/wss with that certificate.
    """
    port = free_port()
    log = tmp_path / f"{kind}-{port}.log"
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(APPS), str(ROOT), full_env.get("PYTHONPATH", "")])
    full_env.update(env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command(kind, port, workers, spec, tls),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(tmp_path),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{kind} exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                httpx.get(
                    f"{'https' if tls else 'http'}://127.0.0.1:{port}/health",
                    timeout=1.0,
                    verify=ssl.create_default_context(cafile=tls[0]) if tls else True,
                )
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{kind} did not answer:\n{log.read_text(errors='replace')}"
                    ) from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)
