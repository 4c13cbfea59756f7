"""Running apps: ``python -m lcore``, ``app.run(server=...)``, reloaders, shutdown, tasks.

The CLI and ``app.run`` tests start real processes on free 127.0.0.1 ports, answer them
with httpx and stop them by pid (SIGTERM, SIGKILL after a bound). Protocol-neutral by
nature: which protocol a server speaks is the server's choice, so these are not
parametrised over ``proto``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import lcore
from lcore import AsyncReloader, BackgroundTaskPool, Lcore, WatchdogReloader
from lcore.__main__ import _parse_bind, build_parser
from lcore.server import AutoServer, BjoernServer, LcoreASGIServer, _resolve_server, server_names

ROOT = Path(__file__).resolve().parents[2]

APP_SRC = """
import os, sys
from lcore import Lcore, on_shutdown, response

app = Lcore()

@app.route("/")
def index():
    return {"debug": app.config["debug"], "x": app.config.get("x"), "flag": app.config.get("flag"),
            "ini": app.config.get("section.key"), "json": app.config.get("j.k"),
            "env": os.environ.get("LCORE_TEST_ENV"), "kept": os.environ.get("LCORE_TEST_KEPT"),
            "pid": os.getpid(), "version": VERSION}

@app.route("/health")
def health():
    return "ok"

VERSION = 1
MARK = os.environ.get("LCORE_TEST_MARK")
if MARK:
    @on_shutdown
    def _mark():
        with open(MARK, "a") as f:
            f.write("down %d\\n" % os.getpid())

if __name__ == "__main__":
    server = sys.argv[1] if sys.argv[1] != "default" else None
    reload = len(sys.argv) > 3 and sys.argv[3] == "reload"
    app.run(server=server, host="127.0.0.1", port=int(sys.argv[2]), quiet=True, reloader=reload, interval=0.2)
"""

PLUGIN_SRC = """
import functools
from lcore import response

class HeaderPlugin:
    name = "hdr"
    api = 2

    def apply(self, callback, route):
        @functools.wraps(callback)
        def wrapper(*a, **ka):
            response.set_header("X-Plugin", "on")
            return callback(*a, **ka)
        return wrapper
"""

DEFAULT_APP_SRC = """
from lcore import route

@route("/health")
def health():
    return "default-app"
"""

# -- process helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("LCORE_CHILD", None)
    env.pop("LCORE_LOCKFILE", None)
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM by pid; SIGKILL to the process group we created if it lingers."""
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
    return proc.returncode


class Proc:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def get(self, path: str = "/") -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)


def _wait_ready(p: Proc, timeout: float = 25.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if p.proc.poll() is not None:
            raise AssertionError(f"exited with {p.proc.returncode}:\n{p.output()}")
        try:
            if p.get("/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer within {timeout}s:\n{p.output()}")
        time.sleep(0.1)


@contextmanager
def started(
    args: list[str], cwd: Path, port: int, env: dict[str, str] | None = None, ready: bool = True
) -> Iterator[Proc]:
    log = cwd / f"proc-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=str(cwd),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or _env(),
            start_new_session=True,
        )
    p = Proc(proc, f"http://127.0.0.1:{port}", log)
    try:
        if ready:
            _wait_ready(p)
        yield p
    finally:
        stop(proc)


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, **kw: object):
    port = free_port()
    return started(["-m", "lcore", *args, "-b", f"127.0.0.1:{port}"], cwd, port, env, **kw)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(APP_SRC)
    (tmp_path / "myplugin.py").write_text(PLUGIN_SRC)
    (tmp_path / "defaultapp.py").write_text(DEFAULT_APP_SRC)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "webmod.py").write_text(APP_SRC.replace("app = Lcore()", "application = app = Lcore()"))
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); /proc tells the truth on Linux
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# -- python -m lcore ---------------------------------------------------------------------------


