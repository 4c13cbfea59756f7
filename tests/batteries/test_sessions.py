"""SessionMiddleware with the cookie and memory stores, under WSGI and ASGI."""

from __future__ import annotations

import base64
import json
import time

import pytest

from lcore import CSRFMiddleware, Lcore, ctx, redirect
from lcore.sessions import CookieSessionStore, MemorySessionStore, Session, SessionMiddleware
from lcore.sessions.session import Signer

from .session_app import SECRET, make_app

STORES = [pytest.param(None, id="cookie"), pytest.param(MemorySessionStore, id="memory")]


@pytest.mark.parametrize("store", STORES)
def test_login_read_logout(make_client, store):
    app, _ = make_app(store() if store else None)
    c = make_client(app)
    assert c.get("/me").json == {"user": None, "new": True}
    r = c.post("/login/alice")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lcore_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=1209600" in cookie and "Secure" not in cookie
    assert c.get("/me").json == {"user": "alice", "new": False}
    assert c.get("/ame").json == {"user": "alice", "new": False}
    assert [c.post("/count").json["n"] for _ in range(3)] == [1, 2, 3]
    r = c.post("/logout")
    assert "Max-Age=-1" in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert c.get("/me").json == {"user": None, "new": True}


@pytest.mark.parametrize("store", STORES)
def test_saved_only_when_changed(make_client, store):
    app, _ = make_app(store() if store else None)
    c = make_client(app)
    c.post("/login/bob")
    r = c.get("/me")  # read, not changed
    assert "set-cookie" not in r.headers
    assert "Cookie" in r.headers["vary"]
    r = c.get("/plain")  # never touched: nothing about it in the response
    assert "set-cookie" not in r.headers and "vary" not in r.headers
    anon = make_client(app)
    r = anon.get("/me")  # an empty session read is not stored either
    assert "set-cookie" not in r.headers


def test_secure_cookie_over_https(proto):
    from lcore import TestClient

    app, _ = make_app()
    with TestClient(app, protocol=proto, base_url="https://example.test") as c:
        r = c.post("/login/carol")
        assert "Secure" in r.headers["set-cookie"]
        assert c.get("/me").json["user"] == "carol"


def test_memory_store_keeps_data_server_side(make_client):
    store = MemorySessionStore()
    app, _ = make_app(store)
    c = make_client(app)
    sid = c.post("/login/dave").json["id"]
    assert len(store) == 1 and store.load(sid) == {"user": "dave"}
    assert "dave" not in c.cookies["lcore_session"]  # the cookie holds the signed id only
    sid2 = c.post("/login/dave").json["id"]  # regenerate: new id, old one deleted
    assert sid2 != sid and store.load(sid) is None and store.load(sid2) == {"user": "dave"}
    c.post("/logout")
    assert len(store) == 0


def test_cookie_store_data_is_in_the_cookie(make_client):
    app, _ = make_app()
    c = make_client(app)
    c.post("/login/erin")
    _sig, _, msg = c.cookies["lcore_session"].partition("?")
    stamp, value = json.loads(base64.b64decode(msg))
    assert abs(stamp - time.time()) < 5 and value["d"] == {"user": "erin"}


def _forged_values() -> list[str]:
    signer = Signer("another-secret", b"lcore.sessions.v1")
    ours = Signer(SECRET, b"lcore.sessions.v1")
    good_sid = "A" * 43
    payload = base64.b64encode(
        json.dumps([int(time.time()), {"i": good_sid, "d": {"user": "admin"}}]).encode()
    )
    return [
        signer.sign({"i": good_sid, "d": {"user": "admin"}}),  # wrong key
        "!AAAA?" + payload.decode(),  # bad signature over real-looking data
        "!" + "A" * 44 + "?" + payload.decode(),
        ours.sign({"i": good_sid, "d": {"user": "admin"}}, now=time.time() - 15 * 86400),  # too old
        ours.sign(
            {"i": good_sid, "d": {"user": "admin"}}, now=time.time() + 3600
        ),  # from the future
        ours.sign({"i": "short", "d": {"user": "admin"}}),  # a bad session id
        ours.sign({"i": good_sid, "d": ["not", "a", "dict"]}),
        ours.sign(["x"]),
        ours.sign(good_sid)[:-5],  # truncated
        "!" + "x" * 8000 + "?" + "y" * 8000,  # huge
        "\x7f\x00garbage",
        "%%%%!??!",
        "",
    ]


