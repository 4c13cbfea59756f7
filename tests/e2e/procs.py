"""Run any server command line on 127.0.0.1 for a test (servers.py covers the usual kinds).

Same rules as ``servers.serve``: the process gets its own session, its output goes to a
log file, and it is stopped by its pid when the block ends.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .servers import APPS, ROOT, Running, stop


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
) -> Iterator[Running]:
    """Run ``cmd`` (which serves on ``url``) until the block ends; waits until it answers."""
    log = tmp_path / f"{name}.log"
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(APPS), str(ROOT), full_env.get("PYTHONPATH", "")])
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
                httpx.get(url + ready_path, timeout=1.0)
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