def test_cli_version():
    out = subprocess.run(
        [sys.executable, "-m", "lcore", "--version"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=30,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == lcore.__version__


def test_cli_without_app_is_a_usage_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "lcore"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=30,
    )
    assert out.returncode == 2 and "no application given" in out.stderr


def test_cli_bad_app_and_bad_server_fail_in_one_line(project):
    out = subprocess.run(
        [sys.executable, "-m", "lcore", "nosuchmodule"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=project,
        timeout=30,
    )
    # a bad app spec is a usage error: status 2, as for the other entry points
    assert out.returncode == 2 and "could not import module 'nosuchmodule'" in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "lcore", "myapp", "-s", "nosuchserver"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=project,
        timeout=30,
    )
    assert out.returncode == 1 and "unknown server 'nosuchserver'" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("spec", ["myapp", "myapp.py", "myapp:app", "pkg.webmod:application"])
def test_cli_app_spec_forms(project, spec):
    with cli([spec], project) as p:
        r = p.get("/")
        assert r.status_code == 200
        assert r.json()["debug"] is False
        assert r.headers["server"] == "lcore"  # the embedded server by default


def test_cli_module_using_the_default_app(project):
    with cli(["defaultapp"], project) as p:
        assert p.get("/health").text == "default-app"


def test_cli_py_path_from_another_directory(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with cli([str(project / "myapp.py")], elsewhere) as p:
        assert p.get("/").json()["version"] == 1


@pytest.mark.parametrize(
    "server,header",
    [
        ("wsgiref", "WSGIServer"),
        ("uvicorn", "uvicorn"),
        ("gunicorn", "gunicorn"),
        ("lcore", "lcore"),
    ],
)
def test_cli_server_flag(project, server, header):
    with cli(["myapp:app", "-s", server], project) as p:
        assert header in p.get("/").headers["server"]


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "gunicorn", "lcore"])
def test_cli_workers_flag(project, server):
    with cli(["myapp", "-s", server, "--workers", "2"], project) as p:
        assert p.get("/").json()["pid"] != p.proc.pid  # answered by a worker process
    assert p.proc.returncode == 0, p.output()


