"""auth_basic: 401 with a challenge; sync/async handlers and checks."""

from __future__ import annotations

import asyncio
import base64
import threading

from lcore import Lcore, auth_basic, request


def _basic(user: str, pw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def check(user, pw):
    return user == "admin" and pw == "s3cret"


async def acheck(user, pw):
    await asyncio.sleep(0)
    return user == "admin" and pw == "s3cret"


def _app():
    app = Lcore()
    threads = {}

    @app.route("/sync")
    @auth_basic(check, realm="Admin Area")
    def sync_view():
        return "hello " + request.auth[0]

    @app.route("/async")
    @auth_basic(acheck)
    async def async_view():
        return "async hello"

    @app.route("/mixed")
    @auth_basic(acheck, text="Go away")
    def mixed():
        return "mixed"

    def recording_check(user, pw):
        threads["check"] = threading.get_ident()
        return check(user, pw)

    @app.route("/offloop")
    @auth_basic(recording_check)
    async def offloop():
        threads["handler"] = threading.get_ident()
        return "ok"

    return app, threads


def test_missing_credentials_get_a_challenge(make_client):
    app, _ = _app()
    c = make_client(app)
    r = c.get("/sync")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Admin Area"'
    assert "Access denied" in r.text
    r = c.get("/async")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="private"'


def test_wrong_and_right_credentials(make_client):
    app, _ = _app()
    c = make_client(app)
    for path in ("/sync", "/async", "/mixed", "/offloop"):
        assert c.get(path, headers=_basic("admin", "nope")).status_code == 401
        assert c.get(path, headers=_basic("admin", "s3cret")).status_code == 200
    assert c.get("/sync", headers=_basic("admin", "s3cret")).text == "hello admin"


def test_custom_text(make_client):
    app, _ = _app()
    r = make_client(app).get("/mixed", headers=_basic("x", "y"))
    assert r.status_code == 401 and "Go away" in r.text


def test_malformed_header(make_client):
    app, _ = _app()
    r = make_client(app).get("/sync", headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401


def test_sync_check_for_async_handler_runs_off_the_loop(make_client, proto):
    app, threads = _app()
    assert make_client(app).get("/offloop", headers=_basic("admin", "s3cret")).text == "ok"
    assert threads["check"] != threads["handler"]


def test_realm_quotes_are_escaped(make_client):
    app = Lcore()
    app.route("/", callback=auth_basic(check, realm='say "hi"')(lambda: "x"))
    r = make_client(app).get("/")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="say \\"hi\\""'
