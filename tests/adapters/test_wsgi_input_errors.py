"""An error raised by the server's ``wsgi.input`` while the body is read is a 400.

WSGI only: ``wsgi.input`` is the WSGI server's object, and these are the errors real
servers raise from it (gunicorn's ``InvalidChunkSize``/``NoMoreData`` for bad chunk
framing or a truncated chunked body, a socket error when the client goes away). The
ASGI side gets the body as messages and has no such stream. Regression (issue 12):
under gunicorn ``zz\\r\\n`` chunk framing was a 500 "Unhandled error"; the real-server
check is in tests/e2e/test_trust_e2e.py.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

import pytest

from lcore import Lcore, request


class InvalidChunkSize(Exception):
    """What gunicorn raises from ``wsgi.input.read`` for ``zz\\r\\n`` chunk framing."""


class _BrokenInput:
    """A ``wsgi.input`` that gives ``good`` and then raises ``exc``, as a server does."""

    def __init__(self, good: bytes, exc: BaseException) -> None:
        self._good = io.BytesIO(good)
        self._exc = exc

    def read(self, size: int = -1) -> bytes:
        chunk = self._good.read(size if size and size > 0 else -1)
        if chunk:
            return chunk
        raise self._exc


def _app() -> Lcore:
    app = Lcore()

    @app.post("/body")
    def body():
        return {"size": len(request.body.read())}

    @app.post("/json")
    def json_():
        return {"json": request.json}

    @app.post("/forms")
    def forms():
        return {"forms": dict(request.forms)}

    @app.post("/files")
    def files():
        return {"files": list(request.files)}

    @app.post("/stream")
    def stream():
        return {"size": sum(len(c) for c in request.stream())}

    @app.post("/abody")
    async def abody():
        return {"size": len(request.body.read())}

    return app


APP = _app()

_CTYPES = {
    "/json": "application/json",
    "/forms": "application/x-www-form-urlencoded",
    "/files": "multipart/form-data; boundary=xx",
}


def _call(path: str, wsgi_input: Any, *, chunked: bool) -> tuple[str, bytes]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "h",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "1.2.3.4",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": wsgi_input,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": _CTYPES.get(path, "application/octet-stream"),
    }
    if chunked:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
        env["wsgi.input_terminated"] = True
    else:
        env["CONTENT_LENGTH"] = "1000"
    seen: dict[str, str] = {}
    out = APP(env, lambda s, h, e=None: seen.setdefault("s", s))
    try:
        body = b"".join(out)
    finally:
        if hasattr(out, "close"):
            out.close()
    return seen["s"], body


PATHS = ["/body", "/json", "/forms", "/files", "/stream", "/abody"]


@pytest.mark.parametrize("path", PATHS)
def test_bad_chunk_framing_from_the_server_is_a_400(path: str, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="lcore.error"):
        status, body = _call(
            path, _BrokenInput(b"--xx\r\nabc", InvalidChunkSize("zz")), chunked=True
        )
    assert status.startswith("400"), (status, body[:300])
    assert b"Bad request body" in body
    assert not [r for r in caplog.records if "Unhandled error" in r.getMessage()]


@pytest.mark.parametrize("path", PATHS)
def test_a_client_gone_mid_body_is_a_400(path: str) -> None:
    status, body = _call(
        path, _BrokenInput(b'{"a": ', ConnectionResetError(104, "reset")), chunked=False
    )
    assert status.startswith("400"), (status, body[:300])


def test_our_own_http_error_from_a_wrapped_input_keeps_its_status() -> None:
    # A wsgi.input wrapped by code that raises lcore's HTTPError (a limit of its own) is
    # answered with that error, not turned into the 400.
    from lcore import HTTPError

    status, _ = _call("/body", _BrokenInput(b"abc", HTTPError(413, "too large")), chunked=True)
    assert status.startswith("413")
