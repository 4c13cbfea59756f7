"""The request object through a real request: headers, query, forms, JSON, auth, URLs, body limits."""

from __future__ import annotations

import base64
import json

from lcore import Lcore, request
from lcore.request import BaseRequest


def _echo(app, path="/", method="GET"):
    def deco(fn):
        app.route(path, method=method, callback=fn)
        return fn

    return deco


def test_basics(make_client):
    app = Lcore()

    @_echo(app, "/info/<x>", ["GET", "POST"])
    def info(x):
        return {
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "url": request.url,
            "fullpath": request.fullpath,
            "script_name": request.script_name,
            "urlparts": list(request.urlparts),
            "url_args": request.url_args,
            "route": request.route.rule,
            "is_xhr": request.is_xhr,
            "is_ajax": request.is_ajax,
            "chunked": request.chunked,
            "app": request.app is app,
        }

    c = make_client(app)
    doc = c.get("/info/y?a=1&b=2", headers={"X-Requested-With": "XMLHttpRequest"}).json
    assert doc == {
        "method": "GET",
        "path": "/info/y",
        "query_string": "a=1&b=2",
        "url": "http://localhost/info/y?a=1&b=2",
        "fullpath": "/info/y",
        "script_name": "",
        "urlparts": ["http", "localhost", "/info/y", "a=1&b=2", ""],
        "url_args": {"x": "y"},
        "route": "/info/<x>",
        "is_xhr": True,
        "is_ajax": True,
        "chunked": False,
        "app": True,
    }


def test_headers(make_client):
    app = Lcore()

    @_echo(app)
    def h():
        return {
            "custom": request.headers["X-Custom"],
            "lower": request.headers.get("x-custom"),
            "get_header": request.get_header("X-CUSTOM"),
            "missing": request.get_header("X-No", "dflt"),
            "in": "x-custom" in request.headers,
            "ua": request.headers.get("User-Agent") is not None,
        }

    doc = make_client(app).get("/", headers={"X-Custom": "val"}).json
    assert doc == {
        "custom": "val",
        "lower": "val",
        "get_header": "val",
        "missing": "dflt",
        "in": True,
        "ua": True,
    }


def test_headers_read_only(make_client):
    app = Lcore()

    @_echo(app)
    def h():
        try:
            request.headers["X-New"] = "1"
        except TypeError:
            return "read-only"
        return "writable"

    assert make_client(app).get("/").text == "read-only"


def test_query(make_client):
    app = Lcore()

    @_echo(app)
    def q():
        return {
            "a": request.query.a,
            "a_get": request.query.get("a"),
            "all": request.query.getall("t"),
            "GET": request.GET["t"],
            "missing_attr": request.query.nothing,
            "utf8": request.query.get("u"),
            "empty": request.query.get("e"),
        }

    doc = make_client(app).get("/?a=1&t=x&t=y&u=%C3%A9&e=").json
    assert doc == {
        "a": "1",
        "a_get": "1",
        "all": ["x", "y"],
        "GET": "y",
        "missing_attr": "",
        "utf8": "\u00e9",
        "empty": "",
    }


