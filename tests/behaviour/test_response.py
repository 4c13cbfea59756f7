"""Return types, response object, HTTPResponse, abort and redirect."""

from __future__ import annotations

import io

import pytest

from lcore import HTTPError, HTTPResponse, Lcore, abort, redirect, response, safe_redirect


def _app_returning(value):
    app = Lcore()
    app.route("/", callback=lambda: value() if callable(value) else value)
    return app


def test_return_str(make_client):
    r = make_client(_app_returning("h\u00e9llo")).get("/")
    assert r.status_code == 200
    assert r.body == "h\u00e9llo".encode()
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert r.headers["content-length"] == str(len("h\u00e9llo".encode()))


def test_return_bytes(make_client):
    r = make_client(_app_returning(b"\x00\x01raw")).get("/")
    assert r.body == b"\x00\x01raw"
    assert r.headers["content-length"] == "5"


def test_return_dict_and_list(make_client):
    app = Lcore()
    app.route("/d", callback=lambda: {"a": 1, "b": [1, 2]})
    app.route("/l", callback=lambda: [1, "two", None])
    c = make_client(app)
    r = c.get("/d")
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"a": 1, "b": [1, 2]}
    r = c.get("/l")
    assert r.headers["content-type"] == "application/json"
    assert r.json == [1, "two", None]


def test_return_none(make_client):
    app = Lcore()
    app.route("/", callback=lambda: None)
    r = make_client(app).get("/")
    assert (r.status_code, r.body) == (200, b"")
    assert r.headers["content-length"] == "0"


def test_return_and_raise_httpresponse(make_client):
    app = Lcore()

    @app.route("/ret")
    def ret():
        response.set_header("X-Before", "kept")
        return HTTPResponse("created", status=201, headers={"X-A": "1"}, X_B="2")

    @app.route("/raise")
    def rais():
        raise HTTPResponse("teapot", status=418, X_C="3")

    @app.route("/json")
    def js():
        return HTTPResponse({"k": "v"}, status=202)

    c = make_client(app)
    r = c.get("/ret")
    assert (r.status_code, r.text) == (201, "created")
    assert r.headers["x-a"] == "1"
    assert r.headers["x-b"] == "2"
    assert r.headers["x-before"] == "kept"
    r = c.get("/raise")
    assert (r.status_code, r.text, r.headers["x-c"]) == (418, "teapot", "3")
    r = c.get("/json")
    assert r.status_code == 202
    assert r.json == {"k": "v"}
    assert r.headers["content-type"] == "application/json"


def test_return_file_object(make_client, tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 200000)
    app = Lcore()

    @app.route("/f")
    def f():
        response.content_type = "application/octet-stream"
        return open(p, "rb")

    app.route("/bio", callback=lambda: io.BytesIO(b"from bytesio"))
    c = make_client(app)
    r = c.get("/f")
    assert r.status_code == 200
    assert r.body == b"x" * 200000
    assert r.headers["content-type"] == "application/octet-stream"
    assert c.get("/bio").body == b"from bytesio"


def test_return_generator_and_iterables(make_client):
    app = Lcore()

    @app.route("/gen")
    def gen():
        yield "a"
        yield b"b"
        yield ""
        yield "\u00e9"

    app.route("/list-of-str", callback=lambda: iter(["x", "y", "z"]))
    app.route("/tuple", callback=lambda: ("p", "q"))
    app.route("/empty", callback=lambda: iter([]))
    c = make_client(app)
    r = c.get("/gen")
    assert r.body == "ab\u00e9".encode()
    assert "content-length" not in r.headers
    assert c.get("/list-of-str").text == "xyz"
    assert c.get("/tuple").text == "pq"
    r = c.get("/empty")
    assert (r.status_code, r.body) == (200, b"")


