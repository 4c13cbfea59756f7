"""Server options that pick the HTTP/1.1 driver (``http``) and the event loop (``loop``)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from server_support import HAVE_HTTPTOOLS, hello_app, raw_exchange, running_server

from lcore_asgi.server import Config
from lcore_asgi.server.h11_protocol import H11Connection
from lcore_asgi.server.main import build_parser

try:
    import uvloop
except ImportError:  # pragma: no cover - the test extra installs it
    uvloop = None

needs_httptools = pytest.mark.skipif(not HAVE_HTTPTOOLS, reason="httptools is not installed")
needs_uvloop = pytest.mark.skipif(uvloop is None, reason="uvloop is not installed")


def _serving_app(seen: list[Any]) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(type(asyncio.get_running_loop()).__module__)
        await hello_app(scope, receive, send)

    return app


def _driver_of(server: Any) -> type:
    """The driver class of the one connection open on ``server`` while a request waits."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # head not finished: the driver waits
        for _ in range(100):
            connections = list(server.state.connections)
            if connections:
                return type(connections[0])
            sock.settimeout(0.01)
            try:
                sock.recv(1)
            except TimeoutError:
                pass
    raise AssertionError("no connection appeared")


@needs_httptools
@pytest.mark.parametrize(
    ("http", "driver"),
    [
        ("h11", "H11Connection"),
        ("httptools", "HttptoolsConnection"),
        ("auto", "HttptoolsConnection"),
    ],
)
def test_http_option_picks_the_driver(http: str, driver: str) -> None:
    with running_server(hello_app, http=http) as server:
        assert _driver_of(server).__name__ == driver
        assert b"hello" in raw_exchange(
            server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )


@needs_uvloop
@pytest.mark.parametrize(
    ("loop", "module"), [("asyncio", "asyncio"), ("uvloop", "uvloop"), ("auto", "uvloop")]
)
def test_loop_option_picks_the_event_loop(loop: str, module: str) -> None:
    seen: list[str] = []
    with running_server(_serving_app(seen), loop=loop) as server:
        raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert seen and seen[0].split(".")[0] == module


def test_h11_is_the_fallback() -> None:
    config = Config(app=hello_app, http="h11", loop="asyncio")
    assert config.http_driver == "h11"
    assert config.event_loop == "asyncio"
    assert config.run_options() == {"backend": "asyncio", "backend_options": {"use_uvloop": False}}
    assert H11Connection.__name__ == "H11Connection"


@pytest.mark.parametrize(
    "options", [{"http": "h3"}, {"loop": "trio"}], ids=["unknown-driver", "unknown-loop"]
)
def test_unknown_choices_are_refused(options: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        Config(app=hello_app, **options)


def test_cli_flags_reach_the_config() -> None:
    args = build_parser().parse_args(["app:app", "--http", "h11", "--loop", "asyncio"])
    assert (args.http, args.loop) == ("h11", "asyncio")
    defaults = build_parser().parse_args(["app:app"])
    assert (defaults.http, defaults.loop) == ("auto", "auto")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["app:app", "--http", "h2"])
