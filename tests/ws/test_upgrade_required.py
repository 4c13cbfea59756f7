"""A WebSocket route reached through a WSGI server answers 426 Upgrade Required.

WSGI only, by nature: a WSGI server cannot hand over the connection, so the WSGI adapter
refuses the upgrade; under ASGI the same request is the WebSocket itself (the contrast
test below). Real gunicorn and the embedded server without ``websockets``:
tests/e2e/test_wsgi_limits_e2e.py.
"""

from __future__ import annotations

import logging

import pytest

from lcore import Lcore, TestClient

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def _app() -> Lcore:
    app = Lcore()

    @app.websocket("/ws/<room>")
    async def room(ws, room):
        await ws.accept()
        await ws.send_text(f"hi {room}")
        await ws.close()

    @app.get("/page")
    def page():
        return "page"

    child = Lcore()

    @child.websocket("/feed")
    async def feed(ws):
        await ws.accept()
        await ws.close()

    app.mount("/child/", child)
    return app


def test_websocket_route_under_wsgi_answers_426_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    with caplog.at_level(logging.WARNING, logger="lcore.ws"):
        c = TestClient(app, protocol="wsgi")
        r = c.get("/ws/lobby", headers=UPGRADE)
        assert r.status_code == 426
        assert r.headers["Upgrade"] == "websocket"
        assert "/ws/lobby is a WebSocket route" in r.text
        assert "python -m lcore_ws" in r.text
        assert c.get("/child/feed", headers=UPGRADE).status_code == 426  # a mounted app's route
        assert c.get("/ws/again", headers=UPGRADE).status_code == 426
        # Not a WebSocket route, or no Upgrade: routed as ever.
        assert c.get("/page", headers=UPGRADE).text == "page"
        assert c.get("/nope", headers=UPGRADE).status_code == 404
        assert c.get("/ws/lobby", headers={"Upgrade": "h2c"}).status_code == 404
        assert c.get("/ws/lobby").status_code == 404
        c.close()
    logged = [r.getMessage() for r in caplog.records if "WebSocket route" in r.getMessage()]
    assert len(logged) == 1, logged
    assert "a WSGI server cannot serve" in logged[0] and "/ws/<room>" in logged[0]
    assert "python -m lcore_ws" in logged[0]


def test_app_without_websocket_routes_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    app = Lcore()
    app.route("/ws/x", callback=lambda: "plain")
    with caplog.at_level(logging.WARNING):
        r = TestClient(app, protocol="wsgi").get("/ws/x", headers=UPGRADE)
    assert r.text == "plain"
    assert not [r for r in caplog.records if "WebSocket" in r.getMessage()]


def test_under_asgi_the_same_route_is_served() -> None:
    with TestClient(_app(), protocol="asgi") as c, c.websocket_connect("/ws/lobby") as ws:
        assert ws.receive_text() == "hi lobby"
