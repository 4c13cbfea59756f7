"""WebSocket behaviour, run through both protocols (``make_client``: ids [wsgi] and [asgi]).

Under ``asgi`` the TestClient drives the ASGI ``websocket`` scope; under ``wsgi`` it runs
the side-by-side runtime (the sans-I/O driver the side-by-side server uses).
"""

from __future__ import annotations

import threading

import pytest

from lcore import (
    HTTPError,
    Lcore,
    MiddlewareHook,
    WebSocket,
    WebSocketDisconnect,
    abort,
    ctx,
    request,
)
from lcore_ws import WebSocketState
from lcore_ws.testing import HandshakeRejected


def echo_app() -> Lcore:
    app = Lcore()

    @app.websocket("/echo")
    async def echo(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)

    return app


def test_text_and_bytes_echo(make_client):
    c = make_client(echo_app())
    with c.websocket_connect("/echo") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_text("é" * 1000)
        assert ws.receive_text() == "é" * 1000


def test_json_helpers(make_client):
    app = Lcore()

    @app.websocket("/j")
    async def j(ws):
        await ws.accept()
        data = await ws.receive_json()
        await ws.send_json({"got": data, "n": len(data)})
        binary = await ws.receive_json(mode="binary")
        await ws.send_json(binary, mode="binary")

    with make_client(app).websocket_connect("/j") as ws:
        ws.send_json([1, 2, 3])
        assert ws.receive_json() == {"got": [1, 2, 3], "n": 3}
        ws.send_json({"b": True}, mode="binary")
        assert ws.receive_json(mode="binary") == {"b": True}


def test_path_args_and_filters_like_http(make_client):
    app = Lcore()
    app.add_route_filter("slug", r"[a-z-]+")

    @app.websocket("/room/<room>/<n:int>")
    async def room(ws, room, n):
        await ws.accept()
        await ws.send_json({"room": room, "n": n, "args": ws.url_args})
        await ws.close()

    @app.websocket("/s/<name:slug>")
    def slug(ws, name):
        ws.accept()
        ws.send_text(name)

    c = make_client(app)
    with c.websocket_connect("/room/lobby/42") as ws:
        assert ws.receive_json() == {"room": "lobby", "n": 42, "args": {"room": "lobby", "n": 42}}
    with c.websocket_connect("/s/a-b") as ws:
        assert ws.receive_text() == "a-b"
    for path in ("/room/lobby/x", "/s/A1", "/nowhere"):
        with pytest.raises(HandshakeRejected) as e:
            c.websocket_connect(path)
        assert e.value.status_code == 404


def test_handshake_request_headers_cookies_query(make_client):
    app = Lcore()

    @app.websocket("/info")
    async def info(ws):
        req = ws.request
        assert req is request._lc_target()  # the request proxy is the handshake request
        await ws.accept()
        await ws.send_json(
            {
                "token": req.query.get("token"),
                "agent": req.headers.get("X-Agent"),
                "cookie": req.cookies.get("sid"),
                "path": req.path,
                "method": req.method,
            }
        )

    c = make_client(app)
    with c.websocket_connect(
        "/info?token=abc", headers={"X-Agent": "t1", "Cookie": "sid=s1"}
    ) as ws:
        assert ws.receive_json() == {
            "token": "abc",
            "agent": "t1",
            "cookie": "s1",
            "path": "/info",
            "method": "GET",
        }


def test_sync_handler_gets_a_blocking_facade_in_a_worker_thread(make_client):
    app = Lcore()
    seen = {}

    @app.websocket("/sync")
    def handler(ws):
        seen["thread"] = threading.current_thread().name
        seen["ctx"] = ctx.request.path
        ws.accept()
        for message in ws:
            ws.send_text(message.upper())
        seen["code"] = ws.close_code

    with make_client(app).websocket_connect("/sync") as ws:
        ws.send_text("abc")
        assert ws.receive_text() == "ABC"
        ws.send_text("x")
        assert ws.receive_text() == "X"
    assert seen["ctx"] == "/sync"
    assert seen["thread"] != threading.main_thread().name
    assert seen["code"] == 1000


