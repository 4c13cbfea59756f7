"""Pre-fork worker processes sharing one listening socket; ``--reload`` hands over to lcore's reloader."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import Any

import anyio

from ._state import error_logger
from .config import Config
from .lifespan import LifespanFailure
from .serving import Server, bind_socket, run

__all__ = ["EXIT_STARTUP_FAILED", "run_reloader", "run_supervised", "run_workers", "serve"]

#: Exit status of a worker (and of the CLI) whose lifespan startup failed.
EXIT_STARTUP_FAILED = 3


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve ``app`` (an ASGI callable or ``"module:attr"``) until interrupted; blocking.

    With ``workers > 1`` or ``reload=True`` it supervises worker processes (or the
    reloader); otherwise it runs one server in this process.
    """
    config = Config(app=app, host=host, port=port, **options)
    if config.workers > 1 or config.reload:
        run_supervised(config)
        return
    run(config)


def run_supervised(config: Config, argv: list[str] | None = None) -> int:
    """Run ``config`` under the reloader or the worker supervisor; return an exit status."""
    if config.reload:
        if argv is None:
            if not isinstance(config.app, str):
                raise ValueError("reload=True needs the app as an import string")
            argv = [config.app, "--host", config.host, "--port", str(config.port)]
        return run_reloader(argv)
    return run_workers(config)


def run_workers(config: Config) -> int:
    """Fork ``config.workers`` workers on one shared socket; restart any that dies."""
    sock = bind_socket(config)
    config.load_app()  # fail in the parent, once, if the app cannot be imported
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children: dict[int, float] = {}
    status = 0
    try:
        for _ in range(config.workers):
            pid = _fork_worker(config, sock)
            children[pid] = time.monotonic()
        error_logger.info("Supervisor %d started %d workers", os.getpid(), config.workers)
        while not stopping:
            time.sleep(0.1)
            for pid in list(children):
                done, code = _reap(pid)
                if not done:
                    continue
                started = children.pop(pid)
                if code == EXIT_STARTUP_FAILED:
                    error_logger.error("Worker %d failed to start; stopping", pid)
                    stopping = True
                    status = EXIT_STARTUP_FAILED
                    break
                if not stopping:
                    error_logger.warning("Worker %d exited with %s; restarting", pid, code)
                    if time.monotonic() - started < 1.0:
                        time.sleep(1.0)  # crash loop: do not fork as fast as we can
                    children[_fork_worker(config, sock)] = time.monotonic()
    finally:
        _stop_children(children, config.timeout_graceful_shutdown + 5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        if config.uds and os.path.exists(config.uds):
            os.unlink(config.uds)
    return status


def _fork_worker(config: Config, sock: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        # Ctrl-C reaches the whole process group; the supervisor turns it into one
        # SIGTERM per worker, so a worker listens to SIGTERM only (a second signal
        # would skip the graceful wait).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        server = Server(config)
        server.shutdown_signals = (signal.SIGTERM,)
        anyio.run(server.serve, [sock], **config.run_options())
    except LifespanFailure as exc:
        error_logger.error("Application startup failed: %s", exc)
        code = EXIT_STARTUP_FAILED
    except BaseException:
        error_logger.exception("Worker crashed")
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(pid: int) -> tuple[bool, int | None]:
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True, None
    if waited == 0:
        return False, None
    return True, os.waitstatus_to_exitcode(status)


def _stop_children(children: dict[int, float], timeout: float) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while children and time.monotonic() < deadline:
        for pid in list(children):
            if _reap(pid)[0]:
                del children[pid]
        time.sleep(0.05)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def run_reloader(argv: list[str]) -> int:
    """Run ``python -m lcore_asgi`` with ``argv`` in a child process; restart it on changes.

    The reloader is lcore's (:func:`lcore.reloader.run_with_reloader`): watchfiles when
    installed, polling otherwise.
    """
    from lcore.reloader import run_with_reloader

    return run_with_reloader([sys.executable, "-m", "lcore_asgi", *argv])
