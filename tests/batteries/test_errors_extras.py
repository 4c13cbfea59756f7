"""A missing optional package names the extra that installs it (``lcore._extras``).

Each case runs in a fresh interpreter where the package is blocked by a ``sys.meta_path``
finder, exactly as if it were not installed; the rest of lcore is the real thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLOCK = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())

    def expect(call, message):
        try:
            call()
        except ImportError as exc:
            assert str(exc) == message, str(exc)
            assert isinstance(exc, ModuleNotFoundError), type(exc)
        else:
            raise AssertionError(f"no error; expected {message!r}")
    """
)


def run_blocked(packages: str, code: str, *args: str, cwd: Path | None = None) -> str:
    """Run ``code`` with ``packages`` unimportable; return its stdout (fails on a non-zero exit)."""
    script = BLOCK + textwrap.dedent(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script, packages, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_test_client_without_httpx() -> None:
    out = run_blocked(
        "httpx",
        """
        import lcore  # lcore itself never needs httpx
        def use():
            from lcore import TestClient
        expect(use, 'TestClient needs the \\'httpx\\' package: pip install "lcore[client]"')
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_redis_backends_without_redis() -> None:
    out = run_blocked(
        "redis",
        """
        from lcore import RedisRateLimitBackend
        import lcore_ws
        expect(RedisRateLimitBackend,
               'RedisRateLimitBackend needs the \\'redis\\' package: pip install "lcore[redis]"')
        expect(lcore_ws.RedisBackend,
               "Broadcast's RedisBackend needs the 'redis' package: pip install \\"lcore[redis]\\"")
        lcore_ws.MemoryBackend()  # the in-process default needs nothing
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_lcore_ws_without_websockets() -> None:
    out = run_blocked(
        "websockets",
        """
        import lcore_ws  # importing works; so do the options and the in-memory pieces
        lcore_ws.WebSocketOptions(max_size=1024)
        lcore_ws.Broadcast()
        expect(lambda: lcore_ws.serve,
               'lcore_ws.serve needs the \\'websockets\\' package: pip install "lcore[ws]"')

        from lcore import Lcore, TestClient
        app = Lcore()

        @app.websocket("/ws")
        async def echo(ws):
            await ws.accept()

        client = TestClient(app, protocol="wsgi")
        expect(lambda: client.websocket_connect("/ws"),
               "websocket_connect() through the WSGI side needs the 'websockets' package: "
               'pip install "lcore[ws]"')
        print("ok")
        """,
    )
    assert out == "ok\n"


def test_python_m_lcore_ws_without_websockets(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text("from lcore import Lcore\napp = Lcore()\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    script = BLOCK + textwrap.dedent(
        """
        import runpy
        sys.argv = ["lcore_ws", "myapp:app", "--port", "1"]
        runpy.run_module("lcore_ws", run_name="__main__")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "websockets"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: python -m lcore_ws needs the 'websockets' package: pip install \"lcore[ws]\"\n"
    )


def test_brotli_when_asked_for() -> None:
    out = run_blocked(
        "brotli",
        """
        from lcore import CompressionMiddleware, Lcore, TestClient
        expect(lambda: CompressionMiddleware(brotli=True),
               "CompressionMiddleware(brotli=True) needs the 'brotli' package: "
               'pip install "lcore[compression]"')
        app = Lcore()
        app.use(CompressionMiddleware(min_size=1))  # the default falls back to gzip

        @app.route("/")
        def index():
            return "x" * 500

        r = TestClient(app, protocol="wsgi").get("/", headers={"Accept-Encoding": "br, gzip"})
        print(r.headers["Content-Encoding"])
        """,
    )
    assert out == "gzip\n"


def test_watchfiles_backend_when_asked_for(tmp_path: Path) -> None:
    out = run_blocked(
        "watchfiles",
        """
        import threading
        from lcore.reloader import select_backend, watch_changes
        assert select_backend() == "polling"
        stop = threading.Event()
        expect(lambda: next(watch_changes([sys.argv[2]], stop, backend="watchfiles")),
               "the watchfiles reloader backend needs the 'watchfiles' package: "
               'pip install "lcore[reload]"')
        print("ok")
        """,
        str(tmp_path),
    )
    assert out == "ok\n"


@pytest.mark.parametrize(
    ("package", "function", "message"),
    [
        (
            "jinja2",
            "jinja2_template",
            "Jinja2Template needs the 'jinja2' package: pip install \"lcore[templates]\"",
        ),
        ("mako", "mako_template", "MakoTemplate needs the 'mako' package: pip install mako"),
    ],
)
def test_template_engines(package: str, function: str, message: str) -> None:
    out = run_blocked(
        package,
        f"""
        import lcore
        try:
            lcore.{function}("hello")
        except lcore.TemplateError as exc:
            assert isinstance(exc, ImportError)
            print(exc)
        """,
    )
    assert out == message + "\n"


def test_check_names_a_missing_package() -> None:
    out = run_blocked(
        "websockets,brotli",
        """
        from lcore import CompressionMiddleware, Lcore
        from lcore.commands import check

        app = Lcore()
        app.use(CompressionMiddleware())

        @app.websocket("/ws")
        async def ws(sock):
            await sock.accept()

        report = check(app)
        print("\\n".join(report.problems))
        print("\\n".join(n for n in report.notes if "brotli" in n))
        """,
    )
    assert out == (
        "WebSocket routes (/ws) need the 'websockets' package: pip install \"lcore[ws]\"\n"
        "CompressionMiddleware sends gzip only: Brotli needs the 'brotli' package "
        '(pip install "lcore[compression]")\n'
    )
