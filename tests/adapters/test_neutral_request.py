"""The neutral request: built from a description, read the same under WSGI and ASGI.

``BaseRequest`` takes the neutral description (method, path, query bytes, header pairs,
client, server, scheme, http version, root path, body); the WSGI request
(``lcore.wsgi_request``) and the ASGI one read their protocol's input into the same
fields. ``BaseRequest(environ)`` and ``request.environ`` stay for old code. HTTP requests
and WebSockets share :class:`~lcore.connection.HTTPConnection`.
"""

from __future__ import annotations

import io

from lcore import BaseRequest, Lcore, ProxyFixMiddleware, request
from lcore.connection import HTTPConnection
from lcore.wsgi_request import WSGIRequest

FIELDS = (
    "method",
    "path",
    "script_name",
    "query_string",
    "client",
    "server",
    "scheme",
    "http_version",
    "url",
)


def test_description_fields_and_round_trip():
    req = BaseRequest(
        "post",
        "/shop/items/",
        b"a=1&a=2",
        {"Host": "example.org", "X-Token": "t"},
        client=("10.0.0.7", 5),
        server=("srv", 8080),
        scheme="https",
        http_version="2",
        root_path="/shop",
        body=b"x=1",
    )
    assert (req.method, req.path, req.script_name, req.fullpath) == (
        "POST",
        "/items/",
        "/shop",
        "/shop/items/",
    )
    assert req.query.getall("a") == ["1", "2"] and req.headers["x-token"] == "t"
    assert req.header_pairs() == [(b"host", b"example.org"), (b"x-token", b"t")]
    assert req.url == "https://example.org/shop/items/?a=1&a=2" and req.forms["x"] == "1"
    again = BaseRequest(**req.describe())
    assert {f: getattr(again, f) for f in FIELDS} == {f: getattr(req, f) for f in FIELDS}
    assert again.body.read() == b""  # a description carries no body


def test_root_path_moves_only_a_whole_segment():
    assert BaseRequest("GET", "/shopping", root_path="/shop").path == "/shopping"
    assert BaseRequest("GET", "/shop", root_path="/shop").path == "/"
    assert BaseRequest("GET", "", root_path="").path == "/"


def _env(**extra) -> dict:
    body = extra.pop("body", b"")
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/a/b",
        "SCRIPT_NAME": "/root",
        "QUERY_STRING": "q=1",
        "SERVER_NAME": "h",
        "SERVER_PORT": "81",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "10.1.1.1",
        "REMOTE_PORT": "4000",
        "HTTP_HOST": "example.org",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    env.update(extra)
    return env


def test_old_environ_constructor_reads_like_the_wsgi_request():
    env = _env(body=b"k=v")
    old, wsgi = BaseRequest(env), WSGIRequest(_env(body=b"k=v"))
    assert (
        type(old) is BaseRequest and old.environ is env and BaseRequest(environ=env).environ is env
    )
    assert {f: getattr(old, f) for f in FIELDS} == {f: getattr(wsgi, f) for f in FIELDS}
    assert dict(old.headers) == dict(wsgi.headers) and old.forms["k"] == wsgi.forms["k"] == "v"
    old.path_shift(1)  # the environ follows, as it always did
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/root/a", "/b")
    copy = wsgi.copy()
    copy.path_shift(1)
    assert copy.environ is not wsgi.environ and wsgi.environ["PATH_INFO"] == "/a/b"


def test_environ_built_on_first_access_for_a_neutral_request():
    req = BaseRequest(
        "GET", "/x", b"a=b", [(b"cookie", b"a=1"), (b"cookie", b"b=2")], client=("1.2.3.4", 9)
    )
    env = req.environ
    assert (
        req.environ is env and req["QUERY_STRING"] == "a=b" and req.get("REMOTE_ADDR") == "1.2.3.4"
    )
    assert (
        env["HTTP_COOKIE"] == "a=1; b=2"
        and env["PATH_INFO"] == "/x"
        and env["lcore.request"] is req
    )


