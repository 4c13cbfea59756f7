"""Small units of the embedded server: app import, Date header cache, status table, config."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from server_support import hello_app, raw_exchange, running_server

from lcore_asgi.server import Config, LifespanFailure, Server
from lcore_asgi.server._date import http_date
from lcore_asgi.server._importer import AppImportError, import_app
from lcore_asgi.server._status import STATUS_LINES, reason_phrase


def test_date_is_cached_within_a_second() -> None:
    first = http_date()
    assert first.endswith(b" GMT")
    assert http_date() is first or http_date() != first  # same object unless the second ticked


def test_status_lines_built_once() -> None:
    assert STATUS_LINES[200] == b"HTTP/1.1 200 OK\r\n"
    assert STATUS_LINES[404] == b"HTTP/1.1 404 Not Found\r\n"
    assert reason_phrase(599) == b"Server Error"


def test_import_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec_mod_a.py").write_text("app = 'A'\nother = 'B'\n")
    package = tmp_path / "spec_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "inner.py").write_text(
        textwrap.dedent(
            """
            class Holder:
                app = 'nested'
            app = 'C'
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert import_app("spec_mod_a") == "A"
        assert import_app("spec_mod_a:other") == "B"
        assert import_app("spec_mod_a.py") == "A"
        assert import_app("spec_pkg.inner:app") == "C"
        assert import_app("spec_pkg.inner:Holder.app") == "nested"
        with pytest.raises(AppImportError, match="has no attribute 'missing'"):
            import_app("spec_mod_a:missing")
        with pytest.raises(AppImportError, match="could not import module"):
            import_app("spec_not_there:app")
        with pytest.raises(AppImportError, match="not found"):
            import_app("nowhere.py")
    finally:
        for name in ("spec_mod_a", "spec_pkg", "spec_pkg.inner"):
            sys.modules.pop(name, None)


def test_import_error_inside_app_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spec_broken.py").write_text("import spec_dependency_missing\napp = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="spec_dependency_missing"):
            import_app("spec_broken:app")
    finally:
        sys.modules.pop("spec_broken", None)


def test_config_defaults_are_bounded() -> None:
    config = Config(app=None)
    assert config.max_body_size and config.h11_max_incomplete_event_size
    assert config.max_header_count and config.max_request_line_size
    assert config.timeout_keep_alive and config.timeout_headers and config.timeout_write
    assert config.ssl_context() is None


def test_run_in_thread_reports_port_and_stops() -> None:
    async def app(scope: dict, receive: object, send: object) -> None:
        return None

    server = Server(Config(app=app, port=0, lifespan="off", access_log=False))
    with server.run_in_thread() as running:
        assert running.port > 0
    assert server.state is not None and server.state.shutting_down


def test_lifespan_state_reaches_requests_and_shutdown_runs() -> None:
    events: list[str] = []
    seen: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["pool"] = "ready"
                    events.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        seen.append(dict(scope["state"]))
        await hello_app(scope, receive, send)

    with running_server(app) as srv:
        assert raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
    assert events == ["startup", "shutdown"]
    assert seen == [{"pool": "ready"}]


def test_app_without_lifespan_support_is_fine(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "no lifespan here"
        await hello_app(scope, receive, send)

    with running_server(app) as srv:
        answer = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert not [r for r in caplog.records if r.levelno >= 40]


def test_lifespan_startup_failure_raises() -> None:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    server = Server(Config(app=app, port=0, install_signal_handlers=False))
    with pytest.raises(LifespanFailure, match="no database"):
        anyio.run(server.serve)


def test_serve_function_blocks_until_signalled(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    (tmp_path / "fnapp.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 204, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b''})\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from lcore_asgi.server import serve; serve('fnapp:app', port={port})",
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(root)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        answer = b""
        while time.monotonic() < deadline and not answer:
            try:
                answer = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
            except OSError:
                time.sleep(0.1)
        assert answer.startswith(b"HTTP/1.1 204 No Content")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    assert code == 0


@pytest.mark.parametrize(
    "options",
    [
        {"lifespan": "sometimes"},
        {"workers": 0},
        {"keyfile": "key.pem"},
        {"max_header_count": 0},
        {"h2_max_frame_size": 1000},
    ],
)
def test_config_rejects_nonsense(options: dict) -> None:
    with pytest.raises(ValueError):
        Config(app=None, **options)
