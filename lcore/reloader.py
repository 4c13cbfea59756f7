"""File watchers for development: the process reloader and two in-process watchers.

``run_with_reloader(command)`` is the one ``--reload`` of every entry point
(``python -m lcore``, ``python -m lcore_asgi``, ``python -m lcore_ws`` and
``app.run(reloader=True)``): it runs the server as a child process and starts it again
when a watched file changes. Changes come from ``watchfiles`` when it is installed
(``pip install "lcore[reload]"``) and from polling otherwise.

In-process, ``WatchdogReloader`` (a thread) and ``AsyncReloader`` (an asyncio task):

Both watch ``paths`` (directories, recursively, or single files) for changed or new
``.py .html .tpl .json .yaml .yml`` files and call ``callback`` for each one. The
callback may take the changed path or no argument; the default logs the change and
calls ``app.reset()``. To restart the whole process on a change, use
``app.run(reloader=True)`` instead.

``WatchdogReloader`` uses the ``watchdog`` package when it is installed (inotify and
friends) and falls back to polling every ``interval`` seconds otherwise; either way the
callbacks run on the reloader's own thread, at most once per file per ``interval``.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._extras import install_hint, require

__all__ = ["WatchdogReloader", "AsyncReloader", "run_with_reloader", "watch_changes"]

_log = logging.getLogger("lcore")

WATCHED_SUFFIXES = (".py", ".html", ".tpl", ".json", ".yaml", ".yml")
#: Directories never descended into: caches, VCS data, virtualenvs, node_modules.
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


def _wanted(path: str) -> bool:
    return path.endswith(WATCHED_SUFFIXES)


def _scan(paths: Iterable[str]) -> dict[str, tuple[int, int]]:
    """``{file: (mtime_ns, size)}`` for the watched files under ``paths``."""
    out: dict[str, tuple[int, int]] = {}
    for root in paths:
        if os.path.isfile(root):
            candidates: Iterable[str] = [root]
        else:
            candidates = (
                os.path.join(dirpath, fn)
                for dirpath, dirnames, filenames in _walk(root)
                for fn in filenames
            )
        for fp in candidates:
            if not _wanted(fp):
                continue
            try:
                st = os.stat(fp)
            except OSError:
                continue
            out[os.path.abspath(fp)] = (st.st_mtime_ns, st.st_size)
    return out


def _walk(root: str) -> Iterable[tuple[str, list[str], list[str]]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        yield dirpath, dirnames, filenames


def _changed(old: dict[str, tuple[int, int]], new: dict[str, tuple[int, int]]) -> list[str]:
    """Files that are new or whose mtime or size changed, in a stable order."""
    return sorted(fp for fp, stamp in new.items() if old.get(fp) != stamp)


def _takes_path(callback: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


class _Base:
    def __init__(
        self,
        app: Any,
        paths: Iterable[str] | str | None = None,
        interval: float = 1,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        self.app = app
        self.paths = [paths] if isinstance(paths, str) else list(paths or ["./"])
        self.interval = float(interval)
        self.callback: Callable[..., Any] = callback or self._default_reload
        self._with_path = _takes_path(self.callback)

    def _default_reload(self, changed_path: str) -> None:
        _log.warning("File changed: %s, reloading...", changed_path)
        reset = getattr(self.app, "reset", None)
        if reset is not None:
            reset()

    def _notify(self, path: str) -> Any:
        try:
            return self.callback(path) if self._with_path else self.callback()
        except Exception:
            _log.exception("reload callback failed for %s", path)
            return None


class WatchdogReloader(_Base):
    """Call ``callback`` when a watched file changes; ``start()`` / ``stop()``.

    ``WatchdogReloader(app, paths=['./'], interval=1, callback=None)``. ``backend`` is
    ``'watchdog'`` or ``'polling'`` once started. Also a context manager.
    """

    def __init__(
        self,
        app: Any,
        paths: Iterable[str] | str | None = None,
        interval: float = 1,
        callback: Callable[..., Any] | None = None,
        *,
        use_watchdog: bool = True,
    ) -> None:
        super().__init__(app, paths, interval, callback)
        self.use_watchdog = use_watchdog
        self.backend: str | None = None
        self._observer: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> WatchdogReloader:
        """Start watching (in daemon threads); returns self."""
        if self._thread is not None:
            return self
        self._stop.clear()
        observer = self._start_observer() if self.use_watchdog else None
        if observer is not None:
            self._observer, self.backend = observer, "watchdog"
            target = self._dispatch_loop
        else:
            self.backend = "polling"
            self._files = _scan(self.paths)
            target = self._poll_loop
        self._thread = threading.Thread(target=target, name="lcore-reloader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and wait for the threads to end."""
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.interval * 2))
            self._thread = None

    def __enter__(self) -> WatchdogReloader:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- watchdog ------------------------------------------------------------------------
    def _start_observer(self) -> Any:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            _log.info("watchdog is not installed; the reloader polls every %ss", self.interval)
            return None
        reloader = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.is_directory or event.event_type not in ("modified", "created", "moved"):
                    return
                path = getattr(event, "dest_path", "") or event.src_path
                if isinstance(path, bytes):
                    path = os.fsdecode(path)
                if _wanted(path):
                    with reloader._lock:
                        reloader._pending.add(os.path.abspath(path))

        observer = Observer()
        handler = Handler()
        for path in self.paths:
            if os.path.isdir(path):
                observer.schedule(handler, path, recursive=True)
            elif os.path.isfile(path):
                observer.schedule(handler, os.path.dirname(os.path.abspath(path)), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def _dispatch_loop(self) -> None:
        # Editors write a file in several steps; events are coalesced per ``interval``.
        while not self._stop.wait(self.interval):
            with self._lock:
                pending, self._pending = sorted(self._pending), set()
            for path in pending:
                if self._watched(path):
                    self._notify(path)

    def _watched(self, path: str) -> bool:
        for root in self.paths:
            root = os.path.abspath(root)
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return True
        return False

    # -- polling -------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.wait(self.interval):
            files = _scan(self.paths)
            changed = _changed(self._files, files)
            self._files = files
            for path in changed:
                self._notify(path)


class AsyncReloader(_Base):
    """Poll for changes from an asyncio task: ``start(loop=None)`` / ``stop()``.

    ``AsyncReloader(app, paths=['./'], interval=1.0, callback=None)``; the callback may
    be a coroutine function. ``start()`` without a loop uses the running loop.
    """

    def __init__(
        self,
        app: Any,
        paths: Iterable[str] | str | None = None,
        interval: float = 1.0,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(app, paths, interval, callback)
        self._task: Any = None
        self._files: dict[str, tuple[int, int]] = {}

    def start(self, loop: Any = None) -> AsyncReloader:
        """Schedule the watch task on ``loop`` (default: the running loop); returns self."""
        import asyncio

        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    "AsyncReloader.start() needs a running event loop or loop=..."
                ) from None
        self._files = _scan(self.paths)  # the baseline is taken now, not when the task runs
        self._loop = loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running or not loop.is_running():
            self._task = loop.create_task(self._watch())
        else:  # a loop running in another thread
            self._task = asyncio.run_coroutine_threadsafe(self._watch(), loop)
        return self

    def stop(self) -> None:
        """Cancel the watch task."""
        task, self._task = self._task, None
        if task is None:
            return
        import asyncio

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if isinstance(task, asyncio.Task) and self._loop is not running and self._loop.is_running():
            self._loop.call_soon_threadsafe(task.cancel)
        else:
            task.cancel()

    @property
    def running(self) -> bool:
        """True while the watch task is scheduled."""
        return self._task is not None and not self._task.done()

    async def _watch(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(self.interval)
            files = _scan(self.paths)
            changed = _changed(self._files, files)
            self._files = files
            for path in changed:
                rv = self._notify(path)
                if inspect.isawaitable(rv):
                    try:
                        await rv
                    except Exception:
                        _log.exception("reload callback failed for %s", path)


# -- the process reloader ------------------------------------------------------------------

#: Set in the child's environment: the child serves instead of starting a reloader.
CHILD_ENV = "LCORE_CHILD"
_PARENT_ENV = "LCORE_RELOADER_PID"


def is_reloader_child() -> bool:
    """True in a server process started by :func:`run_with_reloader`."""
    return os.environ.get(CHILD_ENV) == "true"


def _watch_filter(change: Any, path: str) -> bool:
    parts = path.split(os.sep)
    return _wanted(path) and not any(p in _SKIP_DIRS or p.startswith(".") for p in parts[:-1])


def watch_changes(
    paths: Iterable[str], stop: threading.Event, interval: float = 0.5, backend: str | None = None
) -> Iterator[list[str]]:
    """Yield the changed files under ``paths`` in batches until ``stop`` is set.

    ``backend`` is ``'watchfiles'`` or ``'polling'``; by default watchfiles when it is
    installed. Only the files ``WatchdogReloader`` watches count (``.py``, templates,
    JSON and YAML; not in caches, hidden directories or ``node_modules``).
    """
    roots = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    if (backend or select_backend()) == "watchfiles":
        watchfiles = require("watchfiles", "reload", "the watchfiles reloader backend")

        for changes in watchfiles.watch(
            *roots,
            watch_filter=_watch_filter,
            stop_event=stop,
            debounce=400,
            rust_timeout=int(interval * 1000) or 500,
            yield_on_timeout=False,
            raise_interrupt=False,
        ):
            yield sorted({path for _, path in changes})
        return
    files = _scan(roots)
    while not stop.wait(interval):
        current = _scan(roots)
        changed = _changed(files, current) + sorted(set(files) - set(current))
        files = current
        if changed:
            yield changed


def select_backend() -> str:
    """``'watchfiles'`` when it is importable, else ``'polling'``."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return "polling"
    return "watchfiles"


def child_command() -> list[str]:
    """The command line that started this program (``python -m pkg`` kept as such)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        name = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return [sys.executable, "-m", name, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def run_with_reloader(
    command: list[str] | None = None, paths: Iterable[str] | None = None, interval: float = 0.5
) -> int:
    """Run ``command`` (default: this program again) as a child; restart it on changes.

    Watches ``paths`` (default: the current directory and the directory of the script
    being run). SIGINT and SIGTERM stop the child and return 0. A child that exits
    before any change was seen ends the reloader with its status (a port in use or a
    bad app spec is not fixed by editing code); after a restart, a child that exits
    (a syntax error being fixed) is started again at the next change.
    """
    command = command or child_command()
    roots = list(paths or _default_paths())
    backend = select_backend()
    how = (
        "watchfiles"
        if backend == "watchfiles"
        else (f"polling every {interval}s; {install_hint('watchfiles')} to use watchfiles")
    )
    print(f"lcore: watching {', '.join(roots)} for changes ({how})", file=sys.stderr, flush=True)
    env = dict(os.environ, **{CHILD_ENV: "true", _PARENT_ENV: str(os.getpid())})
    stop = threading.Event()
    changed = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        changed.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def watch() -> None:
        for paths_changed in watch_changes(roots, stop, interval, backend):
            _log.warning("Changed: %s; restarting", ", ".join(paths_changed))
            changed.set()

    watcher = threading.Thread(target=watch, name="lcore-reloader", daemon=True)
    watcher.start()
    child: subprocess.Popen[bytes] | None = subprocess.Popen(command, env=env)
    restarted = False
    try:
        while not stop.is_set():
            changed.wait(0.1)
            if stop.is_set():
                break
            if child is not None and child.poll() is not None:
                if not restarted:
                    return child.returncode
                print(
                    f"lcore: the server exited with status {child.returncode}; "
                    "waiting for a change to restart it",
                    file=sys.stderr,
                    flush=True,
                )
                child = None
            if changed.is_set():
                changed.clear()
                _stop_child(child)
                child = subprocess.Popen(command, env=env)
                restarted = True
    finally:
        stop.set()
        _stop_child(child)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        watcher.join(timeout=5)
    return 0


def _default_paths() -> list[str]:
    paths = [os.getcwd()]
    script = sys.argv[0] if sys.argv else ""
    if script.endswith(".py") and os.path.isfile(script):
        paths.append(os.path.dirname(os.path.abspath(script)))
    return paths


def _stop_child(child: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if child is None or child.poll() is not None:
        return
    child.terminate()  # SIGTERM: the server finishes open requests and runs on_shutdown
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def watch_parent() -> None:
    """In a reloader child: stop (SIGTERM to itself) when the reloader process is gone."""
    parent = os.environ.get(_PARENT_ENV)
    if not parent or not is_reloader_child():
        return

    def check() -> None:
        while os.getppid() == int(parent):
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=check, name="lcore-reloader-parent", daemon=True).start()
