"""Start real servers (gunicorn, uvicorn, hypercorn, lcore's own) on 127.0.0.1 for tests.

Every process is started in its own session and stopped by its pid (SIGTERM, then
SIGKILL after a bound), so nothing outlives the test that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gunicorn_flags() -> list[str]:
    """gunicorn 24+ opens a control socket at one fixed path (~/.gunicorn/gunicorn.ctl) by
    default; gunicorns started side by side would fight over it, so tests turn it off."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return []
    names = {s.name for s in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def server_command(
    kind: str,
    spec: str,
    port: int,
    *,
    workers: int = 1,
    threads: int = 16,
    grace: int = 5,
    tls: tuple[str, str] | None = None,
) -> list[str]:
    """The command line that serves ``spec`` (``module:attr``) with the named server.

    ``grace``: the seconds a server may take to finish its requests when stopped;
    ``tls``: ``(certfile, keyfile)`` to serve https/wss (uvicorn, hypercorn, lcore,
    side-by-side). ``side-by-side`` is ``python -m lcore_ws`` (WebSockets only).
    """
    py = sys.executable
    bind = f"127.0.0.1:{port}"
    host_port = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    gunicorn = [py, "-m", "gunicorn", *gunicorn_flags(), "-w", str(workers), "-b", bind]
    gunicorn += ["--graceful-timeout", str(grace)]
    if kind in ("gunicorn-sync", "gunicorn-gthread", "gunicorn-asgi") and tls:
        raise ValueError(f"{kind}: no TLS in these tests")
    if kind == "gunicorn-sync":
        return [*gunicorn, "-k", "sync", spec]
    if kind == "gunicorn-gthread":
        return [*gunicorn, "-k", "gthread", "--threads", str(threads), spec]
    if kind == "gunicorn-asgi":  # gunicorn >= 24's native ASGI worker (gunicorn.workers.gasgi)
        return [*gunicorn, "-k", "asgi", spec]
    if kind.startswith("granian-"):
        interface = kind.removeprefix("granian-")
        no_ws = ["--no-ws"] if interface == "wsgi" else []
        return [py, "-m", "granian", *host_port, "--interface", interface, *no_ws, spec]
    if kind == "uvicorn":
        cert = ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]] if tls else []
        return [
            *[py, "-m", "uvicorn", *host_port, "--log-level", "warning"],
            *["--timeout-graceful-shutdown", str(grace), *cert, spec],
        ]
    cert = ["--certfile", tls[0], "--keyfile", tls[1]] if tls else []
    if kind == "hypercorn":
        return [
            py,
            "-m",
            "hypercorn",
            "-b",
            bind,
            "-w",
            str(workers),
            "--graceful-timeout",
            str(grace),
            *cert,
            spec,
        ]
    if kind in ("lcore", "side-by-side"):
        module = "lcore_asgi" if kind == "lcore" else "lcore_ws"
        return [
            *[py, "-m", module, spec, *host_port, "--log-level", "warning"],
            *["--timeout-graceful-shutdown", str(grace), *cert],
        ]
    raise ValueError(kind)


class Running:
    """A started server process and its base URL."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int | None:
    """Stop a process we started: SIGTERM to its pid, SIGKILL to its group if it lingers."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    return proc.returncode


@contextmanager
def serve(
    kind: str,
    spec: str,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    ready_path: str = "/health",
    startup_timeout: float = 20.0,
    **kw: int,
) -> Iterator[Running]:
    """Run a server for ``spec`` until the block ends; waits until it answers."""
    port = free_port()
    with launch(
        f"{kind}-{port}",
        server_command(kind, spec, port, **kw),
        f"http://127.0.0.1:{port}",
        tmp_path,
        env=env,
        ready_path=ready_path,
        startup_timeout=startup_timeout,
    ) as running:
        yield running


@contextmanager
def launch(
    name: str,
    cmd: list[str],
    url: str,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    ready_path: str = "/health",
    startup_timeout: float = 20.0,
    apps: Path = APPS,
    verify: Any = True,
) -> Iterator[Running]:
    """Run any server command line ``cmd`` (which serves on ``url``) until the block ends.

    Waits until it answers ``ready_path`` (``verify``: httpx's, for an https ``url``); its
    output goes to ``<name>.log`` in ``tmp_path``; ``apps`` is on its ``PYTHONPATH``.
    """
    log = tmp_path / f"{name}.log"
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(apps), str(ROOT), full_env.get("PYTHONPATH", "")])
    full_env.update(env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(tmp_path),
            start_new_session=True,
        )
    running = Running(proc, url, log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{running.output()}")
            try:
                httpx.get(url + ready_path, timeout=1.0, verify=verify)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} did not answer within {startup_timeout}s:\n{running.output()}"
                    ) from None
                time.sleep(0.1)
        yield running
    finally:
        stop(proc)