def test_ctx_di_singleton_and_scoped_closed_per_connection(make_client):
    app = Lcore()
    closed = []

    class Conn:
        def __init__(self):
            self.id = len(closed)

        def close(self):
            closed.append(self.id)

    app.inject("config_obj", lambda: {"name": "shared"})
    app.inject("conn", Conn, lifetime="scoped")

    @app.websocket("/di")
    async def di(ws):
        await ws.accept()
        assert ctx.conn is ctx.conn
        await ws.send_json({"cfg": ctx.config_obj["name"], "conn": ctx.conn.id})
        await ws.receive_text()

    c = make_client(app)
    with c.websocket_connect("/di") as ws:
        assert ws.receive_json() == {"cfg": "shared", "conn": 0}
        ws.send_text("done")
    _wait_for(lambda: closed == [0])


def test_hooks_run_around_the_session(make_client):
    app = Lcore()
    log = []
    app.add_hook("before_request", lambda: log.append(("before", request.path)))
    app.add_hook("after_request", lambda: log.append(("after", request.path)))

    @app.websocket("/h")
    async def h(ws):
        await ws.accept()
        log.append(("handler", ctx.request.path))
        await ws.send_text("hi")

    with make_client(app).websocket_connect("/h") as ws:
        assert ws.receive_text() == "hi"
    _wait_for(lambda: len(log) == 3)
    assert log == [("before", "/h"), ("handler", "/h"), ("after", "/h")]


def test_auth_hook_rejects_the_handshake_with_its_status(make_client):
    app = Lcore()

    @app.hook("before_request")
    def auth():
        if request.get_header("Authorization") != "Bearer ok":
            abort(401, "who are you?")
        ctx.user = "alice"

    @app.websocket("/private")
    async def private(ws):
        await ws.accept()
        await ws.send_text(ctx.user)

    c = make_client(app)
    with pytest.raises(HandshakeRejected) as e:
        c.websocket_connect("/private")
    assert e.value.status_code == 401
    assert b"who are you?" in e.value.body
    with c.websocket_connect("/private", headers={"Authorization": "Bearer ok"}) as ws:
        assert ws.receive_text() == "alice"


def test_asgi_server_without_http_response_extension_gets_a_403_close():
    from lcore import TestClient

    app = Lcore()
    app.add_hook("before_request", lambda: abort(401))

    @app.websocket("/x")
    async def x(ws):  # pragma: no cover - never reached
        await ws.accept()

    with TestClient(app, protocol="asgi") as c:
        with pytest.raises(HandshakeRejected) as e:
            c.websocket_connect("/x", http_response=False)
        assert e.value.status_code == 403


def test_middleware_runs_on_the_handshake_and_can_reject(make_client):
    app = Lcore()
    seen = []

    class Gate(MiddlewareHook):
        def pre(self, c):
            seen.append(c.request.path)
            if c.request.query.get("deny"):
                return HTTPError(403, "denied")
            return None

    app.use(Gate())

    @app.websocket("/m")
    async def m(ws):
        await ws.accept()
        await ws.send_text("in")

    c = make_client(app)
    with c.websocket_connect("/m") as ws:
        assert ws.receive_text() == "in"
    with pytest.raises(HandshakeRejected) as e:
        c.websocket_connect("/m?deny=1")
    assert e.value.status_code == 403
    assert seen == ["/m", "/m"]


def test_abort_in_handler_before_accept_rejects(make_client):
    app = Lcore()

    @app.websocket("/a/<n:int>")
    async def a(ws, n):
        if n > 10:
            abort(429, "slow down")
        if n > 5:
            return  # returning without accepting: 403
        await ws.accept()
        await ws.send_text("ok")

    c = make_client(app)
    with pytest.raises(HandshakeRejected) as e:
        c.websocket_connect("/a/11")
    assert e.value.status_code == 429
    with pytest.raises(HandshakeRejected) as e:
        c.websocket_connect("/a/6")
    assert e.value.status_code == 403
    with c.websocket_connect("/a/1") as ws:
        assert ws.receive_text() == "ok"