def test_uvicorn_workers_need_an_importable_app(project):
    port = free_port()
    script = project / "mainapp.py"
    script.write_text(APP_SRC.replace("app.run(server=server", "app.run(workers=2, server=server"))
    proc = subprocess.Popen(
        [sys.executable, "mainapp.py", "uvicorn", str(port)],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 1 and "importable module" in err


def test_cli_plugin_flag(project):
    with cli(["myapp", "-p", "myplugin:HeaderPlugin"], project) as p:
        assert p.get("/").headers["x-plugin"] == "on"


def test_cli_conf_and_param_flags(project):
    (project / "app.ini").write_text("[lcore]\nx = from-ini\n\n[section]\nkey = ini-value\n")
    (project / "app.json").write_text(json.dumps({"j": {"k": 7}}))
    with cli(["myapp", "-c", "app.ini", "-c", "app.json"], project) as p:
        body = p.get("/").json()
        assert (body["x"], body["ini"], body["json"]) == ("from-ini", "ini-value", 7)
    # -C wins over -c; a bare name is True, as in Lcore's CLI
    with cli(["myapp", "-c", "app.ini", "-C", "x=from-param", "-C", "flag"], project) as p:
        body = p.get("/").json()
        assert (body["x"], body["flag"]) == ("from-param", True)


def test_cli_debug_flag_turns_on_debug_and_docs(project):
    with cli(["myapp", "--debug"], project) as p:
        assert p.get("/").json()["debug"] is True
        assert p.get("/docs").status_code == 200
        assert p.get("/docs/openapi.json").json()["openapi"] == "3.1.0"
    with cli(["myapp"], project) as p:
        assert p.get("/docs").status_code == 404


def test_cli_reload_restarts_the_child_on_change(project):
    mark = project / "marks.txt"
    with cli(["myapp", "--reload", "-s", "wsgiref"], project, _env(LCORE_TEST_MARK=str(mark))) as p:
        first = p.get("/").json()
        assert first["version"] == 1 and first["pid"] != p.proc.pid  # served by a child
        src = project / "myapp.py"
        src.write_text(src.read_text().replace("VERSION = 1", "VERSION = 2"))
        later = time.time() + 5
        os.utime(src, (later, later))  # a visible mtime step even on coarse clocks

        def reloaded() -> bool:
            try:
                return p.get("/").json()["version"] == 2
            except httpx.HTTPError:
                return False

        _wait_for(reloaded, 30, "the reloaded child to answer")
        second = p.get("/").json()
        assert second["pid"] != first["pid"]
        assert not _alive(first["pid"])
        # the old child ran its shutdown callbacks on the way out
        assert f"down {first['pid']}" in mark.read_text()
        assert stop(p.proc) == 0
    # stopping the parent by pid stops the child too
    _wait_for(lambda: not _alive(second["pid"]), 20, "the child to stop with its parent")


def test_cli_bind_parsing():
    assert _parse_bind(None) == ("127.0.0.1", 8080)
    assert _parse_bind("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert _parse_bind(":9001") == ("127.0.0.1", 9001)
    assert _parse_bind("localhost") == ("localhost", 8080)
    assert _parse_bind("[::1]:9002") == ("::1", 9002)
    with pytest.raises(SystemExit):
        _parse_bind("host:notaport")
    args = build_parser().parse_args(
        [
            "-b",
            "h:1",
            "-s",
            "wsgiref",
            "-p",
            "a:B",
            "-c",
            "f.ini",
            "-C",
            "k=v",
            "--debug",
            "--reload",
            "mod:app",
        ]
    )
    assert (
        args.bind,
        args.server,
        args.plugin,
        args.conf,
        args.param,
        args.debug,
        args.reload,
        args.app,
    ) == ("h:1", "wsgiref", ["a:B"], ["f.ini"], ["k=v"], True, True, "mod:app")


# -- app.run(server=...) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "server,header",
    [
        ("default", "lcore"),
        ("wsgiref", "WSGIServer"),
        ("gunicorn", "gunicorn"),
        ("uvicorn", "uvicorn"),
        ("hypercorn", "hypercorn"),
        ("auto", "lcore"),
    ],
)
def test_app_run_on_each_server_and_sigterm_runs_on_shutdown(project, server, header):
    port = free_port()
    mark = project / f"mark-{server}.txt"
    env = _env(LCORE_TEST_MARK=str(mark))
    with started(["myapp.py", server, str(port)], project, port, env) as p:
        r = p.get("/")
        assert r.status_code == 200 and r.json()["version"] == 1
        assert header in r.headers["server"]
        assert not mark.exists()
        assert stop(p.proc) == 0, p.output()
    # the serving process (gunicorn: the master, and its worker at exit) ran on_shutdown
    assert f"down {p.proc.pid}" in mark.read_text()


def test_run_loads_dotenv_from_the_cwd(project):
    (project / ".env").write_text("LCORE_TEST_ENV='from dotenv'\nLCORE_TEST_KEPT=from-file\n")
    port = free_port()
    env = _env(LCORE_TEST_KEPT="from-environment")
    with started(["myapp.py", "wsgiref", str(port)], project, port, env) as p:
        body = p.get("/").json()
        assert body["env"] == "from dotenv"
        assert body["kept"] == "from-environment"  # variables already set win


def test_app_run_reloader_restarts_on_change(project):
    port = free_port()
    with started(["myapp.py", "default", str(port), "reload"], project, port) as p:
        first = p.get("/").json()
        src = project / "myapp.py"
        src.write_text(src.read_text().replace("VERSION = 1", "VERSION = 3"))
        later = time.time() + 5
        os.utime(src, (later, later))

        def reloaded() -> bool:
            try:
                return p.get("/").json()["version"] == 3
            except httpx.HTTPError:
                return False

        _wait_for(reloaded, 30, "the reloaded child")
        assert p.get("/").json()["pid"] != first["pid"]


# -- run() and adapters in-process -------------------------------------------------------------


def test_adapters_are_exported_and_named():
    for name in (
        "ServerAdapter",
        "WSGIRefServer",
        "GunicornServer",
        "WaitressServer",
        "CherootServer",
        "GeventServer",
        "EventletServer",
        "TornadoServer",
        "TwistedServer",
        "MeinheldServer",
        "BjoernServer",
        "AiohttpServer",
        "PasteServer",
        "UvicornServer",
        "HypercornServer",
        "LcoreASGIServer",
        "AutoServer",
        "WatchdogReloader",
        "AsyncReloader",
    ):
        assert name in lcore.__all__ and getattr(lcore, name)
    assert server_names["wsgiref"] is lcore.WSGIRefServer and server_names["auto"] is AutoServer


def test_resolve_server():
    s = _resolve_server(None, "127.0.0.1", 1234, None, {})
    assert isinstance(s, LcoreASGIServer) and s.port == 1234
    s = _resolve_server("gunicorn", "0.0.0.0", 80, 4, {})
    assert s.options == {"workers": 4}
    s = _resolve_server("lcore.server:WSGIRefServer", "h", 1, None, {})
    assert isinstance(s, lcore.WSGIRefServer)
    with pytest.raises(ValueError, match="unknown server"):
        _resolve_server("nope", "h", 1, None, {})
    with pytest.raises(ValueError, match="unsupported server"):
        _resolve_server(object(), "h", 1, None, {})


def test_missing_server_package_says_what_to_install():
    with pytest.raises(ImportError, match="pip install bjoern"):
        BjoernServer().run(Lcore())


def test_wsgiref_adapter_in_a_thread():
    app = Lcore()
    app.route("/", callback=lambda: "hi")
    server = lcore.WSGIRefServer(port=0)
    server.quiet = True
    t = threading.Thread(target=server.run, args=(app,), daemon=True)
    t.start()
    _wait_for(lambda: hasattr(server, "srv"), 10, "wsgiref to bind")
    try:
        assert httpx.get(f"http://127.0.0.1:{server.port}/", timeout=5).text == "hi"
    finally:
        server.srv.shutdown()
        t.join(5)


# -- reloaders ---------------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.event = threading.Event()

    def __call__(self, path: str) -> None:
        self.paths.append(path)
        self.event.set()


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    later = time.time() + 3
    os.utime(path, (later, later))


def _check_reloader_notices_changes(tmp_path: Path, **kw: object) -> WatchdogReloader:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    rec = _Recorder()
    reloader = WatchdogReloader(Lcore(), paths=[str(tmp_path)], interval=0.1, callback=rec, **kw)
    reloader.start()
    try:
        time.sleep(0.3)
        _touch(tmp_path / "notes.txt", "still ignored\n")
        _touch(tmp_path / "a.py", "x = 2\n")
        assert rec.event.wait(10), "no change noticed"
        assert str(tmp_path / "a.py") in rec.paths
        rec.event.clear()
        (tmp_path / "sub").mkdir()
        _touch(tmp_path / "sub" / "page.html", "<p>new</p>")
        _wait_for(lambda: str(tmp_path / "sub" / "page.html") in rec.paths, 10, "a new file")
        assert not [p for p in rec.paths if p.endswith(".txt")]
    finally:
        reloader.stop()
    return reloader


def test_watchdog_reloader_with_watchdog(tmp_path):
    pytest.importorskip("watchdog")
    reloader = _check_reloader_notices_changes(tmp_path)
    assert reloader.backend == "watchdog"
    assert reloader._observer is None and reloader._thread is None  # stopped


def test_watchdog_reloader_falls_back_to_polling(tmp_path, monkeypatch):
    # Simulate "watchdog is not installed".
    monkeypatch.setitem(sys.modules, "watchdog", None)
    monkeypatch.setitem(sys.modules, "watchdog.events", None)
    monkeypatch.setitem(sys.modules, "watchdog.observers", None)
    reloader = _check_reloader_notices_changes(tmp_path)
    assert reloader.backend == "polling"


def test_watchdog_reloader_default_callback_resets_the_app(tmp_path, caplog):
    class App:
        resets = 0

        def reset(self) -> None:
            App.resets += 1

    (tmp_path / "m.py").write_text("")
    with caplog.at_level(logging.WARNING, logger="lcore"):
        with WatchdogReloader(
            App(), paths=str(tmp_path), interval=0.1, use_watchdog=False
        ) as reloader:
            time.sleep(0.2)
            _touch(tmp_path / "m.py", "y = 1\n")
            _wait_for(lambda: App.resets == 1, 10, "app.reset()")
        assert reloader.backend == "polling"
    assert "File changed" in caplog.text


def test_zero_argument_callback_and_single_file_path(tmp_path):
    target = tmp_path / "settings.json"
    target.write_text("{}")
    hits = threading.Event()
    reloader = WatchdogReloader(
        Lcore(), paths=[str(target)], interval=0.1, callback=hits.set, use_watchdog=False
    ).start()
    try:
        time.sleep(0.2)
        _touch(target, '{"a": 1}')
        assert hits.wait(10)
    finally:
        reloader.stop()


def test_async_reloader_on_the_running_loop(tmp_path):
    (tmp_path / "a.py").write_text("")
    seen: list[str] = []

    async def main() -> None:
        changed = asyncio.Event()

        async def callback(path: str) -> None:  # a coroutine callback is awaited
            seen.append(path)
            changed.set()

        reloader = AsyncReloader(
            Lcore(), paths=[str(tmp_path)], interval=0.05, callback=callback
        ).start()
        assert reloader.running
        await asyncio.sleep(0.1)
        _touch(tmp_path / "a.py", "z = 1\n")
        await asyncio.wait_for(changed.wait(), 10)
        reloader.stop()
        await asyncio.sleep(0)
        assert not reloader.running

    asyncio.run(main())
    assert seen == [str(tmp_path / "a.py")]


def test_async_reloader_with_an_explicit_loop(tmp_path):
    # The seed's form: a loop made first, the reloader started on it, then the loop run.
    (tmp_path / "a.py").write_text("")
    loop = asyncio.new_event_loop()
    try:
        hits: list[int] = []
        reloader = AsyncReloader(
            Lcore(), paths=[str(tmp_path)], interval=0.05, callback=lambda: hits.append(1)
        )
        reloader.start(loop=loop)

        async def change_and_wait() -> None:
            await asyncio.sleep(0.1)
            _touch(tmp_path / "a.py", "w = 1\n")
            for _ in range(200):
                if hits:
                    return
                await asyncio.sleep(0.05)

        loop.run_until_complete(change_and_wait())
        assert hits == [1]
        reloader.stop()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_async_reloader_needs_a_loop():
    with pytest.raises(RuntimeError, match="running event loop"):
        AsyncReloader(Lcore(), paths=["."]).start()


# -- BackgroundTaskPool ------------------------------------------------------------------------


def test_background_task_pool_submit_pending_shutdown(caplog):
    pool = BackgroundTaskPool(max_workers=2)
    gate = threading.Event()
    futures: list[Future[int]] = [
        pool.submit(lambda n: gate.wait(10) and n * 2, n) for n in range(4)
    ]
    assert pool.pending == 4  # two running, two queued
    gate.set()
    assert [f.result(10) for f in futures] == [0, 2, 4, 6]
    _wait_for(lambda: pool.pending == 0, 5, "pending to drop")

    def boom() -> None:
        raise RuntimeError("task failed")

    with caplog.at_level(logging.ERROR, logger="lcore"):
        f = pool.submit(boom)
        with pytest.raises(RuntimeError):
            f.result(5)
        _wait_for(lambda: "background task failed" in caplog.text, 5, "the failure to be logged")
    assert pool.pending == 0

    done = threading.Event()
    pool.submit(lambda: (time.sleep(0.2), done.set()))
    pool.shutdown(wait=True)  # waits for the queued task
    assert done.is_set() and pool.pending == 0
    with pytest.raises(RuntimeError):
        pool.submit(print)