@pytest.mark.parametrize("value", _forged_values())
@pytest.mark.parametrize("store", STORES)
def test_forged_or_corrupt_cookie_is_an_empty_session(make_client, store, value):
    app, _ = make_app(store() if store else None)
    c = make_client(app)
    header = {"Cookie": f"lcore_session={value}"}
    for path in ("/me", "/ame"):
        r = c.get(path, headers=header)
        assert r.status_code == 200
        assert r.json == {"user": None, "new": True}
    r = c.post("/count", headers=header)  # writing starts a new session with a fresh id
    assert r.status_code == 200 and r.json == {"n": 1}
    assert r.headers["set-cookie"].startswith("lcore_session=!")


def test_key_rotation(make_client):
    old_app, _ = make_app(secret="old-key")
    c = make_client(old_app)
    c.post("/login/frank")
    old_cookie = c.cookies["lcore_session"]

    rotated, _ = make_app(secret=["new-key", "old-key"])
    c2 = make_client(rotated)
    r = c2.get("/me", headers={"Cookie": f"lcore_session={old_cookie}"})
    assert r.json["user"] == "frank"  # old keys still verify...
    new_cookie = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert new_cookie != old_cookie  # ...and the cookie is signed again with the newest

    only_new, _ = make_app(secret="new-key")
    c3 = make_client(only_new)
    assert c3.get("/me", headers={"Cookie": f"lcore_session={new_cookie}"}).json["user"] == "frank"
    assert c3.get("/me", headers={"Cookie": f"lcore_session={old_cookie}"}).json["user"] is None


def test_max_age_bounds_the_cookie(make_client):
    app, mw = make_app(max_age=60)
    c = make_client(app)
    stale = mw._signer.sign({"i": "B" * 43, "d": {"user": "gina"}}, now=time.time() - 61)
    fresh = mw._signer.sign({"i": "B" * 43, "d": {"user": "gina"}}, now=time.time() - 30)
    assert c.get("/me", headers={"Cookie": f"lcore_session={stale}"}).json["user"] is None
    assert c.get("/me", headers={"Cookie": f"lcore_session={fresh}"}).json["user"] == "gina"


def test_memory_store_ttl_and_size_bound():
    store = MemorySessionStore(max_sessions=3)
    for i in range(5):
        store.save(f"s{i}", {"i": i}, ttl=60)
    assert len(store) == 3 and store.load("s0") is None and store.load("s4") == {"i": 4}
    store.load("s2")  # used: no longer the least recent
    store.save("s5", {}, ttl=60)
    assert store.load("s2") == {"i": 2} and store.load("s3") is None
    store.save("gone", {"x": 1}, ttl=0)
    assert store.load("gone") is None


def test_redirect_after_login_keeps_the_cookie(make_client):
    app, _ = make_app()

    @app.post("/form-login")
    def form_login():
        ctx.session.regenerate()
        ctx.session["user"] = "hank"
        redirect("/me")

    c = make_client(app)
    r = c.post("/form-login")
    assert r.status_code == 303 and "lcore_session=" in r.headers["set-cookie"]
    assert c.get("/me").json["user"] == "hank"


def test_a_crash_does_not_save(make_client):
    app, _ = make_app()

    @app.post("/boom")
    def boom():
        ctx.session["user"] = "mallory"
        raise RuntimeError("boom")

    c = make_client(app)
    r = c.post("/boom")
    assert r.status_code == 500 and "lcore_session" not in r.headers.get("set-cookie", "")


def test_mounted_app_sees_the_session(make_client):
    app, _ = make_app()
    child = Lcore()

    @child.get("/who")
    async def who():
        return {"user": ctx.session.get("user")}

    app.mount("/child/", child)
    c = make_client(app)
    c.post("/login/ivy")
    assert c.get("/child/who").json == {"user": "ivy"}


