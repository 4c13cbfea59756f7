"""Response headers are checked when they are set, not when they are sent (issue 12).

A name must be an RFC 9110 token; a value latin-1 text without control characters
(HTAB aside). Every way of setting a header on the response refuses anything else with a
ValueError at the call, so a handler that sets a bad header gets an ordinary 500 page
instead of a failure (or a dropped connection) when the server writes the headers.
"""

from __future__ import annotations

import anyio
import pytest

from lcore import HTTPError, HTTPResponse, Lcore, response

from .test_protocol_edges import call_wsgi

SETTERS = {
    "set_header": lambda n, v: response.set_header(n, v),
    "add_header": lambda n, v: response.add_header(n, v),
    "response[]": lambda n, v: response.__setitem__(n, v),
    "headers[]": lambda n, v: response.headers.__setitem__(n, v),
    "headers.append": lambda n, v: response.headers.append(n, v),
    "headers.replace": lambda n, v: response.headers.replace(n, v),
    "headers.update": lambda n, v: response.headers.update({n: v}),
    "headers.setdefault": lambda n, v: response.headers.setdefault(n, v),
    "HTTPResponse(headers=)": lambda n, v: HTTPResponse("x", headers={n: v}),
    "HTTPResponse(headers=[])": lambda n, v: HTTPResponse("x", headers=[(n, v)]),
    "HTTPError(**headers)": lambda n, v: HTTPError(400, "x", **{n: v}),
}

BAD_NAMES = [
    "Bad Name",
    "X:Y",
    "X-A\x01",
    "X-A\x7f",
    "",
    "X-Caf\u00e9",
    "X(A)",
    'X"A',
    "X-A\r\nX-Injected",
]
BAD_VALUES = [
    "caf\u20ac",
    "\u2028",
    "a\x01b",
    "a\x0bb",
    "a\x7fb",
    "a\x00b",
    "a\r\nX-Injected: 1",
    "a\nb",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_header_name_refused_when_set(make_client, name):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="Header name"):
            response.set_header(name, "v")
        return "ok"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (200, "ok")


@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_header_value_refused_when_set(make_client, value):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="X-Note value .*(control characters|latin-1)"):
            response.set_header("X-Note", value)
        return "ok"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (200, "ok")
    assert "x-note" not in r.headers


@pytest.mark.parametrize("setter", list(SETTERS))
def test_every_way_of_setting_a_header_checks_it(make_client, setter):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="Header name"):
            SETTERS[setter]("Bad Name", "v")
        with pytest.raises(ValueError, match="latin-1"):
            SETTERS[setter]("X-Note", "caf\u20ac")
        with pytest.raises(ValueError, match="control characters"):
            SETTERS[setter]("X-Note", "a\x01b")
        return "ok"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (200, "ok")
    assert "x-note" not in r.headers


@pytest.mark.parametrize(
    ("name", "value"), [("Bad Name", "v"), ("X-A", "caf\u20ac"), ("X-A", "a\x01b")]
)
def test_handler_setting_a_bad_header_gets_an_ordinary_500_page(make_client, name, value):
    app = Lcore()
    seen = []

    @app.route("/")
    def h():
        try:
            response.set_header(name, value)
        except ValueError as e:
            seen.append(e)
            raise
        return "never"

    r = make_client(app).get("/")
    assert r.status_code == 500
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert "Internal Server Error" in r.text
    assert len(seen) == 1  # raised by set_header, not later while sending


def test_header_setters_still_take_good_headers(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("X-Tab", "a\tb")
        response.headers["x_under"] = "  padded\t"  # surrounding whitespace is not part of a value
        response.add_header("X-Multi", 1)
        response.add_header("x-multi", "2")
        response["X-Token!#$%&'*+-.^_`|~9"] = "ok"
        response.set_header("X-Empty", "")
        return "ok"

    r = make_client(app).get("/")
    assert r.headers["x-tab"] == "a\tb"
    assert r.headers["x-under"] == "padded"
    assert r.headers.get_list("x-multi") == ["1", "2"]
    assert r.headers["x-token!#$%&'*+-.^-`|~9"] == "ok"  # '_' becomes '-', as always
    assert r.headers["x-empty"] == ""


def _latin1_app():
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("X-Latin", "caf\u00e9 \u00ff")
        return "ok"

    return app


def test_latin1_header_value_is_sent_wsgi():
    # Raw WSGI: the test client's transport (httpx) only takes ASCII header values.
    status, headers, _ = call_wsgi(_latin1_app())
    assert (status, headers["X-Latin"]) == (200, "caf\u00e9 \u00ff")  # PEP 3333: latin-1 str


def test_latin1_header_value_is_sent_asgi():
    # Raw ASGI, to see the bytes (the shared call_asgi helper decodes them as UTF-8).
    sent = []

    async def main():
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"srv")],
            "client": ("10.0.0.1", 1),
            "server": ("srv", 80),
        }

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(m):
            sent.append(m)

        await _latin1_app()(scope, receive, send)

    anyio.run(main)
    assert sent[0]["status"] == 200
    assert (b"x-latin", b"caf\xe9 \xff") in sent[0]["headers"]


@pytest.mark.parametrize(
    "line", ["200 O\x01K", "200 O\x7fK", "200 caf\u20ac", "200 OK\r\nX-Injected: 1", "200 O\nK"]
)
def test_bad_status_line_refused_when_set(make_client, line):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="Status line"):
            response.status = line
        with pytest.raises(ValueError, match="Status line"):
            HTTPResponse("x", status=line)
        response.status = "299 Fine \u00e9t\u00e9"[:8]  # a latin-1 reason phrase is fine
        return "ok"

    r = make_client(app).get("/")
    assert (r.status_code, r.text) == (299, "ok")
