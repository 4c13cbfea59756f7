"""The shared command line (``lcore._cli``), app loader (``lcore._loader``) and reloader.

Every entry point (``python -m lcore``, ``python -m lcore_asgi``, ``python -m lcore_ws``
and ``app.run()``) runs as a real process on 127.0.0.1: a start-up error is one
``error: ...`` line on stderr, exit status 1 or 2, and no traceback unless
``--log-level debug``. Each process is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lcore._loader import AppLoadError, load_app, resolve_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import os
    from lcore import Lcore

    VERSION = 1
    app = Lcore()

    @app.route("/")
    def index():
        return {"version": VERSION, "pid": os.getpid()}

    def create_app():
        return app
    """
)

# ``app.run()`` and ``lcore.run("spec")`` from a script: run.py MODE TARGET PORT [key=value ...]
RUNNER = textwrap.dedent(
    """
    import sys
    import lcore

    mode, target, port = sys.argv[1:4]
    extra = dict(arg.split("=", 1) for arg in sys.argv[4:])
    if mode == "spec":
        lcore.run(target, host="127.0.0.1", port=int(port), quiet=True, **extra)
    else:
        import myapp
        myapp.app.run(host="127.0.0.1", port=int(port), quiet=True, **extra)
    """
)

ENTRY_POINTS = ["lcore", "lcore_asgi", "lcore_ws", "app.run"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(APP)
    (tmp_path / "run.py").write_text(RUNNER)
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **{"PYTHONPATH": str(ROOT), **extra})
    env.pop("LCORE_CHILD", None)
    env.pop("LCORE_RELOADER_PID", None)
    return env


def command(entry: str, spec: str, port: int, *options: str) -> list[str]:
    """The command line that serves ``spec`` on ``port`` with ``entry``."""
    if entry == "app.run":
        pairs = [
            f"{a.lstrip('-').replace('-', '_')}={b}" for a, b in zip(options[::2], options[1::2])
        ]
        mode = "app" if spec == "myapp:app" else "spec"
        return [sys.executable, "run.py", mode, spec, str(port), *pairs]
    return [sys.executable, "-m", entry, spec, "--host", "127.0.0.1", "--port", str(port), *options]