def test_session_object_and_errors():
    with pytest.raises(ValueError):
        SessionMiddleware("s", on_unavailable="ignore")
    with pytest.raises(ValueError):
        SessionMiddleware([])
    with pytest.raises(ValueError):
        SessionMiddleware("s", max_age=0)
    assert isinstance(SessionMiddleware("s").store, CookieSessionStore)
    app, _ = make_app()

    @app.get("/types")
    def types():
        s = ctx.session
        assert isinstance(s, Session) and not s.loaded
        s.update(a=1, b=[1, 2])
        assert s.pop("a") == 1 and s.setdefault("c", "x") == "x" and sorted(s) == ["b", "c"]
        s["b"].append(3)
        s.modified = True
        return repr(s)

    from lcore import TestClient

    with TestClient(app) as c:
        assert "modified" in c.get("/types").text
        assert c.get("/types").status_code == 200


def test_too_large_for_a_cookie_is_a_clear_error(make_client, caplog):
    app, _ = make_app()

    @app.post("/big")
    def big():
        ctx.session["blob"] = "x" * 5000
        return "ok"

    r = make_client(app).post("/big")
    assert r.status_code == 500
    assert any("too large for a cookie" in rec.getMessage() for rec in caplog.records)


# -- CSRF bound to the session ----------------------------------------------------------
def csrf_app():
    app, _ = make_app()
    app.use(CSRFMiddleware(secret="csrf-secret"))

    @app.post("/transfer")
    def transfer():
        return {"ok": True, "user": ctx.session.get("user")}

    @app.get("/form")
    def form():
        return ctx.csrf_token

    return app


def _login(c):
    token = c.get("/form").text
    r = c.post("/login/judy", headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    return r


def _jar(c, **override) -> dict[str, str]:
    return {**{ck.name: ck.value for ck in c.cookies.jar}, **override}


def _replay(make_client, app, path, cookies, token):
    """POST from a fresh client that sends exactly ``cookies`` (no jar of its own)."""
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return make_client(app).post(path, headers={"Cookie": header, "X-CSRF-Token": token})


def test_csrf_token_is_bound_to_the_session(make_client):
    app = csrf_app()
    a = make_client(app)
    r = _login(a)
    assert any(v.startswith("_csrf_token=") for v in r.headers.get_list("set-cookie"))
    # login regenerated the session: the new token came with the answer
    token = _jar(a)["_csrf_token"].split(".")[0]
    assert a.post("/transfer", headers={"X-CSRF-Token": token}).json == {"ok": True, "user": "judy"}

    b = make_client(app)  # another client, with its own session
    _login(b)
    ja, jb = _jar(a), _jar(b)
    # a's token with a's binding cookie but b's session: refused (bound to the session)...
    mixed = {**ja, "lcore_session": jb["lcore_session"]}
    assert _replay(make_client, app, "/transfer", mixed, token).status_code == 403
    # ...and with a's session but b's binding cookie: accepted (the session is the binding)
    mixed = {**jb, "lcore_session": ja["lcore_session"], "_csrf_token": ja["_csrf_token"]}
    assert _replay(make_client, app, "/transfer", mixed, token).json == {"ok": True, "user": "judy"}


def test_csrf_token_from_before_login_stops_working(make_client):
    app = csrf_app()
    c = make_client(app)
    before = c.get("/form").text
    csrf_cookie_before = _jar(c)["_csrf_token"]
    c.post("/login/kim", headers={"X-CSRF-Token": before})
    after = _jar(c)["_csrf_token"].split(".")[0]
    assert after != before
    assert c.post("/transfer", headers={"X-CSRF-Token": after}).status_code == 200
    old_pair = _jar(c, _csrf_token=csrf_cookie_before)
    assert _replay(make_client, app, "/transfer", old_pair, before).status_code == 403
    # logout: back to the binding cookie, with a fresh token in the answer
    r = c.post("/logout", headers={"X-CSRF-Token": after})
    assert r.status_code == 200
    fresh = _jar(c)["_csrf_token"].split(".")[0]
    assert fresh != after
    assert c.post("/transfer", headers={"X-CSRF-Token": fresh}).json == {"ok": True, "user": None}
