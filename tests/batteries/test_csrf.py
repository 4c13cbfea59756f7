"""CSRFMiddleware: signed double-submit cookie, exact wire format, forms off the loop."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading

import pytest

from lcore import CSRFMiddleware, Lcore, ctx, request

SECRET = "csrf-secret"
COOKIE_RE = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{64})$")


def _app(**kw):
    app = Lcore()
    kw.setdefault("secret", SECRET)
    app.use(CSRFMiddleware(**kw))
    seen: dict = {}

    @app.route("/form")
    def form():
        return ctx.csrf_token

    @app.post("/submit")
    def submit():
        return "ok:" + request.forms.get("name", "")

    @app.post("/asubmit")
    async def asubmit():
        seen["loop_thread"] = threading.get_ident()
        return "ok:" + request.forms.get("name", "")

    @app.post("/api")
    def api():
        return {"got": request.json}

    return app, seen


def _token(c) -> str:
    r = c.get("/form")
    value = c.cookies.get("_csrf_token")
    m = COOKIE_RE.match(value)
    assert m, value
    assert r.text == m.group(1)
    return m.group(1)


def test_cookie_wire_format(make_client):
    app, _ = _app()
    c = make_client(app)
    r = c.get("/form")
    # (the other Set-Cookie is the binding cookie: see the tests at the end)
    set_cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("_csrf_token="))
    name, _, rest = set_cookie.partition("=")
    value = rest.split(";")[0]
    assert name == "_csrf_token"
    token, sig = COOKIE_RE.match(value).groups()
    assert sig == hmac.new(SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    attrs = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    assert "samesite=strict" in attrs
    assert "path=/" in attrs
    assert "httponly" not in attrs  # readable by JS
    assert "secure" not in attrs
    assert r.text == token  # ctx.csrf_token


def test_secure_flag(make_client):
    app, _ = _app(secure=True)
    r = make_client(app).get("/form")
    assert "secure" in [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]


def test_valid_cookie_is_not_reissued(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.get("/form")
    assert "Set-Cookie" not in r.headers
    assert r.text == token


def test_forged_cookie_gets_a_fresh_one_on_safe_requests(make_client):
    app, _ = _app()
    c = make_client(app)
    forged = "a" * 64 + "." + "b" * 64
    r = c.get("/form", headers={"Cookie": f"_csrf_token={forged}"})
    assert "Set-Cookie" in r.headers
    assert r.headers["Set-Cookie"].split(";")[0] != f"_csrf_token={forged}"


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_header_token(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    form = {"content_type": "application/x-www-form-urlencoded", "body": "name=bob"}
    assert c.post(path, headers={"X-CSRF-Token": token}, **form).text == "ok:bob"
    assert c.post(path, headers={"X-CSRF-Token": "0" * 64}, **form).status_code == 403
    assert c.post(path, **{**form, "body": "name=bob"}).status_code == 403  # no token at all


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_form_field_token(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.post(
        path, body=f"_csrf_token={token}&name=ann", content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 200 and r.text == "ok:ann"
    r = c.post(
        path, body="_csrf_token=nope&name=ann", content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 403


@pytest.mark.parametrize("path", ["/submit", "/asubmit"])
def test_multipart_form_field(make_client, path):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ncy\r\n--{boundary}--\r\n'
    )
    r = c.post(path, body=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 200 and r.text == "ok:cy"


def test_unsafe_request_without_cookie_is_refused(make_client):
    app, _ = _app()
    c = make_client(app)
    r = c.post("/api", json={"a": 1}, headers={"X-CSRF-Token": "a" * 64})
    assert r.status_code == 403


def test_tampered_signature_is_refused(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    c.cookies.clear()
    bad = f"{token}.{'0' * 64}"
    r = c.post("/api", json={}, headers={"X-CSRF-Token": token, "Cookie": f"_csrf_token={bad}"})
    assert r.status_code == 403


def test_cookie_from_another_secret_is_refused(make_client):
    app1, _ = _app(secret="one")
    app2, _ = _app(secret="two")
    c1 = make_client(app1)
    token = _token(c1)
    cookie = c1.cookies.get("_csrf_token")
    c2 = make_client(app2)
    r = c2.post("/api", json={}, headers={"X-CSRF-Token": token, "Cookie": f"_csrf_token={cookie}"})
    assert r.status_code == 403


def test_json_api_with_header(make_client):
    app, _ = _app()
    c = make_client(app)
    token = _token(c)
    r = c.post("/api", json={"a": 1}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json == {"got": {"a": 1}}


def test_custom_names_and_safe_methods(make_client):
    app = Lcore()
    app.use(
        CSRFMiddleware(
            secret="s",
            cookie_name="xsrf",
            header_name="X-XSRF",
            form_field="t",
            safe_methods=("GET", "HEAD", "OPTIONS", "TRACE"),
        )
    )
    app.route("/", method=["GET", "POST"], callback=lambda: "ok")
    c = make_client(app)
    c.get("/")
    token = c.cookies.get("xsrf").split(".")[0]
    assert c.post("/", headers={"X-XSRF": token}).text == "ok"
    assert (
        c.post("/", body=f"t={token}", content_type="application/x-www-form-urlencoded").text
        == "ok"
    )
    assert c.post("/", headers={"X-CSRF-Token": token}).status_code == 403


def test_async_form_is_read_off_the_event_loop(make_client, proto, monkeypatch):
    app, seen = _app()
    threads = []
    original = CSRFMiddleware._form_value

    def spy(self, req):
        threads.append(threading.get_ident())
        return original(self, req)

    monkeypatch.setattr(CSRFMiddleware, "_form_value", spy)
    c = make_client(app)
    token = _token(c)
    r = c.post(
        "/asubmit",
        body=f"_csrf_token={token}&name=z",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.text == "ok:z"
    assert len(threads) == 1
    if proto == "asgi":  # the handler runs on the loop; the form was read in a worker thread
        assert threads[0] != seen["loop_thread"]


def test_missing_secret_warns(caplog):
    caplog.set_level(logging.WARNING, logger="lcore.security")
    CSRFMiddleware()
    assert any("secret" in r.getMessage() for r in caplog.records)


# -- the token is bound to the client ------------------------------------------------------
# Regression (issue 12): a valid cookie + token pair fetched by one client was accepted
# from another. The token is now an HMAC over a per-client binding: the session (``bind=``)
# or, without one, a random HttpOnly cookie set with the token cookie.

BIND_COOKIE = "_csrf_token_bind"


def _pair(c) -> tuple[str, str, str]:
    """(token, token cookie value, bind cookie value) of client ``c``."""
    token = _token(c)
    return token, c.cookies.get("_csrf_token"), c.cookies.get(BIND_COOKIE)


def test_a_token_pair_from_client_a_is_refused_from_client_b(make_client):
    app, _ = _app()
    a, b = make_client(app), make_client(app)
    token_a, cookie_a, bind_a = _pair(a)
    token_b, cookie_b, bind_b = _pair(b)
    # B replays A's cookie and token; B's own (HttpOnly) binding cookie goes with them.
    b.cookies.clear()
    replay = {"Cookie": f"_csrf_token={cookie_a}; {BIND_COOKIE}={bind_b}", "X-CSRF-Token": token_a}
    assert b.post("/api", json={"a": 1}, headers=replay).status_code == 403
    form = f"_csrf_token={token_a}&name=x"
    r = b.post(
        "/submit",
        body=form,
        content_type="application/x-www-form-urlencoded",
        headers={"Cookie": replay["Cookie"]},
    )
    assert r.status_code == 403
    assert token_a != token_b and bind_a != bind_b
    # Each client's own pair works.
    ok_b = {"Cookie": f"_csrf_token={cookie_b}; {BIND_COOKIE}={bind_b}", "X-CSRF-Token": token_b}
    assert b.post("/api", json={"a": 2}, headers=ok_b).json == {"got": {"a": 2}}
    r = a.post("/api", json={"a": 1}, headers={"X-CSRF-Token": token_a})
    assert r.status_code == 200 and r.json == {"got": {"a": 1}}


def test_forged_tokens_are_refused(make_client):
    app, _ = _app()
    c = make_client(app)
    token, cookie, bind = _pair(c)
    forged_token = "f" * 64
    forged_cookie = (
        f"{forged_token}.{hmac.new(b'guess', forged_token.encode(), hashlib.sha256).hexdigest()}"
    )
    c.cookies.clear()
    for cookie_value, sent in [
        (forged_cookie, forged_token),
        (cookie, forged_token),
        (forged_cookie, token),
    ]:
        hdrs = {"Cookie": f"_csrf_token={cookie_value}; {BIND_COOKIE}={bind}", "X-CSRF-Token": sent}
        assert c.post("/api", json={}, headers=hdrs).status_code == 403
    # Without its binding cookie, even the client's own pair is refused.
    hdrs = {"Cookie": f"_csrf_token={cookie}", "X-CSRF-Token": token}
    assert c.post("/api", json={}, headers=hdrs).status_code == 403


def test_the_binding_cookie_is_random_httponly_and_set_with_the_token_cookie(make_client):
    app, _ = _app(secure=True)
    r = make_client(app).get("/form")
    cookies = {h.split("=", 1)[0]: h for h in r.headers.get_list("set-cookie")}
    assert set(cookies) == {"_csrf_token", BIND_COOKIE}
    bind = cookies[BIND_COOKIE]
    assert re.fullmatch(r"[0-9a-f]{64}", bind.split(";")[0].split("=", 1)[1])
    attrs = [a.strip().lower() for a in bind.split(";")[1:]]
    assert (
        "httponly" in attrs
        and "samesite=strict" in attrs
        and "path=/" in attrs
        and "secure" in attrs
    )
    # The token is an HMAC over the binding, so it is not the same for two clients.
    r2 = make_client(app).get("/form")
    assert r2.text != r.text


def test_a_new_binding_reissues_the_token(make_client):
    app, _ = _app()
    c = make_client(app)
    token, cookie, _bind = _pair(c)
    c.cookies.clear()
    # A token cookie without its binding: a safe request gets a new binding and token.
    r = c.get("/form", headers={"Cookie": f"_csrf_token={cookie}"})
    names = [h.split("=", 1)[0] for h in r.headers.get_list("set-cookie")]
    assert sorted(names) == ["_csrf_token", BIND_COOKIE]
    assert r.text != token


def test_bind_hook_ties_the_token_to_the_session(make_client):
    # Sessions are the application's: ``bind`` returns the client's session id.
    app, _ = _app(bind=lambda ctx: ctx.request.get_header("X-Session"))
    c = make_client(app)
    r = c.get("/form", headers={"X-Session": "s1"})
    token = r.text
    assert [h.split("=", 1)[0] for h in r.headers.get_list("set-cookie")] == ["_csrf_token"]
    ok = c.post("/api", json={}, headers={"X-Session": "s1", "X-CSRF-Token": token})
    assert ok.status_code == 200
    other = c.post("/api", json={}, headers={"X-Session": "s2", "X-CSRF-Token": token})
    assert other.status_code == 403
    # Without a session the binding cookie takes over.
    r = make_client(app).get("/form")
    assert sorted(h.split("=", 1)[0] for h in r.headers.get_list("set-cookie")) == [
        "_csrf_token",
        BIND_COOKIE,
    ]