def test_return_async_generator(make_client):
    app = Lcore()

    @app.route("/agen")
    async def agen():
        async def chunks():
            yield "one,"
            yield b"two"

        return chunks()

    @app.route("/sync-returns-agen")
    def sync_agen():
        async def chunks():
            for i in range(3):
                yield str(i)

        return chunks()

    c = make_client(app)
    assert c.get("/agen").text == "one,two"
    assert c.get("/sync-returns-agen").text == "012"


def test_generator_sees_request_context(make_client):
    app = Lcore()

    @app.route("/g")
    def g():
        from lcore import request

        yield "start "
        yield request.path

    assert make_client(app).get("/g").text == "start /g"


def test_generator_raising_http_error_before_output(make_client):
    app = Lcore()

    @app.route("/g")
    def g():
        abort(403, "nope")
        yield "never"

    r = make_client(app).get("/g")
    assert r.status_code == 403
    assert "nope" in r.text


def test_generator_raising_before_output_gives_500(make_client):
    app = Lcore()

    @app.route("/g")
    def g():
        raise RuntimeError("boom")
        yield "never"

    r = make_client(app).get("/g")
    assert r.status_code == 500


def test_streaming_chunks_are_not_buffered(make_client):
    import threading

    app = Lcore()
    gate = threading.Event()

    @app.route("/s")
    def s():
        yield "first"
        assert gate.wait(5)
        yield "second"

    c = make_client(app)
    with c.stream("GET", "/s") as r:
        it = r.iter_raw()
        assert next(it) == b"first"
        gate.set()
        assert b"".join(it) == b"second"


def test_unsupported_return_type_is_500(make_client):
    app = Lcore()
    app.route("/", callback=lambda: object())
    app.route("/int", callback=lambda: 5)
    c = make_client(app)
    assert c.get("/").status_code == 500
    assert c.get("/int").status_code == 500


def test_falsy_results_are_empty_bodies(make_client):
    app = Lcore()
    for i, value in enumerate((0, 0.0, False, "", b"")):
        app.route(f"/{i}", callback=lambda value=value: value)
    c = make_client(app)
    for i in range(5):
        r = c.get(f"/{i}")
        assert (r.status_code, r.body, r.headers["content-length"]) == (200, b"", "0")


@pytest.mark.parametrize(
    "status,line",
    [(201, "201 Created"), ("299 Custom Thing", "299 Custom Thing"), ("404", "404 Not Found")],
)
def test_status_int_and_string(make_client, status, line):
    app = Lcore()

    @app.route("/")
    def h():
        response.status = status
        return {
            "line": response.status_line,
            "code": response.status_code,
            "status": response.status,
        }

    r = make_client(app).get("/")
    assert r.status_code == int(line.split()[0])
    assert r.json == {"line": line, "code": int(line.split()[0]), "status": line}


