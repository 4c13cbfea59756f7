"""The WSGI adapter obeys PEP 3333, checked by the stdlib's ``wsgiref.validate``.

The validator wraps the app and raises on any protocol violation: start_response
called twice or with bad types, non-bytes body chunks, close() not called on the
returned iterable, headers that are not native strings, and so on.
"""

from __future__ import annotations

import io
import sys
import warnings
from typing import Any
from wsgiref.validate import validator

import pytest

from lcore import HTTPError, Lcore, abort, response, static_file


def _environ(
    method: str = "GET", path: str = "/", body: bytes = b"", **extra: str
) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/json"
    env.update(extra)
    return env


@pytest.fixture
def app(tmp_path) -> Lcore:
    app = Lcore()
    (tmp_path / "f.txt").write_bytes(b"file body")

    @app.route("/")
    def index():
        return "hi"

    @app.route("/json")
    def js():
        return {"a": 1}

    @app.route("/gen")
    def gen():
        yield "a"
        yield b"b"

    @app.route("/agen")
    async def agen():
        yield "x"
        yield "y"

    @app.route("/empty204")
    def empty():
        response.status = 204
        return "ignored"

    @app.route("/notmod")
    def notmod():
        response.status = 304
        return "ignored"

    @app.route("/file")
    def f():
        return static_file("f.txt", root=str(tmp_path))

    @app.route("/err")
    def err():
        abort(403, "no")

    @app.route("/boom")
    def boom():
        raise RuntimeError("x")

    @app.post("/echo")
    async def echo():
        from lcore import request

        return request.json

    return app


CASES = [
    ("GET", "/", 200, b"hi"),
    ("GET", "/json", 200, b'{"a":1}'),
    ("GET", "/gen", 200, b"ab"),
    ("GET", "/agen", 200, b"xy"),
    ("HEAD", "/", 200, b""),
    ("HEAD", "/gen", 200, b""),
    ("GET", "/empty204", 204, b""),
    ("GET", "/notmod", 304, b""),
    ("GET", "/file", 200, b"file body"),
    ("HEAD", "/file", 200, b""),
    ("GET", "/err", 403, None),
    ("GET", "/boom", 500, None),
    ("GET", "/missing", 404, None),
    ("DELETE", "/", 405, None),
    ("POST", "/echo", 200, b'{"k":[1,2]}'),
]


@pytest.mark.parametrize(
    "method,path,status,body", CASES, ids=[f"{m} {p}" for m, p, _s, _b in CASES]
)
def test_responses_pass_the_pep3333_validator(
    app: Lcore, method: str, path: str, status: int, body: bytes | None
) -> None:
    checked = validator(app)
    seen: dict[str, Any] = {}

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"], seen["exc_info"] = s, headers, exc_info
        return lambda data: None

    payload = b'{"k":[1,2]}' if method == "POST" else b""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the validator warns on soft violations
        result = checked(_environ(method, path, payload), start_response)
        chunks = list(result)
        result.close()
    assert int(seen["status"].split()[0]) == status
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in seen["headers"])
    if body is not None:
        assert b"".join(chunks) == body
    if status in (204, 304):
        assert "content-length" not in {k.lower() for k, _ in seen["headers"]}
    if status == 500:
        assert seen["exc_info"] is not None and seen["exc_info"][0] is RuntimeError


def test_header_names_leave_in_title_case(app: Lcore) -> None:
    @app.route("/xss")
    def xss():
        response.set_header("x-xss-protection", "0")
        return ""

    seen = {}
    app(_environ("GET", "/xss"), lambda s, h, e=None: seen.setdefault("h", h))
    assert ("X-Xss-Protection", "0") in seen["h"]


def test_close_is_called_on_generator_bodies(app: Lcore) -> None:
    closed = []

    @app.route("/tracked")
    def tracked():
        try:
            yield "one"
            yield "two"
        finally:
            closed.append(True)

    result = app(_environ("GET", "/tracked"), lambda s, h, e=None: None)
    it = iter(result)
    assert next(it) == b"one"
    result.close()  # the server stops early (client went away)
    assert closed == [True]


def test_file_wrapper_is_used_when_offered(app: Lcore) -> None:
    used = []

    class Wrapper:
        def __init__(self, f: Any, size: int) -> None:
            used.append(size)
            self.f = f

        def __iter__(self) -> Any:
            return iter(lambda: self.f.read(4), b"")

        def close(self) -> None:
            self.f.close()

    env = _environ("GET", "/file")
    env["wsgi.file_wrapper"] = Wrapper
    result = app(env, lambda s, h, e=None: None)
    assert b"".join(result) == b"file body"
    result.close()
    assert used


def test_http_error_keeps_headers_set_before_raise(app: Lcore) -> None:
    @app.route("/teapot")
    def teapot():
        response.set_header("X-Before", "1")
        raise HTTPError(418, "short and stout")

    seen = {}
    out = app(_environ("GET", "/teapot"), lambda s, h, e=None: seen.update(s=s, h=h))
    assert seen["s"].startswith("418") and ("X-Before", "1") in seen["h"]
    assert b"short and stout" in b"".join(out)