def test_http_route_on_the_same_path_is_not_a_websocket_route(make_client):
    app = Lcore()
    app.route("/same", callback=lambda: "http")

    @app.websocket("/ws-only")
    async def w(ws):
        await ws.accept()
        await ws.send_text("ws")

    c = make_client(app)
    assert c.get("/same").text == "http"
    with pytest.raises(HandshakeRejected) as e:
        c.websocket_connect("/same")
    assert e.value.status_code == 404
    with c.websocket_connect("/ws-only") as ws:
        assert ws.receive_text() == "ws"
    assert c.get("/ws-only").status_code == 404


def test_subprotocol_and_accept_headers(make_client):
    app = Lcore()

    @app.websocket("/p")
    async def p(ws):
        assert ws.subprotocols == ["chat.v2", "chat.v1"]
        await ws.accept(subprotocol="chat.v1", headers={"X-Room": "r1"})
        await ws.send_text(ws.subprotocol)

    with make_client(app).websocket_connect("/p", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert ws.receive_text() == "chat.v1"
        assert ws.subprotocol == "chat.v1"
        assert ("x-room", "r1") in [(k.lower(), v) for k, v in ws.headers]


def test_server_close_code_and_reason(make_client):
    app = Lcore()

    @app.websocket("/bye")
    async def bye(ws):
        await ws.accept()
        await ws.close(4001, "see you")

    with make_client(app).websocket_connect("/bye") as ws:
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert (e.value.code, e.value.reason) == (4001, "see you")


def test_client_close_is_seen_by_the_handler(make_client):
    app = Lcore()
    got = {}
    done = threading.Event()

    @app.websocket("/c")
    async def c(ws):
        await ws.accept()
        assert ws.state is WebSocketState.CONNECTED
        try:
            await ws.receive_text()
        except WebSocketDisconnect as e:
            got["code"], got["reason"] = e.code, e.reason
            got["state"] = ws.state
            done.set()
            raise

    client = make_client(app)
    ws = client.websocket_connect("/c")
    ws.close(4002, "leaving")
    assert done.wait(5)
    assert got == {"code": 4002, "reason": "leaving", "state": WebSocketState.DISCONNECTED}


def test_handler_error_closes_with_1011_and_is_logged(make_client, caplog):
    app = Lcore()

    @app.websocket("/boom")
    async def boom(ws):
        await ws.accept()
        await ws.receive_text()
        raise RuntimeError("kaboom")

    with make_client(app).websocket_connect("/boom") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == 1011
    assert "kaboom" in caplog.text


def test_unsupported_data_and_invalid_json_close_codes(make_client):
    app = Lcore()

    @app.websocket("/t")
    async def t(ws):
        await ws.accept()
        await ws.receive_text()

    @app.websocket("/j")
    async def j(ws):
        await ws.accept()
        await ws.receive_json()

    c = make_client(app)
    with c.websocket_connect("/t") as ws:
        ws.send_bytes(b"binary")
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive()
        assert e.value.code == 1003
    with c.websocket_connect("/j") as ws:
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive()
        assert e.value.code == 1007
    # Nesting past the HTTP body limit is invalid JSON too, not a RecursionError (1011).
    for deep in ("[" * 100_000, '{"a":' * 50_000):
        with c.websocket_connect("/j") as ws:
            ws.send_text(deep)
            with pytest.raises(WebSocketDisconnect) as e:
                ws.receive()
            assert e.value.code == 1007


def test_handler_that_returns_closes_with_1000(make_client):
    app = Lcore()

    @app.websocket("/once")
    def once(ws):
        ws.accept()
        ws.send_text("only")

    with make_client(app).websocket_connect("/once") as ws:
        assert ws.receive_text() == "only"
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_text()
        assert e.value.code == 1000


def test_group_prefix_and_direct_registration(make_client):
    app = Lcore()

    async def handler(ws):
        await ws.accept()
        await ws.send_text(ws.request.path)

    with app.group("/api"):
        app.websocket("/live", callback=handler)
    with make_client(app).websocket_connect("/api/live") as ws:
        assert ws.receive_text() == "/api/live"
    assert [r.rule for r in app.ws_routes] == ["/api/live"]


class _Tagger:
    """A plugin that hands the route's ``who`` config to the handler as a keyword."""

    api = 2

    def __init__(self, name):
        self.name = name

    def apply(self, callback, route):
        who = route.config.get("who")

        def tagged(*a, **ka):
            return callback(*a, who=who, **ka)

        return tagged


def test_group_config_applies_to_websocket_routes(make_client):
    """A group's apply=/skip= and shared config reach its WebSocket routes as its HTTP ones."""
    app = Lcore()
    app.install(_Tagger("app-wide"))

    with app.group("/api", who="group", skip=["app-wide"]):
        with app.group("/v1", apply=[_Tagger("grouped")]):

            @app.websocket("/live")
            def live(ws, who):
                ws.accept()
                ws.send_text(f"{who} {ctx.route.config['_lcore_group']}")

            @app.websocket("/mine", who="route")
            def mine(ws, who):
                ws.accept()
                ws.send_text(who)

            @app.get("/http")
            def http(who):
                return who

        assert app.current_group.prefix == "/api"
        assert app.current_group.config["who"] == "group"
    assert app.current_group == ("", {})

    c = make_client(app)
    assert c.get("/api/v1/http").text == "group"
    with c.websocket_connect("/api/v1/live") as ws:
        assert ws.receive_text() == "group /api/v1"
    with c.websocket_connect("/api/v1/mine") as ws:
        assert ws.receive_text() == "route"
    assert [r.rule for r in app.ws_routes] == ["/api/v1/live", "/api/v1/mine"]
    # skip= drops the app-wide plugin; apply= adds the group's own (once, not twice).
    assert [p.name for p in app.ws_routes[0].all_plugins() if isinstance(p, _Tagger)] == ["grouped"]


def test_websocket_object_api(make_client):
    app = Lcore()

    @app.websocket("/o")
    async def o(ws):
        assert isinstance(ws, WebSocket)
        assert ws.state is WebSocketState.CONNECTING
        with pytest.raises(RuntimeError):
            await ws.send_text("too early")
        await ws.accept()
        with pytest.raises(RuntimeError):
            await ws.accept()
        await ws.send_text("ok")
        await ws.close()
        assert ws.state is WebSocketState.DISCONNECTED
        await ws.close()  # idempotent

    with make_client(app).websocket_connect("/o") as ws:
        assert ws.receive_text() == "ok"


def _wait_for(cond, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_websocket_routes_of_a_mounted_lcore_app(make_client):
    child = Lcore()
    seen = []
    child.add_hook("before_request", lambda: seen.append(request.path))

    @child.websocket("/live/<n:int>")
    async def live(ws, n):
        await ws.accept()
        await ws.send_json({"n": n, "path": ws.request.path, "script": ws.request.script_name})

    parent = Lcore()
    parent.mount("/child", child)
    with make_client(parent).websocket_connect("/child/live/3") as ws:
        assert ws.receive_json() == {"n": 3, "path": "/live/3", "script": "/child/"}
    assert seen == ["/live/3"]  # the child's own hooks run


def test_handshake_request_seen_by_the_handler(make_client):
    app = Lcore()

    @app.websocket("/who")
    async def who(ws):
        await ws.accept()
        await ws.send_json(
            {
                "method": request.method,
                "path": request.path,
                "scheme": request.scheme,
                "q": request.query.get("q"),
                "agent": request.headers.get("X-Agent"),
                "body": request.body.read().decode(),
                "client": request.client is not None,
            }
        )

    with make_client(app).websocket_connect("/who?q=1", headers={"X-Agent": "t"}) as ws:
        got = ws.receive_json()
    assert got == {
        "method": "GET",
        "path": "/who",
        "scheme": "ws",
        "q": "1",
        "agent": "t",
        "body": "",
        "client": True,
    }