def test_status_reason_reaches_wsgi_client(proto, make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.status = "299 Custom Thing"
        return ""

    r = make_client(app).get("/")
    # ASGI carries only the code; the reason phrase is the server's business.
    assert r.status == ("299 Custom Thing" if proto == "wsgi" else "299")


def test_bad_status_rejected():
    from lcore import BaseResponse

    r = BaseResponse()
    with pytest.raises(ValueError):
        r.status = 1000
    with pytest.raises(ValueError):
        r.status = "abc"


def test_headers(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("X-One", "1")
        response.set_header("x-one", "one")
        response.add_header("X-Multi", "a")
        response.add_header("X-Multi", "b")
        response["X-Item"] = "item"
        response.headers["X-Dict"] = "d"
        assert response.get_header("x-ONE") == "one"
        assert "x-item" in response
        return "ok"

    r = make_client(app).get("/")
    assert r.headers["x-one"] == "one"
    assert r.headers.get_list("x-multi") == ["a", "b"]
    assert r.headers["x-item"] == "item"
    assert r.headers["x-dict"] == "d"


def test_wsgi_header_names_title_case(proto):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("x-xss-protection", "0")
        return "ok"

    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["headers"] = headers

    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    b"".join(app(env, start_response))
    names = [k for k, _ in seen["headers"]]
    assert "X-Xss-Protection" in names and "Content-Type" in names and "Content-Length" in names


def test_content_type_and_charset(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.content_type = "text/plain; charset=latin-1"
        return "caf\u00e9"

    @app.route("/json-ct")
    def j():
        response.content_type = "application/vnd.api+json"
        return {"a": 1}

    @app.route("/json-list-ct")
    def jl():
        response.content_type = "application/problem+json"
        return [1]

    @app.route("/json-html-default")
    def jh():
        response.content_type = "text/html; charset=UTF-8"
        return {"b": 2}

    c = make_client(app)
    r = c.get("/")
    assert r.headers["content-type"] == "text/plain; charset=latin-1"
    assert r.body == "caf\u00e9".encode("latin-1")
    # An explicit JSON flavour chosen by the handler is kept.
    r = c.get("/json-ct")
    assert r.headers["content-type"] == "application/vnd.api+json"
    assert r.json == {"a": 1}
    assert c.get("/json-list-ct").headers["content-type"] == "application/problem+json"
    assert c.get("/json-html-default").headers["content-type"] == "application/json"


def test_204_and_304_have_no_body(make_client):
    app = Lcore()

    @app.route("/204")
    def h204():
        response.status = 204
        return "ignored"

    @app.route("/304")
    def h304():
        response.status = 304
        return "ignored"

    c = make_client(app)
    r = c.get("/204")
    assert (r.status_code, r.body) == (204, b"")
    assert "content-type" not in r.headers
    r = c.get("/304")
    assert (r.status_code, r.body) == (304, b"")


def test_abort(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        response.set_header("X-Kept", "yes")
        abort(401, "Who are you?")

    r = make_client(app).get("/")
    assert r.status_code == 401
    assert "Who are you?" in r.text
    assert r.headers["x-kept"] == "yes"


def test_abort_json_format(make_client):
    app = Lcore()
    app.config["error.format"] = "json"
    app.route("/", callback=lambda: abort(409, "Conflict here"))
    r = make_client(app).get("/")
    assert r.status_code == 409
    assert r.json == {"error": "Conflict here", "status": 409}


def test_http_error_with_headers_and_content_type(make_client):
    app = Lcore()

    @app.route("/")
    def h():
        raise HTTPError(429, "slow down", Retry_After="30")

    r = make_client(app).get("/")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"


def test_redirect(make_client):
    app = Lcore()
    app.route("/old", callback=lambda: redirect("/new"))
    app.route("/rel/x", callback=lambda: redirect("y"))
    app.route("/abs", callback=lambda: redirect("https://example.org/z", 301))

    @app.route("/keep")
    def keep():
        response.set_cookie("k", "v")
        redirect("/there")

    c = make_client(app)
    r = c.get("/old")
    assert r.status_code == 303
    assert r.headers["location"] == "http://localhost/new"
    assert r.body == b""
    assert c.get("/rel/x").headers["location"] == "http://localhost/rel/y"
    r = c.get("/abs")
    assert (r.status_code, r.headers["location"]) == (301, "https://example.org/z")
    r = c.get("/keep")
    assert r.headers.get_list("set-cookie") == ["k=v; Path=/; SameSite=Lax; HttpOnly"]


def test_redirect_http10_is_302_wsgi():
    app = Lcore()
    app.route("/old", callback=lambda: redirect("/new"))
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = dict(headers)

    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/old",
        "SERVER_NAME": "h",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_HOST": "h",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    b"".join(app(env, start_response))
    assert seen["status"] == "302 Found"
    assert seen["headers"]["Location"] == "http://h/new"


def test_redirect_http10_is_302_asgi():
    import anyio

    app = Lcore()
    app.route("/old", callback=lambda: redirect("/new"))
    sent = []

    async def main():
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.0",
            "method": "GET",
            "scheme": "http",
            "path": "/old",
            "raw_path": b"/old",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"h")],
            "client": ("1.2.3.4", 5),
            "server": ("h", 80),
        }

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(msg):
            sent.append(msg)

        await app(scope, receive, send)

    anyio.run(main)
    assert sent[0]["status"] == 302
    assert (b"location", b"http://h/new") in sent[0]["headers"]


def test_response_copy_and_expires():
    from datetime import datetime, timezone

    from lcore import BaseResponse

    r = BaseResponse("body", 202, {"X-A": "1"})
    r.set_cookie("a", "b")
    c = r.copy()
    assert c.status_code == 202 and c.get_header("X-A") == "1"
    c.set_header("X-A", "2")
    assert r.get_header("X-A") == "1"
    r.expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert r.get_header("Expires") == "Wed, 02 Jan 2030 03:04:05 GMT"


# A handler that never touches ``response`` is answered without the response object
# being built (the dispatcher's lazy response). These pin that answer to the one the full
# pipeline gives (a request hook moves every request onto the pipeline, which builds it).
_UNTOUCHED_RESULTS = {
    "/str": "h\u00e9llo",
    "/empty": "",
    "/bytes": b"\x00raw",
    "/none": None,
    "/false": False,
    "/dict": {"a": "\u00e9"},
    "/list": [1, 2],
    "/bytearray": bytearray(b"ba"),
    "/memoryview": memoryview(b"mv"),
}


def _untouched_app(with_hook: bool) -> Lcore:
    app = Lcore()
    if with_hook:
        app.hook("before_request")(lambda: None)
    for path, value in _UNTOUCHED_RESULTS.items():
        app.route(path, method=["GET", "POST"], callback=lambda value=value: value)
    return app


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_untouched_response_same_as_pipeline(make_client, method):
    fast, full = make_client(_untouched_app(False)), make_client(_untouched_app(True))
    for path in _UNTOUCHED_RESULTS:
        a, b = fast.request(method, path), full.request(method, path)
        assert (a.status_code, a.headers.multi_items(), a.body) == (
            b.status_code,
            b.headers.multi_items(),
            b.body,
        )
        assert a.status_code == 200 and "content-type" in a.headers
        if method == "HEAD":
            assert a.body == b"" and int(a.headers["content-length"]) >= 0
        else:
            assert a.headers["content-length"] == str(len(a.body))


def test_response_made_on_first_use(make_client):
    from lcore import BaseResponse, ctx

    app = Lcore()

    @app.route("/proxy")
    def proxy():
        response.set_header("X-Made", "1")
        return "p"

    @app.route("/ctx")
    async def via_ctx():
        first = ctx.response
        assert isinstance(first, BaseResponse) and ctx.response is first  # made once
        first.status = 202
        return {"k": 1}

    @app.route("/replaced")
    def replaced():
        ctx.response = BaseResponse(status=203, headers={"X-New": "yes"})
        return b"r"

    client = make_client(app)
    r = client.get("/proxy")
    assert (r.status_code, r.headers["X-Made"], r.text) == (200, "1", "p")
    r = client.get("/ctx")
    assert (r.status_code, r.headers["content-type"], r.json) == (202, "application/json", {"k": 1})
    r = client.get("/replaced")
    assert (r.status_code, r.headers["X-New"], r.body) == (203, "yes", b"r")


def test_response_read_after_sending_is_the_same_on_both_paths(make_client):
    """An ``after_response`` task that reads ``ctx.response`` sees what the full pipeline
    leaves there (status, a JSON type), also when the fast path never made the object.
    (The default type is applied when sending; it is not stored on the response.)"""
    from lcore import ctx

    def run(with_hook):
        seen = {}
        app = Lcore()
        if with_hook:
            app.hook("before_request")(lambda: None)

        def remember(path):
            seen[path] = (ctx.response.status_code, ctx.response.content_type)

        for path, value in (("/d", {"a": 1}), ("/l", [1]), ("/s", "x"), ("/b", b"x")):

            def handler(path=path, value=value):
                ctx.after_response(remember, path)
                return value

            app.route(path, callback=handler)
        client = make_client(app)
        for path in ("/d", "/l", "/s", "/b"):
            assert client.get(path).status_code == 200
        return seen

    fast, full = run(False), run(True)
    assert fast == full
    assert fast["/d"] == fast["/l"] == (200, "application/json") and fast["/s"] == (200, "")


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/caf\u00e9", "http://localhost/caf%C3%A9"),
        ("/\u00ff", "http://localhost/%C3%BF"),
        ("/%ff", "http://localhost/%ff"),  # a valid escape is kept as it is
        ("/caf%C3%A9/x%2Fy", "http://localhost/caf%C3%A9/x%2Fy"),
        ("/100%", "http://localhost/100%25"),  # a stray '%' is escaped
        ("/100%zz", "http://localhost/100%25zz"),
        ('/a b"<>\\^`{|}', "http://localhost/a%20b%22%3C%3E%5C%5E%60%7B%7C%7D"),
        ("/s?q=\u00e9&r=1#fr\u00e4g", "http://localhost/s?q=%C3%A9&r=1#fr%C3%A4g"),
        ("\u00e9t\u00e9", "http://localhost/rd/%C3%A9t%C3%A9"),  # relative, resolved first
        ("https://b\u00fccher.example/\u00f6?x=1", "https://xn--bcher-kva.example/%C3%B6?x=1"),
        ("https://user@b\u00fccher.example:8443/", "https://user@xn--bcher-kva.example:8443/"),
        ("https://example.org/z?a=1&b=%20#top", "https://example.org/z?a=1&b=%20#top"),
    ],
)
def test_redirect_location_is_percent_encoded(make_client, target, location):
    app = Lcore()
    app.route("/rd/here", callback=lambda: redirect(target))
    r = make_client(app).get("/rd/here")
    assert (r.status_code, r.headers["location"]) == (303, location)