def test_forms_urlencoded(make_client):
    app = Lcore()

    @_echo(app, method="POST")
    def f():
        return {
            "name": request.forms.name,
            "tags": request.forms.getall("tag"),
            "POST": request.POST.get("name"),
            "params": request.params.getall("name"),
            "q": request.params.get("q"),
            "files": len(request.files),
        }

    r = make_client(app).post(
        "/?q=1&name=fromquery",
        body="name=Ann+Lee&tag=a&tag=b%26c",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.json == {
        "name": "Ann Lee",
        "tags": ["a", "b&c"],
        "POST": "Ann Lee",
        "params": ["fromquery", "Ann Lee"],
        "q": "1",
        "files": 0,
    }


def test_form_field_limit(make_client):
    app = Lcore()
    app.post("/", callback=lambda: str(len(request.forms)))
    c = make_client(app)
    ok = "&".join(f"f{i}=v" for i in range(1000))
    assert c.post("/", body=ok, content_type="application/x-www-form-urlencoded").text == "1000"
    too_many = "&".join(f"f{i}=v" for i in range(1001))
    r = c.post("/", body=too_many, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400


def test_json(make_client):
    app = Lcore()

    @_echo(app, method="POST")
    def j():
        return {"got": request.json}

    c = make_client(app)
    assert c.post("/", json={"a": [1, 2]}).json == {"got": {"a": [1, 2]}}
    assert c.post("/", body='{"x": 1}', content_type="application/json; charset=utf-8").json == {
        "got": {"x": 1}
    }
    assert c.post("/", body='{"x": 2}', content_type="application/problem+json").json == {
        "got": {"x": 2}
    }
    # Not JSON: None, whatever the body looks like.
    assert c.post("/", body='{"x": 1}', content_type="text/plain").json == {"got": None}
    assert c.post("/", body="", content_type="application/json").json == {"got": None}
    r = c.post("/", body="{not json", content_type="application/json")
    assert r.status_code == 400
    assert "Invalid JSON" in r.text
    # Encodings json.loads detects: UTF-16/32 and a UTF-8 BOM; short bodies; bad UTF-8 is a 400.
    doc = {"é": "ü"}
    for enc in ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        body = '{"é": "ü"}'.encode(enc)
        assert c.post("/", body=body, content_type="application/json").json == {"got": doc}, enc
    assert c.post("/", body=b"7", content_type="application/json").json == {"got": 7}
    assert c.post("/", body=b'"\xff"', content_type="application/json").status_code == 400


def test_json_invalid_in_async_handler(make_client):
    app = Lcore()

    @app.post("/")
    async def j():
        return {"got": request.json}

    c = make_client(app)
    assert c.post("/", json=[1]).json == {"got": [1]}
    assert c.post("/", body="[", content_type="application/json").status_code == 400


def _nested(depth, opener="[", closer="]", inner="0"):
    return opener * depth + inner + closer * depth


def _depth(value):
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _json_depth_app():
    app = Lcore()

    @app.post("/")
    def sync_handler():
        return {"depth": _depth(request.json)}

    @app.post("/async")
    async def async_handler():
        return {"depth": _depth(request.json)}

    return app


def test_json_nested_too_deep_is_400(make_client):
    # The decoder's RecursionError was a 500 with a traceback on every server.
    c = make_client(_json_depth_app())
    limit = BaseRequest.MAX_JSON_DEPTH
    assert limit == 128
    hostile = [
        "[" * 100_000,
        '{"a":' * 50_000,
        _nested(100_000),
        _nested(50_000, '{"a":', "}"),
        _nested(limit + 1),
        _nested(limit + 1, '{"a":', "}"),
        _nested(limit, "[1, {}, ", "]"),  # the innermost {} is one deeper
    ]
    for path in ("/", "/async"):
        for body in hostile:
            r = c.post(path, body=body, content_type="application/json")
            assert r.status_code == 400, (path, body[:20], r.status_code)
            assert "Invalid JSON body" in r.text and "Traceback" not in r.text
        r = c.post(path, body=_nested(limit + 1).encode("utf-16"), content_type="application/json")
        assert r.status_code == 400
        assert "nested more than 128 deep" in r.text
        for body in (
            _nested(limit),
            _nested(limit, '{"a":', "}"),
            _nested(limit - 1, "[1, {}, ", "]"),
        ):
            r = c.post(path, body=body, content_type="application/json")
            assert r.json == {"depth": limit}, (path, body[:20])
        # Brackets inside strings do not nest, escaped quotes or not.
        for text in ("[" * 1000, '\\"' + "{" * 1000, "\\u005b" + "[" * 1000):
            body = "[" * 100 + json.dumps(text) + "]" * 100
            assert c.post(path, body=body, content_type="application/json").json == {"depth": 100}


def test_json_depth_limit_is_a_setting(make_client, monkeypatch):
    c = make_client(_json_depth_app())
    monkeypatch.setattr(BaseRequest, "MAX_JSON_DEPTH", 3)
    assert c.post("/", json=[[[1]]]).json == {"depth": 3}
    assert c.post("/", json=[[[[]]]]).status_code == 400
    assert c.post("/", json={"a": {"b": {"c": {}}}}).status_code == 400
    # Above what the decoder can take, its RecursionError is still a 400.
    monkeypatch.setattr(BaseRequest, "MAX_JSON_DEPTH", 1_000_000)
    r = c.post("/async", body=_nested(100_000), content_type="application/json")
    assert r.status_code == 400


def test_body_and_stream(make_client):
    app = Lcore()

    @app.post("/body")
    def body():
        return request.body.read() + b"|" + request.body.read()

    @app.post("/stream")
    def stream():
        return b"".join(request.stream())

    @app.post("/astream")
    async def astream():
        out = b""
        async for chunk in request.stream():
            out += chunk
        return out

    c = make_client(app)
    big = b"0123456789" * 20000  # above MEMFILE_MAX: spooled to a file
    assert c.post("/body", body=b"abc").body == b"abc|abc"
    assert c.post("/body", body=big).body == big + b"|" + big
    assert c.post("/stream", body=big).body == big
    assert c.post("/astream", body=big).body == big


def test_cookies(make_client):
    app = Lcore()

    @_echo(app)
    def ck():
        return {
            "a": request.cookies.a,
            "b": request.get_cookie("b"),
            "none": request.get_cookie("zz"),
            "default": request.get_cookie("zz", "d"),
            "quoted": request.get_cookie("q"),
        }

    doc = make_client(app).get("/", headers={"Cookie": 'a=1; b=two; q="x y"'}).json
    assert doc == {"a": "1", "b": "two", "none": None, "default": "d", "quoted": "x y"}


def test_auth(make_client):
    app = Lcore()
    app.route("/", callback=lambda: {"auth": request.auth})
    c = make_client(app)
    token = base64.b64encode(b"user:p@ss:word").decode()
    assert c.get("/", headers={"Authorization": "Basic " + token}).json == {
        "auth": ["user", "p@ss:word"]
    }
    assert c.get("/").json == {"auth": None}
    assert c.get("/", headers={"Authorization": "Bearer abc"}).json == {"auth": None}


def test_remote_addr_and_proxy_trusted(make_client):
    app = Lcore()
    app.route("/", callback=lambda: {"addr": request.remote_addr, "route": request.remote_route})
    c = make_client(app)
    xff = {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"}
    # Untrusted peer: forwarded headers ignored.
    assert c.get("/", headers=xff).json == {"addr": "127.0.0.1", "route": ["127.0.0.1"]}
    app.config["proxy.trusted"] = ["127.0.0.1"]
    assert c.get("/", headers=xff).json == {
        "addr": "2.2.2.2",
        "route": ["1.1.1.1", "2.2.2.2", "127.0.0.1"],
    }
    app.config["proxy.trusted"] = "127.0.0.1, 2.2.2.2"
    assert c.get("/", headers=xff).json["addr"] == "1.1.1.1"
    assert c.get("/").json["addr"] == "127.0.0.1"


def test_forwarded_proto_and_host_only_from_trusted(make_client):
    app = Lcore()
    app.route("/", callback=lambda: request.url)
    c = make_client(app)
    hdrs = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com"}
    assert c.get("/", headers=hdrs).text == "http://localhost/"
    app.config["proxy.trusted"] = ["127.0.0.1"]
    assert c.get("/", headers=hdrs).text == "https://example.com/"


def test_content_length_rules(make_client):
    app = Lcore()
    app.route("/", method="ANY", callback=lambda: str(request.content_length))
    c = make_client(app)
    assert c.get("/").text == "0"
    assert c.post("/", body=b"12345").text == "5"


def test_content_length_unit():
    from lcore import BaseRequest

    def req(cl):
        env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/"}
        if cl is not None:
            env["CONTENT_LENGTH"] = cl
        return BaseRequest(env)

    assert req(None).content_length == 0
    assert req("").content_length == 0
    assert req("12").content_length == 12
    assert req("abc").content_length == -1


def test_max_body_config_413(make_client):
    app = Lcore()
    app.config["request.max_body"] = 10
    app.post("/raw", callback=lambda: request.body.read())
    app.post("/json", callback=lambda: {"j": request.json})
    app.post("/form", callback=lambda: dict(request.forms))
    c = make_client(app)
    assert c.post("/raw", body=b"0123456789").body == b"0123456789"
    assert c.post("/raw", body=b"0123456789X").status_code == 413
    assert c.post("/json", json={"a": "very long value"}).status_code == 413
    assert (
        c.post(
            "/form", body="a=1234567890", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 413
    )


def test_max_body_attribute_413(make_client):
    app = Lcore()

    @app.hook("before_request")
    def limit():
        request.max_body = 4

    app.post("/", callback=lambda: request.body.read())

    @app.post("/a")
    async def a():
        return request.body.read()

    c = make_client(app)
    assert c.post("/", body=b"1234").body == b"1234"
    assert c.post("/", body=b"12345").status_code == 413
    assert c.post("/a", body=b"12345").status_code == 413
    assert c.post("/a", body=b"123").body == b"123"


def test_max_body_chunked_413(make_client):
    app = Lcore()
    app.config["request.max_body"] = 10
    app.post("/", callback=lambda: request.body.read())

    def gen():
        yield b"0123456"
        yield b"789ABC"

    r = make_client(app).request("POST", "/", body=gen())
    assert r.status_code == 413


def test_environ_available(make_client):
    app = Lcore()
    app.route(
        "/",
        callback=lambda: {
            "m": request.environ["REQUEST_METHOD"],
            "p": request.environ["PATH_INFO"],
            "h": request.environ.get("HTTP_X_A"),
            "q": request["QUERY_STRING"],
        },
    )
    assert make_client(app).get("/?z=1", headers={"X-A": "b"}).json == {
        "m": "GET",
        "p": "/",
        "h": "b",
        "q": "z=1",
    }


def test_request_copy_and_path_shift():
    from lcore import BaseRequest

    r = BaseRequest({"REQUEST_METHOD": "GET", "PATH_INFO": "/a/b/c", "SCRIPT_NAME": "/root"})
    c = r.copy()
    c.path_shift(1)
    assert (c.script_name, c.path) == ("/root/a", "/b/c")
    assert (r.script_name, r.path) == ("/root", "/a/b/c")
    c.path_shift(-2)
    assert (c.script_name, c.path) == ("", "/root/a/b/c")


def test_request_from_partial_and_full_environ():
    """BaseRequest(environ) is the WSGI constructor, so this has no ASGI side; the scope
    mapping is pinned in tests/adapters/test_asgi_request.py."""
    from lcore import BaseRequest

    partial = BaseRequest({"PATH_INFO": "/p", "REQUEST_METHOD": "post"})
    assert (partial.method, partial.path, partial.scheme, partial.http_version) == (
        "POST",
        "/p",
        "http",
        "1.1",
    )
    assert (partial.query_string, partial.script_name) == ("", "")
    full = BaseRequest(
        {
            "REQUEST_METHOD": "PUT",
            "SERVER_PROTOCOL": "HTTP/1.0",
            "wsgi.url_scheme": "https",
            "PATH_INFO": "q",
            "QUERY_STRING": "a=1",
            "SCRIPT_NAME": "/s",
        }
    )
    assert (full.method, full.path, full.scheme, full.http_version) == ("PUT", "/q", "https", "1.0")
    assert (full.query_string, full.script_name, full.query["a"]) == ("a=1", "/s", "1")


def test_request_outside_context_raises():
    import pytest

    with pytest.raises(RuntimeError, match="outside of a request"):
        request.method  # noqa: B018


def test_chunked_body(make_client):
    app = Lcore()
    app.post(
        "/",
        callback=lambda: {
            "chunked": request.chunked,
            "cl": request.content_length,
            "body": request.body.read().decode(),
        },
    )

    @app.post("/a")
    async def a():
        return {"chunked": request.chunked, "body": request.body.read().decode()}

    def gen():
        yield b"hello "
        yield b"world"

    c = make_client(app)
    assert c.request("POST", "/", body=gen()).json == {
        "chunked": True,
        "cl": 0,
        "body": "hello world",
    }
    assert c.request("POST", "/a", body=gen()).json == {"chunked": True, "body": "hello world"}
