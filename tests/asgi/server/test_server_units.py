"""Small units of the embedded server: app import, Date header cache, status table, config."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from lcore_asgi.server import Config, Server
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