def run_to_exit(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def stop(proc: subprocess.Popen[str], timeout: float = 15) -> int | None:
    """SIGTERM by pid, then SIGKILL by pid if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def assert_one_error_line(result: subprocess.CompletedProcess[str], status: int, line: str) -> None:
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert result.returncode == status, result.stderr
    assert errors == [line], result.stderr
    assert result.stderr.rstrip("\n").endswith(line)
    assert "Traceback" not in result.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- start-up errors: one line, status 1 or 2, no traceback --------------------------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_address_in_use(project: Path, busy_port: int, entry: str) -> None:
    result = run_to_exit(command(entry, "myapp:app", busy_port), project)
    assert_one_error_line(
        result,
        1,
        f"error: cannot listen on 127.0.0.1:{busy_port}: address already in use "
        "(is another server running there?)",
    )


@pytest.mark.parametrize("entry", ["lcore", "lcore_asgi", "lcore_ws"])
def test_log_level_debug_adds_the_traceback(project: Path, busy_port: int, entry: str) -> None:
    result = run_to_exit(command(entry, "myapp:app", busy_port, "--log-level", "debug"), project)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip("\n").endswith(
        "address already in use (is another server running there?)"
    )


def _unprivileged() -> list[str] | None:
    """A command prefix under which binding port 80 is refused, or None if there is none.

    A non-root user needs nothing. Root keeps its uid (the interpreter may live under
    /root) but loses CAP_NET_BIND_SERVICE through ``setpriv``, so the kernel refuses the
    bind exactly as it would for an ordinary user.
    """
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]


def _port_80_is_privileged() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read()) > 80
    except OSError:
        return True


@pytest.mark.skipif(
    _unprivileged() is None or not _port_80_is_privileged(),
    reason="needs a way to run without CAP_NET_BIND_SERVICE (setpriv) and port 80 privileged",
)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_permission_denied_on_a_low_port(project: Path, entry: str) -> None:
    result = run_to_exit([*(_unprivileged() or []), *command(entry, "myapp:app", 80)], project)
    assert_one_error_line(
        result,
        1,
        "error: cannot listen on 127.0.0.1:80: permission denied "
        "(ports below 1024 need root or CAP_NET_BIND_SERVICE)",
    )


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("certfile", "line"),
    [
        (
            "missing.pem",
            "error: cannot load TLS certificate 'missing.pem': 'missing.pem' does not exist",
        ),
        (
            "garbage.pem",
            "error: cannot load TLS certificate 'garbage.pem': "
            "not a valid PEM certificate and private key",
        ),
    ],
)
def test_bad_certificate_file(project: Path, entry: str, certfile: str, line: str) -> None:
    result = run_to_exit(command(entry, "myapp:app", free_port(), "--certfile", certfile), project)
    assert_one_error_line(result, 2, line)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("spec", "line"),
    [
        (
            "nosuch:app",
            "error: could not import module 'nosuch' for app spec 'nosuch:app' "
            "(run from the directory containing it, or check the spelling)",
        ),
        (
            "myapp:nope",
            "error: module 'myapp' has no attribute 'nope' (from app spec 'myapp:nope')",
        ),
        (
            "myapp:app;x",
            "error: invalid app spec 'myapp:app;x': after ':' give a dotted attribute name, "
            "optionally followed by '()' to call a factory "
            "(e.g. 'myapp:app' or 'myapp:create_app()')",
        ),
        (
            "myapp:app.__class__",
            "error: invalid app spec 'myapp:app.__class__': after ':' give a dotted "
            "attribute name, optionally followed by '()' to call a factory "
            "(e.g. 'myapp:app' or 'myapp:create_app()')",
        ),
    ],
)
def test_bad_app_spec(project: Path, entry: str, spec: str, line: str) -> None:
    result = run_to_exit(command(entry, spec, free_port()), project)
    assert_one_error_line(result, 2, line)


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        (
            "lcore",
            "error: 'myapp:index' is the function index(), not a WSGI or ASGI app; "
            "if it builds the app, call it as a factory: 'myapp:index()'",
        ),
        (
            "app.run",
            "error: 'myapp:index' is the function index(), not a WSGI or ASGI app; "
            "if it builds the app, call it as a factory: 'myapp:index()'",
        ),
        (
            "lcore_asgi",
            "error: 'myapp:index' is the function index(), not an ASGI app "
            "(scope, receive, send); if it builds the app, call it as a factory: 'myapp:index()'",
        ),
        (
            "lcore_ws",
            "error: 'myapp:index' is the function index(), not an Lcore app: the WebSocket "
            "server serves an Lcore() app's @app.websocket routes",
        ),
    ],
)
def test_a_plain_function_is_refused_at_start_up(project: Path, entry: str, line: str) -> None:
    result = run_to_exit(command(entry, "myapp:index", free_port()), project)
    assert_one_error_line(result, 2, line)


def test_a_missing_server_package_names_what_to_install(project: Path) -> None:
    result = run_to_exit(command("lcore", "myapp:app", free_port(), "-s", "bjoern"), project)
    assert_one_error_line(
        result, 1, "error: server 'bjoern' needs the 'bjoern' package: pip install bjoern"
    )


# -- app specs that serve --------------------------------------------------------------------


def _serve(cmd: list[str], cwd: Path, port: int, log: Path, **env: str) -> subprocess.Popen[str]:
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=_env(**env), stdout=sink, stderr=subprocess.STDOUT, text=True
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"never listened: {log.read_text()}")


@pytest.mark.parametrize("entry", ["lcore", "lcore_asgi", "app.run"])
@pytest.mark.parametrize("spec", ["myapp", "myapp.py", "myapp:app", "myapp:create_app()"])
def test_spec_forms_serve(project: Path, entry: str, spec: str) -> None:
    port = free_port()
    proc = _serve(command(entry, spec, port), project, port, project / "log.txt")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).json()["version"] == 1
    finally:
        assert stop(proc) == 0, (project / "log.txt").read_text()


def test_ws_server_takes_a_factory_spec(project: Path) -> None:
    port = free_port()
    proc = _serve(
        command("lcore_ws", "myapp:create_app()", port), project, port, project / "log.txt"
    )
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 426
    finally:
        assert stop(proc) == 0


# -- the loader in-process ---------------------------------------------------------------------


def test_loader_errors_are_value_and_import_errors(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    try:
        assert resolve_app("myapp:create_app()") is resolve_app("myapp:app")
        assert load_app("myapp") is resolve_app("myapp:app")
        with pytest.raises(AppLoadError, match="not a WSGI or ASGI app") as info:
            load_app("myapp:index")
        assert isinstance(info.value, ValueError) and isinstance(info.value, ImportError)
        with pytest.raises(AppLoadError, match="not a factory function"):
            resolve_app("myapp:VERSION()")
        with pytest.raises(AppLoadError, match="invalid app spec"):
            resolve_app("myapp:create_app(1)")
        with pytest.raises(AppLoadError, match="is an int object, not a WSGI or ASGI app"):
            load_app("myapp:VERSION")

        # a handler taking the request is not an app; a WSGI function is one (for python
        # -m lcore, not for the ASGI server)
        def handler(request: object) -> str:
            return ""

        with pytest.raises(
            AppLoadError, match=r"^The function .*handler\(request\) is not a WSGI or ASGI app$"
        ):
            load_app(handler)
        load_app(lambda environ, start_response: [])
        with pytest.raises(AppLoadError, match="not an ASGI app"):
            load_app(lambda environ, start_response: [], protocol="asgi")
    finally:
        sys.modules.pop("myapp", None)


# -- the reloader ------------------------------------------------------------------------------


def _no_watchfiles(tmp_path: Path) -> str:
    """A PYTHONPATH entry on which ``import watchfiles`` fails as if it were not installed."""
    shadow = tmp_path / "shadow" / "watchfiles"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'watchfiles'\", name='watchfiles')\n"
    )
    return str(shadow.parent)


def _get(port: int) -> dict[str, int] | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).json()  # type: ignore[no-any-return]
    except httpx.HTTPError:
        return None


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running (an orphan that exited may stay a zombie where pid 1 does not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


BACKENDS = [
    "polling",
    pytest.param(
        "watchfiles",
        marks=pytest.mark.skipif(
            __import__("importlib").util.find_spec("watchfiles") is None,
            reason="watchfiles is not installed",
        ),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("entry", ["lcore", "lcore_asgi", "app.run"])
def test_reload_restarts_on_a_change(project: Path, entry: str, backend: str) -> None:
    port = free_port()
    path = (
        os.pathsep.join([_no_watchfiles(project), str(ROOT)]) if backend == "polling" else str(ROOT)
    )
    # app.run gets reloader="True" (run.py passes strings; any non-empty one is true)
    cmd = command(
        entry, "myapp:app", port, *(["--reload"] if entry != "app.run" else ["--reloader", "True"])
    )
    log = project / "log.txt"
    proc = _serve(cmd, project, port, log, PYTHONPATH=path)
    child = None
    try:
        first = _get(port)
        assert first is not None and first["version"] == 1
        child = first["pid"]
        assert child != proc.pid  # served by a child of the reloader
        expected = "(watchfiles)" if backend == "watchfiles" else 'pip install "lcore[reload]"'
        assert expected in log.read_text()
        time.sleep(1.1)  # a distinct mtime for polling
        src = project / "myapp.py"
        src.write_text(src.read_text().replace("VERSION = 1", "VERSION = 2"))
        _wait(lambda: (_get(port) or {}).get("version") == 2, 30, "the restarted server")
        second = _get(port)
        assert second is not None and second["pid"] != child
        _wait(lambda: not _alive(child), 10, "the old child to exit")
        child = second["pid"]
        assert stop(proc) == 0, log.read_text()
        _wait(lambda: not _alive(child), 20, "the child to stop with the reloader")
    finally:
        stop(proc)
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_reload_child_stops_when_the_reloader_is_killed(project: Path) -> None:
    port = free_port()
    proc = _serve(
        command("lcore_asgi", "myapp:app", port, "--reload"), project, port, project / "log.txt"
    )
    child = None
    try:
        body = _get(port)
        assert body is not None
        child = body["pid"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _wait(lambda: not _alive(child), 20, "the orphaned child to stop")
    finally:
        stop(proc)
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_reload_ends_with_the_status_of_a_child_that_cannot_start(
    project: Path, busy_port: int
) -> None:
    result = run_to_exit(command("lcore_asgi", "myapp:app", busy_port, "--reload"), project)
    assert_one_error_line(
        result,
        1,
        f"error: cannot listen on 127.0.0.1:{busy_port}: address already in use "
        "(is another server running there?)",
    )