@pytest.mark.parametrize("target", ["/a\r\nX-Injected: 1", "/a\x00", "/a\tb", "/a\x7f", "/\x1b"])
def test_redirect_refuses_control_characters(make_client, target):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="control characters"):
            redirect(target)
        return "ok"

    assert make_client(app).get("/").text == "ok"


OFF_SITE = [
    "//evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "///evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "https://evil.example",
    "HTTPS://evil.example/x",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example:80/x",
    "/ok\x00",
    "/ok ",
    "\x00/ok",
    "",
    None,
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_redirect_refuses_off_site_targets(make_client, target):
    app = Lcore()
    app.route("/login", callback=lambda: safe_redirect(target, fallback="/home"))
    r = make_client(app).get("/login")
    assert (r.status_code, r.headers["location"]) == (303, "http://localhost/home")


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/account?tab=2#x", "http://localhost/account?tab=2#x"),
        ("/caf\u00e9", "http://localhost/caf%C3%A9"),
        ("/a/%2F%2Fevil.example", "http://localhost/a/%2F%2Fevil.example"),  # escapes stay escapes
        ("next", "http://localhost/app/next"),
        ("../up", "http://localhost/up"),
        ("?page=2", "http://localhost/app/login?page=2"),
    ],
)
def test_safe_redirect_follows_same_site_targets(make_client, target, location):
    app = Lcore()
    app.route("/app/login", callback=lambda: safe_redirect(target, code=302))
    r = make_client(app).get("/app/login")
    assert (r.status_code, r.headers["location"]) == (302, location)


@pytest.mark.parametrize("fallback", ["//evil.example", "https://evil.example", "", "/a\nb"])
def test_safe_redirect_fallback_must_be_same_site(make_client, fallback):
    app = Lcore()

    @app.route("/")
    def h():
        with pytest.raises(ValueError, match="fallback"):
            safe_redirect("/fine", fallback=fallback)
        return "ok"

    assert make_client(app).get("/").text == "ok"