def _who_app(mounted: bool = False) -> Lcore:
    app = Lcore()
    app.use(ProxyFixMiddleware(trusted_proxies=["127.0.0.1"]))

    @app.route("/who")
    def who():
        env = request.environ
        return {
            "client": request.client[0],
            "addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.headers.get("Host"),
            "url": request.url,
            "env": [env.get("REMOTE_ADDR"), env.get("wsgi.url_scheme"), env.get("HTTP_HOST")],
        }

    if mounted:

        def legacy(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            keys = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SCRIPT_NAME", "PATH_INFO")
            return [" ".join(str(environ.get(k)) for k in keys).encode()]

        app.mount("/legacy", legacy)
    return app


FWD = {
    "X-Forwarded-For": "198.51.100.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "shop.example",
}


def test_proxy_fix_rewrites_the_neutral_fields(make_client):
    data = make_client(_who_app()).get("/who", headers=FWD).json
    assert (data["client"], data["addr"], data["scheme"], data["host"]) == (
        "198.51.100.9",
        "198.51.100.9",
        "https",
        "shop.example",
    )
    assert data["url"] == "https://shop.example/who"
    assert data["env"] == [
        "198.51.100.9",
        "https",
        "shop.example",
    ]  # the compatibility view follows


def test_a_mounted_wsgi_app_sees_the_forwarded_values(make_client):
    r = make_client(_who_app(mounted=True)).get("/legacy/x", headers=FWD)
    assert r.status_code == 200 and r.text == "198.51.100.9 https shop.example /legacy /x"


def test_bad_forwarded_values_change_nothing(make_client):
    bad = {"X-Forwarded-For": "not-an-ip", "X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a/b"}
    data = make_client(_who_app()).get("/who", headers=bad).json
    assert (data["client"], data["scheme"], data["host"]) == ("127.0.0.1", "http", "localhost")


def test_a_websocket_reads_as_a_connection(make_client):
    app = Lcore()

    @app.websocket("/room/<name>")
    async def room(ws, name):
        await ws.accept()
        await ws.send_json(
            {
                "connection": isinstance(ws, HTTPConnection),
                "path": ws.path,
                "full": ws.fullpath,
                "args": ws.url_args,
                "q": ws.query.get("a"),
                "token": ws.headers.get("X-Token"),
                "cookie": ws.cookies.get("c"),
                "client": ws.client is not None,
                "scheme": ws.url.split(":")[0],
                "same": [ws.path, ws.script_name] == [ws.request.path, ws.request.script_name],
            }
        )
        await ws.close()

    parent = Lcore()
    parent.mount("/chat", app)
    headers = {"X-Token": "t1", "Cookie": "c=cv"}
    for target, client_app in (("/room/blue?a=1", app), ("/chat/room/blue?a=1", parent)):
        with make_client(client_app).websocket_connect(target, headers=headers) as ws:
            got = ws.receive_json()
        assert got == {
            "connection": True,
            "path": "/room/blue",
            "full": target.split("?")[0],
            "args": {"name": "blue"},
            "q": "1",
            "token": "t1",
            "cookie": "cv",
            "client": True,
            "scheme": "ws",
            "same": True,
        }


def test_a_websocket_sees_what_proxy_fix_rewrote(make_client):
    app = Lcore()
    app.use(ProxyFixMiddleware(trusted_proxies=["127.0.0.1"]))

    @app.websocket("/ws")
    def ws_handler(ws):  # a def handler: its SyncWebSocket reads the same fields
        ws.accept()
        conn = ws.websocket
        ws.send_json(
            [conn.client[0], conn.remote_addr, conn.scheme, conn.headers.get("Host"), conn.url]
        )
        ws.close()

    with make_client(app).websocket_connect("/ws", headers=FWD) as ws:
        assert ws.receive_json() == [
            "198.51.100.9",
            "198.51.100.9",
            "https",
            "shop.example",
            "https://shop.example/ws",
        ]
